//! COPY and ADD (and WORKDIR's directory): the new layer is built in a fresh directory holding only what
//! the step writes plus the parent directories it needs, then committed. Nothing is mounted for the
//! writing; a read-only view of the stage ([`kiln_sandbox::Sandbox::with_view`]) answers "does the
//! destination exist, is it a directory, where do its symlinks lead", gives the metadata of existing parent
//! directories (kept as they are), and the `/etc/passwd` and `/etc/group` that `--chown` names resolve in.
//!
//! The rules are BuildKit's (`dispatchCopy` + fsutil's `copy`):
//! - the destination is relative to WORKDIR; it is a directory when it ends in `/`, exists as a directory
//!   (after following symlinks inside the rootfs), or receives several sources;
//! - a directory source copies its contents (its own metadata goes to the destination directory); a file
//!   goes into a directory destination under its name, else becomes the destination;
//! - owners: `--chown` for everything written (and created parents), else root for context files, the
//!   source's owners for files from a stage or image; `--chmod` (octal or symbolic) for every copied
//!   entry; modification times are kept;
//! - `--link` (without `--chmod`, as in BuildKit) looks at an empty filesystem instead of the stage;
//! - ADD extracts local tar archives (plain, gzip, zstd, bzip2, xz) into the destination; URLs are fetched
//!   ([`crate::fetch`]) and checked against `--checksum`.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use kiln_context::{Context, EntryKind, Selection, SourceSpec};
use kiln_dockerfile::instruction::{Add, Copy, SourceContent};
use kiln_layer::TreeSource;
use kiln_oci::Digest;
use kiln_plan::{Input, InputUse, Step};

use crate::chmod::Chmod;
use crate::chown::{Owner, resolve_chown};
use crate::error::BuildError;
use crate::key::Ingredients;
use crate::stage::{Op, Shared, StageOutput, clean_path};
use crate::state::{StageState, commit_layer, remove_tree};

/// The instruction being dispatched.
pub(crate) enum CopyKind {
    /// `COPY`.
    Copy(Copy),
    /// `ADD`.
    Add(Add),
}

/// The flags of a COPY or ADD, after expansion.
struct Flags {
    is_add: bool,
    sources: Vec<String>,
    contents: Vec<SourceContent>,
    dest: String,
    chown: Option<String>,
    chmod: Option<String>,
    link: bool,
    parents: bool,
    excludes: Vec<String>,
    checksum: Option<String>,
    unpack: bool,
}

impl Flags {
    fn of(kind: CopyKind) -> Flags {
        match kind {
            CopyKind::Copy(c) => Flags {
                is_add: false,
                sources: c.sources.iter().map(|t| t.value.clone()).collect(),
                contents: c.contents,
                dest: c.dest.value,
                chown: c.chown.map(|t| t.value).filter(|s| !s.is_empty()),
                chmod: c.chmod.map(|t| t.value).filter(|s| !s.is_empty()),
                link: c.link,
                parents: c.parents,
                excludes: c.excludes.iter().map(|t| t.value.clone()).collect(),
                checksum: None,
                unpack: false,
            },
            CopyKind::Add(a) => Flags {
                is_add: true,
                sources: a.sources.iter().map(|t| t.value.clone()).collect(),
                contents: a.contents,
                dest: a.dest.value,
                chown: a.chown.map(|t| t.value).filter(|s| !s.is_empty()),
                chmod: a.chmod.map(|t| t.value).filter(|s| !s.is_empty()),
                link: a.link,
                parents: false,
                excludes: a.excludes.iter().map(|t| t.value.clone()).collect(),
                checksum: a.checksum.map(|t| t.value).filter(|s| !s.is_empty()),
                unpack: a.unpack.unwrap_or(true),
            },
        }
    }

    /// BuildKit's history text: `COPY [--parents] [--chown=x] [--chmod=y] src... dest`.
    fn history(&self) -> String {
        let mut s = String::from(if self.is_add { "ADD" } else { "COPY" });
        if self.parents {
            s.push_str(" --parents");
        }
        if let Some(c) = &self.chown {
            s.push_str(&format!(" --chown={c}"));
        }
        if let Some(c) = &self.chmod {
            s.push_str(&format!(" --chmod={c}"));
        }
        for src in &self.sources {
            s.push(' ');
            s.push_str(src);
        }
        for c in &self.contents {
            s.push_str(&format!(" <<{}", c.path));
        }
        s.push(' ');
        s.push_str(&self.dest);
        s
    }
}

fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

/// A git source as BuildKit recognizes the common spellings (`git@host:repo`, `git://`, an http(s) URL
/// ending in `.git` or with `.git#ref`).
fn is_git(s: &str) -> bool {
    s.starts_with("git@")
        || s.starts_with("git://")
        || is_url(s) && (s.ends_with(".git") || s.contains(".git#"))
}

/// Where COPY sources are read from.
enum From<'a> {
    Context(&'a Context),
    Layers { diff_ids: Vec<Digest>, id: String },
}

/// One thing to write into the layer: a host file tree or bytes.
enum Item {
    /// Entries of a context or view selection.
    Selected { root: PathBuf, selection: Selection, preserve_owner: bool },
    /// A file with these bytes (heredoc) or at this host path (URL download), named `name`.
    File { name: String, host: Option<PathBuf>, data: Vec<u8>, mode: u32, mtime: Option<i64> },
}

/// The destination as the stage's rootfs sees it.
#[derive(Debug, Default)]
struct DestInfo {
    /// The destination path inside the rootfs after following symlinks (absolute, cleaned).
    resolved: String,
    /// Whether it exists as a directory.
    is_dir: bool,
    /// Existing ancestors of `resolved`: (path, mode, uid, gid).
    ancestors: Vec<(String, u32, u32, u32)>,
    /// `--chown` resolved.
    owner: Option<Owner>,
}

/// Inspects `dest` (absolute) in the rootfs at `root` (`None`: an empty filesystem).
fn inspect_dest(root: Option<&Path>, dest: &str, chown: Option<&str>) -> Result<DestInfo, BuildError> {
    let owner = chown.map(|c| resolve_chown(root, c)).transpose()?;
    let Some(root) = root else {
        return Ok(DestInfo { resolved: clean_path(dest), owner, ..DestInfo::default() });
    };
    let host = kiln_fs::resolve_in_root(root, Path::new(dest), true)
        .map_err(|e| BuildError::Invalid(format!("destination {dest}: {e}")))?;
    let rel = host.strip_prefix(root).unwrap_or(Path::new("")).to_string_lossy().into_owned();
    let resolved = clean_path(&format!("/{rel}"));
    let is_dir = std::fs::metadata(&host).is_ok_and(|m| m.is_dir());
    let mut ancestors = Vec::new();
    let mut path = String::new();
    for part in resolved.split('/').filter(|p| !p.is_empty()) {
        path.push('/');
        path.push_str(part);
        match std::fs::symlink_metadata(root.join(&path[1..])) {
            Ok(m) if m.is_dir() => ancestors.push((path.clone(), m.mode() & 0o7777, m.uid(), m.gid())),
            _ => break,
        }
    }
    Ok(DestInfo { resolved, is_dir, ancestors, owner })
}

/// Runs `f` with a read-only view of layers `diff_ids` (`None` for none).
fn with_layers<T: Send>(
    sh: &Shared<'_>,
    diff_ids: &[Digest],
    f: impl FnOnce(Option<&Path>) -> Result<T, BuildError> + Send,
) -> Result<T, BuildError> {
    if diff_ids.is_empty() {
        return f(None);
    }
    let lowers =
        sh.lease.lower_dirs(diff_ids).map_err(BuildError::store("preparing a view of the rootfs"))?;
    sh.sandbox.with_view(&lowers, |root| f(Some(root)))?
}

