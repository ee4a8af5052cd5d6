//! Tarball contexts (`docker build - < ctx.tar.gz`): [`Context::from_tar`] detects the compression (none,
//! gzip, zstd), extracts the archive safely into a temporary directory and uses that as the context.
//!
//! The archive is hostile: a member path that climbs out with `..` is refused, a leading `/` is dropped (as
//! GNU tar and containerd do), no member is written through a symlink (every parent must be a real
//! directory created by the archive), hard links must point at an earlier member, and device nodes and
//! FIFOs are refused. Owners are not restored (a build sees context files as root's anyway); permission
//! bits are, directories last so a read-only one does not block its own contents.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use crate::context::{Context, DOCKERIGNORE};
use crate::error::{ContextError, Result};

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
const BZIP2_MAGIC: &[u8] = b"BZh";
const XZ_MAGIC: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0x00];

impl Context {
    /// A context from a tar archive (plain, gzip or zstd) read from `archive` (`name` names it in errors),
    /// extracted into a new temporary directory under `scratch` that is removed with the context.
    /// `dockerfile` is the Dockerfile's path inside the archive (for `<dockerfile>.dockerignore`), `None`
    /// when the Dockerfile does not come from the archive.
    pub fn from_tar(
        archive: impl Read,
        name: &str,
        scratch: &Path,
        dockerfile: Option<&str>,
    ) -> Result<Context> {
        let tar_err = |member: Option<String>, message: String| ContextError::Tar {
            archive: name.to_owned(),
            member,
            message,
        };
        let temp = kiln_fs::temp_dir_in(scratch, "context-")
            .map_err(|source| ContextError::Io { path: scratch.to_owned(), source })?;
        let mut reader = BufReader::with_capacity(256 * 1024, archive);
        let head = reader.fill_buf().map_err(|e| tar_err(None, e.to_string()))?.to_vec();
        let stream: Box<dyn Read> = if head.starts_with(GZIP_MAGIC) {
            Box::new(flate2::read::MultiGzDecoder::new(reader))
        } else if head.starts_with(ZSTD_MAGIC) {
            Box::new(zstd::Decoder::with_buffer(reader).map_err(|e| tar_err(None, e.to_string()))?)
        } else if head.starts_with(BZIP2_MAGIC) || head.starts_with(XZ_MAGIC) {
            let kind = if head.starts_with(BZIP2_MAGIC) { "bzip2" } else { "xz" };
            return Err(tar_err(
                None,
                format!("{kind}-compressed contexts are not supported (use gzip, zstd or none)"),
            ));
        } else {
            Box::new(reader)
        };
        extract(stream, temp.path(), &tar_err)?;
        let root = temp.path().to_owned();
        let ignore_file = dockerfile
            .map(|d| root.join(clean_member(&format!("{d}.dockerignore")).unwrap_or_default()))
            .filter(|p| p.is_file() && !is_symlinked(&root, p))
            .or_else(|| Some(root.join(DOCKERIGNORE)).filter(|p| p.is_file() && !is_symlinked(&root, p)));
        Context::with_ignore_file("context", root, ignore_file, Some(temp))
    }
}

/// Whether `path` (inside `root`) is reached through a symlink (then it is not read as the ignore file).
fn is_symlinked(root: &Path, path: &Path) -> bool {
    kiln_fs::resolve_in_root(root, path.strip_prefix(root).unwrap_or(path), true).map_or(true, |p| p != path)
}

