//! Applying layers: [`apply`] unpacks a layer onto a directory the way Docker's `applyLayer` does, and
//! nothing it does can touch anything outside that directory, whatever the tar says.
//!
//! # Safety model
//! Member paths are normalized by the reader (`/etc/x` → `etc/x`, a `..` that leaves the root is rejected).
//! Each member's *parent directory* is then opened with `openat2(root, parent, O_PATH | O_DIRECTORY,
//! RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`: the kernel resolves every symlink on the way as if `root`
//! were `/` (absolute targets restart at the root, `..` stops there), so "symlink to `/`, then write through
//! it" lands inside the root, like Docker's chrooted unpack. Everything after that is relative to the
//! parent's descriptor and never follows the final component: files are created with
//! `O_CREAT | O_EXCL | O_NOFOLLOW` after removing whatever was there, ownership and times use
//! `AT_SYMLINK_NOFOLLOW`, hardlinks use `linkat` without `AT_SYMLINK_FOLLOW` (a hardlink to a symlink links
//! the symlink itself, never what it points to), removal walks directories by descriptor.
//!
//! openat2 was chosen over `kiln_fs::resolve_in_root` because the kernel does the confinement in one
//! syscall per member, race-free, where the lexical resolver needs an `lstat` per component and is only
//! check-then-use. `resolve_in_root` remains the fallback when openat2 is unavailable (`ENOSYS`: kernels
//! before 5.6, or a seccomp filter that hides it).
//!
//! # Semantics (Docker's, unless noted)
//! - A later member replaces an earlier one at the same path (a directory over a directory merges).
//! - Missing parent directories are created with mode 0755.
//! - Whiteouts: in [`WhiteoutMode::Delete`] `.wh.name` removes `name` and `.wh..wh..opq` removes everything
//!   in its directory that this layer did not create; in [`WhiteoutMode::Overlay`] they become a 0/0
//!   character device and the `trusted.overlay.opaque=y` xattr, for a snapshot dir used as an overlay
//!   lower dir. A whiteout never removes what the same layer created (it only hides lower layers).
//! - Modes keep setuid/setgid/sticky (images legitimately ship setuid binaries); ownership is applied when
//!   [`ApplyOptions::preserve_owners`] is set, before the mode so the setuid bit survives, and before xattrs
//!   so `security.capability` survives. Directory modes and mtimes are set after all members, so creating
//!   children neither fails on read-only directories nor bumps their mtime.
//! - Xattrs the filesystem or the process cannot set (`EPERM`, `ENOTSUP`: `trusted.*` without root, `user.*`
//!   on symlinks) are skipped and counted in [`ApplyStats::skipped_xattrs`], as Docker does;
//!   `trusted.overlay.*` / `user.overlay.*` from a tar are never applied (only this crate sets those).
//! - Hardlink members take their metadata from the linked inode, not from their own header.
//! - Device nodes need `CAP_MKNOD`; without it they are an error naming the member
//!   ([`LayerError::DeviceNotPermitted`]).
//! - Sparse files are written with holes (data regions at their offsets, then the file size is set).

use std::collections::{BTreeMap, HashSet};
use std::ffi::OsStr;
use std::io::{self, Read, Seek};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags, Timespec, Timestamps, XattrFlags};
use rustix::io::Errno;

use crate::read::{Member, join, parent, read_members, write_member_data};
use crate::{Compression, EntryKind, LayerError, LayerInfo};

/// What to do with whiteouts and opaque markers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WhiteoutMode {
    /// Apply them: delete the named paths (flattening layers into one rootfs).
    #[default]
    Delete,
    /// Keep them as overlayfs whiteouts (char device 0/0) and opaque dirs (`trusted.overlay.opaque=y`), for
    /// snapshot dirs used as overlay lower dirs. Needs root.
    Overlay,
}

/// How to apply a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyOptions {
    /// Whiteout handling.
    pub whiteouts: WhiteoutMode,
    /// Set each member's uid/gid (needs root for other owners); when false, files belong to the caller.
    pub preserve_owners: bool,
}

