//! dive's CI gates, with dive's names, defaults, config file and meanings: [`CiConfig::load`] reads the
//! rules from flags and `.dive-ci`, [`evaluate`] checks an [`Analysis`] against them, [`render`] prints the
//! result the way `dive --ci` does.
//!
//! The rules (`dive/runtime/ci/rule.go`, read for facts):
//! - `lowestEfficiency` (default `0.9`): fails when the efficiency is below it (a ratio, 0–1);
//! - `highestWastedBytes` (default `disabled`): fails when the wasted bytes exceed it (`20MB`, `1.5 GiB`,
//!   parsed like go-humanize's `ParseBytes`: `MB` is 10⁶, `MiB` 2²⁰);
//! - `highestUserWastedPercent` (default `0.1`): fails when wasted / user bytes exceeds it (a ratio, 0–1);
//! - the value `disabled` turns a rule off. A flag given on the command line wins over the file's
//!   `rules:` entry, which wins over the default (viper's order).
//!
//! One deliberate difference: a malformed value is an error naming the file or flag and the key, where dive
//! prints "CI Misconfigured" and exits 1.

use std::path::Path;

use crate::analysis::Analysis;
use crate::error::{AnalyzeError, Result};

/// The rule keys, their defaults and what they check, in dive's report order (sorted by key).
pub const RULES: &[(&str, &str)] =
    &[("highestUserWastedPercent", "0.1"), ("highestWastedBytes", "disabled"), ("lowestEfficiency", "0.9")];

/// A rule's configured value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// dive's key (`lowestEfficiency`, ...).
    pub key: &'static str,
    /// The value as configured (`disabled`, `0.9`, `20MB`).
    pub value: String,
    /// "command line", the config file's path, or "default".
    pub origin: String,
}

/// The gates to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiConfig {
    /// One per key of [`RULES`], in that order.
    pub rules: Vec<Rule>,
    /// The config file read, if one existed.
    pub file: Option<String>,
}

/// Values given on the command line (`None`: not given).
#[derive(Debug, Clone, Default)]
pub struct CiFlags {
    /// `--lowest-efficiency`.
    pub lowest_efficiency: Option<String>,
    /// `--highest-wasted-bytes`.
    pub highest_wasted_bytes: Option<String>,
    /// `--highest-user-wasted-percent`.
    pub highest_user_wasted_percent: Option<String>,
}

impl CiConfig {
    /// Reads the rules: `flags`, then `config_file` (dive's `.dive-ci`; a missing file is not an error),
    /// then the defaults. Every value is validated.
    pub fn load(config_file: &Path, flags: &CiFlags) -> Result<CiConfig> {
        let origin = config_file.display().to_string();
        let from_file: Option<serde_norway::Value> = match fs_err::read_to_string(config_file) {
            Ok(text) => Some(serde_norway::from_str(&text).map_err(|e| AnalyzeError::CiConfig {
                origin: origin.clone(),
                key: "rules".into(),
                reason: e.to_string(),
            })?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(AnalyzeError::io(config_file, "reading the CI config", e)),
        };
        let file_rule = |key: &str| -> Option<String> {
            let v = from_file.as_ref()?.get("rules")?.get(key)?;
            Some(match v {
                serde_norway::Value::String(s) => s.clone(),
                serde_norway::Value::Number(n) => n.to_string(),
                serde_norway::Value::Bool(b) => b.to_string(),
                other => format!("{other:?}"),
            })
        };
        let mut rules = Vec::with_capacity(RULES.len());
        for &(key, default) in RULES {
            let flag = match key {
                "lowestEfficiency" => &flags.lowest_efficiency,
                "highestWastedBytes" => &flags.highest_wasted_bytes,
                _ => &flags.highest_user_wasted_percent,
            };
            let (value, from) = match (flag, file_rule(key)) {
                (Some(v), _) => (v.clone(), "command line".to_owned()),
                (None, Some(v)) => (v, origin.clone()),
                (None, None) => (default.to_owned(), "default".to_owned()),
            };
            validate(key, &value).map_err(|reason| AnalyzeError::CiConfig {
                origin: from.clone(),
                key: key.into(),
                reason,
            })?;
            rules.push(Rule { key, value, origin: from });
        }
        Ok(CiConfig { rules, file: from_file.map(|_| origin) })
    }
}

fn validate(key: &str, value: &str) -> std::result::Result<(), String> {
    if value == "disabled" {
        return Ok(());
    }
    match key {
        "highestWastedBytes" => parse_bytes(value).map(|_| ()),
        _ => {
            let v: f64 =
                value.trim().parse().map_err(|e| format!("invalid config value ({value:?}): {e}"))?;
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(format!("{key} config value is outside allowed range (0-1), given {value:?}"))
            }
        }
    }
}