/// Dispatches COPY or ADD.
pub(crate) fn copy_step(
    sh: &Shared<'_>,
    state: &mut StageState,
    stage: usize,
    index: usize,
    step: &Step,
    kind: CopyKind,
    done: &BTreeMap<usize, StageOutput>,
) -> Result<(), BuildError> {
    let f = Flags::of(kind);
    let chmod = f.chmod.as_deref().map(Chmod::parse).transpose()?;
    if let Some(c) = &f.checksum {
        if f.sources.len() != 1 {
            return Err(BuildError::Invalid("checksum can't be specified for multiple sources".into()));
        }
        if !is_url(&f.sources[0]) {
            return Err(BuildError::Invalid("checksum requires HTTP(S) or Git sources".into()));
        }
        Digest::parse(c).map_err(|e| BuildError::Invalid(format!("invalid checksum {c:?}: {e}")))?;
    }
    for s in &f.sources {
        if is_git(s) {
            if !f.is_add {
                return Err(BuildError::Invalid("source can't be a git ref for COPY".into()));
            }
            return Err(BuildError::Invalid(format!(
                "ADD of git repositories ({s}) is not supported by kiln yet"
            )));
        }
        if is_url(s) && !f.is_add {
            return Err(BuildError::Invalid("source can't be a URL for COPY".into()));
        }
    }
    let workdir = state.workdir();
    let dest = {
        let d = if f.dest.is_empty() || f.dest == "." { "./" } else { f.dest.as_str() };
        let joined = if d.starts_with('/') { d.to_owned() } else { format!("{workdir}/{d}") };
        let mut c = clean_path(&joined);
        if d.ends_with('/') && c != "/" {
            c.push('/');
        }
        c
    };
    let from = match step.inputs.iter().find(|i| i.usage == InputUse::CopyFrom).map(|i| &i.input) {
        None => From::Context(&sh.req.context),
        Some(Input::Context(name)) => From::Context(sh.req.named_contexts.get(name).ok_or_else(|| {
            BuildError::Invalid(format!("named context {name} was not given (--build-context {name}=DIR)"))
        })?),
        Some(Input::Stage(s)) => {
            let out = done.get(s).ok_or_else(|| BuildError::Invalid(format!("stage {s} was not built")))?;
            // The stage's cache key, not its layers' ChainID: a stage whose steps ran again (another
            // machine, a cache that held only the result's steps) has new layer digests but the same key,
            // just as a RUN after a re-run step keeps its key.
            From::Layers { diff_ids: out.diff_ids().to_vec(), id: out.key.to_string() }
        }
        Some(Input::Image(r)) => {
            let image =
                sh.images.get(r).ok_or_else(|| BuildError::Invalid(format!("image {r} was not resolved")))?;
            From::Layers { diff_ids: image.diff_ids().to_vec(), id: image.manifest_digest.to_string() }
        }
        Some(Input::Scratch) => From::Layers { diff_ids: Vec::new(), id: "scratch".to_owned() },
    };

    // What `--from` named, for "not found" errors.
    let from_name = step
        .inputs
        .iter()
        .find(|i| i.usage == InputUse::CopyFrom)
        .map_or_else(|| "context".to_owned(), |i| i.written.clone());
    // The key: what the sources select (by content), the flags, the destination.
    let mut ingredients = Ingredients::default();
    let mut files = Vec::new();
    let mut items: Vec<Item> = Vec::new();
    let local: Vec<&String> = f.sources.iter().filter(|s| !is_url(s)).collect();
    let specs: Vec<SourceSpec> = local
        .iter()
        .map(|s| SourceSpec { path: (*s).clone(), parents: f.parents, excludes: f.excludes.clone() })
        .collect();
    match &from {
        From::Context(ctx) => {
            let selections = specs.iter().map(|s| ctx.select(s)).collect::<Result<Vec<_>, _>>()?;
            if !selections.is_empty() {
                let checksum = ctx.checksum(&selections, sh.memo)?;
                ingredients.add("sources", checksum.digest.to_string());
                files = checksum.entries;
            }
            for selection in selections {
                items.push(Item::Selected { root: ctx.root().to_owned(), selection, preserve_owner: false });
            }
        }
        From::Layers { id, .. } => {
            ingredients.add("source filesystem", id);
            ingredients.add("sources", serde_json::to_string(&local).unwrap_or_default());
            ingredients.add("flag --exclude", f.excludes.join("\n"));
            ingredients.add("flag --parents", f.parents.to_string());
        }
    }
    let mut downloads = Vec::new();
    for url in f.sources.iter().filter(|s| is_url(s)) {
        let download = crate::fetch::download(sh, url, f.checksum.as_deref())?;
        ingredients.add(format!("url {url}"), download.digest.to_string());
        downloads.push(download);
    }
    for c in &f.contents {
        ingredients.add(format!("heredoc {}", c.path), &c.data);
        items.push(Item::File {
            name: c.path.clone(),
            host: None,
            data: c.data.clone().into_bytes(),
            mode: 0o644,
            mtime: None,
        });
    }
    for d in &downloads {
        items.push(Item::File {
            name: d.name.clone(),
            host: Some(d.path.clone()),
            data: Vec::new(),
            mode: 0o600,
            mtime: d.mtime,
        });
    }
    let link = f.link && chmod.is_none();
    ingredients
        .add("destination", &dest)
        .add("flag --chown", f.chown.clone().unwrap_or_default())
        .add("flag --chmod", f.chmod.clone().unwrap_or_default())
        .add("flag --link", link.to_string())
        .add("unpack", (f.is_add && f.unpack).to_string());
    let source_count = f.sources.len() + f.contents.len();

    let vertex = sh.vertices.steps.get(&(stage, index));
    let kind = if f.is_add { "ADD" } else { "COPY" };
    // Names in --chown resolve in the stage's passwd, so such a --link step still depends on the stage.
    let detached = link && !f.chown.as_deref().is_some_and(|c| c.chars().any(|ch| ch.is_ascii_alphabetic()));
    let op = Op {
        kind,
        ingredients,
        files,
        stage,
        step: index,
        vertex,
        history: f.history(),
        suffix: true,
        detached,
    };
    let result = sh.cached_op(state, op, |state| {
        let layer = sh.scratch_dir("copy");
        crate::state::mkdirs(&layer)?;
        let result = (|| {
            let stage_layers: &[Digest] = if link { &[] } else { state.diff_ids() };
            let chown = f.chown.clone();
            let info =
                if link && chown.as_deref().is_some_and(|c| c.chars().any(|ch| ch.is_ascii_alphabetic())) {
                    // Names still resolve in the stage's /etc/passwd; the destination is looked at on scratch.
                    let owner = with_layers(sh, state.diff_ids(), |root| {
                        chown.as_deref().map(|c| resolve_chown(root, c)).transpose()
                    })?;
                    DestInfo { resolved: clean_path(&dest), owner, ..DestInfo::default() }
                } else {
                    with_layers(sh, stage_layers, |root| inspect_dest(root, &dest, chown.as_deref()))?
                };
            let into_dir = dest.ends_with('/') || info.is_dir || source_count > 1;
            let writer = Writer {
                layer: &layer,
                owner: info.owner,
                chmod: chmod.as_ref(),
                unpack: f.is_add && f.unpack,
            };
            let target = layer.join(info.resolved.trim_start_matches('/'));
            let mut dirs = Vec::new();
            for item in &items {
                match item {
                    Item::Selected { root, selection, preserve_owner } => {
                        writer.selection(root, selection, &target, into_dir, *preserve_owner, &mut dirs)?;
                    }
                    Item::File { name, host, data, mode, mtime } => {
                        let to = if into_dir { target.join(name) } else { target.clone() };
                        writer.ensure_parent(&to)?;
                        writer.bytes(host.as_deref(), data, &to, *mode, *mtime)?;
                    }
                }
            }
            if let From::Layers { diff_ids, .. } = &from {
                let specs = specs.clone();
                let layer_target = target.clone();
                with_layers(sh, diff_ids, |root| {
                    let empty;
                    let root = match root {
                        Some(r) => r,
                        None => {
                            empty = sh.scratch_dir("empty");
                            crate::state::mkdirs(&empty)?;
                            &empty
                        }
                    };
                    let ctx = Context::from_rootfs(&from_name, root)?;
                    let mut dirs = Vec::new();
                    for spec in &specs {
                        let selection = ctx.select(spec)?;
                        writer.selection(ctx.root(), &selection, &layer_target, into_dir, true, &mut dirs)?;
                    }
                    finish_dirs(&dirs);
                    Ok(())
                })?;
            }
            finish_dirs(&dirs);
            writer.ancestors(&info, &dirs)?;
            commit_layer(sh.lease, &layer, TreeSource::Full, sh.epoch, state.chain.as_ref())
        })();
        remove_tree(&layer);
        result
    });
    for d in downloads {
        remove_tree(&d.dir);
    }
    result
}

