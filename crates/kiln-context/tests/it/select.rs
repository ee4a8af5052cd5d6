//! COPY/ADD source selection.

use std::os::unix::fs::MetadataExt;

use kiln_context::{ContextError, EntryKind, Selection, SourceSpec};

use crate::support::Fixture;

fn tree() -> Fixture {
    let f = Fixture::with(&[
        ("app/main.go", "package main\n"),
        ("app/go.mod", "module app\n"),
        ("app/sub/x.go", "package sub\n"),
        ("app/sub/x_test.go", "package sub\n"),
        ("a.txt", "a\n"),
        ("b.txt", "b\n"),
        ("c.md", "c\n"),
        ("arr[0].txt", "bracket\n"),
        ("x/y/a.txt", "xya\n"),
        ("x/y/b.txt", "xyb\n"),
        ("x/z/c.txt", "xzc\n"),
        ("secret.env", "TOKEN=1\n"),
    ]);
    f.symlink("latest", "app");
    f.symlink("app/readme", "../a.txt");
    f.symlink("dangling", "nowhere");
    f
}

fn matched(s: &Selection) -> Vec<&str> {
    s.matches.iter().map(|m| m.path.as_str()).collect()
}

fn rels(s: &Selection, i: usize) -> Vec<&str> {
    s.matches[i].entries.iter().map(|e| e.rel.as_str()).collect()
}

#[test]
fn a_file_selects_itself() {
    let f = tree();
    let s = f.context().select(&SourceSpec::new("a.txt")).unwrap();
    assert_eq!(matched(&s), ["a.txt"]);
    assert!(!s.matches[0].is_dir());
    assert_eq!(rels(&s, 0), [""]);
    // Leading `/`, `./` and trailing `/` make no difference.
    for p in ["/a.txt", "./a.txt", "a.txt/"] {
        assert_eq!(f.context().select(&SourceSpec::new(p)).unwrap().matches, s.matches, "{p}");
    }
}

#[test]
fn a_directory_selects_its_contents_and_keeps_inner_symlinks() {
    let f = tree();
    let s = f.context().select(&SourceSpec::new("app")).unwrap();
    assert!(s.matches[0].is_dir());
    assert_eq!(rels(&s, 0), ["", "go.mod", "main.go", "readme", "sub", "sub/x.go", "sub/x_test.go"]);
    let readme = &s.matches[0].entries[3].entry;
    assert_eq!(readme.kind, EntryKind::Symlink { target: "../a.txt".into() });
}

#[test]
fn a_named_symlink_is_followed() {
    let f = tree();
    let s = f.context().select(&SourceSpec::new("latest")).unwrap();
    assert_eq!((s.matches[0].path.as_str(), s.matches[0].resolved.as_str()), ("latest", "app"));
    assert!(s.matches[0].is_dir());
    let s = f.context().select(&SourceSpec::new("app/readme")).unwrap();
    assert_eq!(s.matches[0].resolved, "a.txt");
    assert_eq!(s.matches[0].entries[0].entry.kind, EntryKind::File);
    // Symlinks in parents too.
    let s = f.context().select(&SourceSpec::new("latest/sub/x.go")).unwrap();
    assert_eq!(s.matches[0].resolved, "app/sub/x.go");
}

#[test]
fn wildcards_follow_go_filepath_match() {
    let f = tree();
    let ctx = f.context();
    let sel = |p: &str| ctx.select(&SourceSpec::new(p)).unwrap();
    assert_eq!(matched(&sel("*.txt")), ["a.txt", "arr[0].txt", "b.txt"]);
    assert_eq!(matched(&sel("?.txt")), ["a.txt", "b.txt"]);
    assert_eq!(matched(&sel("[ab].*")), ["a.txt", "b.txt"]);
    assert_eq!(matched(&sel("[^a].txt")), ["b.txt"]);
    assert_eq!(matched(&sel("arr[[]0].txt")), ["arr[0].txt"]);
    assert_eq!(matched(&sel("app/sub/*_test.go")), ["app/sub/x_test.go"]);
    // A wildcard in a middle component; `*` does not cross `/`.
    assert_eq!(matched(&sel("x/*/a.txt")), ["x/y/a.txt"]);
    assert_eq!(matched(&sel("x/*.txt")), Vec::<&str>::new());
    // `**` is not special without --parents: it is two `*`, within one component.
    assert!(matched(&sel("**/a.txt")).is_empty());
    assert_eq!(matched(&sel("**/y")), ["x/y"]);
    // A directory that matches copies its contents.
    let s = sel("ap?");
    assert_eq!(matched(&s), ["app"]);
    assert!(s.matches[0].is_dir());
    // A wildcard through a symlinked directory, and a symlink that matches is followed.
    assert_eq!(matched(&sel("latest/*.mod")), ["latest/go.mod"]);
    assert_eq!(sel("app/read*").matches[0].resolved, "a.txt");
}

#[test]
fn a_wildcard_matching_nothing_selects_nothing() {
    let f = tree();
    let s = f.context().select(&SourceSpec::new("*.rs")).unwrap();
    assert!(s.matches.is_empty());
}

#[test]
fn missing_sources_are_errors_naming_the_path() {
    let f = tree();
    let ctx = f.context();
    let err = ctx.select(&SourceSpec::new("missing/file")).unwrap_err();
    assert!(matches!(&err, ContextError::NotFound { path, .. } if path == "/missing/file"), "{err:?}");
    assert_eq!(err.to_string(), "failed to calculate checksum of ref context: \"/missing/file\": not found");
    // A dangling symlink named as a source is missing too.
    let err = ctx.select(&SourceSpec::new("dangling")).unwrap_err();
    assert!(err.to_string().contains("\"/dangling\": not found"), "{err}");
    // The literal part of a wildcard source must exist.
    assert!(ctx.select(&SourceSpec::new("nodir/*.txt")).is_err());
}

