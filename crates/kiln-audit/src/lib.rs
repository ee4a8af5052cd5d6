//! kiln's image audit: [`audit`] reads an image's layers once and reports the secrets it holds (in any
//! layer, **including files a later layer deleted**, in the config's `Env` and `Labels`, and in build
//! arguments the history recorded) and the result of CIS-style image checks ([`checks::CHECKS`]).
//!
//! - [`secrets`] holds the detectors (declared as data in [`secrets::rules::RULES`]) and the scanner;
//!   every finding carries only a redacted form of the secret and a fingerprint, so no output can leak
//!   it;
//! - the layer pass (module `walk`) streams each layer once and records the facts the checks need, with
//!   the layer and whether the final filesystem still shows them;
//! - [`checks`] evaluates the checks over the config, history and those facts.
//!
//! Limits: files over [`secrets::MAX_FILE_BYTES`] (configurable) and files whose first 8 KiB contain a NUL
//! byte are not scanned for secrets; both are counted in [`AuditStats`].

pub mod checks;
mod error;
pub mod secrets;
mod walk;

use std::fmt;

use kiln_oci::ImageConfig;
use kiln_store::Store;
use serde::Serialize;

pub use error::AuditError;
pub use secrets::SecretMatch;
pub use walk::LayerAudit;

/// How serious a finding is, least first. The same four words as vulnerability severities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Informational hardening.
    Low,
    /// Should be fixed.
    Medium,
    /// Fix before shipping.
    High,
    /// A leaked credential or equivalent.
    Critical,
}

impl Level {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What to audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditOptions {
    /// Look for secrets.
    pub secrets: bool,
    /// Run the image checks.
    pub checks: bool,
    /// Files larger than this are not scanned for secrets.
    pub max_file_bytes: u64,
}

impl Default for AuditOptions {
    fn default() -> Self {
        AuditOptions { secrets: true, checks: true, max_file_bytes: secrets::MAX_FILE_BYTES }
    }
}

/// How much was read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AuditStats {
    /// Text files scanned for secrets.
    pub files_scanned: u64,
    /// Their bytes.
    pub bytes_scanned: u64,
    /// Files not scanned because they look binary.
    pub skipped_binary: u64,
    /// Files not scanned because they are over the size limit.
    pub skipped_large: u64,
}

/// Where a secret was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum SecretLocation {
    /// In a file of a layer.
    File {
        /// Layer index, base first.
        layer_index: usize,
        /// The layer's DiffID.
        layer_diff_id: String,
        /// Absolute path.
        path: String,
        /// The Dockerfile instruction that made the layer, for images kiln built.
        #[serde(skip_serializing_if = "Option::is_none")]
        dockerfile_line: Option<String>,
        /// False when a later layer deleted or replaced the file (the secret is still in the image).
        visible: bool,
    },
    /// In an environment variable of the config.
    Env {
        /// The variable's name.
        name: String,
    },
    /// In a label of the config.
    Label {
        /// The label's key.
        name: String,
    },
    /// In a history entry (a build argument or the command itself).
    History {
        /// The history entry's index.
        index: usize,
        /// The Dockerfile instruction, for images kiln built.
        #[serde(skip_serializing_if = "Option::is_none")]
        dockerfile_line: Option<String>,
    },
}

impl SecretLocation {
    /// `layer 2 /app/.env (deleted later)`, `ENV DB_PASSWORD`, `history #5`, for messages.
    pub fn describe(&self) -> String {
        match self {
            SecretLocation::File { layer_index, path, visible, .. } => {
                let deleted = if *visible { "" } else { " (deleted by a later layer)" };
                format!("layer {layer_index} {path}{deleted}")
            }
            SecretLocation::Env { name } => format!("ENV {name}"),
            SecretLocation::Label { name } => format!("LABEL {name}"),
            SecretLocation::History { index, .. } => format!("history #{index}"),
        }
    }

    /// The Dockerfile line, when known.
    pub fn dockerfile_line(&self) -> Option<&str> {
        match self {
            SecretLocation::File { dockerfile_line, .. }
            | SecretLocation::History { dockerfile_line, .. } => dockerfile_line.as_deref(),
            _ => None,
        }
    }
}

/// A secret and where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretFinding {
    /// The (redacted) secret.
    #[serde(flatten)]
    pub secret: SecretMatch,
    /// Where.
    pub location: SecretLocation,
}

/// One piece of evidence of a failed check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// The path concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The layer it comes from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer_index: Option<usize>,
    /// The history entry concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history_index: Option<usize>,
    /// The Dockerfile instruction, for images kiln built.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dockerfile_line: Option<String>,
    /// Details (mode bits, the command with secrets redacted, cache sizes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A failed check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckFinding {
    /// The check's ID.
    pub id: &'static str,
    /// Its CIS Docker Benchmark section.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cis: Option<&'static str>,
    /// Its title.
    pub title: &'static str,
    /// Its level.
    pub level: Level,
    /// What was found.
    pub message: String,
    /// Where.
    pub evidence: Vec<Evidence>,
}

/// What [`audit`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    /// Secrets, most severe first.
    pub secrets: Vec<SecretFinding>,
    /// Failed checks, in [`checks::CHECKS`] order.
    pub checks: Vec<CheckFinding>,
    /// IDs of the checks that ran.
    pub checks_run: Vec<&'static str>,
    /// How much was read.
    pub stats: AuditStats,
}

/// Audits the image whose config is `config` and whose layers are blobs in `store` (pin them with a
/// lease while auditing, as `kiln_store::transport::open_images` does): one pass over the layers, then
/// [`audit_layers`].
pub fn audit(store: &Store, config: &ImageConfig, options: &AuditOptions) -> Result<AuditReport, AuditError> {
    let layers =
        if options.secrets || options.checks { walk::walk(store, config, options)? } else { Vec::new() };
    Ok(audit_layers(config, layers, options))
}

