//! The context walker: lists a context subtree as [`Entry`]s the way BuildKit's context transfer (fsutil)
//! sees it, in parallel.
//!
//! `.dockerignore` is applied to context-relative paths: an excluded file is left out; an excluded
//! directory is not even read when no exception pattern could re-include something below it
//! ([`DockerIgnore::can_skip_dir`]), otherwise it is read and kept only as the parent of what an exception
//! re-includes. Symlinks are listed as symlinks, never followed. Sockets are left out.
//!
//! Written on rayon (one task per directory) rather than with `ignore::WalkParallel` or `walkdir`: the
//! filtering is Docker's, not gitignore's, and the walk must prune excluded directories and keep excluded
//! parents of re-included files, which the generic walkers' filters cannot express; the benchmark compares
//! it with a sequential walk (`benches/context.rs`).

use std::fs::Metadata;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use kiln_dockerfile::ignore::DockerIgnore;
use rayon::prelude::*;
use serde::Serialize;

use crate::error::{ContextError, Result, io_err};

/// What kind of file an [`Entry`] is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (never followed inside a directory).
    Symlink {
        /// The link target as stored.
        target: String,
    },
    /// A named pipe.
    Fifo,
    /// A character device.
    CharDevice {
        /// Device number.
        rdev: u64,
    },
    /// A block device.
    BlockDevice {
        /// Device number.
        rdev: u64,
    },
}

/// One file of the context as a build sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// Path relative to the context root, `/`-separated, without a leading `/` (`""` is the root).
    pub path: String,
    /// What it is.
    pub kind: EntryKind,
    /// Permission bits with setuid, setgid and sticky (`st_mode & 0o7777`).
    pub mode: u32,
    /// Size in bytes of a regular file (0 for anything else).
    pub size: u64,
    /// Owner as the build sees it: 0 in a client's context (BuildKit's context transfer resets owners to
    /// root), the file's owner in a root filesystem ([`crate::Context::from_rootfs`]).
    pub uid: u32,
    /// Group as the build sees it (see `uid`).
    pub gid: u32,
    #[serde(skip)]
    pub(crate) stat: Stat,
}

/// The stat fields that key the checksum memo (not part of what is copied).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Stat {
    pub(crate) dev: u64,
    pub(crate) ino: u64,
    pub(crate) mtime: (i64, i64),
    pub(crate) ctime: (i64, i64),
    pub(crate) raw_mode: u32,
}

impl Entry {
    /// The entry for `path` (context-relative) from its `lstat` metadata; `None` for a socket.
    /// `keep_owners`: report the file's owner (a root filesystem) instead of root (a client's context).
    pub(crate) fn from_metadata(
        path: String,
        meta: &Metadata,
        host: &Path,
        keep_owners: bool,
    ) -> Result<Option<Entry>> {
        let ft = meta.file_type();
        let kind = if ft.is_file() {
            EntryKind::File
        } else if ft.is_dir() {
            EntryKind::Dir
        } else if ft.is_symlink() {
            let target = std::fs::read_link(host).map_err(io_err(host))?;
            let target =
                target.into_os_string().into_string().map_err(|_| ContextError::NonUtf8Path(host.into()))?;
            EntryKind::Symlink { target }
        } else if ft.is_fifo() {
            EntryKind::Fifo
        } else if ft.is_char_device() {
            EntryKind::CharDevice { rdev: meta.rdev() }
        } else if ft.is_block_device() {
            EntryKind::BlockDevice { rdev: meta.rdev() }
        } else {
            return Ok(None);
        };
        Ok(Some(Entry {
            size: if kind == EntryKind::File { meta.len() } else { 0 },
            path,
            kind,
            mode: meta.mode() & 0o7777,
            uid: if keep_owners { meta.uid() } else { 0 },
            gid: if keep_owners { meta.gid() } else { 0 },
            stat: Stat {
                dev: meta.dev(),
                ino: meta.ino(),
                mtime: (meta.mtime(), meta.mtime_nsec()),
                ctime: (meta.ctime(), meta.ctime_nsec()),
                raw_mode: meta.mode(),
            },
        }))
    }

    /// Whether it is a directory.
    pub fn is_dir(&self) -> bool {
        self.kind == EntryKind::Dir
    }

