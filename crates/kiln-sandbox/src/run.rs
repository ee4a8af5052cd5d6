//! [`Sandbox::run`]: mount a root filesystem privately, clone the command into new namespaces, stream its
//! output, wait for it, and leave nothing behind.
//!
//! The work is split between two places:
//! - a dedicated **setup thread**, which first gives itself a private mount namespace (`unshare(CLONE_NEWNS)`
//!   affects only the calling thread) and then, as ordinary Rust code that may allocate and report rich
//!   errors, mounts the overlay, resolves `USER`, creates the working directory and mount points, builds
//!   `/dev`, binds the injected files and the extra mounts, and prepares the child's plan. None of these
//!   mounts is ever visible in the host's mount namespace, and all of them die with the thread's namespace
//!   even if kiln is killed; on the normal path they are detached explicitly so the upper directory is
//!   released before `run` returns.
//! - the **child**, cloned from that thread into new mount/PID/UTS/IPC (and network) namespaces, which only
//!   runs the prepared [`ChildPlan`] (proc, sysfs, mqueue, masked paths, `pivot_root`, hostname, loopback,
//!   credentials, capabilities, no_new_privs, seccomp, `execve`). The command is PID 1 of its PID namespace,
//!   so when it exits the kernel kills every process it left behind, and its mount namespace goes with it.
//!
//! Mount points the sandbox had to create in the rootfs (for `/etc/resolv.conf`, `/etc/hosts`, extra mounts)
//! are removed again after the run when still empty, and their parent directories get their timestamps back,
//! as BuildKit's `MountStubsCleaner` does; missing `/proc`, `/dev`, `/sys` and the working directory are
//! created and kept, as BuildKit (runc) keeps them.

use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::caps::default_capability_mask;
use crate::child::{self, ChildPlan, Op, Step};
use crate::error::SandboxError;
use crate::overlay::mount_overlay;
use crate::resolve::{self, ResolveFailure, Resolved, c, cs, cstr};
use crate::spec::{BindAccess, DEFAULT_PATH, EtcFile, Ids, Mount, Network, Rootfs, RunSpec, User};
use crate::supervise::{ChildGuard, supervise};
use crate::sys::{CapSets, CloneFlags, Errno, ExitStatus, FileKind, MountFlags, Sys, SysFd, Timestamp};

/// Paths under `/proc` hidden from the command (containerd's defaults, which BuildKit uses).
const MASKED_PROC: &[&str] =
    &["acpi", "asound", "kcore", "keys", "latency_stats", "timer_list", "timer_stats", "sched_debug", "scsi"];
/// Paths under `/sys` hidden from the command.
const MASKED_SYS: &[&str] = &["firmware", "devices/virtual/powercap"];
/// Paths under `/proc` made read-only.
const READONLY_PROC: &[&str] = &["bus", "fs", "irq", "sys", "sysrq-trigger"];
/// Device nodes of the minimal `/dev`: name, major, minor (all mode 0666, as runc makes them).
const DEVICES: &[(&str, u32, u32)] =
    &[("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0)];
/// Symlinks of the minimal `/dev`.
const DEV_LINKS: &[(&str, &str)] = &[
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("ptmx", "pts/ptmx"),
];
/// Runs commands in isolated root filesystems. Cheap to share between threads; each [`Sandbox::run`] is
/// independent.
pub struct Sandbox {
    sys: Arc<dyn Sys>,
    scratch: PathBuf,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox").field("scratch", &self.scratch).finish_non_exhaustive()
    }
}

/// What a finished run left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutcome {
    /// How the command ended.
    pub status: ExitStatus,
    /// Mount-point placeholders the sandbox created in the rootfs (relative to it, deepest first) and removed
    /// again after the run, as BuildKit does. They are already gone from the upper directory; a layer writer
    /// may still pass them as exclusions, which is harmless.
    pub removed_stubs: Vec<PathBuf>,
    /// Paths the sandbox created in the rootfs and left in place, because BuildKit leaves them too: a missing
    /// working directory, `proc`, `dev`, `sys`, and placeholder directories the command wrote into.
    pub created: Vec<PathBuf>,
}

impl Sandbox {
    /// A sandbox making kernel calls through `sys`. Each run mounts a private tmpfs over the directory
    /// `<scratch>/mnt` (created when needed, then reused; the tmpfs is visible only in that run's own mount
    /// namespace, so concurrent runs share the directory without seeing each other) and keeps its mount
    /// points and injected files there: nothing is created or removed on disk per run.
    pub fn new(sys: Arc<dyn Sys>, scratch: impl Into<PathBuf>) -> Sandbox {
        Sandbox { sys, scratch: scratch.into() }
    }

    /// Checks, without touching anything, that this process can run sandboxes (it must be root).
    pub fn preflight(&self) -> Result<(), SandboxError> {
        match self.sys.geteuid() {
            0 => Ok(()),
            uid => Err(SandboxError::NotRoot { uid }),
        }
    }