/// The report for an image whose layers were read into `layers` (one [`LayerAudit`] per layer, in any
/// order) by the caller's own pass, so several scanners can share one read of each layer.
pub fn audit_layers(config: &ImageConfig, layers: Vec<LayerAudit>, options: &AuditOptions) -> AuditReport {
    let mut stats = AuditStats::default();
    let facts = walk::replay(layers, &mut stats);
    let layers = walk::layer_provenance(config);
    let scanner = secrets::Scanner::get();
    let mut found = Vec::new();
    for fact in &facts.all {
        if let walk::FactKind::Secret(m) = &fact.kind {
            let (diff_id, line) =
                layers.get(fact.layer).map(|(d, l)| (d.to_string(), l.clone())).unwrap_or_default();
            found.push(SecretFinding {
                secret: (**m).clone(),
                location: SecretLocation::File {
                    layer_index: fact.layer,
                    layer_diff_id: diff_id,
                    path: fact.path.clone(),
                    dockerfile_line: line,
                    visible: fact.visible,
                },
            });
        }
    }
    if options.secrets || options.checks {
        found.extend(config_secrets(config, scanner));
    }
    found.sort_by_key(|f| std::cmp::Reverse(f.secret.level));
    let lines: Vec<Option<String>> = layers.into_iter().map(|(_, l)| l).collect();
    let checks = if options.checks { checks::run(config, &facts.all, &found, &lines) } else { Vec::new() };
    AuditReport {
        secrets: if options.secrets { found } else { Vec::new() },
        checks,
        checks_run: if options.checks { checks::CHECKS.iter().map(|c| c.id).collect() } else { Vec::new() },
        stats,
    }
}

/// Secrets in `Env`, `Labels` and the history (build arguments `RUN |N K=V …` and the commands).
fn config_secrets(config: &ImageConfig, scanner: &secrets::Scanner) -> Vec<SecretFinding> {
    let mut out: Vec<SecretFinding> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for var in config.config.env.iter().flatten() {
        let name = var.split_once('=').map_or(var.as_str(), |(n, _)| n).to_owned();
        for m in scanner.scan_assignment_text(var) {
            seen.insert((m.rule, m.fingerprint.clone()));
            out.push(SecretFinding { secret: m, location: SecretLocation::Env { name: name.clone() } });
        }
    }
    for (key, value) in config.config.labels.iter().flatten() {
        for m in scanner.scan_assignment_text(&format!("{key}={value}")) {
            seen.insert((m.rule, m.fingerprint.clone()));
            out.push(SecretFinding { secret: m, location: SecretLocation::Label { name: key.clone() } });
        }
    }
    for (index, h) in config.history.iter().enumerate() {
        let Some(cmd) = h.created_by.as_deref() else { continue };
        let dockerfile_line = h.provenance().map(|p| p.location());
        let mut texts = build_args(cmd);
        texts.push(cmd.to_owned());
        for text in texts {
            for m in scanner.scan_assignment_text(&text) {
                if seen.insert((m.rule, m.fingerprint.clone())) {
                    let location =
                        SecretLocation::History { index, dockerfile_line: dockerfile_line.clone() };
                    out.push(SecretFinding { secret: m, location });
                }
            }
        }
    }
    out
}

/// The `K=V` build arguments BuildKit records in a RUN's history entry: `RUN |2 A=1 B=2 /bin/sh -c …`.
pub fn build_args(created_by: &str) -> Vec<String> {
    let Some(rest) = created_by.trim_start().strip_prefix("RUN |") else { return Vec::new() };
    let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    let Ok(n) = rest[..digits].parse::<usize>() else { return Vec::new() };
    rest[digits..].split_whitespace().take(n).filter(|a| a.contains('=')).map(str::to_owned).collect()
}

/// A history command for display: secrets redacted, one line, at most 160 characters.
pub(crate) fn shorten(cmd: &str) -> String {
    let scrubbed = secrets::Scanner::get().scrub(cmd);
    let mut one_line: String = scrubbed.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > 160 {
        one_line = format!("{}…", one_line.chars().take(159).collect::<String>());
    }
    one_line
}

/// Markdown documentation of every check and secret rule, generated from their tables.
pub fn docs() -> String {
    let mut out = String::from("# kiln scan: image checks and secret rules\n\n## Checks\n\n");
    for c in checks::CHECKS {
        let cis = c.cis.map(|s| format!(" (CIS Docker Benchmark {s})")).unwrap_or_default();
        out.push_str(&format!(
            "### {} {}{cis}\n\nLevel: {}.\n\n{}\n\nFix: {}\n\n",
            c.id, c.title, c.level, c.description, c.remediation
        ));
    }
    out.push_str("## Secret rules\n\n| ID | finds | level |\n|---|---|---|\n");
    for r in secrets::rules::RULES {
        out.push_str(&format!("| `{}` | {} | {} |\n", r.id, r.title, r.level));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_args_from_history() {
        assert_eq!(build_args("RUN |2 TOKEN=abc DEBUG=1 /bin/sh -c make"), ["TOKEN=abc", "DEBUG=1"]);
        assert!(build_args("RUN /bin/sh -c make").is_empty());
    }

    #[test]
    fn shorten_redacts() {
        let s =
            shorten("RUN |1 GITHUB_TOKEN=ghp_0123456789abcdefghijABCDEFGHIJ012345 /bin/sh -c apt-get update");
        assert!(!s.contains("0123456789abcdefghij"), "{s}");
        assert!(s.contains("ghp_"), "{s}");
    }
}