impl Default for ApplyOptions {
    /// Deleting whiteouts; owners preserved when running as root.
    fn default() -> Self {
        Self { whiteouts: WhiteoutMode::Delete, preserve_owners: rustix::process::geteuid().is_root() }
    }
}

/// What [`apply`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyStats {
    /// Members applied (whiteouts and opaque markers included, skipped aufs metadata not).
    pub entries: u64,
    /// Bytes of regular-file content written.
    pub bytes: u64,
    /// DiffID and size of the uncompressed layer, hashed while applying.
    pub layer: LayerInfo,
    /// The compression the layer stream had.
    pub compression: Compression,
    /// Xattrs that could not be set (not permitted or not supported here) or were refused
    /// (`trusted.overlay.*`).
    pub skipped_xattrs: u64,
}

/// Unpacks a (possibly compressed) layer onto `root`, which must be an existing directory.
///
/// On error the directory is left partly applied; callers unpack into a staging directory.
pub fn apply<R: Read>(reader: R, root: &Path, opts: &ApplyOptions) -> Result<ApplyStats, LayerError> {
    let mut applier = Applier::new(root, opts, None)?;
    let (compression, layer) = read_members(reader, false, &mut |m, content| applier.member(m, content))?;
    applier.finish()?;
    Ok(ApplyStats {
        entries: applier.entries,
        bytes: applier.bytes,
        layer,
        compression,
        skipped_xattrs: applier.skipped_xattrs,
    })
}

/// How parent directories are resolved inside the root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resolver {
    /// `openat2` with `RESOLVE_IN_ROOT`.
    Openat2,
    /// `kiln_fs::resolve_in_root`, then `open`.
    Lexical,
}

/// The mode and mtime of a directory, set once every member is in.
#[derive(Debug, Clone, Copy)]
struct DirMeta {
    mode: u32,
    mtime: i64,
}

struct Applier<'o> {
    root: OwnedFd,
    root_path: PathBuf,
    opts: &'o ApplyOptions,
    resolver: Resolver,
    /// Paths this layer wrote, and all their ancestors.
    touched: HashSet<Vec<u8>>,
    /// Directories whose mode and mtime are still to be set.
    dirs: BTreeMap<Vec<u8>, DirMeta>,
    /// The last parent directory opened (members come grouped by directory); cleared on any removal.
    cache: Option<(Vec<u8>, Rc<OwnedFd>)>,
    buf: Vec<u8>,
    entries: u64,
    bytes: u64,
    skipped_xattrs: u64,
}

/// Where xattrs are set: an open file, or a name in a directory (symlinks, devices, fifos).
enum XattrTarget<'a> {
    Fd(BorrowedFd<'a>),
    At(&'a OwnedFd, &'a [u8]),
}

fn errno_io(e: Errno) -> io::Error {
    io::Error::from(e)
}

