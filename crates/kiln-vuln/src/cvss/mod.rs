//! CVSS base scores computed from vector strings, and the qualitative [`Severity`] they map to. The
//! central function is [`score`]: `CVSS:3.1/AV:N/...` → 9.8.
//!
//! Written here rather than taken from a crate: the formulas are short and fully specified, and the crates
//! that exist either lack v4.0 or bring a large dependency tree. Versions:
//! - **v2** (`AV:N/AC:L/Au:N/C:P/I:P/A:P`, no prefix): the v2 guide's base equation;
//! - **v3.0 / v3.1**: the specification's base equations, each with its own round-up (3.0 rounds up to one
//!   decimal; 3.1 uses the integer-based `Roundup` that avoids floating-point surprises);
//! - **v4.0**: the MacroVector method of the v4.0 specification §8: the vector's equivalence classes
//!   (EQ1–EQ6) select a MacroVector whose score comes from the specification's lookup table
//!   (`v4_data`); the score is then lowered by the mean proportional distance of the vector from the
//!   highest-severity vectors of its MacroVector, per EQ. Threat and environmental metrics are honored
//!   when present (`E:X` counts as `E:A`, `CR:X` as `CR:H`, `M*` override base values).

mod v4_data;

use std::collections::BTreeMap;
use std::fmt;

/// A qualitative severity, ordered from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The advisory carries no rating kiln can read.
    Unknown,
    /// CVSS 0.1–3.9, or rated low / negligible.
    Low,
    /// CVSS 4.0–6.9, or rated medium / moderate.
    Medium,
    /// CVSS 7.0–8.9, or rated high / important.
    High,
    /// CVSS 9.0–10.0, or rated critical.
    Critical,
}

impl Severity {
    /// The rating of a CVSS v3/v4 score (0.0, "None", is reported as low).
    pub fn from_score(score: f64) -> Severity {
        match score {
            s if s >= 9.0 => Severity::Critical,
            s if s >= 7.0 => Severity::High,
            s if s >= 4.0 => Severity::Medium,
            _ => Severity::Low,
        }
    }

    /// The rating of a CVSS v2 score (v2 has no critical band).
    pub fn from_v2_score(score: f64) -> Severity {
        match score {
            s if s >= 7.0 => Severity::High,
            s if s >= 4.0 => Severity::Medium,
            _ => Severity::Low,
        }
    }

    /// Reads a database's own word for a severity (GHSA's `MODERATE`, Ubuntu's `negligible`, Red Hat's
    /// `Important`, ...), case-insensitively; `None` for words it does not know.
    pub fn from_word(word: &str) -> Option<Severity> {
        Some(match word.trim().to_ascii_lowercase().as_str() {
            "critical" => Severity::Critical,
            "high" | "important" => Severity::High,
            "medium" | "moderate" => Severity::Medium,
            "low" | "negligible" | "unimportant" | "none" | "minor" => Severity::Low,
            "unknown" | "not yet assigned" | "unassigned" => Severity::Unknown,
            _ => return None,
        })
    }

    /// Lower-case name, as used in flags and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Unknown => "unknown",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Severity {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::from_word(s).ok_or_else(|| format!("unknown severity {s:?} (low, medium, high, critical)"))
    }
}

/// A CVSS vector that cannot be scored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("CVSS vector {vector:?}: {reason}")]
pub struct CvssError {
    /// The vector as given.
    pub vector: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Which CVSS version a vector is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CvssVersion {
    /// v2 (no prefix).
    V2,
    /// v3.0.
    V30,
    /// v3.1.
    V31,
    /// v4.0.
    V40,
}

/// A scored vector.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CvssScore {
    /// The version the vector was read as.
    pub version: CvssVersion,
    /// The base score, 0.0–10.0.
    pub score: f64,
}

impl CvssScore {
    /// The qualitative rating of the score under its version's bands.
    pub fn severity(&self) -> Severity {
        match self.version {
            CvssVersion::V2 => Severity::from_v2_score(self.score),
            _ => Severity::from_score(self.score),
        }
    }
}