/// Writes copied entries into the layer directory.
struct Writer<'a> {
    layer: &'a Path,
    owner: Option<Owner>,
    chmod: Option<&'a Chmod>,
    unpack: bool,
}

/// A directory whose mode and times are set after its contents are written.
struct PendingDir {
    path: PathBuf,
    mode: u32,
    mtime: Option<(i64, i64)>,
}

fn finish_dirs(dirs: &[PendingDir]) {
    for d in dirs.iter().rev() {
        // A later source may have replaced the directory (by a symlink, even): never follow one.
        if !std::fs::symlink_metadata(&d.path).is_ok_and(|m| m.is_dir()) {
            continue;
        }
        let _ = std::fs::set_permissions(&d.path, std::fs::Permissions::from_mode(d.mode));
        if let Some(t) = d.mtime {
            set_mtime(&d.path, t);
        }
    }
}

fn set_mtime(path: &Path, (sec, nsec): (i64, i64)) {
    let ts = rustix::fs::Timespec { tv_sec: sec, tv_nsec: nsec };
    let times = rustix::fs::Timestamps { last_access: ts, last_modification: ts };
    let _ = rustix::fs::utimensat(rustix::fs::CWD, path, &times, rustix::fs::AtFlags::SYMLINK_NOFOLLOW);
}