impl<'o> Applier<'o> {
    fn new(root: &Path, opts: &'o ApplyOptions, resolver: Option<Resolver>) -> Result<Self, LayerError> {
        let root_err = |source| LayerError::Root { root: root.to_owned(), source };
        let root_path = fs_err::canonicalize(root).map_err(root_err)?;
        let root_fd =
            rustix::fs::open(&root_path, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
                .map_err(|e| root_err(errno_io(e)))?;
        let resolver = resolver.unwrap_or_else(|| {
            let probe = rustix::fs::openat2(
                &root_fd,
                ".",
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
                ResolveFlags::IN_ROOT,
            );
            if matches!(probe, Err(Errno::NOSYS)) { Resolver::Lexical } else { Resolver::Openat2 }
        });
        Ok(Self {
            root: root_fd,
            root_path,
            opts,
            resolver,
            touched: HashSet::new(),
            dirs: BTreeMap::new(),
            cache: None,
            buf: vec![0; 256 * 1024],
            entries: 0,
            bytes: 0,
            skipped_xattrs: 0,
        })
    }

    /// Opens `rel` (a normalized path, empty for the root) as an `O_PATH` directory, resolved inside the
    /// root. With `nofollow`, a symlink as the last component is not followed (and fails).
    fn open_dir(&self, rel: &[u8], nofollow: bool) -> io::Result<OwnedFd> {
        let rel: &[u8] = if rel.is_empty() { b"." } else { rel };
        let mut flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        if nofollow {
            flags |= OFlags::NOFOLLOW;
        }
        match self.resolver {
            Resolver::Openat2 => rustix::fs::openat2(
                &self.root,
                rel,
                flags,
                Mode::empty(),
                ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
            )
            .map_err(errno_io),
            Resolver::Lexical => {
                let host =
                    kiln_fs::resolve_in_root(&self.root_path, Path::new(OsStr::from_bytes(rel)), !nofollow)
                        .map_err(|e| match e {
                        kiln_fs::ResolveError::Io { source, .. } => source,
                        other => io::Error::other(other.to_string()),
                    })?;
                rustix::fs::open(&host, flags | OFlags::NOFOLLOW, Mode::empty()).map_err(errno_io)
            }
        }
    }

    /// The parent directory for creating a member, creating missing directories (mode 0755) on the way.
    fn dir_for_create(&mut self, rel: &[u8], m: &Member) -> Result<Rc<OwnedFd>, LayerError> {
        if let Some((cached, fd)) = &self.cache
            && cached == rel
        {
            return Ok(fd.clone());
        }
        let fd = match self.open_dir(rel, false) {
            Ok(fd) => fd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => self.make_dirs(rel, m)?,
            Err(e) => return Err(parent_err(m, rel, e)),
        };
        let fd = Rc::new(fd);
        self.cache = Some((rel.to_vec(), fd.clone()));
        Ok(fd)
    }

    /// An existing directory, or `None` when it (or a parent) does not exist or is not a directory.
    fn existing_dir(&mut self, rel: &[u8], m: &Member) -> Result<Option<Rc<OwnedFd>>, LayerError> {
        if let Some((cached, fd)) = &self.cache
            && cached == rel
        {
            return Ok(Some(fd.clone()));
        }
        match self.open_dir(rel, false) {
            Ok(fd) => {
                let fd = Rc::new(fd);
                self.cache = Some((rel.to_vec(), fd.clone()));
                Ok(Some(fd))
            }
            Err(e) if matches!(e.raw_os_error(), Some(libc_errno::ENOENT | libc_errno::ENOTDIR)) => Ok(None),
            Err(e) => Err(parent_err(m, rel, e)),
        }
    }

    fn make_dirs(&mut self, rel: &[u8], m: &Member) -> Result<OwnedFd, LayerError> {
        let mut fd = self.open_dir(b"", false).map_err(|e| parent_err(m, b"", e))?;
        let mut end = 0;
        for comp in rel.split(|&b| b == b'/') {
            end = if end == 0 { comp.len() } else { end + 1 + comp.len() };
            let prefix = &rel[..end];
            fd = match self.open_dir(prefix, false) {
                Ok(next) => next,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    match rustix::fs::mkdirat(&fd, comp, Mode::from_raw_mode(0o755)) {
                        Ok(()) | Err(Errno::EXIST) => {}
                        Err(e) => return Err(parent_err(m, prefix, errno_io(e))),
                    }
                    // Fails when `comp` is a dangling symlink: nothing is created through it.
                    self.open_dir(prefix, false).map_err(|e| parent_err(m, prefix, e))?
                }
                Err(e) => return Err(parent_err(m, prefix, e)),
            };
        }
        Ok(fd)
    }

    fn member(&mut self, m: &Member, content: &mut dyn Read) -> Result<(), LayerError> {
        self.entries += 1;
        match m.entry.kind {
            EntryKind::Whiteout => self.whiteout(m),
            EntryKind::OpaqueDir => self.opaque(m),
            _ if m.path.is_empty() => self.root_dir(m),
            _ => self.create(m, content),
        }
    }

