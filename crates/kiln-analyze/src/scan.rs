//! One pass over each layer: [`scan_layer`] turns a layer tar into a [`LayerScan`], the compact list of its
//! entries (path, kind, size, owner, mode, content hash) that everything else in this crate works from.
//!
//! Layers are read once, through `kiln_layer::visit_layer` (which also hashes the stream into its DiffID,
//! so a corrupt or substituted layer is caught on the way), or, for store blobs whose DiffID the store
//! verified when writing them, through `kiln_layer::visit` without hashing ([`scan_verified_layer`]; see
//! [`crate::source`] for why that is safe). File contents are hashed with XXH3-128: the
//! hash only says whether two files hold the same bytes (a rewrite that changed nothing, a duplicate), so
//! a fast non-cryptographic hash is the right tool; sha256 would double the cost of a scan.

use std::io::Read;

use kiln_layer::{Entry, EntryKind, LayerError};
use kiln_oci::Digest;
use xxhash_rust::xxh3::Xxh3;

/// Read buffer for hashing file contents.
const HASH_BUF: usize = 256 * 1024;

/// What a layer entry is (link targets and device numbers are kept in [`LayerEntry::link`] or dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// A hard link to an earlier member of the same layer.
    Hardlink,
    /// A character or block device.
    Device,
    /// A named pipe.
    Fifo,
    /// A whiteout: the path is deleted from lower layers.
    Whiteout,
    /// An opaque-directory marker: the lower layers' content of the directory is hidden.
    Opaque,
}

impl FileKind {
    /// One character for listings: `-`, `d`, `l`, `h`, `c`, `p`, `w`, `o`.
    pub fn symbol(self) -> char {
        match self {
            FileKind::File => '-',
            FileKind::Dir => 'd',
            FileKind::Symlink => 'l',
            FileKind::Hardlink => 'h',
            FileKind::Device => 'c',
            FileKind::Fifo => 'p',
            FileKind::Whiteout => 'w',
            FileKind::Opaque => 'o',
        }
    }
}

/// One member of a layer, as the analysis needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerEntry {
    /// Normalized path without a leading `/` (the deleted path for whiteouts, the directory for opaque
    /// markers; empty for the layer root).
    pub path: Box<str>,
    /// What the member is.
    pub kind: FileKind,
    /// Symlink or hardlink target.
    pub link: Option<Box<str>>,
    /// Content length of a regular file (the logical size of a sparse one); 0 otherwise.
    pub size: u64,
    /// Permission bits.
    pub mode: u32,
    /// Numeric owner.
    pub uid: u32,
    /// Numeric group.
    pub gid: u32,
    /// XXH3-128 of a regular file's content; 0 for everything else.
    pub hash: u128,
}

impl LayerEntry {
    /// An entry with no content, for building test trees and fixtures.
    pub fn new(path: &str, kind: FileKind, size: u64) -> Self {
        LayerEntry {
            path: path.into(),
            kind,
            link: None,
            size,
            mode: if kind == FileKind::Dir { 0o755 } else { 0o644 },
            uid: 0,
            gid: 0,
            hash: 0,
        }
    }

    /// Same kind, content, link, mode and owner: a rewrite of this entry that changes nothing.
    pub fn same_as(&self, other: &LayerEntry) -> bool {
        self.same_content(other) && self.mode == other.mode && self.uid == other.uid && self.gid == other.gid
    }

    /// Same kind, content and link target (mode and owner may differ).
    pub fn same_content(&self, other: &LayerEntry) -> bool {
        self.kind == other.kind
            && self.size == other.size
            && self.hash == other.hash
            && self.link == other.link
    }
}

/// Everything read from one layer.
#[derive(Debug, Clone)]
pub struct LayerScan {
    /// The members in tar order (whiteouts decoded, the layer root skipped).
    pub entries: Vec<LayerEntry>,
    /// The layer's DiffID, computed while reading.
    pub diff_id: Digest,
    /// Length of the uncompressed tar stream.
    pub tar_size: u64,
}

/// Reads a (possibly compressed) layer tar once into a [`LayerScan`].
pub fn scan_layer(reader: impl Read) -> Result<LayerScan, LayerError> {
    let (entries, info) = collect(|f| kiln_layer::visit_layer(reader, f))?;
    Ok(LayerScan { entries, diff_id: info.diff_id, tar_size: info.size })
}

/// Reads a layer already known to be `diff_id` (an uncompressed store blob of `tar_size` bytes, see
/// [`crate::LayerBlob::verified`]) into a [`LayerScan`] without hashing the stream again.
pub fn scan_verified_layer(
    reader: impl Read,
    diff_id: &Digest,
    tar_size: u64,
) -> Result<LayerScan, LayerError> {
    let (entries, ()) = collect(|f| kiln_layer::visit(reader, f))?;
    Ok(LayerScan { entries, diff_id: diff_id.clone(), tar_size })
}

/// The entries a layer visit hands to its closure, and what the visit returns.
fn collect<T>(
    visit: impl FnOnce(&mut dyn FnMut(&Entry, &mut dyn Read) -> Result<(), LayerError>) -> Result<T, LayerError>,
) -> Result<(Vec<LayerEntry>, T), LayerError> {
    let mut entries = Vec::new();
    let mut buf = vec![0u8; HASH_BUF];
    let out = visit(&mut |entry, content| {
        if let Some(e) = convert(entry, content, &mut buf)? {
            entries.push(e);
        }
        Ok(())
    })?;
    Ok((entries, out))
}

fn convert(entry: &Entry, content: &mut dyn Read, buf: &mut [u8]) -> Result<Option<LayerEntry>, LayerError> {
    if entry.path.is_empty() && entry.kind == EntryKind::Dir {
        return Ok(None);
    }
    let (kind, link) = match &entry.kind {
        EntryKind::File => (FileKind::File, None),
        EntryKind::Dir => (FileKind::Dir, None),
        EntryKind::Symlink { target } => (FileKind::Symlink, Some(target.as_str().into())),
        EntryKind::Hardlink { target } => (FileKind::Hardlink, Some(target.as_str().into())),
        EntryKind::CharDevice { .. } | EntryKind::BlockDevice { .. } => (FileKind::Device, None),
        EntryKind::Fifo => (FileKind::Fifo, None),
        EntryKind::Whiteout => (FileKind::Whiteout, None),
        EntryKind::OpaqueDir => (FileKind::Opaque, None),
    };
    let hash = if kind == FileKind::File { hash_content(content, buf, &entry.path)? } else { 0 };
    Ok(Some(LayerEntry {
        path: entry.path.as_str().into(),
        kind,
        link,
        size: entry.size,
        mode: entry.mode,
        uid: entry.uid,
        gid: entry.gid,
        hash,
    }))
}

fn hash_content(content: &mut dyn Read, buf: &mut [u8], path: &str) -> Result<u128, LayerError> {
    let mut hasher = Xxh3::new();
    loop {
        match content.read(buf) {
            Ok(0) => return Ok(hasher.digest128()),
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(source) => {
                return Err(LayerError::MemberIo {
                    member: path.to_owned(),
                    action: "reading its content".into(),
                    source,
                });
            }
        }
    }
}
