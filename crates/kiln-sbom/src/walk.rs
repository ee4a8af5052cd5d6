//! The layer walker: one pass over an image's layers that feeds every entry to several [`LayerVisitor`]s,
//! reading each file's content at most once, however many visitors want it.
//!
//! Each layer is read once, through [`kiln_layer::visit_layer`] (which also checks the DiffID). For every
//! regular file the walker reads its first [`HEAD_LEN`] bytes and asks each visitor
//! ([`LayerVisitor::wants`]) how much of it it needs, given the entry and those bytes (a binary cataloger
//! sniffs ELF magic, a secrets scanner sniffs text); the largest answer is read into one reused buffer and
//! every visitor gets the entry with it ([`LayerVisitor::visit`]). Content nobody wants is skipped by the
//! tar reader without copying.
//!
//! Layers are independent until they are merged, so [`walk_image`] walks them in parallel (rayon), one
//! visitor set per layer, and returns them in layer order for the caller's merge step (the cataloger's is
//! in `merge`). Another scanner (secrets, audit) rides on the same pass by implementing [`LayerVisitor`]
//! (in the CLI, an adapter around its own per-entry API) and being put in the same visitor set with
//! [`Visitors`]: `kiln scan` then reads each layer once for SBOM, secrets and audit together.

use std::io::Read;

pub use kiln_layer::{Entry, EntryKind};
use kiln_oci::Digest;
use rayon::prelude::*;

use crate::SbomError;
use crate::image::ImageSource;

/// How many bytes of each regular file visitors see before they say what they want.
pub const HEAD_LEN: usize = 4096;

/// What a visitor wants of a regular file, after seeing its entry and first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Want {
    /// Nothing more than the head (and a [`LayerVisitor::visit`] call with it).
    Head,
    /// Up to this many bytes of content (a limit protects against huge files).
    UpTo(u64),
}

/// A file's content as given to [`LayerVisitor::visit`].
#[derive(Debug, Clone, Copy)]
pub struct Content<'a> {
    /// The bytes read: the whole file, or its first bytes (see [`Content::complete`]).
    pub bytes: &'a [u8],
    /// True when `bytes` is the whole file.
    pub complete: bool,
}

/// A consumer of one layer's entries.
pub trait LayerVisitor {
    /// For a regular file: how much content this visitor needs, given its entry and first bytes
    /// (`head` is shorter than [`HEAD_LEN`] only when the file is).
    fn wants(&mut self, entry: &Entry, head: &[u8]) -> Want;

    /// Called for every entry of the layer, in tar order, including directories, links and whiteouts
    /// (with empty content). For regular files, `content` holds as much as the most demanding visitor
    /// wanted (at least the head).
    fn visit(&mut self, entry: &Entry, content: Content<'_>) -> Result<(), SbomError>;
}

/// Several visitors fed by one pass (e.g. the SBOM cataloger and a secrets scanner).
pub struct Visitors<'a>(pub Vec<&'a mut dyn LayerVisitor>);

impl LayerVisitor for Visitors<'_> {
    fn wants(&mut self, entry: &Entry, head: &[u8]) -> Want {
        self.0.iter_mut().map(|v| v.wants(entry, head)).max().unwrap_or(Want::Head)
    }

    fn visit(&mut self, entry: &Entry, content: Content<'_>) -> Result<(), SbomError> {
        self.0.iter_mut().try_for_each(|v| v.visit(entry, content))
    }
}

/// Identifies the layer a visitor set is made for.
#[derive(Debug, Clone)]
pub struct LayerRef {
    /// Index in the image, base first.
    pub index: usize,
    /// DiffID.
    pub diff_id: Digest,
}

/// Feeds every entry of one layer tar (plain, gzip or zstd) to `visitor`; returns the DiffID and size the
/// stream hashed to. `layer` names the layer in errors.
pub fn walk_layer<R: Read>(
    reader: R,
    layer: &LayerRef,
    visitor: &mut dyn LayerVisitor,
) -> Result<kiln_layer::LayerInfo, SbomError> {
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut inner: Option<SbomError> = None;
    let result = kiln_layer::visit_layer(reader, |entry, content| {
        let outcome = visit_entry(entry, content, &mut buf, visitor);
        match outcome {
            Ok(()) => Ok(()),
            Err(VisitError::Io(source)) => Err(kiln_layer::LayerError::MemberIo {
                member: entry.path.clone(),
                action: "reading its content".into(),
                source,
            }),
            Err(VisitError::Visitor(e)) => {
                inner = Some(e);
                Err(kiln_layer::LayerError::Member {
                    member: entry.path.clone(),
                    reason: "cataloging stopped".into(),
                })
            }
        }
    });
    match (result, inner) {
        (_, Some(e)) => Err(e),
        (Ok(info), None) => Ok(info),
        (Err(source), None) => {
            Err(SbomError::Layer { index: layer.index, diff_id: layer.diff_id.clone(), source })
        }
    }
}

enum VisitError {
    Io(std::io::Error),
    Visitor(SbomError),
}

fn visit_entry(
    entry: &Entry,
    content: &mut dyn Read,
    buf: &mut Vec<u8>,
    visitor: &mut dyn LayerVisitor,
) -> Result<(), VisitError> {
    buf.clear();
    if entry.kind != EntryKind::File {
        return visitor.visit(entry, Content { bytes: &[], complete: true }).map_err(VisitError::Visitor);
    }
    let head_len = (entry.size as usize).min(HEAD_LEN);
    read_up_to(content, buf, head_len as u64).map_err(VisitError::Io)?;
    let mut complete = buf.len() as u64 >= entry.size;
    if !complete && let Want::UpTo(limit) = visitor.wants(entry, buf) {
        let limit = limit.min(entry.size);
        if limit > buf.len() as u64 {
            buf.reserve((limit as usize).saturating_sub(buf.len()));
            let more = limit - buf.len() as u64;
            read_up_to(content, buf, more).map_err(VisitError::Io)?;
        }
        complete = buf.len() as u64 >= entry.size;
    }
    visitor.visit(entry, Content { bytes: buf, complete }).map_err(VisitError::Visitor)
}

/// Appends up to `n` bytes of `reader` to `buf` (fewer only at end of stream).
fn read_up_to(reader: &mut dyn Read, buf: &mut Vec<u8>, n: u64) -> std::io::Result<()> {
    reader.take(n).read_to_end(buf).map(|_| ())
}

/// Walks every layer of `image` once, in parallel, with a visitor set made by `make` for each layer;
/// returns the visitor sets in layer order. A layer whose content does not match its DiffID is an error.
pub fn walk_image<V, F>(image: &ImageSource, make: F) -> Result<Vec<V>, SbomError>
where
    V: LayerVisitor + Send,
    F: Fn(&LayerRef) -> V + Sync,
{
    let layers: Vec<LayerRef> = image
        .diff_ids()
        .iter()
        .enumerate()
        .map(|(index, diff_id)| LayerRef { index, diff_id: diff_id.clone() })
        .collect();
    layers
        .par_iter()
        .map(|layer| {
            let mut visitor = make(layer);
            let file = image.open_layer(layer)?;
            let reader = std::io::BufReader::with_capacity(256 * 1024, file);
            let info = walk_layer(reader, layer, &mut visitor)?;
            if info.diff_id != layer.diff_id {
                return Err(SbomError::DiffIdMismatch {
                    index: layer.index,
                    expected: layer.diff_id.clone(),
                    actual: info.diff_id,
                });
            }
            Ok(visitor)
        })
        .collect()
}
