//! `kiln lint`: formats, hadolint's exit codes and flags, config files, stdin, directories, `--fix` and
//! `--diff`, `--list-rules` and `--explain`.

use predicates::prelude::*;

use crate::kiln;

const BAD: &str = "FROM debian:12\nRUN apt-get update && apt-get install curl\nCMD run.sh\n";

fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let p = dir.path().join(name);
        fs_err::create_dir_all(p.parent().unwrap()).unwrap();
        fs_err::write(p, text).unwrap();
    }
    dir
}

/// Runs `kiln args…` in `dir`, expects exit `code`, returns stdout as JSON findings.
fn findings(dir: &std::path::Path, args: &[&str], code: i32) -> Vec<serde_json::Value> {
    let out = kiln().current_dir(dir).args(args).assert().code(code).get_output().stdout.clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    v.as_array().unwrap().clone()
}

fn codes(out: &[u8]) -> Vec<(String, u64)> {
    let v: serde_json::Value = serde_json::from_slice(out).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|f| (f["code"].as_str().unwrap().to_owned(), f["line"].as_u64().unwrap()))
        .collect()
}

#[test]
fn json_findings_and_exit_1() {
    let dir = dir_with(&[("Dockerfile", BAD)]);
    let out = kiln()
        .current_dir(dir.path())
        .args(["lint", "-f", "json"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let c = codes(&out);
    assert!(c.contains(&("DL3008".to_owned(), 2)), "{c:?}");
    assert!(c.contains(&("DL3015".to_owned(), 2)), "{c:?}");
    assert!(c.contains(&("DL3009".to_owned(), 2)), "{c:?}");
    assert!(c.contains(&("JSONArgsRecommended".to_owned(), 3)), "{c:?}");
}

#[test]
fn clean_file_exits_0_and_threshold_and_ignore_apply() {
    let dir = dir_with(&[("Dockerfile", "FROM scratch\nCOPY app /app\nUSER 1000\nENTRYPOINT [\"/app\"]\n")]);
    kiln().current_dir(dir.path()).args(["lint"]).assert().success();
    let dir = dir_with(&[("Dockerfile", BAD)]);
    // Errors only: DL3008 and friends are warnings/info.
    kiln().current_dir(dir.path()).args(["lint", "--failure-threshold", "error"]).assert().success();
    kiln().current_dir(dir.path()).args(["lint", "--no-fail"]).assert().success();
    let items = findings(dir.path(), &["lint", "-f", "json", "--ignore", "DL3008", "--error", "DL3015"], 1);
    assert!(items.iter().all(|f| f["code"] != "DL3008"));
    assert!(items.iter().any(|f| f["code"] == "DL3015" && f["level"] == "error"));
}

#[test]
fn hadolint_yaml_is_read_from_the_working_directory() {
    let dir = dir_with(&[
        ("Dockerfile", BAD),
        (".hadolint.yaml", "ignored: [DL3008]\noverride:\n  style: [DL3015]\n"),
    ]);
    let items = findings(dir.path(), &["lint", "-f", "json", "--no-fail"], 0);
    assert!(items.iter().all(|f| f["code"] != "DL3008"));
    assert!(items.iter().any(|f| f["code"] == "DL3015" && f["level"] == "style"));
    // A broken config is an error naming the file, exit 2.
    fs_err::write(dir.path().join("bad.yaml"), "failure-threshold: loud\n").unwrap();
    kiln()
        .current_dir(dir.path())
        .args(["lint", "--config", "bad.yaml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bad.yaml").and(predicate::str::contains("loud")));
}

#[test]
fn stdin_and_directories() {
    let out = kiln()
        .args(["lint", "-f", "json", "-"])
        .write_stdin(BAD)
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert!(v.as_array().unwrap().iter().all(|f| f["file"] == "-"));
    let dir = dir_with(&[
        ("a/Dockerfile", BAD),
        ("b/api.Dockerfile", BAD),
        ("c/Dockerfile.prod", BAD),
        ("d/notes.txt", BAD),
        ("node_modules/x/Dockerfile", BAD),
    ]);
    let out = kiln().args(["lint", "-f", "gnu"]).arg(dir.path()).assert().code(1).get_output().stdout.clone();
    let text = String::from_utf8(out).unwrap();
    for f in ["a/Dockerfile", "b/api.Dockerfile", "c/Dockerfile.prod"] {
        assert!(text.contains(f), "{f} missing from\n{text}");
    }
    assert!(!text.contains("notes.txt") && !text.contains("node_modules"), "{text}");
    kiln()
        .args(["lint"])
        .arg(dir.path().join("missing"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("missing"));
}

#[test]
fn every_format_renders() {
    let dir = dir_with(&[("Dockerfile", BAD)]);
    for (f, needle) in [
        ("tty", "DL3008"),
        ("sarif", "\"version\": \"2.1.0\""),
        ("checkstyle", "<checkstyle"),
        ("gnu", ":2:"),
        ("codeclimate", "fingerprint"),
    ] {
        kiln()
            .current_dir(dir.path())
            .args(["lint", "-f", f])
            .assert()
            .code(1)
            .stdout(predicate::str::contains(needle));
    }
    kiln()
        .current_dir(dir.path())
        .args(["lint", "-f", "xml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("xml"));
}

#[test]
fn diff_changes_nothing_and_fix_rewrites() {
    let src = "FROM debian:12 as base\nMAINTAINER me\nRUN apt-get install curl=7.88\n";
    let dir = dir_with(&[("Dockerfile", src)]);
    let diff =
        kiln().current_dir(dir.path()).args(["lint", "--diff"]).assert().code(1).get_output().stdout.clone();
    let diff = String::from_utf8(diff).unwrap();
    assert!(diff.contains("+FROM debian:12 AS base") && diff.contains("-MAINTAINER me"), "{diff}");
    assert_eq!(fs_err::read_to_string(dir.path().join("Dockerfile")).unwrap(), src);

    kiln().current_dir(dir.path()).args(["lint", "--fix", "--no-fail"]).assert().success();
    let fixed = fs_err::read_to_string(dir.path().join("Dockerfile")).unwrap();
    assert!(fixed.contains("FROM debian:12 AS base") && !fixed.contains("MAINTAINER"), "{fixed}");
    assert!(fixed.contains("apt-get install -y --no-install-recommends curl=7.88"), "{fixed}");
    // Idempotent: nothing left to fix.
    kiln().current_dir(dir.path()).args(["lint", "--diff"]).assert().success().stdout("");
}

#[test]
fn list_rules_and_explain() {
    let out = kiln().args(["lint", "--list-rules"]).assert().success().get_output().stdout.clone();
    let text = String::from_utf8(out).unwrap();
    for id in ["DL3008", "DL4006", "UndefinedVar", "KL001"] {
        assert!(text.lines().any(|l| l.starts_with(id)), "{id} not listed");
    }
    kiln()
        .args(["lint", "--explain", "DL3008"])
        .assert()
        .success()
        .stdout(predicate::str::contains("apt-get"));
    kiln().args(["lint", "--explain", "DL9999"]).assert().code(2).stderr(predicate::str::contains("DL9999"));
}