    /// A `./` member: the root's own owner, xattrs, mode and mtime.
    fn root_dir(&mut self, m: &Member) -> Result<(), LayerError> {
        let dir = self.open_dir(b"", false).map_err(|e| parent_err(m, b"", e))?;
        let fd = reopen_dir(&dir, b".").map_err(|e| io_err(m, "opening the root", e))?;
        self.set_owner(m, XattrTarget::Fd(fd.as_fd()))?;
        self.set_xattrs(m, XattrTarget::Fd(fd.as_fd()))?;
        self.dirs.insert(Vec::new(), DirMeta { mode: m.entry.mode, mtime: m.entry.mtime });
        Ok(())
    }

    fn create(&mut self, m: &Member, content: &mut dyn Read) -> Result<(), LayerError> {
        let (dir_rel, name) = split(&m.path);
        let dir = self.dir_for_create(dir_rel, m)?;
        match rustix::fs::statat(&*dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => {
                let is_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
                if is_dir && m.entry.kind == EntryKind::Dir {
                    return self.dir_metadata(m, &dir, name);
                }
                self.remove(&dir, name, is_dir, &m.path)
                    .map_err(|e| io_err(m, "replacing what was there", e))?;
            }
            Err(Errno::NOENT) => {}
            Err(e) => return Err(io_err(m, "inspecting what it replaces", errno_io(e))),
        }
        let mode = Mode::from_raw_mode(m.entry.mode);
        match &m.entry.kind {
            EntryKind::File => {
                let flags =
                    OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
                let fd = rustix::fs::openat(&*dir, name, flags, Mode::from_raw_mode(0o600))
                    .map_err(|e| io_err(m, "creating it", errno_io(e)))?;
                let mut file = std::fs::File::from(fd);
                self.bytes += self.file_content(m, &mut file, content)?;
                let fd = file.as_fd();
                self.set_owner(m, XattrTarget::Fd(fd))?;
                rustix::fs::fchmod(fd, mode).map_err(|e| io_err(m, "setting its mode", errno_io(e)))?;
                self.set_xattrs(m, XattrTarget::Fd(fd))?;
                rustix::fs::futimens(fd, &times(m.entry.mtime))
                    .map_err(|e| io_err(m, "setting its mtime", errno_io(e)))?;
            }
            EntryKind::Dir => {
                rustix::fs::mkdirat(&*dir, name, Mode::from_raw_mode(0o700))
                    .map_err(|e| io_err(m, "creating it", errno_io(e)))?;
                self.dir_metadata(m, &dir, name)?;
            }
            EntryKind::Symlink { .. } => {
                rustix::fs::symlinkat(&m.link[..], &*dir, name)
                    .map_err(|e| io_err(m, "creating it", errno_io(e)))?;
                self.node_metadata(m, &dir, name, false)?;
            }
            EntryKind::Hardlink { .. } => self.hardlink(m, &dir, name)?,
            EntryKind::CharDevice { major, minor } | EntryKind::BlockDevice { major, minor } => {
                let (ft, what) = match m.entry.kind {
                    EntryKind::CharDevice { .. } => (FileType::CharacterDevice, "character device"),
                    _ => (FileType::BlockDevice, "block device"),
                };
                let dev = rustix::fs::makedev(*major, *minor);
                rustix::fs::mknodat(&*dir, name, ft, mode, dev).map_err(|e| match e {
                    Errno::PERM => LayerError::DeviceNotPermitted {
                        member: m.display.clone(),
                        what,
                        source: errno_io(e),
                    },
                    e => io_err(m, "creating it", errno_io(e)),
                })?;
                self.node_metadata(m, &dir, name, true)?;
            }
            EntryKind::Fifo => {
                rustix::fs::mknodat(&*dir, name, FileType::Fifo, mode, 0)
                    .map_err(|e| io_err(m, "creating it", errno_io(e)))?;
                self.node_metadata(m, &dir, name, true)?;
            }
            EntryKind::Whiteout | EntryKind::OpaqueDir => {}
        }
        self.touch(&m.path);
        Ok(())
    }

