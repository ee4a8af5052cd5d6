//! [`LinuxSys`]: the real kernel calls, as raw system calls wherever the child may call them.
//!
//! Each child-safe method is one `libc::syscall` (or a libc function that is a plain system call
//! wrapper: `mount`, `read`, `execve`, ...), so nothing here allocates, locks, or touches glibc's
//! per-process bookkeeping after `clone`.

use std::ffi::{CStr, c_char, c_int, c_long};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use super::{
    CapSets, ChildProcess, CloneFlags, Errno, ExitStatus, Fd, FileKind, MountFlags, PollFd, Stat, Sys,
    SysResult, Timestamp,
};

/// The real kernel: every method is the system call it names.
#[derive(Clone, Copy, Debug, Default)]
pub struct LinuxSys;

impl LinuxSys {
    /// The real kernel.
    pub fn new() -> Self {
        LinuxSys
    }
}

fn errno() -> Errno {
    // SAFETY: __errno_location returns this thread's errno slot, always valid.
    Errno::from_raw_os_error(unsafe { *libc::__errno_location() })
}

fn check(ret: c_int) -> SysResult<c_int> {
    if ret < 0 { Err(errno()) } else { Ok(ret) }
}

fn check_long(ret: c_long) -> SysResult<c_long> {
    if ret < 0 { Err(errno()) } else { Ok(ret) }
}

fn opt_ptr(s: Option<&CStr>) -> *const c_char {
    s.map_or(std::ptr::null(), CStr::as_ptr)
}

fn borrow(fd: Fd) -> BorrowedFd<'static> {
    // SAFETY: the sandbox keeps every Fd it got from this Sys open until it calls `close`; callers
    // never use the borrow past that.
    unsafe { BorrowedFd::borrow_raw(fd.0) }
}

fn owned(fd: OwnedFd) -> Fd {
    Fd(fd.into_raw_fd())
}

fn timestamp(sec: i64, nsec: i64) -> Timestamp {
    Timestamp { sec, nsec }
}

/// The parts of `struct stat` the sandbox uses.
fn convert_stat(st: &libc::stat) -> Stat {
    let kind = match st.st_mode & libc::S_IFMT {
        libc::S_IFDIR => FileKind::Dir,
        libc::S_IFREG => FileKind::File,
        libc::S_IFLNK => FileKind::Symlink,
        libc::S_IFCHR => FileKind::CharDevice,
        _ => FileKind::Other,
    };
    Stat {
        kind,
        mode: st.st_mode & 0o7777,
        uid: st.st_uid,
        gid: st.st_gid,
        size: st.st_size as u64,
        rdev: st.st_rdev,
        atime: timestamp(st.st_atime, st.st_atime_nsec),
        mtime: timestamp(st.st_mtime, st.st_mtime_nsec),
    }
}

// `PollFd` is handed to poll(2) as `struct pollfd`; the layouts must agree.
const _: () = assert!(std::mem::size_of::<PollFd>() == std::mem::size_of::<libc::pollfd>());

impl Sys for LinuxSys {
    fn unshare(&self, flags: CloneFlags) -> SysResult<()> {
        // SAFETY: unshare takes an integer.
        check_long(unsafe { libc::syscall(libc::SYS_unshare, flags.0 as c_long) }).map(drop)
    }