/// Scores a CVSS v2, v3.x or v4.0 vector string.
pub fn score(vector: &str) -> Result<CvssScore, CvssError> {
    let v = vector.trim();
    let err = |reason: &str| CvssError { vector: vector.to_owned(), reason: reason.to_owned() };
    if let Some(rest) = v.strip_prefix("CVSS:3.1/") {
        Ok(CvssScore { version: CvssVersion::V31, score: v3(rest, true).map_err(|r| err(&r))? })
    } else if let Some(rest) = v.strip_prefix("CVSS:3.0/") {
        Ok(CvssScore { version: CvssVersion::V30, score: v3(rest, false).map_err(|r| err(&r))? })
    } else if let Some(rest) = v.strip_prefix("CVSS:4.0/") {
        Ok(CvssScore { version: CvssVersion::V40, score: v4(rest).map_err(|r| err(&r))? })
    } else if v.starts_with("CVSS:") {
        Err(err("unsupported CVSS version"))
    } else {
        let rest = v.strip_prefix('(').and_then(|r| r.strip_suffix(')')).unwrap_or(v);
        Ok(CvssScore { version: CvssVersion::V2, score: v2(rest).map_err(|r| err(&r))? })
    }
}

/// Splits `K:V/K:V` into a map, rejecting repeated or malformed metrics.
fn metrics(rest: &str) -> Result<BTreeMap<&str, &str>, String> {
    let mut map = BTreeMap::new();
    for part in rest.split('/').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once(':').ok_or_else(|| format!("metric {part:?} has no value"))?;
        if map.insert(k, v).is_some() {
            return Err(format!("metric {k} appears twice"));
        }
    }
    Ok(map)
}

/// The value of metric `name` looked up in `table`, which lists (value, weight).
fn weight(m: &BTreeMap<&str, &str>, name: &str, table: &[(&str, f64)]) -> Result<f64, String> {
    let v = m.get(name).ok_or_else(|| format!("base metric {name} is missing"))?;
    table
        .iter()
        .find(|(k, _)| k == v)
        .map(|(_, w)| *w)
        .ok_or_else(|| format!("metric {name} has no value {v:?}"))
}

fn v2(rest: &str) -> Result<f64, String> {
    let m = metrics(rest)?;
    let av = weight(&m, "AV", &[("L", 0.395), ("A", 0.646), ("N", 1.0)])?;
    let ac = weight(&m, "AC", &[("H", 0.35), ("M", 0.61), ("L", 0.71)])?;
    let au = weight(&m, "Au", &[("M", 0.45), ("S", 0.56), ("N", 0.704)])?;
    let cia = [("N", 0.0), ("P", 0.275), ("C", 0.660)];
    let (c, i, a) = (weight(&m, "C", &cia)?, weight(&m, "I", &cia)?, weight(&m, "A", &cia)?);
    let impact = 10.41 * (1.0 - (1.0 - c) * (1.0 - i) * (1.0 - a));
    let exploitability = 20.0 * av * ac * au;
    let f = if impact == 0.0 { 0.0 } else { 1.176 };
    Ok(round1(((0.6 * impact) + (0.4 * exploitability) - 1.5) * f))
}

