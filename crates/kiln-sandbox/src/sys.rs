//! The [`Sys`] trait: every kernel call the sandbox makes, so that tests can record and fail them.
//!
//! Two implementations exist and one is always passed in explicitly: [`LinuxSys`] makes the real system
//! calls, [`RecordingSys`] records each call, keeps a fake mount table and file tree, and fails chosen calls.
//!
//! Methods marked *child-safe* are the ones the sandboxed child calls between `clone` and `execve`. The
//! process that clones is multithreaded, so in the child only async-signal-safe work is allowed: those
//! methods take prepared [`CStr`]s and slices, never allocate, never take a lock, and are raw system calls
//! in [`LinuxSys`] (no glibc wrapper that keeps process-wide state, such as `setresuid`'s broadcast to all
//! threads). The other methods run on an ordinary thread and may allocate.

mod linux;
mod recording;

use std::ffi::{CStr, c_char};
use std::fmt;

pub use linux::LinuxSys;
pub use recording::RecordingSys;
pub use rustix::io::Errno;

/// The result of one kernel call: the value or the raw `errno`.
pub type SysResult<T> = Result<T, Errno>;

/// A file descriptor number handed out by a [`Sys`]; closed explicitly with [`Sys::close`] (a fake hands
/// out numbers that are not real descriptors, so this type never closes anything on drop).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(transparent)]
pub struct Fd(pub i32);

impl fmt::Display for Fd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fd{}", self.0)
    }
}

/// A descriptor closed when dropped.
pub(crate) struct SysFd<'a> {
    sys: &'a dyn Sys,
    fd: Option<Fd>,
}

impl<'a> SysFd<'a> {
    pub(crate) fn new(sys: &'a dyn Sys, fd: Fd) -> Self {
        SysFd { sys, fd: Some(fd) }
    }
    pub(crate) fn fd(&self) -> Fd {
        // Invariant: `fd` is only None after `close`, which consumes self.
        self.fd.unwrap_or(Fd(-1))
    }
    pub(crate) fn close(mut self) {
        if let Some(fd) = self.fd.take() {
            self.sys.close(fd);
        }
    }
}

impl Drop for SysFd<'_> {
    fn drop(&mut self) {
        if let Some(fd) = self.fd.take() {
            self.sys.close(fd);
        }
    }
}

/// Namespace flags for [`Sys::unshare`] and [`Sys::clone_process`] (the `CLONE_*` values).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct CloneFlags(pub u64);

impl CloneFlags {
    /// A new mount namespace.
    pub const NEWNS: CloneFlags = CloneFlags(libc::CLONE_NEWNS as u64);
    /// A new PID namespace (the child is its PID 1).
    pub const NEWPID: CloneFlags = CloneFlags(libc::CLONE_NEWPID as u64);
    /// A new UTS namespace (hostname).
    pub const NEWUTS: CloneFlags = CloneFlags(libc::CLONE_NEWUTS as u64);
    /// A new IPC namespace.
    pub const NEWIPC: CloneFlags = CloneFlags(libc::CLONE_NEWIPC as u64);
    /// A new network namespace.
    pub const NEWNET: CloneFlags = CloneFlags(libc::CLONE_NEWNET as u64);
    /// Unshare the filesystem attributes (root, cwd, umask) from the other threads.
    pub const FS: CloneFlags = CloneFlags(libc::CLONE_FS as u64);

    /// True when every flag of `other` is set.
    pub fn contains(self, other: CloneFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for CloneFlags {
    type Output = CloneFlags;
    fn bitor(self, rhs: CloneFlags) -> CloneFlags {
        CloneFlags(self.0 | rhs.0)
    }
}

impl fmt::Display for CloneFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (CloneFlags::FS, "FS"),
            (CloneFlags::NEWNS, "NEWNS"),
            (CloneFlags::NEWPID, "NEWPID"),
            (CloneFlags::NEWUTS, "NEWUTS"),
            (CloneFlags::NEWIPC, "NEWIPC"),
            (CloneFlags::NEWNET, "NEWNET"),
        ];
        let set: Vec<&str> = names.iter().filter(|(flag, _)| self.contains(*flag)).map(|(_, n)| *n).collect();
        f.write_str(&set.join("|"))
    }
}

/// `mount(2)` flags (the `MS_*` values).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct MountFlags(pub u64);

