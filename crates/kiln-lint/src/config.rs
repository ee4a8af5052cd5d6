//! Linter configuration ([`Config`]): hadolint's `.hadolint.yaml` keys and `HADOLINT_*` variables, with
//! hadolint's merge order (environment, then file, then command line; lists add up, switches override),
//! plus what only kiln knows (the build context, base image environments, experimental rules).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::context::BuildContext;
use crate::rule::Level;

/// The type a label must have (`label-schema` / `--require-label`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LabelType {
    /// An RFC 5322 address.
    Email,
    /// A 7 or 40 digit git hash.
    Hash,
    /// Any text.
    Text,
    /// An RFC 3339 time.
    Rfc3339,
    /// A semantic version.
    Semver,
    /// An SPDX license identifier.
    Spdx,
    /// A URL.
    Url,
}

impl LabelType {
    /// Parses hadolint's type names (empty is `text`).
    pub fn parse(s: &str) -> Option<LabelType> {
        match s {
            "email" => Some(LabelType::Email),
            "hash" => Some(LabelType::Hash),
            "text" | "" => Some(LabelType::Text),
            "rfc3339" => Some(LabelType::Rfc3339),
            "semver" => Some(LabelType::Semver),
            "spdx" => Some(LabelType::Spdx),
            "url" => Some(LabelType::Url),
            _ => None,
        }
    }
}

/// How findings are filtered and leveled, and what the checks may know beyond the Dockerfile.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Rules never reported.
    pub ignored: BTreeSet<String>,
    /// Level per rule, replacing the default.
    pub overrides: BTreeMap<String, Level>,
    /// Registries allowed in `FROM` (DL3026); empty allows all. `*` wildcards at either end.
    pub trusted_registries: Vec<String>,
    /// Required labels and their types (DL3049–DL3058).
    pub label_schema: BTreeMap<String, LabelType>,
    /// Report labels not in the schema (DL3050).
    pub strict_labels: bool,
    /// Ignore `# hadolint ignore=` / `# kiln ignore=` pragmas.
    pub disable_ignore_pragma: bool,
    /// Exit with failure only for findings at or above this level (CLI; default `info`).
    pub failure_threshold: Option<Level>,
    /// Never fail (CLI).
    pub no_fail: Option<bool>,
    /// Output format named in the config (CLI).
    pub format: Option<String>,
    /// Experimental rules to enable (as `# check=experimental=` does).
    pub experimental: BTreeSet<String>,
    /// The build context, for rules that look at it (CopyIgnoredFile, KL009).
    pub context: Option<BuildContext>,
    /// The environment of base images by the name written in `FROM` (after expansion), when the caller
    /// resolved them (a build does); UndefinedVar is exact for such stages.
    pub base_env: BTreeMap<String, Vec<String>>,
}

