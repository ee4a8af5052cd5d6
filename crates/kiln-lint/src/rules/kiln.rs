//! kiln's own rules (`KL…`): what neither hadolint nor BuildKit checks — the image's default user, build
//! toolchains shipped in single-stage images, cache-busting copy order, secrets in build arguments and
//! copied files, health checks for services, unverified downloads, package caches left in the image,
//! unignored context junk and base images not pinned by digest.

use super::hadolint::{copy_paths, is_sensitive_name, references};
use super::{Cx, drop_quotes, has_cache_mount};
use crate::model::{Inst, Kw, Model};
use crate::shell::Command;

pub(super) fn checks<'m, 'a>(cx: &mut Cx<'m, 'a>, _s: &[&'m Inst<'a>]) {
    let m = cx.m;
    let shipped = m.shipped_stages();
    kl001(cx, &shipped);
    kl002(cx);
    kl003(cx);
    kl004(cx);
    kl005(cx);
    kl006(cx, &shipped);
    kl007(cx);
    kl008(cx, &shipped);
    kl009(cx);
    kl010(cx);
}

/// Instructions of the shipped stages, base stages first.
fn shipped_insts<'x, 'a>(m: &'x Model<'a>, shipped: &[usize]) -> Vec<&'x Inst<'a>> {
    let mut out = Vec::new();
    for &s in shipped.iter().rev() {
        out.extend(m.stage_insts(s));
    }
    out
}

fn kl001(cx: &mut Cx<'_, '_>, shipped: &[usize]) {
    let m = cx.m;
    let Some(fin) = m.final_stage() else { return };
    let insts = shipped_insts(m, shipped);
    if insts.iter().any(|i| i.kw == Kw::User) {
        return;
    }
    // The chain starts from an external image; some are known to default to an unprivileged user.
    let root = shipped.last().map(|&s| &m.stages[s]);
    if root.is_some_and(|r| {
        let t = r.image.tag.as_deref().unwrap_or("");
        t.contains("nonroot") || t.contains("rootless") || r.image.name.contains("rootless")
    }) {
        return;
    }
    let from = &m.insts[m.stages[fin].from];
    cx.hit("KL001", from).msg("The final stage runs as root: no USER instruction sets an unprivileged user");
}

/// Whether a command builds or installs a compiler toolchain.
fn toolchain(c: &Command) -> Option<&'static str> {
    let n = c.name.rsplit('/').next().unwrap_or(&c.name);
    Some(match n {
        "gcc" | "g++" | "cc" | "c++" | "clang" | "clang++" => "a C compiler",
        "make" | "cmake" | "ninja" | "meson" | "autoreconf" => "a build system",
        "go" if c.has_arg("build") => "go build",
        "cargo" if c.has_arg("build") || c.has_arg("install") => "cargo",
        "rustc" => "rustc",
        "npm" | "yarn" | "pnpm" if c.has_arg("build") => "a JavaScript build",
        "mvn" | "mvnw" | "./mvnw" | "gradle" | "gradlew" => "a Java build",
        "javac" => "javac",
        "dotnet" if c.has_arg("build") || c.has_arg("publish") => "dotnet build",
        "apt-get" | "apt" | "apk" | "yum" | "dnf" | "microdnf"
            if c.arg_texts().any(|a| {
                matches!(
                    a,
                    "build-essential"
                        | "build-base"
                        | "gcc"
                        | "g++"
                        | "golang"
                        | "cargo"
                        | "maven"
                        | "default-jdk"
                        | "openjdk-17-jdk"
                )
            }) =>
        {
            "a compiler package"
        }
        _ => return None,
    })
}

fn kl002(cx: &mut Cx<'_, '_>) {
    let m = cx.m;
    if m.stages.len() != 1 {
        return;
    }
    for i in m.stage_insts(0).filter(|i| i.kw == Kw::Run) {
        let Some(sc) = i.script() else { continue };
        if let Some((c, what)) = sc.commands.iter().find_map(|c| toolchain(c).map(|w| (c, w))) {
            let at = cx.shell_span(i, &c.span);
            cx.hit("KL002", i).at(at).msg(format!(
                "The image is built in a single stage with {what}: the toolchain ships in the image; build in a separate stage and COPY --from it"
            ));
            return;
        }
    }
}

const MANIFESTS: &[&str] = &[
    "package.json",
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "requirements.txt",
    "pyproject.toml",
    "poetry.lock",
    "Pipfile",
    "Pipfile.lock",
    "setup.py",
    "go.mod",
    "go.sum",
    "Gemfile",
    "Gemfile.lock",
    "composer.json",
    "composer.lock",
    "Cargo.toml",
    "Cargo.lock",
    "pom.xml",
    "build.gradle",
    "build.gradle.kts",
    "mix.exs",
    "mix.lock",
];

