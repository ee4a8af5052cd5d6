//! The walker: `.dockerignore` semantics, pruning of excluded directories, symlinks as symlinks.

use kiln_context::EntryKind;

use crate::support::{Fixture, paths};

fn tree() -> Fixture {
    let f = Fixture::with(&[
        ("Dockerfile", "FROM scratch\n"),
        ("src/main.go", "package main\n"),
        ("src/util/util.go", "package util\n"),
        ("docs/guide.md", "# guide\n"),
        ("docs/keep/api.md", "# api\n"),
        ("node_modules/left-pad/index.js", "module.exports = 1\n"),
        ("README.md", "readme\n"),
        ("notes.md", "notes\n"),
        ("empty/", ""),
    ]);
    f.symlink("src/link", "../README.md");
    f
}

#[test]
fn everything_is_listed_without_an_ignore_file_parents_first() {
    let f = tree();
    let p = paths(&f.context());
    assert_eq!(
        p,
        [
            "Dockerfile",
            "README.md",
            "docs",
            "docs/guide.md",
            "docs/keep",
            "docs/keep/api.md",
            "empty",
            "node_modules",
            "node_modules/left-pad",
            "node_modules/left-pad/index.js",
            "notes.md",
            "src",
            "src/link",
            "src/main.go",
            "src/util",
            "src/util/util.go",
        ]
    );
}

#[test]
fn ignore_patterns_exclude_files_and_whole_directories() {
    let f = tree();
    let ctx = f.context_ignoring("node_modules\n*.md\n!README.md\ndocs\n!docs/keep\n");
    let p = paths(&ctx);
    assert_eq!(
        p,
        [
            "Dockerfile",
            "README.md",
            "docs",
            "docs/keep",
            "docs/keep/api.md",
            "empty",
            "src",
            "src/link",
            "src/main.go",
            "src/util",
            "src/util/util.go",
        ]
    );
}

#[test]
fn excluded_directories_are_not_read_when_nothing_can_come_back() {
    let f = tree();
    // Skipped directories are reported, not read.
    let ctx = f.context_ignoring("node_modules\n");
    let walked = ctx.ls().unwrap();
    assert_eq!(walked.skipped, ["node_modules"]);
    // A wildcard exception anywhere forces a full walk, as in BuildKit.
    let ctx = f.context_ignoring("node_modules\n!**/index.js\n");
    let walked = ctx.ls().unwrap();
    assert!(walked.skipped.is_empty());
    assert!(paths(&ctx).contains(&"node_modules/left-pad/index.js".to_owned()));
}

#[test]
fn symlinks_are_listed_not_followed() {
    let f = tree();
    f.symlink("loop", "loop");
    let entries = f.context().entries().unwrap();
    let link = entries.iter().find(|e| e.path == "src/link").unwrap();
    assert_eq!(link.kind, EntryKind::Symlink { target: "../README.md".into() });
    assert!(entries.iter().any(|e| e.path == "loop"));
}

#[test]
fn owners_are_root_and_modes_are_kept() {
    let f = Fixture::with(&[("bin/tool", "#!/bin/sh\n")]);
    f.chmod("bin/tool", 0o4755);
    let e = f.context().entries().unwrap().into_iter().find(|e| e.path == "bin/tool").unwrap();
    assert_eq!((e.mode, e.uid, e.gid, e.size), (0o4755, 0, 0, 10));
}

#[test]
fn walk_agrees_with_the_matcher_on_every_file() {
    let f = tree();
    let patterns = "**/*.go\n!src/util\nnode_modules\ndocs/*\n!docs/keep/*.md\n";
    let ctx = f.context_ignoring(patterns);
    let included = paths(&ctx);
    let all = f.context();
    for e in all.entries().unwrap().iter().filter(|e| !e.is_dir()) {
        let excluded = ctx.ignore().matches(&e.path);
        assert_eq!(included.contains(&e.path), !excluded, "{}", e.path);
    }
}
