//! Root-confined path resolution through a [`Sys`]: [`resolve`] walks a container path inside a rootfs
//! the way the kernel would after `chroot`, following symlinks without ever leaving the root, and reports
//! which trailing components do not exist yet (mount points the sandbox must create).
//!
//! This is `kiln_fs::resolve_in_root` again, but over the [`Sys`] trait so that the recording fake sees
//! (and can fail) every `lstat`/`readlink`; the semantics are the same (`..` stops at the root, absolute
//! link targets restart at the root, at most 40 links).

use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Component, Path, PathBuf};

use crate::error::SandboxError;
use crate::sys::{Errno, FileKind, Stat, Sys};

/// Linux's own limit on symlinks followed in one lookup.
const MAX_SYMLINKS: usize = 40;

/// A path resolved inside a root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolved {
    /// The resolved components that exist, relative to the root (no symlinks among them).
    pub(crate) existing: PathBuf,
    /// The components below `existing` that do not exist, in order.
    pub(crate) missing: Vec<OsString>,
}

/// Why a path could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ResolveFailure {
    /// A component that must be a directory is not one.
    NotADirectory(PathBuf),
    /// Too many symlinks.
    Loop,
    /// `lstat` or `readlink` failed on this root-relative path.
    Sys(PathBuf, Errno),
}

/// The path bytes as a `CString` (paths from `Path` never contain NUL except through a bug in the caller;
/// such a path cannot exist, so it maps to `EINVAL`).
pub(crate) fn cstr(path: &Path) -> Result<CString, Errno> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno::INVAL)
}

/// [`cstr`], failing as a setup error described by `step`.
pub(crate) fn c(path: &Path, step: impl FnOnce() -> String) -> Result<CString, SandboxError> {
    cstr(path).map_err(|e| SandboxError::setup(step(), e))
}

/// A `CString` of a string known to hold no NUL byte.
pub(crate) fn cs(s: &str) -> CString {
    // Invariant: every string reaching here was checked for NUL bytes by `validate`, or is a constant.
    CString::new(s).unwrap_or_default()
}

/// The normal and `..` components of a container path, after lexical cleaning of `.` and duplicate slashes.
pub(crate) fn components(path: &Path) -> Vec<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_owned()),
            Component::ParentDir => Some(OsString::from("..")),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
        })
        .collect()
}

/// Lexically cleans an absolute container path the way Go's `filepath.Join("/", p)` does (BuildKit cleans
/// mount targets so): `..` at the root stays at the root.
pub(crate) fn clean(path: &str) -> PathBuf {
    let mut out: Vec<OsString> = Vec::new();
    for c in components(Path::new(path)) {
        if c == ".." {
            out.pop();
        } else {
            out.push(c);
        }
    }
    out.iter().collect()
}

/// Resolves the container path `path` inside `root` (a host directory), following every symlink.
pub(crate) fn resolve(sys: &dyn Sys, root: &Path, path: &Path) -> Result<Resolved, ResolveFailure> {
    let mut pending: Vec<OsString> = components(path).into_iter().rev().collect();
    let mut existing: Vec<OsString> = Vec::new();
    let mut missing: Vec<OsString> = Vec::new();
    let mut links = 0;
    while let Some(name) = pending.pop() {
        if name == ".." {
            if missing.pop().is_none() {
                existing.pop();
            }
            continue;
        }
        if !missing.is_empty() {
            missing.push(name);
            continue;
        }
        let rel: PathBuf = existing.iter().chain(std::iter::once(&name)).collect();
        let host = cstr(&root.join(&rel)).map_err(|e| ResolveFailure::Sys(rel.clone(), e))?;
        match sys.lstat(&host) {
            Err(Errno::NOENT) => missing.push(name),
            Err(Errno::NOTDIR) => return Err(ResolveFailure::NotADirectory(rel)),
            Err(e) => return Err(ResolveFailure::Sys(rel, e)),
            Ok(st) if st.kind == FileKind::Symlink => {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(ResolveFailure::Loop);
                }
                let target = sys.readlink(&host).map_err(|e| ResolveFailure::Sys(rel.clone(), e))?;
                let target = PathBuf::from(OsString::from_vec(target));
                if target.is_absolute() {
                    existing.clear();
                }
                pending.extend(components(&target).into_iter().rev());
            }
            Ok(st) => {
                if st.kind != FileKind::Dir && !pending.is_empty() {
                    return Err(ResolveFailure::NotADirectory(rel));
                }
                existing.push(name);
            }
        }
    }
    Ok(Resolved { existing: existing.iter().collect(), missing })
}

