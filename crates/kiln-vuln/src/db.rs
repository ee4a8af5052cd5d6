//! [`VulnDb`]: the offline OSV database, a SQLite file `osv.sqlite` in a directory the caller chooses
//! (kiln-cli uses `<store root>/v1/vulndb/`).
//!
//! Layout (schema version 1): `advisory(id, modified, ecosystems, record)` keeps each OSV record as its
//! JSON text; `affected(ecosystem, name, id)`, indexed on `(ecosystem, name)`, lists the packages each
//! record affects, with names normalized per ecosystem ([`normalize_name`]) and Ubuntu's `:LTS`/`:Pro`
//! variants folded into `Ubuntu:<release>` ([`ecosystem_key`]). A lookup is one indexed query returning
//! the few records that name the package; the records are parsed only then. SQLite was chosen over a
//! custom index because it gives atomic imports (one transaction: a failed or interrupted import leaves
//! the previous database intact), concurrent readers, and lookups measured well under a millisecond.
//!
//! Import accepts OSV JSON files (one record, or an array of records), directories of them (recursively)
//! and the per-ecosystem `all.zip` archives OSV publishes. A record replaces a stored one with the same ID
//! unless the stored one was modified later.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

use crate::VulnError;
use crate::osv::Advisory;

/// The schema version this kiln writes and reads.
pub const SCHEMA_VERSION: u32 = 1;
/// The largest OSV JSON document read from a zip archive (a guard against zip bombs; real records are
/// kilobytes).
const MAX_RECORD_BYTES: u64 = 256 << 20;
/// The database file name inside the directory.
pub const DB_FILE: &str = "osv.sqlite";

/// An open database.
#[derive(Debug)]
pub struct VulnDb {
    conn: Connection,
    path: PathBuf,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportReport {
    /// Files read (JSON files, and members of zip archives).
    pub files: u64,
    /// Records stored (new or replacing an older one).
    pub stored: u64,
    /// Records skipped because the database already had a newer version.
    pub unchanged: u64,
    /// Records per ecosystem (as written in the records), among those stored.
    pub by_ecosystem: BTreeMap<String, u64>,
}

/// What the database holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DbStatus {
    /// The database file.
    pub path: PathBuf,
    /// Its schema version.
    pub schema_version: u32,
    /// Number of advisories.
    pub advisories: u64,
    /// Advisories per ecosystem key (an advisory affecting several ecosystems counts in each).
    pub by_ecosystem: BTreeMap<String, u64>,
    /// The newest `modified` time among the records.
    pub newest_modified: Option<String>,
    /// When the last import finished (RFC 3339), and what it read.
    pub last_import: Option<String>,
    /// The sources of past imports, oldest first.
    pub sources: Vec<String>,
}

/// The key an OSV ecosystem is indexed under: the ecosystem as written, except Ubuntu's variants
/// (`Ubuntu:22.04:LTS`, `Ubuntu:Pro:18.04:LTS`) fold into `Ubuntu:<release>`.
pub fn ecosystem_key(ecosystem: &str) -> String {
    let parts: Vec<&str> = ecosystem.split(':').collect();
    if parts.first() == Some(&"Ubuntu")
        && let Some(release) =
            parts.iter().skip(1).find(|p| p.chars().next().is_some_and(|c| c.is_ascii_digit()))
    {
        return format!("Ubuntu:{release}");
    }
    ecosystem.to_owned()
}

/// A package name as the index stores it: PyPI names normalized per PEP 503 (`Foo_Bar` → `foo-bar`), OS
/// package names lower-cased, others as written.
pub fn normalize_name(ecosystem: &str, name: &str) -> String {
    let base = ecosystem.split(':').next().unwrap_or(ecosystem);
    match base {
        "PyPI" => {
            let mut out = String::with_capacity(name.len());
            let mut last_sep = false;
            for c in name.trim().chars() {
                if matches!(c, '-' | '_' | '.') {
                    if !last_sep {
                        out.push('-');
                    }
                    last_sep = true;
                } else {
                    out.extend(c.to_lowercase());
                    last_sep = false;
                }
            }
            out
        }
        "Debian" | "Ubuntu" | "Alpine" | "Wolfi" | "Chainguard" => name.to_ascii_lowercase(),
        _ => name.to_owned(),
    }
}