    fn clone_process(&self, flags: CloneFlags, child: &mut dyn FnMut() -> i32) -> SysResult<ChildProcess> {
        let mut pidfd: c_int = -1;
        let flags = flags.0 | libc::CLONE_PIDFD as u64 | libc::SIGCHLD as u64;
        // SAFETY: a fork-like clone (no CLONE_VM, no new stack): the child gets a copy of the address
        // space and continues here with 0. CLONE_PIDFD stores the pidfd through the third argument
        // (parent_tid) on every architecture; the remaining pointer arguments are unused and null.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_clone,
                flags as c_long,
                0 as c_long,
                &mut pidfd as *mut c_int,
                0 as c_long,
                0 as c_long,
            )
        };
        if ret < 0 {
            return Err(errno());
        }
        if ret == 0 {
            // In the child. A panic must not unwind into the parent's copied frames.
            let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(child)).unwrap_or(127);
            // SAFETY: _exit ends the process without running atexit handlers or destructors.
            unsafe { libc::_exit(code) }
        }
        Ok(ChildProcess { pid: ret as i32, pidfd: Fd(pidfd) })
    }

    fn wait_child(&self, child: ChildProcess, block: bool) -> SysResult<Option<ExitStatus>> {
        // SAFETY: siginfo_t is plain data; zeroed is a valid value.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let options = libc::WEXITED | if block { 0 } else { libc::WNOHANG };
        loop {
            // SAFETY: waitid writes into `info`; P_PIDFD takes the pidfd as id.
            let ret = unsafe { libc::waitid(libc::P_PIDFD, child.pidfd.0 as libc::id_t, &mut info, options) };
            match check(ret) {
                Err(Errno::INTR) => continue,
                Err(e) => return Err(e),
                Ok(_) => break,
            }
        }
        // SAFETY: after a successful waitid the si_pid/si_status fields are initialized.
        let (pid, status) = unsafe { (info.si_pid(), info.si_status()) };
        if pid == 0 {
            return Ok(None);
        }
        Ok(Some(match info.si_code {
            libc::CLD_EXITED => ExitStatus::Code(status),
            _ => ExitStatus::Signal(status),
        }))
    }

    fn signal_child(&self, child: ChildProcess, signal: i32) -> SysResult<()> {
        // SAFETY: pidfd_send_signal(pidfd, sig, NULL, 0).
        check_long(unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                child.pidfd.0 as c_long,
                signal as c_long,
                std::ptr::null::<libc::siginfo_t>(),
                0 as c_long,
            )
        })
        .map(drop)
    }

    fn geteuid(&self) -> u32 {
        // SAFETY: geteuid cannot fail.
        unsafe { libc::geteuid() }
    }

    fn execve(&self, path: &CStr, argv: &[*const c_char], envp: &[*const c_char]) -> SysResult<()> {
        if argv.last() != Some(&std::ptr::null()) || envp.last() != Some(&std::ptr::null()) {
            return Err(Errno::INVAL);
        }
        // SAFETY: both arrays are NULL-terminated (checked) and point at NUL-terminated strings that
        // the caller keeps alive.
        unsafe { libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
        Err(errno())
    }

    fn pipe(&self) -> SysResult<(Fd, Fd)> {
        let mut fds = [0 as c_int; 2];
        // SAFETY: pipe2 writes two descriptors.
        check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
        Ok((Fd(fds[0]), Fd(fds[1])))
    }

    fn socketpair(&self) -> SysResult<(Fd, Fd)> {
        let mut fds = [0 as c_int; 2];
        // SAFETY: socketpair writes two descriptors.
        check(unsafe {
            libc::socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr())
        })?;
        Ok((Fd(fds[0]), Fd(fds[1])))
    }

    fn open_rdwr(&self, path: &CStr) -> SysResult<Fd> {
        // SAFETY: path is NUL-terminated.
        check(unsafe { libc::open(path.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC | libc::O_NOCTTY) }).map(Fd)
    }

    fn read(&self, fd: Fd, buf: &mut [u8]) -> SysResult<usize> {
        loop {
            // SAFETY: buf is valid for buf.len() bytes.
            let n = unsafe { libc::read(fd.0, buf.as_mut_ptr().cast(), buf.len()) };
            match check_long(n as c_long) {
                Err(Errno::INTR) => continue,
                other => return other.map(|n| n as usize),
            }
        }
    }

    fn write(&self, fd: Fd, buf: &[u8]) -> SysResult<usize> {
        loop {
            // SAFETY: buf is valid for buf.len() bytes.
            let n = unsafe { libc::write(fd.0, buf.as_ptr().cast(), buf.len()) };
            match check_long(n as c_long) {
                Err(Errno::INTR) => continue,
                other => return other.map(|n| n as usize),
            }
        }
    }

    fn close(&self, fd: Fd) {
        // SAFETY: the caller owns fd and never uses it again.
        unsafe { libc::close(fd.0) };
    }

    fn dup2(&self, from: Fd, to: i32) -> SysResult<()> {
        if from.0 == to {
            // dup2 onto itself keeps FD_CLOEXEC; clear it so the descriptor survives execve.
            // SAFETY: fcntl on an open descriptor.
            return check(unsafe { libc::fcntl(to, libc::F_SETFD, 0) }).map(drop);
        }
        // SAFETY: dup3 on open descriptors; the new one is not close-on-exec.
        check(unsafe { libc::dup3(from.0, to, 0) }).map(drop)
    }

    fn close_range_cloexec(&self, first: u32) -> SysResult<()> {
        // SAFETY: close_range(first, ~0, CLOSE_RANGE_CLOEXEC) only sets flags.
        check_long(unsafe {
            libc::syscall(
                libc::SYS_close_range,
                first as c_long,
                c_long::from(u32::MAX),
                libc::CLOSE_RANGE_CLOEXEC as c_long,
            )
        })
        .map(drop)
    }

    fn poll(&self, fds: &mut [PollFd], timeout_ms: i32) -> SysResult<usize> {
        loop {
            // SAFETY: PollFd is #[repr(C)] with the layout of struct pollfd (checked above).
            let n = unsafe {
                libc::poll(fds.as_mut_ptr().cast::<libc::pollfd>(), fds.len() as libc::nfds_t, timeout_ms)
            };
            match check(n) {
                Err(Errno::INTR) => continue,
                other => return other.map(|n| n as usize),
            }
        }
    }

    fn mount(
        &self,
        source: Option<&CStr>,
        target: &CStr,
        fstype: Option<&CStr>,
        flags: MountFlags,
        data: Option<&CStr>,
    ) -> SysResult<()> {
        // SAFETY: all strings are NUL-terminated or null.
        check(unsafe {
            libc::mount(opt_ptr(source), target.as_ptr(), opt_ptr(fstype), flags.0, opt_ptr(data).cast())
        })
        .map(drop)
    }

    fn umount(&self, target: &CStr, detach: bool) -> SysResult<()> {
        let flags = if detach { libc::MNT_DETACH } else { 0 };
        // SAFETY: target is NUL-terminated.
        check(unsafe { libc::umount2(target.as_ptr(), flags) }).map(drop)
    }

    fn fsopen(&self, fstype: &CStr) -> SysResult<Fd> {
        rustix::mount::fsopen(fstype, rustix::mount::FsOpenFlags::FSOPEN_CLOEXEC).map(owned)
    }

    fn fsconfig_string(&self, fs: Fd, key: &CStr, value: &CStr) -> SysResult<()> {
        rustix::mount::fsconfig_set_string(borrow(fs), key, value)
    }

    fn fsconfig_flag(&self, fs: Fd, key: &CStr) -> SysResult<()> {
        rustix::mount::fsconfig_set_flag(borrow(fs), key)
    }

    fn fsconfig_create(&self, fs: Fd) -> SysResult<()> {
        rustix::mount::fsconfig_create(borrow(fs))
    }

    fn fsmount(&self, fs: Fd) -> SysResult<Fd> {
        rustix::mount::fsmount(
            borrow(fs),
            rustix::mount::FsMountFlags::FSMOUNT_CLOEXEC,
            rustix::mount::MountAttrFlags::empty(),
        )
        .map(owned)
    }

    fn move_mount(&self, mnt: Fd, target: &CStr) -> SysResult<()> {
        rustix::mount::move_mount(
            borrow(mnt),
            c"",
            rustix::fs::CWD,
            target,
            rustix::mount::MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
        )
    }

    fn pivot_root(&self, new_root: &CStr, put_old: &CStr) -> SysResult<()> {
        // SAFETY: both paths are NUL-terminated.
        check_long(unsafe { libc::syscall(libc::SYS_pivot_root, new_root.as_ptr(), put_old.as_ptr()) })
            .map(drop)
    }

    fn chdir(&self, path: &CStr) -> SysResult<()> {
        // SAFETY: path is NUL-terminated.
        check(unsafe { libc::chdir(path.as_ptr()) }).map(drop)
    }

    fn sethostname(&self, name: &[u8]) -> SysResult<()> {
        // SAFETY: name is valid for name.len() bytes.
        check(unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) }).map(drop)
    }

    fn setsid(&self) -> SysResult<()> {
        // SAFETY: setsid takes no arguments.
        check(unsafe { libc::setsid() }).map(drop)
    }

    fn reset_signals(&self) -> SysResult<()> {
        /// The kernel's `struct sigaction` (x86-64 and arm64 both have `sa_restorer`).
        #[repr(C)]
        struct KernelSigaction {
            handler: usize,
            flags: u64,
            restorer: usize,
            mask: u64,
        }
        let default = KernelSigaction { handler: libc::SIG_DFL, flags: 0, restorer: 0, mask: 0 };
        for signal in 1..=64 {
            if signal == libc::SIGKILL || signal == libc::SIGSTOP {
                continue;
            }
            // SAFETY: rt_sigaction(signal, &SIG_DFL, NULL, sizeof(sigset_t)); raw, because glibc's wrapper
            // refuses its internal signals (32, 33), which may be ignored too.
            check_long(unsafe {
                libc::syscall(
                    libc::SYS_rt_sigaction,
                    signal as c_long,
                    &default as *const KernelSigaction,
                    std::ptr::null::<KernelSigaction>(),
                    8 as c_long,
                )
            })?;
        }
        let empty: u64 = 0;
        // SAFETY: rt_sigprocmask(SIG_SETMASK, &empty, NULL, sizeof(u64)).
        check_long(unsafe {
            libc::syscall(
                libc::SYS_rt_sigprocmask,
                libc::SIG_SETMASK as c_long,
                &empty as *const u64,
                std::ptr::null::<u64>(),
                8 as c_long,
            )
        })
        .map(drop)
    }

    fn loopback_up(&self) -> SysResult<()> {
        // SAFETY: a datagram socket used only for interface ioctls, closed below.
        let sock = check(unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
        // SAFETY: ifreq is plain data; zeroed is valid.
        let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
        for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
            *dst = *src as c_char;
        }
        // SAFETY: SIOCGIFFLAGS/SIOCSIFFLAGS read and write req.ifr_ifru.ifru_flags.
        let result = unsafe {
            check(libc::ioctl(sock, libc::SIOCGIFFLAGS, &mut req)).and_then(|_| {
                req.ifr_ifru.ifru_flags |= libc::IFF_UP as i16;
                check(libc::ioctl(sock, libc::SIOCSIFFLAGS, &req))
            })
        };
        // SAFETY: sock is ours.
        unsafe { libc::close(sock) };
        result.map(drop)
    }

    fn setgroups(&self, gids: &[u32]) -> SysResult<()> {
        // SAFETY: gids is valid for gids.len() entries of gid_t (u32).
        check_long(unsafe { libc::syscall(libc::SYS_setgroups, gids.len() as c_long, gids.as_ptr()) })
            .map(drop)
    }

    fn setresgid(&self, gid: u32) -> SysResult<()> {
        // SAFETY: integer arguments.
        check_long(unsafe { libc::syscall(libc::SYS_setresgid, gid, gid, gid) }).map(drop)
    }

    fn setresuid(&self, uid: u32) -> SysResult<()> {
        // SAFETY: integer arguments.
        check_long(unsafe { libc::syscall(libc::SYS_setresuid, uid, uid, uid) }).map(drop)
    }

    fn umask(&self, mask: u32) {
        // SAFETY: umask cannot fail.
        unsafe { libc::umask(mask) };
    }

    fn set_keep_caps(&self, on: bool) -> SysResult<()> {
        // SAFETY: integer arguments.
        check(unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, c_long::from(on), 0, 0, 0) }).map(drop)
    }

    fn capbset_drop(&self, cap: u32) -> SysResult<()> {
        // SAFETY: integer arguments.
        check(unsafe { libc::prctl(libc::PR_CAPBSET_DROP, c_long::from(cap), 0, 0, 0) }).map(drop)
    }

    fn capset(&self, sets: CapSets) -> SysResult<()> {
        #[repr(C)]
        struct Header {
            version: u32,
            pid: c_int,
        }
        #[repr(C)]
        #[derive(Clone, Copy)]
        struct Data {
            effective: u32,
            permitted: u32,
            inheritable: u32,
        }
        const VERSION_3: u32 = 0x2008_0522;
        let header = Header { version: VERSION_3, pid: 0 };
        let split = |bits: u64| (bits as u32, (bits >> 32) as u32);
        let (e0, e1) = split(sets.effective);
        let (p0, p1) = split(sets.permitted);
        let (i0, i1) = split(sets.inheritable);
        let data = [
            Data { effective: e0, permitted: p0, inheritable: i0 },
            Data { effective: e1, permitted: p1, inheritable: i1 },
        ];
        // SAFETY: capset reads the header and two data structs (version 3).
        check_long(unsafe { libc::syscall(libc::SYS_capset, &header, data.as_ptr()) }).map(drop)
    }

    fn set_no_new_privs(&self) -> SysResult<()> {
        // SAFETY: integer arguments.
        check(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1 as c_long, 0, 0, 0) }).map(drop)
    }

    fn set_parent_death_signal(&self, signal: i32) -> SysResult<()> {
        // SAFETY: integer arguments.
        check(unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, c_long::from(signal), 0, 0, 0) }).map(drop)
    }

    fn seccomp_filter(&self, program: &[libc::sock_filter]) -> SysResult<()> {
        let prog = libc::sock_fprog { len: program.len() as u16, filter: program.as_ptr().cast_mut() };
        // SAFETY: seccomp(SECCOMP_SET_MODE_FILTER, 0, &prog); the kernel copies the program.
        check_long(unsafe {
            libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER as c_long, 0 as c_long, &prog)
        })
        .map(drop)
    }

    fn lstat(&self, path: &CStr) -> SysResult<Stat> {
        // SAFETY: stat is plain data; lstat fills it.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: path is NUL-terminated.
        check(unsafe { libc::lstat(path.as_ptr(), &mut st) })?;
        Ok(convert_stat(&st))
    }

    fn stat(&self, path: &CStr) -> SysResult<Stat> {
        // SAFETY: stat is plain data; stat fills it.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: path is NUL-terminated.
        check(unsafe { libc::stat(path.as_ptr(), &mut st) })?;
        Ok(convert_stat(&st))
    }

    fn readlink(&self, path: &CStr) -> SysResult<Vec<u8>> {
        let mut buf = vec![0u8; libc::PATH_MAX as usize + 1];
        // SAFETY: buf is valid for its length.
        let n = unsafe { libc::readlink(path.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        let n = check_long(n as c_long)? as usize;
        if n >= buf.len() {
            return Err(Errno::NAMETOOLONG);
        }
        buf.truncate(n);
        Ok(buf)
    }

    fn mkdir(&self, path: &CStr, mode: u32) -> SysResult<()> {
        // SAFETY: path is NUL-terminated.
        check(unsafe { libc::mkdir(path.as_ptr(), mode) }).map(drop)
    }

    fn mknod_char(&self, path: &CStr, mode: u32, major: u32, minor: u32) -> SysResult<()> {
        let dev = libc::makedev(major, minor);
        // SAFETY: path is NUL-terminated.
        check(unsafe { libc::mknod(path.as_ptr(), libc::S_IFCHR | mode, dev) }).map(drop)
    }

    fn symlink(&self, target: &CStr, link: &CStr) -> SysResult<()> {
        // SAFETY: both are NUL-terminated.
        check(unsafe { libc::symlink(target.as_ptr(), link.as_ptr()) }).map(drop)
    }

    fn write_new_file(&self, path: &CStr, contents: &[u8], mode: u32) -> SysResult<()> {
        let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC;
        // SAFETY: path is NUL-terminated; the new descriptor is owned below.
        let fd = check(unsafe { libc::open(path.as_ptr(), flags, 0o600 as libc::c_uint) })?;
        // SAFETY: fd was just opened and is owned here.
        let file = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut rest = contents;
        while !rest.is_empty() {
            let n = self.write(Fd(file.as_raw_fd()), rest)?;
            rest = &rest[n..];
        }
        // SAFETY: fchmod on an open descriptor.
        check(unsafe { libc::fchmod(file.as_raw_fd(), mode) }).map(drop)
    }

    fn read_file(&self, path: &CStr, limit: usize) -> SysResult<Vec<u8>> {
        use std::io::Read;
        let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
        // SAFETY: path is NUL-terminated; the descriptor is owned below.
        let fd = check(unsafe { libc::open(path.as_ptr(), flags) })?;
        // SAFETY: fd was just opened and is owned here.
        let mut file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
        let meta = file.metadata().map_err(|e| Errno::from_io_error(&e).unwrap_or(Errno::IO))?;
        if !meta.is_file() {
            return Err(Errno::INVAL);
        }
        let mut buf = Vec::new();
        (&mut file)
            .take(limit as u64 + 1)
            .read_to_end(&mut buf)
            .map_err(|e| Errno::from_io_error(&e).unwrap_or(Errno::IO))?;
        if buf.len() > limit {
            return Err(Errno::FBIG);
        }
        Ok(buf)
    }

    fn chown(&self, path: &CStr, uid: u32, gid: u32) -> SysResult<()> {
        // SAFETY: path is NUL-terminated.
        check(unsafe { libc::lchown(path.as_ptr(), uid, gid) }).map(drop)
    }

    fn chmod(&self, path: &CStr, mode: u32) -> SysResult<()> {
        // SAFETY: path is NUL-terminated.
        check(unsafe { libc::chmod(path.as_ptr(), mode) }).map(drop)
    }

    fn unlink(&self, path: &CStr) -> SysResult<()> {
        // SAFETY: path is NUL-terminated.
        check(unsafe { libc::unlink(path.as_ptr()) }).map(drop)
    }

    fn rmdir(&self, path: &CStr) -> SysResult<()> {
        // SAFETY: path is NUL-terminated.
        check(unsafe { libc::rmdir(path.as_ptr()) }).map(drop)
    }

    fn dir_is_empty(&self, path: &CStr) -> SysResult<bool> {
        let path = std::path::Path::new(std::ffi::OsStr::from_bytes(path.to_bytes()));
        let mut entries =
            std::fs::read_dir(path).map_err(|e| Errno::from_io_error(&e).unwrap_or(Errno::IO))?;
        Ok(entries.next().is_none())
    }

    fn set_times(&self, path: &CStr, atime: Timestamp, mtime: Timestamp) -> SysResult<()> {
        let times = [
            libc::timespec { tv_sec: atime.sec, tv_nsec: atime.nsec },
            libc::timespec { tv_sec: mtime.sec, tv_nsec: mtime.nsec },
        ];
        // SAFETY: path is NUL-terminated; times has two entries.
        check(unsafe {
            libc::utimensat(libc::AT_FDCWD, path.as_ptr(), times.as_ptr(), libc::AT_SYMLINK_NOFOLLOW)
        })
        .map(drop)
    }
}
