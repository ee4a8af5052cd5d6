//! Deciding which advisories affect which installed packages, with OSV's evaluation rules, and turning
//! the hits into [`Finding`]s. The central call is [`VulnDb::match_packages`].
//!
//! An advisory's `affected` entry applies when its ecosystem (by [`crate::db::ecosystem_key`]) and package
//! name (by [`crate::db::normalize_name`]) are the installed package's; the installed version is affected
//! when it appears in the entry's `versions` list (equal under the ecosystem's ordering) or falls inside
//! one of its ranges. A range is evaluated as the OSV schema specifies: its events are sorted by version
//! (`introduced: "0"` first), then walked in order, `introduced` (installed ≥ it) turning "affected" on,
//! `fixed` (installed ≥ it) and `last_affected` (installed > it) turning it off; `limit` events bound the
//! range from above. `ECOSYSTEM` ranges use the ecosystem's [`Scheme`]; `SEMVER` ranges use SemVer
//! (Go's and npm's spellings accepted); `GIT` ranges are skipped (images record no commits; OSV lists the
//! affected tags in `versions` for them). Versions that cannot be parsed make that range not match and
//! are counted in [`MatchReport::unparsable`].
//!
//! Findings for one package that are the same vulnerability under several IDs (Debian's `DSA-…` and
//! `DEBIAN-CVE-…`, GHSA and PYSEC) are merged: they share a CVE (or one names the other), and the merged
//! finding keeps the ID of an advisory proper over a per-CVE mirror record (`DSA-…` over
//! `DEBIAN-CVE-…`), lists the others as aliases, and takes the highest severity and the earliest fix.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::VulnError;
use crate::cvss::{self, Severity};
use crate::db::{VulnDb, ecosystem_key, normalize_name};
use crate::osv::{Advisory, Affected, Range, RangeType};
use crate::version::{Scheme, Version};

/// An installed package to match, as the SBOM knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Installed {
    /// The package name as installed (`libssl3`).
    pub name: String,
    /// The installed version as recorded.
    pub version: String,
    /// The OSV ecosystem (`Debian:12`, `PyPI`, …); packages without one are not matched.
    pub ecosystem: Option<String>,
    /// The name OSV advisories use (Debian: the source package; Maven: `group:artifact`).
    pub osv_name: String,
    /// The version to compare (Debian: the source package's version when it differs).
    pub match_version: String,
    /// Package URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
    /// Where it came from.
    pub origin: Origin,
}

/// Where an installed package was found.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Origin {
    /// The layer that introduced it (0-based, base first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer_index: Option<usize>,
    /// That layer's DiffID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer_diff_id: Option<String>,
    /// The file recording the package.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The Dockerfile instruction that made the layer (`Dockerfile:12`), for images kiln built.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dockerfile_line: Option<String>,
    /// Whether the package is still present in the final filesystem.
    pub visible: bool,
}

/// Options of [`VulnDb::match_packages`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchOptions {
    /// Leave out vulnerabilities that have no fixed version for the installed package.
    pub ignore_unfixed: bool,
    /// Leave out packages that are no longer visible in the final filesystem.
    pub visible_only: bool,
}

/// A CVSS vector an advisory carries, with the score computed from it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cvss {
    /// The vector string.
    pub vector: String,
    /// The base score computed from it.
    pub score: f64,
}

/// One vulnerability in one installed package.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The advisory ID.
    pub id: String,
    /// Other IDs of the same vulnerability (CVE first when there is one).
    pub aliases: Vec<String>,
    /// The advisory's summary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// The severity.
    pub severity: Severity,
    /// Where the severity came from: `CVSS_V4`, `CVSS_V3`, `CVSS_V2`, or `database` (the advisory's own
    /// rating), or `none`.
    pub severity_source: String,
    /// The CVSS vector and score the severity was computed from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cvss: Option<Cvss>,
    /// The package as installed.
    pub package: Installed,
    /// The first version that fixes it for the installed version, when one is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed_version: Option<String>,
}