impl VulnDb {
    /// Opens the database in `dir`, creating the directory and an empty database if needed (for import).
    pub fn create(dir: &Path) -> Result<VulnDb, VulnError> {
        fs_err::create_dir_all(dir).map_err(|source| VulnError::Io {
            path: dir.to_owned(),
            action: "creating the database directory",
            source,
        })?;
        let db = Self::connect(dir.join(DB_FILE))?;
        db.init()?;
        Ok(db)
    }

    /// Opens the existing database in `dir` (for lookups); an error saying how to import when there is
    /// none.
    pub fn open(dir: &Path) -> Result<VulnDb, VulnError> {
        let path = dir.join(DB_FILE);
        if !path.is_file() {
            return Err(VulnError::NoDatabase { dir: dir.to_owned() });
        }
        let db = Self::connect(path)?;
        db.check_schema()?;
        Ok(db)
    }

    fn connect(path: PathBuf) -> Result<VulnDb, VulnError> {
        let conn = Connection::open(&path).map_err(|source| VulnError::Sql {
            path: path.clone(),
            action: "opening",
            source,
        })?;
        let db = VulnDb { conn, path };
        db.conn
            .busy_timeout(std::time::Duration::from_secs(30))
            .and_then(|_| db.conn.pragma_update(None, "journal_mode", "WAL"))
            .map_err(|e| db.sql("configuring", e))?;
        Ok(db)
    }

    fn sql(&self, action: &'static str, source: rusqlite::Error) -> VulnError {
        VulnError::Sql { path: self.path.clone(), action, source }
    }

