//! Atomic file creation: [`AtomicFile`] writes to a temporary file beside the target and renames it into
//! place on [`AtomicFile::commit`]; dropped uncommitted, it leaves nothing behind.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

/// A file being written that becomes visible at its final path only when committed.
#[derive(Debug)]
pub struct AtomicFile {
    temp: NamedTempFile,
    target: PathBuf,
}

impl AtomicFile {
    /// Starts writing `target`; its directory must exist.
    pub fn create(target: impl Into<PathBuf>) -> io::Result<Self> {
        let target = target.into();
        let dir = parent_dir(&target);
        let temp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir).map_err(|e| {
            io::Error::new(e.kind(), format!("creating a temporary file in {}: {e}", dir.display()))
        })?;
        Ok(AtomicFile { temp, target })
    }

    /// The final path.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// The open temporary file, e.g. to seek or read back.
    pub fn file(&mut self) -> &mut File {
        self.temp.as_file_mut()
    }

    /// Flushes the data to disk, renames the file into place and syncs the directory.
    pub fn commit(self) -> io::Result<()> {
        let AtomicFile { temp, target } = self;
        temp.as_file()
            .sync_all()
            .map_err(|e| io::Error::new(e.kind(), format!("syncing {}: {e}", target.display())))?;
        temp.persist(&target).map_err(|e| {
            io::Error::new(e.error.kind(), format!("renaming into {}: {}", target.display(), e.error))
        })?;
        fsync_dir(parent_dir(&target))
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.temp.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.temp.flush()
    }
}

/// Writes `data` to `path` atomically.
pub fn write_atomic(path: impl Into<PathBuf>, data: &[u8]) -> io::Result<()> {
    let mut file = AtomicFile::create(path)?;
    file.write_all(data)?;
    file.commit()
}

/// Syncs a directory, so a rename or create inside it survives a crash.
pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io::Error::new(e.kind(), format!("syncing directory {}: {e}", dir.display())))
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_makes_the_file_appear_whole() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("f");
        let mut f = AtomicFile::create(&target).unwrap();
        f.write_all(b"hello").unwrap();
        assert!(!target.exists(), "nothing is visible before commit");
        f.commit().unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"hello");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temp file is left");
    }

    #[test]
    fn dropping_uncommitted_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        write_atomic(dir.path().join("keep"), b"old").unwrap();
        {
            let mut f = AtomicFile::create(dir.path().join("keep")).unwrap();
            f.write_all(b"new but abandoned").unwrap();
        }
        assert_eq!(std::fs::read(dir.path().join("keep")).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