fn v3(rest: &str, v31: bool) -> Result<f64, String> {
    let m = metrics(rest)?;
    let changed = match m.get("S") {
        Some(&"U") => false,
        Some(&"C") => true,
        Some(other) => return Err(format!("metric S has no value {other:?}")),
        None => return Err("base metric S is missing".into()),
    };
    let av = weight(&m, "AV", &[("N", 0.85), ("A", 0.62), ("L", 0.55), ("P", 0.2)])?;
    let ac = weight(&m, "AC", &[("L", 0.77), ("H", 0.44)])?;
    let pr = if changed {
        weight(&m, "PR", &[("N", 0.85), ("L", 0.68), ("H", 0.5)])?
    } else {
        weight(&m, "PR", &[("N", 0.85), ("L", 0.62), ("H", 0.27)])?
    };
    let ui = weight(&m, "UI", &[("N", 0.85), ("R", 0.62)])?;
    let cia = [("H", 0.56), ("L", 0.22), ("N", 0.0)];
    let (c, i, a) = (weight(&m, "C", &cia)?, weight(&m, "I", &cia)?, weight(&m, "A", &cia)?);
    let iss = 1.0 - (1.0 - c) * (1.0 - i) * (1.0 - a);
    let impact = if changed { 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02).powi(15) } else { 6.42 * iss };
    let exploitability = 8.22 * av * ac * pr * ui;
    if impact <= 0.0 {
        return Ok(0.0);
    }
    let raw = if changed {
        (1.08 * (impact + exploitability)).min(10.0)
    } else {
        (impact + exploitability).min(10.0)
    };
    Ok(if v31 { roundup_31(raw) } else { (raw * 10.0).ceil() / 10.0 })
}

/// CVSS v3.1 Appendix A `Roundup`: the smallest one-decimal number ≥ x, computed on integers.
fn roundup_31(x: f64) -> f64 {
    let int_input = (x * 100_000.0).round() as i64;
    if int_input % 10_000 == 0 {
        int_input as f64 / 100_000.0
    } else {
        ((int_input / 10_000) + 1) as f64 / 10.0
    }
}

/// Rounds half away from zero to one decimal, absorbing binary floating-point error.
fn round1(x: f64) -> f64 {
    ((x * 10.0) + 1e-9).round() / 10.0
}

/// The metrics of a v4.0 vector with the defaults and overrides the specification defines.
struct V4<'a> {
    m: BTreeMap<&'a str, &'a str>,
}

impl V4<'_> {
    /// The effective value of a metric: `E:X` → `A`; `CR/IR/AR:X` → `H`; a defined `M<metric>` overrides
    /// the base metric.
    fn get(&self, metric: &str) -> &str {
        let selected = self.m.get(metric).copied().unwrap_or("X");
        match metric {
            "E" if selected == "X" => return "A",
            "CR" | "IR" | "AR" if selected == "X" => return "H",
            _ => {}
        }
        let modified = format!("M{metric}");
        match self.m.get(modified.as_str()) {
            Some(v) if *v != "X" => v,
            _ => selected,
        }
    }
}

/// The severity step of each metric value (0.0 most severe), per metric.
fn v4_level(metric: &str, value: &str) -> Option<f64> {
    let table: &[(&str, f64)] = match metric {
        "AV" => &[("N", 0.0), ("A", 0.1), ("L", 0.2), ("P", 0.3)],
        "PR" => &[("N", 0.0), ("L", 0.1), ("H", 0.2)],
        "UI" => &[("N", 0.0), ("P", 0.1), ("A", 0.2)],
        "AC" => &[("L", 0.0), ("H", 0.1)],
        "AT" => &[("N", 0.0), ("P", 0.1)],
        "VC" | "VI" | "VA" => &[("H", 0.0), ("L", 0.1), ("N", 0.2)],
        "SC" => &[("H", 0.1), ("L", 0.2), ("N", 0.3)],
        "SI" | "SA" => &[("S", 0.0), ("H", 0.1), ("L", 0.2), ("N", 0.3)],
        "CR" | "IR" | "AR" => &[("H", 0.0), ("M", 0.1), ("L", 0.2)],
        _ => return None,
    };
    table.iter().find(|(k, _)| *k == value).map(|(_, l)| *l)
}

/// Metrics whose severity distance is measured, grouped by the EQ they belong to.
const EQ1_METRICS: [&str; 3] = ["AV", "PR", "UI"];
const EQ2_METRICS: [&str; 2] = ["AC", "AT"];
const EQ3_EQ6_METRICS: [&str; 6] = ["VC", "VI", "VA", "CR", "IR", "AR"];
const EQ4_METRICS: [&str; 3] = ["SC", "SI", "SA"];

