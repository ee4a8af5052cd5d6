//! Content-addressed blobs at `v1/blobs/sha256/<hex>`: [`BlobWriter`] streams into the lease's staging
//! directory while hashing, then verifies the digest (and expected size), fsyncs and renames into place, so
//! a blob is visible only when complete and correct. Reads go straight to the file.
//!
//! The rename itself is made durable lazily: instead of an fsync of `blobs/sha256/` after every blob, the
//! directory is synced once (`Store::sync_blob_names`) right before a database transaction that makes a
//! record reference blobs (image, cache record, compressed mapping). A rename lost in a power failure
//! before that point loses only a blob nothing referenced yet.
//!
//! [`Lease::prehashed_blob_writer`] is for producers that already hash exactly the bytes they write (the
//! layer tar writer): it counts bytes instead of hashing them a second time, and takes the producer's digest.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::PathBuf;

use kiln_fs::{Writeback, fsync_dir};
use kiln_oci::{Digest, Sha256Writer};
use tempfile::NamedTempFile;

use crate::error::{StoreError, path_err};
use crate::lease::{Lease, Pin};
use crate::{Result, Store};

/// Largest JSON blob (manifest, index, config) the store reads into memory.
pub const MAX_JSON_BLOB: u64 = 32 << 20;

impl Store {
    /// Where blob `digest` lives (whether or not it exists).
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.v1().join("blobs").join(digest.algorithm()).join(digest.hex())
    }

    /// True when the store has blob `digest`.
    ///
    /// Without a lease pin the answer can go stale when a GC runs; use [`Lease::pin_blob`] before relying on it.
    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// Opens blob `digest` for reading.
    pub fn open_blob(&self, digest: &Digest) -> Result<File> {
        File::open(self.blob_path(digest)).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => StoreError::BlobNotFound(digest.clone()),
            _ => StoreError::io(format!("opening blob {digest}"), e),
        })
    }

    /// The size of blob `digest`.
    pub fn blob_size(&self, digest: &Digest) -> Result<u64> {
        Ok(self
            .open_blob(digest)?
            .metadata()
            .map_err(path_err("reading size of", self.blob_path(digest)))?
            .len())
    }

    /// Reads a small blob (manifest, config) whole; refuses blobs over [`MAX_JSON_BLOB`].
    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        let file = self.open_blob(digest)?;
        let mut data = Vec::new();
        file.take(MAX_JSON_BLOB + 1)
            .read_to_end(&mut data)
            .map_err(path_err("reading", self.blob_path(digest)))?;
        if data.len() as u64 > MAX_JSON_BLOB {
            return Err(StoreError::invalid(
                format!("blob {digest}"),
                "too large to be a manifest or config",
            ));
        }
        Ok(data)
    }

    /// Reads and parses a JSON blob.
    pub fn read_json<T: serde::de::DeserializeOwned>(&self, digest: &Digest) -> Result<T> {
        let data = self.read_blob(digest)?;
        serde_json::from_slice(&data).map_err(|e| StoreError::json(format!("blob {digest}"), e))
    }
}

impl Store {
    /// Makes the names of blobs renamed into `blobs/` so far durable (one fsync of the directory; nearly
    /// free when nothing changed since the last one). Called before any database transaction that makes a
    /// record reference blobs, so a record that survives a power failure never names a missing blob. Covers
    /// renames by other processes too (a blob this process found already present and pinned).
    pub(crate) fn sync_blob_names(&self) -> Result<()> {
        let dir = self.v1().join("blobs").join("sha256");
        fsync_dir(&dir).map_err(|e| StoreError::io("syncing the blob directory", e))
    }
}

/// A blob being written: bytes go to a staging file and are hashed; [`BlobWriter::commit`] makes it visible.
/// Dropped uncommitted, it leaves nothing.
pub struct BlobWriter<'a> {
    lease: &'a Lease,
    out: Sink,
}

/// Where a [`BlobWriter`]'s bytes go: hashed here, or only counted (the producer hashes them).
enum Sink {
    Hashing(Sha256Writer<BufWriter<Writeback<NamedTempFile>>>),
    Counting { file: BufWriter<Writeback<NamedTempFile>>, len: u64 },
}

impl Lease {
    fn staging_file(&self) -> Result<BufWriter<Writeback<NamedTempFile>>> {
        let temp = tempfile::Builder::new()
            .prefix("blob-")
            .tempfile_in(self.tmp_dir())
            .map_err(path_err("creating a staging file in", self.tmp_dir()))?;
        // Writeback starts while the blob is written, so the fsync at commit waits for its tail only.
        Ok(BufWriter::with_capacity(1 << 20, Writeback::new(temp)))
    }

