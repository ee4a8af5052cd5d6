//! Writing an image archive or layout directory: [`ArchiveWriter`] puts named files into a directory (each
//! atomically; content-addressed blobs that already exist are kept) or into a tar that appears at its
//! destination only when complete.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use kiln_fs::AtomicFile;

use crate::Result;
use crate::error::{StoreError, path_err};

/// A destination being written.
pub(crate) enum ArchiveWriter {
    /// A directory (OCI layout).
    Dir(PathBuf),
    /// A tar file, written to a temporary file beside the destination.
    Tar { builder: tar::Builder<BufWriter<AtomicFile>>, written: HashSet<String>, target: PathBuf },
}

impl ArchiveWriter {
    /// Writes into directory `path` (created if missing).
    pub(crate) fn dir(path: &Path) -> Result<ArchiveWriter> {
        fs_err::create_dir_all(path).map_err(path_err("creating", path))?;
        Ok(ArchiveWriter::Dir(path.to_owned()))
    }

    /// Writes tar file `path`, replacing it only on [`ArchiveWriter::finish`].
    pub(crate) fn tar(path: &Path) -> Result<ArchiveWriter> {
        let mut file = AtomicFile::create(path)
            .map_err(|e| StoreError::io(format!("creating {}", path.display()), e))?;
        readable(&mut file, path)?;
        let mut builder = tar::Builder::new(BufWriter::with_capacity(1 << 20, file));
        builder.mode(tar::HeaderMode::Deterministic);
        Ok(ArchiveWriter::Tar { builder, written: HashSet::new(), target: path.to_owned() })
    }

    /// True when `name` was already written (or, for a directory, exists).
    pub(crate) fn has(&self, name: &str) -> bool {
        match self {
            ArchiveWriter::Dir(dir) => dir.join(name).is_file(),
            ArchiveWriter::Tar { written, .. } => written.contains(name),
        }
    }

    /// Adds a directory entry (tar only; directories on disk are made as files need them).
    pub(crate) fn add_dir(&mut self, name: &str) -> Result<()> {
        if let ArchiveWriter::Tar { builder, written, target } = self {
            if !written.insert(format!("{name}/")) {
                return Ok(());
            }
            let mut header = tar::Header::new_ustar();
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(0o755);
            header.set_size(0);
            header.set_mtime(0);
            builder
                .append_data(&mut header, format!("{name}/"), std::io::empty())
                .map_err(|e| StoreError::io(format!("writing {}", target.display()), e))?;
        }
        Ok(())
    }

    /// Adds file `name` with the next `size` bytes of `source` (a blob), copied inside the kernel where the
    /// filesystem allows it. A name already written is skipped when `skip_existing`.
    pub(crate) fn add_file(
        &mut self,
        name: &str,
        source: &mut File,
        size: u64,
        skip_existing: bool,
    ) -> Result<()> {
        if skip_existing && self.has(name) {
            return Ok(());
        }
        let short = |object: String, actual: u64| StoreError::SizeMismatch { object, expected: size, actual };
        match self {
            ArchiveWriter::Dir(dir) => {
                let path = dir.join(name);
                let mut file = create_in(&path)?;
                let copied = file
                    .append_from(source, size)
                    .map_err(|e| StoreError::io(format!("writing {}", path.display()), e))?;
                if copied != size {
                    return Err(short(path.display().to_string(), copied));
                }
                file.commit().map_err(|e| StoreError::io(format!("committing {}", path.display()), e))
            }
            ArchiveWriter::Tar { builder, written, target } => {
                let io = |e| StoreError::io(format!("writing {} into {}", name, target.display()), e);
                let mut header = file_header(size);
                if header.set_path(name).is_err() {
                    // A name too long for a ustar header: the tar crate writes the extension records.
                    builder.append_data(&mut header, name, Read::take(&*source, size)).map_err(io)?;
                } else {
                    header.set_cksum();
                    let out = builder.get_mut();
                    out.write_all(header.as_bytes()).map_err(io)?;
                    out.flush().map_err(io)?;
                    let copied = out.get_mut().append_from(source, size).map_err(io)?;
                    if copied != size {
                        return Err(short(format!("{name} in {}", target.display()), copied));
                    }
                    let padding = (512 - size % 512) % 512;
                    out.write_all(&[0u8; 512][..padding as usize]).map_err(io)?;
                }
                written.insert(name.to_owned());
                Ok(())
            }
        }
    }

    /// Adds file `name` with `data`. A name already written is skipped when `skip_existing`.
    pub(crate) fn add_bytes(&mut self, name: &str, data: &[u8], skip_existing: bool) -> Result<()> {
        if skip_existing && self.has(name) {
            return Ok(());
        }
        match self {
            ArchiveWriter::Dir(dir) => {
                let path = dir.join(name);
                let mut file = create_in(&path)?;
                file.write_all(data).map_err(|e| StoreError::io(format!("writing {}", path.display()), e))?;
                file.commit().map_err(|e| StoreError::io(format!("committing {}", path.display()), e))
            }
            ArchiveWriter::Tar { builder, written, target } => {
                builder
                    .append_data(&mut file_header(data.len() as u64), name, data)
                    .map_err(|e| StoreError::io(format!("writing {} into {}", name, target.display()), e))?;
                written.insert(name.to_owned());
                Ok(())
            }
        }
    }

    /// Completes the destination (a tar is flushed, synced and renamed into place).
    pub(crate) fn finish(self) -> Result<()> {
        match self {
            ArchiveWriter::Dir(dir) => {
                kiln_fs::fsync_dir(&dir).map_err(|e| StoreError::io("syncing layout", e))
            }
            ArchiveWriter::Tar { builder, target, .. } => {
                let io = |e| StoreError::io(format!("finishing {}", target.display()), e);
                let buffered = builder.into_inner().map_err(io)?;
                let mut file = buffered.into_inner().map_err(|e| io(e.into_error()))?;
                file.flush().map_err(io)?;
                file.commit().map_err(io)
            }
        }
    }
}

/// A regular file's tar header: mode 0644, mtime 0.
fn file_header(size: u64) -> tar::Header {
    let mut header = tar::Header::new_ustar();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mode(0o644);
    header.set_size(size);
    header.set_mtime(0);
    header
}

/// Starts writing file `path` of a layout directory, creating its parent.
fn create_in(path: &Path) -> Result<AtomicFile> {
    if let Some(parent) = path.parent() {
        fs_err::create_dir_all(parent).map_err(path_err("creating", parent))?;
    }
    let mut file =
        AtomicFile::create(path).map_err(|e| StoreError::io(format!("creating {}", path.display()), e))?;
    readable(&mut file, path)?;
    Ok(file)
}

/// Archives and layout files are meant to be shared: 0644 rather than the temp file's 0600.
fn readable(file: &mut AtomicFile, path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.file()
        .set_permissions(std::fs::Permissions::from_mode(0o644))
        .map_err(|e| StoreError::io(format!("setting the mode of {}", path.display()), e))
}
