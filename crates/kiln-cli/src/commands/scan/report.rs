//! The scan report: vulnerabilities, secrets and failed checks after ignores and severity filters, on one
//! [`Level`] scale, with the ignores that were used, expired or unused; and its table rendering. Secrets
//! appear only in the redacted form kiln-audit gives them.

use std::fmt;

use clap::ValueEnum;
use kiln_audit::{AuditReport, AuditStats, CheckFinding, SecretFinding, SecretLocation};
use kiln_sbom::{ImageSummary, OsRelease, Sbom};
use kiln_vuln::{Finding, MatchReport, Severity};
use serde::Serialize;

use super::ignore::Ignore;

/// One severity scale for every kind of finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, ValueEnum)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Level {
    /// A vulnerability without a rating.
    Unknown,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

impl Level {
    fn of_vuln(s: Severity) -> Level {
        match s {
            Severity::Unknown => Level::Unknown,
            Severity::Low => Level::Low,
            Severity::Medium => Level::Medium,
            Severity::High => Level::High,
            Severity::Critical => Level::Critical,
        }
    }

    fn of_audit(l: kiln_audit::Level) -> Level {
        Level::from(l)
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Level::Unknown => "unknown",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }
}

impl From<kiln_audit::Level> for Level {
    fn from(l: kiln_audit::Level) -> Level {
        match l {
            kiln_audit::Level::Low => Level::Low,
            kiln_audit::Level::Medium => Level::Medium,
            kiln_audit::Level::High => Level::High,
            kiln_audit::Level::Critical => Level::Critical,
        }
    }
}

/// A vulnerability with its level.
#[derive(Debug, Serialize)]
pub(crate) struct Vuln {
    pub(crate) level: Level,
    #[serde(flatten)]
    pub(crate) finding: Finding,
}

/// An ignore that did not apply as written.
#[derive(Debug, Serialize)]
pub(crate) struct IgnoreProblem {
    pub(crate) id: String,
    /// `expired` or `unused`.
    pub(crate) problem: &'static str,
    pub(crate) reason: String,
}

impl fmt::Display for IgnoreProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.problem {
            "expired" => write!(f, "ignore {} has expired; the finding is reported again", self.id),
            _ => write!(f, "ignore {} matched no finding; remove it", self.id),
        }
    }
}

/// Counts per level of what is reported.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Summary {
    pub(crate) critical: usize,
    pub(crate) high: usize,
    pub(crate) medium: usize,
    pub(crate) low: usize,
    pub(crate) unknown: usize,
}

/// Everything `kiln scan` reports.
#[derive(Debug, Serialize)]
pub(crate) struct Report {
    pub(crate) image: ImageSummary,
    pub(crate) os: Option<OsRelease>,
    /// Packages cataloged (any layer).
    pub(crate) packages: usize,
    /// Whether vulnerabilities were matched (`--only` may leave them out).
    pub(crate) vulnerabilities_scanned: bool,
    pub(crate) vulnerabilities: Vec<Vuln>,
    /// Whether secrets were searched.
    pub(crate) secrets_scanned: bool,
    pub(crate) secrets: Vec<SecretFinding>,
    pub(crate) checks: Vec<CheckFinding>,
    pub(crate) checks_run: Vec<&'static str>,
    pub(crate) summary: Summary,
    /// Findings left out by the ignore file (ID, reason).
    pub(crate) ignored: Vec<(String, String)>,
    pub(crate) ignore_problems: Vec<IgnoreProblem>,
    pub(crate) stats: AuditStats,
}

