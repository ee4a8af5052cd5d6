//! The rule cases, as data: for every rule, Dockerfiles that trigger it (with the lines it must report)
//! and near-misses that must not. `rules.rs` checks kiln against them; `oracle.rs` checks hadolint
//! against the `DL` ones, except where kiln deliberately differs (`differs` says why).

use std::collections::BTreeMap;

use kiln_dockerfile::ignore::DockerIgnore;
use kiln_lint::{BuildContext, Config, LabelType, Level};

/// One case: `rule` must be reported at exactly `lines` (none: must not trigger) for `src`.
pub(crate) struct Case {
    pub(crate) rule: &'static str,
    pub(crate) src: &'static str,
    pub(crate) lines: &'static [u32],
    /// Why hadolint reports something else (kiln's deliberate difference).
    pub(crate) differs: Option<&'static str>,
    /// The configuration (default otherwise).
    pub(crate) cfg: Option<fn() -> Config>,
}

const fn t(rule: &'static str, src: &'static str, lines: &'static [u32]) -> Case {
    Case { rule, src, lines, differs: None, cfg: None }
}

const fn d(rule: &'static str, src: &'static str, lines: &'static [u32], why: &'static str) -> Case {
    Case { rule, src, lines, differs: Some(why), cfg: None }
}

const fn c(rule: &'static str, src: &'static str, lines: &'static [u32], cfg: fn() -> Config) -> Case {
    Case { rule, src, lines, differs: None, cfg: Some(cfg) }
}

fn overrides(pairs: &[(&str, Level)]) -> Config {
    Config { overrides: pairs.iter().map(|(r, l)| ((*r).to_owned(), *l)).collect(), ..Config::default() }
}

fn schema(pairs: &[(&str, LabelType)]) -> Config {
    Config {
        label_schema: pairs.iter().map(|(n, t)| ((*n).to_owned(), *t)).collect::<BTreeMap<_, _>>(),
        ..Config::default()
    }
}

fn dl1001() -> Config {
    overrides(&[("DL1001", Level::Info)])
}
fn dl3057() -> Config {
    overrides(&[("DL3057", Level::Info)])
}
fn trusted() -> Config {
    Config { trusted_registries: vec!["docker.io".into()], ..Config::default() }
}
fn maintainer_text() -> Config {
    schema(&[("maintainer", LabelType::Text)])
}
fn strict() -> Config {
    Config { strict_labels: true, ..maintainer_text() }
}
fn url() -> Config {
    schema(&[("url", LabelType::Url)])
}
fn created() -> Config {
    schema(&[("created", LabelType::Rfc3339)])
}
fn license() -> Config {
    schema(&[("license", LabelType::Spdx)])
}
fn rev() -> Config {
    schema(&[("rev", LabelType::Hash)])
}
fn version() -> Config {
    schema(&[("version", LabelType::Semver)])
}
fn email() -> Config {
    schema(&[("email", LabelType::Email)])
}
fn experimental() -> Config {
    Config { experimental: ["InvalidDefinitionDescription".to_owned()].into(), ..Config::default() }
}
fn ignore_secret() -> Config {
    let ignore = DockerIgnore::parse(".dockerignore", "secret.txt\n*.log\n").unwrap();
    Config {
        context: Some(BuildContext { dockerignore: Some(ignore), ..BuildContext::default() }),
        ..Config::default()
    }
}
fn junk_context() -> Config {
    Config {
        context: Some(BuildContext {
            unwanted: vec![".git".into(), "node_modules".into()],
            ..BuildContext::default()
        }),
        ..Config::default()
    }
}
fn junk_context_ignored() -> Config {
    let ignore = DockerIgnore::parse(".dockerignore", ".git\nnode_modules\n").unwrap();
    Config {
        context: Some(BuildContext {
            unwanted: vec![".git".into()],
            dockerignore: Some(ignore),
            ..BuildContext::default()
        }),
        ..Config::default()
    }
}

const APT_OK: &str = "FROM debian:12\nRUN apt-get update && apt-get install -y --no-install-recommends curl=7.88 && rm -rf /var/lib/apt/lists/*\n";