/// Whether a command installs dependencies from manifests.
fn dependency_install(c: &Command) -> bool {
    let has = |a: &str| c.has_arg(a);
    match c.name.as_str() {
        "npm" => has("ci") || has("install") || has("i"),
        "yarn" => c.args.is_empty() || has("install"),
        "pnpm" => has("install") || has("i"),
        "pip" | "pip3" => {
            has("install")
                && (has("-r") || has("--requirement") || c.arg_texts().any(|a| a.starts_with("-r")))
        }
        "poetry" | "pipenv" => has("install"),
        "go" => has("mod") && has("download"),
        "bundle" | "bundler" => c.args.is_empty() || has("install"),
        "composer" => has("install"),
        "cargo" => has("fetch") || has("build"),
        "mvn" | "./mvnw" | "mvnw" => has("dependency:go-offline") || has("package") || has("install"),
        "mix" => has("deps.get"),
        _ => false,
    }
}

fn is_whole_context(src: &str) -> bool {
    matches!(drop_quotes(src), "." | "./" | "./*" | "*")
}

fn kl003(cx: &mut Cx<'_, '_>) {
    let m = cx.m;
    for s in 0..m.stages.len() {
        let mut manifests_first = false;
        let mut whole: Option<&Inst<'_>> = None;
        for i in m.stage_insts(s) {
            match i.kw {
                Kw::Copy | Kw::Add if i.flag("from").is_none() => {
                    let Some((srcs, _)) = copy_paths(i) else { continue };
                    if whole.is_none()
                        && srcs.iter().any(|t| MANIFESTS.contains(&t.value.rsplit('/').next().unwrap_or("")))
                    {
                        manifests_first = true;
                    }
                    if whole.is_none() && srcs.iter().any(|t| is_whole_context(&t.value)) {
                        whole = Some(i);
                    }
                }
                Kw::Run => {
                    let (Some(w), false) = (whole, manifests_first) else { continue };
                    let Some(sc) = i.script() else { continue };
                    if let Some(c) = sc.commands.iter().find(|c| dependency_install(c)) {
                        cx.hit("KL003", w).msg(format!(
                            "The whole source is copied before `{}` (line {}): copy the dependency manifests first, install, then copy the rest",
                            c.name, i.line
                        ));
                        break;
                    }
                }
                _ => {}
            }
        }
    }
}

fn is_secret_name(n: &str) -> bool {
    is_sensitive_name(n) || super::buildkit::is_secret_key(n)
}

fn kl004(cx: &mut Cx<'_, '_>) {
    let m = cx.m;
    for s in 0..m.stages.len() {
        let insts: Vec<&Inst<'_>> = m.stage_insts(s).collect();
        for (n, i) in insts.iter().enumerate() {
            let defs: Vec<(String, bool)> = match i.kw {
                Kw::Arg => {
                    i.arg_defs().into_iter().map(|(k, v)| (k, v.is_some_and(|v| !v.is_empty()))).collect()
                }
                Kw::Env => i.pairs().map(|(k, v, _)| (k.value.clone(), !v.value.is_empty())).collect(),
                _ => continue,
            };
            for (name, has_value) in defs {
                if !is_secret_name(&name) || name.contains('$') {
                    continue;
                }
                let used = insts[n + 1..]
                    .iter()
                    .any(|j| j.kw == Kw::Run && j.script().is_some_and(|sc| references(&sc.text, &name)));
                if has_value || used {
                    let how = if has_value { "is given a value" } else { "is used by a RUN" };
                    cx.hit("KL004", i).msg(format!(
                        "Secret-looking {} {name} {how}: it is recorded in the image; use RUN --mount=type=secret,id={} instead",
                        i.keyword.value.to_uppercase(),
                        name.to_lowercase()
                    ));
                }
            }
        }
    }
}

/// Whether a copied path names a secret file.
pub(crate) fn secret_file(path: &str) -> bool {
    let p = drop_quotes(path).trim_end_matches('/');
    let base = p.rsplit('/').next().unwrap_or(p);
    let benign =
        [".example", ".sample", ".template", ".dist", ".defaults", ".pub"].iter().any(|s| base.ends_with(s));
    if benign {
        return false;
    }
    matches!(
        base,
        ".env"
            | "id_rsa"
            | "id_dsa"
            | "id_ecdsa"
            | "id_ed25519"
            | ".npmrc"
            | ".pypirc"
            | ".netrc"
            | ".git-credentials"
            | ".htpasswd"
    ) || base.starts_with(".env.")
        || [".pem", ".key", ".p12", ".pfx", ".jks", ".keystore"].iter().any(|e| base.ends_with(e))
        || p.ends_with(".aws/credentials")
        || p.ends_with(".docker/config.json")
        || p.ends_with(".kube/config")
}

