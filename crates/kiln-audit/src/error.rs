//! [`AuditError`]: why an image could not be audited; each variant names the layer (index and DiffID).

use kiln_oci::Digest;

/// Why an audit failed.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// A layer blob could not be opened from the store.
    #[error("layer {index} ({diff_id}): opening its blob: {source}")]
    LayerOpen {
        /// Index of the layer, base first.
        index: usize,
        /// Its DiffID.
        diff_id: Digest,
        /// The store's error.
        source: kiln_store::StoreError,
    },
    /// A layer could not be read (corrupt tar, I/O error); the error names the member.
    #[error("layer {index} ({diff_id}): {source}")]
    Layer {
        /// Index of the layer, base first.
        index: usize,
        /// Its DiffID.
        diff_id: Digest,
        /// The layer codec's error.
        source: kiln_layer::LayerError,
    },
}
