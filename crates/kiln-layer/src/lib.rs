//! kiln's layer tar codec: the one place that reads, unpacks and writes OCI/Docker layer tarballs.
//!
//! A layer is a tar stream (plain, gzip or zstd) of [`Entry`]s. This crate turns one into the other, and
//! nothing else touches tar bytes:
//!
//! - [`visit`] streams every entry of a layer once, with a reader of its content; one pass can feed many
//!   consumers (analyze, SBOM, secrets), and nothing is buffered beyond one tar header chain
//!   ([`visit_layer`] also returns the DiffID, hashed on the way);
//! - [`apply`] unpacks a layer into a directory, whiteouts included, without ever writing outside it,
//!   whatever the tar says;
//! - [`write_tree`] writes a directory (a rootfs, or an overlayfs upper dir) as a reproducible tar, returning
//!   its DiffID; [`write_tree_compressed`] compresses it on the fly, giving DiffID and blob digest in one pass;
//! - [`compress`], [`decompress`] and [`diff_id`] handle the gzip/zstd wrapping (detected by magic bytes,
//!   never by media type); [`copy_large`] moves a layer stream (a decompressor into a blob) in large pieces.
//!
//! The format choices (entry order, PAX use, whiteout spelling) are documented in the `write` module; the
//! safety model of unpacking in the `apply` module.

mod apply;
mod compress;
mod copy;
mod error;
mod gunzip;
mod gzip;
mod read;
mod write;

use std::collections::BTreeMap;

pub use apply::{ApplyOptions, ApplyStats, WhiteoutMode, apply};
pub use compress::{BlobInfo, CompressOptions, compress, decompress, diff_id};
pub use copy::{copy_large, read_full};
pub use error::LayerError;
pub use kiln_oci::Compression;
pub use read::{visit, visit_layer};
pub use write::{TreeSource, WriteOptions, write_tree, write_tree_compressed};

/// The name prefix that marks a whiteout entry (`dir/.wh.name` deletes `dir/name` of lower layers).
pub const WHITEOUT_PREFIX: &str = ".wh.";
/// The name of the entry that marks its directory opaque (lower layers' content of it is hidden).
pub const OPAQUE_WHITEOUT: &str = ".wh..wh..opq";

/// One member of a layer, with its path normalized and whiteouts decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Relative, normalized path: no leading `/` or `./`, no `.` or `..` components, no trailing `/`.
    /// The layer root itself (a `./` member) is the empty string. Names that are not UTF-8 are shown
    /// lossily here; [`apply`] uses the exact bytes.
    pub path: String,
    /// What the member is.
    pub kind: EntryKind,
    /// Permission bits, including setuid, setgid and sticky (`mode & 0o7777`).
    pub mode: u32,
    /// Numeric owner.
    pub uid: u32,
    /// Numeric group.
    pub gid: u32,
    /// Content length in bytes for [`EntryKind::File`] (the logical size for sparse files); 0 otherwise.
    pub size: u64,
    /// Modification time, seconds since the Unix epoch.
    pub mtime: i64,
    /// Extended attributes from PAX `SCHILY.xattr.*` records (e.g. `security.capability`).
    pub xattrs: BTreeMap<String, Vec<u8>>,
}

/// The type of a layer member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file; its content follows.
    File,
    /// A directory.
    Dir,
    /// A symbolic link, with its target exactly as stored (may be absolute or contain `..`).
    Symlink {
        /// The link target.
        target: String,
    },
    /// A hard link to an earlier member.
    Hardlink {
        /// The normalized path of the member linked to.
        target: String,
    },
    /// A character device node.
    CharDevice {
        /// Device major number.
        major: u32,
        /// Device minor number.
        minor: u32,
    },
    /// A block device node.
    BlockDevice {
        /// Device major number.
        major: u32,
        /// Device minor number.
        minor: u32,
    },
    /// A named pipe.
    Fifo,
    /// A whiteout: [`Entry::path`] is the path deleted from lower layers (the member was `dir/.wh.name`).
    Whiteout,
    /// An opaque-directory marker: [`Entry::path`] is the directory whose lower-layer content is hidden
    /// (the member was `dir/.wh..wh..opq`).
    OpaqueDir,
}

/// The DiffID of an uncompressed layer tar and its size in bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerInfo {
    /// sha256 of the uncompressed tar stream.
    pub diff_id: kiln_oci::Digest,
    /// Length of the uncompressed tar stream.
    pub size: u64,
}