    /// Calls `f` with a directory showing the `lower` directories (top first) merged, read-only, the way a run
    /// would see them: for reading an image's `/etc/passwd` and `/etc/group` (`COPY --chown=name`, see
    /// [`crate::resolve_user`]) without running anything. The overlay lives in a private mount namespace
    /// of a helper thread, where `f` runs, and is gone when this returns. One lower directory is passed to
    /// `f` as is; none gives an empty directory.
    pub fn with_view<T: Send>(
        &self,
        lower: &[PathBuf],
        f: impl FnOnce(&Path) -> T + Send,
    ) -> Result<T, SandboxError> {
        if let [only] = lower {
            return Ok(f(only));
        }
        self.preflight()?;
        let sys: &dyn Sys = &*self.sys;
        let mnt = self.scratch.join("mnt");
        on_own_thread("kiln-sandbox-view", move || {
            let mounted = private_tmpfs(sys, &mnt);
            let view = mnt.join("view");
            let result = mounted.and_then(|()| {
                let cview = c(&view, || view.display().to_string())?;
                sys.mkdir(&cview, 0o755)
                    .map_err(|e| SandboxError::setup(format!("create {}", view.display()), e))?;
                if !lower.is_empty() {
                    mount_overlay(sys, lower, None, &view)?;
                }
                Ok(f(&view))
            });
            let cmnt = c(&mnt, || mnt.display().to_string())?;
            match sys.umount(&cmnt, true) {
                Ok(()) | Err(Errno::INVAL) => result,
                Err(e) if result.is_ok() => Err(SandboxError::setup(format!("unmount {}", mnt.display()), e)),
                Err(_) => result,
            }
        })
    }

    /// Runs `spec` to completion. Output (stdout and stderr interleaved, as the command wrote them) goes to
    /// `output` line by line, without the newline. Raising `cancel` kills the command's whole process tree;
    /// `run` then returns [`SandboxError::Cancelled`] once everything is reaped and unmounted.
    ///
    /// A command that exits non-zero is a successful run with that [`RunOutcome::status`].
    pub fn run(
        &self,
        spec: &RunSpec,
        cancel: &AtomicBool,
        output: &mut (dyn FnMut(&[u8]) + Send),
    ) -> Result<RunOutcome, SandboxError> {
        validate(spec)?;
        self.preflight()?;
        let sys: &dyn Sys = &*self.sys;
        on_own_thread("kiln-sandbox", move || Run::new(sys, spec, &self.scratch).execute(cancel, output))
    }
}

/// Runs `work` on a new thread (whose mount namespace it may change freely) and returns its result.
fn on_own_thread<T: Send>(
    name: &str,
    work: impl FnOnce() -> Result<T, SandboxError> + Send,
) -> Result<T, SandboxError> {
    std::thread::scope(|scope| {
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn_scoped(scope, work)
            .map_err(|e| SandboxError::Setup { step: format!("start the {name} thread"), source: e })?;
        thread.join().unwrap_or_else(|_| {
            Err(SandboxError::Setup {
                step: format!("the {name} thread"),
                source: std::io::Error::other("panicked"),
            })
        })
    })
}

/// Checks what the kernel would otherwise reject with a less helpful message.
fn validate(spec: &RunSpec) -> Result<(), SandboxError> {
    let no_nul = |field: &str, s: &str| {
        if s.contains('\0') { Err(SandboxError::invalid(field, "contains a NUL byte")) } else { Ok(()) }
    };
    if spec.argv.is_empty() {
        return Err(SandboxError::invalid("argv", "the command is empty"));
    }
    if spec.argv[0].is_empty() {
        return Err(SandboxError::invalid("argv[0]", "the program name is empty"));
    }
    for (i, arg) in spec.argv.iter().enumerate() {
        no_nul(&format!("argv[{i}]"), arg)?;
    }
    for var in &spec.env {
        no_nul(&format!("env {var:?}"), var)?;
    }
    if !spec.cwd.starts_with('/') {
        return Err(SandboxError::invalid("cwd", format!("{:?} is not absolute", spec.cwd)));
    }
    no_nul("cwd", &spec.cwd)?;
    if spec.hostname.len() > 64 || spec.hostname.contains('\0') {
        return Err(SandboxError::invalid("hostname", "longer than 64 bytes or contains a NUL byte"));
    }
    for mount in &spec.mounts {
        let target = mount.target();
        if !target.starts_with('/') || resolve::clean(target).as_os_str().is_empty() {
            return Err(SandboxError::invalid(
                "mount target",
                format!("{target:?} must be an absolute path below /"),
            ));
        }
        no_nul("mount target", target)?;
    }
    if let User::Spec(user) = &spec.user {
        no_nul("user", user)?;
    }
    Ok(())
}

/// A placeholder created for a mount point.
struct Stub {
    rel: PathBuf,
}

/// A directory's timestamps before the sandbox created something in it, and its mtime right after.
struct ParentTimes {
    rel: PathBuf,
    atime: Timestamp,
    mtime: Timestamp,
    after: Timestamp,
}