fn io_err(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> BuildError {
    BuildError::io(action, path.to_owned())
}

impl Writer<'_> {
    fn owner_of(&self, meta: &std::fs::Metadata, preserve: bool) -> (u32, u32) {
        match self.owner {
            Some(o) => (o.uid, o.gid),
            None if preserve => (meta.uid(), meta.gid()),
            None => (0, 0),
        }
    }

    fn mode_of(&self, mode: u32, is_dir: bool) -> u32 {
        match self.chmod {
            Some(c) => c.apply(mode, is_dir),
            None => mode & 0o7777,
        }
    }

    /// `to` with its parent resolved inside the layer directory: an earlier source may have put a symlink
    /// on the way (`a/x -> /etc`, then `b/x/file`), which must lead inside the layer (as it would inside
    /// the rootfs), never to the host.
    fn confine(&self, to: &Path) -> Result<PathBuf, BuildError> {
        let Ok(rel) = to.strip_prefix(self.layer) else {
            return Err(BuildError::Invalid(format!("{} is outside the layer", to.display())));
        };
        match (rel.parent(), rel.file_name()) {
            (Some(parent), Some(name)) if !parent.as_os_str().is_empty() => {
                let host = kiln_fs::resolve_in_root(self.layer, parent, true)
                    .map_err(|e| BuildError::Invalid(format!("{}: {e}", to.display())))?;
                Ok(host.join(name))
            }
            _ => Ok(to.to_owned()),
        }
    }

    /// Creates the missing parents of `path` inside the layer (0755, owned by `--chown` or root).
    fn ensure_parent(&self, path: &Path) -> Result<(), BuildError> {
        let Some(parent) = path.parent() else { return Ok(()) };
        if parent.is_dir() {
            return Ok(());
        }
        let mut missing = Vec::new();
        let mut p = parent;
        while !p.exists() && p.starts_with(self.layer) && p != self.layer {
            missing.push(p.to_owned());
            match p.parent() {
                Some(q) => p = q,
                None => break,
            }
        }
        for dir in missing.iter().rev() {
            crate::state::mkdir(dir)?;
            let (uid, gid) = self.owner.map_or((0, 0), |o| (o.uid, o.gid));
            std::os::unix::fs::lchown(dir, Some(uid), Some(gid)).map_err(io_err("chown", dir))?;
        }
        Ok(())
    }

    /// Writes one file from `host` (or `data`) at `to`.
    fn bytes(
        &self,
        host: Option<&Path>,
        data: &[u8],
        to: &Path,
        mode: u32,
        mtime: Option<i64>,
    ) -> Result<(), BuildError> {
        let to = &self.confine(to)?;
        remove_existing(to);
        match host {
            Some(h) => {
                std::fs::copy(h, to).map_err(io_err("copying to", to))?;
            }
            None => std::fs::write(to, data).map_err(io_err("writing", to))?,
        }
        let (uid, gid) = self.owner.map_or((0, 0), |o| (o.uid, o.gid));
        std::os::unix::fs::lchown(to, Some(uid), Some(gid)).map_err(io_err("chown", to))?;
        std::fs::set_permissions(to, std::fs::Permissions::from_mode(self.mode_of(mode, false)))
            .map_err(io_err("chmod", to))?;
        if let Some(t) = mtime {
            set_mtime(to, (t, 0));
        }
        Ok(())
    }

    /// Copies what `selection` selected from `root` to `target` (see the module docs for the rules).
    fn selection(
        &self,
        root: &Path,
        selection: &Selection,
        target: &Path,
        into_dir: bool,
        preserve_owner: bool,
        dirs: &mut Vec<PendingDir>,
    ) -> Result<(), BuildError> {
        let mut links: HashMap<(u64, u64), PathBuf> = HashMap::new();
        for m in &selection.matches {
            let Some(first) = m.entries.first() else { continue };
            if first.entry.is_dir() {
                for e in &m.entries {
                    let from = root.join(&e.entry.path);
                    if e.rel.is_empty() {
                        self.destination_dir(&from, target, dirs)?;
                    } else {
                        self.entry(&from, &target.join(&e.rel), preserve_owner, dirs, &mut links)?;
                    }
                }
            } else {
                let name = m.path.rsplit('/').next().unwrap_or(&m.path);
                let to = if into_dir { target.join(name) } else { target.to_owned() };
                let host = root.join(&m.resolved);
                // ADD extracts an archive into the destination directory (created when missing).
                let archive = if self.unpack && first.entry.kind == EntryKind::File {
                    crate::archive::open(&host)?
                } else {
                    None
                };
                if let Some(archive) = archive {
                    let target = &self.confine(target)?;
                    self.ensure_parent(&target.join("x"))?;
                    if !target.exists() {
                        crate::state::mkdir(target)?;
                    }
                    crate::archive::extract(archive, target, &host)?;
                    continue;
                }
                self.entry(&host, &to, preserve_owner, dirs, &mut links)?;
            }
        }
        Ok(())
    }

    /// The destination of a directory source's contents: BuildKit creates it (`MkdirAll`) as 0755, owned by
    /// `--chown` or root, and never takes the source directory's own mode or owner.
    fn destination_dir(&self, from: &Path, to: &Path, dirs: &mut Vec<PendingDir>) -> Result<(), BuildError> {
        let to = &self.confine(to)?;
        self.ensure_parent(to)?;
        match std::fs::symlink_metadata(to) {
            Ok(m) if m.is_dir() => return Ok(()),
            Ok(_) => remove_existing(to),
            Err(_) => {}
        }
        crate::state::mkdir(to)?;
        let (uid, gid) = self.owner.map_or((0, 0), |o| (o.uid, o.gid));
        std::os::unix::fs::lchown(to, Some(uid), Some(gid)).map_err(io_err("chown", to))?;
        let meta = std::fs::symlink_metadata(from).map_err(io_err("reading", from))?;
        dirs.push(PendingDir {
            path: to.to_owned(),
            mode: self.chmod.map_or(0o755, |c| c.apply(0o755, true)),
            mtime: Some((meta.mtime(), meta.mtime_nsec())),
        });
        Ok(())
    }

    /// Copies one entry (not following a final symlink) from `from` to `to`.
    fn entry(
        &self,
        from: &Path,
        to: &Path,
        preserve_owner: bool,
        dirs: &mut Vec<PendingDir>,
        links: &mut HashMap<(u64, u64), PathBuf>,
    ) -> Result<(), BuildError> {
        let meta = std::fs::symlink_metadata(from).map_err(io_err("reading", from))?;
        let ft = meta.file_type();
        let to = &self.confine(to)?;
        self.ensure_parent(to)?;
        let (uid, gid) = self.owner_of(&meta, preserve_owner);
        let mtime = (meta.mtime(), meta.mtime_nsec());
        if ft.is_dir() {
            match std::fs::symlink_metadata(to) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    remove_existing(to);
                    crate::state::mkdir(to)?;
                }
                Err(_) => crate::state::mkdir(to)?,
            }
            std::os::unix::fs::lchown(to, Some(uid), Some(gid)).map_err(io_err("chown", to))?;
            copy_xattrs(from, to, preserve_owner);
            // Writable until its contents are in; the real mode is set at the end.
            let _ = std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o755));
            dirs.push(PendingDir {
                path: to.to_owned(),
                mode: self.mode_of(meta.mode(), true),
                mtime: Some(mtime),
            });
            return Ok(());
        }
        remove_existing(to);
        if ft.is_symlink() {
            let target = std::fs::read_link(from).map_err(io_err("reading link", from))?;
            std::os::unix::fs::symlink(&target, to).map_err(io_err("creating symlink", to))?;
            std::os::unix::fs::lchown(to, Some(uid), Some(gid)).map_err(io_err("chown", to))?;
            set_mtime(to, mtime);
            return Ok(());
        }
        if ft.is_file() && meta.nlink() > 1 {
            if let Some(first) = links.get(&(meta.dev(), meta.ino())) {
                std::fs::hard_link(first, to).map_err(io_err("linking", to))?;
                return Ok(());
            }
            links.insert((meta.dev(), meta.ino()), to.to_owned());
        }
        if ft.is_file() {
            std::fs::copy(from, to).map_err(io_err("copying to", to))?;
        } else {
            use std::os::unix::fs::FileTypeExt;
            let kind = if ft.is_fifo() {
                rustix::fs::FileType::Fifo
            } else if ft.is_char_device() {
                if meta.rdev() == 0 {
                    // An overlay whiteout seen through a single-layer view: not a file.
                    return Ok(());
                }
                rustix::fs::FileType::CharacterDevice
            } else if ft.is_block_device() {
                rustix::fs::FileType::BlockDevice
            } else {
                return Ok(()); // sockets are not copied
            };
            rustix::fs::mknodat(
                rustix::fs::CWD,
                to,
                kind,
                rustix::fs::Mode::from_raw_mode(0o600),
                meta.rdev(),
            )
            .map_err(|e| io_err("creating node", to)(e.into()))?;
        }
        std::os::unix::fs::lchown(to, Some(uid), Some(gid)).map_err(io_err("chown", to))?;
        std::fs::set_permissions(to, std::fs::Permissions::from_mode(self.mode_of(meta.mode(), false)))
            .map_err(io_err("chmod", to))?;
        copy_xattrs(from, to, preserve_owner);
        set_mtime(to, mtime);
        Ok(())
    }

    /// Gives the destination's existing ancestors their metadata from the rootfs; new ones stay as created.
    /// `copied` are the directories the copy itself wrote (a directory source's metadata applied to the
    /// destination): those keep what the copy gave them.
    fn ancestors(&self, info: &DestInfo, copied: &[PendingDir]) -> Result<(), BuildError> {
        for (path, mode, uid, gid) in &info.ancestors {
            let p = self.layer.join(path.trim_start_matches('/'));
            if copied.iter().any(|d| d.path == p) {
                continue;
            }
            if std::fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir()) {
                std::os::unix::fs::lchown(&p, Some(*uid), Some(*gid)).map_err(io_err("chown", &p))?;
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(*mode))
                    .map_err(io_err("chmod", &p))?;
            }
        }
        Ok(())
    }
}

