//! Root-confined path resolution: [`resolve_in_root`] interprets a path as a process chrooted to `root`
//! would, following symlinks (absolute targets restart at the root, `..` stops at the root), so the result
//! is always inside `root`.
//!
//! This is the check-then-use resolution of `securejoin`-style helpers: it is safe against hostile
//! *content* (tar members, context files, image symlinks), not against a concurrent process swapping
//! directories for symlinks under our feet; kiln is the only writer of the trees it resolves in.

use std::ffi::OsString;
use std::io;
use std::path::{Component, Path, PathBuf};

/// How many symlinks one resolution may follow before giving up (Linux's own limit is 40).
const MAX_SYMLINKS: usize = 255;

/// Why a path could not be resolved inside its root.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// Following symlinks looped or went on too long.
    #[error("{path}: too many levels of symbolic links (resolving inside {root})")]
    SymlinkLoop {
        /// The path being resolved.
        path: String,
        /// The root.
        root: PathBuf,
    },
    /// Reading a link or its metadata failed.
    #[error("{path}: {source}")]
    Io {
        /// The host path that could not be read.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
}

/// Resolves `path` (absolute or relative, taken as relative to `root`) to a host path inside `root`.
///
/// Every symlink met on the way is followed inside the root, except a symlink in the last component when
/// `follow_final` is false (so callers can replace or inspect the link itself). Components that do not exist
/// are kept as written. `..` never climbs above `root`.
pub fn resolve_in_root(root: &Path, path: &Path, follow_final: bool) -> Result<PathBuf, ResolveError> {
    // `pending` holds the components still to walk, in reverse order (next one last).
    let mut pending: Vec<OsString> = components(path).into_iter().rev().collect();
    let mut resolved: Vec<OsString> = Vec::new();
    let mut links = 0;
    while let Some(name) = pending.pop() {
        if name == ".." {
            resolved.pop();
            continue;
        }
        let candidate = join(root, &resolved).join(&name);
        let is_last = pending.is_empty();
        let meta = match std::fs::symlink_metadata(&candidate) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(20) => {
                // ENOENT or ENOTDIR: the rest does not exist; keep it lexically.
                resolved.push(name);
                continue;
            }
            Err(source) => return Err(ResolveError::Io { path: candidate, source }),
        };
        if !meta.file_type().is_symlink() || (is_last && !follow_final) {
            resolved.push(name);
            continue;
        }
        links += 1;
        if links > MAX_SYMLINKS {
            return Err(ResolveError::SymlinkLoop {
                path: path.display().to_string(),
                root: root.to_owned(),
            });
        }
        let target = std::fs::read_link(&candidate)
            .map_err(|source| ResolveError::Io { path: candidate.clone(), source })?;
        if target.is_absolute() {
            resolved.clear();
        }
        pending.extend(components(&target).into_iter().rev());
    }
    Ok(join(root, &resolved))
}

/// The normal and `..` components of `path`; root, prefix and `.` components are dropped.
fn components(path: &Path) -> Vec<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_owned()),
            Component::ParentDir => Some(OsString::from("..")),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
        })
        .collect()
}

fn join(root: &Path, parts: &[OsString]) -> PathBuf {
    let mut p = root.to_path_buf();
    p.extend(parts);
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        std::fs::create_dir_all(r.join("usr/lib")).unwrap();
        symlink("usr/lib", r.join("lib")).unwrap();
        symlink("/etc", r.join("abs")).unwrap();
        symlink("../../../../..", r.join("up")).unwrap();
        symlink("loop", r.join("loop")).unwrap();
        symlink("/usr/lib/../../../outside", r.join("sneaky")).unwrap();
        dir
    }

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let dir = tree();
        let r = dir.path();
        let res = |p: &str| resolve_in_root(r, Path::new(p), true).unwrap();
        assert_eq!(res("/lib/x"), r.join("usr/lib/x"));
        assert_eq!(res("abs/passwd"), r.join("etc/passwd"));
        assert_eq!(res("up/etc/shadow"), r.join("etc/shadow"));
        assert_eq!(res("../../../etc"), r.join("etc"));
        assert_eq!(res("sneaky/file"), r.join("outside/file"));
        assert_eq!(res("/"), r.to_path_buf());
    }

    #[test]
    fn final_symlink_is_kept_when_asked() {
        let dir = tree();
        let r = dir.path();
        assert_eq!(resolve_in_root(r, Path::new("lib"), false).unwrap(), r.join("lib"));
        assert_eq!(resolve_in_root(r, Path::new("lib"), true).unwrap(), r.join("usr/lib"));
    }

    #[test]
    fn loops_are_an_error() {
        let dir = tree();
        let err = resolve_in_root(dir.path(), Path::new("loop/x"), true).unwrap_err();
        assert!(matches!(err, ResolveError::SymlinkLoop { .. }), "{err}");
    }

    proptest::proptest! {
        #[test]
        fn never_leaves_the_root(parts in proptest::collection::vec("(\\.\\.|lib|abs|up|sneaky|x|/)", 0..12)) {
            let dir = tree();
            let p: String = parts.join("/");
            if let Ok(resolved) = resolve_in_root(dir.path(), Path::new(&p), true) {
                proptest::prop_assert!(resolved.starts_with(dir.path()), "{p} -> {}", resolved.display());
            }
        }
    }
}
