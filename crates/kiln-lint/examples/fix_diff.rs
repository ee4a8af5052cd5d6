//! Prints the unified diff of the safe fixes for the files given (`--only RULE` limits them to one rule):
//! a development aid for checking fixes over a corpus without building the whole CLI.

#![allow(clippy::print_stdout)]

use std::collections::BTreeSet;

fn main() {
    let mut only: Option<BTreeSet<String>> = None;
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--only" {
            only.get_or_insert_with(BTreeSet::new).extend(args.next());
        } else {
            files.push(a);
        }
    }
    let config = kiln_lint::Config::default();
    for f in files {
        let Ok(src) = std::fs::read_to_string(&f) else { continue };
        let fixed = kiln_lint::fix::fix_source(&f, &src, &config, only.as_ref());
        print!("{}", kiln_lint::fix::unified_diff(&f, &src, &fixed.source));
    }
}