/// Copies extended attributes (only for files from images, where `security.capability` matters).
fn copy_xattrs(from: &Path, to: &Path, enabled: bool) {
    if !enabled {
        return;
    }
    let Ok(names) = xattr::list(from) else { return };
    for name in names {
        let n = name.to_string_lossy();
        if n.starts_with("trusted.overlay.") || n.starts_with("user.overlay.") || n == "security.selinux" {
            continue;
        }
        if let Ok(Some(v)) = xattr::get(from, &name) {
            let _ = xattr::set(to, &name, &v);
        }
    }
}

fn remove_existing(p: &Path) {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => remove_tree(p),
        Ok(_) => {
            let _ = std::fs::remove_file(p);
        }
        Err(_) => {}
    }
}

/// WORKDIR's layer: the directory and its missing parents (0755, owned by the stage's USER as BuildKit's
/// mkdir resolves it), or nothing when it exists.
pub(crate) fn mkdir_layer(
    sh: &Shared<'_>,
    state: &StageState,
    wd: &str,
    user: &str,
) -> Result<Digest, BuildError> {
    let layer = sh.scratch_dir("workdir");
    crate::state::mkdirs(&layer)?;
    let chown = (!user.is_empty()).then_some(user);
    let result = (|| {
        let info = with_layers(sh, state.diff_ids(), |root| inspect_dest(root, wd, chown))?;
        if !info.is_dir {
            let target = layer.join(info.resolved.trim_start_matches('/'));
            let writer = Writer { layer: &layer, owner: info.owner, chmod: None, unpack: false };
            writer.ensure_parent(&target.join("x"))?;
            writer.ancestors(&info, &[])?;
        }
        commit_layer(sh.lease, &layer, TreeSource::Full, sh.epoch, state.chain.as_ref())
    })();
    remove_tree(&layer);
    result
}