/// What [`VulnDb::match_packages`] found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MatchReport {
    /// The findings, ordered by severity (most severe first), package, then ID.
    pub findings: Vec<Finding>,
    /// Packages matched against the database.
    pub packages_matched: usize,
    /// Packages that have no OSV ecosystem (not matched).
    pub packages_without_ecosystem: usize,
    /// Versions that could not be compared (`ecosystem package version: reason`), each once.
    pub unparsable: Vec<String>,
}

/// The verdict of one advisory on one installed version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// The index of the `affected` entry that matched.
    pub affected: usize,
    /// The fix for the installed version, if the matching range has one.
    pub fixed: Option<String>,
}

/// Whether `advisory` affects version `version` of package `name` in `ecosystem`. Errors are versions
/// that could not be parsed (the range they are in does not match).
pub fn affects(
    advisory: &Advisory,
    ecosystem: &str,
    name: &str,
    version: &str,
) -> (Option<Hit>, Vec<String>) {
    let mut problems = Vec::new();
    if advisory.withdrawn.is_some() {
        return (None, problems);
    }
    let key = ecosystem_key(ecosystem);
    let wanted = normalize_name(ecosystem, name);
    let scheme = Scheme::for_ecosystem(ecosystem);
    for (i, affected) in advisory.affected.iter().enumerate() {
        let Some(package) = &affected.package else { continue };
        if ecosystem_key(&package.ecosystem) != key
            || normalize_name(&package.ecosystem, &package.name) != wanted
        {
            continue;
        }
        match affected_entry(affected, scheme, version) {
            Ok(Some(fixed)) => return (Some(Hit { affected: i, fixed }), problems),
            Ok(None) => {}
            Err(e) => problems.push(e),
        }
    }
    (None, problems)
}

/// `Ok(Some(fix))` when the entry covers `version` (`fix` being the fixing version, if any).
fn affected_entry(
    affected: &Affected,
    scheme: Option<Scheme>,
    version: &str,
) -> Result<Option<Option<String>>, String> {
    let mut problem = None;
    for range in &affected.ranges {
        let range_scheme = match (range.kind, scheme) {
            (RangeType::Ecosystem, Some(s)) => s,
            (RangeType::Semver, Some(s @ (Scheme::Go | Scheme::Npm))) => s,
            (RangeType::Semver, _) => Scheme::Semver,
            _ => continue,
        };
        match in_range(range, range_scheme, version) {
            Ok(Some(fix)) => return Ok(Some(fix)),
            Ok(None) => {}
            Err(e) => problem = Some(e),
        }
    }
    if affected.versions.iter().any(|v| v == version) {
        return Ok(Some(None));
    }
    if let Some(s) = scheme
        && let Ok(installed) = s.parse(version)
    {
        let equal = |v: &String| s.parse(v).ok().and_then(|v| v.compare(&installed)) == Some(Ordering::Equal);
        if affected.versions.iter().any(equal) {
            return Ok(Some(None));
        }
    }
    match problem {
        Some(e) => Err(e),
        None => Ok(None),
    }
}

/// One event with its version parsed (`None` for `introduced: "0"`).
enum Parsed {
    Introduced(Option<Version>),
    Fixed(Version),
    LastAffected(Version),
    Limit(Option<Version>),
}

impl Parsed {
    fn version(&self) -> Option<&Version> {
        match self {
            Parsed::Introduced(v) | Parsed::Limit(v) => v.as_ref(),
            Parsed::Fixed(v) | Parsed::LastAffected(v) => Some(v),
        }
    }
}

