//! Writing layers: [`write_tree`] turns a directory into a reproducible, uncompressed layer tar and returns
//! its DiffID.
//!
//! # Format
//! The output is what Go's `archive/tar` writes for BuildKit/containerd diffs, made deterministic:
//! - entries depth-first, each directory before its children, siblings sorted by their tar name's bytes;
//!   no entry for the root itself;
//! - ustar headers (`ustar\0` `00`) with numeric uid/gid, empty uname/gname, permission bits incl.
//!   setuid/setgid/sticky, integer mtimes, no atime/ctime; directories end in `/`;
//! - PAX extended headers (`PaxHeaders.0/<name>`, mtime 0) only when needed: paths or link targets over 100
//!   bytes, numbers over the ustar fields, and xattrs as `SCHILY.xattr.<name>` records in name order;
//! - hardlinks within the tree (same device and inode, any non-directory) become type `1` members pointing
//!   at the first path written; sockets are skipped; the archive ends with two zero blocks, no padding;
//! - with `SOURCE_DATE_EPOCH`, every mtime is clamped (`min(mtime, epoch)`); mtimes before 1970 become 0.
//!
//! The headers are built with `tar-core`'s sans-IO `EntryBuilder` (the `tar` crate's `Builder` cannot write
//! PAX xattrs, prefers GNU long names and follows symlinks); this module owns the walk, the ordering and
//! the overlay translation.
//!
//! # Xattrs
//! All xattrs are written (so `security.capability` survives) except `trusted.overlay.*` and
//! `user.overlay.*` (overlayfs bookkeeping) and `security.selinux` (a label of the build host, not of the
//! image).
//!
//! # Overlay upper dirs
//! With [`TreeSource::OverlayUpper`], a 0/0 character device (or a file with the `overlay.whiteout` xattr)
//! becomes the whiteout `.wh.<name>` (an empty regular file, mode 0), and a directory with
//! `overlay.opaque=y` is followed by `<dir>/.wh..wh..opq`. Uppers that used `redirect_dir` or `metacopy`
//! cannot be turned into a layer from the upper alone and are refused with an error naming the path.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::Metadata;
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use kiln_oci::Sha256Writer;
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use tar_core::builder::EntryBuilder;
use tar_core::{EntryType, HEADER_SIZE};

use crate::compress::{BlobInfo, CompressOptions, compress};
use crate::read::{join, normalize};
use crate::{LayerError, LayerInfo, OPAQUE_WHITEOUT, WHITEOUT_PREFIX};

/// Pipe buffer between the tar writer and the compressor (the default 64 KiB costs context switches).
const PIPE_SIZE: usize = 1 << 20;

/// What kind of directory [`write_tree`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TreeSource {
    /// A whole rootfs, or a directory of new files: everything is written as is.
    #[default]
    Full,
    /// An overlayfs upper dir: 0/0 character devices become `.wh.<name>` and `trusted.overlay.opaque=y`
    /// directories get a `.wh..wh..opq` member.
    OverlayUpper,
}

/// How to write a tree as a layer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WriteOptions {
    /// What the directory is.
    pub source: TreeSource,
    /// Clamp every mtime to this (`SOURCE_DATE_EPOCH`).
    pub source_date_epoch: Option<i64>,
    /// Paths relative to the root that are never written, with everything under them (the sandbox's
    /// injected `/etc/resolv.conf`, `/etc/hosts`, mount points).
    pub exclude: Vec<PathBuf>,
}

