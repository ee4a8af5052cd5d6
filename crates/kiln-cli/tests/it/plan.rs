//! `kiln plan`: the stage graph in text and JSON, build args, targets, and located errors.

use predicates::prelude::*;

use crate::{json_output, kiln};

const DOCKERFILE: &str = "\
ARG TAG=3.20
FROM golang:1.22 AS build
RUN go build -o /out/app .

FROM alpine:$TAG AS test
COPY --from=build /out/app /app

FROM scratch
COPY --from=build /out/app /app
";

fn dockerfile() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("Dockerfile");
    fs_err::write(&file, DOCKERFILE).unwrap();
    (dir, file)
}

#[test]
fn text_shows_order_dependencies_and_pruned_stages() {
    let (_dir, file) = dockerfile();
    kiln()
        .args(["plan", "--platform", "linux/amd64", "-f"])
        .arg(&file)
        .assert()
        .success()
        .stdout(predicate::str::contains("target stage-2 (stage 2), platform linux/amd64"))
        .stdout(predicate::str::contains(
            "   0 build            line 2    FROM image docker.io/library/golang:1.22, linux/amd64, 1 step\n",
        ))
        .stdout(predicate::str::contains("      needs build (COPY --from, line 9)\n"))
        .stdout(predicate::str::contains(
            "pruned (not needed by the target):\n   1 test             line 5    FROM image docker.io/library/alpine:3.20",
        ));
}

#[test]
fn json_with_target_build_args_and_unused_args() {
    let (_dir, file) = dockerfile();
    let out = kiln()
        .args([
            "plan",
            "--format",
            "json",
            "--target",
            "TEST",
            "--build-arg",
            "TAG=edge",
            "--build-arg",
            "NOPE=1",
            "-f",
        ])
        .arg(&file)
        .assert()
        .success()
        .stderr("warning: One or more build-args [NOPE] were not consumed\n")
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["target"]["name"], "test");
    assert_eq!(v["stages"].as_array().unwrap().len(), 2);
    assert_eq!(v["stages"][1]["base"], "image docker.io/library/alpine:edge");
    assert_eq!(v["pruned"][0]["index"], 2);
    assert_eq!(v["unused_build_args"][0], "NOPE");
}

#[test]
fn build_arg_without_value_comes_from_the_environment() {
    let (_dir, file) = dockerfile();
    let v = json_output(
        kiln()
            .args(["plan", "--format", "json", "--target", "test", "--build-arg", "TAG", "-f"])
            .arg(&file)
            .env("TAG", "3.19"),
    );
    assert_eq!(v["target"]["base"], "image docker.io/library/alpine:3.19");
}

#[test]
fn named_contexts_replace_images() {
    let v = json_output(
        kiln()
            .args(["plan", "--format", "json", "--build-context", "alpine=./vendor/alpine", "-f", "-"])
            .write_stdin("FROM alpine\nRUN true\n"),
    );
    assert_eq!(v["target"]["base"], "context alpine");
    kiln()
        .args(["plan", "--build-context", "novalue", "-f", "-"])
        .write_stdin("FROM a\n")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid --build-context \"novalue\": expected NAME=VALUE"));
}

#[test]
fn errors_exit_2_and_point_at_the_line() {
    kiln()
        .args(["plan", "-f", "-"])
        .env("NO_COLOR", "1")
        .write_stdin("FROM a AS one\nFROM b\nCOPY --from=7 /x /y\n")
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("<stdin>:3:1: invalid stage index 7"))
        .stderr(predicate::str::contains("3 │ COPY --from=7 /x /y"));
    kiln()
        .args(["plan", "--target", "onr", "-f", "-"])
        .write_stdin("FROM a AS one\nFROM b\n")
        .assert()
        .code(2)
        .stderr("error: target stage \"onr\" could not be found (did you mean one?)\n");
    kiln()
        .args(["plan", "-f", "-"])
        .write_stdin("FROM a AS x\nCOPY --from=x / /\n")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("<stdin>:2:1: circular dependency detected on stage: x"));
}
