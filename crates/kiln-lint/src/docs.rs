//! Rule documentation generated from [`crate::RULES`]: one Markdown page per rule (`docs/lint/<ID>.md`),
//! an index, and the plain text `kiln lint --explain` prints. A test regenerates the pages and fails when
//! the committed ones are stale.

use std::fmt::Write as _;

use crate::rule::{Level, Origin, RULES, Rule};

/// The Markdown page of a rule.
pub fn rule_markdown(r: &Rule) -> String {
    let mut s = format!("# {}\n\n", r.id);
    let _ = writeln!(s, "> {}\n", r.title);
    let _ = writeln!(s, "| | |\n|---|---|");
    let _ = writeln!(s, "| Origin | {} |", r.origin.as_str());
    let level = if r.level == Level::Ignore {
        "ignore (off unless raised in the config)".to_owned()
    } else {
        r.level.to_string()
    };
    let _ = writeln!(s, "| Default level | {level} |");
    if r.experimental {
        let _ = writeln!(s, "| Experimental | yes (`# check=experimental={}`) |", r.id);
    }
    let _ = writeln!(s, "| Safe fix | {} |", r.fix.map_or_else(|| "no".to_owned(), |f| format!("yes: {f}")));
    if let Some(u) = r.url {
        let _ = writeln!(s, "| Upstream | <{u}> |");
    }
    if r.origin == Origin::Hadolint && r.id != "DL1000" {
        let _ = writeln!(s, "| hadolint | <https://github.com/hadolint/hadolint/wiki/{}> |", r.id);
    }
    let _ = writeln!(s, "\n## Why\n\n{}\n", r.description);
    let _ = writeln!(s, "## Silence it\n");
    let _ = writeln!(
        s,
        "- on one instruction: `# kiln ignore={}` (or `# hadolint ignore={}`) on the line above;",
        r.id, r.id
    );
    let _ = writeln!(s, "- in a file: `# kiln global ignore={}`;", r.id);
    let _ = writeln!(
        s,
        "- everywhere: `kiln lint --ignore {}` or `ignored: [{}]` in `.hadolint.yaml`.",
        r.id, r.id
    );
    if r.origin == Origin::Buildkit {
        let _ = writeln!(s, "- BuildKit's way: `# check=skip={}` at the top of the Dockerfile.", r.id);
    }
    s
}

/// The plain text `kiln lint --explain ID` prints.
pub fn rule_text(r: &Rule) -> String {
    let mut s = format!(
        "{} ({}, default level {})\n{}\n\n{}\n",
        r.id,
        r.origin.as_str(),
        r.level,
        r.title,
        r.description
    );
    if let Some(f) = r.fix {
        let _ = writeln!(s, "\nSafe fix (kiln lint --fix): {f}");
    }
    if let Some(u) = r.url {
        let _ = writeln!(s, "\nMore: {u}");
    }
    s
}

/// The index page: every rule with its level and title.
pub fn index_markdown() -> String {
    let mut s = String::from(
        "# kiln lint rules\n\nGenerated from `crates/kiln-lint/src/rule.rs` (do not edit by hand: run \
         `KILN_BLESS=1 cargo test -p kiln-lint docs`).\n\n| Rule | Origin | Level | Fix | Title |\n|---|---|---|---|---|\n",
    );
    for r in RULES {
        let title = r.title.replace('|', "\\|");
        let _ = writeln!(
            s,
            "| [{}]({}) | {} | {} | {} | {} |",
            r.id,
            r.doc_name(),
            r.origin.as_str(),
            r.level,
            if r.fix.is_some() { "yes" } else { "" },
            title
        );
    }
    s
}

/// Every generated page: `(file name, content)`, the index as `README.md`.
pub fn pages() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = RULES.iter().map(|r| (r.doc_name(), rule_markdown(r))).collect();
    out.push(("README.md".to_owned(), index_markdown()));
    out
}