    /// Starts writing a blob.
    pub fn blob_writer(&self) -> Result<BlobWriter<'_>> {
        Ok(BlobWriter { lease: self, out: Sink::Hashing(Sha256Writer::new(self.staging_file()?)) })
    }

    /// Starts writing a blob whose producer computes the SHA-256 of exactly the bytes it writes (as
    /// `kiln_layer::write_tree` does): the writer only counts bytes, and [`BlobWriter::commit_named`] must
    /// be given the producer's digest, which it takes as the blob's (the size is still checked). Saves a
    /// second hash pass over large layers.
    pub fn prehashed_blob_writer(&self) -> Result<BlobWriter<'_>> {
        Ok(BlobWriter { lease: self, out: Sink::Counting { file: self.staging_file()?, len: 0 } })
    }

    /// Writes `data` as a blob and returns its digest.
    pub fn put_blob(&self, data: &[u8]) -> Result<Digest> {
        let digest = Digest::sha256_of(data);
        if self.pin_blob(&digest)? {
            return Ok(digest);
        }
        let mut w = self.blob_writer()?;
        w.write_all(data).map_err(|e| StoreError::io("writing blob", e))?;
        w.commit(Some(&digest), Some(data.len() as u64)).map(|(d, _)| d)
    }

    /// Streams `reader` into a blob, verifying `expected` digest and size when given; returns the digest
    /// and size. At most `expected size + 1` bytes are read, so an endless reader cannot fill the disk.
    pub fn copy_blob(
        &self,
        reader: impl Read,
        expected: Option<&Digest>,
        expected_size: Option<u64>,
        object: &str,
    ) -> Result<(Digest, u64)> {
        let mut w = self.blob_writer()?;
        let copied = match expected_size {
            Some(n) => io::copy(&mut reader.take(n.saturating_add(1)), &mut w),
            None => io::copy(&mut { reader }, &mut w),
        };
        copied.map_err(|e| StoreError::io(format!("reading {object}"), e))?;
        w.commit_named(expected, expected_size, object)
    }
}

impl BlobWriter<'_> {
    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        match &self.out {
            Sink::Hashing(w) => w.len(),
            Sink::Counting { len, .. } => *len,
        }
    }

    /// True when nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Verifies, syncs and renames the blob into place, pins it in the lease, and returns its digest and size.
    pub fn commit(self, expected: Option<&Digest>, expected_size: Option<u64>) -> Result<(Digest, u64)> {
        let object = match expected {
            Some(d) => format!("blob {d}"),
            None => "blob".to_owned(),
        };
        self.commit_named(expected, expected_size, &object)
    }

    /// [`BlobWriter::commit`], naming the object (archive member, layer) in errors.
    pub fn commit_named(
        self,
        expected: Option<&Digest>,
        expected_size: Option<u64>,
        object: &str,
    ) -> Result<(Digest, u64)> {
        let BlobWriter { lease, out } = self;
        let (buffered, digest, size) = match out {
            Sink::Hashing(w) => w.finish(),
            Sink::Counting { file, len } => {
                let Some(digest) = expected else {
                    return Err(StoreError::invalid(
                        object,
                        "a prehashed blob needs the digest its producer computed",
                    ));
                };
                (file, digest.clone(), len)
            }
        };
        if let Some(want) = expected_size
            && want != size
        {
            return Err(StoreError::SizeMismatch { object: object.to_owned(), expected: want, actual: size });
        }
        if let Some(want) = expected
            && *want != digest
        {
            return Err(StoreError::DigestMismatch {
                object: object.to_owned(),
                expected: want.clone(),
                actual: digest,
            });
        }
        let temp = buffered
            .into_inner()
            .map_err(|e| StoreError::io(format!("writing {object}"), e.into_error()))?
            .into_inner();
        temp.as_file().sync_all().map_err(|e| StoreError::io(format!("syncing {object}"), e))?;
        let store = lease.store();
        let target = store.blob_path(&digest);
        let guard = store.lock().shared()?;
        if !target.is_file() {
            // The name becomes durable at the next `sync_blob_names`, before anything references it.
            temp.persist(&target)
                .map_err(|e| StoreError::io(format!("renaming blob into {}", target.display()), e.error))?;
            lease.record_created(digest.clone());
        }
        lease.pin(&guard, Pin::Blob(digest.clone()))?;
        Ok((digest, size))
    }
}

impl Write for BlobWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.out {
            Sink::Hashing(w) => w.write(buf),
            Sink::Counting { file, len } => {
                let n = file.write(buf)?;
                *len += n as u64;
                Ok(n)
            }
        }
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match &mut self.out {
            Sink::Hashing(w) => w.write_all(buf),
            Sink::Counting { file, len } => {
                file.write_all(buf)?;
                *len += buf.len() as u64;
                Ok(())
            }
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match &mut self.out {
            Sink::Hashing(w) => w.flush(),
            Sink::Counting { file, .. } => file.flush(),
        }
    }
}

/// The `level` column value for "the compressor's default level".
const DEFAULT_LEVEL: i32 = -1;

impl Lease {
    /// The remembered `compression` form of layer `diff_id` at `level` (`None`: default level), pinned, when
    /// the store still has it.
    pub fn compressed_blob(
        &self,
        diff_id: &Digest,
        compression: kiln_oci::Compression,
        level: Option<i32>,
    ) -> Result<Option<(Digest, u64)>> {
        let level = level.unwrap_or(DEFAULT_LEVEL);
        let Some(row) = self.store().with_db(|db| db.compressed_get(diff_id, compression, level))? else {
            return Ok(None);
        };
        Ok(self.pin_blob(&row.digest)?.then_some((row.digest, row.size)))
    }

    /// Remembers that blob `digest` (`size` bytes, already in the store) is layer `diff_id` compressed with
    /// `compression` at `level`, so the next export reuses it. GC keeps it while the layer is kept.
    pub fn remember_compressed(
        &self,
        diff_id: &Digest,
        compression: kiln_oci::Compression,
        level: Option<i32>,
        digest: &Digest,
        size: u64,
    ) -> Result<()> {
        let row = crate::db::CompressedRow {
            diff_id: diff_id.clone(),
            compression,
            level: level.unwrap_or(DEFAULT_LEVEL),
            digest: digest.clone(),
            size,
        };
        self.store().sync_blob_names()?;
        self.store().with_db(|db| db.compressed_put(&row))
    }
}
