//! `kiln diff`: two analyzed images compared file by file ([`diff`]): what the second adds, removes and
//! changes, and how their sizes compare ("final is 0.25% of builder").

use std::collections::BTreeMap;

use serde::Serialize;

use crate::analysis::Analysis;
use crate::scan::{FileKind, LayerEntry};
use crate::tree::ROOT;

/// One side of a diff.
#[derive(Debug, Clone, Serialize)]
pub struct DiffSide {
    /// The image as named.
    pub image: String,
    /// dive's image size (Σ layer sizes).
    pub size_bytes: u64,
    /// Files in its final filesystem.
    pub files: u64,
    /// Their bytes.
    pub files_bytes: u64,
    /// Layers.
    pub layers: usize,
}

/// One path that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathChange {
    /// Absolute path.
    pub path: String,
    /// Kind in the first image (`-`, `d`, `l`, ...), if present.
    pub kind_a: Option<char>,
    /// Kind in the second image.
    pub kind_b: Option<char>,
    /// Size in the first image.
    pub size_a: Option<u64>,
    /// Size in the second image.
    pub size_b: Option<u64>,
    /// What differs for a changed path: `type`, `content`, `link`, `mode`, `owner`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub what: Vec<&'static str>,
}

/// The comparison of image A with image B.
#[derive(Debug, Clone, Serialize)]
pub struct ImageDiff {
    /// Image A.
    pub a: DiffSide,
    /// Image B.
    pub b: DiffSide,
    /// B's size as a percentage of A's.
    pub size_percent: f64,
    /// B's size minus A's.
    pub size_delta_bytes: i64,
    /// Paths only in B, largest first.
    pub added: Vec<PathChange>,
    /// Paths only in A, largest first.
    pub removed: Vec<PathChange>,
    /// Paths in both that differ, largest first.
    pub changed: Vec<PathChange>,
    /// Σ sizes of added files.
    pub added_bytes: u64,
    /// Σ sizes of removed files.
    pub removed_bytes: u64,
}

fn side(a: &Analysis) -> DiffSide {
    DiffSide {
        image: a.image.clone(),
        size_bytes: a.size_bytes,
        files: a.files,
        files_bytes: a.files_bytes,
        layers: a.layers.len(),
    }
}

/// Every path of the final filesystem with its entry (`None` for directories no layer has an entry for).
fn paths(a: &Analysis) -> BTreeMap<String, Option<LayerEntry>> {
    let entries = a.layer_entries();
    a.tree
        .descendants(ROOT)
        .into_iter()
        .map(|id| (format!("/{}", a.tree.path(id)), a.tree.entry(&entries, id).cloned()))
        .collect()
}

fn kind(e: &Option<LayerEntry>) -> char {
    e.as_ref().map_or('d', |e| e.kind.symbol())
}

fn size(e: &Option<LayerEntry>) -> u64 {
    e.as_ref().map_or(0, |e| e.size)
}

/// Compares the final filesystems of `a` and `b`. Directories count as changed only when their type,
/// mode or owner differ; their contents are compared path by path.
pub fn diff(a: &Analysis, b: &Analysis) -> ImageDiff {
    let pa = paths(a);
    let pb = paths(b);
    let (mut added, mut removed, mut changed) = (Vec::new(), Vec::new(), Vec::new());
    for (path, ea) in &pa {
        match pb.get(path) {
            None => removed.push(PathChange {
                path: path.clone(),
                kind_a: Some(kind(ea)),
                kind_b: None,
                size_a: Some(size(ea)),
                size_b: None,
                what: vec![],
            }),
            Some(eb) => {
                let what = differences(ea, eb);
                if !what.is_empty() {
                    changed.push(PathChange {
                        path: path.clone(),
                        kind_a: Some(kind(ea)),
                        kind_b: Some(kind(eb)),
                        size_a: Some(size(ea)),
                        size_b: Some(size(eb)),
                        what,
                    });
                }
            }
        }
    }
    for (path, eb) in pb.iter().filter(|(p, _)| !pa.contains_key(*p)) {
        added.push(PathChange {
            path: path.clone(),
            kind_a: None,
            kind_b: Some(kind(eb)),
            size_a: None,
            size_b: Some(size(eb)),
            what: vec![],
        });
    }
    let by_size = |x: &PathChange, y: &PathChange| {
        let s = |c: &PathChange| c.size_a.unwrap_or(0).max(c.size_b.unwrap_or(0));
        s(y).cmp(&s(x)).then_with(|| x.path.cmp(&y.path))
    };
    added.sort_by(by_size);
    removed.sort_by(by_size);
    changed.sort_by(by_size);
    let added_bytes = added.iter().filter_map(|c| c.size_b).sum();
    let removed_bytes = removed.iter().filter_map(|c| c.size_a).sum();
    let size_percent =
        if a.size_bytes == 0 { f64::NAN } else { b.size_bytes as f64 / a.size_bytes as f64 * 100.0 };
    ImageDiff {
        a: side(a),
        b: side(b),
        size_percent,
        size_delta_bytes: b.size_bytes as i64 - a.size_bytes as i64,
        added,
        removed,
        changed,
        added_bytes,
        removed_bytes,
    }
}

fn differences(a: &Option<LayerEntry>, b: &Option<LayerEntry>) -> Vec<&'static str> {
    let (Some(a), Some(b)) = (a, b) else {
        return if kind(a) == kind(b) { vec![] } else { vec!["type"] };
    };
    let mut what = Vec::new();
    if a.kind != b.kind {
        what.push("type");
    } else if a.kind != FileKind::Dir && (a.size != b.size || a.hash != b.hash) {
        what.push("content");
    }
    if a.link != b.link {
        what.push("link");
    }
    if a.mode != b.mode {
        what.push("mode");
    }
    if a.uid != b.uid || a.gid != b.gid {
        what.push("owner");
    }
    what
}
