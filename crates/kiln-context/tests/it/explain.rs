//! `kiln context ls` and `explain`.

use crate::support::Fixture;

fn fixture() -> Fixture {
    let f = Fixture::with(&[
        ("src/a.rs", "12345"),
        ("src/deep/b.rs", "1234567890"),
        ("target/debug/big", "xxxxxxxxxxxxxxxxxxxx"),
        ("docs/x.md", "doc"),
        ("docs/keep.md", "keep"),
        ("top", "1"),
    ]);
    f.write(".dockerignore", "# build output\ntarget\ndocs\n!docs/keep.md\n!unrelated\n");
    f
}

#[test]
fn ls_totals_per_directory() {
    let f = fixture();
    let l = f.context().ls().unwrap();
    assert_eq!((l.files, l.dirs), (5, 3), "{l:#?}");
    let dirs: Vec<(&str, u64, u64)> =
        l.directories.iter().map(|d| (d.path.as_str(), d.files, d.bytes)).collect();
    assert_eq!(
        dirs,
        [
            // `.dockerignore` itself (52 bytes) is sent like any file.
            (".", 5, 5 + 10 + 4 + 1 + 52),
            ("docs", 1, 4),
            ("src", 2, 15),
            ("src/deep", 1, 10),
        ]
    );
    assert_eq!(l.skipped, ["target"]);
    assert_eq!(l.excluded, 1);
    assert_eq!(l.warnings.len(), 1);
    assert_eq!(l.warnings[0].line, 5);
    assert!(l.warnings[0].message.contains("\"!unrelated\" cannot re-include anything"));
}

#[test]
fn explain_names_the_deciding_line() {
    let f = fixture();
    let ctx = f.context();
    let e = ctx.explain("target/debug/big").unwrap();
    assert!(e.exists && !e.included);
    let d = e.decided_by.unwrap();
    assert_eq!((d.line, d.pattern.as_str(), d.exception, d.matched.as_str()), (2, "target", false, "target"));

    let e = ctx.explain("/docs/keep.md").unwrap();
    assert!(e.included);
    assert_eq!(e.decided_by.unwrap().line, 4);

    let e = ctx.explain("docs").unwrap();
    assert!(e.included, "docs is sent as the parent of docs/keep.md");
    assert_eq!(e.decided_by.unwrap().line, 3);

    let e = ctx.explain("src/a.rs").unwrap();
    assert!(e.included && e.decided_by.is_none());

    let e = ctx.explain("not/there").unwrap();
    assert!(!e.exists && e.included);
    assert_eq!(ctx.explain(".").unwrap().path, ".");
}