fn kl005(cx: &mut Cx<'_, '_>) {
    let m = cx.m;
    for i in m.insts.iter().filter(|i| matches!(i.kw, Kw::Copy | Kw::Add)) {
        let Some((srcs, _)) = copy_paths(i) else { continue };
        if let Some(t) = srcs.iter().find(|t| secret_file(&t.value)) {
            cx.hit("KL005", i).at(Some(t.span.range())).msg(format!(
                "{} is a secret file: it stays in the layer even if deleted later; use RUN --mount=type=secret instead",
                drop_quotes(&t.value)
            ));
        }
    }
}

fn kl006(cx: &mut Cx<'_, '_>, shipped: &[usize]) {
    let insts = shipped_insts(cx.m, shipped);
    if insts.iter().any(|i| i.kw == Kw::Healthcheck) {
        return;
    }
    if let Some(e) = insts.iter().find(|i| i.kw == Kw::Expose) {
        cx.hit("KL006", e);
    }
}

fn kl007(cx: &mut Cx<'_, '_>) {
    for i in cx.m.insts.iter().filter(|i| i.kw == Kw::Add && i.flag("checksum").is_none()) {
        let Some((srcs, _)) = copy_paths(i) else { continue };
        if let Some(t) = srcs.iter().find(|t| {
            let v = drop_quotes(&t.value);
            v.starts_with("http://") || v.starts_with("https://")
        }) {
            cx.hit("KL007", i).at(Some(t.span.range()));
        }
    }
}

/// A cache a command leaves, unless cleaned or mounted: `(what, cleaned-by, mount target fragment)`.
fn leaves_cache(c: &Command) -> Option<(&'static str, &'static str)> {
    let has = |a: &str| c.has_arg(a);
    match c.name.as_str() {
        "npm" if has("install") || has("ci") || has("i") => Some(("npm's cache (~/.npm)", ".npm")),
        "go" if has("build") || has("install") || (has("mod") && has("download")) => {
            Some(("Go's build and module caches", "go"))
        }
        "cargo" if has("build") || has("install") => Some(("cargo's registry and build output", "cargo")),
        "composer" if has("install") && !has("--no-cache") => Some(("composer's cache", "composer")),
        "poetry" if has("install") && !has("--no-cache") => Some(("poetry's cache", "pypoetry")),
        _ => None,
    }
}

fn cleans(c: &Command, what: &str) -> bool {
    let has = |a: &str| c.has_arg(a);
    match what {
        ".npm" => c.name == "npm" && has("cache") && has("clean"),
        "go" => c.name == "go" && has("clean") && (has("-cache") || has("-modcache")),
        "cargo" => c.name == "rm" && c.arg_texts().any(|a| a.contains(".cargo") || a.contains("target")),
        "composer" => c.name == "composer" && has("clear-cache"),
        "pypoetry" => c.name == "poetry" && has("cache") && has("clear"),
        _ => false,
    }
}

fn kl008(cx: &mut Cx<'_, '_>, shipped: &[usize]) {
    let insts = shipped_insts(cx.m, shipped);
    for i in insts.into_iter().filter(|i| i.kw == Kw::Run) {
        let Some(sc) = i.script() else { continue };
        for c in &sc.commands {
            let Some((what, frag)) = leaves_cache(c) else { continue };
            let mounted = i.flags.iter().any(|f| f.name() == "mount") && has_cache_mount(i, frag);
            if mounted || sc.commands.iter().any(|o| cleans(o, frag)) {
                continue;
            }
            let at = cx.shell_span(i, &c.span);
            cx.hit("KL008", i).at(at).msg(format!(
                "`{}` leaves {what} in a layer of the final image: use RUN --mount=type=cache or clean up in the same RUN",
                c.name
            ));
            break;
        }
    }
}

fn kl009(cx: &mut Cx<'_, '_>) {
    let Some(ctx) = &cx.cfg.context else { return };
    if ctx.dockerignore.is_some() || ctx.unwanted.is_empty() {
        return;
    }
    let list = ctx.unwanted.join(", ");
    for i in cx.m.insts.iter().filter(|i| matches!(i.kw, Kw::Copy | Kw::Add) && i.flag("from").is_none()) {
        let Some((srcs, _)) = copy_paths(i) else { continue };
        if let Some(t) = srcs.iter().find(|t| is_whole_context(&t.value)) {
            cx.hit("KL009", i).at(Some(t.span.range())).msg(format!(
                "The whole context is copied and there is no .dockerignore, but the context holds {list}: add a .dockerignore"
            ));
        }
    }
}

fn kl010(cx: &mut Cx<'_, '_>) {
    let m = cx.m;
    for st in &m.stages {
        let img = &st.image;
        if st.base.is_some() || img.digest.is_some() || img.name == "scratch" || st.image_raw.contains('$') {
            continue;
        }
        let i = &m.insts[st.from];
        cx.hit("KL010", i).at(i.args.first().map(|t| t.span.range())).msg(format!(
            "Base image {} is not pinned by digest: use {}@sha256:…",
            st.image_raw, st.image_raw
        ));
    }
}
