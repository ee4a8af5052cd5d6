//! Snapshots: one unpacked layer per directory `v1/snapshots/<chain-id hex>/`, used as overlayfs lower dirs.
//!
//! A snapshot is named by the layer's ChainID (OCI image spec: `ChainID(L0) = DiffID(L0)`,
//! `ChainID(L0..Ln) = sha256(ChainID(L0..Ln-1) + " " + DiffID(Ln))`) and holds that one layer's
//! content with whiteouts in overlay form, so an image's lower-dir stack is its snapshots, top first.
//! [`Lease::ensure_snapshot`] fills a staging directory, syncs the filesystem and renames it into place: a
//! snapshot is complete or absent, and two processes racing end with one (the loser discards its copy).
//!
//! A snapshot whose layer blob is already durable (a build step's output: the blob was written from that
//! very directory) need not be synced at all: [`Lease::ensure_snapshot_unsynced`] renames it into place as
//! `<chain-id hex>.boot-<boot id>`, and only a kernel booted with that id uses it. Unsynced data survives
//! anything but a crash of the whole machine, and after such a crash the machine has a new boot id, so a
//! snapshot that may have lost data is never used again: the next build unpacks the layer from its blob
//! and GC removes the stale directory. This saves flushing every layer twice (blob and snapshot).
//! The rename of a synced snapshot is not fsynced either: losing it only means unpacking the layer again.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

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

/// The suffix of unsynced snapshots made during this boot (`.boot-<boot id>`), or `None` when the kernel
/// does not say its boot id (then every snapshot is synced).
pub(crate) fn boot_suffix() -> Option<&'static str> {
    static SUFFIX: OnceLock<Option<String>> = OnceLock::new();
    SUFFIX
        .get_or_init(|| {
            let id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
            let id: String = id.trim().chars().filter(char::is_ascii_hexdigit).collect();
            (id.len() == 32).then(|| format!(".boot-{id}"))
        })
        .as_deref()
}

/// What a snapshot directory's name says: its ChainID, and whether this boot may use it. `None` for names
/// that are no snapshot.
pub(crate) fn parse_snapshot_name(name: &str) -> Option<(Digest, bool)> {
    let (hex, suffix) = match name.find('.') {
        Some(i) => name.split_at(i),
        None => (name, ""),
    };
    let chain_id = Digest::from_hex(hex).ok()?;
    let usable = suffix.is_empty() || boot_suffix() == Some(suffix);
    Some((chain_id, usable))
}

impl Store {
    fn snapshot_dir(&self, chain_id: &Digest, synced: bool) -> Option<PathBuf> {
        let name =
            if synced { chain_id.hex().to_owned() } else { format!("{}{}", chain_id.hex(), boot_suffix()?) };
        Some(self.v1().join("snapshots").join(name))
    }

    /// The directory of snapshot `chain_id`, if it exists (synced, or unsynced from this boot). Pin it with
    /// [`Lease::pin_snapshot`] before mounting it, or a concurrent prune may remove it.
    pub fn snapshot_path(&self, chain_id: &Digest) -> Option<PathBuf> {
        [true, false]
            .into_iter()
            .filter_map(|synced| self.snapshot_dir(chain_id, synced))
            .find(|d| d.is_dir())
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
        self.ensure_snapshot_as(chain_id, true, fill)
    }

    /// [`Lease::ensure_snapshot`] without syncing the new snapshot: it is usable until the machine reboots
    /// (see the module doc). Only for a snapshot whose layer blob is already in the store, so it can be
    /// unpacked again after a crash. On a kernel without a boot id it is synced like any other.
    pub fn ensure_snapshot_unsynced(
        &self,
        chain_id: &Digest,
        fill: impl FnOnce(&Path) -> std::result::Result<(), FillError>,
    ) -> Result<PathBuf> {
        self.ensure_snapshot_as(chain_id, boot_suffix().is_none(), fill)
    }

    fn ensure_snapshot_as(
        &self,
        chain_id: &Digest,
        synced: bool,
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
        let result = self.fill_and_publish(chain_id, &staged, synced, fill);
        if staged.exists() {
            let _ = crate::gc::remove_tree(&staged);
        }
        result
    }

    fn fill_and_publish(
        &self,
        chain_id: &Digest,
        staged: &Path,
        synced: bool,
        fill: impl FnOnce(&Path) -> std::result::Result<(), FillError>,
    ) -> Result<PathBuf> {
        fill(staged).map_err(|source| StoreError::Snapshot { chain_id: chain_id.clone(), source })?;
        if synced {
            sync_filesystem(staged)?;
        }
        let store = self.store();
        let target = store.snapshot_dir(chain_id, synced).ok_or_else(|| {
            StoreError::invalid(format!("snapshot {chain_id}"), "the kernel has no boot id")
        })?;
        let guard = store.lock().shared()?;
        let target = match store.snapshot_path(chain_id) {
            // Another process made it meanwhile: theirs wins.
            Some(existing) => existing,
            None => match std::fs::rename(staged, &target) {
                Ok(()) => target,
                Err(e) => match store.snapshot_path(chain_id) {
                    Some(existing) => existing,
                    None => {
                        return Err(StoreError::io(
                            format!("renaming snapshot into {}", target.display()),
                            e,
                        ));
                    }
                },
            },
        };
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

    #[test]
    fn snapshot_names_are_usable_when_synced_or_from_this_boot() {
        let chain = Digest::sha256_of(b"layer");
        assert_eq!(parse_snapshot_name(chain.hex()), Some((chain.clone(), true)));
        let other_boot = format!("{}.boot-{}", chain.hex(), "0".repeat(32));
        assert_eq!(parse_snapshot_name(&other_boot), Some((chain.clone(), false)));
        if let Some(suffix) = boot_suffix() {
            let this_boot = format!("{}{suffix}", chain.hex());
            assert_eq!(parse_snapshot_name(&this_boot), Some((chain, true)));
        }
        assert_eq!(parse_snapshot_name("gc-leftover"), None);
    }
}
