//! The rules, declared as data ([`RULES`]): each [`Rule`] has an ID, an origin, a default [`Level`], a title
//! (the message it reports), a description, a documentation URL and, when there is one, a safe fix.
//!
//! The checks that implement the rules live in `crate::rules`, one function per rule ID; the generated
//! documentation (`docs/lint/*.md`, `kiln lint --explain`) comes from this table only.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How serious a finding is, most serious first (hadolint's ordering: `error < warning < info < style`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// The Dockerfile is wrong or will not build as intended.
    Error,
    /// A likely problem.
    Warning,
    /// A suggestion.
    Info,
    /// A matter of style.
    Style,
    /// Not reported (a rule whose level is `ignore` is off).
    Ignore,
}

impl Level {
    /// The lower-case name (`error`, `warning`, `info`, `style`, `ignore`).
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Info => "info",
            Level::Style => "style",
            Level::Ignore => "ignore",
        }
    }

    /// Parses a level name as hadolint does (`none` is `ignore`).
    pub fn parse(s: &str) -> Option<Level> {
        match s {
            "error" => Some(Level::Error),
            "warning" => Some(Level::Warning),
            "info" => Some(Level::Info),
            "style" => Some(Level::Style),
            "ignore" | "none" => Some(Level::Ignore),
            _ => None,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a rule comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// hadolint's `DL` rules (same IDs, levels and conditions).
    Hadolint,
    /// BuildKit's build checks (same names; `# check=` applies to them).
    Buildkit,
    /// kiln's own `KL` rules.
    Kiln,
}

impl Origin {
    /// The name used in documentation.
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Hadolint => "hadolint",
            Origin::Buildkit => "BuildKit",
            Origin::Kiln => "kiln",
        }
    }
}

/// One lint rule, as data.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Rule {
    /// The ID: `DL3008`, `StageNameCasing`, `KL001`.
    pub id: &'static str,
    /// Where the rule comes from.
    pub origin: Origin,
    /// The default level (`ignore` means off unless a config raises it).
    pub level: Level,
    /// The message reported (rules with variable parts fill them in; see [`Rule::title`]).
    pub title: &'static str,
    /// Why the rule exists and what to do instead (Markdown).
    pub description: &'static str,
    /// Upstream documentation, when the rule has some.
    pub url: Option<&'static str>,
    /// The safe rewrite `kiln lint --fix` applies, when there is one.
    pub fix: Option<&'static str>,
    /// Experimental (BuildKit): off unless enabled with `# check=experimental=…`.
    pub experimental: bool,
}

impl Rule {
    /// The rule's page name under `docs/lint/` (its ID).
    pub fn doc_name(&self) -> String {
        format!("{}.md", self.id)
    }
}

/// The rule with `id`.
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

const fn dl(id: &'static str, level: Level, title: &'static str, description: &'static str) -> Rule {
    Rule {
        id,
        origin: Origin::Hadolint,
        level,
        title,
        description,
        url: None,
        fix: None,
        experimental: false,
    }
}

const fn bk(id: &'static str, url: &'static str, title: &'static str, description: &'static str) -> Rule {
    Rule {
        id,
        origin: Origin::Buildkit,
        level: Level::Warning,
        title,
        description,
        url: Some(url),
        fix: None,
        experimental: false,
    }
}

const fn kl(id: &'static str, level: Level, title: &'static str, description: &'static str) -> Rule {
    Rule { id, origin: Origin::Kiln, level, title, description, url: None, fix: None, experimental: false }
}

const fn with_fix(mut r: Rule, fix: &'static str) -> Rule {
    r.fix = Some(fix);
    r
}

const fn experimental(mut r: Rule) -> Rule {
    r.experimental = true;
    r
}

use Level::{Error, Ignore, Info, Style, Warning};