/// Writes a reproducible uncompressed layer tar of `root` to `out`, returning its DiffID and size.
pub fn write_tree<W: Write>(root: &Path, opts: &WriteOptions, out: W) -> Result<LayerInfo, LayerError> {
    let meta = fs_err::symlink_metadata(root).map_err(|source| LayerError::Tree {
        path: root.to_owned(),
        action: "reading the layer root",
        source,
    })?;
    if !meta.is_dir() {
        return Err(LayerError::Unrepresentable { path: root.to_owned(), reason: "not a directory".into() });
    }
    let exclude = opts.exclude.iter().filter_map(|p| normalize(p.as_os_str().as_bytes()).ok()).collect();
    let mut writer = TreeWriter {
        out: Sha256Writer::new(BufWriter::with_capacity(1 << 20, out)),
        buf: vec![0; 1 << 20],
        links: HashMap::new(),
        opts,
        exclude,
    };
    // Depth-first without recursion: each frame holds a directory's remaining children, last one next.
    let mut stack = vec![writer.children(root, b"")?];
    while let Some(frame) = stack.last_mut() {
        let Some(child) = frame.pop() else {
            stack.pop();
            continue;
        };
        writer.emit(&child)?;
        if child.kind == ChildKind::Dir {
            if child.opaque {
                let marker = join(&child.path, OPAQUE_WHITEOUT.as_bytes());
                writer.empty_file(&marker, writer.clamp(child.meta.mtime()))?;
            }
            stack.push(writer.children(&child.host, &child.path)?);
        }
    }
    writer.write(&[0; 2 * HEADER_SIZE])?;
    let (buffered, diff_id, size) = writer.out.finish();
    buffered
        .into_inner()
        .map_err(|e| LayerError::Output { what: "layer tar", source: e.into_error() })?
        .flush()
        .map_err(|source| LayerError::Output { what: "layer tar", source })?;
    Ok(LayerInfo { diff_id, size })
}

