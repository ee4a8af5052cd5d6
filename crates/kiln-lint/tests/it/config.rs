//! Configuration and in-file controls: ignore pragmas (hadolint's and kiln's, line, stage and global),
//! BuildKit's `# check=` directive, config overrides and ignores, thresholds and hadolint's merge order.

use std::path::Path;

use kiln_lint::{Config, Level};

fn rules_at(src: &str, cfg: &Config) -> Vec<(&'static str, u32, Level)> {
    kiln_lint::lint("Dockerfile", src, cfg).findings.iter().map(|f| (f.rule, f.line, f.level)).collect()
}

fn has(found: &[(&'static str, u32, Level)], rule: &str, line: u32) -> bool {
    found.iter().any(|(r, l, _)| *r == rule && *l == line)
}

#[test]
fn inline_pragmas_apply_to_the_next_line_only() {
    let src = "FROM alpine:3\n# hadolint ignore=DL3003,DL4006\nRUN cd /x\nRUN cd /y\n# kiln ignore=DL3003 # because\nRUN cd /z\n";
    let f = rules_at(src, &Config::default());
    assert!(!has(&f, "DL3003", 3) && has(&f, "DL3003", 4) && !has(&f, "DL3003", 6));
    // A blank line between pragma and instruction breaks it, as in hadolint.
    let f = rules_at("FROM alpine:3\n# hadolint ignore=DL3003\n\nRUN cd /x\n", &Config::default());
    assert!(has(&f, "DL3003", 4));
    // disable-ignore-pragma turns them off.
    let cfg = Config { disable_ignore_pragma: true, ..Config::default() };
    assert!(has(&rules_at(src, &cfg), "DL3003", 3));
}

#[test]
fn global_and_stage_pragmas() {
    // A stage pragma right above FROM covers that stage (hadolint's semantics).
    let src = "# kiln stage ignore=DL3003\nFROM ubuntu AS a\nRUN cd /a\nRUN cd /b\nFROM ubuntu\nRUN cd /c\n# hadolint global ignore=DL3006\n";
    let f = rules_at(src, &Config::default());
    assert!(!f.iter().any(|(r, _, _)| *r == "DL3006"));
    assert!(!has(&f, "DL3003", 3) && !has(&f, "DL3003", 4) && has(&f, "DL3003", 6));
}

#[test]
fn check_directive_skips_and_raises_buildkit_rules() {
    let src = "# check=skip=JSONArgsRecommended;error=true\nFROM alpine:3 as build\nCMD run.sh\n";
    let f = rules_at(src, &Config::default());
    assert!(!f.iter().any(|(r, _, _)| *r == "JSONArgsRecommended"));
    assert!(f.iter().any(|(r, _, l)| *r == "FromAsCasing" && *l == Level::Error));
    assert!(
        f.iter().any(|(r, _, l)| *r == "DL3025" && *l == Level::Warning),
        "hadolint rules keep their level"
    );
    let f = rules_at("# check=skip=all\nFROM alpine:3 as build\n", &Config::default());
    assert!(!f.iter().any(|(r, _, _)| *r == "FromAsCasing"));
    // A `check=` comment right above an instruction applies to it only.
    let f = rules_at(
        "FROM alpine:3\n# check=skip=JSONArgsRecommended\nCMD a\nFROM alpine:3\nCMD b\n",
        &Config::default(),
    );
    assert!(!has(&f, "JSONArgsRecommended", 3) && has(&f, "JSONArgsRecommended", 5));
}

#[test]
fn overrides_ignores_and_thresholds() {
    let src = "FROM debian\nRUN apt-get install -y --no-install-recommends curl\n";
    let cfg = Config {
        ignored: ["DL3006".to_owned()].into(),
        overrides: [("DL3008".to_owned(), Level::Error)].into(),
        ..Config::default()
    };
    let r = kiln_lint::lint("Dockerfile", src, &cfg);
    assert!(!r.findings.iter().any(|f| f.rule == "DL3006"));
    assert!(r.findings.iter().any(|f| f.rule == "DL3008" && f.level == Level::Error));
    assert!(r.fails(Level::Error));
    let clean = kiln_lint::lint("Dockerfile", "FROM scratch\nUSER 1000\n", &Config::default());
    assert!(!clean.fails(Level::Style), "{:?}", clean.findings);
    let style_only =
        kiln_lint::lint("Dockerfile", "FROM scratch\nUSER 1000\nLABEL Bad=1\n", &Config::default());
    assert!(style_only.fails(Level::Style) && !style_only.fails(Level::Info));
}

#[test]
fn hadolint_merge_order_env_file_cli() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".hadolint.yaml"),
        "ignored: [DL3006]\nfailure-threshold: error\nno-fail: false\n",
    )
    .unwrap();
    let env = |k: &str| match k {
        "HADOLINT_IGNORE" => Some("DL3007".to_owned()),
        "HADOLINT_FAILURE_THRESHOLD" => Some("style".to_owned()),
        "HADOLINT_NOFAIL" => Some("1".to_owned()),
        _ => None,
    };
    let cli = Config { ignored: ["DL3008".to_owned()].into(), ..Config::default() };
    let (cfg, path) = kiln_lint::batch::resolve_config(None, true, dir.path(), &env, cli).unwrap();
    assert_eq!(path.as_deref(), Some(dir.path().join(".hadolint.yaml").as_path()));
    assert_eq!(cfg.ignored.len(), 3);
    assert_eq!(cfg.failure_threshold, Some(Level::Error), "the file wins over the environment");
    assert_eq!(cfg.no_fail, Some(false));
    let err = kiln_lint::batch::resolve_config(
        Some(Path::new("/nonexistent.yaml")),
        true,
        dir.path(),
        &|_| None,
        Config::default(),
    );
    assert!(err.unwrap_err().to_string().contains("/nonexistent.yaml"));
}
