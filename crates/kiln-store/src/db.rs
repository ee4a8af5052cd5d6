//! The metadata database `v1/meta.sqlite`: [`Db`] holds refs, image records, the build-cache index, the
//! generic memo table, compressed-blob mappings and GC bookkeeping.
//!
//! Why SQLite and not redb: several kiln processes share one store. redb takes an exclusive lock on its file
//! for as long as a `Database` is open, so each operation would have to open it under our own flock, which
//! serializes even readers. Measured on this machine (300 operations each, `/tmp/dbbench`): redb
//! open+write+close under flock 1.84 ms, open+read+close 1.07 ms; SQLite in WAL mode with `synchronous=FULL`
//! open+write 1.41 ms, open+read 0.27 ms, and readers never wait for writers. SQLite is multi-process by
//! design, rolls back a transaction torn by `kill -9` on the next open, and `busy_timeout` turns contention
//! into waiting. Write transactions start `IMMEDIATE` so two writers never deadlock upgrading read locks.
//!
//! Durability: WAL with `synchronous=NORMAL`. A commit is atomic and the database stays consistent after a
//! crash or power loss; only the last commits before a power loss may be lost (the WAL is synced at
//! checkpoints, not at every commit, and closing a connection does not checkpoint). That is enough because nothing the database records needs a later
//! commit to be durable: every blob a record references was synced before the record was written (the
//! lease's [`crate::lease::Lease`] barrier), so losing a record only loses a cache entry, a memo or a tag
//! the next command writes again. Writes that would change nothing (a memo entry with the same value, an
//! image record and refs that already exist) are skipped, so an unchanged rebuild commits no transaction.

use std::path::Path;
use std::time::Duration;

use kiln_oci::{Compression, Digest};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::Result;
use crate::error::StoreError;

/// How long a statement waits for another process's write transaction before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// The schema version this code writes (`PRAGMA user_version`).
const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS images(
    manifest TEXT PRIMARY KEY,
    config   TEXT NOT NULL,
    size     INTEGER NOT NULL,
    created  TEXT,
    added    INTEGER NOT NULL,
    origin   TEXT
);
CREATE INDEX IF NOT EXISTS images_config ON images(config);
CREATE INDEX IF NOT EXISTS images_origin ON images(origin);
CREATE TABLE IF NOT EXISTS refs(
    name     TEXT PRIMARY KEY,
    manifest TEXT NOT NULL REFERENCES images(manifest)
);
CREATE INDEX IF NOT EXISTS refs_manifest ON refs(manifest);
CREATE TABLE IF NOT EXISTS cache(
    key     TEXT PRIMARY KEY,
    record  BLOB NOT NULL,
    created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS cache_blobs(
    key  TEXT NOT NULL REFERENCES cache(key) ON DELETE CASCADE,
    blob TEXT NOT NULL,
    PRIMARY KEY(key, blob)
);
CREATE TABLE IF NOT EXISTS memo(
    key     BLOB PRIMARY KEY,
    value   BLOB NOT NULL,
    written INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS compressed(
    diff_id     TEXT NOT NULL,
    compression TEXT NOT NULL,
    level       INTEGER NOT NULL,
    digest      TEXT NOT NULL,
    size        INTEGER NOT NULL,
    PRIMARY KEY(diff_id, compression, level)
);
CREATE TABLE IF NOT EXISTS meta(
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
";

/// One row of `images`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ImageRow {
    pub(crate) manifest: Digest,
    pub(crate) config: Digest,
    pub(crate) size: u64,
    pub(crate) created: Option<String>,
    pub(crate) added: i64,
    pub(crate) origin: Option<Digest>,
}

/// A compressed form of a layer, remembered so a second export does not recompress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CompressedRow {
    pub(crate) diff_id: Digest,
    pub(crate) compression: Compression,
    pub(crate) level: i32,
    pub(crate) digest: Digest,
    pub(crate) size: u64,
}

/// The connection.
pub(crate) struct Db {
    conn: Connection,
    /// Write transactions started on this connection (for tests: "did this write anything?").
    writes: u64,
}

/// A memo entry whose value is unchanged is still rewritten once it is this old (seconds), so that prune,
/// which drops entries not written for [`crate::cache::MEMO_MAX_AGE_DAYS`], keeps entries still in use.
const MEMO_REFRESH_SECS: i64 = 86_400;

fn err(context: &str) -> impl FnOnce(rusqlite::Error) -> StoreError + '_ {
    move |source| StoreError::Db { context: context.to_owned(), source }
}

