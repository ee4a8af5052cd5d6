//! Path-safe filesystem primitives that every kiln crate writing to disk shares.
//!
//! - [`AtomicFile`] and [`write_atomic`]: a file appears complete or not at all (temp file in the same
//!   directory, fsync, rename, fsync of the directory).
//! - [`resolve_in_root`]: resolves a path inside a root directory the way a chroot would, following
//!   symlinks but never leaving the root, whatever `..` or absolute link targets say.
//! - [`Writeback`]: a writer that starts writing a large file to disk while it is still being written,
//!   so that its final fsync is short.
//! - [`TempDir`]: a directory removed when dropped (re-exported from `tempfile`), made with [`temp_dir_in`].

mod atomic;
mod rooted;
mod writeback;

pub use atomic::{AtomicFile, fsync_dir, write_atomic};
pub use rooted::{ResolveError, resolve_in_root};
pub use tempfile::TempDir;
pub use writeback::Writeback;

/// Creates a self-cleaning temporary directory inside `parent` (created if missing), named `prefix*`.
pub fn temp_dir_in(parent: &std::path::Path, prefix: &str) -> std::io::Result<TempDir> {
    fs_err::create_dir_all(parent)?;
    tempfile::Builder::new().prefix(prefix).tempdir_in(parent).map_err(|e| {
        std::io::Error::new(e.kind(), format!("creating a temporary directory in {}: {e}", parent.display()))
    })
}