impl MountFlags {
    /// No flags.
    pub const NONE: MountFlags = MountFlags(0);
    /// `MS_RDONLY`.
    pub const RDONLY: MountFlags = MountFlags(libc::MS_RDONLY);
    /// `MS_NOSUID`.
    pub const NOSUID: MountFlags = MountFlags(libc::MS_NOSUID);
    /// `MS_NODEV`.
    pub const NODEV: MountFlags = MountFlags(libc::MS_NODEV);
    /// `MS_NOEXEC`.
    pub const NOEXEC: MountFlags = MountFlags(libc::MS_NOEXEC);
    /// `MS_REMOUNT`.
    pub const REMOUNT: MountFlags = MountFlags(libc::MS_REMOUNT);
    /// `MS_BIND`.
    pub const BIND: MountFlags = MountFlags(libc::MS_BIND);
    /// `MS_REC`.
    pub const REC: MountFlags = MountFlags(libc::MS_REC);
    /// `MS_PRIVATE`.
    pub const PRIVATE: MountFlags = MountFlags(libc::MS_PRIVATE);
    /// `MS_STRICTATIME`.
    pub const STRICTATIME: MountFlags = MountFlags(libc::MS_STRICTATIME);

    /// True when every flag of `other` is set.
    pub fn contains(self, other: MountFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for MountFlags {
    type Output = MountFlags;
    fn bitor(self, rhs: MountFlags) -> MountFlags {
        MountFlags(self.0 | rhs.0)
    }
}

impl fmt::Display for MountFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (MountFlags::REMOUNT, "REMOUNT"),
            (MountFlags::BIND, "BIND"),
            (MountFlags::REC, "REC"),
            (MountFlags::PRIVATE, "PRIVATE"),
            (MountFlags::RDONLY, "RDONLY"),
            (MountFlags::NOSUID, "NOSUID"),
            (MountFlags::NODEV, "NODEV"),
            (MountFlags::NOEXEC, "NOEXEC"),
            (MountFlags::STRICTATIME, "STRICTATIME"),
        ];
        let set: Vec<&str> = names.iter().filter(|(flag, _)| self.contains(*flag)).map(|(_, n)| *n).collect();
        if set.is_empty() { f.write_str("0") } else { f.write_str(&set.join("|")) }
    }
}

/// What kind of file a [`Stat`] describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// A directory.
    Dir,
    /// A regular file.
    File,
    /// A symbolic link.
    Symlink,
    /// A character device.
    CharDevice,
    /// Anything else (block device, fifo, socket).
    Other,
}

/// A timestamp as seconds and nanoseconds since the epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Timestamp {
    /// Seconds.
    pub sec: i64,
    /// Nanoseconds.
    pub nsec: i64,
}

/// The metadata of one file, as `lstat` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    /// The file type.
    pub kind: FileKind,
    /// Permission bits (`st_mode & 0o7777`).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Size in bytes.
    pub size: u64,
    /// Device number for device files.
    pub rdev: u64,
    /// Last access.
    pub atime: Timestamp,
    /// Last modification.
    pub mtime: Timestamp,
}

/// The capability sets given to [`Sys::capset`], one bit per `CAP_*` number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct CapSets {
    /// Effective set.
    pub effective: u64,
    /// Permitted set.
    pub permitted: u64,
    /// Inheritable set.
    pub inheritable: u64,
}

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// It called `exit` with this code.
    Code(i32),
    /// It was killed by this signal.
    Signal(i32),
}

impl ExitStatus {
    /// True for `Code(0)`.
    pub fn success(self) -> bool {
        self == ExitStatus::Code(0)
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitStatus::Code(code) => write!(f, "exit code {code}"),
            ExitStatus::Signal(sig) => write!(f, "killed by signal {sig}"),
        }
    }
}

/// A cloned child process: its PID (in the caller's PID namespace) and a pidfd for waiting and signalling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChildProcess {
    /// The PID as the parent sees it.
    pub pid: i32,
    /// A pidfd referring to it (close with [`Sys::close`]).
    pub pidfd: Fd,
}

/// One entry of [`Sys::poll`] (laid out as `struct pollfd`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct PollFd {
    /// The descriptor.
    pub fd: Fd,
    /// Requested events (`POLLIN`, `POLLRDHUP`...).
    pub events: i16,
    /// Returned events.
    pub revents: i16,
}