pub(crate) static CASES: &[Case] = &[
    // DL1000
    t("DL1000", "FROM alpine:3\nFOO bar\n", &[2]),
    t("DL1000", "FROM alpine:3\nRUN true\n", &[]),
    // DL1001
    c("DL1001", "FROM alpine:3\n# hadolint ignore=DL3003\nRUN cd /x\n", &[2], dl1001),
    c("DL1001", "FROM alpine:3\n# an ordinary comment\nRUN true\n", &[], dl1001),
    // DL3000
    t("DL3000", "FROM alpine:3\nWORKDIR app\n", &[2]),
    t("DL3000", "FROM alpine:3\nWORKDIR /app\nWORKDIR $HOME/x\nWORKDIR \"/q\"\n", &[]),
    // DL3001
    t("DL3001", "FROM alpine:3\nRUN apk add --no-cache openrc=1 && service nginx start\n", &[2]),
    t("DL3001", "FROM alpine:3\nRUN echo service ssh top\n", &[]),
    // DL3002
    t("DL3002", "FROM alpine:3\nUSER app\nUSER root\n", &[3]),
    t("DL3002", "FROM alpine:3 AS b\nUSER 0:0\nFROM alpine:3\nUSER app\n", &[2]),
    t("DL3002", "FROM alpine:3\nUSER root\nRUN true\nUSER app\n", &[]),
    // DL3003
    t("DL3003", "FROM alpine:3\nRUN cd /tmp && make\n", &[2]),
    t("DL3003", "FROM alpine:3\nWORKDIR /tmp\nRUN make\nRUN echo cd\n", &[]),
    // DL3004
    t("DL3004", "FROM alpine:3\nRUN sudo apk update\n", &[2]),
    t("DL3004", "FROM alpine:3\nRUN echo sudo && gosu root ls\n", &[]),
    // DL3006
    t("DL3006", "FROM ubuntu\n", &[1]),
    t("DL3006", "FROM docker.io/library/ubuntu\n", &[1]),
    t(
        "DL3006",
        "ARG IMG=alpine:3\nFROM ubuntu:22.04 AS base\nFROM base\nFROM scratch\nFROM $IMG\nFROM alpine@sha256:0123456789abcdef0123456789abcdef\n",
        &[],
    ),
    // DL3007
    t("DL3007", "FROM ubuntu:latest\n", &[1]),
    t("DL3007", "FROM ubuntu:22.04\nFROM ubuntu:latest@sha256:0123456789abcdef0123456789abcdef\n", &[]),
    // DL3008
    t(
        "DL3008",
        "FROM debian:12\nRUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*\n",
        &[2],
    ),
    t(
        "DL3008",
        "FROM debian:12\nRUN apt-get update \\\n && apt-get install -y --no-install-recommends \\\n    curl=7.88 \\\n    wget \\\n && rm -rf /var/lib/apt/lists/*\n",
        &[2],
    ),
    t("DL3008", "FROM debian:12\nRUN <<EOF\napt-get install -y --no-install-recommends wget\nEOF\n", &[2]),
    t("DL3008", "FROM debian:12\nRUN apt-get install -y --no-install-recommends $PACKAGES\n", &[2]),
    t("DL3008", APT_OK, &[]),
    t(
        "DL3008",
        "FROM debian:12\nRUN apt-get install -y --no-install-recommends -t bookworm-backports curl=7 ./local.deb pkg=${VER}\n",
        &[],
    ),
    t("DL3008", "FROM debian:12\nRUN echo apt-get install curl\n", &[]),
    d(
        "DL3008",
        "FROM debian:12\nRUN apt-get install -y --no-install-recommends -- curl=7\n",
        &[],
        "hadolint counts `--` as a package",
    ),
    // DL3009
    t(
        "DL3009",
        "FROM debian:12\nRUN apt-get update && apt-get install -y --no-install-recommends curl=1\n",
        &[2],
    ),
    t("DL3009", APT_OK, &[]),
    t(
        "DL3009",
        "FROM debian:12\nRUN --mount=type=cache,target=/var/lib/apt/lists apt-get update && apt-get install -y --no-install-recommends curl=1\n",
        &[],
    ),
    t("DL3009", "FROM debian:12 AS build\nRUN apt-get update\nFROM scratch\nCOPY --from=build /x /x\n", &[]),
    t("DL3009", "FROM debian:12 AS base\nRUN apt-get update\nFROM base\nRUN true\n", &[2]),
    // DL3010
    t("DL3010", "FROM alpine:3\nCOPY app.tar.gz /tmp/\nRUN tar -xzf /tmp/app.tar.gz -C /opt\n", &[2]),
    t("DL3010", "FROM alpine:3\nADD app.tar.gz /opt/\nCOPY x.tar.gz /tmp/\nRUN echo tar\n", &[]),
    // DL3011
    t("DL3011", "FROM alpine:3\nEXPOSE 80 70000\n", &[2]),
    t("DL3011", "FROM alpine:3\nEXPOSE 80/tcp 8000-8010/udp $PORT\n", &[]),
    // DL3012
    t("DL3012", "FROM alpine:3\nHEALTHCHECK CMD [\"true\"]\nHEALTHCHECK NONE\n", &[3]),
    t(
        "DL3012",
        "FROM alpine:3\nHEALTHCHECK CMD [\"true\"]\nFROM alpine:3\nHEALTHCHECK CMD [\"true\"]\n",
        &[],
    ),
    // DL3013
    t("DL3013", "FROM python:3.12\nRUN pip install --no-cache-dir flask\n", &[2]),
    t("DL3013", "FROM python:3.12\nRUN pip install --no-cache-dir --upgrade pip\n", &[2]),
    t(
        "DL3013",
        "FROM python:3.12\nRUN pip install --no-cache-dir 'flask>=3' ./local git+https://x/y.git@v1 pkg.whl\n",
        &[],
    ),
    t("DL3013", "FROM python:3.12\nRUN python -m pip install --no-cache-dir -r requirements.txt\n", &[]),
    t("DL3013", "FROM python:3.12\nRUN pip install --no-cache-dir -c constraints.txt flask\n", &[]),
    // DL3014
    t("DL3014", "FROM debian:12\nRUN apt-get install --no-install-recommends curl=1\n", &[2]),
    t(
        "DL3014",
        "FROM debian:12\nRUN apt-get -qq install --no-install-recommends curl=1 && apt-get install --yes --no-install-recommends x=1 && apt-get -q=2 install --no-install-recommends y=1\n",
        &[],
    ),
    // DL3015
    t("DL3015", "FROM debian:12\nRUN apt-get install -y curl=1\n", &[2]),
    t(
        "DL3015",
        "FROM debian:12\nRUN apt-get install -y --no-install-recommends curl=1 && apt-get install -y -o APT::Install-Recommends=false x=1\n",
        &[],
    ),
    // DL3016
    t("DL3016", "FROM node:20\nRUN npm install express\n", &[2]),
    t(
        "DL3016",
        "FROM node:20\nRUN npm install express@4 @scope/pkg@1 ./local git+https://x/y.git#v1 x.tgz && npm install && npm ci\n",
        &[],
    ),
    // DL3018
    t("DL3018", "FROM alpine:3.20\nRUN apk add --no-cache curl\n", &[2]),
    t(
        "DL3018",
        "FROM alpine:3.20\nRUN apk add --no-cache curl=8.5-r0 'bash>5' --virtual .deps make~4 ./x.apk\n",
        &[],
    ),
    // DL3019
    t("DL3019", "FROM alpine:3.20\nRUN apk add curl=8\n", &[2]),
    t(
        "DL3019",
        "FROM alpine:3.20\nRUN apk add --no-cache curl=8\nRUN --mount=type=cache,target=/var/cache/apk apk add bash=5\n",
        &[],
    ),
    // DL3020
    t("DL3020", "FROM alpine:3\nADD app /app\n", &[2]),
    t("DL3020", "FROM alpine:3\nADD https://example.com/x.tar.gz /x\nADD app.tar.gz /app/\n", &[]),
    // DL3021
    t("DL3021", "FROM alpine:3\nCOPY a b /dest\n", &[2]),
    t("DL3021", "FROM alpine:3\nCOPY a b /dest/\nCOPY a /dest\n", &[]),
    // DL3022
    t("DL3022", "FROM alpine:3\nCOPY --from=build /x /x\n", &[2]),
    t(
        "DL3022",
        "FROM alpine:3 AS build\nFROM alpine:3\nCOPY --from=build /x /x\nCOPY --from=0 /y /y\nCOPY --from=nginx:1 /z /z\n",
        &[],
    ),
    // DL3023
    t("DL3023", "FROM alpine:3 AS x\nCOPY --from=x /a /b\n", &[2]),
    t("DL3023", "FROM alpine:3 AS x\nFROM alpine:3 AS y\nCOPY --from=x /a /b\n", &[]),
    // DL3024
    t("DL3024", "FROM alpine:3 AS x\nFROM alpine:3 AS x\n", &[2]),
    t("DL3024", "FROM alpine:3 AS x\nFROM alpine:3 AS y\n", &[]),
    // DL3025
    t("DL3025", "FROM alpine:3\nCMD node server.js\nENTRYPOINT exec node\n", &[2, 3]),
    d(
        "DL3025",
        "FROM alpine:3\nCMD [ \"/usr\\\\\\\"/bin/znc\", \"-f\" ]\n",
        &[],
        "hadolint's JSON reader rejects an escaped backslash followed by an escaped quote (BuildKit's `escapes` testfile)",
    ),
    t(
        "DL3025",
        "FROM alpine:3\nCMD [\"node\", \"server.js\"]\nENTRYPOINT [\"/bin/sh\"]\nHEALTHCHECK CMD [\"true\"]\n",
        &[],
    ),
    // DL3026
    c("DL3026", "FROM gcr.io/x/y:1\n", &[1], trusted),
    c(
        "DL3026",
        "FROM ubuntu:22.04 AS b\nFROM b\nFROM scratch\nFROM docker.io/library/debian:12\n",
        &[],
        trusted,
    ),
    // DL3027
    t("DL3027", "FROM debian:12\nRUN apt install curl\n", &[2]),
    t("DL3027", "FROM debian:12\nRUN echo apt install\n", &[]),
    // DL3028
    t("DL3028", "FROM ruby:3\nRUN gem install rails\n", &[2]),
    t(
        "DL3028",
        "FROM ruby:3\nRUN gem install rails:7.1 && gem install bundler -v 2.5 && gem install --version=1 rake\n",
        &[],
    ),
    // DL3029
    t("DL3029", "FROM --platform=linux/amd64 debian:12\n", &[1]),
    t("DL3029", "FROM --platform=$BUILDPLATFORM debian:12\n", &[]),
    // DL3030
    t("DL3030", "FROM centos:7\nRUN yum install httpd-2.4 && yum clean all\n", &[2]),
    t("DL3030", "FROM centos:7\nRUN yum install -y httpd-2.4 && yum clean all\n", &[]),
    // DL3032
    t("DL3032", "FROM centos:7\nRUN yum install -y httpd-2.4\n", &[2]),
    t("DL3032", "FROM centos:7\nRUN yum clean all && yum install -y httpd-2.4\n", &[2]),
    t(
        "DL3032",
        "FROM centos:7\nRUN yum install -y httpd-2.4 && yum clean all\nRUN yum install -y x-1 && rm -rf /var/cache/yum/*\n",
        &[],
    ),
    // DL3033
    t("DL3033", "FROM centos:7\nRUN yum install -y httpd && yum clean all\n", &[2]),
    t(
        "DL3033",
        "FROM centos:7\nENV V=2.4\nRUN yum install -y httpd-2.4.6 mod_ssl-${V} && yum clean all\n",
        &[],
    ),
    // DL3034
    t("DL3034", "FROM opensuse/leap:15\nRUN zypper install curl=8 && zypper clean\n", &[2]),
    t(
        "DL3034",
        "FROM opensuse/leap:15\nRUN zypper install -y curl=8 && zypper --non-interactive install wget=1 && zypper clean\n",
        &[],
    ),
    // DL3035
    t("DL3035", "FROM opensuse/leap:15\nRUN zypper dist-upgrade -y && zypper clean\n", &[2]),
    t("DL3035", "FROM opensuse/leap:15\nRUN zypper update -y && zypper clean\n", &[]),
    // DL3036
    t("DL3036", "FROM opensuse/leap:15\nRUN zypper install -y curl=8\n", &[2]),
    t("DL3036", "FROM opensuse/leap:15\nRUN zypper install -y curl=8 && zypper clean -a\n", &[]),
    // DL3037
    t("DL3037", "FROM opensuse/leap:15\nRUN zypper install -y curl && zypper clean\n", &[2]),
    t("DL3037", "FROM opensuse/leap:15\nRUN zypper install -y curl=8 'bash>=5' && zypper clean\n", &[]),
    // DL3038
    t("DL3038", "FROM fedora:40\nRUN dnf install httpd-2.4 && dnf clean all\n", &[2]),
    t("DL3038", "FROM fedora:40\nRUN dnf install -y httpd-2.4 && dnf clean all\n", &[]),
    // DL3040
    t("DL3040", "FROM fedora:40\nRUN dnf install -y httpd-2.4\n", &[2]),
    t(
        "DL3040",
        "FROM fedora:40\nRUN dnf install -y httpd-2.4 && dnf clean all\nRUN microdnf install -y x-1 && microdnf clean all\n",
        &[],
    ),
    // DL3041
    t("DL3041", "FROM fedora:40\nRUN dnf install -y httpd && dnf clean all\n", &[2]),
    t("DL3041", "FROM fedora:40\nRUN dnf install -y httpd-2.4.57 && dnf clean all\n", &[]),
    // DL3042
    t("DL3042", "FROM python:3\nRUN pip install flask==3.0\n", &[2]),
    t(
        "DL3042",
        "FROM python:3\nRUN pip install --no-cache-dir flask==3.0\nRUN PIP_NO_CACHE_DIR=1 pip install x==1\nRUN --mount=type=cache,target=/root/.cache/pip pip install y==1\nRUN pipx install black==24\n",
        &[],
    ),
    t("DL3042", "FROM python:3\nENV PIP_NO_CACHE_DIR=1\nRUN pip install flask==3.0\n", &[]),
    // DL3043
    t("DL3043", "FROM alpine:3\nONBUILD ONBUILD RUN true\n", &[2]),
    t("DL3043", "FROM alpine:3\nONBUILD RUN true\n", &[]),
    // DL3044
    t("DL3044", "FROM alpine:3\nENV A=1 B=$A\n", &[2]),
    t("DL3044", "FROM alpine:3\nENV A=1\nENV B=$A\nENV C=${C}:x D=1\nENV X=1 Y=$XY\n", &[]),
    // DL3045
    t("DL3045", "FROM alpine:3\nCOPY app.py app/\n", &[2]),
    t(
        "DL3045",
        "FROM alpine:3\nWORKDIR /app\nCOPY a.py ./\nFROM alpine:3\nCOPY x /abs/\nCOPY y $HOME/\n",
        &[],
    ),
    // DL3046
    t("DL3046", "FROM alpine:3\nRUN useradd -u 123456 app\n", &[2]),
    t("DL3046", "FROM alpine:3\nRUN useradd -l -u 123456 app && useradd -u 1000 other\n", &[]),
    // DL3047
    t("DL3047", "FROM alpine:3\nRUN wget https://x/y.tgz\n", &[2]),
    t(
        "DL3047",
        "FROM alpine:3\nRUN wget -q https://x && wget --progress=dot:giga https://y && wget -nv https://z\n",
        &[],
    ),
    // DL3048
    t("DL3048", "FROM alpine:3\nLABEL Foo=bar\n", &[2]),
    t("DL3048", "FROM alpine:3\nLABEL org.opencontainers.image.title=\"x\"\n", &[]),
    // DL3049
    c("DL3049", "FROM alpine:3\nLABEL other=x\n", &[1], maintainer_text),
    c("DL3049", "FROM alpine:3\nLABEL maintainer=me\n", &[], maintainer_text),
    c(
        "DL3049",
        "FROM alpine:3 AS build\nFROM alpine:3\nCOPY --from=build /x /x\nLABEL maintainer=me\n",
        &[],
        maintainer_text,
    ),
    // DL3050
    c("DL3050", "FROM alpine:3\nLABEL maintainer=x other=y\n", &[2], strict),
    c("DL3050", "FROM alpine:3\nLABEL maintainer=x\n", &[], strict),
    // DL3051
    c("DL3051", "FROM alpine:3\nLABEL maintainer=\"\"\n", &[2], maintainer_text),
    c("DL3051", "FROM alpine:3\nLABEL maintainer=\"me\"\n", &[], maintainer_text),
    // DL3052..DL3058
    c("DL3052", "FROM alpine:3\nLABEL url=notaurl\n", &[2], url),
    c("DL3052", "FROM alpine:3\nLABEL url=https://x.example/z\n", &[], url),
    c("DL3053", "FROM alpine:3\nLABEL created=2024-01-02\n", &[2], created),
    c("DL3053", "FROM alpine:3\nLABEL created=2024-01-02T03:04:05Z\n", &[], created),
    c("DL3054", "FROM alpine:3\nLABEL license=Apachee\n", &[2], license),
    c("DL3054", "FROM alpine:3\nLABEL license=Apache-2.0\n", &[], license),
    c("DL3055", "FROM alpine:3\nLABEL rev=xyz\n", &[2], rev),
    c("DL3055", "FROM alpine:3\nLABEL rev=0123abc\n", &[], rev),
    c("DL3056", "FROM alpine:3\nLABEL version=1.2\n", &[2], version),
    c("DL3056", "FROM alpine:3\nLABEL version=1.2.3\n", &[], version),
    c("DL3057", "FROM alpine:3\nRUN true\n", &[1], dl3057),
    c("DL3057", "FROM alpine:3\nHEALTHCHECK CMD [\"true\"]\n", &[], dl3057),
    c("DL3058", "FROM alpine:3\nLABEL email=nope\n", &[2], email),
    c("DL3058", "FROM alpine:3\nLABEL email=a@b.example\n", &[], email),
    // DL3059
    t("DL3059", "FROM alpine:3\nRUN a\nRUN b\n", &[3]),
    t("DL3059", "FROM alpine:3\nRUN a\n# a comment does not separate them\nRUN b\n", &[4]),
    t("DL3059", "FROM alpine:3\nRUN a && b\nRUN c\nRUN [ -d /x ] && d\n", &[4]),
    t(
        "DL3059",
        "FROM alpine:3\nRUN a && b\nRUN c\nENV X=1\nRUN e\nRUN --mount=type=cache,target=/x f\n",
        &[],
    ),
    // DL3060
    t("DL3060", "FROM node:20\nRUN yarn install\n", &[2]),
    t(
        "DL3060",
        "FROM node:20\nRUN yarn install && yarn cache clean\nRUN --mount=type=cache,target=/usr/local/share/.cache/yarn yarn install\n",
        &[],
    ),
    // DL3061
    t("DL3061", "RUN true\nFROM alpine:3\n", &[1]),
    t("DL3061", "ARG V=3\n# a comment\nFROM alpine:$V\n", &[]),
    // DL3062
    t("DL3062", "FROM golang:1.22\nRUN go install github.com/x/y\n", &[2]),
    t("DL3062", "FROM golang:1.22\nRUN go install github.com/x/y@latest\n", &[2]),
    t(
        "DL3062",
        "FROM golang:1.22\nRUN go install github.com/x/y@v1.2.3 && go build ./... && go run ./cmd/app\n",
        &[],
    ),
    // DL3063
    t("DL3063", "FROM alpine:3 AS scratch\n", &[1]),
    t("DL3063", "FROM alpine:3 AS build\n", &[]),
    // DL3064
    t("DL3064", "FROM alpine:3\nARG GITHUB_TOKEN\nENV DB_PASSWORD=x\n", &[2, 3]),
    t("DL3064", "FROM alpine:3\nARG VERSION\nENV HOME=/root\n", &[]),
    // DL3065
    t("DL3065", "FROM --platform=$TARGETPLATFORM alpine:3\n", &[1]),
    t("DL3065", "FROM --platform=$BUILDPLATFORM alpine:3\n", &[]),
    // DL3066
    t("DL3066", "FROM alpine:3\nUSER nobody\n", &[2]),
    t("DL3066", "FROM alpine:3\nARG UID=1000\nUSER 1000:1000\nUSER $UID\nUSER ${UID}:${UID}\n", &[]),
    // DL3067
    t("DL3067", "FROM alpine:3 AS b\nFROM alpine:3\nCOPY --from=b / /\n", &[3]),
    t("DL3067", "FROM alpine:3 AS b\nFROM alpine:3\nCOPY --from=b /app /app\n", &[]),
    // DL4000
    t("DL4000", "FROM alpine:3\nMAINTAINER me\n", &[2]),
    t("DL4000", "FROM alpine:3\nLABEL maintainer=me\n", &[]),
    // DL4001
    t("DL4001", "FROM alpine:3\nRUN curl -o x https://x\nRUN wget -q https://y\n", &[3]),
    t("DL4001", "FROM alpine:3\nRUN curl -o x https://x && wget -q https://y\n", &[2]),
    t("DL4001", "FROM alpine:3\nRUN curl -o x https://x\nFROM alpine:3\nRUN wget -q https://y\n", &[]),
    // DL4003
    t("DL4003", "FROM alpine:3\nCMD [\"a\"]\nCMD [\"b\"]\n", &[3]),
    t("DL4003", "FROM alpine:3\nCMD [\"a\"]\nFROM alpine:3\nCMD [\"b\"]\n", &[]),
    // DL4004
    t("DL4004", "FROM alpine:3\nENTRYPOINT [\"a\"]\nENTRYPOINT [\"b\"]\n", &[3]),
    t("DL4004", "FROM alpine:3\nENTRYPOINT [\"a\"]\nFROM alpine:3\nENTRYPOINT [\"b\"]\n", &[]),
    // DL4005
    t("DL4005", "FROM alpine:3\nRUN ln -sf /bin/bash /bin/sh\n", &[2]),
    t("DL4005", "FROM alpine:3\nRUN ln -s /usr/bin/python3 /usr/bin/python\n", &[]),
    // DL4006
    t("DL4006", "FROM alpine:3\nRUN curl -s https://x | sh\n", &[2]),
    t("DL4006", "FROM alpine:3\nRUN echo $(cat x | wc -l)\n", &[2]),
    t(
        "DL4006",
        "FROM alpine:3\nSHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]\nRUN curl -s https://x | sh\nRUN a || b\n",
        &[],
    ),
    t(
        "DL4006",
        "FROM alpine:3\nSHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]\nFROM alpine:3\nRUN a | b\n",
        &[4],
    ),
    d(
        "DL4006",
        "FROM alpine:3\nRUN set -o pipefail && curl -s https://x | sh\n",
        &[],
        "kiln accepts `set -o pipefail` before the pipe",
    ),
    d(
        "DL4006",
        "FROM alpine:3\nRUN <<EOT\n  set -ex\n  set -o pipefail\n  go test . 2>&1 | tee /tmp/log\nEOT\n",
        &[],
        "hadolint does not see `set -o pipefail` inside a heredoc script (found in moby/buildkit's fsutil Dockerfile)",
    ),
    // BuildKit
    t("StageNameCasing", "FROM alpine:3 AS Build\n", &[1]),
    t("StageNameCasing", "FROM alpine:3 AS build\n", &[]),
    t("FromAsCasing", "FROM alpine:3 as build\n", &[1]),
    t("FromAsCasing", "from alpine:3 as build\nFROM alpine:3 AS other\n", &[]),
    t("NoEmptyContinuation", "FROM alpine:3\nRUN a \\\n\n  b\n", &[4]),
    t("NoEmptyContinuation", "FROM alpine:3\nRUN a \\\n  b\n", &[]),
    t("ConsistentInstructionCasing", "FROM alpine:3\nrun true\nRUN true\n", &[2]),
    t("ConsistentInstructionCasing", "from alpine:3\nrun true\n", &[]),
    t("DuplicateStageName", "FROM alpine:3 AS x\nFROM alpine:3 AS X\n", &[2]),
    t("DuplicateStageName", "FROM alpine:3 AS x\nFROM alpine:3 AS y\n", &[]),
    t("ReservedStageName", "FROM alpine:3 AS context\n", &[1]),
    t("ReservedStageName", "FROM alpine:3 AS ctx\n", &[]),
    t("JSONArgsRecommended", "FROM alpine:3\nCMD node s.js\n", &[2]),
    t("JSONArgsRecommended", "FROM alpine:3\nSHELL [\"/bin/bash\", \"-c\"]\nCMD node s.js\n", &[]),
    t("MaintainerDeprecated", "FROM alpine:3\nMAINTAINER me\n", &[2]),
    t("MaintainerDeprecated", "FROM alpine:3\nLABEL maintainer=me\n", &[]),
    t("UndefinedArgInFrom", "FROM $BASE\n", &[1]),
    t("UndefinedArgInFrom", "ARG BASE=alpine:3\nFROM $BASE\nFROM --platform=$BUILDPLATFORM alpine:3\n", &[]),
    t("WorkdirRelativePath", "FROM alpine:3\nWORKDIR app\n", &[2]),
    t("WorkdirRelativePath", "FROM alpine:3\nWORKDIR /app\nWORKDIR sub\n", &[]),
    t("UndefinedVar", "FROM scratch\nCOPY $SRC /x\n", &[2]),
    t("UndefinedVar", "FROM alpine:3\nENV FOO=1\nCOPY $FOOO /x\n", &[3]),
    t("UndefinedVar", "FROM alpine:3\nARG SRC\nCOPY $SRC /x\nCOPY $FROM_THE_BASE_IMAGE /y\n", &[]),
    t("MultipleInstructionsDisallowed", "FROM alpine:3\nCMD [\"a\"]\nCMD [\"b\"]\n", &[2]),
    t("MultipleInstructionsDisallowed", "FROM alpine:3\nCMD [\"a\"]\nENTRYPOINT [\"b\"]\n", &[]),
    t("LegacyKeyValueFormat", "FROM alpine:3\nENV A b\n", &[2]),
    t("LegacyKeyValueFormat", "FROM alpine:3\nENV A=b\nLABEL x=y\n", &[]),
    t("RedundantTargetPlatform", "FROM --platform=$TARGETPLATFORM alpine:3\n", &[1]),
    t("RedundantTargetPlatform", "FROM --platform=$BUILDPLATFORM alpine:3\n", &[]),
    t("SecretsUsedInArgOrEnv", "FROM alpine:3\nARG API_TOKEN\n", &[2]),
    t("SecretsUsedInArgOrEnv", "FROM alpine:3\nARG PUBLIC_KEY\nENV TOKENIZER=x\n", &[]),
    t("InvalidDefaultArgInFrom", "ARG TAG\nFROM alpine:$TAG\n", &[2]),
    t("InvalidDefaultArgInFrom", "ARG TAG=3.20\nFROM alpine:$TAG\n", &[]),
    t("FromPlatformFlagConstDisallowed", "FROM --platform=linux/amd64 alpine:3 AS build\n", &[1]),
    t("FromPlatformFlagConstDisallowed", "FROM --platform=linux/amd64 alpine:3 AS build-amd64\n", &[]),
    c("CopyIgnoredFile", "FROM alpine:3\nCOPY secret.txt /x\n", &[2], ignore_secret),
    c("CopyIgnoredFile", "FROM alpine:3\nCOPY app.txt /x\nCOPY . /app\n", &[], ignore_secret),
    c("InvalidDefinitionDescription", "# compiles things\nFROM alpine:3 AS build\n", &[2], experimental),
    c("InvalidDefinitionDescription", "# build compiles things\nFROM alpine:3 AS build\n", &[], experimental),
    t("InvalidDefinitionDescription", "# compiles things\nFROM alpine:3 AS build\n", &[]),
    t("ExposeProtoCasing", "FROM alpine:3\nEXPOSE 80/TCP\n", &[2]),
    t("ExposeProtoCasing", "FROM alpine:3\nEXPOSE 80/tcp\n", &[]),
    t("ExposeInvalidFormat", "FROM alpine:3\nEXPOSE 8080:80\n", &[2]),
    t("ExposeInvalidFormat", "FROM alpine:3\nEXPOSE 80\n", &[]),
    // kiln
    t("KL001", "FROM alpine:3\nRUN true\n", &[1]),
    t("KL001", "FROM alpine:3\nUSER app\n", &[]),
    t("KL001", "FROM alpine:3 AS base\nUSER app\nFROM base\n", &[]),
    t("KL001", "FROM gcr.io/distroless/static:nonroot\n", &[]),
    t("KL002", "FROM golang:1.22\nRUN go build -o /app .\n", &[2]),
    t(
        "KL002",
        "FROM golang:1.22 AS build\nRUN go build -o /app .\nFROM scratch\nCOPY --from=build /app /app\n",
        &[],
    ),
    t("KL003", "FROM node:20\nWORKDIR /app\nCOPY . .\nRUN npm ci\n", &[3]),
    t("KL003", "FROM node:20\nWORKDIR /app\nCOPY package*.json ./\nRUN npm ci\nCOPY . .\n", &[]),
    t("KL004", "FROM alpine:3\nARG NPM_TOKEN\nRUN echo $NPM_TOKEN > .npmrc\n", &[2]),
    t("KL004", "FROM alpine:3\nENV API_KEY=abc\n", &[2]),
    t("KL004", "FROM alpine:3\nARG NPM_TOKEN\nRUN --mount=type=secret,id=npm true\n", &[]),
    t("KL005", "FROM alpine:3\nCOPY id_rsa /root/.ssh/\n", &[2]),
    t("KL005", "FROM alpine:3\nCOPY .env.example id_rsa.pub /app/\n", &[]),
    t("KL006", "FROM alpine:3\nEXPOSE 80\n", &[2]),
    t("KL006", "FROM alpine:3\nEXPOSE 80\nHEALTHCHECK CMD [\"true\"]\n", &[]),
    t("KL007", "FROM alpine:3\nADD https://x.example/y.tgz /y\n", &[2]),
    t("KL007", "FROM alpine:3\nADD --checksum=sha256:0123 https://x.example/y /y\n", &[]),
    t("KL008", "FROM node:20\nRUN npm ci\n", &[2]),
    t(
        "KL008",
        "FROM node:20\nRUN npm ci && npm cache clean --force\nRUN --mount=type=cache,target=/root/.npm npm ci\n",
        &[],
    ),
    t("KL008", "FROM node:20 AS b\nRUN npm ci\nFROM nginx:1\nCOPY --from=b /x /y\n", &[]),
    c("KL009", "FROM alpine:3\nCOPY . /app\n", &[2], junk_context),
    c("KL009", "FROM alpine:3\nCOPY . /app\n", &[], junk_context_ignored),
    t("KL010", "FROM alpine:3.20\n", &[1]),
    t("KL010", "FROM alpine:3.20@sha256:0123456789abcdef0123456789abcdef\nFROM scratch\n", &[]),
];