fn in_range(range: &Range, scheme: Scheme, version: &str) -> Result<Option<Option<String>>, String> {
    let installed = scheme.parse(version).map_err(|e| e.to_string())?;
    let parse = |v: &str| scheme.parse(v).map_err(|e| e.to_string());
    let mut events = Vec::with_capacity(range.events.len());
    for e in &range.events {
        let parsed = if let Some(v) = &e.introduced {
            Parsed::Introduced(if v == "0" { None } else { Some(parse(v)?) })
        } else if let Some(v) = &e.fixed {
            Parsed::Fixed(parse(v)?)
        } else if let Some(v) = &e.last_affected {
            Parsed::LastAffected(parse(v)?)
        } else if let Some(v) = &e.limit {
            Parsed::Limit(if v == "*" { None } else { Some(parse(v)?) })
        } else {
            continue;
        };
        events.push(parsed);
    }
    // Sort by version; `introduced: "0"` (no version) first. Stable, so ties keep the record's order.
    events.sort_by(|a, b| match (a.version(), b.version()) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => x.compare(y).unwrap_or(Ordering::Equal),
    });
    let ge = |v: &Version| installed.compare(v).is_some_and(|o| o != Ordering::Less);
    let limits: Vec<&Option<Version>> =
        events.iter().filter_map(|e| if let Parsed::Limit(v) = e { Some(v) } else { None }).collect();
    if !limits.is_empty() && !limits.iter().any(|l| l.as_ref().is_none_or(|l| !ge(l))) {
        return Ok(None);
    }
    let mut affected = false;
    for e in &events {
        match e {
            Parsed::Introduced(None) => affected = true,
            Parsed::Introduced(Some(v)) if ge(v) => affected = true,
            Parsed::Fixed(v) if ge(v) => affected = false,
            Parsed::LastAffected(v) if installed.compare(v) == Some(Ordering::Greater) => affected = false,
            _ => {}
        }
    }
    if !affected {
        return Ok(None);
    }
    let fix = events.iter().find_map(|e| match e {
        Parsed::Fixed(v) if !ge(v) => Some(v.as_str().to_owned()),
        _ => None,
    });
    Ok(Some(fix))
}

/// The severity of `advisory` for the package of its `affected` entry `index`: the newest CVSS version's
/// vector it carries (the entry's own, else the advisory's), else the database's rating
/// (`database_specific.severity`, Debian's `urgency`, Ubuntu's priority).
pub fn severity(advisory: &Advisory, index: usize) -> (Severity, String, Option<Cvss>) {
    let affected = advisory.affected.get(index);
    let scores = affected.map(|a| a.severity.as_slice()).unwrap_or_default().iter().chain(&advisory.severity);
    let mut best: Option<(u8, String, Cvss, Severity)> = None;
    let mut word = None;
    for s in scores {
        let rank = match s.kind.as_str() {
            "CVSS_V4" => 3,
            "CVSS_V3" => 2,
            "CVSS_V2" => 1,
            "Ubuntu" => {
                word = word.or_else(|| Severity::from_word(&s.score));
                continue;
            }
            _ => continue,
        };
        if best.as_ref().is_some_and(|b| b.0 >= rank) {
            continue;
        }
        if let Ok(scored) = cvss::score(&s.score) {
            best = Some((
                rank,
                s.kind.clone(),
                Cvss { vector: s.score.clone(), score: scored.score },
                scored.severity(),
            ));
        }
    }
    if let Some((_, kind, cvss, sev)) = best {
        return (sev, kind, Some(cvss));
    }
    let from_json = |v: Option<&serde_json::Value>| {
        let v = v?;
        ["severity", "urgency", "priority"]
            .iter()
            .find_map(|k| v.get(k)?.as_str().and_then(Severity::from_word))
    };
    let rating = word
        .or_else(|| from_json(affected.and_then(|a| a.ecosystem_specific.as_ref())))
        .or_else(|| from_json(affected.and_then(|a| a.database_specific.as_ref())))
        .or_else(|| from_json(advisory.database_specific.as_ref()));
    match rating {
        Some(sev) => (sev, "database".into(), None),
        None => (Severity::Unknown, "none".into(), None),
    }
}

