//! `kiln context ls` and `kiln context explain`.

use predicates::prelude::*;

use crate::{json_output, kiln};

fn context() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, content) in [
        ("Dockerfile", "FROM scratch\nCOPY . /\n"),
        ("src/main.rs", "fn main() {}\n"),
        ("src/lib/mod.rs", "pub mod x;\n"),
        ("target/debug/app", "0123456789"),
        ("docs/a.md", "aaaa"),
        ("docs/keep.md", "kk"),
        (".dockerignore", "target\ndocs\n!docs/keep.md\n!ghost\n"),
        ("alt.Dockerfile", "FROM scratch\n"),
        ("alt.Dockerfile.dockerignore", "src\n"),
    ] {
        let p = dir.path().join(path);
        fs_err::create_dir_all(p.parent().unwrap()).unwrap();
        fs_err::write(p, content).unwrap();
    }
    dir
}

#[test]
fn ls_lists_sizes_per_directory_and_warns_about_useless_exceptions() {
    let dir = context();
    kiln()
        .args(["context", "ls"])
        .arg(dir.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("SIZE   FILES   DIRECTORY\n"))
        .stdout(predicate::str::contains("2B     1       docs\n"))
        .stdout(predicate::str::contains("24B    2       src\n"))
        .stdout(predicate::str::contains("excluded directories, not read: target\n"))
        .stdout(predicate::str::contains("target/").not())
        .stderr(predicate::str::contains(".dockerignore:4: exception \"!ghost\" cannot re-include anything"));
}

#[test]
fn ls_json_and_the_dockerfile_specific_ignore_file() {
    let dir = context();
    let v = json_output(
        kiln()
            .args(["context", "ls", "--format", "json", "-f"])
            .arg(dir.path().join("alt.Dockerfile"))
            .arg(dir.path()),
    );
    assert!(v["ignore_file"].as_str().unwrap().ends_with("alt.Dockerfile.dockerignore"));
    let dirs: Vec<&str> =
        v["directories"].as_array().unwrap().iter().map(|d| d["path"].as_str().unwrap()).collect();
    assert!(dirs.contains(&"target/debug") && !dirs.contains(&"src"), "{dirs:?}");
}

#[test]
fn explain_names_the_deciding_line() {
    let dir = context();
    let explain = |path: &str| {
        let out = kiln().args(["context", "explain", path]).arg(dir.path()).assert().success();
        String::from_utf8(out.get_output().stdout.clone()).unwrap()
    };
    assert!(explain("target/debug/app").ends_with(".dockerignore:1: target (matches target)\n"));
    assert!(explain("target/debug/app").starts_with("target/debug/app: excluded by "));
    assert!(
        explain("docs/keep.md").contains("included by ")
            && explain("docs/keep.md").contains(":3: !docs/keep.md")
    );
    assert_eq!(explain("src/main.rs"), "src/main.rs: included: no pattern matches\n");
    assert!(explain("docs").contains("but sent as the parent of paths an exception re-includes"));
    let v = json_output(kiln().args(["context", "explain", "--format", "json", "/target"]).arg(dir.path()));
    assert_eq!(
        (v["path"].as_str(), v["included"].as_bool(), v["decided_by"]["line"].as_u64()),
        (Some("target"), Some(false), Some(1))
    );
}

#[test]
fn a_missing_context_is_an_error() {
    kiln()
        .args(["context", "ls", "/nonexistent/kiln-context"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/nonexistent/kiln-context"));
}
