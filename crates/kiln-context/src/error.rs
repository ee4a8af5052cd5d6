//! [`ContextError`]: what can go wrong reading a build context, each naming its path, pattern or archive
//! member.

use std::io;
use std::path::PathBuf;

use kiln_dockerfile::ignore::IgnoreError;

/// Why a build context could not be read, filtered or checksummed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ContextError {
    /// A file or directory of the context could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The host path.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// The context directory is not a directory.
    #[error("{0}: the build context is not a directory")]
    NotADirectory(PathBuf),
    /// A `.dockerignore` (or `--exclude`) pattern is invalid.
    #[error(transparent)]
    Ignore(#[from] IgnoreError),
    /// A COPY/ADD source names nothing in the context (BuildKit's wording).
    #[error("failed to calculate checksum of ref {context}: {path:?}: not found")]
    NotFound {
        /// Which context (`context`, or the name of a named context).
        context: String,
        /// The missing path as BuildKit prints it (`/x`).
        path: String,
    },
    /// Resolving a symlink inside the context failed (a loop).
    #[error(transparent)]
    Resolve(#[from] kiln_fs::ResolveError),
    /// A file name in the context is not UTF-8 (kiln matches `.dockerignore` and COPY patterns on text).
    #[error("{0}: file names in a build context must be UTF-8")]
    NonUtf8Path(PathBuf),
    /// A tarball context is unreadable or hostile.
    #[error("{archive}{}: {message}", member.as_ref().map(|m| format!(": member {m:?}")).unwrap_or_default())]
    Tar {
        /// The archive (a path, or `<stdin>`).
        archive: String,
        /// The offending member, when one is to blame.
        member: Option<String>,
        /// What is wrong.
        message: String,
    },
}

/// A shorthand for results in this crate.
pub type Result<T, E = ContextError> = std::result::Result<T, E>;

/// Wraps an I/O error with the path it is about.
pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> ContextError {
    let path = path.into();
    move |source| ContextError::Io { path, source }
}