impl VulnDb {
    /// Matches `packages` against the database.
    pub fn match_packages(
        &self,
        packages: &[Installed],
        options: &MatchOptions,
    ) -> Result<MatchReport, VulnError> {
        let mut report = MatchReport::default();
        let mut cache: BTreeMap<(String, String), Vec<Advisory>> = BTreeMap::new();
        let mut unparsable = BTreeSet::new();
        for package in packages {
            if options.visible_only && !package.origin.visible {
                continue;
            }
            let Some(ecosystem) = &package.ecosystem else {
                report.packages_without_ecosystem += 1;
                continue;
            };
            report.packages_matched += 1;
            let key = (ecosystem_key(ecosystem), normalize_name(ecosystem, &package.osv_name));
            if !cache.contains_key(&key) {
                let found = self.advisories_for(ecosystem, &package.osv_name)?;
                cache.insert(key.clone(), found);
            }
            let mut findings = Vec::new();
            for advisory in cache.get(&key).map(Vec::as_slice).unwrap_or_default() {
                let (hit, problems) = affects(advisory, ecosystem, &package.osv_name, &package.match_version);
                for p in problems {
                    unparsable
                        .insert(format!("{ecosystem} {} {}: {p}", package.osv_name, package.match_version));
                }
                let Some(hit) = hit else { continue };
                if options.ignore_unfixed && hit.fixed.is_none() {
                    continue;
                }
                let (severity, severity_source, cvss) = severity(advisory, hit.affected);
                findings.push(Finding {
                    id: advisory.id.clone(),
                    aliases: advisory.other_ids(),
                    summary: advisory.summary.clone(),
                    severity,
                    severity_source,
                    cvss,
                    package: package.clone(),
                    fixed_version: hit.fixed,
                });
            }
            report.findings.extend(merge_same_vulnerability(findings, Scheme::for_ecosystem(ecosystem)));
        }
        report.findings.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| a.package.name.cmp(&b.package.name))
                .then_with(|| a.package.version.cmp(&b.package.version))
                .then_with(|| a.id.cmp(&b.id))
        });
        report.unparsable = unparsable.into_iter().collect();
        Ok(report)
    }
}

/// Merges findings of one package that are the same vulnerability (they share an ID or alias).
fn merge_same_vulnerability(mut findings: Vec<Finding>, scheme: Option<Scheme>) -> Vec<Finding> {
    // Advisories proper (DSA, GHSA, GO, …) come before per-CVE mirrors (CVE-…, DEBIAN-CVE-…), so they
    // give the merged finding its ID.
    let mirror = |id: &str| id.starts_with("CVE-") || id.contains("-CVE-");
    findings.sort_by(|a, b| (mirror(&a.id), &a.id).cmp(&(mirror(&b.id), &b.id)));
    let mut out: Vec<Finding> = Vec::new();
    for f in findings {
        let ids: BTreeSet<&str> =
            std::iter::once(f.id.as_str()).chain(f.aliases.iter().map(String::as_str)).collect();
        let same = out.iter_mut().find(|o| {
            std::iter::once(o.id.as_str())
                .chain(o.aliases.iter().map(String::as_str))
                .any(|id| ids.contains(id))
        });
        match same {
            None => out.push(f),
            Some(o) => {
                for id in std::iter::once(&f.id).chain(&f.aliases) {
                    if *id != o.id && !o.aliases.contains(id) {
                        o.aliases.push(id.clone());
                    }
                }
                if f.severity > o.severity {
                    o.severity = f.severity;
                    o.severity_source = f.severity_source;
                    o.cvss = f.cvss;
                }
                o.fixed_version = match (o.fixed_version.take(), f.fixed_version) {
                    (Some(a), Some(b)) => {
                        let b_first =
                            scheme.and_then(|s| s.compare(&b, &a).ok()).is_some_and(|o| o == Ordering::Less);
                        Some(if b_first { b } else { a })
                    }
                    (a, b) => a.or(b),
                };
                if o.summary.is_none() {
                    o.summary = f.summary;
                }
            }
        }
    }
    for f in &mut out {
        // CVE IDs first among aliases, the rest in order.
        f.aliases.sort_by_key(|a| !a.starts_with("CVE-"));
    }
    out
}
