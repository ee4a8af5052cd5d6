//! Build arguments: the names BuildKit defines by itself (platform args, proxy args, `BUILDKIT_*` frontend
//! options) and the global scope ([`GlobalArgs`]) that `FROM` lines and `ARG NAME` redeclarations read.
//!
//! BuildKit's rules, reproduced here:
//! - The global scope starts with the predefined platform args ([`PLATFORM_ARGS`], plus `TARGETSTAGE`),
//!   each overridable by a `--build-arg` of the same name; then every ARG before the first FROM (a "meta
//!   ARG") is added in order: its value is the `--build-arg` when given, else its default expanded with the
//!   scope built so far, else it stays unset.
//! - Meta ARGs are visible in FROM lines only; a stage sees one when it redeclares it (`ARG NAME`).
//! - Proxy args ([`PROXY_ARGS`], any case) given as `--build-arg` reach every RUN's environment without a
//!   declaration, and stay out of history and cache keys unless a stage declares them.
//! - `--build-arg BUILDKIT_*` are frontend options; `SOURCE_DATE_EPOCH` sets the build's epoch.

use kiln_dockerfile::shell::Env;
use kiln_oci::Platform;

/// The platform args BuildKit defines in the global scope (`TARGETSTAGE` is added next to them).
pub const PLATFORM_ARGS: [&str; 10] = [
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDOSVERSION",
    "BUILDARCH",
    "BUILDVARIANT",
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETOSVERSION",
    "TARGETARCH",
    "TARGETVARIANT",
];

/// The proxy args BuildKit passes to RUN without an ARG declaration (matched case-insensitively).
pub const PROXY_ARGS: [&str; 5] = ["HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "ALL_PROXY"];

/// Args that configure the build itself and never become environment variables of RUN, even when declared
/// (BuildKit's `nonEnvArgs`).
pub const NON_ENV_ARGS: [&str; 2] = ["BUILDKIT_SBOM_SCAN_CONTEXT", "BUILDKIT_SBOM_SCAN_STAGE"];

/// Whether `name` is a proxy arg (any case).
pub fn is_proxy_arg(name: &str) -> bool {
    PROXY_ARGS.iter().any(|p| p.eq_ignore_ascii_case(name))
}

/// Whether `name` is defined by BuildKit itself (platform args and `TARGETSTAGE`).
pub fn is_predefined_arg(name: &str) -> bool {
    name == "TARGETSTAGE" || PLATFORM_ARGS.contains(&name)
}

/// Whether a `--build-arg` of this name is consumed by the build even when no ARG declares it: predefined,
/// proxy, `BUILDKIT_*` frontend options and `SOURCE_DATE_EPOCH`.
pub fn is_builtin_arg(name: &str) -> bool {
    is_predefined_arg(name)
        || is_proxy_arg(name)
        || name.starts_with("BUILDKIT_")
        || name == "SOURCE_DATE_EPOCH"
}

/// An ordered variable scope in which a later assignment replaces an earlier one (BuildKit's `EnvList`):
/// the global args that FROM lines and `ARG NAME` redeclarations read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GlobalArgs {
    vars: Vec<(String, String)>,
}

impl GlobalArgs {
    /// The predefined args for `build` and `target` platforms and target stage name `stage` (`default` when
    /// empty), each replaced by a `--build-arg` of the same name.
    pub(crate) fn predefined(
        build: &Platform,
        target: &Platform,
        stage: &str,
        build_args: &std::collections::BTreeMap<String, String>,
    ) -> Self {
        let variant = |p: &Platform| p.variant.clone().unwrap_or_default();
        let osversion = |p: &Platform| p.os_version.clone().unwrap_or_default();
        let values = [
            ("BUILDPLATFORM", build.to_string()),
            ("BUILDOS", build.os.clone()),
            ("BUILDOSVERSION", osversion(build)),
            ("BUILDARCH", build.architecture.clone()),
            ("BUILDVARIANT", variant(build)),
            ("TARGETPLATFORM", target.to_string()),
            ("TARGETOS", target.os.clone()),
            ("TARGETOSVERSION", osversion(target)),
            ("TARGETARCH", target.architecture.clone()),
            ("TARGETVARIANT", variant(target)),
            ("TARGETSTAGE", if stage.is_empty() { "default".to_owned() } else { stage.to_owned() }),
        ];
        let mut g = GlobalArgs::default();
        for (k, v) in values {
            let v = build_args.get(k).cloned().unwrap_or(v);
            g.set(k, v);
        }
        g
    }

    /// Sets `name`, replacing an earlier value in place.
    pub(crate) fn set(&mut self, name: &str, value: String) {
        match self.vars.iter_mut().find(|(k, _)| k == name) {
            Some((_, v)) => *v = value,
            None => self.vars.push((name.to_owned(), value)),
        }
    }

    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The variables in the order they were first set.
    pub fn vars(&self) -> &[(String, String)] {
        &self.vars
    }
}

impl Env for GlobalArgs {
    fn get(&self, name: &str) -> Option<&str> {
        GlobalArgs::get(self, name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_names() {
        assert!(is_proxy_arg("http_proxy") && is_proxy_arg("No_Proxy") && !is_proxy_arg("PROXY"));
        assert!(is_predefined_arg("TARGETARCH") && is_predefined_arg("TARGETSTAGE"));
        assert!(!is_predefined_arg("targetarch"));
        assert!(is_builtin_arg("BUILDKIT_INLINE_CACHE") && is_builtin_arg("SOURCE_DATE_EPOCH"));
        assert!(!is_builtin_arg("VERSION"));
    }

    #[test]
    fn predefined_args_follow_the_platforms_and_yield_to_build_args() {
        let build = Platform::parse("linux/amd64").unwrap();
        let target = Platform::parse("linux/arm/v6").unwrap();
        let mut overrides = std::collections::BTreeMap::new();
        overrides.insert("TARGETOS".to_owned(), "custom".to_owned());
        let g = GlobalArgs::predefined(&build, &target, "", &overrides);
        assert_eq!(g.get("BUILDPLATFORM"), Some("linux/amd64"));
        assert_eq!(g.get("BUILDVARIANT"), Some(""));
        assert_eq!(g.get("TARGETPLATFORM"), Some("linux/arm/v6"));
        assert_eq!(g.get("TARGETARCH"), Some("arm"));
        assert_eq!(g.get("TARGETVARIANT"), Some("v6"));
        assert_eq!(g.get("TARGETOS"), Some("custom"));
        assert_eq!(g.get("TARGETSTAGE"), Some("default"));
        assert_eq!(g.vars().len(), 11);
    }
}
