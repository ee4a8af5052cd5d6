//! [`analyze`]: an opened image in, an [`Analysis`] out: each layer scanned once (layers in parallel),
//! dive's numbers, the merged filesystem with each path's layer, per-layer changes, the largest entries,
//! findings and suggestions. The serializable part is the JSON report (`kiln analyze --format json`).

use rayon::prelude::*;
use serde::{Serialize, Serializer};

use kiln_oci::Digest;

use crate::detect::{self, Finding, LayerOrigin, PathSize, Suggestion};
use crate::dive::{DiveNumbers, Inefficiency, dive_numbers};
use crate::error::{AnalyzeError, Result};
use crate::scan::{FileKind, LayerEntry, LayerScan, scan_layer, scan_verified_layer};
use crate::source::ImageSource;
use crate::tree::{EntryStatus, FsTree, LayerDelta};

/// How to analyze.
#[derive(Debug, Clone)]
pub struct AnalyzeOptions {
    /// How many of each layer's largest files to list.
    pub largest: usize,
    /// Compute each layer's gzip size (default level) when the source does not say it (a second pass).
    pub compressed_size: bool,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        AnalyzeOptions { largest: 10, compressed_size: false }
    }
}

/// Counts and bytes of one kind of change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ChangeCount {
    /// Files (directories are not counted).
    pub files: u64,
    /// Their bytes (for removals and modifications: the bytes hidden).
    pub bytes: u64,
}

/// One layer of the report.
#[derive(Debug, Clone, Serialize)]
pub struct LayerReport {
    /// Position, base first.
    pub index: usize,
    /// DiffID.
    pub diff_id: Digest,
    /// dive's layer size: the sum of the members' sizes.
    pub size_bytes: u64,
    /// Length of the uncompressed tar.
    pub tar_size_bytes: u64,
    /// Compressed size, when known.
    pub compressed_size_bytes: Option<u64>,
    /// The history entry's `created_by`.
    pub created_by: Option<String>,
    /// The command as dive shows it (`/bin/sh -c ` trimmed, `(missing)` without history).
    pub command: String,
    /// When the layer was made.
    pub created: Option<String>,
    /// The Dockerfile line, for images kiln built.
    pub location: Option<String>,
    /// Members in the tar.
    pub entries: u64,
    /// New files.
    pub added: ChangeCount,
    /// Files whose content changed (bytes: the old versions, now hidden).
    pub modified: ChangeCount,
    /// Files deleted from lower layers (bytes: what they had).
    pub removed: ChangeCount,
    /// Files rewritten to change only mode or owner.
    pub metadata_only: ChangeCount,
    /// The largest files the layer writes.
    pub largest: Vec<PathSize>,
}

/// Everything `kiln analyze` reports about an image.
#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    /// The image as named.
    pub image: String,
    /// Its ID (config digest).
    pub id: Digest,
    /// `os/architecture[/variant]`.
    pub platform: String,
    /// dive's image size (Σ layer sizes).
    pub size_bytes: u64,
    /// dive's user size (without the first layer).
    pub user_size_bytes: u64,
    /// dive's efficiency (0–1).
    pub efficiency: f64,
    /// dive's wasted bytes.
    pub wasted_bytes: u64,
    /// dive's user-wasted percent, ×100 as dive prints it (`null` when undefined: no user layers).
    #[serde(serialize_with = "finite_or_null")]
    pub user_wasted_percent: f64,
    /// Σ uncompressed layer tar sizes.
    pub tar_size_bytes: u64,
    /// Σ compressed layer sizes, when every one is known.
    pub compressed_size_bytes: Option<u64>,
    /// Files (non-directories) in the final filesystem.
    pub files: u64,
    /// Their bytes.
    pub files_bytes: u64,
    /// The layers, base first.
    pub layers: Vec<LayerReport>,
    /// dive's per-file inefficiency list.
    pub inefficiencies: Vec<Inefficiency>,
    /// Where dive stopped walking a layer early (a whiteout of a path missing below): (layer, path).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dive_cut_short: Vec<(usize, String)>,
    /// What wastes bytes, largest first.
    pub findings: Vec<Finding>,
    /// What to change, largest saving first.
    pub suggestions: Vec<Suggestion>,
    /// The layers' entries.
    #[serde(skip)]
    pub scans: Vec<LayerScan>,
    /// The final filesystem.
    #[serde(skip)]
    pub tree: FsTree,
    /// What each layer changed.
    #[serde(skip)]
    pub deltas: Vec<LayerDelta>,
    /// dive's ratio, unscaled (what the CI gate compares).
    #[serde(skip)]
    pub user_wasted_ratio: f64,
}