impl Report {
    /// Applies `ignores` (those expired on `today` do not apply) and the `severity` filter (empty: all).
    pub(crate) fn new(
        sbom: &Sbom,
        vulns: Option<MatchReport>,
        audit: AuditReport,
        secrets_scanned: bool,
        ignores: &[Ignore],
        today: time::Date,
        severity: &[Level],
    ) -> Report {
        let mut used = vec![false; ignores.len()];
        let mut ignored = Vec::new();
        let active: Vec<bool> = ignores.iter().map(|i| i.expiry().is_none_or(|d| d >= today)).collect();
        let mut keep = |ids: &[&str], package: &[&str], path: Option<&str>| -> bool {
            for (i, ig) in ignores.iter().enumerate() {
                let hit = active[i]
                    && ids.contains(&ig.id.as_str())
                    && ig.package.as_deref().is_none_or(|p| package.contains(&p))
                    && ig.path.as_deref().is_none_or(|p| path == Some(p));
                if hit {
                    used[i] = true;
                    ignored.push((ids[0].to_owned(), ig.reason.clone()));
                    return false;
                }
            }
            true
        };
        let shown = |l: Level| severity.is_empty() || severity.contains(&l);
        let vulnerabilities_scanned = vulns.is_some();
        let mut vulnerabilities = Vec::new();
        for f in vulns.map(|v| v.findings).unwrap_or_default() {
            let mut ids: Vec<&str> = vec![f.id.as_str()];
            ids.extend(f.aliases.iter().map(String::as_str));
            let names = [f.package.name.as_str(), f.package.osv_name.as_str()];
            let level = Level::of_vuln(f.severity);
            if keep(&ids, &names, None) && shown(level) {
                vulnerabilities.push(Vuln { level, finding: f.clone() });
            }
        }
        let mut secrets = Vec::new();
        for s in audit.secrets {
            let path = match &s.location {
                SecretLocation::File { path, .. } => Some(path.as_str()),
                _ => None,
            };
            let ids = [s.secret.rule, s.secret.fingerprint.as_str()];
            if keep(&ids, &[], path) && shown(Level::of_audit(s.secret.level)) {
                secrets.push(s);
            }
        }
        let mut checks = Vec::new();
        for c in audit.checks {
            if keep(&[c.id], &[], None) && shown(Level::of_audit(c.level)) {
                checks.push(c);
            }
        }
        let mut ignore_problems = Vec::new();
        for (i, ig) in ignores.iter().enumerate() {
            let problem = if !active[i] {
                "expired"
            } else if !used[i] {
                "unused"
            } else {
                continue;
            };
            ignore_problems.push(IgnoreProblem { id: ig.id.clone(), problem, reason: ig.reason.clone() });
        }
        let mut image = sbom.image.clone();
        scrub_history(&mut image);
        let mut report = Report {
            image,
            os: sbom.os.clone(),
            packages: sbom.packages.len(),
            vulnerabilities_scanned,
            vulnerabilities,
            secrets_scanned,
            secrets,
            checks,
            checks_run: audit.checks_run,
            summary: Summary::default(),
            ignored,
            ignore_problems,
            stats: audit.stats,
        };
        for l in report.levels() {
            let n = match l {
                Level::Critical => &mut report.summary.critical,
                Level::High => &mut report.summary.high,
                Level::Medium => &mut report.summary.medium,
                Level::Low => &mut report.summary.low,
                Level::Unknown => &mut report.summary.unknown,
            };
            *n += 1;
        }
        report
    }

    /// The level of every reported finding.
    fn levels(&self) -> Vec<Level> {
        let v = self.vulnerabilities.iter().map(|v| v.level);
        let s = self.secrets.iter().map(|s| Level::of_audit(s.secret.level));
        let c = self.checks.iter().map(|c| Level::of_audit(c.level));
        v.chain(s).chain(c).collect()
    }

    /// The most severe reported finding's level.
    pub(crate) fn worst(&self) -> Option<Level> {
        self.levels().into_iter().max()
    }

