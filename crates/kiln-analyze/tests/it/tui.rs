//! The interactive view's model: the tree after a layer with that layer's marks, collapsing and filtering.

use std::collections::HashSet;

use kiln_analyze::tui::{LayerView, Mark};

fn mark_of(view: &LayerView, path: &str) -> Option<Mark> {
    view.nodes.iter().find(|n| n.path == path).map(|n| n.mark)
}

#[test]
fn a_layer_view_marks_what_the_layer_did() {
    let tmp = tempfile::tempdir().unwrap();
    let a = crate::detect::wasteful_image(tmp.path());
    // Layer 3 deletes /tmp/build.tar and overwrites /etc/app.conf.
    let view = LayerView::new(&a, 3);
    assert_eq!(mark_of(&view, "tmp/build.tar"), Some(Mark::Removed));
    assert_eq!(mark_of(&view, "etc/app.conf"), Some(Mark::Modified));
    assert_eq!(mark_of(&view, "etc"), Some(Mark::Modified), "a directory with changes below is modified");
    assert_eq!(mark_of(&view, "bin/tool"), Some(Mark::Unmodified));
    let tmp_dir = view.nodes.iter().find(|n| n.path == "tmp").unwrap();
    assert_eq!(tmp_dir.size, 0, "removed files do not count in their directory's size");
    // Layer 1 adds the apt lists.
    let view1 = LayerView::new(&a, 1);
    assert_eq!(mark_of(&view1, "var/lib/apt/lists/deb.debian.org_Packages"), Some(Mark::Added));
    assert_eq!(mark_of(&view1, "tmp/build.tar"), None, "not there yet");
}

#[test]
fn rows_follow_collapse_filter_and_mark_toggles() {
    let tmp = tempfile::tempdir().unwrap();
    let a = crate::detect::wasteful_image(tmp.path());
    let view = LayerView::new(&a, 3);
    let all = [true; 4];
    let names = |rows: &[kiln_analyze::tui::Row]| -> Vec<String> {
        rows.iter().map(|r| format!("{}{}", r.prefix, view.nodes[r.node].name)).collect()
    };
    let rows = view.rows(&HashSet::new(), "", all);
    assert!(names(&rows).contains(&"├── etc".to_owned()), "{:#?}", names(&rows));
    assert!(names(&rows).iter().any(|n| n.ends_with("── build.tar")));
    let collapsed: HashSet<String> = ["usr".to_owned()].into();
    let folded = view.rows(&collapsed, "", all);
    assert!(folded.len() < rows.len());
    assert!(!folded.iter().any(|r| view.nodes[r.node].path.starts_with("usr/")));
    let filtered = view.rows(&HashSet::new(), "app.conf", all);
    let paths: Vec<&str> = filtered.iter().map(|r| view.nodes[r.node].path.as_str()).collect();
    assert_eq!(paths, vec!["etc", "etc/app.conf"]);
    // Only removed paths: the deleted file and its parent.
    let removed = view.rows(&HashSet::new(), "", [false, false, true, false]);
    let paths: Vec<&str> = removed.iter().map(|r| view.nodes[r.node].path.as_str()).collect();
    assert_eq!(paths, vec!["tmp", "tmp/build.tar"]);
}