/// Every kernel call the sandbox makes. See the module documentation for the child-safe rule.
pub trait Sys: Send + Sync {
    // ----- processes and namespaces -----

    /// `unshare(flags)` for the calling thread.
    fn unshare(&self, flags: CloneFlags) -> SysResult<()>;

    /// A fork-like `clone` into new namespaces (`flags`), with a pidfd and `SIGCHLD` as exit signal.
    /// The new process runs `child` and exits with its return value; it never returns here.
    fn clone_process(&self, flags: CloneFlags, child: &mut dyn FnMut() -> i32) -> SysResult<ChildProcess>;

    /// Waits for the child to exit (`waitid(P_PIDFD)`); `None` when `block` is false and it is still running.
    fn wait_child(&self, child: ChildProcess, block: bool) -> SysResult<Option<ExitStatus>>;

    /// Sends `signal` to the child through its pidfd.
    fn signal_child(&self, child: ChildProcess, signal: i32) -> SysResult<()>;

    /// The effective user id of the calling thread.
    fn geteuid(&self) -> u32;

    /// `execve`. A real one returns only on failure; a fake returns `Ok` to mean "the program ran and
    /// exited 0". *Child-safe.* `argv` and `envp` are NULL-terminated.
    fn execve(&self, path: &CStr, argv: &[*const c_char], envp: &[*const c_char]) -> SysResult<()>;

    // ----- descriptors -----

    /// A pipe, both ends close-on-exec: `(read, write)`.
    fn pipe(&self) -> SysResult<(Fd, Fd)>;
    /// A `SOCK_SEQPACKET` unix socket pair, close-on-exec (the parent↔child control channel).
    fn socketpair(&self) -> SysResult<(Fd, Fd)>;
    /// Opens `path` (`O_RDWR|O_CLOEXEC|O_NOCTTY`); used for `/dev/null`.
    fn open_rdwr(&self, path: &CStr) -> SysResult<Fd>;
    /// `read`. *Child-safe.*
    fn read(&self, fd: Fd, buf: &mut [u8]) -> SysResult<usize>;
    /// `write`. *Child-safe.*
    fn write(&self, fd: Fd, buf: &[u8]) -> SysResult<usize>;
    /// `close`. *Child-safe.*
    fn close(&self, fd: Fd);
    /// `dup2(from, to)` (the new descriptor is not close-on-exec). *Child-safe.*
    fn dup2(&self, from: Fd, to: i32) -> SysResult<()>;
    /// Marks every descriptor from `first` up close-on-exec (`close_range(CLOSE_RANGE_CLOEXEC)`). *Child-safe.*
    fn close_range_cloexec(&self, first: u32) -> SysResult<()>;
    /// `poll` with a timeout in milliseconds (-1 waits forever). *Child-safe.*
    fn poll(&self, fds: &mut [PollFd], timeout_ms: i32) -> SysResult<usize>;

    // ----- mounts -----

    /// `mount(2)`. *Child-safe.*
    fn mount(
        &self,
        source: Option<&CStr>,
        target: &CStr,
        fstype: Option<&CStr>,
        flags: MountFlags,
        data: Option<&CStr>,
    ) -> SysResult<()>;
    /// `umount2(target, flags)`. *Child-safe.*
    fn umount(&self, target: &CStr, detach: bool) -> SysResult<()>;
    /// `fsopen(fstype, FSOPEN_CLOEXEC)`.
    fn fsopen(&self, fstype: &CStr) -> SysResult<Fd>;
    /// `fsconfig(FSCONFIG_SET_STRING, key, value)`.
    fn fsconfig_string(&self, fs: Fd, key: &CStr, value: &CStr) -> SysResult<()>;
    /// `fsconfig(FSCONFIG_SET_FLAG, key)`.
    fn fsconfig_flag(&self, fs: Fd, key: &CStr) -> SysResult<()>;
    /// `fsconfig(FSCONFIG_CMD_CREATE)`.
    fn fsconfig_create(&self, fs: Fd) -> SysResult<()>;
    /// `fsmount(fs, FSMOUNT_CLOEXEC, 0)`.
    fn fsmount(&self, fs: Fd) -> SysResult<Fd>;
    /// `move_mount(mnt, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH)`.
    fn move_mount(&self, mnt: Fd, target: &CStr) -> SysResult<()>;
    /// `pivot_root(new_root, put_old)`. *Child-safe.*
    fn pivot_root(&self, new_root: &CStr, put_old: &CStr) -> SysResult<()>;
    /// `chdir`. *Child-safe.*
    fn chdir(&self, path: &CStr) -> SysResult<()>;

