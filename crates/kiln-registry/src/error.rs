//! [`RegistryError`]: every way talking to a registry fails, each naming its object (registry, repository,
//! digest, URL) and, for HTTP failures, the registry's own error code and message.

use kiln_oci::Digest;
use kiln_store::StoreError;

/// An error from a registry operation.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The registry answered with an unexpected HTTP status.
    #[error("{what}: {method} {url}: HTTP {status}{}", detail_suffix(detail))]
    Status {
        /// What was being done (`pulling manifest localhost:5000/app:v1`).
        what: String,
        /// The request method.
        method: String,
        /// The request URL (without credentials).
        url: String,
        /// The HTTP status code.
        status: u16,
        /// The registry's error codes and messages, if it sent any.
        detail: String,
    },
    /// The registry (or its token service) refused the credentials, or needs some.
    #[error("{registry}: {reason}")]
    Unauthorized {
        /// The registry host.
        registry: String,
        /// What went wrong and what to do about it.
        reason: String,
    },
    /// The credentials are valid but not allowed to do this (HTTP 403).
    #[error("{what}: access denied by {registry}{}", detail_suffix(detail))]
    Denied {
        /// What was being done.
        what: String,
        /// The registry host.
        registry: String,
        /// The registry's message.
        detail: String,
    },
    /// The manifest, tag, repository or blob does not exist.
    #[error("{what}: not found{}", detail_suffix(detail))]
    NotFound {
        /// What was looked up.
        what: String,
        /// The registry's message.
        detail: String,
    },
    /// The connection failed, timed out or was cut.
    #[error("{what}: {method} {url}: {source}")]
    Network {
        /// What was being done.
        what: String,
        /// The request method.
        method: String,
        /// The request URL.
        url: String,
        /// The transport error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Content from the registry did not hash to the digest it was named by.
    #[error("{object}: digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// The blob or manifest, with where it came from.
        object: String,
        /// The digest it was named by.
        expected: Digest,
        /// The digest of the bytes received.
        actual: Digest,
    },
    /// Content from the registry did not have its declared size.
    #[error("{object}: size mismatch: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        /// The blob or manifest.
        object: String,
        /// The declared size.
        expected: u64,
        /// The bytes received (stops one past the declared size).
        actual: u64,
    },
    /// A manifest, index, config or token response is not what the protocol allows.
    #[error("{object}: {reason}")]
    Invalid {
        /// What was parsed (with its digest or URL).
        object: String,
        /// What is wrong.
        reason: String,
    },
    /// An index has no manifest for the wanted platform.
    #[error("{reference}: no image for platform {wanted} (the index has: {available})")]
    NoMatchingPlatform {
        /// The reference.
        reference: String,
        /// The wanted platform.
        wanted: String,
        /// The platforms the index lists, comma-separated.
        available: String,
    },
    /// Plain HTTP or an unverified certificate was needed but the host is not allowed to use them.
    #[error(
        "{host}: {reason}; kiln uses plain HTTP only with localhost and hosts given with \
         --insecure-registry, and skips certificate checks only for the latter"
    )]
    Insecure {
        /// The registry host.
        host: String,
        /// What failed.
        reason: String,
    },
    /// The operation was retried and kept failing.
    #[error("{what}: giving up after {attempts} attempts: {last}")]
    Exhausted {
        /// What was being done.
        what: String,
        /// How many attempts were made.
        attempts: u32,
        /// The last attempt's error.
        last: Box<RegistryError>,
    },
    /// Reading or writing credentials (`config.json`, a credential helper) failed.
    #[error("credentials: {context}: {reason}")]
    Credentials {
        /// The file or helper involved.
        context: String,
        /// What went wrong.
        reason: String,
    },
    /// A local file (certificate, key) could not be read.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, with the path.
        context: String,
        /// The error.
        source: std::io::Error,
    },
    /// The local store failed.
    #[error("{context}: {source}")]
    Store {
        /// What was being done.
        context: String,
        /// The store's error.
        source: StoreError,
    },
    /// The operation stopped because a parallel part of it failed (that failure is the one reported).
    #[error("cancelled")]
    Cancelled,
    /// The user's request cannot be carried out as given (bad option, unsupported combination).
    #[error("{0}")]
    Usage(String),
}

fn detail_suffix(detail: &str) -> String {
    if detail.is_empty() { String::new() } else { format!(": {detail}") }
}

impl RegistryError {
    /// A store error with context.
    pub(crate) fn store(context: impl Into<String>) -> impl FnOnce(StoreError) -> RegistryError {
        let context = context.into();
        move |source| RegistryError::Store { context, source }
    }

    /// An invalid-object error.
    pub(crate) fn invalid(object: impl Into<String>, reason: impl Into<String>) -> RegistryError {
        RegistryError::Invalid { object: object.into(), reason: reason.into() }
    }

    /// True when trying again may succeed: network failures, server errors (5xx), rate limits (429) and
    /// content that arrived damaged (digest or size mismatch, a broken compressed stream).
    pub fn is_transient(&self) -> bool {
        match self {
            RegistryError::Network { .. } => true,
            RegistryError::Status { status, .. } => *status >= 500 || *status == 429 || *status == 408,
            RegistryError::DigestMismatch { .. } | RegistryError::SizeMismatch { .. } => true,
            RegistryError::Store { source: StoreError::DigestMismatch { .. }, .. }
            | RegistryError::Store { source: StoreError::SizeMismatch { .. }, .. } => true,
            _ => false,
        }
    }
}

/// Result type of registry operations.
pub type Result<T, E = RegistryError> = std::result::Result<T, E>;