/// One run, on the setup thread.
struct Run<'a> {
    sys: &'a dyn Sys,
    spec: &'a RunSpec,
    /// The shared mount-point directory `<scratch>/mnt`, covered by this run's private tmpfs.
    mnt: PathBuf,
    rootfs: PathBuf,
    files: PathBuf,
    /// Top-level mounts in the setup thread's namespace (detached in reverse order at the end).
    mounts: Vec<PathBuf>,
    /// Placeholders for mount points, in creation order (parents first).
    stubs: Vec<Stub>,
    parent_times: Vec<ParentTimes>,
    /// Paths created in the rootfs that stay.
    created: Vec<PathBuf>,
    /// Names for files on the private tmpfs.
    next_file: usize,
}

/// The path as the command sees it.
fn inside(rel: &Path) -> String {
    format!("/{}", rel.display())
}

impl<'a> Run<'a> {
    fn new(sys: &'a dyn Sys, spec: &'a RunSpec, scratch: &'a Path) -> Self {
        let mnt = scratch.join("mnt");
        Run {
            sys,
            spec,
            rootfs: mnt.join("rootfs"),
            files: mnt.join("files"),
            mnt,
            mounts: Vec::new(),
            stubs: Vec::new(),
            parent_times: Vec::new(),
            created: Vec::new(),
            next_file: 0,
        }
    }

    fn execute(
        mut self,
        cancel: &AtomicBool,
        output: &mut (dyn FnMut(&[u8]) + Send),
    ) -> Result<RunOutcome, SandboxError> {
        let result = self.setup_and_run(cancel, output);
        let unmounted = self.unmount_all();
        let removed_stubs = self.remove_stubs();
        let forgot = if unmounted.is_ok() { self.forget_volatile() } else { Ok(()) };
        let status = result?;
        unmounted?;
        let removed_stubs = removed_stubs?;
        forgot?;
        Ok(RunOutcome { status, removed_stubs, created: std::mem::take(&mut self.created) })
    }

    fn setup_and_run(
        &mut self,
        cancel: &AtomicBool,
        output: &mut (dyn FnMut(&[u8]) + Send),
    ) -> Result<ExitStatus, SandboxError> {
        let sys = self.sys;
        private_tmpfs(sys, &self.mnt)?;
        self.mounts.push(self.mnt.clone());
        for (dir, mode) in [(&self.rootfs, 0o755), (&self.files, 0o700)] {
            let cdir = c(dir, || dir.display().to_string())?;
            sys.mkdir(&cdir, mode)
                .map_err(|e| SandboxError::setup(format!("create {}", dir.display()), e))?;
        }

        self.mount_rootfs()?;
        let last_cap = self.cap_last_cap()?;
        let ids = match &self.spec.user {
            User::Ids(ids) => ids.clone(),
            User::Spec(user) => crate::user::resolve_user_with(sys, &self.rootfs, user)
                .map_err(|source| SandboxError::User { spec: user.clone(), source })?,
        };
        self.make_cwd(&ids)?;
        let proc_dir = self.ensure_dir("proc")?;
        let dev_dir = self.ensure_dir("dev")?;
        let sys_dir = self.ensure_dir("sys")?;
        self.mount_dev(&dev_dir)?;
        self.mount_etc_files()?;
        self.mount_extra()?;

        let (ctrl_parent, ctrl_child) =
            sys.socketpair().map_err(|e| SandboxError::setup("create the control socket pair", e))?;
        let ctrl_parent = SysFd::new(sys, ctrl_parent);
        let ctrl_child = SysFd::new(sys, ctrl_child);
        let (out_read, out_write) =
            sys.pipe().map_err(|e| SandboxError::setup("create the output pipe", e))?;
        let out_read = SysFd::new(sys, out_read);
        let out_write = SysFd::new(sys, out_write);
        let devnull = SysFd::new(
            sys,
            sys.open_rdwr(c"/dev/null").map_err(|e| SandboxError::setup("open /dev/null", e))?,
        );

        let plan = self.child_plan(
            &ids,
            last_cap,
            &proc_dir,
            &dev_dir,
            &sys_dir,
            &ctrl_child,
            &devnull,
            &out_write,
        )?;
        let mut flags = CloneFlags::NEWNS | CloneFlags::NEWPID | CloneFlags::NEWUTS | CloneFlags::NEWIPC;
        if self.spec.network == Network::None {
            flags = flags | CloneFlags::NEWNET;
        }
        let child = sys
            .clone_process(flags, &mut || child::child_main(sys, &plan))
            .map_err(|e| SandboxError::setup(format!("clone the sandboxed process ({flags})"), e))?;
        let mut guard = ChildGuard { sys, child, reaped: false };
        ctrl_child.close();
        out_write.close();
        devnull.close();
        let result = supervise(sys, &mut guard, &plan, ctrl_parent.fd(), out_read.fd(), cancel, output);
        drop(guard);
        result
    }