fn v4(rest: &str) -> Result<f64, String> {
    let v = V4 { m: metrics(rest)? };
    for base in ["AV", "AC", "AT", "PR", "UI", "VC", "VI", "VA", "SC", "SI", "SA"] {
        let value = v.m.get(base).ok_or_else(|| format!("base metric {base} is missing"))?;
        let valid = v4_level(base, value).is_some() && !(matches!(base, "SI" | "SA") && *value == "S");
        if !valid {
            return Err(format!("metric {base} has no value {value:?}"));
        }
    }
    for metric in EQ1_METRICS.iter().chain(&EQ2_METRICS).chain(&EQ3_EQ6_METRICS).chain(&EQ4_METRICS) {
        if v4_level(metric, v.get(metric)).is_none() {
            return Err(format!("metric {metric} (or its modified form) has an invalid value"));
        }
    }
    if ["VC", "VI", "VA", "SC", "SI", "SA"].iter().all(|m| v.get(m) == "N") {
        return Ok(0.0);
    }
    let g = |m: &str| v.get(m);
    let eq1 = if g("AV") == "N" && g("PR") == "N" && g("UI") == "N" {
        0
    } else if (g("AV") == "N" || g("PR") == "N" || g("UI") == "N") && g("AV") != "P" {
        1
    } else {
        2
    };
    let eq2 = if g("AC") == "L" && g("AT") == "N" { 0 } else { 1 };
    let eq3 = if g("VC") == "H" && g("VI") == "H" {
        0
    } else if g("VC") == "H" || g("VI") == "H" || g("VA") == "H" {
        1
    } else {
        2
    };
    let eq4 = if v.m.get("MSI") == Some(&"S") || v.m.get("MSA") == Some(&"S") {
        0
    } else if g("SC") == "H" || g("SI") == "H" || g("SA") == "H" {
        1
    } else {
        2
    };
    let eq5 = match g("E") {
        "A" => 0,
        "P" => 1,
        "U" => 2,
        other => return Err(format!("metric E has no value {other:?}")),
    };
    let eq6 = if (g("CR") == "H" && g("VC") == "H")
        || (g("IR") == "H" && g("VI") == "H")
        || (g("AR") == "H" && g("VA") == "H")
    {
        0
    } else {
        1
    };
    let eqs = [eq1, eq2, eq3, eq4, eq5, eq6];
    let lookup = |e: [usize; 6]| -> Option<f64> {
        let key: String = e.iter().map(|d| char::from(b'0' + *d as u8)).collect();
        v4_data::LOOKUP.binary_search_by(|(k, _)| (*k).cmp(key.as_str())).ok().map(|i| v4_data::LOOKUP[i].1)
    };
    let value = lookup(eqs).ok_or_else(|| "no MacroVector for this combination".to_owned())?;
    let lower = |i: usize| {
        let mut e = eqs;
        e[i] += 1;
        lookup(e)
    };
    let eq3eq6_lower = match (eq3, eq6) {
        (0, 0) => {
            let left = lower(5);
            let right = lower(2);
            match (left, right) {
                (Some(l), Some(r)) => Some(l.max(r)),
                (l, r) => l.or(r),
            }
        }
        (1, 0) => lower(5),
        (0, 1) | (1, 1) => lower(2),
        _ => None,
    };
    let lowers = [lower(0), lower(1), eq3eq6_lower, lower(3), lower(4)];

    // The highest-severity vectors of this MacroVector, composed; the first that is at least as severe
    // as the vector in every metric is the reference.
    let parts =
        [v4_data::MAX_EQ1[eq1], v4_data::MAX_EQ2[eq2], v4_data::MAX_EQ3_EQ6[eq3][eq6], v4_data::MAX_EQ4[eq4]];
    let mut distances: Option<BTreeMap<String, f64>> = None;
    'outer: for a in parts[0] {
        for b in parts[1] {
            for c in parts[2] {
                for d in parts[3] {
                    let max = format!("{a}/{b}/{c}/{d}");
                    let max_m = metrics(&max)?;
                    let mut dist = BTreeMap::new();
                    for (metric, max_value) in &max_m {
                        let here = v4_level(metric, v.get(metric)).unwrap_or(0.0);
                        let there = v4_level(metric, max_value).unwrap_or(0.0);
                        dist.insert((*metric).to_owned(), here - there);
                    }
                    if dist.values().all(|d| *d >= -1e-9) {
                        distances = Some(dist);
                        break 'outer;
                    }
                }
            }
        }
    }
    let dist = distances.ok_or_else(|| "no highest-severity vector dominates it".to_owned())?;
    let sum = |ms: &[&str]| ms.iter().map(|m| dist.get(*m).copied().unwrap_or(0.0)).sum::<f64>();
    let current = [sum(&EQ1_METRICS), sum(&EQ2_METRICS), sum(&EQ3_EQ6_METRICS), sum(&EQ4_METRICS), 0.0];
    let step = 0.1;
    let depth = [
        v4_data::DEPTH_EQ1[eq1] * step,
        v4_data::DEPTH_EQ2[eq2] * step,
        v4_data::DEPTH_EQ3_EQ6[eq3][eq6] * step,
        v4_data::DEPTH_EQ4[eq4] * step,
        step,
    ];
    let mut n = 0;
    let mut total = 0.0;
    for i in 0..5 {
        if let Some(lower_score) = lowers[i] {
            n += 1;
            // EQ5's proportion is always 0 (the specification fixes it).
            if i < 4 {
                total += (value - lower_score) * (current[i] / depth[i]);
            }
        }
    }
    let mean = if n == 0 { 0.0 } else { total / f64::from(n) };
    Ok(round1((value - mean).clamp(0.0, 10.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> f64 {
        score(v).unwrap_or_else(|e| panic!("{e}")).score
    }

    #[test]
    fn v3_examples() {
        // Scores from NVD for well-known CVEs.
        assert_eq!(s("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"), 9.8);
        assert_eq!(s("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H"), 10.0); // Log4Shell
        assert_eq!(s("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"), 7.5); // HTTP/2 rapid reset
        assert_eq!(s("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:H/A:N"), 5.9); // Terrapin
        assert_eq!(s("CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:H/I:N/A:N"), 5.3);
        assert_eq!(s("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"), 7.8);
        assert_eq!(s("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N"), 6.4);
        assert_eq!(s("CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"), 6.1);
        assert_eq!(s("CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:N/I:N/A:N"), 0.0);
    }

    #[test]
    fn v2_examples() {
        assert_eq!(s("AV:N/AC:L/Au:N/C:C/I:C/A:C"), 10.0);
        assert_eq!(s("AV:N/AC:L/Au:N/C:P/I:P/A:P"), 7.5);
        assert_eq!(s("AV:N/AC:M/Au:N/C:N/I:P/A:N"), 4.3);
        assert_eq!(score("AV:N/AC:M/Au:N/C:N/I:P/A:N").unwrap().severity(), Severity::Medium);
    }

    #[test]
    fn v4_examples() {
        // From the v4.0 specification's examples and FIRST's calculator.
        assert_eq!(s("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H"), 10.0);
        assert_eq!(s("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"), 9.3);
        assert_eq!(s("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:L/VA:L/SC:N/SI:N/SA:N"), 6.9);
        assert_eq!(s("CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"), 8.5);
        assert_eq!(s("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N"), 0.0);
        assert_eq!(s("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:U"), 8.1);
    }

    #[test]
    fn bad_vectors_name_the_problem() {
        let e = score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/C:H/I:H/A:H").unwrap_err();
        assert!(e.to_string().contains("S is missing"), "{e}");
        let e = score("CVSS:4.0/AV:Q/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N").unwrap_err();
        assert!(e.to_string().contains("AV"), "{e}");
        assert!(score("CVSS:5.0/AV:N").is_err());
    }

    #[test]
    fn words() {
        assert_eq!(Severity::from_word("MODERATE"), Some(Severity::Medium));
        assert_eq!(Severity::from_word("Important"), Some(Severity::High));
        assert!(Severity::Critical > Severity::High && Severity::Low > Severity::Unknown);
    }
}
