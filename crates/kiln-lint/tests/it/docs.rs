//! The rule pages in `docs/lint/` are generated from the rule table: this test regenerates them in
//! memory and fails when the committed pages are stale (`KILN_BLESS=1` rewrites them).

use std::path::PathBuf;

fn docs_dir() -> PathBuf {
    kiln_test::workspace_root().join("docs/lint")
}

#[test]
fn rule_pages_are_up_to_date() {
    let dir = docs_dir();
    let pages = kiln_lint::docs::pages();
    if std::env::var_os("KILN_BLESS").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let p = entry.unwrap().path();
            if p.extension().is_some_and(|e| e == "md") {
                std::fs::remove_file(p).unwrap();
            }
        }
        for (name, text) in &pages {
            std::fs::write(dir.join(name), text).unwrap();
        }
    }
    let mut stale = Vec::new();
    for (name, text) in &pages {
        match std::fs::read_to_string(dir.join(name)) {
            Ok(t) if t == *text => {}
            _ => stale.push(name.clone()),
        }
    }
    let extra: Vec<String> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !pages.iter().any(|(p, _)| p == n))
                .collect()
        })
        .unwrap_or_default();
    assert!(
        stale.is_empty() && extra.is_empty(),
        "docs/lint is stale (regenerate: KILN_BLESS=1 cargo test -p kiln-lint rule_pages): stale {stale:?}, extra {extra:?}"
    );
}

#[test]
fn pages_say_what_the_table_says() {
    let r = kiln_lint::rule("DL3008").unwrap();
    let page = kiln_lint::docs::rule_markdown(r);
    assert!(page.starts_with("# DL3008\n") && page.contains("| Default level | warning |"));
    assert!(
        kiln_lint::docs::rule_markdown(kiln_lint::rule("DL3014").unwrap())
            .contains("| Safe fix | yes: adds `-y` after `install` |")
    );
    assert!(kiln_lint::docs::index_markdown().contains("[StageNameCasing](StageNameCasing.md)"));
}