    /// The report as aligned text sections (control characters in image data replaced).
    pub(crate) fn table(&self) -> String {
        let mut out = String::new();
        let os = self.os.as_ref().and_then(|o| o.pretty_name.clone()).unwrap_or_else(|| "unknown OS".into());
        out.push_str(&format!(
            "{} ({}, {os}): {} packages\n",
            clean(&self.image.name),
            self.image.platform,
            self.packages
        ));
        if self.vulnerabilities_scanned {
            let mut rows = vec![cells(["SEVERITY", "ID", "PACKAGE", "INSTALLED", "FIXED", "LAYER"])];
            for v in &self.vulnerabilities {
                let f = &v.finding;
                let id = match f.aliases.first() {
                    Some(a) => format!("{} ({a})", f.id),
                    None => f.id.clone(),
                };
                let package = if f.package.osv_name == f.package.name {
                    f.package.name.clone()
                } else {
                    format!("{} ({})", f.package.name, f.package.osv_name)
                };
                let o = &f.package.origin;
                let mut layer = o.layer_index.map(|i| i.to_string()).unwrap_or_default();
                if let Some(line) = &o.dockerfile_line {
                    layer.push_str(&format!(" {line}"));
                }
                if !o.visible {
                    layer.push_str(" (deleted)");
                }
                let fixed = f.fixed_version.clone().unwrap_or_else(|| "-".into());
                rows.push(cells([v.level.as_str(), &id, &package, &f.package.version, &fixed, &layer]));
            }
            section(&mut out, &format!("Vulnerabilities: {}", self.vulnerabilities.len()), rows);
        }
        let mut rows = vec![cells(["LEVEL", "RULE", "WHERE", "SECRET"])];
        for s in self.secrets.iter().filter(|_| self.secrets_scanned) {
            let mut at = s.location.describe();
            if let Some(line) = s.secret.line.filter(|_| matches!(s.location, SecretLocation::File { .. })) {
                at.push_str(&format!(":{line}"));
            }
            if let Some(l) = s.location.dockerfile_line() {
                at.push_str(&format!(" ({l})"));
            }
            rows.push(cells([s.secret.level.as_str(), s.secret.rule, &at, &s.secret.redacted]));
        }
        if self.secrets_scanned {
            section(&mut out, &format!("Secrets: {}", self.secrets.len()), rows);
        }
        if !self.checks_run.is_empty() {
            let mut rows = vec![cells(["LEVEL", "CHECK", "TITLE", "FOUND"])];
            for c in &self.checks {
                let mut found = c.message.clone();
                for e in c.evidence.iter().take(5) {
                    let mut item = e.path.clone().or_else(|| e.detail.clone()).unwrap_or_default();
                    if let Some(l) = &e.dockerfile_line {
                        item.push_str(&format!(" ({l})"));
                    }
                    found.push_str(&format!("; {item}"));
                }
                if c.evidence.len() > 5 {
                    found.push_str(&format!("; … {} more", c.evidence.len() - 5));
                }
                rows.push(cells([c.level.as_str(), c.id, c.title, &found]));
            }
            let title = format!("Audit: {} of {} checks failed", self.checks.len(), self.checks_run.len());
            section(&mut out, &title, rows);
        }
        let s = &self.summary;
        out.push_str(&format!(
            "\nTotal: {} critical, {} high, {} medium, {} low, {} unknown; {} ignored\n",
            s.critical,
            s.high,
            s.medium,
            s.low,
            s.unknown,
            self.ignored.len()
        ));
        out
    }
}

/// Redacts secrets in the layers' history commands (build arguments such as `RUN |1 TOKEN=…`).
pub(crate) fn scrub_history(image: &mut ImageSummary) {
    let scanner = kiln_audit::secrets::Scanner::get();
    for layer in &mut image.layers {
        if let Some(cmd) = &layer.created_by {
            layer.created_by = Some(scanner.scrub(cmd));
        }
    }
}

fn cells<const N: usize>(row: [&str; N]) -> Vec<String> {
    row.iter().map(|c| clean(c)).collect()
}

/// Replaces control characters, so hostile image data cannot drive the terminal.
fn clean(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

fn section(out: &mut String, title: &str, rows: Vec<Vec<String>>) {
    out.push_str(&format!("\n{title}\n"));
    if rows.len() == 1 {
        return;
    }
    out.push_str(&kiln_sbom::format::table::columns(&rows));
}