/// go-humanize's `ParseBytes`: a number (commas ignored) and an optional unit, SI (`kB`, `MB`) or IEC
/// (`KiB`, `MiB`), case-insensitive.
pub fn parse_bytes(s: &str) -> std::result::Result<u64, String> {
    let digits = s.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ',')).unwrap_or(s.len());
    let number: f64 =
        s[..digits].replace(',', "").parse().map_err(|e| format!("invalid config value ({s:?}): {e}"))?;
    let unit = s[digits..].trim().to_ascii_lowercase();
    let factor: u64 = match unit.as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "ki" | "kib" => 1 << 10,
        "m" | "mb" => 1000u64.pow(2),
        "mi" | "mib" => 1 << 20,
        "g" | "gb" => 1000u64.pow(3),
        "gi" | "gib" => 1 << 30,
        "t" | "tb" => 1000u64.pow(4),
        "ti" | "tib" => 1 << 40,
        "p" | "pb" => 1000u64.pow(5),
        "pi" | "pib" => 1 << 50,
        "e" | "eb" => 1000u64.pow(6),
        "ei" | "eib" => 1 << 60,
        other => return Err(format!("invalid config value ({s:?}): unhandled size name: {other}")),
    };
    let bytes = number * factor as f64;
    if bytes >= u64::MAX as f64 {
        return Err(format!("invalid config value ({s:?}): too large"));
    }
    Ok(bytes as u64)
}

/// A rule's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    /// Within the limit.
    Pass,
    /// Over the limit.
    Fail,
    /// Disabled.
    Skip,
}

/// One rule's result.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RuleResult {
    /// dive's key.
    pub key: &'static str,
    /// The outcome.
    pub status: Status,
    /// Why it failed (or "rule disabled").
    pub message: String,
}

/// The gates' results.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CiOutcome {
    /// One per rule, sorted by key.
    pub results: Vec<RuleResult>,
    /// No rule failed.
    pub pass: bool,
}

/// Checks `analysis` against `config`.
pub fn evaluate(config: &CiConfig, analysis: &Analysis) -> CiOutcome {
    let results: Vec<RuleResult> = config
        .rules
        .iter()
        .map(|rule| {
            if rule.value == "disabled" {
                return RuleResult { key: rule.key, status: Status::Skip, message: "rule disabled".into() };
            }
            let failure = match rule.key {
                "lowestEfficiency" => {
                    let limit: f64 = rule.value.trim().parse().unwrap_or(f64::NAN);
                    (limit > analysis.efficiency).then(|| {
                        format!(
                            "image efficiency is too low (efficiency={} < threshold={})",
                            analysis.efficiency, rule.value
                        )
                    })
                }
                "highestWastedBytes" => {
                    let limit = parse_bytes(&rule.value).unwrap_or(u64::MAX);
                    (analysis.wasted_bytes > limit).then(|| {
                        format!(
                            "too many bytes wasted (wasted-bytes={} > threshold={limit})",
                            analysis.wasted_bytes
                        )
                    })
                }
                _ => {
                    let limit: f64 = rule.value.trim().parse().unwrap_or(f64::NAN);
                    (limit < analysis.user_wasted_ratio).then(|| {
                        format!(
                            "too many bytes wasted, relative to the user bytes added \
                             (%-user-wasted-bytes={} > threshold={})",
                            analysis.user_wasted_ratio, rule.value
                        )
                    })
                }
            };
            match failure {
                Some(message) => RuleResult { key: rule.key, status: Status::Fail, message },
                None => RuleResult { key: rule.key, status: Status::Pass, message: String::new() },
            }
        })
        .collect();
    let pass = results.iter().all(|r| r.status != Status::Fail);
    CiOutcome { results, pass }
}

/// go-humanize's `Bytes`: SI units, one decimal below 10 (`3.9 MB`, `717 kB`, `0 B`).
pub fn human_bytes(n: u64) -> String {
    if n < 10 {
        return format!("{n} B");
    }
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let e = ((n as f64).ln() / 1000f64.ln()).floor().min(6.0);
    let value = ((n as f64) / 1000f64.powf(e) * 10.0 + 0.5).floor() / 10.0;
    let unit = UNITS[e as usize];
    if value < 10.0 { format!("{value:.1} {unit}") } else { format!("{value:.0} {unit}") }
}

/// Go's `%2.4f` of a percentage (`NaN`, `+Inf` when undefined).
pub fn go_percent(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else {
        format!("{v:.4}")
    }
}