/// A member path made relative and checked: `None` when it climbs out of the root.
fn clean_member(path: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in Path::new(path).components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

fn extract(
    stream: impl Read,
    root: &Path,
    tar_err: &dyn Fn(Option<String>, String) -> ContextError,
) -> Result<()> {
    let mut archive = tar::Archive::new(stream);
    let mut dir_modes: Vec<(PathBuf, u32)> = Vec::new();
    let entries = archive.entries().map_err(|e| tar_err(None, e.to_string()))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| tar_err(None, e.to_string()))?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let err = |message: String| tar_err(Some(raw.clone()), message);
        let kind = entry.header().entry_type();
        if matches!(kind, tar::EntryType::XGlobalHeader | tar::EntryType::XHeader) {
            continue;
        }
        let rel = clean_member(&raw).ok_or_else(|| err("path climbs out of the archive root".into()))?;
        if rel.as_os_str().is_empty() {
            continue;
        }
        let dest = root.join(&rel);
        ensure_real_parents(root, &rel).map_err(err)?;
        let mode = entry.header().mode().map_err(|e| err(e.to_string()))? & 0o7777;
        match kind {
            tar::EntryType::Directory => {
                if !std::fs::symlink_metadata(&dest).is_ok_and(|m| m.is_dir()) {
                    remove_existing(&dest).map_err(err)?;
                    std::fs::create_dir(&dest).map_err(|e| err(e.to_string()))?;
                }
                dir_modes.push((dest, mode));
            }
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                remove_existing(&dest).map_err(err)?;
                let mut file = std::fs::File::create(&dest).map_err(|e| err(e.to_string()))?;
                std::io::copy(&mut entry, &mut file).map_err(|e| err(e.to_string()))?;
                file.set_permissions(std::fs::Permissions::from_mode(mode))
                    .map_err(|e| err(e.to_string()))?;
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .map_err(|e| err(e.to_string()))?
                    .ok_or_else(|| err("symlink without a target".into()))?;
                remove_existing(&dest).map_err(err)?;
                std::os::unix::fs::symlink(&target, &dest).map_err(|e| err(e.to_string()))?;
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name()
                    .map_err(|e| err(e.to_string()))?
                    .ok_or_else(|| err("hard link without a target".into()))?;
                let target_rel = clean_member(&target.to_string_lossy())
                    .filter(|t| !t.as_os_str().is_empty())
                    .ok_or_else(|| {
                        err(format!("hard link target {} climbs out of the archive root", target.display()))
                    })?;
                ensure_real_parents(root, &target_rel).map_err(err)?;
                let source = root.join(&target_rel);
                let meta = std::fs::symlink_metadata(&source).map_err(|_| {
                    err(format!("hard link target {} is not an earlier member", target.display()))
                })?;
                if !meta.is_file() {
                    return Err(err(format!("hard link target {} is not a regular file", target.display())));
                }
                remove_existing(&dest).map_err(err)?;
                std::fs::hard_link(&source, &dest).map_err(|e| err(e.to_string()))?;
            }
            other => return Err(err(format!("unsupported member type {other:?} in a build context"))),
        }
    }
    // Deepest first, so a read-only directory is made read-only after its contents are in.
    dir_modes.sort_by_key(|d| std::cmp::Reverse(d.0.components().count()));
    for (dir, mode) in dir_modes {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode))
            .map_err(|e| tar_err(None, format!("{}: {e}", dir.display())))?;
    }
    Ok(())
}

/// Creates the parents of `rel` inside `root` and checks each is a real directory, never a symlink.
fn ensure_real_parents(root: &Path, rel: &Path) -> Result<(), String> {
    let mut dir = root.to_path_buf();
    let Some(parent) = rel.parent() else { return Ok(()) };
    for c in parent.components() {
        dir.push(c);
        match std::fs::symlink_metadata(&dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(format!(
                    "parent {} is not a directory (a symlink or file)",
                    display_rel(root, &dir)
                ));
            }
            Err(_) => std::fs::create_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?,
        }
    }
    Ok(())
}

/// Removes a non-directory at `path` so a later member replaces an earlier one (tar semantics).
fn remove_existing(path: &Path) -> Result<(), String> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => Err(format!("{} exists as a directory", path.display())),
        Ok(_) => std::fs::remove_file(path).map_err(|e| format!("{}: {e}", path.display())),
        Err(_) => Ok(()),
    }
}

fn display_rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}
