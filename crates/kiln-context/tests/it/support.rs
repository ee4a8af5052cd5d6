//! A fixture builder for context directories.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use kiln_context::{Context, DockerIgnore};

/// A temporary context directory.
pub(crate) struct Fixture {
    pub(crate) dir: tempfile::TempDir,
}

impl Fixture {
    /// An empty context.
    pub(crate) fn new() -> Self {
        Fixture { dir: tempfile::tempdir().unwrap() }
    }

    /// An empty context on a memory file system when there is one (`/dev/shm`): for fixtures of thousands
    /// of files, whose creation costs seconds on a slow disk.
    pub(crate) fn in_memory() -> Self {
        let shm = std::path::Path::new("/dev/shm");
        let dir = if shm.is_dir() { tempfile::tempdir_in(shm) } else { tempfile::tempdir() };
        Fixture { dir: dir.unwrap() }
    }

    /// A context holding `files` (`path` → content; a path ending in `/` is a directory).
    pub(crate) fn with(files: &[(&str, &str)]) -> Self {
        let f = Fixture::new();
        for (path, content) in files {
            f.write(path, content);
        }
        f
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn join(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes a file (or makes a directory for a path ending in `/`), creating parents, with an mtime a
    /// day in the past so checksums may be memoized.
    pub(crate) fn write(&self, rel: &str, content: &str) -> &Self {
        let p = self.join(rel);
        if rel.ends_with('/') {
            fs_err::create_dir_all(&p).unwrap();
            return self;
        }
        fs_err::create_dir_all(p.parent().unwrap()).unwrap();
        fs_err::write(&p, content).unwrap();
        age(&p);
        self
    }

    pub(crate) fn symlink(&self, rel: &str, target: &str) -> &Self {
        let p = self.join(rel);
        fs_err::create_dir_all(p.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, &p).unwrap();
        self
    }

    pub(crate) fn chmod(&self, rel: &str, mode: u32) -> &Self {
        fs_err::set_permissions(self.join(rel), std::fs::Permissions::from_mode(mode)).unwrap();
        self
    }

    /// The context with `.dockerignore` as written in the fixture (if any).
    pub(crate) fn context(&self) -> Context {
        Context::from_dir(self.path(), None).unwrap()
    }

    /// The context filtered by `patterns` (one per line, `.dockerignore` syntax).
    pub(crate) fn context_ignoring(&self, patterns: &str) -> Context {
        Context::with_ignore(self.path(), DockerIgnore::parse(".dockerignore", patterns).unwrap()).unwrap()
    }
}

/// Sets a file's mtime one day back.
pub(crate) fn age(p: &Path) {
    let day_ago = filetime::FileTime::from_unix_time(filetime::FileTime::now().unix_seconds() - 86_400, 0);
    filetime::set_symlink_file_times(p, day_ago, day_ago).unwrap();
}

/// The context-relative paths of a context's entries.
pub(crate) fn paths(ctx: &Context) -> Vec<String> {
    ctx.entries().unwrap().into_iter().map(|e| e.path).collect()
}