/// A stage that is a named context (`FROM name` or a stage replaced by `--build-context name=DIR`): the
/// context's files become its one layer.
pub(crate) fn named_context_base(
    sh: &Shared<'_>,
    state: &mut StageState,
    stage: usize,
    name: &str,
) -> Result<(), BuildError> {
    let ctx = sh.req.named_contexts.get(name).ok_or_else(|| {
        BuildError::Invalid(format!("named context {name} was not given (--build-context {name}=DIR)"))
    })?;
    let selection = ctx.select(&SourceSpec::new("."))?;
    let checksum = ctx.checksum(std::slice::from_ref(&selection), sh.memo)?;
    let mut ingredients = Ingredients::default();
    ingredients.add("context", checksum.digest.to_string());
    let op = Op {
        kind: "CONTEXT",
        ingredients,
        files: checksum.entries,
        stage,
        step: usize::MAX,
        vertex: None,
        history: format!("COPY {name} /"),
        suffix: true,
        detached: false,
    };
    sh.cached_op(state, op, |state| {
        let layer = sh.scratch_dir("context");
        let result = materialize(ctx, &selection, &layer)
            .and_then(|_| commit_layer(sh.lease, &layer, TreeSource::Full, sh.epoch, state.chain.as_ref()));
        remove_tree(&layer);
        result
    })
}

