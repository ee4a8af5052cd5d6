//! Making contexts: which ignore file applies, `-f` outside the context, stdin Dockerfiles, named
//! contexts, errors.

use kiln_context::{Context, ContextError, default_dockerfile, ignore_file_for};

use crate::support::{Fixture, paths};

fn fixture() -> Fixture {
    Fixture::with(&[
        ("ctx/.dockerignore", "*.log\n"),
        ("ctx/Dockerfile", "FROM scratch\n"),
        ("ctx/Dockerfile.dockerignore", "*.tmp\n"),
        ("ctx/dev.Dockerfile", "FROM scratch\n"),
        ("ctx/a.log", "log\n"),
        ("ctx/b.tmp", "tmp\n"),
        ("elsewhere/Dockerfile", "FROM scratch\n"),
        ("elsewhere/Dockerfile.dockerignore", "a.log\nb.tmp\n"),
    ])
}

#[test]
fn the_dockerfile_specific_ignore_file_takes_precedence() {
    let f = fixture();
    let ctx_dir = f.join("ctx");
    let df = default_dockerfile(&ctx_dir);
    assert_eq!(df, ctx_dir.join("Dockerfile"));
    assert_eq!(ignore_file_for(&ctx_dir, Some(&df)), Some(ctx_dir.join("Dockerfile.dockerignore")));
    let ctx = Context::from_dir(&ctx_dir, Some(&df)).unwrap();
    assert!(paths(&ctx).contains(&"a.log".to_owned()));
    assert!(!paths(&ctx).contains(&"b.tmp".to_owned()));
    // Another Dockerfile without its own ignore file: `.dockerignore`.
    let ctx = Context::from_dir(&ctx_dir, Some(&ctx_dir.join("dev.Dockerfile"))).unwrap();
    assert!(!paths(&ctx).contains(&"a.log".to_owned()));
    assert!(paths(&ctx).contains(&"b.tmp".to_owned()));
}

#[test]
fn a_dockerfile_outside_the_context_brings_its_ignore_file() {
    let f = fixture();
    let ctx = Context::from_dir(&f.join("ctx"), Some(&f.join("elsewhere/Dockerfile"))).unwrap();
    assert_eq!(ctx.ignore_file(), Some(f.join("elsewhere/Dockerfile.dockerignore").as_path()));
    let p = paths(&ctx);
    assert!(!p.contains(&"a.log".to_owned()) && !p.contains(&"b.tmp".to_owned()));
}

#[test]
fn a_dockerfile_from_stdin_uses_the_context_ignore_file() {
    let f = fixture();
    let ctx = Context::from_dir(&f.join("ctx"), None).unwrap();
    assert_eq!(ctx.ignore_file(), Some(f.join("ctx/.dockerignore").canonicalize().unwrap().as_path()));
}

#[test]
fn lower_case_dockerfile_is_the_fallback() {
    let f = Fixture::with(&[("dockerfile", "FROM scratch\n")]);
    assert_eq!(default_dockerfile(f.path()), f.join("dockerfile"));
}

#[test]
fn named_contexts_read_their_own_ignore_file() {
    let f = fixture();
    let ctx = Context::named("logs", &f.join("ctx")).unwrap();
    assert_eq!(ctx.name(), "logs");
    assert!(!paths(&ctx).contains(&"a.log".to_owned()));
    let err = ctx.select(&kiln_context::SourceSpec::new("a.log")).unwrap_err();
    assert_eq!(err.to_string(), "failed to calculate checksum of ref logs: \"/a.log\": not found");
}

#[test]
fn bad_contexts_and_ignore_files_name_the_problem() {
    let f = fixture();
    let err = Context::from_dir(&f.join("nope"), None).unwrap_err();
    assert!(matches!(err, ContextError::Io { .. }) && err.to_string().contains("nope"), "{err}");
    let err = Context::from_dir(&f.join("ctx/Dockerfile"), None).unwrap_err();
    assert!(err.to_string().ends_with("the build context is not a directory"), "{err}");
    f.write("bad/.dockerignore", "ok\n[unclosed\n");
    let err = Context::from_dir(&f.join("bad"), None).unwrap_err();
    assert!(err.to_string().ends_with(".dockerignore:2: syntax error in pattern"), "{err}");
}