    /// Writes a regular file's content; a sparse file gets its data regions at their offsets and holes
    /// elsewhere (so a sparse member claiming terabytes costs no disk).
    fn file_content(
        &mut self,
        m: &Member,
        file: &mut std::fs::File,
        content: &mut dyn Read,
    ) -> Result<u64, LayerError> {
        let Some(map) = &m.sparse else {
            return write_member_data(file, &m.display, content, &mut self.buf);
        };
        let mut written = 0;
        for region in map {
            file.seek(io::SeekFrom::Start(region.offset)).map_err(|e| io_err(m, "writing its data", e))?;
            written +=
                write_member_data(file, &m.display, &mut (&mut *content).take(region.length), &mut self.buf)?;
        }
        file.set_len(m.entry.size).map_err(|e| io_err(m, "setting its size", e))?;
        Ok(written)
    }

    /// Owner and xattrs of a (new or merged) directory now; its mode and mtime after all members.
    fn dir_metadata(&mut self, m: &Member, dir: &OwnedFd, name: &[u8]) -> Result<(), LayerError> {
        let fd = reopen_dir(dir, name).map_err(|e| io_err(m, "opening it", e))?;
        self.set_owner(m, XattrTarget::Fd(fd.as_fd()))?;
        self.set_xattrs(m, XattrTarget::Fd(fd.as_fd()))?;
        self.dirs.insert(m.path.clone(), DirMeta { mode: m.entry.mode, mtime: m.entry.mtime });
        self.touch(&m.path);
        Ok(())
    }

    /// Owner, mode (not for symlinks), xattrs and mtime of a node that cannot be opened safely.
    fn node_metadata(
        &mut self,
        m: &Member,
        dir: &OwnedFd,
        name: &[u8],
        chmod: bool,
    ) -> Result<(), LayerError> {
        self.set_owner(m, XattrTarget::At(dir, name))?;
        if chmod {
            // The name was just created by us as a device or fifo, so the final component is no symlink.
            rustix::fs::chmodat(dir, name, Mode::from_raw_mode(m.entry.mode), AtFlags::empty())
                .map_err(|e| io_err(m, "setting its mode", errno_io(e)))?;
        }
        self.set_xattrs(m, XattrTarget::At(dir, name))?;
        rustix::fs::utimensat(dir, name, &times(m.entry.mtime), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| io_err(m, "setting its mtime", errno_io(e)))
    }

    fn hardlink(&mut self, m: &Member, dir: &OwnedFd, name: &[u8]) -> Result<(), LayerError> {
        let missing = || LayerError::Member {
            member: m.display.clone(),
            reason: format!("hardlink target {:?} does not exist", String::from_utf8_lossy(&m.link)),
        };
        let (target_dir, target_name) = split(&m.link);
        let target_dir = self.existing_dir(target_dir, m)?.ok_or_else(missing)?;
        rustix::fs::linkat(&*target_dir, target_name, dir, name, AtFlags::empty()).map_err(|e| match e {
            Errno::NOENT => missing(),
            Errno::PERM => LayerError::Member {
                member: m.display.clone(),
                reason: format!("hardlink target {:?} is a directory", String::from_utf8_lossy(&m.link)),
            },
            e => io_err(m, "creating the hardlink", errno_io(e)),
        })
    }

