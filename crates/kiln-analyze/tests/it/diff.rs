//! `kiln diff`'s comparison: a builder stage against the final stage made from it.

use kiln_analyze::diff::diff;
use kiln_analyze::render::text;
use kiln_analyze::{Analysis, AnalyzeOptions, analyze, open_image};
use kiln_oci::Platform;

use crate::fixture::{self, Member};

fn image(dir: &std::path::Path, layers: &[Vec<Member>]) -> Analysis {
    let history: Vec<&str> = layers.iter().map(|_| "/bin/sh -c true").collect();
    let name = fixture::oci_layout(dir, layers, &fixture::history(&history));
    analyze(&open_image(&name, None, &Platform::host()).unwrap(), &AnalyzeOptions::default()).unwrap()
}

#[test]
fn builder_against_final_lists_added_removed_and_changed_files() {
    let tmp = tempfile::tempdir().unwrap();
    let base = vec![Member::dir("etc"), Member::file("etc/os-release", b"ID=test\n"), Member::dir("usr")];
    let builder = image(
        &tmp.path().join("builder"),
        &[
            base.clone(),
            vec![
                Member::zeros("usr/bin/cc", 300_000),
                Member::zeros("usr/include/stdio.h", 2_000),
                Member::file("etc/app.conf", b"debug=1\n"),
            ],
            vec![Member::file("app", &[9u8; 5_000])],
        ],
    );
    let fin = image(
        &tmp.path().join("final"),
        &[
            base,
            vec![
                Member::file("app", &[9u8; 5_000]).with_mode(0o755, 0),
                Member::file("etc/app.conf", b"debug=0\n"),
                Member::file("srv/index.html", b"<h1>hi</h1>"),
            ],
        ],
    );
    let d = diff(&builder, &fin);
    let paths = |c: &[kiln_analyze::diff::PathChange]| c.iter().map(|c| c.path.clone()).collect::<Vec<_>>();
    assert_eq!(paths(&d.removed), ["/usr/bin/cc", "/usr/include/stdio.h", "/usr/bin", "/usr/include"]);
    assert_eq!(d.removed_bytes, 302_000);
    assert_eq!(paths(&d.added), ["/srv/index.html", "/srv"]);
    assert_eq!(d.added_bytes, 11);
    let changed: Vec<(String, Vec<&str>)> =
        d.changed.iter().map(|c| (c.path.clone(), c.what.clone())).collect();
    assert_eq!(
        changed,
        [("/app".to_owned(), vec!["mode"]), ("/etc/app.conf".to_owned(), vec!["content"])],
        "same size, other bytes is a content change; the same bytes with a new mode is a mode change"
    );
    assert_eq!(d.a.size_bytes, 8 + 302_008 + 5_000);
    assert_eq!(d.b.size_bytes, 8 + 5_000 + 8 + 11);
    let pct = d.b.size_bytes as f64 / d.a.size_bytes as f64 * 100.0;
    assert!((d.size_percent - pct).abs() < 1e-12);
    assert_eq!(d.size_delta_bytes, d.b.size_bytes as i64 - d.a.size_bytes as i64);

    let report = text::diff(&d);
    let headline = format!("{} is {:.2}% of {} (-302 kB)", fin.image, pct, builder.image);
    assert!(report.contains(&headline), "{report}");
    assert!(report.contains("  - ") && report.contains("/usr/bin/cc"), "{report}");
    assert!(report.contains("/etc/app.conf (content)"), "{report}");
}