/// A configuration file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("reading the lint config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The YAML does not have hadolint's shape.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the YAML position.
        message: String,
    },
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawOverride {
    #[serde(default)]
    error: Vec<String>,
    #[serde(default)]
    warning: Vec<String>,
    #[serde(default)]
    info: Vec<String>,
    #[serde(default)]
    style: Vec<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
struct RawConfig {
    #[serde(default)]
    ignored: Vec<String>,
    #[serde(default)]
    r#override: Option<RawOverride>,
    #[serde(default, rename = "trustedRegistries")]
    trusted_registries: Option<OneOrMany>,
    #[serde(default)]
    label_schema: BTreeMap<String, String>,
    strict_labels: Option<bool>,
    disable_ignore_pragma: Option<bool>,
    failure_threshold: Option<String>,
    no_fail: Option<bool>,
    #[allow(dead_code)]
    no_color: Option<bool>,
    #[allow(dead_code)]
    verbose: Option<bool>,
    format: Option<String>,
    #[allow(dead_code)]
    #[serde(default)]
    formats: Vec<String>,
    /// kiln's extension: experimental rules to enable.
    #[serde(default)]
    experimental: Vec<String>,
}

impl Config {
    /// Parses a `.hadolint.yaml` (hadolint's keys; kiln adds `experimental: [rule…]`).
    pub fn from_yaml(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid { path: path.to_owned(), message };
        if text.trim().is_empty() {
            return Ok(Config::default());
        }
        let raw: RawConfig = serde_norway::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let mut c = Config { ignored: raw.ignored.into_iter().collect(), ..Config::default() };
        if let Some(o) = raw.r#override {
            for (list, level) in [
                (o.error, Level::Error),
                (o.warning, Level::Warning),
                (o.info, Level::Info),
                (o.style, Level::Style),
            ] {
                for id in list {
                    c.overrides.insert(id, level);
                }
            }
        }
        c.trusted_registries = match raw.trusted_registries {
            None => Vec::new(),
            Some(OneOrMany::One(s)) => vec![s],
            Some(OneOrMany::Many(v)) => v,
        };
        for (label, ty) in raw.label_schema {
            let t = LabelType::parse(&ty)
                .ok_or_else(|| invalid(format!("label-schema: invalid label type {ty:?} for {label:?}")))?;
            c.label_schema.insert(label, t);
        }
        c.strict_labels = raw.strict_labels.unwrap_or(false);
        c.disable_ignore_pragma = raw.disable_ignore_pragma.unwrap_or(false);
        if let Some(t) = raw.failure_threshold {
            c.failure_threshold = Some(
                Level::parse(&t).ok_or_else(|| invalid(format!("failure-threshold: invalid level {t:?}")))?,
            );
        }
        c.no_fail = raw.no_fail;
        c.format = raw.format;
        c.experimental = raw.experimental.into_iter().collect();
        Ok(c)
    }

    /// Reads a config file.
    pub fn read(path: &Path) -> Result<Config, ConfigError> {
        let text = fs_err::read_to_string(path)
            .map_err(|e| ConfigError::Read { path: path.to_owned(), source: e })?;
        Config::from_yaml(path, &text)
    }

    /// hadolint's search for a config file when none is given: `./.hadolint.y{a,}ml`, then
    /// `$XDG_CONFIG_HOME/hadolint.y{a,}ml` (default `~/.config`), `~/.hadolint/{hadolint,config}.y{a,}ml`,
    /// `~/.hadolint.y{a,}ml`.
    pub fn find(cwd: &Path, env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
        let home = env("HOME").map(PathBuf::from);
        let xdg =
            env("XDG_CONFIG_HOME").map(PathBuf::from).or_else(|| home.as_ref().map(|h| h.join(".config")));
        let mut candidates: Vec<PathBuf> =
            [".hadolint.yaml", ".hadolint.yml"].iter().map(|n| cwd.join(n)).collect();
        if let Some(x) = xdg {
            candidates.extend(["hadolint.yaml", "hadolint.yml"].iter().map(|n| x.join(n)));
        }
        if let Some(h) = home {
            candidates.extend(
                ["hadolint.yaml", "hadolint.yml", "config.yaml", "config.yml"]
                    .iter()
                    .map(|n| h.join(".hadolint").join(n)),
            );
            candidates.extend([".hadolint.yaml", ".hadolint.yml"].iter().map(|n| h.join(n)));
        }
        candidates.into_iter().find(|p| p.is_file())
    }

    /// The `HADOLINT_*` environment variables (and `KILN_LINT_*` equivalents, which win).
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Config {
        let get = |name: &str| env(&format!("KILN_LINT_{name}")).or_else(|| env(&format!("HADOLINT_{name}")));
        let list = |name: &str| -> Vec<String> {
            get(name)
                .map(|v| v.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect())
                .unwrap_or_default()
        };
        let truthy = |name: &str| {
            get(name).map(|v| matches!(v.to_lowercase().as_str(), "1" | "y" | "on" | "true" | "yes"))
        };
        let mut c = Config { ignored: list("IGNORE").into_iter().collect(), ..Config::default() };
        for (name, level) in [
            ("OVERRIDE_ERROR", Level::Error),
            ("OVERRIDE_WARNING", Level::Warning),
            ("OVERRIDE_INFO", Level::Info),
            ("OVERRIDE_STYLE", Level::Style),
        ] {
            for id in list(name) {
                c.overrides.insert(id, level);
            }
        }
        c.trusted_registries = list("TRUSTED_REGISTRIES");
        for item in list("REQUIRE_LABELS") {
            let (name, ty) = item.split_once(':').unwrap_or((&item, ""));
            if let Some(t) = LabelType::parse(ty) {
                c.label_schema.insert(name.to_owned(), t);
            }
        }
        c.strict_labels = truthy("STRICT_LABELS").unwrap_or(false);
        c.disable_ignore_pragma = truthy("DISABLE_IGNORE_PRAGMA").unwrap_or(false);
        c.failure_threshold = get("FAILURE_THRESHOLD").and_then(|v| Level::parse(&v));
        c.no_fail = truthy("NOFAIL");
        c.format = get("FORMAT");
        c
    }

    /// Layers `other` over `self` the way hadolint merges its sources: lists and maps add up, switches
    /// and values set in `other` win.
    pub fn merge(mut self, other: Config) -> Config {
        self.ignored.extend(other.ignored);
        self.overrides.extend(other.overrides);
        self.trusted_registries.extend(other.trusted_registries);
        self.label_schema.extend(other.label_schema);
        self.strict_labels |= other.strict_labels;
        self.disable_ignore_pragma |= other.disable_ignore_pragma;
        self.failure_threshold = other.failure_threshold.or(self.failure_threshold);
        self.no_fail = other.no_fail.or(self.no_fail);
        self.format = other.format.or(self.format);
        self.experimental.extend(other.experimental);
        self.context = other.context.or(self.context);
        self.base_env.extend(other.base_env);
        self
    }

    /// The level of `rule` (`default` unless overridden); `None` when the rule is ignored.
    pub fn level_of(&self, rule: &str, default: Level) -> Option<Level> {
        if self.ignored.contains(rule) {
            return None;
        }
        let l = self.overrides.get(rule).copied().unwrap_or(default);
        (l != Level::Ignore).then_some(l)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_hadolint_yaml() {
        let y = "ignored:\n  - DL3008\noverride:\n  error: [DL3015]\n  style:\n    - DL3059\ntrustedRegistries: docker.io\nlabel-schema:\n  author: text\n  version: semver\nstrict-labels: true\nfailure-threshold: warning\n";
        let c = Config::from_yaml(Path::new(".hadolint.yaml"), y).unwrap();
        assert!(c.ignored.contains("DL3008"));
        assert_eq!(c.overrides.get("DL3015"), Some(&Level::Error));
        assert_eq!(c.trusted_registries, ["docker.io"]);
        assert_eq!(c.label_schema.get("version"), Some(&LabelType::Semver));
        assert!(c.strict_labels);
        assert_eq!(c.failure_threshold, Some(Level::Warning));
        assert_eq!(c.level_of("DL3008", Level::Warning), None);
        assert_eq!(c.level_of("DL3015", Level::Info), Some(Level::Error));
        let e = Config::from_yaml(Path::new("x.yaml"), "label-schema:\n  a: nope\n").unwrap_err();
        assert!(e.to_string().contains("invalid label type"), "{e}");
        assert!(Config::from_yaml(Path::new("x.yaml"), "override:\n  fatal: [DL1]\n").is_err());
    }

    #[test]
    fn env_and_merge_follow_hadolint() {
        let env = |k: &str| match k {
            "HADOLINT_IGNORE" => Some("DL3006, DL3007".to_owned()),
            "HADOLINT_OVERRIDE_INFO" => Some("DL3008".to_owned()),
            "HADOLINT_REQUIRE_LABELS" => Some("maintainer:text,version:semver".to_owned()),
            "HADOLINT_NOFAIL" => Some("yes".to_owned()),
            "HADOLINT_FAILURE_THRESHOLD" => Some("error".to_owned()),
            _ => None,
        };
        let e = Config::from_env(&env);
        assert_eq!(e.ignored.len(), 2);
        assert_eq!(e.label_schema.len(), 2);
        assert_eq!(e.no_fail, Some(true));
        let file = Config {
            ignored: ["DL3009".to_owned()].into(),
            failure_threshold: Some(Level::Style),
            ..Config::default()
        };
        let m = e.merge(file);
        assert_eq!(m.ignored.len(), 3);
        assert_eq!(m.failure_threshold, Some(Level::Style));
        assert_eq!(m.no_fail, Some(true));
    }
}
