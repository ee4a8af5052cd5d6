//! Reading the members of an image archive or layout directory by path: [`Archive`].
//!
//! Archives are hostile input. A tar is indexed once (member path → offset and size); members are then read
//! by seeking, each read bounded by the member's size. Every member name, and every path a manifest names,
//! is normalized and must stay inside the archive: absolute paths, `..` that climbs out, NUL bytes and
//! duplicate members are errors naming the member. Symlinks and hard links between members (legacy
//! `docker save` links shared layers) are followed inside the archive only. A gzip or zstd compressed
//! archive (`docker save | gzip`) is first decompressed into the caller's staging directory.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::Result;
use crate::error::{StoreError, path_err};

/// How many links one lookup may follow.
const MAX_LINKS: usize = 16;

#[derive(Debug, Clone)]
pub(crate) enum Member {
    File {
        offset: u64,
        size: u64,
    },
    /// A symlink (target relative to the member's directory) or hard link (target from the archive root),
    /// already resolved to an archive path.
    Link(String),
    Dir,
}

/// An image archive (tar) or layout directory.
#[derive(Debug)]
pub(crate) enum Archive {
    /// A directory on disk; members are files below it, resolved without leaving it.
    Dir(PathBuf),
    /// An indexed tar file.
    Tar {
        /// The file read (the decompressed copy for compressed archives).
        file: PathBuf,
        /// What the user named, for messages.
        display: PathBuf,
        members: HashMap<String, Member>,
    },
}

/// Normalizes an archive path: strips `./` and `/.`, resolves `..` inside the archive, rejects paths that
/// are absolute, empty, climb out, or hold NUL bytes.
pub(crate) fn normalize(name: &str) -> std::result::Result<String, &'static str> {
    if name.contains('\0') {
        return Err("path holds a NUL byte");
    }
    if name.starts_with('/') {
        return Err("absolute path");
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err("path climbs out of the archive");
                }
            }
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        return Err("empty path");
    }
    Ok(parts.join("/"))
}

impl Archive {
    /// An OCI layout or unpacked archive directory.
    pub(crate) fn dir(path: &Path) -> Result<Archive> {
        if !path.is_dir() {
            return Err(StoreError::invalid(path.display().to_string(), "not a directory"));
        }
        Ok(Archive::Dir(path.to_owned()))
    }

    /// Indexes tar file `path`; when it is gzip or zstd compressed, decompresses it into `staging` first.
    pub(crate) fn tar(path: &Path, staging: &Path) -> Result<Archive> {
        let mut file = File::open(path).map_err(path_err("opening archive", path))?;
        let mut magic = [0u8; 4];
        let n = file.read(&mut magic).map_err(path_err("reading archive", path))?;
        file.seek(SeekFrom::Start(0)).map_err(path_err("reading archive", path))?;
        let readable =
            if magic[..n].starts_with(&[0x1f, 0x8b]) || magic[..n].starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
                let (_, mut plain) = kiln_layer::decompress(file)
                    .map_err(|e| StoreError::invalid(path.display().to_string(), e.to_string()))?;
                let mut out = tempfile::Builder::new()
                    .prefix("archive-")
                    .tempfile_in(staging)
                    .map_err(path_err("creating a staging file in", staging))?;
                io::copy(&mut plain, &mut out)
                    .map_err(|e| StoreError::io(format!("decompressing archive {}", path.display()), e))?;
                let (_, kept) =
                    out.keep().map_err(|e| StoreError::io("keeping decompressed archive", e.error))?;
                kept
            } else {
                path.to_owned()
            };
        let members = index_tar(&readable, path)?;
        Ok(Archive::Tar { file: readable, display: path.to_owned(), members })
    }

    /// How messages name member `name`.
    pub(crate) fn object(&self, name: &str) -> String {
        match self {
            Archive::Dir(dir) => dir.join(name).display().to_string(),
            Archive::Tar { display, .. } => format!("{}: member {name}", display.display()),
        }
    }

    /// The archive itself, for messages.
    pub(crate) fn display(&self) -> String {
        match self {
            Archive::Dir(dir) => dir.display().to_string(),
            Archive::Tar { display, .. } => display.display().to_string(),
        }
    }

    /// True when member `name` exists and is a file.
    pub(crate) fn has_file(&self, name: &str) -> bool {
        match self {
            Archive::Dir(_) => self.open(name).is_ok(),
            Archive::Tar { members, .. } => normalize(name)
                .ok()
                .and_then(|n| self.resolve(members, &n).ok())
                .is_some_and(|m| matches!(m, Member::File { .. })),
        }
    }

    fn resolve<'m>(&self, members: &'m HashMap<String, Member>, name: &str) -> Result<&'m Member> {
        let mut current = name.to_owned();
        for _ in 0..=MAX_LINKS {
            match members.get(&current) {
                Some(Member::Link(target)) => current = target.clone(),
                Some(m) => return Ok(m),
                None => return Err(StoreError::invalid(self.object(name), "no such member")),
            }
        }
        Err(StoreError::invalid(self.object(name), "too many levels of links"))
    }

    /// Opens member `name`; returns a reader bounded to its size, and the size.
    pub(crate) fn open(&self, name: &str) -> Result<(Box<dyn Read + Send>, u64)> {
        let norm = normalize(name).map_err(|reason| StoreError::invalid(self.object(name), reason))?;
        match self {
            Archive::Dir(dir) => {
                let path = kiln_fs::resolve_in_root(dir, Path::new(&norm), true)
                    .map_err(|e| StoreError::invalid(self.object(&norm), e.to_string()))?;
                let file = File::open(&path).map_err(|e| match e.kind() {
                    io::ErrorKind::NotFound => StoreError::invalid(self.object(&norm), "no such file"),
                    _ => StoreError::io(format!("opening {}", path.display()), e),
                })?;
                let meta = file.metadata().map_err(path_err("reading metadata of", &path))?;
                if !meta.is_file() {
                    return Err(StoreError::invalid(self.object(&norm), "not a regular file"));
                }
                Ok((Box::new(file.take(meta.len())), meta.len()))
            }
            Archive::Tar { file, members, .. } => match self.resolve(members, &norm)? {
                Member::File { offset, size } => {
                    let mut f = File::open(file).map_err(path_err("opening archive", file))?;
                    f.seek(SeekFrom::Start(*offset)).map_err(path_err("seeking in archive", file))?;
                    Ok((Box::new(f.take(*size)), *size))
                }
                _ => Err(StoreError::invalid(self.object(&norm), "not a regular file")),
            },
        }
    }

    /// Reads member `name` whole, refusing members over `max` bytes.
    pub(crate) fn read(&self, name: &str, max: u64) -> Result<Vec<u8>> {
        let (mut reader, size) = self.open(name)?;
        if size > max {
            return Err(StoreError::invalid(
                self.object(name),
                format!("{size} bytes is larger than the {max} allowed"),
            ));
        }
        let mut data = Vec::with_capacity(size as usize);
        reader
            .read_to_end(&mut data)
            .map_err(|e| StoreError::io(format!("reading {}", self.object(name)), e))?;
        Ok(data)
    }

    /// Reads and parses JSON member `name`.
    pub(crate) fn read_json<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<T> {
        let data = self.read(name, crate::blob::MAX_JSON_BLOB)?;
        serde_json::from_slice(&data).map_err(|e| StoreError::json(self.object(name), e))
    }
}

