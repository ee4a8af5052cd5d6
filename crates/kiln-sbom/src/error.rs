//! [`SbomError`]: why an image could not be opened, read or cataloged; each variant names its object
//! (image, layer, or file inside a layer).

use kiln_oci::Digest;

/// Why cataloging failed. A malformed package database does not fail the catalog: it is reported as a
/// [`crate::Warning`] naming the file, and the rest of the image is cataloged.
#[derive(Debug, thiserror::Error)]
pub enum SbomError {
    /// The image could not be found or opened in the store or its transport.
    #[error("image {image}: {source}")]
    Open {
        /// The image as named.
        image: String,
        /// The store's error.
        source: kiln_store::StoreError,
    },
    /// A layer blob could not be opened.
    #[error("layer {index} ({diff_id}): {source}")]
    LayerOpen {
        /// Index in the image, base first.
        index: usize,
        /// Its DiffID.
        diff_id: Digest,
        /// The store's error.
        source: kiln_store::StoreError,
    },
    /// A layer tar could not be read.
    #[error("layer {index} ({diff_id}): {source}")]
    Layer {
        /// Index in the image, base first.
        index: usize,
        /// Its DiffID.
        diff_id: Digest,
        /// The tar reader's error (names the member).
        source: kiln_layer::LayerError,
    },
    /// A layer's content does not hash to the DiffID the config names.
    #[error("layer {index}: content hashes to {actual}, the config says {expected}")]
    DiffIdMismatch {
        /// Index in the image.
        index: usize,
        /// The config's DiffID.
        expected: Digest,
        /// What the content hashed to.
        actual: Digest,
    },
    /// Writing an output failed.
    #[error("writing the {format} output: {source}")]
    Write {
        /// The format being written.
        format: &'static str,
        /// The error.
        source: std::io::Error,
    },
    /// Serializing an output failed.
    #[error("serializing the {format} output: {source}")]
    Serialize {
        /// The format being written.
        format: &'static str,
        /// The error.
        source: serde_json::Error,
    },
}
