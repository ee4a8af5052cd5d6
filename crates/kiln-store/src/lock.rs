//! The store-wide GC lock, [`StoreLock`]: `flock(2)` on `v1/lock`, held exclusive by garbage collection
//! and shared by the short sections that make things visible (rename a blob into place and pin it, commit
//! an image record, create a lease).
//!
//! Uses `std::fs::File::lock` (stable since Rust 1.89, `flock` on Linux) rather than `fs4`, whose 1.x API is
//! the same shim. Each acquisition opens its own file description, so threads of one process hold shared
//! locks independently; a lock dies with its process, so `kill -9` never leaves the store locked.

use std::fs::File;
use std::path::PathBuf;

use crate::Result;
use crate::error::path_err;

/// The lock file of one store.
#[derive(Debug)]
pub(crate) struct StoreLock {
    path: PathBuf,
}

/// A held lock; released on drop (closing the file description releases the flock).
#[derive(Debug)]
pub(crate) struct LockGuard {
    _file: File,
}

impl StoreLock {
    pub(crate) fn new(path: PathBuf) -> Result<Self> {
        fs_err::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(path_err("creating lock file", &path))?;
        Ok(StoreLock { path })
    }

    fn open(&self) -> Result<File> {
        std::fs::OpenOptions::new()
            .read(true)
            .open(&self.path)
            .map_err(path_err("opening lock file", &self.path))
    }

    /// Blocks until the lock is held shared (no GC is running).
    pub(crate) fn shared(&self) -> Result<LockGuard> {
        let file = self.open()?;
        file.lock_shared().map_err(path_err("locking (shared)", &self.path))?;
        Ok(LockGuard { _file: file })
    }

    /// Blocks until the lock is held exclusively (no commit section is running anywhere).
    pub(crate) fn exclusive(&self) -> Result<LockGuard> {
        let file = self.open()?;
        file.lock().map_err(path_err("locking (exclusive)", &self.path))?;
        Ok(LockGuard { _file: file })
    }
}