/// The `dive --ci` report: the three numbers, the inefficient files, each rule's result and the tally.
pub fn render(analysis: &Analysis, config: &CiConfig, outcome: &CiOutcome) -> String {
    let mut s = String::new();
    match &config.file {
        Some(f) => s.push_str(&format!("  Using CI config: {f}\n")),
        None => s.push_str("  Using default CI config\n"),
    }
    s.push_str(&format!("  efficiency: {} %\n", go_percent(analysis.efficiency * 100.0)));
    s.push_str(&format!(
        "  wastedBytes: {} bytes ({})\n",
        analysis.wasted_bytes,
        human_bytes(analysis.wasted_bytes)
    ));
    s.push_str(&format!("  userWastedPercent: {} %\n", go_percent(analysis.user_wasted_percent)));
    s.push_str("Inefficient Files:\n");
    s.push_str(&format!("{:>5}  {:>12}  {}\n", "Count", "Wasted Space", "File Path"));
    if analysis.inefficiencies.is_empty() {
        s.push_str("None\n");
    }
    for f in &analysis.inefficiencies {
        s.push_str(&format!(
            "{:>5}  {:>12}  {}\n",
            f.count,
            human_bytes(f.wasted_bytes),
            crate::render::sanitize(&f.path)
        ));
    }
    s.push_str("Results:\n");
    for r in &outcome.results {
        let status = match r.status {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Skip => "SKIP",
        };
        if r.message.is_empty() {
            s.push_str(&format!("  {status}: {}\n", r.key));
        } else {
            s.push_str(&format!("  {status}: {}: {}\n", r.key, r.message));
        }
    }
    let count = |st: Status| outcome.results.iter().filter(|r| r.status == st).count();
    s.push_str(&format!(
        "Result:{} [Total:{}] [Passed:{}] [Failed:{}] [Warn:0] [Skipped:{}]\n",
        if outcome.pass { "PASS" } else { "FAIL" },
        outcome.results.len(),
        count(Status::Pass),
        count(Status::Fail),
        count(Status::Skip)
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_parse_like_go_humanize() {
        assert_eq!(parse_bytes("20Mb"), Ok(20_000_000));
        assert_eq!(parse_bytes("20 MiB"), Ok(20 << 20));
        assert_eq!(parse_bytes("1,500 kB"), Ok(1_500_000));
        assert_eq!(parse_bytes("1.5GB"), Ok(1_500_000_000));
        assert_eq!(parse_bytes("512"), Ok(512));
        assert!(parse_bytes("12 parsecs").is_err());
        assert!(parse_bytes("lots").is_err());
    }

    #[test]
    fn sizes_print_like_go_humanize() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(9), "9 B");
        assert_eq!(human_bytes(1982256), "2.0 MB");
        assert_eq!(human_bytes(716812), "717 kB");
        assert_eq!(human_bytes(3964512), "4.0 MB");
        assert_eq!(human_bytes(31870120), "32 MB");
    }

    #[test]
    fn flags_win_over_the_file_which_wins_over_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(".dive-ci");
        fs_err::write(&file, "rules:\n  lowestEfficiency: 0.95\n  highestWastedBytes: 20Mb\n").unwrap();
        let flags = CiFlags { lowest_efficiency: Some("0.5".into()), ..CiFlags::default() };
        let c = CiConfig::load(&file, &flags).unwrap();
        let get = |k: &str| c.rules.iter().find(|r| r.key == k).unwrap().clone();
        assert_eq!(get("lowestEfficiency").value, "0.5");
        assert_eq!(get("highestWastedBytes").value, "20Mb");
        assert_eq!(get("highestUserWastedPercent").value, "0.1");
        assert_eq!(get("highestUserWastedPercent").origin, "default");
        let missing = CiConfig::load(&dir.path().join("none"), &CiFlags::default()).unwrap();
        assert_eq!(missing.file, None);
    }

    #[test]
    fn bad_values_name_their_origin_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(".dive-ci");
        fs_err::write(&file, "rules:\n  highestUserWastedPercent: 7\n").unwrap();
        let err = CiConfig::load(&file, &CiFlags::default()).unwrap_err().to_string();
        assert!(err.contains(".dive-ci") && err.contains("highestUserWastedPercent"), "{err}");
        let flags = CiFlags { highest_wasted_bytes: Some("many".into()), ..CiFlags::default() };
        let err = CiConfig::load(&file.with_extension("x"), &flags).unwrap_err().to_string();
        assert!(err.starts_with("command line: highestWastedBytes"), "{err}");
    }
}
