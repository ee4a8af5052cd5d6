//! The table for people: name, version, type and the layer that introduced each package, sorted like
//! the SBOM; a package deleted by a later layer (shown only with `all_layers`) is marked.

use crate::format::OutputOptions;
use crate::model::Sbom;

/// Renders the packages as aligned columns (no color; nothing to sanitize beyond control characters).
pub fn render(sbom: &Sbom, opts: &OutputOptions) -> String {
    let mut rows: Vec<[String; 4]> = vec![["NAME".into(), "VERSION".into(), "TYPE".into(), "LAYER".into()]];
    for p in opts.packages(sbom) {
        let mut layer = p.introduced_in().map_or_else(String::new, |l| match &l.provenance {
            Some(pv) => format!("{} ({})", l.layer_index, pv.location()),
            None => l.layer_index.to_string(),
        });
        if !p.visible {
            layer.push_str(" (deleted)");
        }
        rows.push([clean(&p.name), clean(&p.version), p.ecosystem.syft_type().to_owned(), layer]);
    }
    let mut out = columns(&rows);
    if rows.len() == 1 {
        out.push_str("(no packages found)\n");
    }
    out
}

/// Rows as left-aligned columns two spaces apart, each line trimmed at the end (the caller cleans cells).
pub fn columns<R: AsRef<[String]>>(rows: &[R]) -> String {
    let mut widths: Vec<usize> = Vec::new();
    for row in rows {
        for (i, cell) in row.as_ref().iter().enumerate() {
            if widths.len() <= i {
                widths.push(0);
            }
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let row = row.as_ref();
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Replaces control characters (a hostile package name cannot move the cursor or change colors).
fn clean(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}
