//! Snapshots: one unpacked layer per directory `v1/snapshots/<chain-id hex>/`, used as overlayfs lower dirs.
//!
//! A snapshot is named by the layer's ChainID (OCI image spec: `ChainID(L0) = DiffID(L0)`,
//! `ChainID(L0..Ln) = sha256(ChainID(L0..Ln-1) + " " + DiffID(Ln))`) and holds that one layer's
//! content with whiteouts in overlay form, so an image's lower-dir stack is its snapshots, top first.
//! [`Lease::ensure_snapshot`] fills a staging directory, syncs the filesystem and renames it into place: a
//! snapshot is complete or absent, and two processes racing end with one (the loser discards its copy).

use std::path::{Path, PathBuf};

use kiln_fs::fsync_dir;
use kiln_oci::Digest;

use crate::error::{StoreError, path_err};
use crate::lease::{Lease, Pin};
use crate::{Result, Store};

/// The error type a snapshot fill function returns.
pub type FillError = Box<dyn std::error::Error + Send + Sync>;

/// The ChainIDs of a layer stack given its DiffIDs (base first); element `i` names layers `0..=i`.
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for diff_id in diff_ids {
        let next = match out.last() {
            None => diff_id.clone(),
            Some(parent) => Digest::sha256_of(format!("{parent} {diff_id}").as_bytes()),
        };
        out.push(next);
    }
    out
}

impl Store {
    fn snapshot_dir(&self, chain_id: &Digest) -> PathBuf {
        self.v1().join("snapshots").join(chain_id.hex())
    }

    /// The directory of snapshot `chain_id`, if it exists. Pin it with [`Lease::pin_snapshot`] before
    /// mounting it, or a concurrent prune may remove it.
    pub fn snapshot_path(&self, chain_id: &Digest) -> Option<PathBuf> {
        let dir = self.snapshot_dir(chain_id);
        dir.is_dir().then_some(dir)
    }
}

impl Lease {
    /// Pins snapshot `chain_id` if it exists and returns its directory.
    pub fn pin_snapshot(&self, chain_id: &Digest) -> Result<Option<PathBuf>> {
        let guard = self.store().lock().shared()?;
        let Some(dir) = self.store().snapshot_path(chain_id) else { return Ok(None) };
        self.pin(&guard, Pin::Snapshot(chain_id.clone()))?;
        Ok(Some(dir))
    }

    /// Returns snapshot `chain_id`'s directory, pinned, creating it first when missing: `fill` populates an
    /// empty staging directory, which is then synced and renamed into place. Idempotent; when another process
    /// creates the same snapshot meanwhile, its copy wins and ours is discarded.
    pub fn ensure_snapshot(
        &self,
        chain_id: &Digest,
        fill: impl FnOnce(&Path) -> std::result::Result<(), FillError>,
    ) -> Result<PathBuf> {
        if let Some(dir) = self.pin_snapshot(chain_id)? {
            return Ok(dir);
        }
        let staging = tempfile::Builder::new()
            .prefix("snapshot-")
            .tempdir_in(self.tmp_dir())
            .map_err(path_err("creating a staging directory in", self.tmp_dir()))?;
        let staged = staging.path().to_owned();
        // Keep the directory out of TempDir's hands: its removal cannot cope with read-only trees.
        let _ = staging.keep();
        let result = self.fill_and_publish(chain_id, &staged, fill);
        if staged.exists() {
            let _ = crate::gc::remove_tree(&staged);
        }
        result
    }

    fn fill_and_publish(
        &self,
        chain_id: &Digest,
        staged: &Path,
        fill: impl FnOnce(&Path) -> std::result::Result<(), FillError>,
    ) -> Result<PathBuf> {
        fill(staged).map_err(|source| StoreError::Snapshot { chain_id: chain_id.clone(), source })?;
        sync_filesystem(staged)?;
        let store = self.store();
        let target = store.snapshot_dir(chain_id);
        let guard = store.lock().shared()?;
        if !target.is_dir() {
            match std::fs::rename(staged, &target) {
                Ok(()) => {
                    let parent = target.parent().unwrap_or(&target);
                    fsync_dir(parent).map_err(|e| StoreError::io("syncing snapshots directory", e))?;
                }
                // Another process renamed its copy in between: theirs wins.
                Err(e) if target.is_dir() => drop(e),
                Err(e) => {
                    return Err(StoreError::io(format!("renaming snapshot into {}", target.display()), e));
                }
            }
        }
        self.pin(&guard, Pin::Snapshot(chain_id.clone()))?;
        Ok(target)
    }
}

impl Lease {
    /// The overlayfs lower-dir stack for layers `diff_ids` (base first), top layer first, every snapshot
    /// pinned; missing snapshots are unpacked from the layer blobs with whiteouts kept in overlay form
    /// (which needs root, as overlayfs itself does).
    pub fn lower_dirs(&self, diff_ids: &[Digest]) -> Result<Vec<PathBuf>> {
        let store = self.store().clone();
        let mut dirs = Vec::with_capacity(diff_ids.len());
        for (chain_id, diff_id) in chain_ids(diff_ids).iter().zip(diff_ids) {
            if !self.pin_blob(diff_id)? {
                return Err(StoreError::BlobNotFound(diff_id.clone()));
            }
            let dir = self.ensure_snapshot(chain_id, |dir| {
                let blob = store.open_blob(diff_id)?;
                let options = kiln_layer::ApplyOptions {
                    whiteouts: kiln_layer::WhiteoutMode::Overlay,
                    ..kiln_layer::ApplyOptions::default()
                };
                let stats =
                    kiln_layer::apply(std::io::BufReader::with_capacity(1 << 20, blob), dir, &options)?;
                if stats.layer.diff_id != *diff_id {
                    return Err(format!("layer blob hashes to {}, not {diff_id}", stats.layer.diff_id).into());
                }
                Ok(())
            })?;
            dirs.push(dir);
        }
        dirs.reverse();
        Ok(dirs)
    }
}

/// Flushes every file written under `dir` to disk with one `syncfs(2)` instead of an fsync per file.
fn sync_filesystem(dir: &Path) -> Result<()> {
    let file = std::fs::File::open(dir).map_err(path_err("opening", dir))?;
    rustix::fs::syncfs(&file)
        .map_err(|e| StoreError::io(format!("syncing filesystem of {}", dir.display()), e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_ids_follow_the_oci_definition() {
        let a = Digest::sha256_of(b"a");
        let b = Digest::sha256_of(b"b");
        let ids = chain_ids(&[a.clone(), b.clone()]);
        assert_eq!(ids[0], a);
        assert_eq!(ids[1], Digest::sha256_of(format!("{a} {b}").as_bytes()));
        assert!(chain_ids(&[]).is_empty());
    }
}