    fn whiteout(&mut self, m: &Member) -> Result<(), LayerError> {
        if self.touched.contains(&m.path) {
            // A whiteout hides lower layers only, never what this layer itself wrote.
            return Ok(());
        }
        let (dir_rel, name) = split(&m.path);
        let dir = match self.opts.whiteouts {
            WhiteoutMode::Delete => match self.existing_dir(dir_rel, m)? {
                Some(dir) => dir,
                None => return Ok(()),
            },
            WhiteoutMode::Overlay => self.dir_for_create(dir_rel, m)?,
        };
        match rustix::fs::statat(&*dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => {
                let is_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
                self.remove(&dir, name, is_dir, &m.path)
                    .map_err(|e| io_err(m, "deleting the whited-out path", e))?;
            }
            Err(Errno::NOENT) => {}
            Err(e) => return Err(io_err(m, "inspecting the whited-out path", errno_io(e))),
        }
        if self.opts.whiteouts == WhiteoutMode::Overlay {
            rustix::fs::mknodat(
                &*dir,
                name,
                FileType::CharacterDevice,
                Mode::empty(),
                rustix::fs::makedev(0, 0),
            )
            .map_err(|e| match e {
                Errno::PERM => LayerError::DeviceNotPermitted {
                    member: m.display.clone(),
                    what: "overlay whiteout",
                    source: errno_io(e),
                },
                e => io_err(m, "creating the overlay whiteout", errno_io(e)),
            })?;
            self.touch(&m.path);
        }
        Ok(())
    }

    fn opaque(&mut self, m: &Member) -> Result<(), LayerError> {
        let dir = match self.opts.whiteouts {
            WhiteoutMode::Delete => match self.existing_dir(&m.path, m)? {
                Some(dir) => dir,
                None => return Ok(()),
            },
            WhiteoutMode::Overlay => self.dir_for_create(&m.path, m)?,
        };
        self.hide_lower(&dir, &m.path).map_err(|e| io_err(m, "hiding the directory's lower content", e))?;
        if self.opts.whiteouts == WhiteoutMode::Overlay {
            let fd = reopen_dir(&dir, b".").map_err(|e| io_err(m, "opening the opaque directory", e))?;
            rustix::fs::fsetxattr(&fd, "trusted.overlay.opaque", b"y", XattrFlags::empty())
                .map_err(|e| io_err(m, "setting trusted.overlay.opaque (needs root)", errno_io(e)))?;
            self.touch(&m.path);
        }
        Ok(())
    }

    /// Removes everything under `dir` (at normalized `path`) that this layer did not write.
    fn hide_lower(&mut self, dir: &OwnedFd, path: &[u8]) -> io::Result<()> {
        for (name, ft) in list_dir(dir)? {
            let child = join(path, &name);
            if !self.touched.contains(&child) {
                self.remove(dir, &name, ft == FileType::Directory, &child)?;
            } else if ft == FileType::Directory {
                let sub = rustix::fs::openat(dir, &name[..], dir_path_flags(), Mode::empty())?;
                self.hide_lower(&sub, &child)?;
            }
        }
        Ok(())
    }

    /// Removes `name` in `dir` (recursively for a directory), forgetting cached descriptors and pending
    /// directory metadata under it.
    fn remove(&mut self, dir: &OwnedFd, name: &[u8], is_dir: bool, path: &[u8]) -> io::Result<()> {
        self.cache = None;
        if is_dir {
            remove_tree(dir.as_fd(), name)?;
        } else {
            rustix::fs::unlinkat(dir, name, AtFlags::empty())?;
        }
        self.dirs.remove(path);
        let mut prefix = path.to_vec();
        prefix.push(b'/');
        let doomed: Vec<Vec<u8>> = self
            .dirs
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect();
        for k in doomed {
            self.dirs.remove(&k);
        }
        Ok(())
    }

    fn touch(&mut self, path: &[u8]) {
        let mut p = path;
        while self.touched.insert(p.to_vec()) && !p.is_empty() {
            p = parent(p);
        }
    }