fn finite_or_null<S: Serializer>(v: &f64, s: S) -> std::result::Result<S::Ok, S::Error> {
    if v.is_finite() { s.serialize_f64(*v) } else { s.serialize_none() }
}

impl Analysis {
    /// The layers' entries as slices, for [`FsTree`] and the detectors.
    pub fn layer_entries(&self) -> Vec<&[LayerEntry]> {
        self.scans.iter().map(|s| s.entries.as_slice()).collect()
    }
}

/// Reads every layer of `source` once (in parallel) and analyzes the image.
pub fn analyze(source: &ImageSource, options: &AnalyzeOptions) -> Result<Analysis> {
    let scans: Vec<LayerScan> = source
        .layers
        .par_iter()
        .enumerate()
        .map(|(index, layer)| {
            let wrap = |e| AnalyzeError::Layer {
                image: source.name.clone(),
                index,
                diff_id: layer.diff_id.clone(),
                source: Box::new(e),
            };
            if layer.verified() {
                return scan_verified_layer(layer.open()?, &layer.diff_id, layer.stored_size()).map_err(wrap);
            }
            let scan = scan_layer(layer.open()?).map_err(wrap)?;
            if scan.diff_id != layer.diff_id {
                return Err(AnalyzeError::DiffIdMismatch {
                    image: source.name.clone(),
                    index,
                    expected: layer.diff_id.clone(),
                    actual: scan.diff_id,
                });
            }
            Ok(scan)
        })
        .collect::<Result<_>>()?;
    let compressed: Vec<Option<u64>> = source
        .layers
        .par_iter()
        .enumerate()
        .map(|(index, layer)| match layer.compressed_size {
            Some(size) => Ok(Some(size)),
            None if options.compressed_size => gzip_size(source, index).map(Some),
            None => Ok(None),
        })
        .collect::<Result<_>>()?;
    let origins = origins(source);
    Ok(assemble(source, scans, &compressed, &origins, options))
}

/// The gzip size of layer `index` at the default level (what an export would write).
fn gzip_size(source: &ImageSource, index: usize) -> Result<u64> {
    let layer = &source.layers[index];
    let opts =
        kiln_layer::CompressOptions { compression: kiln_layer::Compression::Gzip, level: None, threads: 1 };
    let info =
        kiln_layer::compress(layer.open()?, std::io::sink(), &opts).map_err(|e| AnalyzeError::Layer {
            image: source.name.clone(),
            index,
            diff_id: layer.diff_id.clone(),
            source: Box::new(e),
        })?;
    Ok(info.size)
}

/// A layer's history entry, as the report needs it.
#[derive(Debug, Clone, Default)]
struct LayerHistory {
    origin: LayerOrigin,
    created: Option<String>,
    /// dive's command: `created_by` without `/bin/sh -c `, empty without one, `(missing)` without an entry.
    command: String,
}

/// Each layer's history entry: `created_by`, creation time and Dockerfile location.
fn origins(source: &ImageSource) -> Vec<LayerHistory> {
    source
        .config
        .layer_history()
        .into_iter()
        .map(|h| {
            let entry = h.and_then(|i| source.config.history.get(i));
            let created_by = entry.and_then(|e| e.created_by.clone());
            let command = match (entry, &created_by) {
                (None, _) => "(missing)".to_owned(),
                (Some(_), Some(c)) => c.strip_prefix("/bin/sh -c ").unwrap_or(c).to_owned(),
                (Some(_), None) => String::new(),
            };
            LayerHistory {
                origin: LayerOrigin {
                    created_by,
                    location: entry.and_then(|e| e.provenance()).map(|p| p.location()),
                },
                created: entry.and_then(|e| e.created.clone()),
                command,
            }
        })
        .collect()
}

