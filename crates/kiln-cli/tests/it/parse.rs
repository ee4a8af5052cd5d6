//! `kiln parse`: JSON and dump output, stdin, and diagnostics with exit code 2.

use assert_cmd::Command;
use predicates::prelude::*;

fn kiln() -> Command {
    Command::cargo_bin("kiln").unwrap()
}

#[test]
fn dump_matches_buildkit_format() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("Dockerfile");
    fs_err::write(&file, "FROM alpine AS b\nCOPY --from=b a /x\nONBUILD RUN [\"true\"]\n").unwrap();
    kiln().args(["parse", "--format", "dump", "-f"]).arg(&file).assert().success().stdout(
        "(from \"alpine\" \"AS\" \"b\")\n(copy [\"--from=b\"] \"a\" \"/x\")\n(onbuild (run \"true\"))\n",
    );
}

#[test]
fn json_from_stdin() {
    let out = kiln()
        .args(["parse", "-f", "-"])
        .write_stdin("FROM scratch\n# note\nRUN --network=none echo hi\n")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["instructions"][1]["command"]["instruction"], "RUN");
    assert_eq!(v["instructions"][1]["command"]["network"], "none");
    assert_eq!(v["instructions"][1]["keyword"]["span"]["line"], 3);
    assert_eq!(v["comments"][0]["text"], " note");
}

#[test]
fn parse_errors_exit_2_with_the_line_underlined() {
    kiln()
        .args(["parse", "-f", "-"])
        .env("NO_COLOR", "1")
        .write_stdin("FROM a\nFNTRYPOINT [\"x\"]\n")
        .assert()
        .code(2)
        .stdout("")
        .stderr(
            predicate::str::contains(
                "<stdin>:2:1: unknown instruction: FNTRYPOINT (did you mean ENTRYPOINT?)",
            )
            .and(predicate::str::contains("FNTRYPOINT [\"x\"]"))
            .and(predicate::str::contains("─[<stdin>:2:1]")),
        );
}

#[test]
fn missing_file_is_an_error_naming_it() {
    kiln()
        .args(["parse", "-f", "/nonexistent/Dockerfile"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/nonexistent/Dockerfile"));
}