    fn init(&self) -> Result<(), VulnError> {
        self.conn
            .execute_batch(
                "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                 CREATE TABLE IF NOT EXISTS advisory (
                     id TEXT PRIMARY KEY, modified TEXT, record TEXT NOT NULL);
                 CREATE TABLE IF NOT EXISTS affected (
                     ecosystem TEXT NOT NULL, name TEXT NOT NULL, id TEXT NOT NULL);
                 CREATE INDEX IF NOT EXISTS affected_package ON affected (ecosystem, name);
                 CREATE INDEX IF NOT EXISTS affected_id ON affected (id);
                 CREATE TABLE IF NOT EXISTS import (
                     finished TEXT NOT NULL, source TEXT NOT NULL, stored INTEGER NOT NULL);",
            )
            .map_err(|e| self.sql("creating the schema", e))?;
        let found: Option<String> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| r.get(0))
            .optional()
            .map_err(|e| self.sql("reading the schema version", e))?;
        match found {
            None => {
                self.conn
                    .execute(
                        "INSERT INTO meta (key, value) VALUES ('schema', ?1)",
                        [SCHEMA_VERSION.to_string()],
                    )
                    .map_err(|e| self.sql("writing the schema version", e))?;
                Ok(())
            }
            Some(_) => self.check_schema(),
        }
    }

    fn check_schema(&self) -> Result<(), VulnError> {
        let found: Option<String> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| r.get(0))
            .optional()
            .map_err(|e| self.sql("reading the schema version", e))?;
        match found {
            Some(v) if v == SCHEMA_VERSION.to_string() => Ok(()),
            other => Err(VulnError::Schema {
                path: self.path.clone(),
                found: other.unwrap_or_else(|| "none".into()),
                expected: SCHEMA_VERSION,
            }),
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Imports OSV records from `source` (a JSON file, a directory, or a zip archive) in one transaction.
    pub fn import(&mut self, source: &Path) -> Result<ImportReport, VulnError> {
        let path = self.path.clone();
        let sql = |action, source| VulnError::Sql { path: path.clone(), action, source };
        let tx = self.conn.transaction().map_err(|e| sql("starting the import", e))?;
        let mut report = ImportReport::default();
        {
            let mut writer = Writer::new(&tx).map_err(|e| sql("preparing the import", e))?;
            for_each_record(source, &mut |origin, bytes| {
                report.files += 1;
                for advisory in parse_records(origin, bytes)? {
                    let stored = writer
                        .put(&advisory, bytes_of(&advisory)?)
                        .map_err(|e| sql("storing a record", e))?;
                    if stored {
                        report.stored += 1;
                        for a in &advisory.affected {
                            if let Some(p) = &a.package {
                                *report.by_ecosystem.entry(p.ecosystem.clone()).or_default() += 1;
                            }
                        }
                    } else {
                        report.unchanged += 1;
                    }
                }
                Ok(())
            })?;
        }
        let now = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        tx.execute(
            "INSERT INTO import (finished, source, stored) VALUES (?1, ?2, ?3)",
            params![now, source.display().to_string(), report.stored as i64],
        )
        .map_err(|e| sql("recording the import", e))?;
        tx.commit().map_err(|e| sql("committing the import", e))?;
        Ok(report)
    }

    /// What the database holds.
    pub fn status(&self) -> Result<DbStatus, VulnError> {
        let count: i64 = self
            .conn
            .query_row("SELECT count(*) FROM advisory", [], |r| r.get(0))
            .map_err(|e| self.sql("counting advisories", e))?;
        let newest: Option<String> = self
            .conn
            .query_row("SELECT max(modified) FROM advisory", [], |r| r.get(0))
            .map_err(|e| self.sql("reading modification times", e))?;
        let mut by_ecosystem = BTreeMap::new();
        let mut stmt = self
            .conn
            .prepare(
                "SELECT ecosystem, count(DISTINCT id) FROM affected GROUP BY ecosystem ORDER BY ecosystem",
            )
            .map_err(|e| self.sql("counting by ecosystem", e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .map_err(|e| self.sql("counting by ecosystem", e))?;
        for row in rows {
            let (eco, n) = row.map_err(|e| self.sql("counting by ecosystem", e))?;
            by_ecosystem.insert(eco, n as u64);
        }
        let mut sources = Vec::new();
        let mut last_import = None;
        let mut stmt = self
            .conn
            .prepare("SELECT finished, source FROM import ORDER BY rowid")
            .map_err(|e| self.sql("reading past imports", e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(|e| self.sql("reading past imports", e))?;
        for row in rows {
            let (finished, source) = row.map_err(|e| self.sql("reading past imports", e))?;
            last_import = Some(finished);
            sources.push(source);
        }
        Ok(DbStatus {
            path: self.path.clone(),
            schema_version: SCHEMA_VERSION,
            advisories: count as u64,
            by_ecosystem,
            newest_modified: newest,
            last_import,
            sources,
        })
    }

    /// The advisories that name package `name` in `ecosystem` (any spelling [`ecosystem_key`] and
    /// [`normalize_name`] fold together), withdrawn ones included.
    pub fn advisories_for(&self, ecosystem: &str, name: &str) -> Result<Vec<Advisory>, VulnError> {
        let key = ecosystem_key(ecosystem);
        let name = normalize_name(ecosystem, name);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT a.id, a.record FROM advisory a
                 WHERE a.id IN (SELECT id FROM affected WHERE ecosystem = ?1 AND name = ?2)
                 ORDER BY a.id",
            )
            .map_err(|e| self.sql("looking up a package", e))?;
        let rows = stmt
            .query_map(params![key, name], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(|e| self.sql("looking up a package", e))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, record) = row.map_err(|e| self.sql("looking up a package", e))?;
            let advisory = serde_json::from_str(&record).map_err(|source| VulnError::Record {
                origin: format!("{} (stored record {id})", self.path.display()),
                source,
            })?;
            out.push(advisory);
        }
        Ok(out)
    }
}

/// Re-serializes a record compactly for storage.
fn bytes_of(advisory: &Advisory) -> Result<String, VulnError> {
    serde_json::to_string(advisory)
        .map_err(|source| VulnError::Record { origin: advisory.id.clone(), source })
}

/// Parses one JSON document: a record, or an array of records.
fn parse_records(origin: &str, bytes: &[u8]) -> Result<Vec<Advisory>, VulnError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    let result = if first == Some(&b'[') {
        serde_json::from_slice::<Vec<Advisory>>(bytes)
    } else {
        serde_json::from_slice::<Advisory>(bytes).map(|a| vec![a])
    };
    result.map_err(|source| VulnError::Record { origin: origin.to_owned(), source })
}

/// Prepared statements of one import transaction.
struct Writer<'t> {
    existing: rusqlite::Statement<'t>,
    delete_affected: rusqlite::Statement<'t>,
    upsert: rusqlite::Statement<'t>,
    insert_affected: rusqlite::Statement<'t>,
}