/// Copies what `selection` selects from `ctx` into the new directory `dir` (the selection's root becomes
/// `dir`; a single file becomes `dir` itself). Returns the path to use.
pub(crate) fn materialize(ctx: &Context, selection: &Selection, dir: &Path) -> Result<PathBuf, BuildError> {
    let writer = Writer { layer: dir, owner: None, chmod: None, unpack: false };
    let single_file = selection.matches.len() == 1 && !selection.matches[0].is_dir();
    if !single_file {
        crate::state::mkdirs(dir)?;
    } else if let Some(p) = dir.parent() {
        crate::state::mkdirs(p)?;
    }
    let mut dirs = Vec::new();
    writer.selection(ctx.root(), selection, dir, !single_file, false, &mut dirs)?;
    finish_dirs(&dirs);
    Ok(dir.to_owned())
}

/// Copies the tree at `src` to the new path `dst`, keeping owners, modes, times and xattrs.
pub(crate) fn copy_tree(src: &Path, dst: &Path) -> Result<(), BuildError> {
    let writer = Writer { layer: dst, owner: None, chmod: None, unpack: false };
    let mut dirs = Vec::new();
    let mut links = HashMap::new();
    if let Some(p) = dst.parent() {
        crate::state::mkdirs(p)?;
    }
    let mut stack = vec![(src.to_owned(), dst.to_owned())];
    while let Some((from, to)) = stack.pop() {
        writer.entry(&from, &to, true, &mut dirs, &mut links)?;
        if std::fs::symlink_metadata(&from).is_ok_and(|m| m.is_dir()) {
            for e in std::fs::read_dir(&from).map_err(io_err("listing", &from))? {
                let e = e.map_err(io_err("listing", &from))?;
                stack.push((e.path(), to.join(e.file_name())));
            }
        }
    }
    finish_dirs(&dirs);
    Ok(())
}

/// Reads up to `n` bytes.
pub(crate) fn read_head(r: &mut impl Read, n: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0; n];
    let mut filled = 0;
    while filled < n {
        match r.read(&mut buf[filled..])? {
            0 => break,
            k => filled += k,
        }
    }
    buf.truncate(filled);
    Ok(buf)
}
