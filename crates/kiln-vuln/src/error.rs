//! [`VulnError`]: what can go wrong importing, opening or querying the vulnerability database; every
//! variant names its file (and archive member) or database path.

use std::path::PathBuf;

/// Why a database operation failed.
#[derive(Debug, thiserror::Error)]
pub enum VulnError {
    /// The database directory has no database yet.
    #[error("no vulnerability database at {}: import OSV data first with `kiln db import PATH`", .dir.display())]
    NoDatabase {
        /// The directory looked in.
        dir: PathBuf,
    },
    /// A file or directory could not be read.
    #[error("{}: {action}: {source}", .path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// The error.
        source: std::io::Error,
    },
    /// A zip archive is corrupt.
    #[error("{}: {reason}", .path.display())]
    Archive {
        /// The archive.
        path: PathBuf,
        /// What is wrong (with the member, when known).
        reason: String,
    },
    /// An OSV record is not valid JSON or not an OSV record.
    #[error("{origin}: not an OSV record: {source}")]
    Record {
        /// The file, or `archive.zip:member.json`.
        origin: String,
        /// The parse error (with line and column).
        source: serde_json::Error,
    },
    /// A path given to import is neither a JSON file, a zip archive nor a directory.
    #[error("{}: not an OSV JSON file, a directory of them, or a zip archive of them", .path.display())]
    UnsupportedSource {
        /// The path.
        path: PathBuf,
    },
    /// The SQLite index failed.
    #[error("vulnerability database {}: {action}: {source}", .path.display())]
    Sql {
        /// The database file.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// The error.
        source: rusqlite::Error,
    },
    /// The database was written by an incompatible kiln.
    #[error("vulnerability database {}: schema version {found}, this kiln reads {expected}; re-import it into an empty directory", .path.display())]
    Schema {
        /// The database file.
        path: PathBuf,
        /// The version found.
        found: String,
        /// The version this kiln writes.
        expected: u32,
    },
}
