//! The build-cache index and the generic memo table.
//!
//! A cache record maps a cache key (a digest the build engine computes before running an op) to opaque
//! bytes the build engine defines, plus the blobs the record references, so GC keeps exactly those. The
//! memo table maps opaque key bytes to value bytes (the context checksum memo); entries not rewritten for
//! [`MEMO_MAX_AGE_DAYS`] days are dropped by prune.

use kiln_oci::Digest;

use crate::error::StoreError;
use crate::lease::Lease;
use crate::{Result, Store};

/// Memo entries older than this many days are removed by [`Store::prune`].
pub const MEMO_MAX_AGE_DAYS: i64 = 30;

impl Store {
    /// The cache record stored under `key`, if any. To use the blobs it references, call
    /// [`Lease::cache_get`] instead, which pins them.
    pub fn cache_get(&self, key: &Digest) -> Result<Option<Vec<u8>>> {
        Ok(self.with_db(|db| db.cache_get(key))?.map(|(record, _)| record))
    }

    /// Removes cache records created more than `max_age_secs` ago (0 removes all); returns how many.
    pub fn cache_prune(&self, max_age_secs: i64) -> Result<usize> {
        let before = if max_age_secs == 0 { i64::MAX } else { crate::db::now() - max_age_secs };
        self.with_db(|db| db.cache_remove_older(before))
    }

    /// The memo value under `key`.
    pub fn memo_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.with_db(|db| db.memo_get(key))
    }

    /// The memo values under `keys` (in order), read in one transaction: much cheaper than one
    /// [`Store::memo_get`] per key for thousands of keys (each read otherwise takes and drops the database
    /// lock on its own).
    pub fn memo_get_many(&self, keys: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        self.with_db(|db| db.memo_get_many(keys))
    }

    /// How many database write transactions this handle (and its clones) started since it was opened.
    /// For tests and benchmarks: an unchanged rebuild should add none beyond what really changed.
    pub fn db_write_count(&self) -> u64 {
        self.with_db(|db| Ok(db.write_count())).unwrap_or(0)
    }

    /// Stores memo entries, all in one transaction. Entries whose value is already stored are skipped (they
    /// are rewritten only about once a day, to keep their age for prune fresh); when every entry is
    /// unchanged, no transaction is written at all.
    pub fn memo_put(&self, entries: &[(&[u8], &[u8])]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        self.with_db(|db| db.memo_put(entries))
    }
}

impl Lease {
    /// The cache record under `key`, with every blob it references pinned; `None` when there is no record or
    /// one of its blobs is gone (the record is then useless).
    pub fn cache_get(&self, key: &Digest) -> Result<Option<Vec<u8>>> {
        let Some((record, blobs)) = self.store().with_db(|db| db.cache_get(key))? else { return Ok(None) };
        for blob in &blobs {
            if !self.pin_blob(blob)? {
                return Ok(None);
            }
        }
        Ok(Some(record))
    }

    /// Stores `record` under `key`, referencing `referenced_blobs` (which must be in the store; they are
    /// kept by GC as long as the record exists). Replaces an existing record.
    pub fn cache_put(&self, key: &Digest, record: &[u8], referenced_blobs: &[Digest]) -> Result<()> {
        for blob in referenced_blobs {
            if !self.pin_blob(blob)? {
                return Err(StoreError::BlobNotFound(blob.clone()));
            }
        }
        self.store().sync_blob_names()?;
        self.store().with_db(|db| db.cache_put(key, record, referenced_blobs))
    }
}
