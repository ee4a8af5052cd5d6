//! kiln's local image store. The central type is [`Store`]: one directory tree that several kiln processes
//! share safely, holding content-addressed blobs, image records and refs, the build-cache index, unpacked
//! layer snapshots, and the locks and leases that let garbage collection run beside them.
//!
//! Layout (DESIGN.md, "The store"):
//! ```text
//! <root>/v1/blobs/sha256/<hex>      verified blobs (OCI-layout compatible); local layers uncompressed
//! <root>/v1/snapshots/<chain-hex>/  one unpacked layer each, whiteouts in overlay form (overlay lower dirs)
//! <root>/v1/meta.sqlite            refs, image records, cache index, memo, compressed-blob mappings
//! <root>/v1/leases/<id>            one file per live operation, flock-held by its owner (what it uses)
//! <root>/v1/tmp/<id>/               staging of that operation; everything lands by rename
//! <root>/v1/lock                   the GC lock: exclusive for prune, shared for short commit sections
//! ```
//!
//! The rules that keep it consistent under `kill -9` and concurrency:
//! - a blob is written to the operation's tmp dir, its digest (and expected size) verified, fsynced and
//!   renamed into `blobs/` ([`blob`]); a snapshot is filled in tmp, synced and renamed, or, when its layer
//!   blob is already durable, renamed unsynced under a name only this boot uses ([`snapshot`]);
//! - an image record or cache record is inserted only after its blobs exist and their names are synced, in
//!   one database transaction ([`image`], [`cache`]);
//! - every operation that writes holds a [`Lease`]: whatever it writes or pins is kept by GC while the
//!   lease's owner lives; leases of killed processes are detected by their free flock ([`lease`]);
//! - [`Store::prune`] removes what no image, cache record or live lease references ([`gc`]).
//!
//! Import and export of OCI layouts, OCI archives, docker-archives and root filesystems live in
//! [`transport`]; the format that carries build-cache records to other stores, in [`build_cache`].

pub mod blob;
pub mod build_cache;
pub mod cache;
mod db;
mod error;
pub mod gc;
pub mod image;
pub mod lease;
mod lock;
pub mod snapshot;
pub mod transport;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub use blob::BlobWriter;
pub use error::StoreError;
pub use gc::{PruneOptions, PruneReport};
pub use image::{Image, ImageRecord, Removal};
pub use lease::Lease;
pub use snapshot::chain_ids;

use crate::db::Db;
use crate::lock::StoreLock;

/// Result type of store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The on-disk format version directory under the root.
const FORMAT_DIR: &str = "v1";

/// A handle on one store directory. Cheap to clone; clones share the database connection.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    root: PathBuf,
    v1: PathBuf,
    db: Mutex<Db>,
    lock: StoreLock,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("root", &self.inner.root).finish()
    }
}

impl Store {
    /// Opens (creating if needed) the store at `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Store> {
        let root = root.into();
        let v1 = root.join(FORMAT_DIR);
        for sub in ["blobs/sha256", "snapshots", "tmp", "leases"] {
            let dir = v1.join(sub);
            fs_err::create_dir_all(&dir)
                .map_err(|e| StoreError::io(format!("creating {}", dir.display()), e))?;
        }
        let lock = StoreLock::new(v1.join("lock"))?;
        let db = Db::open(&v1.join("meta.sqlite"))?;
        Ok(Store { inner: Arc::new(Inner { root, v1, db: Mutex::new(db), lock }) })
    }

    /// The store root to use: `explicit` (from `--root`), else `$KILN_ROOT`, else [`default_root`].
    pub fn resolve_root(explicit: Option<&Path>) -> PathBuf {
        if let Some(p) = explicit {
            return p.to_owned();
        }
        match std::env::var_os("KILN_ROOT") {
            Some(r) if !r.is_empty() => PathBuf::from(r),
            _ => default_root(),
        }
    }

    /// The root directory this store was opened at.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// `<root>/v1`.
    pub(crate) fn v1(&self) -> &Path {
        &self.inner.v1
    }

    /// Runs `f` with the database connection.
    pub(crate) fn with_db<T>(&self, f: impl FnOnce(&mut Db) -> Result<T>) -> Result<T> {
        // A poisoned mutex means another thread panicked mid-call; SQLite rolled its transaction back, so
        // the connection is still usable.
        let mut guard = self.inner.db.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    }

    pub(crate) fn lock(&self) -> &StoreLock {
        &self.inner.lock
    }
}

/// The default store root: `/var/lib/kiln` for root, else `$XDG_DATA_HOME/kiln` (`~/.local/share/kiln`).
pub fn default_root() -> PathBuf {
    if rustix::process::geteuid().is_root() {
        return PathBuf::from("/var/lib/kiln");
    }
    let data_home = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from(".local/share"));
    data_home.join("kiln")
}
