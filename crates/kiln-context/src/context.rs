//! [`Context`]: a build context rooted in a directory, with the `.dockerignore` that filters it, made from a
//! directory, a named context (`--build-context NAME=DIR`) or a tarball ([`crate::tar`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use kiln_dockerfile::ignore::DockerIgnore;
use kiln_fs::TempDir;
use kiln_oci::Digest;

use crate::checksum::MemoKey;
use crate::error::{ContextError, Result, io_err};
use crate::walk::{Entry, Walker};

/// The name of the ignore file at the context root.
pub const DOCKERIGNORE: &str = ".dockerignore";

/// A build context: a directory of files a build may read, filtered by `.dockerignore`.
#[derive(Debug)]
pub struct Context {
    name: String,
    root: PathBuf,
    ignore: DockerIgnore,
    ignore_file: Option<PathBuf>,
    keep_owners: bool,
    /// File content digests computed by this process, by memo key (in front of the caller's memo).
    pub(crate) hashed: Mutex<HashMap<MemoKey, Digest>>,
    /// The extracted copy of a tarball context, removed when the context is dropped.
    _extracted: Option<TempDir>,
}

/// The ignore file BuildKit uses: `<dockerfile>.dockerignore` next to the Dockerfile when it exists, else
/// `.dockerignore` at the context root, else none. `dockerfile` is `None` when it comes from stdin.
pub fn ignore_file_for(context_dir: &Path, dockerfile: Option<&Path>) -> Option<PathBuf> {
    if let Some(df) = dockerfile {
        let mut specific = df.as_os_str().to_owned();
        specific.push(".dockerignore");
        let specific = PathBuf::from(specific);
        if specific.is_file() {
            return Some(specific);
        }
    }
    let root = context_dir.join(DOCKERIGNORE);
    root.is_file().then_some(root)
}

/// The Dockerfile `docker build` uses when `-f` is not given: `<context>/Dockerfile`, or the lower-case
/// `dockerfile` when only that exists.
pub fn default_dockerfile(context_dir: &Path) -> PathBuf {
    let upper = context_dir.join("Dockerfile");
    let lower = context_dir.join("dockerfile");
    if !upper.exists() && lower.exists() { lower } else { upper }
}

impl Context {
    /// The main build context: directory `dir`, filtered by the ignore file of [`ignore_file_for`]
    /// (`dockerfile` is the Dockerfile's path, `None` when it is read from stdin).
    pub fn from_dir(dir: &Path, dockerfile: Option<&Path>) -> Result<Context> {
        let root = canonical_dir(dir)?;
        let ignore_file = ignore_file_for(&root, dockerfile.map(absolute).as_deref());
        Context::with_ignore_file("context", root, ignore_file, None)
    }

    /// A named context (`--build-context NAME=DIR`), filtered by its own `.dockerignore`.
    pub fn named(name: &str, dir: &Path) -> Result<Context> {
        let root = canonical_dir(dir)?;
        let ignore_file = ignore_file_for(&root, None);
        Context::with_ignore_file(name, root, ignore_file, None)
    }

    /// A root filesystem read by `COPY --from=<stage|image>` or `RUN --mount from=` (a stage's or image's
    /// unpacked or mounted tree, `name` naming it in errors): no ignore file, and owners are kept, since
    /// only a client's context has them reset.
    pub fn from_rootfs(name: &str, dir: &Path) -> Result<Context> {
        let root = canonical_dir(dir)?;
        let mut ctx = Context::new(name.to_owned(), root, DockerIgnore::default(), None, None);
        ctx.keep_owners = true;
        Ok(ctx)
    }

    /// Whether entries report their files' owners (a root filesystem) rather than root (a client's context).
    pub fn keeps_owners(&self) -> bool {
        self.keep_owners
    }

    /// A context over `dir` with explicit patterns instead of an ignore file.
    pub fn with_ignore(dir: &Path, ignore: DockerIgnore) -> Result<Context> {
        let root = canonical_dir(dir)?;
        Ok(Context::new("context".to_owned(), root, ignore, None, None))
    }

    pub(crate) fn with_ignore_file(
        name: &str,
        root: PathBuf,
        ignore_file: Option<PathBuf>,
        extracted: Option<TempDir>,
    ) -> Result<Context> {
        let ignore = match &ignore_file {
            Some(f) => {
                let text = std::fs::read_to_string(f).map_err(io_err(f))?;
                DockerIgnore::parse(&f.display().to_string(), &text)?
            }
            None => DockerIgnore::default(),
        };
        Ok(Context::new(name.to_owned(), root, ignore, ignore_file, extracted))
    }

    fn new(
        name: String,
        root: PathBuf,
        ignore: DockerIgnore,
        ignore_file: Option<PathBuf>,
        extracted: Option<TempDir>,
    ) -> Context {
        Context {
            name,
            root,
            ignore,
            ignore_file,
            keep_owners: false,
            hashed: Mutex::new(HashMap::new()),
            _extracted: extracted,
        }
    }

    /// `context` for the main context, else the named context's name (used in messages).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The directory the context's files are read from (canonical; for a tarball, the extracted copy).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The `.dockerignore` patterns in effect (empty when there is no ignore file).
    pub fn ignore(&self) -> &DockerIgnore {
        &self.ignore
    }

    /// The ignore file the patterns came from.
    pub fn ignore_file(&self) -> Option<&Path> {
        self.ignore_file.as_deref()
    }

    /// Every entry of the context as a build sees it (`.dockerignore` applied), sorted parents first.
    pub fn entries(&self) -> Result<Vec<Entry>> {
        Ok(self.walker().walk("", None)?.entries)
    }

    /// Reads a file of the context by its context-relative path, resolving symlinks inside the context
    /// (e.g. the Dockerfile of a tarball context). `.dockerignore` does not apply, as for the Dockerfile.
    pub fn read_file(&self, path: &str) -> Result<Vec<u8>> {
        let host = kiln_fs::resolve_in_root(&self.root, Path::new(path), true)?;
        std::fs::read(&host).map_err(io_err(host))
    }

    pub(crate) fn walker(&self) -> Walker<'_> {
        Walker { root: &self.root, ignore: &self.ignore, keep_owners: self.keep_owners }
    }
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_owned())
}

fn canonical_dir(dir: &Path) -> Result<PathBuf> {
    let root = std::fs::canonicalize(dir).map_err(io_err(dir))?;
    if !root.is_dir() {
        return Err(ContextError::NotADirectory(dir.to_owned()));
    }
    Ok(root)
}
