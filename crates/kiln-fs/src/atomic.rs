//! Atomic file creation: [`AtomicFile`] writes to a temporary file beside the target and renames it into
//! place on [`AtomicFile::commit`]; dropped uncommitted, it leaves nothing behind. Large files start their
//! writeback while being written ([`Writeback`]), so the commit's fsync is short.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::Writeback;

/// A file being written that becomes visible at its final path only when committed.
#[derive(Debug)]
pub struct AtomicFile {
    temp: Writeback<NamedTempFile>,
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
        Ok(AtomicFile { temp: Writeback::new(temp), target })
    }

    /// The final path.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// The open temporary file, e.g. to seek or read back.
    pub fn file(&mut self) -> &mut File {
        self.temp.get_mut().as_file_mut()
    }

    /// Appends `len` bytes of `source` from its current position, copied inside the kernel where the
    /// filesystem allows it (`copy_file_range`); returns the number copied, short only at the end of
    /// `source`.
    pub fn append_from(&mut self, source: &mut File, len: u64) -> io::Result<u64> {
        let mut copied = 0;
        while copied < len {
            // In pieces, so that writeback starts as the copy goes.
            let piece = (len - copied).min(8 << 20);
            let n = io::copy(&mut Read::take(&*source, piece), self.temp.get_mut().as_file_mut())?;
            if n == 0 {
                break;
            }
            self.temp.wrote(n);
            copied += n;
        }
        Ok(copied)
    }

    /// Flushes the data to disk, renames the file into place and syncs the directory.
    pub fn commit(self) -> io::Result<()> {
        let AtomicFile { temp, target } = self;
        let temp = temp.into_inner();
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

    #[test]
    fn append_from_copies_the_middle_of_a_file_between_writes() {
        let dir = tempfile::tempdir().unwrap();
        let source_path = dir.path().join("source");
        let data: Vec<u8> = (0..(9u32 << 20)).map(|i| (i % 251) as u8).collect();
        std::fs::write(&source_path, &data).unwrap();
        let mut source = File::open(&source_path).unwrap();
        io::Seek::seek(&mut source, io::SeekFrom::Start(10)).unwrap();
        let target = dir.path().join("f");
        let mut f = AtomicFile::create(&target).unwrap();
        f.write_all(b"head").unwrap();
        assert_eq!(f.append_from(&mut source, (9 << 20) - 20).unwrap(), (9 << 20) - 20);
        // Asked for more than is left: short, not an error.
        assert_eq!(f.append_from(&mut source, 100).unwrap(), 10);
        f.write_all(b"tail").unwrap();
        f.commit().unwrap();
        let mut want = b"head".to_vec();
        want.extend_from_slice(&data[10..]);
        want.extend_from_slice(b"tail");
        assert!(std::fs::read(&target).unwrap() == want);
    }
}
