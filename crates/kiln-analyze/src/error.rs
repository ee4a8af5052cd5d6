//! [`AnalyzeError`]: every way opening, reading, analyzing or rendering an image fails, each naming its
//! object (the archive and member, the layer and its DiffID, the config file and key).

use std::io;
use std::path::PathBuf;

use kiln_oci::Digest;

/// Why an image could not be analyzed or a report could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    /// A file or archive member could not be read.
    #[error("{object}: {action}: {source}")]
    Io {
        /// The path, or `archive:member`.
        object: String,
        /// What was being done.
        action: &'static str,
        /// The error.
        source: io::Error,
    },
    /// An image source is malformed (a missing member, a bad manifest, an unknown reference).
    #[error("{object}: {reason}")]
    Invalid {
        /// The archive, layout, member or blob.
        object: String,
        /// What is wrong.
        reason: String,
    },
    /// JSON in an image (manifest, index, config) does not parse.
    #[error("{object}: {source}")]
    Json {
        /// The file or member.
        object: String,
        /// The parse error.
        source: serde_json::Error,
    },
    /// The local store failed.
    #[error("{context}: {source}")]
    Store {
        /// What was being looked up.
        context: String,
        /// The store's error.
        source: Box<kiln_store::StoreError>,
    },
    /// A layer tar could not be read.
    #[error("layer {index} ({diff_id}) of {image}: {source}")]
    Layer {
        /// The image as named.
        image: String,
        /// The layer's index, base first.
        index: usize,
        /// Its DiffID as the config names it.
        diff_id: Digest,
        /// The layer codec's error (names the tar member).
        source: Box<kiln_layer::LayerError>,
    },
    /// A layer's content does not hash to the DiffID the config names.
    #[error("layer {index} of {image}: DiffID mismatch: the config says {expected}, the content is {actual}")]
    DiffIdMismatch {
        /// The image as named.
        image: String,
        /// The layer's index.
        index: usize,
        /// The config's DiffID.
        expected: Digest,
        /// The digest of the content read.
        actual: Digest,
    },
    /// A CI configuration (`.dive-ci` or a gate flag) is invalid.
    #[error("{origin}: {key}: {reason}")]
    CiConfig {
        /// The file path, or "command line".
        origin: String,
        /// The rule key (`lowestEfficiency`, ...).
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// The HTML report template failed to render.
    #[error("rendering the HTML report: {0}")]
    Template(#[source] minijinja::Error),
    /// The interactive view could not drive the terminal.
    #[error("terminal: {action}: {source}")]
    Terminal {
        /// What was being done.
        action: &'static str,
        /// The error.
        source: io::Error,
    },
}

impl AnalyzeError {
    pub(crate) fn io(object: impl Into<PathBuf>, action: &'static str, source: io::Error) -> Self {
        AnalyzeError::Io { object: object.into().display().to_string(), action, source }
    }

    pub(crate) fn invalid(object: impl Into<String>, reason: impl Into<String>) -> Self {
        AnalyzeError::Invalid { object: object.into(), reason: reason.into() }
    }

    pub(crate) fn store(context: impl Into<String>, source: kiln_store::StoreError) -> Self {
        AnalyzeError::Store { context: context.into(), source: Box::new(source) }
    }
}

/// Result type of this crate.
pub type Result<T, E = AnalyzeError> = std::result::Result<T, E>;