impl<'t> Writer<'t> {
    fn new(tx: &'t rusqlite::Transaction<'_>) -> rusqlite::Result<Writer<'t>> {
        Ok(Writer {
            existing: tx.prepare("SELECT modified FROM advisory WHERE id = ?1")?,
            delete_affected: tx.prepare("DELETE FROM affected WHERE id = ?1")?,
            upsert: tx.prepare(
                "INSERT INTO advisory (id, modified, record) VALUES (?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET modified = excluded.modified, record = excluded.record",
            )?,
            insert_affected: tx.prepare("INSERT INTO affected (ecosystem, name, id) VALUES (?1, ?2, ?3)")?,
        })
    }

    /// Stores `advisory` unless a later-modified version is stored; returns whether it stored it.
    fn put(&mut self, advisory: &Advisory, record: String) -> rusqlite::Result<bool> {
        let existing: Option<Option<String>> =
            self.existing.query_row([&advisory.id], |r| r.get(0)).optional()?;
        if let Some(Some(stored)) = &existing
            && advisory.modified.as_deref().is_some_and(|new| new < stored.as_str())
        {
            return Ok(false);
        }
        if existing.is_some() {
            self.delete_affected.execute([&advisory.id])?;
        }
        self.upsert.execute(params![advisory.id, advisory.modified, record])?;
        let mut seen = std::collections::BTreeSet::new();
        for affected in &advisory.affected {
            if let Some(p) = &affected.package {
                let key = (ecosystem_key(&p.ecosystem), normalize_name(&p.ecosystem, &p.name));
                if seen.insert(key.clone()) {
                    self.insert_affected.execute(params![key.0, key.1, advisory.id])?;
                }
            }
        }
        Ok(true)
    }
}

/// Receives each JSON document found: its origin (path, or `archive:member`) and bytes.
type RecordSink<'a> = dyn FnMut(&str, &[u8]) -> Result<(), VulnError> + 'a;

/// Calls `f(origin, bytes)` for every JSON document under `source`.
fn for_each_record(source: &Path, f: &mut RecordSink<'_>) -> Result<(), VulnError> {
    let io = |action| move |e| VulnError::Io { path: source.to_owned(), action, source: e };
    let meta = fs_err::metadata(source).map_err(io("reading"))?;
    if meta.is_dir() {
        let mut entries: Vec<PathBuf> = fs_err::read_dir(source)
            .map_err(io("listing"))?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(io("listing"))?;
        entries.sort();
        for entry in entries {
            let is_dir = entry.is_dir();
            let name = entry.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if is_dir || name.ends_with(".json") || name.ends_with(".zip") {
                for_each_record(&entry, f)?;
            }
        }
        return Ok(());
    }
    let name = source.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.ends_with(".zip") {
        return for_each_zip_member(source, f);
    }
    if name.ends_with(".json") {
        let bytes = fs_err::read(source).map_err(io("reading"))?;
        return f(&source.display().to_string(), &bytes);
    }
    Err(VulnError::UnsupportedSource { path: source.to_owned() })
}

fn for_each_zip_member(path: &Path, f: &mut RecordSink<'_>) -> Result<(), VulnError> {
    let file = fs_err::File::open(path).map_err(|source| VulnError::Io {
        path: path.to_owned(),
        action: "opening",
        source,
    })?;
    let bad = |reason: String| VulnError::Archive { path: path.to_owned(), reason };
    let mut zip = zip::ZipArchive::new(file).map_err(|e| bad(format!("not a readable zip archive: {e}")))?;
    let mut buf = Vec::new();
    for i in 0..zip.len() {
        let mut member = zip.by_index(i).map_err(|e| bad(format!("member {i}: {e}")))?;
        let member_name = member.name().map_err(|e| bad(format!("member {i}: {e}")))?.into_owned();
        if !member.is_file() || !member_name.ends_with(".json") {
            continue;
        }
        if member.size() > MAX_RECORD_BYTES {
            return Err(bad(format!(
                "member {member_name}: {} bytes is over the {MAX_RECORD_BYTES}-byte limit of one OSV file",
                member.size()
            )));
        }
        buf.clear();
        member.read_to_end(&mut buf).map_err(|e| bad(format!("member {member_name}: {e}")))?;
        f(&format!("{}:{member_name}", path.display()), &buf)?;
    }
    Ok(())
}
