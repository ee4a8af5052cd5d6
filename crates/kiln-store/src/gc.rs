//! Garbage collection ([`Store::prune`]): mark what image records, cache records and live leases reference,
//! sweep every other blob, snapshot, compressed-blob mapping and staging leftover.
//!
//! GC holds the store lock exclusively for the whole mark-and-sweep, so no blob or snapshot becomes visible
//! and no lease is created meanwhile; operations that are mid-way keep their objects through their lease
//! pins. Leases whose owner died (their flock is free) are stale: their files and staging directories go.
//! A snapshot is first renamed into `tmp/` and then deleted, so a GC killed halfway never leaves a
//! half-deleted snapshot in place.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::Path;

use kiln_oci::{Digest, ImageConfig, ImageManifest};

use crate::cache::MEMO_MAX_AGE_DAYS;
use crate::db::now;
use crate::error::path_err;
use crate::lease::Pin;
use crate::snapshot::chain_ids;
use crate::{Result, Store};

/// What [`Store::prune`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PruneReport {
    /// Blobs deleted.
    pub blobs: usize,
    /// Snapshots deleted.
    pub snapshots: usize,
    /// Compressed-blob mappings forgotten.
    pub mappings: usize,
    /// Build-cache records deleted (only with [`PruneOptions::cache`]).
    pub cache_records: usize,
    /// Stale leases (of killed processes) and staging leftovers removed.
    pub leftovers: usize,
    /// Bytes freed on disk.
    pub bytes_freed: u64,
}

/// What else [`Store::prune`] should drop.
#[derive(Debug, Clone, Default)]
pub struct PruneOptions {
    /// Also delete every build-cache record (and so the blobs only the cache kept).
    pub cache: bool,
}

/// What must survive this collection.
#[derive(Default)]
struct Marks {
    blobs: HashSet<Digest>,
    snapshots: HashSet<Digest>,
    live_leases: HashSet<String>,
}

impl Store {
    /// Removes everything no image, cache record or live lease references; returns what was removed.
    pub fn prune(&self, options: &PruneOptions) -> Result<PruneReport> {
        let mut report = PruneReport::default();
        if options.cache {
            report.cache_records = self.cache_prune(0)?;
        }
        let _guard = self.lock().exclusive()?;
        let mut marks = Marks::default();
        self.mark_leases(&mut marks, &mut report)?;
        self.mark_records(&mut marks)?;
        self.sweep_mappings(&mut marks, &mut report)?;
        self.sweep_tmp(&marks, &mut report)?;
        self.sweep_blobs(&marks, &mut report)?;
        self.sweep_snapshots(&marks, &mut report)?;
        self.with_db(|db| {
            db.memo_remove_older(now() - MEMO_MAX_AGE_DAYS * 86_400)?;
            db.set_meta("last_prune", &now().to_string())
        })?;
        Ok(report)
    }