/// Writes `root` as a layer and compresses it on the fly, in one pass: returns the DiffID of the tar and the
/// digest of the compressed blob written to `out`. The tar is produced on a second thread.
pub fn write_tree_compressed<W: Write>(
    root: &Path,
    opts: &WriteOptions,
    compression: &CompressOptions,
    out: W,
) -> Result<(LayerInfo, BlobInfo), LayerError> {
    let (reader, writer) =
        io::pipe().map_err(|source| LayerError::Output { what: "pipe to the compressor", source })?;
    // A bigger pipe is only an optimization.
    let _ = rustix::pipe::fcntl_setpipe_size(&writer, PIPE_SIZE);
    std::thread::scope(|scope| {
        let producer = scope.spawn(move || write_tree(root, opts, writer));
        let blob = compress(reader, out, compression);
        let layer = match producer.join() {
            Ok(layer) => layer,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        // The tar writer's error comes first: a compressor error may only be its consequence.
        Ok((layer?, blob?))
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChildKind {
    Dir,
    /// Anything written as one member without content walk (file, link, device, fifo).
    Node,
    /// An overlay whiteout, written as `.wh.<name>`.
    Whiteout,
}

/// One directory entry of the tree, ready to be written.
struct Child {
    host: PathBuf,
    /// Normalized tar path (for a whiteout, the `.wh.` name).
    path: Vec<u8>,
    meta: Metadata,
    kind: ChildKind,
    xattrs: BTreeMap<String, Vec<u8>>,
    opaque: bool,
}

struct TreeWriter<'o, W: Write> {
    out: Sha256Writer<BufWriter<W>>,
    buf: Vec<u8>,
    /// (device, inode) of multiply-linked nodes already written → their tar path.
    links: HashMap<(u64, u64), Vec<u8>>,
    opts: &'o WriteOptions,
    exclude: HashSet<Vec<u8>>,
}

impl<W: Write> TreeWriter<'_, W> {
    fn clamp(&self, mtime: i64) -> u64 {
        let mtime = match self.opts.source_date_epoch {
            Some(epoch) => mtime.min(epoch),
            None => mtime,
        };
        u64::try_from(mtime).unwrap_or(0)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), LayerError> {
        self.out.write_all(bytes).map_err(|source| LayerError::Output { what: "layer tar", source })
    }

    /// The children of `dir` (tar path `rel`), sorted so that `pop()` yields them in tar-name order.
    fn children(&self, dir: &Path, rel: &[u8]) -> Result<Vec<Child>, LayerError> {
        let tree_err =
            |path: &Path, action, source| LayerError::Tree { path: path.to_owned(), action, source };
        let overlay = self.opts.source == TreeSource::OverlayUpper;
        let mut children = Vec::new();
        for dirent in fs_err::read_dir(dir).map_err(|e| tree_err(dir, "listing the directory", e))? {
            let dirent = dirent.map_err(|e| tree_err(dir, "listing the directory", e))?;
            let name = dirent.file_name();
            let path = join(rel, name.as_bytes());
            if self.exclude.contains(&path) {
                continue;
            }
            let host = dirent.path();
            let meta =
                fs_err::symlink_metadata(&host).map_err(|e| tree_err(&host, "reading its metadata", e))?;
            let ft = meta.file_type();
            if ft.is_socket() {
                continue;
            }
            let mut xattrs = read_xattrs(&host)?;
            let xattr = |key: &str| {
                xattrs
                    .get(&format!("trusted.overlay.{key}"))
                    .or_else(|| xattrs.get(&format!("user.overlay.{key}")))
            };
            let whiteout = overlay
                && ((ft.is_char_device() && meta.rdev() == 0)
                    || (ft.is_file() && meta.len() == 0 && xattr("whiteout").is_some()));
            if overlay && !whiteout {
                for feature in ["redirect", "metacopy"] {
                    if xattr(feature).is_some() {
                        return Err(LayerError::Unrepresentable {
                            path: host,
                            reason: format!(
                                "overlayfs {feature} xattr found: an upper dir made with redirect_dir or metacopy \
                                 cannot become a layer by itself (mount the overlay with redirect_dir=off,metacopy=off)"
                            ),
                        });
                    }
                }
            }
            let opaque = overlay && ft.is_dir() && xattr("opaque").is_some_and(|v| v == b"y");
            if name.as_bytes().starts_with(WHITEOUT_PREFIX.as_bytes()) {
                return Err(LayerError::Unrepresentable {
                    path: host,
                    reason: format!(
                        "names starting with {WHITEOUT_PREFIX:?} are reserved for layer whiteouts"
                    ),
                });
            }
            xattrs.retain(|k, _| {
                !(k.starts_with("trusted.overlay.")
                    || k.starts_with("user.overlay.")
                    || k == "security.selinux")
            });
            let (path, kind) = if whiteout {
                let mut wh = WHITEOUT_PREFIX.as_bytes().to_vec();
                wh.extend_from_slice(name.as_bytes());
                (join(rel, &wh), ChildKind::Whiteout)
            } else if ft.is_dir() {
                (path, ChildKind::Dir)
            } else {
                (path, ChildKind::Node)
            };
            children.push(Child { host, path, meta, kind, xattrs, opaque });
        }
        children.sort_unstable_by(|a, b| b.path.cmp(&a.path));
        Ok(children)
    }

    fn emit(&mut self, child: &Child) -> Result<(), LayerError> {
        let meta = &child.meta;
        let mtime = self.clamp(meta.mtime());
        if child.kind == ChildKind::Whiteout {
            return self.empty_file(&child.path, mtime);
        }
        let unrepresentable = |e: tar_core::HeaderError| LayerError::Unrepresentable {
            path: child.host.clone(),
            reason: format!("cannot be written in a tar header: {e}"),
        };
        let mut b = EntryBuilder::new_ustar();
        b.mode(meta.mode() & 0o7777)
            .and_then(|b| b.uid(u64::from(meta.uid())))
            .and_then(|b| b.gid(u64::from(meta.gid())))
            .and_then(|b| b.mtime(mtime))
            .and_then(|b| b.size(0))
            .and_then(|b| b.device(0, 0))
            .map_err(unrepresentable)?;
        for (key, value) in &child.xattrs {
            b.add_pax(&format!("SCHILY.xattr.{key}"), value);
        }
        let ft = meta.file_type();
        let mut content = 0;
        if child.kind == ChildKind::Dir {
            let mut path = child.path.clone();
            path.push(b'/');
            b.path(&path).entry_type(EntryType::Directory);
        } else if let Some(first) = self.hardlink_of(child) {
            b.path(&child.path).entry_type(EntryType::Link).link_name(first);
        } else if ft.is_symlink() {
            let target = fs_err::read_link(&child.host).map_err(|source| LayerError::Tree {
                path: child.host.clone(),
                action: "reading the symlink",
                source,
            })?;
            b.path(&child.path).entry_type(EntryType::Symlink).link_name(target.as_os_str().as_bytes());
        } else if ft.is_file() {
            content = meta.len();
            b.path(&child.path).entry_type(EntryType::Regular).size(content).map_err(unrepresentable)?;
        } else if ft.is_char_device() || ft.is_block_device() {
            let rdev = meta.rdev();
            let kind = if ft.is_char_device() { EntryType::Char } else { EntryType::Block };
            b.path(&child.path)
                .entry_type(kind)
                .device(rustix::fs::major(rdev), rustix::fs::minor(rdev))
                .map_err(unrepresentable)?;
        } else if ft.is_fifo() {
            b.path(&child.path).entry_type(EntryType::Fifo);
        } else {
            return Err(LayerError::Unrepresentable {
                path: child.host.clone(),
                reason: "unknown file type".into(),
            });
        }
        self.write(&b.finish_bytes())?;
        if content > 0 {
            self.copy_file(&child.host, content)?;
        }
        Ok(())
    }

    /// For a multiply-linked non-directory seen before, the tar path it was first written at; otherwise
    /// remembers this one.
    fn hardlink_of(&mut self, child: &Child) -> Option<Vec<u8>> {
        if child.meta.nlink() < 2 {
            return None;
        }
        let key = (child.meta.dev(), child.meta.ino());
        if let Some(first) = self.links.get(&key) {
            return Some(first.clone());
        }
        self.links.insert(key, child.path.clone());
        None
    }

    /// An empty regular file with mode 0 and owner 0:0 (whiteouts and opaque markers).
    fn empty_file(&mut self, path: &[u8], mtime: u64) -> Result<(), LayerError> {
        let mut b = EntryBuilder::new_ustar();
        b.path(path).entry_type(EntryType::Regular);
        b.mode(0)
            .and_then(|b| b.uid(0))
            .and_then(|b| b.gid(0))
            .and_then(|b| b.size(0))
            .and_then(|b| b.mtime(mtime))
            .and_then(|b| b.device(0, 0))
            .map_err(|e| LayerError::Unrepresentable {
                path: PathBuf::from(std::ffi::OsStr::from_bytes(path)),
                reason: format!("cannot be written in a tar header: {e}"),
            })?;
        self.write(&b.finish_bytes())
    }

    /// Copies exactly `size` bytes of the file at `host`, then the padding.
    fn copy_file(&mut self, host: &Path, size: u64) -> Result<(), LayerError> {
        let tree_err = |action, source| LayerError::Tree { path: host.to_owned(), action, source };
        let fd = rustix::fs::open(host, OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| tree_err("opening the file", io::Error::from(e)))?;
        let mut file = std::fs::File::from(fd);
        let mut left = size;
        while left > 0 {
            let want = usize::try_from(left).unwrap_or(usize::MAX).min(self.buf.len());
            let n = match file.read(&mut self.buf[..want]) {
                Ok(0) => {
                    let e = io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the file shrank while it was being written",
                    );
                    return Err(tree_err("reading the file", e));
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(tree_err("reading the file", e)),
            };
            self.out
                .write_all(&self.buf[..n])
                .map_err(|source| LayerError::Output { what: "layer tar", source })?;
            left -= n as u64;
        }
        let pad = (HEADER_SIZE - (size % HEADER_SIZE as u64) as usize) % HEADER_SIZE;
        self.write(&[0; HEADER_SIZE][..pad])
    }
}

/// All xattrs of `path` (not following a final symlink), by name.
fn read_xattrs(path: &Path) -> Result<BTreeMap<String, Vec<u8>>, LayerError> {
    let err =
        |e: Errno| LayerError::Tree { path: path.to_owned(), action: "reading its xattrs", source: e.into() };
    let mut out = BTreeMap::new();
    let names =
        match read_sized(|buf| rustix::fs::llistxattr(path, buf), || rustix::fs::llistxattr_query(path)) {
            Ok(names) => names,
            Err(Errno::NOTSUP) => return Ok(out),
            Err(e) => return Err(err(e)),
        };
    for name in names.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let key = std::str::from_utf8(name).map_err(|_| LayerError::Unrepresentable {
            path: path.to_owned(),
            reason: format!("xattr name {:?} is not UTF-8", String::from_utf8_lossy(name)),
        })?;
        match read_sized(
            |buf| rustix::fs::lgetxattr(path, key, buf),
            || rustix::fs::lgetxattr_query(path, key),
        ) {
            Ok(value) => {
                out.insert(key.to_owned(), value);
            }
            // Removed between listing and reading.
            Err(Errno::NODATA) => {}
            Err(e) => return Err(err(e)),
        }
    }
    Ok(out)
}

/// Calls a "fill this buffer" xattr syscall, growing the buffer to the size `query` reports on `ERANGE`.
fn read_sized(
    mut fill: impl FnMut(&mut [u8]) -> Result<usize, Errno>,
    query: impl Fn() -> Result<usize, Errno>,
) -> Result<Vec<u8>, Errno> {
    let mut buf = vec![0u8; 256];
    loop {
        match fill(&mut buf) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(buf);
            }
            Err(Errno::RANGE) => buf.resize(query()?.max(buf.len() * 2), 0),
            Err(e) => return Err(e),
        }
    }
}