fn digest_col(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Digest> {
    let s: String = row.get(i)?;
    Digest::parse(&s)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into()))
}

fn opt_digest_col(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<Digest>> {
    let s: Option<String> = row.get(i)?;
    s.map(|s| Digest::parse(&s))
        .transpose()
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into()))
}

fn image_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<ImageRow> {
    Ok(ImageRow {
        manifest: digest_col(row, 0)?,
        config: digest_col(row, 1)?,
        size: row.get::<_, i64>(2)? as u64,
        created: row.get(3)?,
        added: row.get(4)?,
        origin: opt_digest_col(row, 5)?,
    })
}

const IMAGE_COLS: &str = "manifest, config, size, created, added, origin";

fn compression_name(c: Compression) -> &'static str {
    match c {
        Compression::None => "none",
        Compression::Gzip => "gzip",
        Compression::Zstd => "zstd",
    }
}

fn parse_compression(s: &str) -> Compression {
    match s {
        "gzip" => Compression::Gzip,
        "zstd" => Compression::Zstd,
        _ => Compression::None,
    }
}

/// Seconds since the epoch.
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

impl Db {
    /// Opens the database, creating or upgrading its schema.
    pub(crate) fn open(path: &Path) -> Result<Db> {
        let conn = Connection::open(path)
            .map_err(|source| StoreError::Db { context: format!("opening {}", path.display()), source })?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(err("setting busy timeout"))?;
        // journal_mode needs the database lock once; it persists in the file.
        let mode: String =
            conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)).map_err(err("enabling WAL"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::invalid(
                path.display().to_string(),
                format!("cannot use WAL mode (got {mode})"),
            ));
        }
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(err("setting synchronous"))?;
        // Closing the last connection would otherwise checkpoint the WAL into the database (two fsyncs at
        // the end of every kiln command); checkpoints then happen only as the WAL grows (1000 pages).
        conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
            .map_err(err("configuring checkpoints"))?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(err("enabling foreign keys"))?;
        let mut db = Db { conn, writes: 0 };
        let version: i64 = db
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(err("reading schema version"))?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::invalid(
                path.display().to_string(),
                format!("schema version {version} is newer than this kiln understands ({SCHEMA_VERSION})"),
            ));
        }
        if version < SCHEMA_VERSION {
            let tx = db.write()?;
            tx.execute_batch(SCHEMA).map_err(err("creating schema"))?;
            tx.pragma_update(None, "user_version", SCHEMA_VERSION).map_err(err("setting schema version"))?;
            tx.commit().map_err(err("committing schema"))?;
        }
        Ok(db)
    }

    /// Starts a write transaction (`BEGIN IMMEDIATE`).
    pub(crate) fn write(&mut self) -> Result<rusqlite::Transaction<'_>> {
        self.writes += 1;
        self.conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err("starting a transaction"))
    }

    /// How many write transactions this connection started.
    pub(crate) fn write_count(&self) -> u64 {
        self.writes
    }

    // --- images and refs -------------------------------------------------------------------------------

    /// True when image `row.manifest` is recorded and every one of `refs` already points at it, so
    /// [`Db::insert_image`] would change nothing (an origin already set is kept by it anyway).
    pub(crate) fn image_and_refs_exist(&self, row: &ImageRow, refs: &[String]) -> Result<bool> {
        let Some(existing) = self.image(&row.manifest)? else { return Ok(false) };
        if existing.origin.is_none() && row.origin.is_some() {
            return Ok(false);
        }
        for name in refs {
            if self.resolve_ref(name)?.as_ref() != Some(&row.manifest) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Inserts (or keeps) image `row` and points `refs` at it, in one transaction.
    pub(crate) fn insert_image(&mut self, row: &ImageRow, refs: &[String]) -> Result<()> {
        let tx = self.write()?;
        tx.execute(
            "INSERT INTO images(manifest, config, size, created, added, origin) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(manifest) DO UPDATE SET origin = COALESCE(images.origin, excluded.origin)",
            params![
                row.manifest.to_string(),
                row.config.to_string(),
                row.size as i64,
                row.created,
                row.added,
                row.origin.as_ref().map(Digest::to_string)
            ],
        )
        .map_err(err("inserting image"))?;
        for name in refs {
            tx.execute(
                "INSERT INTO refs(name, manifest) VALUES (?1, ?2) ON CONFLICT(name) DO UPDATE SET manifest = excluded.manifest",
                params![name, row.manifest.to_string()],
            )
            .map_err(err("setting ref"))?;
        }
        tx.commit().map_err(err("committing image"))
    }

    pub(crate) fn image(&self, manifest: &Digest) -> Result<Option<ImageRow>> {
        self.conn
            .query_row(
                &format!("SELECT {IMAGE_COLS} FROM images WHERE manifest = ?1"),
                [manifest.to_string()],
                image_row,
            )
            .optional()
            .map_err(err("reading image"))
    }

    /// Images whose manifest or origin digest is `digest`.
    pub(crate) fn images_by_manifest_or_origin(&self, digest: &Digest) -> Result<Vec<ImageRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {IMAGE_COLS} FROM images WHERE manifest = ?1 OR origin = ?1"))
            .map_err(err("querying images"))?;
        let rows = stmt.query_map([digest.to_string()], image_row).map_err(err("querying images"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(err("reading images"))
    }

    /// Images whose config digest (image ID) starts with `sha256:<hex_prefix>`.
    pub(crate) fn images_by_id_prefix(&self, hex_prefix: &str) -> Result<Vec<ImageRow>> {
        // hex_prefix is validated as lowercase hex by the caller, so it holds no LIKE wildcards.
        let pattern = format!("sha256:{hex_prefix}%");
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {IMAGE_COLS} FROM images WHERE config LIKE ?1"))
            .map_err(err("querying images"))?;
        let rows = stmt.query_map([pattern], image_row).map_err(err("querying images"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(err("reading images"))
    }

    pub(crate) fn all_images(&self) -> Result<Vec<ImageRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {IMAGE_COLS} FROM images ORDER BY added DESC, manifest"))
            .map_err(err("listing images"))?;
        let rows = stmt.query_map([], image_row).map_err(err("listing images"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(err("reading images"))
    }

    pub(crate) fn all_refs(&self) -> Result<Vec<(String, Digest)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name, manifest FROM refs ORDER BY name")
            .map_err(err("listing refs"))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, digest_col(r, 1)?)))
            .map_err(err("listing refs"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(err("reading refs"))
    }

    pub(crate) fn refs_of(&self, manifest: &Digest) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name FROM refs WHERE manifest = ?1 ORDER BY name")
            .map_err(err("listing refs"))?;
        let rows = stmt.query_map([manifest.to_string()], |r| r.get(0)).map_err(err("listing refs"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(err("reading refs"))
    }

    pub(crate) fn resolve_ref(&self, name: &str) -> Result<Option<Digest>> {
        self.conn
            .query_row("SELECT manifest FROM refs WHERE name = ?1", [name], |r| digest_col(r, 0))
            .optional()
            .map_err(err("resolving ref"))
    }

    /// Points `name` at image `manifest`; fails when the image record is gone.
    pub(crate) fn set_ref(&mut self, name: &str, manifest: &Digest) -> Result<()> {
        let tx = self.write()?;
        let exists: bool = tx
            .query_row(
                "SELECT EXISTS(SELECT 1 FROM images WHERE manifest = ?1)",
                [manifest.to_string()],
                |r| r.get(0),
            )
            .map_err(err("checking image"))?;
        if !exists {
            return Err(StoreError::ImageNotFound(manifest.to_string()));
        }
        tx.execute(
            "INSERT INTO refs(name, manifest) VALUES (?1, ?2) ON CONFLICT(name) DO UPDATE SET manifest = excluded.manifest",
            params![name, manifest.to_string()],
        )
        .map_err(err("setting ref"))?;
        tx.commit().map_err(err("committing ref"))
    }

    /// Removes ref `name` (if it still points at `manifest`) and, when no ref is left, the image record.
    /// Returns (ref removed, image removed).
    pub(crate) fn remove_ref(&mut self, name: &str, manifest: &Digest) -> Result<(bool, bool)> {
        let tx = self.write()?;
        let removed = tx
            .execute(
                "DELETE FROM refs WHERE name = ?1 AND manifest = ?2",
                params![name, manifest.to_string()],
            )
            .map_err(err("removing ref"))?
            > 0;
        let left: i64 = tx
            .query_row("SELECT COUNT(*) FROM refs WHERE manifest = ?1", [manifest.to_string()], |r| r.get(0))
            .map_err(err("counting refs"))?;
        let image_removed = removed
            && left == 0
            && tx
                .execute("DELETE FROM images WHERE manifest = ?1", [manifest.to_string()])
                .map_err(err("removing image"))?
                > 0;
        tx.commit().map_err(err("committing removal"))?;
        Ok((removed, image_removed))
    }

    /// Removes image `manifest` and every ref to it; returns the refs removed and whether the image was there.
    pub(crate) fn remove_image(&mut self, manifest: &Digest) -> Result<(Vec<String>, bool)> {
        let refs = self.refs_of(manifest)?;
        let tx = self.write()?;
        tx.execute("DELETE FROM refs WHERE manifest = ?1", [manifest.to_string()])
            .map_err(err("removing refs"))?;
        let removed = tx
            .execute("DELETE FROM images WHERE manifest = ?1", [manifest.to_string()])
            .map_err(err("removing image"))?
            > 0;
        tx.commit().map_err(err("committing removal"))?;
        Ok((refs, removed))
    }

    // --- build cache -----------------------------------------------------------------------------------

    pub(crate) fn cache_get(&self, key: &Digest) -> Result<Option<(Vec<u8>, Vec<Digest>)>> {
        let record: Option<Vec<u8>> = self
            .conn
            .query_row("SELECT record FROM cache WHERE key = ?1", [key.to_string()], |r| r.get(0))
            .optional()
            .map_err(err("reading cache record"))?;
        let Some(record) = record else { return Ok(None) };
        let mut stmt = self
            .conn
            .prepare_cached("SELECT blob FROM cache_blobs WHERE key = ?1")
            .map_err(err("reading cache blobs"))?;
        let blobs = stmt
            .query_map([key.to_string()], |r| digest_col(r, 0))
            .map_err(err("reading cache blobs"))?
            .collect::<rusqlite::Result<_>>()
            .map_err(err("reading cache blobs"))?;
        Ok(Some((record, blobs)))
    }

    pub(crate) fn cache_put(&mut self, key: &Digest, record: &[u8], blobs: &[Digest]) -> Result<()> {
        let tx = self.write()?;
        tx.execute("DELETE FROM cache WHERE key = ?1", [key.to_string()])
            .map_err(err("replacing cache record"))?;
        tx.execute(
            "INSERT INTO cache(key, record, created) VALUES (?1, ?2, ?3)",
            params![key.to_string(), record, now()],
        )
        .map_err(err("writing cache record"))?;
        for blob in blobs {
            tx.execute(
                "INSERT OR IGNORE INTO cache_blobs(key, blob) VALUES (?1, ?2)",
                params![key.to_string(), blob.to_string()],
            )
            .map_err(err("writing cache blobs"))?;
        }
        tx.commit().map_err(err("committing cache record"))
    }

    /// Deletes cache records created before `before` (unix seconds); returns how many.
    pub(crate) fn cache_remove_older(&mut self, before: i64) -> Result<usize> {
        let tx = self.write()?;
        let n = tx.execute("DELETE FROM cache WHERE created < ?1", [before]).map_err(err("pruning cache"))?;
        tx.commit().map_err(err("committing cache prune"))?;
        Ok(n)
    }

    pub(crate) fn cache_blobs(&self) -> Result<Vec<Digest>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT DISTINCT blob FROM cache_blobs")
            .map_err(err("listing cache blobs"))?;
        let rows = stmt.query_map([], |r| digest_col(r, 0)).map_err(err("listing cache blobs"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(err("reading cache blobs"))
    }

    // --- memo ------------------------------------------------------------------------------------------

    pub(crate) fn memo_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let mut stmt =
            self.conn.prepare_cached("SELECT value FROM memo WHERE key = ?1").map_err(err("reading memo"))?;
        stmt.query_row([key], |r| r.get(0)).optional().map_err(err("reading memo"))
    }

    /// The values under `keys`, read in one transaction (one lock round instead of one per key).
    pub(crate) fn memo_get_many(&mut self, keys: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>> {
        let tx = self.conn.transaction().map_err(err("starting a read transaction"))?;
        let values = {
            let mut stmt =
                tx.prepare_cached("SELECT value FROM memo WHERE key = ?1").map_err(err("reading memo"))?;
            keys.iter()
                .map(|k| stmt.query_row([k], |r| r.get(0)).optional().map_err(err("reading memo")))
                .collect::<Result<Vec<_>>>()?
        };
        tx.commit().map_err(err("ending a read transaction"))?;
        Ok(values)
    }

    /// Stores memo entries in one transaction; entries whose stored value is already the same (and was
    /// written less than [`MEMO_REFRESH_SECS`] ago) are skipped, and nothing is written when all are.
    pub(crate) fn memo_put(&mut self, entries: &[(&[u8], &[u8])]) -> Result<()> {
        let t = now();
        let read = self.conn.transaction().map_err(err("starting a read transaction"))?;
        let mut changed: Vec<(&[u8], &[u8])> = Vec::new();
        {
            let mut stmt = read
                .prepare_cached("SELECT value, written FROM memo WHERE key = ?1")
                .map_err(err("reading memo"))?;
            for &(k, v) in entries {
                let current: Option<(Vec<u8>, i64)> = stmt
                    .query_row([k], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
                    .map_err(err("reading memo"))?;
                let fresh =
                    current.is_some_and(|(value, written)| value == v && t - written < MEMO_REFRESH_SECS);
                if !fresh {
                    changed.push((k, v));
                }
            }
        }
        read.commit().map_err(err("ending a read transaction"))?;
        if changed.is_empty() {
            return Ok(());
        }
        let entries = changed.as_slice();
        let tx = self.write()?;
        {
            let mut stmt = tx
                .prepare_cached("INSERT INTO memo(key, value, written) VALUES (?1, ?2, ?3) ON CONFLICT(key) DO UPDATE SET value = excluded.value, written = excluded.written")
                .map_err(err("writing memo"))?;
            for (k, v) in entries {
                stmt.execute(params![k, v, t]).map_err(err("writing memo"))?;
            }
        }
        tx.commit().map_err(err("committing memo"))
    }

    pub(crate) fn memo_remove_older(&mut self, before: i64) -> Result<usize> {
        let tx = self.write()?;
        let n = tx.execute("DELETE FROM memo WHERE written < ?1", [before]).map_err(err("pruning memo"))?;
        tx.commit().map_err(err("committing memo prune"))?;
        Ok(n)
    }

    // --- compressed-blob mappings -----------------------------------------------------------------------

    pub(crate) fn compressed_get(
        &self,
        diff_id: &Digest,
        compression: Compression,
        level: i32,
    ) -> Result<Option<CompressedRow>> {
        self.conn
            .query_row(
                "SELECT digest, size FROM compressed WHERE diff_id = ?1 AND compression = ?2 AND level = ?3",
                params![diff_id.to_string(), compression_name(compression), level],
                |r| {
                    Ok(CompressedRow {
                        diff_id: diff_id.clone(),
                        compression,
                        level,
                        digest: digest_col(r, 0)?,
                        size: r.get::<_, i64>(1)? as u64,
                    })
                },
            )
            .optional()
            .map_err(err("reading compressed mapping"))
    }

    pub(crate) fn compressed_put(&mut self, row: &CompressedRow) -> Result<()> {
        let tx = self.write()?;
        tx.execute(
            "INSERT OR REPLACE INTO compressed(diff_id, compression, level, digest, size) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                row.diff_id.to_string(),
                compression_name(row.compression),
                row.level,
                row.digest.to_string(),
                row.size as i64
            ],
        )
        .map_err(err("writing compressed mapping"))?;
        tx.commit().map_err(err("committing compressed mapping"))
    }

    pub(crate) fn all_compressed(&self) -> Result<Vec<CompressedRow>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT diff_id, compression, level, digest, size FROM compressed")
            .map_err(err("listing compressed mappings"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(CompressedRow {
                    diff_id: digest_col(r, 0)?,
                    compression: parse_compression(&r.get::<_, String>(1)?),
                    level: r.get(2)?,
                    digest: digest_col(r, 3)?,
                    size: r.get::<_, i64>(4)? as u64,
                })
            })
            .map_err(err("listing compressed mappings"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(err("reading compressed mappings"))
    }

    pub(crate) fn compressed_remove(&mut self, rows: &[CompressedRow]) -> Result<()> {
        let tx = self.write()?;
        for row in rows {
            tx.execute(
                "DELETE FROM compressed WHERE diff_id = ?1 AND compression = ?2 AND level = ?3",
                params![row.diff_id.to_string(), compression_name(row.compression), row.level],
            )
            .map_err(err("removing compressed mapping"))?;
        }
        tx.commit().map_err(err("committing mapping removal"))
    }

    // --- bookkeeping -----------------------------------------------------------------------------------

    pub(crate) fn set_meta(&mut self, key: &str, value: &str) -> Result<()> {
        self.conn
            .execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)", params![key, value])
            .map_err(err("writing bookkeeping"))?;
        Ok(())
    }
}