/// Every rule kiln knows, in documentation order.
pub static RULES: &[Rule] = &[
    dl(
        "DL1000",
        Error,
        "The Dockerfile could not be parsed",
        "The file is not a valid Dockerfile: the message names what the parser expected. Nothing else can \
         be checked reliably until it parses (kiln still lints the instructions it could read).",
    ),
    dl(
        "DL1001",
        Ignore,
        "Please refrain from using inline ignore pragmas  `# hadolint ignore=DLxxxx`.",
        "Reports every inline ignore pragma, for teams that want exceptions in a config file instead. Off \
         by default.",
    ),
    with_fix(
        dl(
            "DL3000",
            Error,
            "Use absolute WORKDIR",
            "A relative `WORKDIR` depends on the working directory the base image happens to set. Use an \
             absolute path (a path starting with a variable is accepted).",
        ),
        "prefixes the path with `/` when it is the stage's first WORKDIR (what a relative path means in a \
         base image whose WORKDIR is `/`)",
    ),
    dl(
        "DL3001",
        Info,
        "For some bash commands it makes no sense running them in a Docker container like `ssh`, `vim`, `shutdown`, `service`, `ps`, `free`, `top`, `kill`, `mount`, `ifconfig`",
        "Interactive tools and service managers have no effect in a build step, or hide that the image is \
         built wrongly.",
    ),
    dl(
        "DL3002",
        Warning,
        "Last USER should not be root",
        "A container should not run as root. Switch to an unprivileged user at the end of the stage (the \
         rule looks at the last `USER` instruction; see KL001 for stages with no `USER` at all).",
    ),
    dl(
        "DL3003",
        Warning,
        "Use WORKDIR to switch to a directory",
        "`cd` in a `RUN` only lasts for that step and makes the build harder to read; `WORKDIR` sets the \
         directory for the following instructions.",
    ),
    dl(
        "DL3004",
        Error,
        "Do not use sudo as it leads to unpredictable behavior. Use a tool like gosu to enforce root",
        "`sudo` needs a TTY and a configured sudoers file and behaves differently across images. Build \
         steps run as the current `USER`; switch with `USER` or use `gosu`.",
    ),
    dl(
        "DL3006",
        Warning,
        "Always tag the version of an image explicitly",
        "An untagged image means `latest`, which changes under you. Name a tag (or a digest).",
    ),
    dl(
        "DL3007",
        Warning,
        "Using latest is prone to errors if the image will ever update. Pin the version explicitly to a release tag",
        "`latest` moves; builds stop being reproducible. Pin a release tag (or a digest).",
    ),
    dl(
        "DL3008",
        Warning,
        "Pin versions in apt get install. Instead of `apt-get install <package>` use `apt-get install <package>=<version>`",
        "Unpinned packages make the build depend on the day it runs. Pin `package=version` (packages given \
         as paths or `.deb` files are accepted).",
    ),
    with_fix(
        dl(
            "DL3009",
            Info,
            "Delete the apt lists (/var/lib/apt/lists) after installing something",
            "`apt-get update` leaves tens of megabytes of package lists in the layer. Remove them in the same \
             `RUN` (`rm -rf /var/lib/apt/lists/*`) or use a cache mount for `/var/lib/apt/lists`. Only \
             stages that end up in the image are reported.",
        ),
        "appends `&& rm -rf /var/lib/apt/lists/*` to the RUN",
    ),
    dl(
        "DL3010",
        Info,
        "Use `ADD` for extracting archives into an image",
        "Copying a local archive and extracting it in a later `RUN` keeps the archive in a layer; `ADD` \
         extracts local archives in one step.",
    ),
    dl(
        "DL3011",
        Error,
        "Valid UNIX ports range from 0 to 65535",
        "An `EXPOSE` port outside 0–65535 is invalid.",
    ),
    dl(
        "DL3012",
        Error,
        "Multiple `HEALTHCHECK` instructions",
        "Only the last `HEALTHCHECK` of a stage takes effect.",
    ),
    dl(
        "DL3013",
        Warning,
        "Pin versions in pip. Instead of `pip install <package>` use `pip install <package>==<version>` or `pip install --requirement <requirements file>`",
        "Unpinned Python packages make builds irreproducible. Pin versions, use a requirements or \
         constraints file.",
    ),
    with_fix(
        dl(
            "DL3014",
            Warning,
            "Use the `-y` switch to avoid manual input `apt-get -y install <package>`",
            "Without `-y`, `apt-get install` asks for confirmation and the build fails.",
        ),
        "adds `-y` after `install`",
    ),
    with_fix(
        dl(
            "DL3015",
            Info,
            "Avoid additional packages by specifying `--no-install-recommends`",
            "Recommended packages are rarely needed in an image and add size and attack surface.",
        ),
        "adds `--no-install-recommends` after `install`",
    ),
    dl(
        "DL3016",
        Warning,
        "Pin versions in npm. Instead of `npm install <package>` use `npm install <package>@<version>`",
        "Unpinned npm packages make builds irreproducible.",
    ),
    dl(
        "DL3018",
        Warning,
        "Pin versions in apk add. Instead of `apk add <package>` use `apk add <package>=<version>`",
        "Unpinned Alpine packages make builds irreproducible.",
    ),
    with_fix(
        dl(
            "DL3019",
            Info,
            "Use the `--no-cache` switch to avoid the need to use `--update` and remove `/var/cache/apk/*` when done installing packages",
            "`apk add --no-cache` fetches the index without keeping it in the layer.",
        ),
        "adds `--no-cache` after `add`",
    ),
    dl(
        "DL3020",
        Error,
        "Use COPY instead of ADD for files and folders",
        "`ADD` also fetches URLs and extracts archives; for plain files `COPY` says what it does.",
    ),
    dl(
        "DL3021",
        Error,
        "COPY with more than 2 arguments requires the last argument to end with /",
        "With several sources the destination must be a directory, written with a trailing `/`.",
    ),
    dl(
        "DL3022",
        Warning,
        "`COPY --from` should reference a previously defined `FROM` alias",
        "`COPY --from=name` with a name that is no earlier stage pulls an image of that name instead.",
    ),
    dl(
        "DL3023",
        Error,
        "`COPY --from` cannot reference its own `FROM` alias",
        "A stage cannot copy from itself.",
    ),
    dl(
        "DL3024",
        Error,
        "FROM aliases (stage names) must be unique",
        "Two stages with the same name are ambiguous.",
    ),
    dl(
        "DL3025",
        Warning,
        "Use arguments JSON notation for CMD and ENTRYPOINT arguments",
        "The shell form runs the command under `/bin/sh -c`, which does not forward signals: the process \
         is not PID 1 and is killed instead of stopped gracefully.",
    ),
    dl(
        "DL3026",
        Error,
        "Use only an allowed registry in the FROM image",
        "With `trustedRegistries` configured, base images (and `COPY --from`/`--mount from` images) must \
         come from those registries.",
    ),
    dl(
        "DL3027",
        Warning,
        "Do not use apt as it is meant to be an end-user tool, use apt-get or apt-cache instead",
        "`apt` has no stable command-line interface for scripts.",
    ),
    dl(
        "DL3028",
        Warning,
        "Pin versions in gem install. Instead of `gem install <gem>` use `gem install <gem>:<version>`",
        "Unpinned gems make builds irreproducible.",
    ),
    dl(
        "DL3029",
        Warning,
        "Do not use --platform flag with FROM",
        "A constant `--platform` breaks multi-platform builds; use `$BUILDPLATFORM`/`$TARGETPLATFORM`.",
    ),
    dl(
        "DL3030",
        Warning,
        "Use the -y switch to avoid manual input `yum install -y <package>`",
        "Without `-y`, yum asks for confirmation and the build fails.",
    ),
    dl(
        "DL3032",
        Warning,
        "`yum clean all` missing after yum command.",
        "yum's caches stay in the layer unless cleaned in the same `RUN`.",
    ),
    dl(
        "DL3033",
        Warning,
        "Specify version with `yum install -y <package>-<version>`.",
        "Unpinned packages make builds irreproducible.",
    ),
    dl(
        "DL3034",
        Warning,
        "Non-interactive switch missing from `zypper` command: `zypper install -y`",
        "Without `-y`/`--non-interactive`, zypper asks for confirmation and the build fails.",
    ),
    dl(
        "DL3035",
        Warning,
        "Do not use `zypper dist-upgrade`.",
        "A distribution upgrade in a build makes the image depend on the day it is built.",
    ),
    dl(
        "DL3036",
        Warning,
        "`zypper clean` missing after zypper use.",
        "zypper's caches stay in the layer unless cleaned in the same `RUN`.",
    ),
    dl(
        "DL3037",
        Warning,
        "Specify version with `zypper install -y <package>=<version>`.",
        "Unpinned packages make builds irreproducible.",
    ),
    dl(
        "DL3038",
        Warning,
        "Use the -y switch to avoid manual input `dnf install -y <package>`",
        "Without `-y`, dnf asks for confirmation and the build fails.",
    ),
    dl(
        "DL3040",
        Warning,
        "`dnf clean all` missing after dnf command.",
        "dnf's caches stay in the layer unless cleaned in the same `RUN`.",
    ),
    dl(
        "DL3041",
        Warning,
        "Specify version with `dnf install -y <package>-<version>`.",
        "Unpinned packages make builds irreproducible.",
    ),
    with_fix(
        dl(
            "DL3042",
            Warning,
            "Avoid use of cache directory with pip. Use `pip install --no-cache-dir <package>`",
            "pip's download cache stays in the layer; `--no-cache-dir`, `PIP_NO_CACHE_DIR=1` or a cache \
             mount avoid it.",
        ),
        "adds `--no-cache-dir` after `install`",
    ),
    dl(
        "DL3043",
        Error,
        "`ONBUILD`, `FROM` or `MAINTAINER` triggered from within `ONBUILD` instruction.",
        "These instructions are not allowed as `ONBUILD` triggers.",
    ),
    dl(
        "DL3044",
        Error,
        "Do not refer to an environment variable within the same `ENV` statement where it is defined.",
        "Variables of one `ENV` are set together: a reference to a variable defined in the same statement \
         sees its old value.",
    ),
    dl(
        "DL3045",
        Warning,
        "`COPY` to a relative destination without `WORKDIR` set.",
        "A relative destination depends on the base image's working directory; set `WORKDIR` first or use \
         an absolute path.",
    ),
    dl(
        "DL3046",
        Warning,
        "`useradd` without flag `-l` and high UID will result in excessively large Image.",
        "Without `-l`, `useradd` writes the lastlog/faillog entry for a high UID into a huge sparse file \
         that layers store in full.",
    ),
    dl(
        "DL3047",
        Info,
        "Avoid use of wget without progress bar. Use `wget --progress=dot:giga <url>`. Or consider using `-q` or `-nv` (shorthands for `--quiet` or `--no-verbose`).",
        "wget's default progress output floods build logs.",
    ),
    dl(
        "DL3048",
        Style,
        "Invalid label key.",
        "Label keys should be lower-case reverse-DNS names made of `a-z0-9.-_/`, not use Docker's reserved \
         namespaces and not repeat separators.",
    ),
    dl(
        "DL3049",
        Info,
        "Label `<label>` is missing.",
        "A label required by the configured `label-schema` is not set in the stage.",
    ),
    dl(
        "DL3050",
        Info,
        "Superfluous label(s) present.",
        "With `strict-labels`, labels not in the `label-schema` are reported.",
    ),
    dl("DL3051", Warning, "label `<label>` is empty.", "A label of the `label-schema` has an empty value."),
    dl(
        "DL3052",
        Warning,
        "Label `<label>` is not a valid URL.",
        "The label is declared `url` in the `label-schema`.",
    ),
    dl(
        "DL3053",
        Warning,
        "Label `<label>` is not a valid time format - must conform to RFC3339.",
        "The label is declared `rfc3339` in the `label-schema`.",
    ),
    dl(
        "DL3054",
        Warning,
        "Label `<label>` is not a valid SPDX identifier.",
        "The label is declared `spdx` in the `label-schema`.",
    ),
    dl(
        "DL3055",
        Warning,
        "Label `<label>` is not a valid git hash.",
        "The label is declared `hash` in the `label-schema` (7 or 40 lower-case hex digits).",
    ),
    dl(
        "DL3056",
        Warning,
        "Label `<label>` does not conform to semantic versioning.",
        "The label is declared `semver` in the `label-schema`.",
    ),
    dl(
        "DL3057",
        Ignore,
        "`HEALTHCHECK` instruction missing.",
        "Reports stages without a `HEALTHCHECK` (inherited through stage bases). Off by default; KL006 \
         reports the case that matters: a final stage that exposes a port.",
    ),
    dl(
        "DL3058",
        Warning,
        "Label `<label>` is not a valid email format - must conform to RFC5322.",
        "The label is declared `email` in the `label-schema`.",
    ),
    with_fix(
        dl(
            "DL3059",
            Info,
            "Multiple consecutive `RUN` instructions. Consider consolidation.",
            "Each `RUN` is a layer. Consecutive single-command `RUN`s with the same flags can be one.",
        ),
        "joins the RUN to the previous one with `&&` when that is a pure concatenation (same flags, shell \
         form, no heredocs, and the first changes no shell state: no `cd`, `export`, `set`, assignments…)",
    ),
    dl(
        "DL3060",
        Info,
        "`yarn cache clean` missing after `yarn install` was run.",
        "yarn's cache stays in the layer unless cleaned in the same `RUN` or kept in a cache mount.",
    ),
    dl(
        "DL3061",
        Error,
        "Invalid instruction order. Dockerfile must begin with `FROM`, `ARG` or comment.",
        "Only `ARG` (and comments) may come before the first `FROM`.",
    ),
    dl(
        "DL3062",
        Warning,
        "Pin versions in go. Instead of `go install <package>` use `go install <package>@<version>`",
        "`go install pkg` without a version (or with `@latest`) is not reproducible.",
    ),
    dl(
        "DL3063",
        Warning,
        "stage name should not be a reserved word",
        "`scratch` and `context` have a meaning in `FROM` and `--from`; a stage with that name is \
         ambiguous.",
    ),
    dl(
        "DL3064",
        Warning,
        "Potentially sensitive data should not be used in the `ARG` or `ENV` commands",
        "Build arguments and environment variables are stored in the image history and config. Use \
         `RUN --mount=type=secret`.",
    ),
    dl(
        "DL3065",
        Warning,
        "Setting `FROM --platform` to predefined `$TARGETPLATFORM` in is redundant as this is the default behavior",
        "`FROM` already uses the target platform.",
    ),
    dl(
        "DL3066",
        Info,
        "Non-numeric user-id may not be resolvable by host system",
        "Orchestrators that enforce non-root (e.g. `runAsNonRoot`) need a numeric UID to verify it.",
    ),
    dl(
        "DL3067",
        Warning,
        "Do not copy an entire filesystem from another stage",
        "`COPY --from=stage / /` overwrites the whole filesystem; copy what you need.",
    ),
    with_fix(
        dl(
            "DL4000",
            Error,
            "MAINTAINER is deprecated",
            "Use `LABEL maintainer=\"…\"` (or `org.opencontainers.image.authors`).",
        ),
        "replaces `MAINTAINER text` with `LABEL maintainer=\"text\"`",
    ),
    dl(
        "DL4001",
        Warning,
        "Either use Wget or Curl but not both",
        "Two download tools in one stage add size for no gain.",
    ),
    dl(
        "DL4003",
        Warning,
        "Multiple `CMD` instructions found. If you list more than one `CMD` then only the last `CMD` will take effect",
        "Only the last `CMD` of a stage takes effect.",
    ),
    dl(
        "DL4004",
        Error,
        "Multiple `ENTRYPOINT` instructions found. If you list more than one `ENTRYPOINT` then only the last `ENTRYPOINT` will take effect",
        "Only the last `ENTRYPOINT` of a stage takes effect.",
    ),
    dl(
        "DL4005",
        Warning,
        "Use SHELL to change the default shell",
        "Relinking `/bin/sh` changes the shell for everything in the image; `SHELL` changes it for the \
         build.",
    ),
    dl(
        "DL4006",
        Warning,
        "Set the SHELL option -o pipefail before RUN with a pipe in it. If you are using /bin/sh in an alpine image or if your shell is symlinked to busybox then consider explicitly setting your SHELL to /bin/ash, or disable this check",
        "A pipeline's status is its last command's: `curl … | sh` succeeds even when the download fails. \
         Set `SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]` (or run `set -o pipefail` first in the \
         same RUN, which kiln accepts and hadolint does not).",
    ),
    // BuildKit's build checks.
    with_fix(
        bk(
            "StageNameCasing",
            "https://docs.docker.com/go/dockerfile/rule/stage-name-casing/",
            "Stage names should be lowercase",
            "Stage names are case-insensitive; writing them in lower case avoids confusion with image names.",
        ),
        "lower-cases the stage name in FROM",
    ),
    with_fix(
        bk(
            "FromAsCasing",
            "https://docs.docker.com/go/dockerfile/rule/from-as-casing/",
            "The 'as' keyword should match the case of the 'from' keyword",
            "`FROM image as name` mixes cases; write `AS` with `FROM` (or `as` with `from`).",
        ),
        "rewrites the `as` keyword in the case of `FROM`",
    ),
    bk(
        "NoEmptyContinuation",
        "https://docs.docker.com/go/dockerfile/rule/no-empty-continuation/",
        "Empty continuation lines will become errors in a future release",
        "An empty line inside a continued instruction is skipped today and will be an error.",
    ),
    with_fix(
        bk(
            "ConsistentInstructionCasing",
            "https://docs.docker.com/go/dockerfile/rule/consistent-instruction-casing/",
            "All commands within the Dockerfile should use the same casing (either upper or lower)",
            "Instruction keywords should all be upper case (or all lower case), following the majority.",
        ),
        "rewrites the keyword in the majority's case",
    ),
    bk(
        "DuplicateStageName",
        "https://docs.docker.com/go/dockerfile/rule/duplicate-stage-name/",
        "Stage names should be unique",
        "Two stages with the same name are ambiguous.",
    ),
    bk(
        "ReservedStageName",
        "https://docs.docker.com/go/dockerfile/rule/reserved-stage-name/",
        "Reserved words should not be used as stage names",
        "`scratch` and `context` are reserved.",
    ),
    bk(
        "JSONArgsRecommended",
        "https://docs.docker.com/go/dockerfile/rule/json-args-recommended/",
        "JSON arguments recommended for ENTRYPOINT/CMD to prevent unintended behavior related to OS signals",
        "The shell form wraps the command in `/bin/sh -c`, which does not forward signals. Not reported \
         when the stage sets a `SHELL`.",
    ),
    with_fix(
        bk(
            "MaintainerDeprecated",
            "https://docs.docker.com/go/dockerfile/rule/maintainer-deprecated/",
            "The MAINTAINER instruction is deprecated, use a label instead to define an image author",
            "Use `LABEL org.opencontainers.image.authors=\"…\"`.",
        ),
        "replaces `MAINTAINER text` with `LABEL maintainer=\"text\"`",
    ),
    bk(
        "UndefinedArgInFrom",
        "https://docs.docker.com/go/dockerfile/rule/undefined-arg-in-from/",
        "FROM command must use declared ARGs",
        "A variable in `FROM` must be a global `ARG` (declared before the first `FROM`) or a predefined \
         platform argument.",
    ),
    with_fix(
        bk(
            "WorkdirRelativePath",
            "https://docs.docker.com/go/dockerfile/rule/workdir-relative-path/",
            "Relative workdir without an absolute workdir declared within the build can have unexpected results if the base image changes",
            "The first `WORKDIR` of a stage should be absolute.",
        ),
        "prefixes the path with `/` (what it means in a base image whose WORKDIR is `/`)",
    ),
    bk(
        "UndefinedVar",
        "https://docs.docker.com/go/dockerfile/rule/undefined-var/",
        "Variables should be defined before their use",
        "A variable used in an instruction BuildKit expands (ENV, LABEL, COPY, ADD, WORKDIR, USER, …) is \
         neither an `ARG` nor an `ENV` of the stage. Without the base image's environment (in `kiln lint`), \
         a variable is only reported when the stage's environment is fully known (it starts from `scratch`) \
         or when a similarly named variable exists (a likely typo).",
    ),
    bk(
        "MultipleInstructionsDisallowed",
        "https://docs.docker.com/go/dockerfile/rule/multiple-instructions-disallowed/",
        "Multiple instructions of the same type should not be used in the same stage",
        "Only the last `CMD`, `ENTRYPOINT` or `HEALTHCHECK` of a stage takes effect; the earlier one is \
         reported.",
    ),
    with_fix(
        bk(
            "LegacyKeyValueFormat",
            "https://docs.docker.com/go/dockerfile/rule/legacy-key-value-format/",
            "Legacy key/value format with whitespace separator should not be used",
            "`ENV key value` is the legacy form; write `ENV key=value`.",
        ),
        "rewrites `KEY value` as `KEY=value` (quoting the value when it contains blanks and no quotes)",
    ),
    bk(
        "RedundantTargetPlatform",
        "https://docs.docker.com/go/dockerfile/rule/redundant-target-platform/",
        "Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior",
        "`FROM` already uses the target platform.",
    ),
    bk(
        "SecretsUsedInArgOrEnv",
        "https://docs.docker.com/go/dockerfile/rule/secrets-used-in-arg-or-env/",
        "Sensitive data should not be used in the ARG or ENV commands",
        "Build arguments and environment variables persist in the image; pass secrets with \
         `RUN --mount=type=secret`.",
    ),
    bk(
        "InvalidDefaultArgInFrom",
        "https://docs.docker.com/go/dockerfile/rule/invalid-default-arg-in-from/",
        "Default value for global ARG results in an empty or invalid base image name",
        "Without build arguments, the base image name must still be valid.",
    ),
    bk(
        "FromPlatformFlagConstDisallowed",
        "https://docs.docker.com/go/dockerfile/rule/from-platform-flag-const-disallowed/",
        "FROM --platform flag should not use a constant value",
        "A constant platform forces emulation in multi-platform builds; use `$BUILDPLATFORM` or \
         `$TARGETPLATFORM` (allowed when the stage name mentions the platform).",
    ),
    bk(
        "CopyIgnoredFile",
        "https://docs.docker.com/go/dockerfile/rule/copy-ignored-file/",
        "Attempting to Copy file that is excluded by .dockerignore",
        "The source is excluded by `.dockerignore`, so the copy fails or copies nothing. Needs the build \
         context (`kiln lint --context DIR`, or a Dockerfile inside the context).",
    ),
    experimental(bk(
        "InvalidDefinitionDescription",
        "https://docs.docker.com/go/dockerfile/rule/invalid-definition-description/",
        "Comment for build stage or argument should follow the format: `# <arg/stage name> <description>`. If this is not intended to be a description comment, add an empty line or comment between the instruction and the comment.",
        "Experimental: enable with `# check=experimental=InvalidDefinitionDescription`.",
    )),
    bk(
        "ExposeProtoCasing",
        "https://docs.docker.com/go/dockerfile/rule/expose-proto-casing/",
        "Protocol in EXPOSE instruction should be lowercase",
        "Write `80/tcp`, not `80/TCP`.",
    ),
    bk(
        "ExposeInvalidFormat",
        "https://docs.docker.com/go/dockerfile/rule/expose-invalid-format/",
        "IP address and host-port mapping should not be used in EXPOSE instruction. This will become an error in a future release",
        "`EXPOSE` declares container ports only; host mappings belong to `docker run -p`.",
    ),
    // kiln's own rules.
    kl(
        "KL001",
        Warning,
        "The final stage runs as root",
        "The image's default user is root: no `USER` in the final stage (and its stage bases), or the last \
         one is `root`/`0`. Create an unprivileged user and switch to it.",
    ),
    kl(
        "KL002",
        Warning,
        "A build toolchain in a single-stage image",
        "The only stage compiles or installs a toolchain (gcc, make, `go build`, cargo, `npm run build`, \
         maven, gradle, javac…), so the compiler and intermediate files ship in the image. Build in one \
         stage and `COPY --from` the result into a small runtime stage.",
    ),
    kl(
        "KL003",
        Info,
        "The whole source is copied before the dependency install",
        "`COPY . .` before `npm ci`, `pip install -r`, `go mod download`, `bundle install`, … invalidates the \
         dependency layer on every source change. Copy the manifests (`package*.json`, `requirements.txt`, \
         `go.mod`/`go.sum`, `Gemfile*`, `Cargo.*`…) first, install, then copy the rest.",
    ),
    kl(
        "KL004",
        Warning,
        "A secret is passed through ARG or ENV",
        "A secret-looking `ARG`/`ENV` that gets a value or is used by a `RUN` is recorded in the image \
         history or config. Use `RUN --mount=type=secret,id=…` (or `env=`).",
    ),
    kl(
        "KL005",
        Error,
        "A secret file is copied into the image",
        "`.env`, private keys (`id_rsa`, `*.pem`, `*.key`), `.npmrc`, `.pypirc`, `.netrc`, `.git-credentials`, \
         `.aws/credentials`, `.docker/config.json`… copied into a layer stay there even if deleted later. \
         Mount them with `RUN --mount=type=secret`.",
    ),
    kl(
        "KL006",
        Info,
        "The final stage exposes a port but has no HEALTHCHECK",
        "A service image should say how to probe it; orchestrators that use image health checks otherwise \
         see it as healthy while it hangs.",
    ),
    kl(
        "KL007",
        Warning,
        "ADD of a remote URL without --checksum",
        "The download is not verified: `ADD --checksum=sha256:… <url>` pins its content (and caches by it).",
    ),
    kl(
        "KL008",
        Info,
        "A package-manager cache is left in the image",
        "`npm install`/`npm ci` keeps its cache (`~/.npm`), `go build` its build cache, `cargo` its \
         registry, `composer`/`gem`/`bundle` theirs, in a layer of the final image. Use \
         `RUN --mount=type=cache,target=…` or clean up in the same `RUN`. (apt, apk, pip, yarn, yum, dnf and \
         zypper are covered by DL3009, DL3019, DL3042, DL3060, DL3032, DL3040, DL3036.)",
    ),
    kl(
        "KL009",
        Warning,
        "COPY of the whole context without a .dockerignore",
        "The context holds `.git`, `node_modules`, `target`, `.env`… and there is no `.dockerignore`, so \
         `COPY . .` puts them in the image (and busts the cache on every commit). Add a `.dockerignore`.",
    ),
    kl(
        "KL010",
        Info,
        "Base image not pinned by digest",
        "A tag can be moved; `image:tag@sha256:…` pins the exact base and makes builds reproducible.",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_levels_ordered() {
        let mut ids: Vec<_> = RULES.iter().map(|r| r.id).collect();
        ids.sort_unstable();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n);
        assert!(Level::Error < Level::Warning && Level::Style < Level::Ignore);
        assert_eq!(Level::parse("none"), Some(Level::Ignore));
        assert_eq!(rule("DL3008").map(|r| r.level), Some(Level::Warning));
    }
}