    fn mount_rootfs(&mut self) -> Result<(), SandboxError> {
        let target = self.rootfs.clone();
        match &self.spec.rootfs {
            Rootfs::Overlay { lower, upper, work } => {
                let lower = if lower.is_empty() {
                    // FROM scratch: overlayfs needs one lower directory; an empty one on the private tmpfs.
                    let empty = self.files.join("empty");
                    let cempty = c(&empty, || empty.display().to_string())?;
                    self.sys
                        .mkdir(&cempty, 0o755)
                        .map_err(|e| SandboxError::setup(format!("create {}", empty.display()), e))?;
                    vec![empty]
                } else {
                    lower.clone()
                };
                mount_overlay(self.sys, &lower, Some((upper, work)), &target)?;
            }
            Rootfs::Dir(dir) => {
                let src = c(dir, || dir.display().to_string())?;
                let dst = c(&target, || target.display().to_string())?;
                self.sys.mount(Some(&src), &dst, None, MountFlags::BIND | MountFlags::REC, None).map_err(
                    |e| {
                        SandboxError::setup(
                            format!("bind-mount the rootfs {} at {}", dir.display(), target.display()),
                            e,
                        )
                    },
                )?;
            }
        }
        Ok(())
    }

    fn cap_last_cap(&self) -> Result<u32, SandboxError> {
        const PATH: &str = "/proc/sys/kernel/cap_last_cap";
        let step = || format!("read {PATH}");
        let text = self
            .sys
            .read_file(c"/proc/sys/kernel/cap_last_cap", 64)
            .map_err(|e| SandboxError::setup(step(), e))?;
        String::from_utf8_lossy(&text).trim().parse().map_err(|_| SandboxError::setup(step(), Errno::INVAL))
    }

    fn resolve(&self, path: &Path, what: &str) -> Result<Resolved, SandboxError> {
        resolve::resolve(self.sys, &self.rootfs, path).map_err(|failure| {
            let shown = inside(path);
            match failure {
                ResolveFailure::NotADirectory(rel) => SandboxError::setup(
                    format!("resolve {what} {shown} in the rootfs: {} is not a directory", inside(&rel)),
                    Errno::NOTDIR,
                ),
                ResolveFailure::Loop => {
                    SandboxError::setup(format!("resolve {what} {shown} in the rootfs"), Errno::LOOP)
                }
                ResolveFailure::Sys(rel, e) => SandboxError::setup(
                    format!("resolve {what} {shown} in the rootfs at {}", inside(&rel)),
                    e,
                ),
            }
        })
    }

    /// Creates the missing components of a resolved path; returns the host path. `last_is_file` makes the
    /// final component an empty file. When `stub`, the created components are recorded as placeholders to
    /// remove after the run, else as kept.
    fn create_missing(
        &mut self,
        resolved: &Resolved,
        last_is_file: bool,
        stub: bool,
        owner: Option<(u32, u32)>,
        what: &str,
    ) -> Result<PathBuf, SandboxError> {
        let sys = self.sys;
        let mut rel = resolved.existing.clone();
        for (i, name) in resolved.missing.iter().enumerate() {
            let parent_host =
                if rel.as_os_str().is_empty() { self.rootfs.clone() } else { self.rootfs.join(&rel) };
            let cparent = c(&parent_host, || parent_host.display().to_string())?;
            let before = sys.lstat(&cparent).ok();
            rel.push(name);
            let host = self.rootfs.join(&rel);
            let chost = c(&host, || host.display().to_string())?;
            let step = || format!("create {what} {} in the rootfs", inside(&rel));
            if last_is_file && i + 1 == resolved.missing.len() {
                sys.write_new_file(&chost, b"", 0o755).map_err(|e| SandboxError::setup(step(), e))?;
            } else {
                sys.mkdir(&chost, 0o755).map_err(|e| SandboxError::setup(step(), e))?;
                sys.chmod(&chost, 0o755).map_err(|e| SandboxError::setup(step(), e))?;
            }
            if let Some((uid, gid)) = owner {
                sys.chown(&chost, uid, gid).map_err(|e| SandboxError::setup(step(), e))?;
            }
            if stub {
                if let (Some(before), Ok(after)) = (before, sys.lstat(&cparent)) {
                    self.parent_times.push(ParentTimes {
                        rel: rel.parent().map(Path::to_path_buf).unwrap_or_default(),
                        atime: before.atime,
                        mtime: before.mtime,
                        after: after.mtime,
                    });
                }
                self.stubs.push(Stub { rel: rel.clone() });
            } else {
                self.created.push(rel.clone());
            }
        }
        Ok(self.rootfs.join(rel))
    }

    /// The working directory, created if missing (mode 0755, owned by the user), as BuildKit does.
    fn make_cwd(&mut self, ids: &Ids) -> Result<(), SandboxError> {
        let cwd = resolve::clean(&self.spec.cwd);
        let resolved = self.resolve(&cwd, "the working directory")?;
        self.create_missing(&resolved, false, false, Some((ids.uid, ids.gid)), "the working directory")?;
        Ok(())
    }

    /// `proc`, `dev`, `sys`: created if missing (and kept, as runc leaves them).
    fn ensure_dir(&mut self, name: &str) -> Result<PathBuf, SandboxError> {
        let resolved = self.resolve(Path::new(name), "the mount point")?;
        self.create_missing(&resolved, false, false, None, "the mount point")
    }

    /// A mount point for an injected file or an extra mount, created as a placeholder if missing.
    fn mount_point(&mut self, target: &str, is_dir: bool) -> Result<PathBuf, SandboxError> {
        let clean = resolve::clean(target);
        let resolved = self.resolve(&clean, "the mount target")?;
        self.create_missing(&resolved, !is_dir, true, None, "the mount point")
    }

