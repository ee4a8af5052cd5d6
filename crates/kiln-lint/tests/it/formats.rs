//! Report formats: hadolint's JSON shape, SARIF 2.1.0 validated against the official schema, checkstyle,
//! GNU, GitLab Code Quality, and the tty excerpt with its caret (with and without color).

use kiln_lint::format::{Format, TtyOptions, render};
use kiln_lint::{Config, Report};

fn sample() -> Vec<Report> {
    let src = "FROM debian\nMAINTAINER me <a@b>\nRUN apt-get update && apt-get install curl\nCMD run.sh\n";
    vec![
        kiln_lint::lint("app/Dockerfile", src, &Config::default()),
        kiln_lint::lint("ok/Dockerfile", "FROM scratch\nUSER 1000\n", &Config::default()),
    ]
}

#[test]
fn json_has_hadolint_shape() {
    let out = render(Format::Json, &sample(), TtyOptions::default());
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let items = v.as_array().unwrap();
    assert!(!items.is_empty());
    for i in items {
        let keys: Vec<&str> = i.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["file", "line", "column", "level", "code", "message"]);
        assert!(["error", "warning", "info", "style"].contains(&i["level"].as_str().unwrap()));
    }
    assert!(items.iter().any(|i| i["code"] == "DL3008" && i["line"] == 3 && i["file"] == "app/Dockerfile"));
}

#[test]
fn sarif_validates_against_the_2_1_0_schema() {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../data/sarif-schema-2.1.0.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let out = render(Format::Sarif, &sample(), TtyOptions::default());
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let errors: Vec<String> =
        validator.iter_errors(&doc).map(|e| format!("{e} at {}", e.instance_path())).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let results = doc["runs"][0]["results"].as_array().unwrap();
    let rules = doc["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
    for r in results {
        let idx = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[idx]["id"], r["ruleId"]);
    }
    // Fixes are carried as SARIF replacements.
    assert!(
        results.iter().any(
            |r| r["ruleId"] == "DL4000" && r["fixes"][0]["artifactChanges"][0]["replacements"].is_array()
        )
    );
    // An invalid document is rejected: the check can fail.
    let mut bad = doc.clone();
    bad["version"] = serde_json::json!("9");
    assert!(!validator.is_valid(&bad));
}

#[test]
fn checkstyle_gnu_and_codeclimate() {
    let r = sample();
    let cs = render(Format::Checkstyle, &r, TtyOptions::default());
    assert!(cs.starts_with("<?xml") && cs.contains("<file name=\"ok/Dockerfile\">"));
    assert!(cs.contains("source=\"DL4000\""));
    let odd = render(
        Format::Checkstyle,
        &[kiln_lint::lint("x<y>&z", "FROM debian\n", &Config::default())],
        TtyOptions::default(),
    );
    assert!(odd.contains("name=\"x&lt;y&gt;&amp;z\""), "{odd}");
    let gnu = render(Format::Gnu, &r, TtyOptions::default());
    assert!(
        gnu.lines()
            .any(|l| l.starts_with("kiln:app/Dockerfile:3:") && l.contains("DL3008 warning: Pin versions"))
    );
    let cc: serde_json::Value =
        serde_json::from_str(&render(Format::Codeclimate, &r, TtyOptions::default())).unwrap();
    let issues = cc.as_array().unwrap();
    let fps: std::collections::BTreeSet<&str> =
        issues.iter().map(|i| i["fingerprint"].as_str().unwrap()).collect();
    assert_eq!(fps.len(), issues.len(), "fingerprints are unique");
    assert!(
        issues.iter().all(|i| i["location"]["path"].is_string() && i["location"]["lines"]["begin"].is_u64())
    );
    assert!(issues.iter().any(|i| i["severity"] == "blocker"));
}

#[test]
fn tty_shows_the_source_line_and_a_caret() {
    let src = "FROM debian:12\nRUN apt-get update \\\n && apt-get install -y --no-install-recommends curl \\\n && rm -rf /var/lib/apt/lists/*\n";
    let r = vec![kiln_lint::lint("Dockerfile", src, &Config::default())];
    let plain = render(Format::Tty, &r, TtyOptions { color: false });
    assert!(!plain.contains('\x1b'));
    let expected = "Dockerfile:2 DL3008 warning: Pin versions in apt get install. Instead of `apt-get install <package>` use `apt-get install <package>=<version>`\n  |\n3 |  && apt-get install -y --no-install-recommends curl \\\n  |                                                ^^^^\n";
    assert!(plain.contains(expected), "{plain}");
    let color = render(Format::Tty, &r, TtyOptions { color: true });
    assert!(color.contains("\x1b[1;33mwarning\x1b[0m"));
}
