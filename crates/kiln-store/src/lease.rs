//! [`Lease`]: what a running operation (build, import, export) uses, so garbage collection keeps it.
//!
//! A lease is a file `v1/leases/<id>` that its owner holds an exclusive `flock` on for its whole life, and
//! a staging directory `v1/tmp/<id>/`. The owner appends one line per pinned object (`blob <digest>`,
//! `snapshot <chain-id>`) inside the store's shared-lock section that makes the object visible or checks
//! that it exists, so GC (which holds the lock exclusively) sees either no object or a pinned one. When the
//! owner dies, even by `kill -9`, the kernel drops its flock: GC then finds the lease file lockable, knows
//! the lease is stale, and deletes it with its staging directory.

use std::collections::HashSet;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use kiln_oci::Digest;

use crate::error::{StoreError, path_err};
use crate::lock::LockGuard;
use crate::{Result, Store};

/// An object a lease keeps alive.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Pin {
    /// A blob by digest.
    Blob(Digest),
    /// A snapshot by chain ID.
    Snapshot(Digest),
}

impl Pin {
    fn line(&self) -> String {
        match self {
            Pin::Blob(d) => format!("blob {d}\n"),
            Pin::Snapshot(c) => format!("snapshot {c}\n"),
        }
    }

    /// Parses one line of a lease file; torn or unknown lines give `None`.
    pub(crate) fn parse(line: &str) -> Option<Pin> {
        let (kind, digest) = line.split_once(' ')?;
        let digest = Digest::parse(digest.trim_end()).ok()?;
        match kind {
            "blob" => Some(Pin::Blob(digest)),
            "snapshot" => Some(Pin::Snapshot(digest)),
            _ => None,
        }
    }
}

/// A live operation's hold on the store: what it pins survives `kiln prune` until the lease is dropped.
///
/// Writing blobs, committing images and filling snapshots all go through a lease. Dropping it removes its
/// staging directory; objects it pinned stay in the store and become collectable unless an image or cache
/// record references them by then.
pub struct Lease {
    store: Store,
    id: String,
    file: Mutex<File>,
    file_path: PathBuf,
    pinned: Mutex<HashSet<Pin>>,
    created: Mutex<Vec<Digest>>,
    tmp: PathBuf,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease").field("id", &self.id).finish()
    }
}

impl Store {
    /// Starts a lease (blocks while a GC runs).
    pub fn lease(&self) -> Result<Lease> {
        let _guard = self.lock().shared()?;
        let dir = self.v1().join("leases");
        let named = tempfile::Builder::new()
            .prefix("lease-")
            .rand_bytes(12)
            .tempfile_in(&dir)
            .map_err(path_err("creating a lease in", &dir))?;
        let (file, file_path) = named
            .keep()
            .map_err(|e| StoreError::io(format!("keeping lease file in {}", dir.display()), e.error))?;
        file.try_lock().map_err(|e| {
            StoreError::io(
                format!("locking lease {}", file_path.display()),
                std::io::Error::other(e.to_string()),
            )
        })?;
        let id = file_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let tmp = self.v1().join("tmp").join(&id);
        fs_err::create_dir(&tmp).map_err(path_err("creating staging directory", &tmp))?;
        Ok(Lease {
            store: self.clone(),
            id,
            file: Mutex::new(file),
            file_path,
            pinned: Mutex::new(HashSet::new()),
            created: Mutex::new(Vec::new()),
            tmp,
        })
    }
}

impl Lease {
    /// The store this lease holds.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The lease's private staging directory (removed with the lease; GC removes it once the owner died).
    pub fn tmp_dir(&self) -> &Path {
        &self.tmp
    }

    /// Records `pin` in the lease file. The caller holds the store lock shared (`_guard`), which orders the
    /// record before any GC that could otherwise remove the object.
    pub(crate) fn pin(&self, _guard: &LockGuard, pin: Pin) -> Result<()> {
        let mut pinned = self.pinned.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if pinned.contains(&pin) {
            return Ok(());
        }
        let mut file = self.file.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // One write per line: a torn line can only come from a dying process, whose lease GC ignores.
        file.write_all(pin.line().as_bytes()).map_err(path_err("writing lease", &self.file_path))?;
        pinned.insert(pin);
        Ok(())
    }

    /// Pins blob `digest` if the store has it; returns whether it does. Use it before relying on a blob
    /// that this lease did not write.
    pub fn pin_blob(&self, digest: &Digest) -> Result<bool> {
        let guard = self.store.lock().shared()?;
        if !self.store.has_blob(digest) {
            return Ok(false);
        }
        self.pin(&guard, Pin::Blob(digest.clone()))?;
        Ok(true)
    }
}

impl Lease {
    /// Notes that this lease made blob `digest` visible (it was not in the store before).
    pub(crate) fn record_created(&self, digest: Digest) {
        self.created.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(digest);
    }

    /// Ends the lease and deletes the blobs it created that nothing else references (what a failed import
    /// calls, so it leaves nothing behind). Returns how many blobs were deleted.
    pub fn abandon(self) -> Result<usize> {
        let store = self.store.clone();
        let created =
            std::mem::take(&mut *self.created.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        drop(self);
        store.collect_blobs(&created)
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // Errors are ignored: a leftover staging dir or lease file is unlocked once we exit, and GC then
        // removes it as stale.
        let _ = crate::gc::remove_tree(&self.tmp);
        let _ = std::fs::remove_file(&self.file_path);
    }
}