fn assemble(
    source: &ImageSource,
    scans: Vec<LayerScan>,
    compressed: &[Option<u64>],
    origins: &[LayerHistory],
    options: &AnalyzeOptions,
) -> Analysis {
    let entries: Vec<&[LayerEntry]> = scans.iter().map(|s| s.entries.as_slice()).collect();
    let dive: DiveNumbers = dive_numbers(&entries);
    let (tree, deltas) = FsTree::build(&entries);
    let layer_origins: Vec<LayerOrigin> = origins.iter().map(|h| h.origin.clone()).collect();
    let (findings, suggestions) = detect::detect(&detect::Context {
        layers: &entries,
        deltas: &deltas,
        tree: &tree,
        origins: &layer_origins,
    });
    let layers: Vec<LayerReport> = scans
        .iter()
        .enumerate()
        .map(|(index, scan)| {
            let history = origins.get(index).cloned().unwrap_or_default();
            layer_report(index, scan, &entries, &deltas[index], history, compressed[index], &dive, options)
        })
        .collect();
    let (mut files, mut files_bytes) = (0u64, 0u64);
    for id in tree.descendants(crate::tree::ROOT) {
        if let Some(e) = tree.entry(&entries, id).filter(|e| e.kind != FileKind::Dir) {
            files += 1;
            files_bytes += e.size;
        }
    }
    let c = source.config.platform();
    let platform = match &c.variant {
        Some(v) => format!("{}/{}/{v}", c.os, c.architecture),
        None => format!("{}/{}", c.os, c.architecture),
    };
    Analysis {
        image: source.name.clone(),
        id: source.id.clone(),
        platform,
        size_bytes: dive.size_bytes,
        user_size_bytes: dive.user_size_bytes,
        efficiency: dive.efficiency,
        wasted_bytes: dive.wasted_bytes,
        user_wasted_percent: dive.user_wasted_ratio * 100.0,
        user_wasted_ratio: dive.user_wasted_ratio,
        tar_size_bytes: scans.iter().map(|s| s.tar_size).sum(),
        compressed_size_bytes: compressed.iter().copied().sum(),
        files,
        files_bytes,
        layers,
        inefficiencies: dive.inefficiencies,
        dive_cut_short: dive.cut_short,
        findings,
        suggestions,
        tree,
        deltas,
        scans,
    }
}

#[allow(clippy::too_many_arguments)]
fn layer_report(
    index: usize,
    scan: &LayerScan,
    entries: &[&[LayerEntry]],
    delta: &LayerDelta,
    history: LayerHistory,
    compressed: Option<u64>,
    dive: &DiveNumbers,
    options: &AnalyzeOptions,
) -> LayerReport {
    let (mut added, mut modified, mut removed, mut metadata_only) =
        (ChangeCount::default(), ChangeCount::default(), ChangeCount::default(), ChangeCount::default());
    for (e, status) in scan.entries.iter().zip(&delta.statuses) {
        if e.kind == FileKind::Dir {
            continue;
        }
        let old_size = |p: crate::tree::EntryRef| entries[p.layer][p.index].size;
        match *status {
            EntryStatus::Added => {
                added.files += 1;
                added.bytes += e.size;
            }
            EntryStatus::Modified { previous } => {
                modified.files += 1;
                modified.bytes += old_size(previous);
            }
            EntryStatus::MetadataOnly { previous } => {
                metadata_only.files += 1;
                metadata_only.bytes += old_size(previous);
            }
            EntryStatus::Unchanged { .. } | EntryStatus::Deletion => {}
        }
    }
    for r in delta.removed.iter().filter(|r| !r.replaced) {
        removed.files += 1;
        removed.bytes += r.size;
    }
    let mut largest: Vec<PathSize> = scan
        .entries
        .iter()
        .filter(|e| e.kind == FileKind::File)
        .map(|e| PathSize { path: format!("/{}", e.path), size: e.size })
        .collect();
    largest.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.path.cmp(&b.path)));
    largest.truncate(options.largest);
    let LayerHistory { origin, created, command } = history;
    LayerReport {
        index,
        diff_id: scan.diff_id.clone(),
        size_bytes: dive.layer_sizes[index],
        tar_size_bytes: scan.tar_size,
        compressed_size_bytes: compressed,
        created_by: origin.created_by,
        command,
        created,
        location: origin.location,
        entries: scan.entries.len() as u64,
        added,
        modified,
        removed,
        metadata_only,
        largest,
    }
}