    /// Mounts a filesystem that needs no source path (tmpfs, devpts, ...) at `target`.
    fn mount_fs(
        &self,
        fstype: &CStr,
        source: &CStr,
        target: &Path,
        flags: MountFlags,
        data: Option<&CStr>,
        what: &str,
    ) -> Result<(), SandboxError> {
        let ctarget = c(target, || target.display().to_string())?;
        self.sys
            .mount(Some(source), &ctarget, Some(fstype), flags, data)
            .map_err(|e| SandboxError::setup(format!("mount {} at {what}", fstype.to_string_lossy()), e))
    }

    fn mount_dev(&mut self, dev: &Path) -> Result<(), SandboxError> {
        let sys = self.sys;
        let tmpfs_flags = MountFlags::NOSUID | MountFlags::STRICTATIME;
        self.mount_fs(c"tmpfs", c"tmpfs", dev, tmpfs_flags, Some(c"mode=755,size=65536k"), "/dev")?;
        for (name, major, minor) in DEVICES {
            let path = c(&dev.join(name), || format!("/dev/{name}"))?;
            let step = || format!("create the device /dev/{name}");
            sys.mknod_char(&path, 0o666, *major, *minor).map_err(|e| SandboxError::setup(step(), e))?;
            sys.chmod(&path, 0o666).map_err(|e| SandboxError::setup(step(), e))?;
        }
        for (name, target) in DEV_LINKS {
            let path = c(&dev.join(name), || format!("/dev/{name}"))?;
            sys.symlink(&cs(target), &path)
                .map_err(|e| SandboxError::setup(format!("create the symlink /dev/{name}"), e))?;
        }
        for (name, mode) in [("pts", 0o755), ("shm", 0o1777), ("mqueue", 0o1777)] {
            let path = c(&dev.join(name), || format!("/dev/{name}"))?;
            let step = || format!("create the mount point /dev/{name}");
            sys.mkdir(&path, mode).map_err(|e| SandboxError::setup(step(), e))?;
            sys.chmod(&path, mode).map_err(|e| SandboxError::setup(step(), e))?;
        }
        let pts_flags = MountFlags::NOSUID | MountFlags::NOEXEC;
        let pts_data = c"newinstance,ptmxmode=0666,mode=0620,gid=5";
        self.mount_fs(c"devpts", c"devpts", &dev.join("pts"), pts_flags, Some(pts_data), "/dev/pts")?;
        let shm_flags = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
        self.mount_fs(
            c"tmpfs",
            c"shm",
            &dev.join("shm"),
            shm_flags,
            Some(c"mode=1777,size=65536k"),
            "/dev/shm",
        )
    }

    /// Writes `contents` to a new file on the private tmpfs; returns its host path.
    fn private_file(
        &mut self,
        contents: &[u8],
        mode: u32,
        owner: (u32, u32),
        what: &str,
    ) -> Result<PathBuf, SandboxError> {
        self.next_file += 1;
        let path = self.files.join(format!("file-{}", self.next_file));
        let cpath = c(&path, || path.display().to_string())?;
        let step = || format!("write {what} to the private tmpfs at {}", path.display());
        self.sys.write_new_file(&cpath, contents, mode).map_err(|e| SandboxError::setup(step(), e))?;
        if owner != (0, 0) {
            self.sys.chown(&cpath, owner.0, owner.1).map_err(|e| SandboxError::setup(step(), e))?;
        }
        Ok(path)
    }

    /// Bind-mounts `source` at `target`; read-only binds are remounted with `extra` flags.
    fn bind(
        &self,
        source: &Path,
        target: &Path,
        readonly: Option<MountFlags>,
        what: &str,
    ) -> Result<(), SandboxError> {
        let src = c(source, || source.display().to_string())?;
        let dst = c(target, || target.display().to_string())?;
        self.sys
            .mount(Some(&src), &dst, None, MountFlags::BIND | MountFlags::REC, None)
            .map_err(|e| SandboxError::setup(format!("bind-mount {} at {what}", source.display()), e))?;
        if let Some(extra) = readonly {
            let flags = MountFlags::REMOUNT | MountFlags::BIND | MountFlags::RDONLY | extra;
            self.sys
                .mount(None, &dst, None, flags, None)
                .map_err(|e| SandboxError::setup(format!("make {what} read-only"), e))?;
        }
        Ok(())
    }

    fn mount_etc_files(&mut self) -> Result<(), SandboxError> {
        let etc = &self.spec.etc;
        let resolv = match &etc.resolv_conf {
            EtcFile::Skip => None,
            EtcFile::Contents(bytes) => Some(bytes.clone()),
            EtcFile::Default => {
                let host = match self.sys.read_file(c"/etc/resolv.conf", 1 << 20) {
                    Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                    Err(Errno::NOENT) => String::new(),
                    Err(e) => return Err(SandboxError::setup("read the host's /etc/resolv.conf", e)),
                };
                Some(crate::etc::resolv_conf(&host, self.spec.network))
            }
        };
        let hosts = match &etc.hosts {
            EtcFile::Skip => None,
            EtcFile::Contents(bytes) => Some(bytes.clone()),
            EtcFile::Default => Some(crate::etc::hosts_file(&self.spec.hostname)),
        };
        let hostname = match &etc.hostname {
            EtcFile::Skip | EtcFile::Default => None,
            EtcFile::Contents(bytes) => Some(bytes.clone()),
        };
        let secure = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
        for (name, contents) in [("resolv.conf", resolv), ("hosts", hosts), ("hostname", hostname)] {
            let Some(contents) = contents else { continue };
            let target = format!("/etc/{name}");
            let file = self.private_file(&contents, 0o644, (0, 0), &target)?;
            let point = self.mount_point(&target, false)?;
            self.bind(&file, &point, Some(secure), &target)?;
        }
        Ok(())
    }

