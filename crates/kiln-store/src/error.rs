//! [`StoreError`]: every way a store operation fails, each naming its object (path, digest, image,
//! archive member).

use std::path::PathBuf;

use kiln_oci::Digest;

/// An error from the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A filesystem operation failed; `context` says what was being done to which path.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, with the path.
        context: String,
        /// The error.
        source: std::io::Error,
    },
    /// The metadata database failed.
    #[error("store database: {context}: {source}")]
    Db {
        /// The operation.
        context: String,
        /// The SQLite error.
        source: rusqlite::Error,
    },
    /// Content did not hash to the digest it was named by.
    #[error("{object}: digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// What was verified (blob, layer, member).
        object: String,
        /// The digest it was named by.
        expected: Digest,
        /// The digest of the bytes read.
        actual: Digest,
    },
    /// Content did not have the size it was declared with.
    #[error("{object}: size mismatch: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        /// What was verified.
        object: String,
        /// The declared size.
        expected: u64,
        /// The bytes read (stops at expected + 1 for oversized content).
        actual: u64,
    },
    /// A blob the operation needs is not in the store.
    #[error("blob {0} is not in the store")]
    BlobNotFound(Digest),
    /// No image matches what the user named.
    #[error("image {0:?} not found in the store")]
    ImageNotFound(String),
    /// An image ID prefix matches several images.
    #[error("image ID {id:?} is ambiguous: it matches {count} images")]
    AmbiguousId {
        /// The prefix.
        id: String,
        /// How many images match.
        count: usize,
    },
    /// Removing an image by ID that several references point to needs `force`.
    #[error("image {id} is referenced by {refs}; remove the references or use --force")]
    Conflict {
        /// The image ID.
        id: String,
        /// Its references, comma-separated.
        refs: String,
    },
    /// JSON (manifest, config, index) did not parse.
    #[error("{object}: invalid JSON: {source}")]
    Json {
        /// What was parsed.
        object: String,
        /// The parser's error.
        source: serde_json::Error,
    },
    /// An image, archive or layout is well-formed JSON but not a valid image.
    #[error("{object}: {reason}")]
    Invalid {
        /// The object (archive path and member, blob digest, ...).
        object: String,
        /// What is wrong.
        reason: String,
    },
    /// Filling a snapshot failed.
    #[error("snapshot {chain_id}: {source}")]
    Snapshot {
        /// The snapshot's chain ID.
        chain_id: Digest,
        /// The fill error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl StoreError {
    /// An I/O error with context.
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        StoreError::Io { context: context.into(), source }
    }

    /// An invalid-object error.
    pub(crate) fn invalid(object: impl Into<String>, reason: impl Into<String>) -> Self {
        StoreError::Invalid { object: object.into(), reason: reason.into() }
    }

    /// A JSON error.
    pub(crate) fn json(object: impl Into<String>, source: serde_json::Error) -> Self {
        StoreError::Json { object: object.into(), source }
    }
}

/// An I/O error at a path.
pub(crate) fn path_err(
    doing: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.into();
    move |e| StoreError::io(format!("{doing} {}", path.display()), e)
}
