//! The HTML report ([`html`]): one self-contained file (no network, no external assets) with the image's
//! numbers, the layer list with sizes, a zoomable treemap of the final filesystem colored by layer, the
//! findings, the suggestions and dive's inefficient-file list.
//!
//! The page is `report.html`, a minijinja template: tables are rendered server-side (readable without
//! JavaScript), the treemap is drawn by a small inline script (squarified layout into SVG, written here
//! because any charting library would be an external asset or a large inline blob). The tree it draws is
//! embedded as JSON, pruned to [`MAX_NODES`] files by folding the smallest into one node per directory.

use std::collections::BTreeMap;

use minijinja::{Environment, Value, context};
use serde::Serialize;

use crate::analysis::Analysis;
use crate::error::{AnalyzeError, Result};
use crate::render::human_bytes;
use crate::scan::FileKind;
use crate::tree::{FsTree, NodeId, ROOT};

/// Most files drawn in the treemap; smaller ones are folded into a "… N files" node per directory.
pub const MAX_NODES: usize = 40_000;
/// Deepest directory level drawn; deeper content is folded into its ancestor at this depth.
const MAX_DEPTH: usize = 64;

const TEMPLATE: &str = include_str!("report.html");

/// A treemap node: name, bytes, owning layer (the layer of the largest part for a directory; -1 for
/// folded files of several layers), children, and for folded nodes the number of files.
#[derive(Debug, Serialize)]
struct TmNode {
    n: String,
    s: u64,
    l: i64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    c: Vec<TmNode>,
    #[serde(skip_serializing_if = "is_zero")]
    k: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The color of layer `i` (also used by the script and the interactive view's legend).
pub fn layer_color(i: usize) -> String {
    let hue = (i as f64 * 137.508) % 360.0;
    format!("hsl({hue:.0}, 62%, 52%)")
}

/// Renders the report.
pub fn html(a: &Analysis) -> Result<String> {
    let mut env = Environment::new();
    env.add_filter("bytes", |n: u64| human_bytes(n));
    env.add_filter("pct", |v: Option<f64>| v.map_or("n/a".to_owned(), |v| format!("{v:.4} %")));
    env.add_template("report.html", TEMPLATE).map_err(AnalyzeError::Template)?;
    let template = env.get_template("report.html").map_err(AnalyzeError::Template)?;
    let tree = treemap(a);
    let colors: Vec<String> = (0..a.layers.len()).map(layer_color).collect();
    let layers: Vec<serde_json::Value> = a
        .layers
        .iter()
        .map(|l| serde_json::json!({"index": l.index, "size": l.size_bytes, "command": l.command, "location": l.location}))
        .collect();
    let data = serde_json::json!({"tree": tree, "colors": colors, "layers": layers});
    // Inside <script>, `<` could end the element: escape it (JSON allows \u003c anywhere in strings).
    let json = serde_json::to_string(&data)
        .map_err(|source| AnalyzeError::Json { object: "report data".into(), source })?
        .replace('<', "\\u003c");
    let largest_layer = a.layers.iter().map(|l| l.size_bytes).max().unwrap_or(0).max(1);
    // Suggestions may overlap (a copied file can also be chown-rewritten): show the largest, not a sum.
    let saving: u64 = a.suggestions.iter().map(|s| s.bytes_saved).max().unwrap_or(0);
    template
        .render(context! {
            a => Value::from(minijinja::value::Serde(a)),
            colors => colors,
            largest_layer => largest_layer,
            saving => saving,
            efficiency_pct => format!("{:.4}", a.efficiency * 100.0),
            data => Value::from_safe_string(json),
            version => env!("CARGO_PKG_VERSION"),
        })
        .map_err(AnalyzeError::Template)
}

/// The final filesystem as treemap nodes (files with bytes only).
fn treemap(a: &Analysis) -> TmNode {
    let entries = a.layer_entries();
    let tree = &a.tree;
    // The size below which files are folded, so that at most MAX_NODES are drawn.
    let mut sizes: Vec<u64> = tree
        .descendants(ROOT)
        .into_iter()
        .filter_map(|id| tree.entry(&entries, id))
        .filter(|e| e.kind == FileKind::File && e.size > 0)
        .map(|e| e.size)
        .collect();
    let threshold = if sizes.len() > MAX_NODES {
        let k = sizes.len() - MAX_NODES;
        *sizes.select_nth_unstable(k).1
    } else {
        0
    };
    let mut root = build(tree, &entries, ROOT, threshold, 0);
    root.n = "/".into();
    root
}

fn build(
    tree: &FsTree,
    entries: &[&[crate::LayerEntry]],
    id: NodeId,
    threshold: u64,
    depth: usize,
) -> TmNode {
    let node = tree.node(id);
    let mut out = TmNode { n: node.name.to_string(), s: 0, l: -1, c: Vec::new(), k: 0 };
    // Folded files: bytes and count per layer.
    let mut folded: BTreeMap<i64, (u64, u64)> = BTreeMap::new();
    let mut stack: Vec<(NodeId, usize)> = node.children.values().map(|&c| (c, depth + 1)).collect();
    while let Some((child, d)) = stack.pop() {
        let entry = tree.entry(entries, child);
        let is_dir = entry.is_none_or(|e| e.kind == FileKind::Dir);
        if is_dir {
            if d >= MAX_DEPTH {
                // Too deep to draw: fold its files into this node.
                stack.extend(tree.node(child).children.values().map(|&c| (c, d + 1)));
            } else {
                let sub = build(tree, entries, child, threshold, d);
                if sub.s > 0 {
                    out.c.push(sub);
                }
            }
            continue;
        }
        let Some(e) = entry.filter(|e| e.kind == FileKind::File && e.size > 0) else { continue };
        let layer = tree.node(child).entry.map_or(-1, |r| r.layer as i64);
        if e.size < threshold || d > depth + 1 {
            let f = folded.entry(layer).or_default();
            f.0 += e.size;
            f.1 += 1;
        } else {
            out.c.push(TmNode {
                n: tree.node(child).name.to_string(),
                s: e.size,
                l: layer,
                c: Vec::new(),
                k: 0,
            });
        }
    }
    if !folded.is_empty() {
        let bytes: u64 = folded.values().map(|f| f.0).sum();
        let count: u64 = folded.values().map(|f| f.1).sum();
        let layer = if folded.len() == 1 { folded.keys().next().copied().unwrap_or(-1) } else { -1 };
        out.c.push(TmNode {
            n: format!("… {count} small files"),
            s: bytes,
            l: layer,
            c: Vec::new(),
            k: count,
        });
    }
    out.c.sort_by(|x, y| y.s.cmp(&x.s).then_with(|| x.n.cmp(&y.n)));
    out.s = out.c.iter().map(|c| c.s).sum();
    out.l = out.c.first().map_or(-1, |c| c.l);
    out
}
