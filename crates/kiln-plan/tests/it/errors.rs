//! The errors BuildKit reports while planning, with their place in the Dockerfile.

use crate::{options, plan_err, target, try_plan};

#[test]
fn unknown_target_suggests_a_close_name() {
    let e = plan_err("FROM a AS builder\nFROM b AS final\n", &target("buidler"));
    assert_eq!(e, "target stage \"buidler\" could not be found (did you mean builder?)");
    let e = plan_err("FROM a AS builder\n", &target("zzz"));
    assert_eq!(e, "target stage \"zzz\" could not be found");
}

#[test]
fn invalid_stage_indexes() {
    let e = plan_err("FROM a\nFROM b\n  COPY --from=5 /x /x\n", &options());
    assert_eq!(e, "Dockerfile:3:3: invalid stage index 5");
    let e = plan_err("FROM a\nCOPY --from=-1 /x /x\n", &options());
    assert_eq!(e, "Dockerfile:2:1: invalid stage index -1");
}

#[test]
fn reading_a_stage_defined_later_fails_when_needed() {
    let src = "FROM alpine AS a\nCOPY --from=1 /x /x\nFROM alpine AS b\nFROM a\n";
    let e = plan_err(src, &options());
    assert_eq!(
        e,
        "Dockerfile:2:1: cannot copy from stage \"1\", it needs to be defined before current stage \"a\""
    );
    // Not needed by the target: no error.
    assert!(try_plan(src, &target("b")).is_ok());
    let e = plan_err(
        "FROM alpine AS a\nRUN --mount=from=b,target=/m true\nFROM alpine AS b\nFROM a\n",
        &options(),
    );
    assert_eq!(
        e,
        "Dockerfile:2:1: cannot mount from stage \"b\" to \"/m\", stage needs to be defined before current command"
    );
}

#[test]
fn cycles_are_found() {
    let e =
        plan_err("FROM alpine AS a\nCOPY --from=b / /\nFROM alpine AS b\nCOPY --from=a / /\n", &options());
    assert_eq!(e, "Dockerfile:2:1: circular dependency detected on stage: a");
    let e = plan_err("FROM alpine AS self\nRUN true\nCOPY --from=self / /\n", &options());
    assert_eq!(e, "Dockerfile:3:1: circular dependency detected on stage: self");
}

#[test]
fn from_must_name_something_after_expansion() {
    let e = plan_err("ARG IMG\nFROM $IMG\n", &options());
    assert_eq!(e, "Dockerfile:2:6: base name ($IMG) should not be blank");
    let e = plan_err("FROM Alpine\n", &options());
    assert_eq!(e, "Dockerfile:1:1: failed to parse stage name \"Alpine\": repository name must be lowercase");
    // Checked for pruned stages too, as BuildKit does.
    let e = plan_err("FROM bad::ref AS unused\nFROM alpine\n", &options());
    assert!(e.starts_with("Dockerfile:1:1: failed to parse stage name \"bad::ref\""), "{e}");
    // The base name is case-sensitive: `FROM Build` is not the stage `build`.
    let e = plan_err("FROM a AS build\nFROM Build\n", &options());
    assert!(e.contains("failed to parse stage name \"Build\""), "{e}");
}

#[test]
fn copy_from_with_a_variable_is_refused() {
    let e = plan_err("ARG S=a\nFROM a\nCOPY --from=$S /x /x\n", &options());
    assert_eq!(
        e,
        "Dockerfile:3:13: variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround"
    );
}

#[test]
fn bad_platforms() {
    let e = plan_err("FROM --platform=$NOPE alpine\n", &options());
    assert_eq!(e, "Dockerfile:1:17: empty platform value from expression $NOPE");
    let e = plan_err("FROM --platform=plan9/amd64 alpine\n", &options());
    assert_eq!(
        e,
        "Dockerfile:1:17: failed to parse platform plan9/amd64: plan9/amd64: unknown operating system"
    );
}

#[test]
fn global_arg_expansion_errors_name_the_arg_line() {
    let e = plan_err("ARG A=${B:?B_is_required}\nFROM x\n", &options());
    assert!(e.starts_with("Dockerfile:1:"), "{e}");
    assert!(e.contains("B: B_is_required"), "{e}");
}

#[test]
fn located_errors_render_with_the_source_line() {
    let err = try_plan("FROM a\nCOPY --from=7 /x /x\n", &options()).unwrap_err();
    let parse = err.parse_error().expect("a located error");
    assert_eq!((parse.line, parse.col), (2, 1));
    let mut out = String::new();
    miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
        .render_report(&mut out, &err)
        .unwrap();
    assert!(out.contains("COPY --from=7 /x /x"), "{out}");
}