    fn set_owner(&mut self, m: &Member, target: XattrTarget<'_>) -> Result<(), LayerError> {
        if !self.opts.preserve_owners {
            return Ok(());
        }
        let uid = Some(rustix::fs::Uid::from_raw(m.entry.uid));
        let gid = Some(rustix::fs::Gid::from_raw(m.entry.gid));
        match target {
            XattrTarget::Fd(fd) => rustix::fs::fchown(fd, uid, gid),
            XattrTarget::At(dir, name) => rustix::fs::chownat(dir, name, uid, gid, AtFlags::SYMLINK_NOFOLLOW),
        }
        .map_err(|e| io_err(m, &format!("setting its owner to {}:{}", m.entry.uid, m.entry.gid), errno_io(e)))
    }

    fn set_xattrs(&mut self, m: &Member, target: XattrTarget<'_>) -> Result<(), LayerError> {
        for (key, value) in &m.entry.xattrs {
            if key.starts_with("trusted.overlay.") || key.starts_with("user.overlay.") {
                self.skipped_xattrs += 1;
                continue;
            }
            let result = match &target {
                XattrTarget::Fd(fd) => rustix::fs::fsetxattr(fd, key.as_str(), value, XattrFlags::empty()),
                XattrTarget::At(dir, name) => {
                    // The directory descriptor pins the parent; the last component is not followed.
                    let mut path = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
                    path.push(OsStr::from_bytes(name));
                    rustix::fs::lsetxattr(&path, key.as_str(), value, XattrFlags::empty())
                }
            };
            match result {
                Ok(()) => {}
                Err(Errno::PERM | Errno::NOTSUP) => self.skipped_xattrs += 1,
                Err(e) => return Err(io_err(m, &format!("setting xattr {key}"), errno_io(e))),
            }
        }
        Ok(())
    }

    /// Sets the deferred directory modes and mtimes.
    fn finish(&mut self) -> Result<(), LayerError> {
        for (path, meta) in std::mem::take(&mut self.dirs) {
            let err = |action: &str, e: io::Error| LayerError::MemberIo {
                member: String::from_utf8_lossy(&path).into_owned(),
                action: action.to_owned(),
                source: e,
            };
            let dir = match self.open_dir(&path, true) {
                Ok(dir) => dir,
                // Replaced by a later member of another type: nothing to set.
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc_errno::ENOENT | libc_errno::ENOTDIR | libc_errno::ELOOP)
                    ) =>
                {
                    continue;
                }
                Err(e) => return Err(err("opening it to set its mode", e)),
            };
            let fd = reopen_dir(&dir, b".").map_err(|e| err("opening it to set its mode", e))?;
            rustix::fs::fchmod(&fd, Mode::from_raw_mode(meta.mode))
                .map_err(|e| err("setting its mode", errno_io(e)))?;
            rustix::fs::futimens(&fd, &times(meta.mtime))
                .map_err(|e| err("setting its mtime", errno_io(e)))?;
        }
        Ok(())
    }
}

/// Errno values used to classify `io::Error`s.
mod libc_errno {
    pub(super) const ENOENT: i32 = rustix::io::Errno::NOENT.raw_os_error();
    pub(super) const ENOTDIR: i32 = rustix::io::Errno::NOTDIR.raw_os_error();
    pub(super) const ELOOP: i32 = rustix::io::Errno::LOOP.raw_os_error();
}

fn dir_path_flags() -> OFlags {
    OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC
}

/// Opens `name` in `dir` (an `O_PATH` descriptor) as a readable directory, not following a symlink.
fn reopen_dir(dir: &OwnedFd, name: &[u8]) -> io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    Ok(rustix::fs::openat(dir, name, flags, Mode::empty())?)
}

/// The names and types of a directory's entries.
fn list_dir(dir: &OwnedFd) -> io::Result<Vec<(Vec<u8>, FileType)>> {
    let mut entries = Vec::new();
    // Dir::read_from would copy the O_PATH flag of `dir`; a listing needs a readable descriptor.
    let mut reader = rustix::fs::Dir::new(reopen_dir(dir, b".")?)?;
    while let Some(entry) = reader.read() {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        let mut ft = entry.file_type();
        if ft == FileType::Unknown {
            ft = FileType::from_raw_mode(rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?.st_mode);
        }
        entries.push((name.to_vec(), ft));
    }
    Ok(entries)
}