/// Walks the tar once, recording each member; `display` names the archive in errors.
fn index_tar(path: &Path, display: &Path) -> Result<HashMap<String, Member>> {
    let bad = |member: &str, reason: &str| {
        StoreError::invalid(format!("{}: member {member}", display.display()), reason.to_owned())
    };
    let tar_err = |e: io::Error| StoreError::io(format!("reading archive {}", display.display()), e);
    let file = File::open(path).map_err(path_err("opening archive", path))?;
    let mut archive = tar::Archive::new(file);
    let mut members = HashMap::new();
    for entry in archive.entries_with_seek().map_err(tar_err)? {
        let entry = entry.map_err(tar_err)?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let kind = entry.header().entry_type();
        if matches!(kind, tar::EntryType::XGlobalHeader) {
            continue;
        }
        let name = match normalize(&raw) {
            Ok(n) => n,
            // The archive root itself (`./`) is harmless.
            Err("empty path") if kind.is_dir() => continue,
            Err(reason) => return Err(bad(&raw, reason)),
        };
        let link_target = || -> Result<String> {
            let target = entry
                .link_name_bytes()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .ok_or_else(|| bad(&raw, "link without a target"))?;
            let joined = if kind.is_symlink() {
                let parent = name.rsplit_once('/').map_or("", |(p, _)| p);
                if target.starts_with('/') {
                    return Err(bad(&raw, "symlink target is absolute"));
                }
                format!("{parent}/{target}")
            } else {
                target
            };
            normalize(&joined).map_err(|reason| bad(&raw, &format!("link target {reason}")))
        };
        let member = if kind.is_file() || kind == tar::EntryType::Continuous {
            Member::File { offset: entry.raw_file_position(), size: entry.size() }
        } else if kind.is_dir() {
            Member::Dir
        } else if kind.is_symlink() || kind.is_hard_link() {
            Member::Link(link_target()?)
        } else {
            // Devices, fifos and the like have no place in an image archive; ignore them.
            continue;
        };
        if members.insert(name.clone(), member).is_some() && !kind.is_dir() {
            return Err(bad(&raw, "duplicate member"));
        }
    }
    Ok(members)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_keeps_paths_inside() {
        assert_eq!(normalize("./blobs//sha256/./ab").unwrap(), "blobs/sha256/ab");
        assert_eq!(normalize("a/../b").unwrap(), "b");
        assert!(normalize("../etc/passwd").is_err());
        assert!(normalize("a/../../b").is_err());
        assert!(normalize("/etc/passwd").is_err());
        assert!(normalize("./").is_err());
        assert!(normalize("a\0b").is_err());
    }
}