    fn mount_extra(&mut self) -> Result<(), SandboxError> {
        let spec = self.spec;
        // Parents before children, otherwise in the given order.
        let mut order: Vec<&Mount> = spec.mounts.iter().collect();
        order.sort_by_key(|m| resolve::components(&resolve::clean(m.target())).len());
        for (n, mount) in order.into_iter().enumerate() {
            let target = mount.target();
            match mount {
                Mount::Bind { source, access, .. } => {
                    let csrc = c(source, || source.display().to_string())?;
                    let st = self.sys.stat(&csrc).map_err(|e| {
                        SandboxError::setup(format!("bind source {} for {target}", source.display()), e)
                    })?;
                    let is_dir = st.kind == FileKind::Dir;
                    let point = self.mount_point(target, is_dir)?;
                    match access {
                        BindAccess::ReadOnly => {
                            self.bind(source, &point, Some(MountFlags::NOSUID | MountFlags::NODEV), target)?
                        }
                        BindAccess::ReadWrite => self.bind(source, &point, None, target)?,
                        BindAccess::Scratch => {
                            if !is_dir {
                                return Err(SandboxError::setup(
                                    format!(
                                        "writable bind of {} at {target} (changes discarded)",
                                        source.display()
                                    ),
                                    Errno::NOTDIR,
                                ));
                            }
                            let base = self.files.join(format!("scratch-{n}"));
                            let (upper, work) = (base.join("upper"), base.join("work"));
                            for dir in [&base, &upper, &work] {
                                let cdir = c(dir, || dir.display().to_string())?;
                                self.sys.mkdir(&cdir, 0o755).map_err(|e| {
                                    SandboxError::setup(format!("create {}", dir.display()), e)
                                })?;
                            }
                            mount_overlay(
                                self.sys,
                                std::slice::from_ref(source),
                                Some((&upper, &work)),
                                &point,
                            )?;
                        }
                    }
                }
                Mount::Tmpfs { size, .. } => {
                    let point = self.mount_point(target, true)?;
                    let data = size.map(|s| cs(&format!("size={s}")));
                    self.mount_fs(c"tmpfs", c"tmpfs", &point, MountFlags::NOSUID, data.as_deref(), target)?;
                }
                Mount::File { contents, mode, uid, gid, .. } => {
                    let file = self.private_file(contents, *mode, (*uid, *gid), target)?;
                    let point = self.mount_point(target, false)?;
                    let secure = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
                    self.bind(&file, &point, Some(secure), target)?;
                }
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn child_plan(
        &self,
        ids: &Ids,
        last_cap: u32,
        proc_dir: &Path,
        dev_dir: &Path,
        sys_dir: &Path,
        ctrl: &SysFd<'_>,
        devnull: &SysFd<'_>,
        out: &SysFd<'_>,
    ) -> Result<ChildPlan, SandboxError> {
        let spec = self.spec;
        let mut steps = Vec::new();
        let mut step = |op: Op, what: String| steps.push(Step { op, what });
        let path = |p: &Path| c(p, || p.display().to_string());
        let secure = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;

        step(Op::ParentDeathSignal, "arm the parent-death signal".to_owned());
        step(Op::ResetSignals, "reset the signal actions and mask".to_owned());
        step(Op::NewSession, "start a new session".to_owned());
        step(
            Op::Mount {
                source: Some(cs("proc")),
                target: path(proc_dir)?,
                fstype: Some(cs("proc")),
                flags: secure,
                data: None,
            },
            "mount proc at /proc".to_owned(),
        );
        let devnull_path = path(&dev_dir.join("null"))?;
        for name in MASKED_PROC {
            step(
                Op::MaskPath { target: path(&proc_dir.join(name))?, devnull: devnull_path.clone() },
                format!("mask /proc/{name}"),
            );
        }
        for name in READONLY_PROC {
            step(
                Op::ReadonlyPath { target: path(&proc_dir.join(name))? },
                format!("make /proc/{name} read-only"),
            );
        }
        step(
            Op::Mount {
                source: Some(cs("sysfs")),
                target: path(sys_dir)?,
                fstype: Some(cs("sysfs")),
                flags: secure | MountFlags::RDONLY,
                data: None,
            },
            "mount sysfs at /sys".to_owned(),
        );
        for name in MASKED_SYS {
            step(
                Op::MaskPath { target: path(&sys_dir.join(name))?, devnull: devnull_path.clone() },
                format!("mask /sys/{name}"),
            );
        }
        step(
            Op::Mount {
                source: Some(cs("mqueue")),
                target: path(&dev_dir.join("mqueue"))?,
                fstype: Some(cs("mqueue")),
                flags: secure,
                data: None,
            },
            "mount mqueue at /dev/mqueue".to_owned(),
        );
        step(
            Op::PivotRoot { new_root: path(&self.rootfs)? },
            format!("pivot_root into {}", self.rootfs.display()),
        );
        step(
            Op::SetHostname(spec.hostname.as_bytes().to_vec()),
            format!("set the hostname to {:?}", spec.hostname),
        );
        if spec.network == Network::None {
            step(Op::LoopbackUp, "bring up the loopback interface".to_owned());
        }
        step(Op::Umask(0o022), "set the umask".to_owned());
        step(Op::Chdir(cs(&spec.cwd)), format!("change to the working directory {}", spec.cwd));
        let seccomp = spec.security.seccomp.then(crate::seccomp::default_filter).transpose()?;
        let no_new_privs = spec.security.no_new_privs;
        if let (Some(filter), false) = (&seccomp, no_new_privs) {
            // Without no_new_privs installing a filter needs CAP_SYS_ADMIN, so it goes in while we have it.
            step(Op::Seccomp(filter.clone()), "install the seccomp filter".to_owned());
        }
        let mask = default_capability_mask();
        step(
            Op::DropBoundingSet { keep: mask, last_cap },
            "drop capabilities from the bounding set".to_owned(),
        );
        step(Op::KeepCaps(true), "keep capabilities across the user change".to_owned());
        let groups = ids.groups();
        step(Op::SetGroups(groups.clone()), format!("set the supplementary groups {groups:?}"));
        step(Op::SetResGid(ids.gid), format!("set the group id {}", ids.gid));
        step(Op::SetResUid(ids.uid), format!("set the user id {}", ids.uid));
        step(Op::KeepCaps(false), "clear keep-capabilities".to_owned());
        step(
            Op::CapSet(CapSets { effective: mask, permitted: mask, inheritable: 0 }),
            "set the capabilities".to_owned(),
        );
        if no_new_privs {
            step(Op::NoNewPrivs, "set no_new_privs".to_owned());
            if let Some(filter) = seccomp {
                step(Op::Seccomp(filter), "install the seccomp filter".to_owned());
            }
        }
        step(Op::ParentDeathSignal, "re-arm the parent-death signal after the user change".to_owned());
        step(Op::Stdio { stdin: devnull.fd(), out: out.fd() }, "set up stdin, stdout and stderr".to_owned());
        step(Op::CloseExtraFds, "mark inherited descriptors close-on-exec".to_owned());
        step(
            Op::exec(
                exec_candidates(spec),
                spec.argv.iter().map(|a| cs(a)).collect(),
                spec.env.iter().map(|e| cs(e)).collect(),
            ),
            format!("exec {:?}", spec.argv[0]),
        );
        Ok(ChildPlan { steps, ctrl: ctrl.fd() })
    }

    fn unmount_all(&mut self) -> Result<(), SandboxError> {
        let mut first_error = None;
        while let Some(target) = self.mounts.pop() {
            let Ok(ctarget) = cstr(&target) else { continue };
            if let Err(e) = self.sys.umount(&ctarget, true) {
                first_error.get_or_insert(SandboxError::setup(format!("unmount {}", target.display()), e));
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// A `volatile` overlay leaves `work/incompat/volatile/dirty` in its work directory, and overlayfs
    /// refuses to mount over that work directory again (it cannot know whether the machine crashed
    /// meanwhile). The overlay was unmounted cleanly, so the upper directory is whole: the marker goes, and
    /// the caller may run again over the same upper and work directories.
    fn forget_volatile(&self) -> Result<(), SandboxError> {
        let Rootfs::Overlay { work, .. } = &self.spec.rootfs else { return Ok(()) };
        let marker = work.join("work/incompat/volatile");
        let dirty = marker.join("dirty");
        for (path, is_dir) in [(&dirty, false), (&marker, true)] {
            let cpath = c(path, || path.display().to_string())?;
            let removed = if is_dir { self.sys.rmdir(&cpath) } else { self.sys.unlink(&cpath) };
            match removed {
                Ok(()) | Err(Errno::NOENT) => {}
                Err(e) => {
                    return Err(SandboxError::setup(
                        format!("remove overlayfs' volatile marker {}", path.display()),
                        e,
                    ));
                }
            }
        }
        Ok(())
    }

    /// BuildKit's `MountStubsCleaner`: placeholders still empty are removed (deepest first) from the upper
    /// directory (or the rootfs directory), and their parents get the timestamps they had before. A
    /// placeholder that cannot be checked or removed is an error: it would otherwise end up in the layer.
    fn remove_stubs(&mut self) -> Result<Vec<PathBuf>, SandboxError> {
        let base = match &self.spec.rootfs {
            Rootfs::Overlay { upper, .. } => upper.clone(),
            Rootfs::Dir(dir) => dir.clone(),
        };
        let sys = self.sys;
        let failed = |path: &Path, e| {
            SandboxError::setup(format!("remove the mount placeholder {}", path.display()), e)
        };
        let mut removed = Vec::new();
        let mut first_error = None;
        for stub in std::mem::take(&mut self.stubs).into_iter().rev() {
            let host = base.join(&stub.rel);
            let st = match resolve::lstat_beneath(sys, &base, &stub.rel) {
                Ok(Some(st)) => st,
                Ok(None) => continue,
                Err((path, e)) => {
                    first_error.get_or_insert(failed(&path, e));
                    continue;
                }
            };
            let chost = c(&host, || host.display().to_string())?;
            let empty = match st.kind {
                FileKind::Dir => match sys.dir_is_empty(&chost) {
                    Ok(empty) => empty,
                    Err(e) => {
                        first_error.get_or_insert(failed(&host, e));
                        continue;
                    }
                },
                FileKind::File => st.size == 0,
                _ => false,
            };
            if !empty {
                self.created.push(stub.rel);
                continue;
            }
            let parent = stub.rel.parent().map(Path::to_path_buf).unwrap_or_default();
            let parent_st = resolve::lstat_beneath(sys, &base, &parent).ok().flatten();
            let gone = if st.kind == FileKind::Dir { sys.rmdir(&chost) } else { sys.unlink(&chost) };
            if let Err(e) = gone {
                first_error.get_or_insert(failed(&host, e));
                continue;
            }
            if let (Some(parent_st), Ok(cparent)) = (parent_st, cstr(&base.join(&parent))) {
                // Nothing else touched the directory during the run: give it its original times back;
                // otherwise keep the run's modification time (BuildKit's rule). Best effort, as in BuildKit.
                let original =
                    self.parent_times.iter().rev().find(|t| t.rel == parent && t.after == parent_st.mtime);
                let (atime, mtime) =
                    original.map_or((parent_st.atime, parent_st.mtime), |t| (t.atime, t.mtime));
                let _ = sys.set_times(&cparent, atime, mtime);
            }
            removed.push(stub.rel);
        }
        first_error.map_or(Ok(removed), Err)
    }
}

/// Creates `dir` and its missing parents unless it exists.
fn make_dirs(sys: &dyn Sys, dir: &Path) -> Result<(), SandboxError> {
    if let Ok(c) = cstr(dir)
        && sys.lstat(&c).is_ok()
    {
        return Ok(());
    }
    let mut path = PathBuf::new();
    for part in dir.components() {
        path.push(part);
        if part == std::path::Component::RootDir {
            continue;
        }
        let c = cstr(&path).map_err(|e| SandboxError::setup(format!("create {}", path.display()), e))?;
        match sys.mkdir(&c, 0o755) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(SandboxError::setup(format!("create {}", path.display()), e)),
        }
    }
    Ok(())
}

/// Gives the calling thread its own mount namespace (nothing mounted from now on is visible to the host or
/// to other threads) and covers `mnt` (created if missing, then reused by every run) with a fresh tmpfs.
fn private_tmpfs(sys: &dyn Sys, mnt: &Path) -> Result<(), SandboxError> {
    make_dirs(sys, mnt)?;
    sys.unshare(CloneFlags::FS | CloneFlags::NEWNS)
        .map_err(|e| SandboxError::setup("unshare the setup thread's mount namespace", e))?;
    sys.mount(None, c"/", None, MountFlags::REC | MountFlags::PRIVATE, None)
        .map_err(|e| SandboxError::setup("make / private in the setup thread's mount namespace", e))?;
    let cmnt = c(mnt, || mnt.display().to_string())?;
    sys.mount(
        Some(c"tmpfs"),
        &cmnt,
        Some(c"tmpfs"),
        MountFlags::NOSUID | MountFlags::NODEV,
        Some(c"mode=0700"),
    )
    .map_err(|e| SandboxError::setup(format!("mount tmpfs at {}", mnt.display()), e))
}

/// The paths `execve` tries for `argv[0]`: itself when it contains a `/`, else each directory of the `PATH`
/// in the command's environment (the last `PATH=` wins, as runc sets them in order), or the default PATH.
fn exec_candidates(spec: &RunSpec) -> Vec<CString> {
    let argv0 = &spec.argv[0];
    if argv0.contains('/') {
        return vec![cs(argv0)];
    }
    let path = spec.env.iter().rev().find_map(|e| e.strip_prefix("PATH=")).unwrap_or(DEFAULT_PATH);
    path.split(':')
        .map(|dir| {
            let dir = if dir.is_empty() { "." } else { dir };
            cs(&format!("{}/{argv0}", dir.trim_end_matches('/')))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_search_uses_the_last_path_variable() {
        let mut spec = RunSpec::new(Rootfs::Dir("/x".into()), vec!["sh".into()]);
        spec.env = vec!["PATH=/a".into(), "PATH=/b/:".into()];
        let c: Vec<String> =
            exec_candidates(&spec).iter().map(|c| c.to_string_lossy().into_owned()).collect();
        assert_eq!(c, ["/b/sh", "./sh"]);
        spec.env.clear();
        assert_eq!(exec_candidates(&spec).len(), DEFAULT_PATH.split(':').count());
        spec.argv = vec!["./run.sh".into()];
        assert_eq!(exec_candidates(&spec), vec![cs("./run.sh")]);
    }
}