#[test]
fn ignored_files_cannot_be_copied() {
    let f = tree();
    let ctx = f.context_ignoring("secret.env\napp/sub\n*.md\n");
    let err = ctx.select(&SourceSpec::new("secret.env")).unwrap_err();
    assert!(err.to_string().contains("\"/secret.env\": not found"), "{err}");
    assert!(ctx.select(&SourceSpec::new("app/sub/x.go")).is_err());
    assert_eq!(rels(&ctx.select(&SourceSpec::new("app")).unwrap(), 0), ["", "go.mod", "main.go", "readme"]);
    assert!(matched(&ctx.select(&SourceSpec::new("*.md")).unwrap()).is_empty());
    // An excluded symlink is not there even when its target is.
    let ctx = f.context_ignoring("latest\n");
    assert!(ctx.select(&SourceSpec::new("latest")).is_err());
    assert!(ctx.select(&SourceSpec::new("app")).is_ok());
}

#[test]
fn parent_traversal_is_cleaned_away_like_buildkit() {
    let f = tree();
    let s = f.context().select(&SourceSpec::new("../../a.txt")).unwrap();
    assert!(s.escapes_context);
    assert_eq!(matched(&s), ["a.txt"]);
    // A symlink pointing outside the context resolves inside it.
    f.symlink("out", "/etc/passwd");
    let err = f.context().select(&SourceSpec::new("out")).unwrap_err();
    assert!(err.to_string().contains("\"/out\": not found"), "{err}");
}

#[test]
fn excludes_apply_relative_to_each_match() {
    let f = tree();
    let spec = SourceSpec {
        path: "app".into(),
        excludes: vec!["*_test.go".into(), "sub/*_test.go".into()],
        parents: false,
    };
    let s = f.context().select(&spec).unwrap();
    assert_eq!(rels(&s, 0), ["", "go.mod", "main.go", "readme", "sub", "sub/x.go"]);
    let spec = SourceSpec { path: "*.txt".into(), excludes: vec!["b*".into()], parents: false };
    // A matched file itself is not filtered (BuildKit matches excludes below each source).
    assert_eq!(matched(&f.context().select(&spec).unwrap()), ["a.txt", "arr[0].txt", "b.txt"]);
    let spec = SourceSpec { path: ".".into(), excludes: vec!["x".into(), "app/sub".into()], parents: false };
    let all = rels(&f.context().select(&spec).unwrap(), 0).join(" ");
    assert!(!all.contains("x/") && !all.contains("app/sub") && all.contains("app/main.go"), "{all}");
}

#[test]
fn parents_keep_paths_relative_to_the_context_or_the_dot_marker() {
    let f = tree();
    let ctx = f.context();
    let spec = |p: &str| SourceSpec { path: p.into(), parents: true, excludes: vec![] };
    let s = ctx.select(&spec("x/y/a.txt")).unwrap();
    assert_eq!(matched(&s), [""]);
    assert_eq!(rels(&s, 0), ["", "x", "x/y", "x/y/a.txt"]);
    let s = ctx.select(&spec("./x/./y/*.txt")).unwrap();
    assert_eq!(matched(&s), ["x"]);
    assert_eq!(rels(&s, 0), ["", "y", "y/a.txt", "y/b.txt"]);
    // `**` crosses directories with --parents.
    let s = ctx.select(&spec("x/**/*.txt")).unwrap();
    assert_eq!(rels(&s, 0), ["", "x", "x/y", "x/y/a.txt", "x/y/b.txt", "x/z", "x/z/c.txt"]);
    // Without wildcards the path must exist.
    let err = ctx.select(&spec("x/y/nope.txt")).unwrap_err();
    assert!(err.to_string().contains("\"/x/y/nope.txt\": not found"), "{err}");
    // --parents with --exclude.
    let s =
        ctx.select(&SourceSpec { path: "x".into(), parents: true, excludes: vec!["x/z".into()] }).unwrap();
    assert_eq!(rels(&s, 0), ["", "x", "x/y", "x/y/a.txt", "x/y/b.txt"]);
}

#[test]
fn a_root_filesystem_keeps_owners_and_has_no_ignore_file() {
    let f = tree();
    f.write(".dockerignore", "a.txt\n");
    // Give the files an owner other than the test's (possible as root; otherwise they keep the test's).
    let owned = std::os::unix::fs::lchown(f.join("a.txt"), Some(1234), Some(5678)).is_ok()
        && std::os::unix::fs::lchown(f.join("b.txt"), Some(1234), Some(5678)).is_ok();
    let owner = |p: &str| std::fs::symlink_metadata(f.join(p)).map(|m| (m.uid(), m.gid())).unwrap();
    let rootfs = kiln_context::Context::from_rootfs("builder", f.path()).unwrap();
    assert!(rootfs.keeps_owners());
    let e = &rootfs.select(&SourceSpec::new("a.txt")).unwrap().matches[0].entries[0].entry;
    assert_eq!((e.uid, e.gid), owner("a.txt"));
    if owned {
        assert_eq!((e.uid, e.gid), (1234, 5678));
    }
    let err = rootfs.select(&SourceSpec::new("/usr/bin/missing")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "failed to calculate checksum of ref builder: \"/usr/bin/missing\": not found"
    );
    // The same directory as a client's context: the ignore file applies and owners are root.
    assert!(f.context().select(&SourceSpec::new("a.txt")).is_err());
    let e = &f.context().select(&SourceSpec::new("b.txt")).unwrap().matches[0].entries[0].entry;
    assert_eq!((e.uid, e.gid), (0, 0));
}
