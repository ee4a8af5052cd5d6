//! The scan report as SARIF 2.1.0: one run of the `kiln` tool, one rule per vulnerability ID, secret
//! rule and check, one result per finding. A result points at the Dockerfile line that made the layer
//! when kiln built the image, and otherwise at the path inside the image; `security-severity` carries
//! the CVSS score (or the level's usual score) so code-scanning services rank results.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::report::{Level, Report};

fn sarif_level(l: Level) -> &'static str {
    match l {
        Level::Critical | Level::High => "error",
        Level::Medium => "warning",
        Level::Low | Level::Unknown => "note",
    }
}

fn level_score(l: Level) -> f64 {
    match l {
        Level::Critical => 9.5,
        Level::High => 8.0,
        Level::Medium => 5.5,
        Level::Low => 2.0,
        Level::Unknown => 0.0,
    }
}

/// A location: the Dockerfile line (`Dockerfile:12` or `Dockerfile:12-14`) when known, else `path`.
fn location(dockerfile_line: Option<&str>, path: Option<&str>, image: &str) -> Value {
    if let Some((file, lines)) = dockerfile_line.and_then(|l| l.rsplit_once(':')) {
        let start: u64 = lines.split('-').next().and_then(|s| s.parse().ok()).unwrap_or(1);
        return json!({"physicalLocation": {"artifactLocation": {"uri": file}, "region": {"startLine": start}}});
    }
    let uri = path.map_or_else(|| image.to_owned(), |p| p.trim_start_matches('/').to_owned());
    json!({"physicalLocation": {"artifactLocation": {"uri": uri}}})
}

/// The SARIF document for `report`.
pub(crate) fn document(report: &Report) -> Value {
    let image = report.image.name.as_str();
    let mut rules: BTreeMap<String, Value> = BTreeMap::new();
    let mut results = Vec::new();
    let mut rule = |id: &str, text: &str, level: Level, score: f64| {
        rules.entry(id.to_owned()).or_insert_with(|| {
            json!({
                "id": id,
                "shortDescription": {"text": text},
                "defaultConfiguration": {"level": sarif_level(level)},
                "properties": {"security-severity": format!("{score:.1}")},
            })
        });
    };
    for v in &report.vulnerabilities {
        let f = &v.finding;
        let score = f.cvss.as_ref().map_or_else(|| level_score(v.level), |c| c.score);
        let text = f.summary.clone().unwrap_or_else(|| format!("{} in {}", f.id, f.package.osv_name));
        rule(&f.id, &text, v.level, score);
        let fixed =
            f.fixed_version.as_deref().map_or_else(|| "no fix yet".to_owned(), |x| format!("fixed in {x}"));
        let o = &f.package.origin;
        results.push(json!({
            "ruleId": f.id,
            "level": sarif_level(v.level),
            "message": {"text": format!("{} {} is affected by {} ({}); {fixed}", f.package.name, f.package.version, f.id, f.aliases.join(", "))},
            "locations": [location(o.dockerfile_line.as_deref(), o.path.as_deref(), image)],
            "properties": {"layer": o.layer_index, "visible": o.visible, "purl": f.package.purl},
        }));
    }
    for s in &report.secrets {
        let level = super::report::Level::from(s.secret.level);
        rule(s.secret.rule, s.secret.title, level, level_score(level));
        let path = match &s.location {
            kiln_audit::SecretLocation::File { path, .. } => Some(path.as_str()),
            _ => None,
        };
        results.push(json!({
            "ruleId": s.secret.rule,
            "level": sarif_level(level),
            "message": {"text": format!("{} at {}: {}", s.secret.title, s.location.describe(), s.secret.redacted)},
            "locations": [location(s.location.dockerfile_line(), path, image)],
            "partialFingerprints": {"secretSha256/v1": s.secret.fingerprint},
        }));
    }
    for c in &report.checks {
        let level = super::report::Level::from(c.level);
        rule(c.id, c.title, level, level_score(level));
        let first = c.evidence.first();
        results.push(json!({
            "ruleId": c.id,
            "level": sarif_level(level),
            "message": {"text": c.message},
            "locations": [location(
                first.and_then(|e| e.dockerfile_line.as_deref()),
                first.and_then(|e| e.path.as_deref()),
                image,
            )],
        }));
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "kiln",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules.into_values().collect::<Vec<_>>(),
            }},
            "results": results,
        }],
    })
}
