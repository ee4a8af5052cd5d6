//! Test fixtures: tree description for comparisons, mtimes.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// A description of a tree, for comparisons: path → (kind, mode, uid, gid, size or target, mtime, xattrs).
pub(crate) fn describe(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
    let mut names: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    for path in names {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let rel = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
        let ft = meta.file_type();
        let what = if ft.is_dir() {
            "dir".to_owned()
        } else if ft.is_symlink() {
            format!("link->{}", std::fs::read_link(&path).unwrap().display())
        } else if ft.is_file() && meta.len() > 64 << 20 {
            format!("file of {} bytes", meta.len())
        } else if ft.is_file() {
            format!("file:{}", String::from_utf8_lossy(&std::fs::read(&path).unwrap()))
        } else {
            format!("special:{:o}:{}", meta.mode() & 0o170000, meta.rdev())
        };
        let mut xattrs: Vec<String> = xattr_names(&path);
        xattrs.sort();
        let mtime = if ft.is_symlink() { 0 } else { meta.mtime() };
        out.insert(
            rel,
            format!(
                "{what} mode={:o} owner={}:{} nlink={} mtime={mtime} xattrs={xattrs:?}",
                meta.mode() & 0o7777,
                meta.uid(),
                meta.gid(),
                if ft.is_dir() { 0 } else { meta.nlink() },
            ),
        );
        if ft.is_dir() {
            walk(root, &path, out);
        }
    }
}

fn xattr_names(path: &Path) -> Vec<String> {
    let mut buf = vec![0u8; 4096];
    let n = rustix::fs::llistxattr(path, &mut buf[..]).unwrap_or(0);
    buf[..n]
        .split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| {
            let name = String::from_utf8_lossy(s).into_owned();
            let mut value = vec![0u8; 4096];
            let len = rustix::fs::lgetxattr(path, name.as_str(), &mut value[..]).unwrap_or(0);
            format!("{name}={:?}", String::from_utf8_lossy(&value[..len]))
        })
        .collect()
}

/// Sets the mtime of `path` without following symlinks.
pub(crate) fn set_mtime(path: &Path, secs: i64) {
    let t = rustix::fs::Timespec { tv_sec: secs, tv_nsec: 0 };
    rustix::fs::utimensat(
        rustix::fs::CWD,
        path,
        &rustix::fs::Timestamps { last_access: t, last_modification: t },
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )
    .unwrap();
}
