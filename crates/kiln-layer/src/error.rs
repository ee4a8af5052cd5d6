//! [`LayerError`]: everything that can go wrong reading, applying, writing or compressing a layer; every
//! variant about a tar member names the member.

use std::io;
use std::path::PathBuf;

/// Why a layer could not be read, applied, written or compressed.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    /// The layer stream could not be read outside any member (its first bytes, or after the last member).
    #[error("reading the layer stream {context}: {source}")]
    Stream {
        /// Where in the stream (e.g. "after the end of the archive").
        context: &'static str,
        /// The error (I/O, or corrupt/truncated gzip or zstd data).
        source: io::Error,
    },
    /// A tar header (or the header chain of GNU/PAX extensions before a member) is malformed or truncated.
    #[error("tar header at byte {offset} (name field {name:?}{}): {reason}", after(.previous))]
    Header {
        /// Offset of the header in the uncompressed stream.
        offset: u64,
        /// The raw name field of that header, as far as it could be read.
        name: String,
        /// The last member read successfully before it.
        previous: Option<String>,
        /// What is wrong.
        reason: String,
    },
    /// A member is malformed or hostile (a path leaving the root, a bad whiteout, an unsupported type)
    /// and was rejected.
    #[error("tar member {member:?}: {reason}")]
    Member {
        /// The member's path as stored in the tar.
        member: String,
        /// Why it was rejected.
        reason: String,
    },
    /// Reading a member's data or creating it on disk failed (truncated data, corrupt compression, I/O).
    #[error("tar member {member:?}: {action}: {source}")]
    MemberIo {
        /// The member's path.
        member: String,
        /// What was being done.
        action: String,
        /// The error.
        source: io::Error,
    },
    /// A device node (or an overlay whiteout, which is a 0/0 character device) could not be created
    /// because the process lacks `CAP_MKNOD`.
    #[error("tar member {member:?}: creating a {what} needs root (CAP_MKNOD): {source}")]
    DeviceNotPermitted {
        /// The member's path.
        member: String,
        /// "character device", "block device" or "overlay whiteout".
        what: &'static str,
        /// The error from mknod.
        source: io::Error,
    },
    /// The visitor callback given to [`crate::visit`] failed.
    #[error("tar member {member:?}: {source}")]
    Visit {
        /// The member being visited.
        member: String,
        /// The callback's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The directory to apply a layer onto could not be opened.
    #[error("{}: cannot apply a layer here: {source}", .root.display())]
    Root {
        /// The target directory.
        root: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// A file of the tree being written as a layer could not be read.
    #[error("{}: {action}: {source}", .path.display())]
    Tree {
        /// The host path.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// The error.
        source: io::Error,
    },
    /// A file of the tree cannot be represented in a layer.
    #[error("{}: {reason}", .path.display())]
    Unrepresentable {
        /// The host path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Writing the output (the tar or the compressed blob) failed.
    #[error("writing the {what}: {source}")]
    Output {
        /// "layer tar" or "compressed layer".
        what: &'static str,
        /// The error.
        source: io::Error,
    },
    /// The compression options are invalid.
    #[error("invalid compression options: {reason}")]
    Options {
        /// What is wrong.
        reason: String,
    },
    /// The layer uses a compression kiln does not read.
    #[error("unsupported layer compression {format}; kiln reads plain tar, gzip and zstd")]
    UnsupportedCompression {
        /// "xz" or "bzip2".
        format: &'static str,
    },
}

fn after(previous: &Option<String>) -> String {
    match previous {
        Some(p) => format!(", after member {p:?}"),
        None => String::new(),
    }
}

impl LayerError {
    /// Wraps an error of a [`crate::visit`] callback, naming the member it happened on.
    pub fn visit(member: &str, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        LayerError::Visit { member: member.to_owned(), source: source.into() }
    }

    /// The member this error is about, when it is about one.
    pub fn member(&self) -> Option<&str> {
        match self {
            LayerError::Member { member, .. }
            | LayerError::MemberIo { member, .. }
            | LayerError::DeviceNotPermitted { member, .. }
            | LayerError::Visit { member, .. } => Some(member),
            LayerError::Header { name, .. } => Some(name),
            _ => None,
        }
    }
}
