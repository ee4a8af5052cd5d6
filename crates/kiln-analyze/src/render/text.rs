//! The terminal reports: [`analysis`] (`kiln analyze`) and [`diff`] (`kiln diff`), plain text that reads
//! the same with or without color.

use std::fmt::Write as _;

use crate::analysis::Analysis;
use crate::ci::go_percent;
use crate::diff::{ImageDiff, PathChange};
use crate::render::{human_bytes, sanitize, truncate};

/// How many rows of long lists to show.
const ROWS: usize = 10;

/// The `kiln analyze` report.
pub fn analysis(a: &Analysis) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Image       {} ({}, {})", sanitize(&a.image), short(&a.id.to_string()), a.platform);
    let compressed = a.compressed_size_bytes.map_or("unknown".to_owned(), human_bytes);
    let _ = writeln!(
        s,
        "Size        {} in {} layers (tar {}, compressed {compressed}); {} files, {}",
        human_bytes(a.size_bytes),
        a.layers.len(),
        human_bytes(a.tar_size_bytes),
        a.files,
        human_bytes(a.files_bytes)
    );
    let _ = writeln!(
        s,
        "Efficiency  {} %   wasted {} ({} bytes)   user wasted {} %",
        go_percent(a.efficiency * 100.0),
        human_bytes(a.wasted_bytes),
        a.wasted_bytes,
        go_percent(a.user_wasted_percent)
    );
    let _ = writeln!(s, "\nLayers");
    let _ = writeln!(
        s,
        "  {:>3}  {:>8}  {:>8}  {:>7}  {:>7}  {:>7}  CREATED BY",
        "#", "SIZE", "GZIP", "+FILES", "~FILES", "-FILES"
    );
    for l in &a.layers {
        let gz = l.compressed_size_bytes.map_or("-".to_owned(), human_bytes);
        let at = l.location.as_ref().map(|p| format!("[{p}] ")).unwrap_or_default();
        let _ = writeln!(
            s,
            "  {:>3}  {:>8}  {:>8}  {:>7}  {:>7}  {:>7}  {at}{}",
            l.index,
            human_bytes(l.size_bytes),
            gz,
            l.added.files,
            l.modified.files + l.metadata_only.files,
            l.removed.files,
            truncate(&sanitize(l.created_by.as_deref().unwrap_or(&l.command)), 70)
        );
    }
    let _ = writeln!(
        s,
        "\nInefficient files (dive's list: every copy of a path written or deleted more than once)"
    );
    if a.inefficiencies.is_empty() {
        let _ = writeln!(s, "  none");
    } else {
        let _ = writeln!(s, "  {:>5}  {:>12}  File Path", "Count", "Wasted Space");
    }
    for f in a.inefficiencies.iter().take(ROWS) {
        let _ = writeln!(s, "  {:>5}  {:>12}  {}", f.count, human_bytes(f.wasted_bytes), sanitize(&f.path));
    }
    more(&mut s, a.inefficiencies.len());
    let _ = writeln!(s, "\nFindings");
    if a.findings.is_empty() {
        let _ = writeln!(s, "  none");
    }
    for f in &a.findings {
        let at = f.location.as_ref().map(|p| format!(", {p}")).unwrap_or_default();
        let _ = writeln!(s, "  {:>8}  layer {}{at}: {}", human_bytes(f.bytes), f.layer, sanitize(&f.title));
        for p in f.paths.iter().take(3) {
            let _ = writeln!(s, "            {} ({})", sanitize(&p.path), human_bytes(p.size));
        }
        let _ = writeln!(s, "            fix: {}", sanitize(&f.fix));
    }
    let _ = writeln!(s, "\nSuggestions (savings may overlap: a file can be in several findings)");
    if a.suggestions.is_empty() {
        let _ = writeln!(s, "  none");
    }
    for g in &a.suggestions {
        let at =
            if g.locations.is_empty() { String::new() } else { format!(" [{}]", g.locations.join(", ")) };
        let _ = writeln!(s, "  saves {:>8}  {}{at}", human_bytes(g.bytes_saved), g.text);
    }
    s
}

fn more(s: &mut String, total: usize) {
    if total > ROWS {
        let _ = writeln!(s, "  … {} more", total - ROWS);
    }
}

fn short(digest: &str) -> String {
    digest.split_once(':').map_or(digest, |(_, h)| h).chars().take(12).collect()
}

/// The `kiln diff` report.
pub fn diff(d: &ImageDiff) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "A  {}: {} in {} layers, {} files",
        sanitize(&d.a.image),
        human_bytes(d.a.size_bytes),
        d.a.layers,
        d.a.files
    );
    let _ = writeln!(
        s,
        "B  {}: {} in {} layers, {} files",
        sanitize(&d.b.image),
        human_bytes(d.b.size_bytes),
        d.b.layers,
        d.b.files
    );
    let sign = if d.size_delta_bytes < 0 { "-" } else { "+" };
    let _ = writeln!(
        s,
        "{} is {} of {} ({sign}{})",
        sanitize(&d.b.image),
        if d.size_percent.is_finite() { format!("{:.2}%", d.size_percent) } else { "n/a".into() },
        sanitize(&d.a.image),
        human_bytes(d.size_delta_bytes.unsigned_abs())
    );
    let _ = writeln!(
        s,
        "{} added ({}), {} removed ({}), {} changed",
        d.added.len(),
        human_bytes(d.added_bytes),
        d.removed.len(),
        human_bytes(d.removed_bytes),
        d.changed.len()
    );
    section(&mut s, "Added", '+', &d.added);
    section(&mut s, "Removed", '-', &d.removed);
    section(&mut s, "Changed", '~', &d.changed);
    s
}

fn section(s: &mut String, title: &str, mark: char, changes: &[PathChange]) {
    if changes.is_empty() {
        return;
    }
    let _ = writeln!(s, "\n{title}");
    for c in changes.iter().take(ROWS * 2) {
        let size = match (c.size_a, c.size_b) {
            (Some(a), Some(b)) if a != b => format!("{} → {}", human_bytes(a), human_bytes(b)),
            (_, Some(b)) => human_bytes(b),
            (Some(a), None) => human_bytes(a),
            (None, None) => String::new(),
        };
        let what = if c.what.is_empty() { String::new() } else { format!(" ({})", c.what.join(", ")) };
        let _ = writeln!(s, "  {mark} {:>16}  {}{what}", size, sanitize(&c.path));
    }
    if changes.len() > ROWS * 2 {
        let _ = writeln!(s, "  … {} more", changes.len() - ROWS * 2);
    }
}