/// Removes the directory `name` in `parent` and everything in it, by descriptor (never following symlinks).
fn remove_tree(parent: BorrowedFd<'_>, name: &[u8]) -> io::Result<()> {
    let dir = rustix::fs::openat(parent, name, dir_path_flags(), Mode::empty())?;
    for (child, ft) in list_dir(&dir)? {
        if ft == FileType::Directory {
            remove_tree(dir.as_fd(), &child)?;
        } else {
            rustix::fs::unlinkat(&dir, &child[..], AtFlags::empty())?;
        }
    }
    Ok(rustix::fs::unlinkat(parent, name, AtFlags::REMOVEDIR)?)
}

/// Splits a normalized, non-empty path into its parent and last component.
fn split(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|&b| b == b'/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (&[], path),
    }
}

fn times(mtime: i64) -> Timestamps {
    let t = Timespec { tv_sec: mtime, tv_nsec: 0 };
    Timestamps { last_access: t, last_modification: t }
}

fn io_err(m: &Member, action: &str, source: io::Error) -> LayerError {
    LayerError::MemberIo { member: m.display.clone(), action: action.to_owned(), source }
}

fn parent_err(m: &Member, dir: &[u8], source: io::Error) -> LayerError {
    let action = if dir.is_empty() {
        "opening the root directory".to_owned()
    } else {
        format!("opening its parent directory {:?}", String::from_utf8_lossy(dir))
    };
    io_err(m, &action, source)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tar_core::EntryType;
    use tar_core::builder::EntryBuilder;

    /// Applies with the lexical fallback resolver, as on kernels without openat2.
    fn apply_lexical(tar: &[u8], root: &Path) -> Result<u64, LayerError> {
        let opts = ApplyOptions { preserve_owners: false, ..ApplyOptions::default() };
        let mut applier = Applier::new(root, &opts, Some(Resolver::Lexical))?;
        read_members(tar, false, &mut |m, content| applier.member(m, content))?;
        applier.finish()?;
        Ok(applier.entries)
    }

    fn member(tar: &mut Vec<u8>, path: &str, kind: EntryType, link: &str, data: &[u8]) {
        let mut b = EntryBuilder::new_ustar();
        b.path(path).entry_type(kind).mode(0o755).unwrap().size(data.len() as u64).unwrap();
        if !link.is_empty() {
            b.link_name(link);
        }
        tar.extend_from_slice(&b.finish_bytes());
        tar.extend_from_slice(data);
        tar.resize(tar.len().next_multiple_of(512), 0);
    }

    #[test]
    fn the_lexical_fallback_keeps_writes_inside_the_root() {
        let outer = tempfile::tempdir().unwrap();
        let root = outer.path().join("root");
        std::fs::create_dir(&root).unwrap();
        let mut tar = Vec::new();
        member(&mut tar, "escape", EntryType::Symlink, "/", b"");
        member(&mut tar, "escape/root/../sentinel", EntryType::Regular, "", b"x");
        member(&mut tar, "up", EntryType::Symlink, "../../..", b"");
        member(&mut tar, "up/etc/file", EntryType::Regular, "", b"y");
        tar.extend_from_slice(&[0; 1024]);
        assert_eq!(apply_lexical(&tar, &root).unwrap(), 4);
        assert_eq!(std::fs::read(root.join("sentinel")).unwrap(), b"x");
        assert_eq!(std::fs::read(root.join("etc/file")).unwrap(), b"y");
        let outside: Vec<_> =
            std::fs::read_dir(outer.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(outside, vec![std::ffi::OsString::from("root")]);
    }

    #[test]
    fn split_paths() {
        assert_eq!(split(b"a/b/c"), (&b"a/b"[..], &b"c"[..]));
        assert_eq!(split(b"c"), (&b""[..], &b"c"[..]));
    }
}