    // ----- identity and privileges (all child-safe) -----

    /// `sethostname`.
    fn sethostname(&self, name: &[u8]) -> SysResult<()>;
    /// `setsid`: a new session and process group led by the caller.
    fn setsid(&self) -> SysResult<()>;
    /// Every signal back to its default action (an ignored one, such as the `SIGPIPE` Rust programs ignore,
    /// would otherwise stay ignored across `execve`) and none blocked.
    fn reset_signals(&self) -> SysResult<()>;
    /// Brings the loopback interface up (`SIOCGIFFLAGS`/`SIOCSIFFLAGS` on a datagram socket).
    fn loopback_up(&self) -> SysResult<()>;
    /// `setgroups` (raw system call, this thread only).
    fn setgroups(&self, gids: &[u32]) -> SysResult<()>;
    /// `setresgid(gid, gid, gid)` (raw system call).
    fn setresgid(&self, gid: u32) -> SysResult<()>;
    /// `setresuid(uid, uid, uid)` (raw system call).
    fn setresuid(&self, uid: u32) -> SysResult<()>;
    /// `umask`.
    fn umask(&self, mask: u32);
    /// `prctl(PR_SET_KEEPCAPS, on)`.
    fn set_keep_caps(&self, on: bool) -> SysResult<()>;
    /// `prctl(PR_CAPBSET_DROP, cap)`.
    fn capbset_drop(&self, cap: u32) -> SysResult<()>;
    /// `capset` of the calling thread (version 3).
    fn capset(&self, sets: CapSets) -> SysResult<()>;
    /// `prctl(PR_SET_NO_NEW_PRIVS, 1)`.
    fn set_no_new_privs(&self) -> SysResult<()>;
    /// `prctl(PR_SET_PDEATHSIG, signal)`.
    fn set_parent_death_signal(&self, signal: i32) -> SysResult<()>;
    /// `seccomp(SECCOMP_SET_MODE_FILTER)` with a classic BPF program.
    fn seccomp_filter(&self, program: &[libc::sock_filter]) -> SysResult<()>;

    // ----- files (run on the setup thread; `mkdir`, `mknod`, `symlink` are also child-safe) -----

    /// `lstat`.
    fn lstat(&self, path: &CStr) -> SysResult<Stat>;
    /// `stat` (follows symlinks).
    fn stat(&self, path: &CStr) -> SysResult<Stat>;
    /// `readlink`.
    fn readlink(&self, path: &CStr) -> SysResult<Vec<u8>>;
    /// `mkdir(path, mode)` (the umask applies).
    fn mkdir(&self, path: &CStr, mode: u32) -> SysResult<()>;
    /// `mknod(path, S_IFCHR|mode, dev)`: a character device.
    fn mknod_char(&self, path: &CStr, mode: u32, major: u32, minor: u32) -> SysResult<()>;
    /// `symlink(target, link)`.
    fn symlink(&self, target: &CStr, link: &CStr) -> SysResult<()>;
    /// Creates a new file (`O_CREAT|O_EXCL|O_NOFOLLOW`), writes `contents`, sets exactly `mode`.
    fn write_new_file(&self, path: &CStr, contents: &[u8], mode: u32) -> SysResult<()>;
    /// Reads a regular file (not following a final symlink), failing with `EFBIG` past `limit` bytes.
    fn read_file(&self, path: &CStr, limit: usize) -> SysResult<Vec<u8>>;
    /// `lchown`.
    fn chown(&self, path: &CStr, uid: u32, gid: u32) -> SysResult<()>;
    /// `chmod` (exact permission bits).
    fn chmod(&self, path: &CStr, mode: u32) -> SysResult<()>;
    /// `unlink`.
    fn unlink(&self, path: &CStr) -> SysResult<()>;
    /// `rmdir`.
    fn rmdir(&self, path: &CStr) -> SysResult<()>;
    /// True when the directory has no entries but `.` and `..`.
    fn dir_is_empty(&self, path: &CStr) -> SysResult<bool>;
    /// `utimensat(AT_SYMLINK_NOFOLLOW)`.
    fn set_times(&self, path: &CStr, atime: Timestamp, mtime: Timestamp) -> SysResult<()>;
}