/// `lstat` of `base/rel` that refuses to traverse a symlink in any component: the answer describes a file
/// that really is at that place under `base`, whatever a process did to the tree meanwhile. `Ok(None)` when
/// nothing is there (or a component is no longer a real directory); other failures name the path.
pub(crate) fn lstat_beneath(
    sys: &dyn Sys,
    base: &Path,
    rel: &Path,
) -> Result<Option<Stat>, (PathBuf, Errno)> {
    let mut here = base.to_path_buf();
    let parts = components(rel);
    let mut last = None;
    for part in &parts {
        if last.is_some_and(|st: Stat| st.kind != FileKind::Dir) || part == OsStr::new("..") {
            return Ok(None);
        }
        here.push(part);
        let c = cstr(&here).map_err(|e| (here.clone(), e))?;
        match sys.lstat(&c) {
            Ok(st) => last = Some(st),
            Err(Errno::NOENT | Errno::NOTDIR) => return Ok(None),
            Err(e) => return Err((here, e)),
        }
    }
    if parts.is_empty() {
        let c = cstr(&here).map_err(|e| (here.clone(), e))?;
        return sys.lstat(&c).map(Some).map_err(|e| (here, e));
    }
    Ok(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::RecordingSys;

    fn fake() -> RecordingSys {
        let sys = RecordingSys::new();
        sys.add_dir("/r/usr/lib", 0o755);
        sys.add_symlink("/r/lib", "usr/lib");
        sys.add_symlink("/r/abs", "/usr");
        sys.add_symlink("/r/up", "../../../..");
        sys.add_symlink("/r/loop", "loop");
        sys.add_file("/r/file", b"x", 0o644);
        sys
    }

    fn res(sys: &RecordingSys, p: &str) -> Result<Resolved, ResolveFailure> {
        resolve(sys, Path::new("/r"), Path::new(p))
    }

    #[test]
    fn symlinks_resolve_inside_the_root_and_missing_parts_are_reported() {
        let sys = fake();
        let r = res(&sys, "/lib/x/y").unwrap();
        assert_eq!(r.existing, Path::new("usr/lib"));
        assert_eq!(r.missing, vec![OsString::from("x"), OsString::from("y")]);
        assert_eq!(res(&sys, "abs/lib").unwrap().existing, Path::new("usr/lib"));
        assert_eq!(res(&sys, "up/usr").unwrap().existing, Path::new("usr"));
        assert_eq!(res(&sys, "/").unwrap().existing, Path::new(""));
        assert_eq!(res(&sys, "/new/../usr").unwrap(), Resolved { existing: "usr".into(), missing: vec![] });
    }

    #[test]
    fn loops_and_files_in_the_middle_are_errors() {
        let sys = fake();
        assert_eq!(res(&sys, "/loop/x").unwrap_err(), ResolveFailure::Loop);
        assert_eq!(res(&sys, "/file/x").unwrap_err(), ResolveFailure::NotADirectory("file".into()));
        assert_eq!(res(&sys, "/file").unwrap().existing, Path::new("file"));
    }

    #[test]
    fn clean_keeps_paths_under_the_root() {
        assert_eq!(clean("/a/../../b/./c//"), Path::new("b/c"));
        assert_eq!(clean("run/secrets/x"), Path::new("run/secrets/x"));
    }
}
