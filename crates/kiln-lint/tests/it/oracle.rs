//! The oracle checked too (STYLE rule 9): hadolint itself must report exactly what `cases.rs` expects for
//! every `DL` case, except the cases marked `differs`, where it must report something else (so each
//! claimed difference is real). Skips when hadolint is not installed.

use std::collections::BTreeMap;
use std::process::Command;

use kiln_lint::{Config, Level};

use crate::cases::CASES;

/// hadolint's command-line flags for a kiln configuration.
fn hadolint_flags(cfg: &Config) -> Vec<String> {
    let mut out = Vec::new();
    for (rule, level) in &cfg.overrides {
        let flag = match level {
            Level::Error => "--error",
            Level::Warning => "--warning",
            Level::Info => "--info",
            Level::Style => "--style",
            Level::Ignore => "--ignore",
        };
        out.extend([flag.to_owned(), rule.clone()]);
    }
    for r in &cfg.trusted_registries {
        out.extend(["--trusted-registry".to_owned(), r.clone()]);
    }
    for (name, ty) in &cfg.label_schema {
        let t = format!("{ty:?}").to_lowercase();
        out.extend(["--require-label".to_owned(), format!("{name}:{t}")]);
    }
    if cfg.strict_labels {
        out.push("--strict-labels".to_owned());
    }
    out
}

#[test]
fn hadolint_agrees_with_the_dl_cases() {
    kiln_test::skip_unless!(kiln_test::which("hadolint").is_some(), "hadolint is not installed");
    let dir = tempfile::tempdir().unwrap();
    // One hadolint run per distinct configuration.
    let mut groups: BTreeMap<Vec<String>, Vec<usize>> = BTreeMap::new();
    for (n, case) in CASES.iter().enumerate().filter(|(_, c)| c.rule.starts_with("DL")) {
        let cfg = case.cfg.map_or_else(Config::default, |f| f());
        std::fs::write(dir.path().join(format!("case{n}")), case.src).unwrap();
        groups.entry(hadolint_flags(&cfg)).or_default().push(n);
    }
    let mut failures = Vec::new();
    for (flags, cases) in groups {
        let out = Command::new("hadolint")
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", dir.path())
            .args(["-f", "json", "--no-fail"])
            .args(&flags)
            .args(cases.iter().map(|n| format!("case{n}")))
            .output()
            .unwrap();
        let found: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("hadolint output is not JSON ({e}): {}", String::from_utf8_lossy(&out.stderr))
        });
        for n in cases {
            let case = &CASES[n];
            let file = format!("case{n}");
            let mut lines: Vec<u32> = found
                .iter()
                .filter(|f| f["file"] == file.as_str() && f["code"] == case.rule)
                .map(|f| f["line"].as_u64().unwrap() as u32)
                .collect();
            lines.sort_unstable();
            let agrees = lines == case.lines;
            match case.differs {
                None if !agrees => failures.push(format!(
                    "{}: hadolint {:?}, expected {:?} for:\n{}",
                    case.rule, lines, case.lines, case.src
                )),
                Some(why) if agrees => failures.push(format!(
                    "{}: claimed difference ({why}) but hadolint agrees: {:?}",
                    case.rule, lines
                )),
                _ => {}
            }
        }
    }
    assert!(failures.is_empty(), "{} disagreement(s):\n{}", failures.len(), failures.join("\n"));
}