    /// The last path component (`""` for the root).
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or("")
    }
}

/// What a walk found.
#[derive(Debug, Default)]
pub(crate) struct WalkOutput {
    /// Included entries below the start directory (not the start itself), sorted parents first.
    pub(crate) entries: Vec<Entry>,
    /// Excluded directories that were not read (no exception can re-include anything below them).
    pub(crate) skipped: Vec<String>,
    /// Excluded entries that were seen and left out (files, and directories with nothing re-included).
    pub(crate) excluded: u64,
}

impl WalkOutput {
    fn absorb(&mut self, mut other: WalkOutput) {
        self.entries.append(&mut other.entries);
        self.skipped.append(&mut other.skipped);
        self.excluded += other.excluded;
    }
}

/// Walks a context directory with its `.dockerignore`.
pub(crate) struct Walker<'a> {
    pub(crate) root: &'a Path,
    pub(crate) ignore: &'a DockerIgnore,
    pub(crate) keep_owners: bool,
}

impl Walker<'_> {
    /// The entries below context-relative directory `dir` (a real directory, `""` for the root), at most
    /// `max_depth` levels down (`None`: all), sorted component by component (parents first).
    pub(crate) fn walk(&self, dir: &str, max_depth: Option<usize>) -> Result<WalkOutput> {
        let mut out = self.walk_dir(dir, 1, max_depth)?;
        out.entries.sort_unstable_by(|a, b| a.path.split('/').cmp(b.path.split('/')));
        out.skipped.sort_unstable();
        Ok(out)
    }

    fn excluded(&self, path: &str) -> bool {
        !self.ignore.is_empty() && self.ignore.matches(path)
    }

    fn walk_dir(&self, rel: &str, depth: usize, max_depth: Option<usize>) -> Result<WalkOutput> {
        let host = self.root.join(rel);
        let mut out = WalkOutput::default();
        let mut dirs = Vec::new();
        for dirent in std::fs::read_dir(&host).map_err(io_err(&host))? {
            let dirent = dirent.map_err(io_err(&host))?;
            let child_host = dirent.path();
            let name = dirent
                .file_name()
                .into_string()
                .map_err(|_| ContextError::NonUtf8Path(child_host.clone()))?;
            let path = if rel.is_empty() { name } else { format!("{rel}/{name}") };
            // DirEntry::metadata does not follow symlinks.
            let meta = dirent.metadata().map_err(io_err(&child_host))?;
            let excluded = self.excluded(&path);
            if meta.is_dir() {
                dirs.push((path, meta, excluded));
            } else if excluded {
                out.excluded += 1;
            } else if let Some(entry) = Entry::from_metadata(path, &meta, &child_host, self.keep_owners)? {
                out.entries.push(entry);
            }
        }
        let below = max_depth.is_none_or(|m| depth < m);
        let visit = |(path, meta, excluded): (String, Metadata, bool)| -> Result<WalkOutput> {
            let mut sub = WalkOutput::default();
            if excluded && self.ignore.can_skip_dir(&path) {
                sub.skipped.push(path);
                return Ok(sub);
            }
            let mut keep = !excluded;
            if below || excluded {
                // An excluded directory stays only as the parent of something an exception re-includes,
                // which only a walk of it can tell (even past `max_depth`).
                sub = self.walk_dir(&path, depth + 1, max_depth)?;
                keep |= !sub.entries.is_empty();
                if !below {
                    sub.entries.clear();
                }
            }
            if !keep {
                sub.excluded += 1;
                return Ok(sub);
            }
            let host = self.root.join(&path);
            if let Some(dir) = Entry::from_metadata(path, &meta, &host, self.keep_owners)? {
                sub.entries.push(dir);
            }
            Ok(sub)
        };
        // A root filesystem may be an overlay mounted in the calling thread's private mount namespace
        // (kiln-sandbox's read-only view of a stage): rayon's pool threads live in the process's namespace
        // and would not see it, so such contexts are walked on the calling thread.
        let results: Vec<Result<WalkOutput>> = if self.keep_owners {
            dirs.into_iter().map(visit).collect()
        } else {
            dirs.into_par_iter().map(visit).collect()
        };
        for r in results {
            out.absorb(r?);
        }
        Ok(out)
    }
}