    /// Deletes those of `candidates` that nothing references (under the exclusive lock); returns how many.
    pub(crate) fn collect_blobs(&self, candidates: &[Digest]) -> Result<usize> {
        if candidates.is_empty() {
            return Ok(0);
        }
        let _guard = self.lock().exclusive()?;
        let mut marks = Marks::default();
        self.mark_leases(&mut marks, &mut PruneReport::default())?;
        self.mark_records(&mut marks)?;
        let mappings = self.with_db(|db| db.all_compressed())?;
        marks.blobs.extend(
            mappings
                .into_iter()
                .filter(|r| marks.blobs.contains(&r.diff_id))
                .map(|r| r.digest)
                .collect::<Vec<_>>(),
        );
        let mut removed = 0;
        for digest in candidates.iter().filter(|d| !marks.blobs.contains(d)) {
            let path = self.blob_path(digest);
            match std::fs::remove_file(&path) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(path_err("removing", &path)(e)),
            }
        }
        Ok(removed)
    }

    /// Reads live leases' pins; removes stale lease files.
    fn mark_leases(&self, marks: &mut Marks, report: &mut PruneReport) -> Result<()> {
        let dir = self.v1().join("leases");
        for entry in fs_err::read_dir(&dir).map_err(path_err("listing", &dir))? {
            let entry = entry.map_err(path_err("listing", &dir))?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let file = match std::fs::File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(path_err("opening lease", &path)(e)),
            };
            if file.try_lock().is_ok() {
                // Nobody holds it: the owner is gone.
                let _ = fs_err::remove_file(&path);
                report.leftovers += 1;
                continue;
            }
            for line in BufReader::new(&file).lines() {
                let line = line.map_err(path_err("reading lease", &path))?;
                match Pin::parse(&line) {
                    Some(Pin::Blob(d)) => drop(marks.blobs.insert(d)),
                    Some(Pin::Snapshot(c)) => drop(marks.snapshots.insert(c)),
                    None => {}
                }
            }
            marks.live_leases.insert(name);
        }
        Ok(())
    }

    /// Marks the blobs and snapshots of every image record and the blobs of every cache record.
    fn mark_records(&self, marks: &mut Marks) -> Result<()> {
        let (images, cache_blobs) = self.with_db(|db| Ok((db.all_images()?, db.cache_blobs()?)))?;
        marks.blobs.extend(cache_blobs);
        for image in images {
            marks.blobs.insert(image.manifest.clone());
            marks.blobs.insert(image.config.clone());
            // An image record exists only once its blobs do; a blob that cannot be read here is kept out of
            // caution rather than treated as a reason to delete more.
            if let Ok(manifest) = self.read_json::<ImageManifest>(&image.manifest) {
                marks.blobs.extend(manifest.layers.iter().map(|l| l.digest.clone()));
            }
            if let Ok(config) = self.read_json::<ImageConfig>(&image.config) {
                marks.blobs.extend(config.rootfs.diff_ids.iter().cloned());
                marks.snapshots.extend(chain_ids(&config.rootfs.diff_ids));
            }
        }
        Ok(())
    }

    /// Keeps the compressed forms of kept layers; forgets the others.
    fn sweep_mappings(&self, marks: &mut Marks, report: &mut PruneReport) -> Result<()> {
        let rows = self.with_db(|db| db.all_compressed())?;
        let (keep, drop): (Vec<_>, Vec<_>) = rows.into_iter().partition(|r| marks.blobs.contains(&r.diff_id));
        marks.blobs.extend(keep.into_iter().map(|r| r.digest));
        report.mappings = drop.len();
        self.with_db(|db| db.compressed_remove(&drop))
    }

    fn sweep_tmp(&self, marks: &Marks, report: &mut PruneReport) -> Result<()> {
        let dir = self.v1().join("tmp");
        for entry in fs_err::read_dir(&dir).map_err(path_err("listing", &dir))? {
            let entry = entry.map_err(path_err("listing", &dir))?;
            if marks.live_leases.contains(&*entry.file_name().to_string_lossy()) {
                continue;
            }
            report.bytes_freed += disk_usage(&entry.path());
            remove_tree(&entry.path()).map_err(path_err("removing", entry.path()))?;
            report.leftovers += 1;
        }
        Ok(())
    }

    fn sweep_blobs(&self, marks: &Marks, report: &mut PruneReport) -> Result<()> {
        let dir = self.v1().join("blobs/sha256");
        for entry in fs_err::read_dir(&dir).map_err(path_err("listing", &dir))? {
            let entry = entry.map_err(path_err("listing", &dir))?;
            let keep = Digest::from_hex(&entry.file_name().to_string_lossy())
                .is_ok_and(|d| marks.blobs.contains(&d));
            if keep {
                continue;
            }
            report.bytes_freed += disk_usage(&entry.path());
            remove_tree(&entry.path()).map_err(path_err("removing", entry.path()))?;
            report.blobs += 1;
        }
        Ok(())
    }

    fn sweep_snapshots(&self, marks: &Marks, report: &mut PruneReport) -> Result<()> {
        let dir = self.v1().join("snapshots");
        for entry in fs_err::read_dir(&dir).map_err(path_err("listing", &dir))? {
            let entry = entry.map_err(path_err("listing", &dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            // Unsynced snapshots of an earlier boot may have lost data in the crash that ended it: they go.
            let keep = crate::snapshot::parse_snapshot_name(&name)
                .is_some_and(|(chain_id, usable)| usable && marks.snapshots.contains(&chain_id));
            if keep {
                continue;
            }
            report.bytes_freed += disk_usage(&entry.path());
            // Move it out of sight first, so a crash mid-delete leaves only tmp garbage.
            let doomed = self.v1().join("tmp").join(format!("gc-{name}"));
            fs_err::rename(entry.path(), &doomed).map_err(path_err("moving aside", entry.path()))?;
            remove_tree(&doomed).map_err(path_err("removing", &doomed))?;
            report.snapshots += 1;
        }
        Ok(())
    }
}

/// Bytes `path` occupies on disk (recursively; hard links counted each time).
pub(crate) fn disk_usage(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else { return 0 };
    let own = meta.blocks() * 512;
    if !meta.is_dir() {
        return own;
    }
    let children = std::fs::read_dir(path)
        .map(|rd| rd.flatten().map(|e| disk_usage(&e.path())).sum::<u64>())
        .unwrap_or(0);
    own + children
}

/// Removes a file or directory tree, making read-only directories writable first when needed (snapshots
/// and staging trees hold whatever modes the layer declared).
pub(crate) fn remove_tree(path: &Path) -> std::io::Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.is_dir() {
        return std::fs::remove_file(path);
    }
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            make_writable(path);
            std::fs::remove_dir_all(path)
        }
        Err(e) => Err(e),
    }
}

fn make_writable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    if let Ok(rd) = std::fs::read_dir(dir) {
        for entry in rd.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                make_writable(&entry.path());
            }
        }
    }
}
