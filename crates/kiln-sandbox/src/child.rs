//! The sandboxed child's side: a [`ChildPlan`] of prepared [`Op`]s, run by [`child_main`] between `clone`
//! and `execve`.
//!
//! The cloning process is multithreaded, so the child may only make async-signal-safe calls: every string,
//! argument vector and list it needs was built by the parent before `clone`, and [`child_main`] only walks
//! the plan calling child-safe [`Sys`] methods (raw system calls). When a step fails it writes one fixed-size
//! [`Report`] (step index, errno, detail) to the control socket and exits 127; the parent turns that into an
//! error naming the step and its path. When `execve` succeeds the close-on-exec control socket closes and the
//! parent reads end-of-file: that is the "started" signal.

use std::ffi::{CStr, CString, c_char};

use crate::sys::{CapSets, Errno, Fd, MountFlags, PollFd, Sys};

/// One prepared step of the child.
pub(crate) enum Op {
    /// `mount(2)`.
    Mount {
        source: Option<CString>,
        target: CString,
        fstype: Option<CString>,
        flags: MountFlags,
        data: Option<CString>,
    },
    /// Hide a path: bind `/dev/null` over a file, a read-only tmpfs over a directory; absent paths are fine.
    MaskPath { target: CString, devnull: CString },
    /// Make a path read-only with a bind mount onto itself; absent paths are fine.
    ReadonlyPath { target: CString },
    /// `chdir(new_root)`, `pivot_root(".", ".")`, detach the old root stacked on `/`, `chdir("/")`.
    PivotRoot { new_root: CString },
    /// `sethostname`.
    SetHostname(Vec<u8>),
    /// `setsid`, as runc does: the command leads its own session, away from kiln's terminal.
    NewSession,
    /// Default signal actions, nothing blocked.
    ResetSignals,
    /// Bring `lo` up (new network namespace).
    LoopbackUp,
    /// `umask`.
    Umask(u32),
    /// `chdir`.
    Chdir(CString),
    /// Drop every capability not in `keep` from the bounding set, up to `last_cap`.
    DropBoundingSet { keep: u64, last_cap: u32 },
    /// `PR_SET_KEEPCAPS`.
    KeepCaps(bool),
    /// `setgroups`.
    SetGroups(Vec<u32>),
    /// `setresgid`.
    SetResGid(u32),
    /// `setresuid`.
    SetResUid(u32),
    /// `capset`.
    CapSet(CapSets),
    /// `PR_SET_NO_NEW_PRIVS`.
    NoNewPrivs,
    /// Install a seccomp filter.
    Seccomp(Vec<libc::sock_filter>),
    /// `PR_SET_PDEATHSIG(SIGKILL)`, then check that the parent still holds its end of the control socket
    /// (it may have died before the signal was armed).
    ParentDeathSignal,
    /// stdin from `stdin`, stdout and stderr to `out`.
    Stdio { stdin: Fd, out: Fd },
    /// Mark every descriptor above stderr close-on-exec.
    CloseExtraFds,
    /// Try each candidate path in order (a `PATH` search prepared by the parent), like `execvp`.
    Exec {
        candidates: Vec<CString>,
        /// Owns the strings `argv_ptrs` points into.
        _argv: Vec<CString>,
        argv_ptrs: Vec<*const c_char>,
        /// Owns the strings `envp_ptrs` points into.
        _envp: Vec<CString>,
        envp_ptrs: Vec<*const c_char>,
    },
}

impl Op {
    /// Builds an `Exec` step; the pointer vectors are NULL-terminated and point into the owned strings
    /// (moving a `CString` does not move its bytes, so the pointers stay valid).
    pub(crate) fn exec(candidates: Vec<CString>, argv: Vec<CString>, envp: Vec<CString>) -> Op {
        let ptrs =
            |v: &[CString]| v.iter().map(|s| s.as_ptr()).chain(std::iter::once(std::ptr::null())).collect();
        let argv_ptrs = ptrs(&argv);
        let envp_ptrs = ptrs(&envp);
        Op::Exec { candidates, _argv: argv, argv_ptrs, _envp: envp, envp_ptrs }
    }
}

/// A step and its description for error messages (with the path as the command sees it).
pub(crate) struct Step {
    pub(crate) op: Op,
    pub(crate) what: String,
}

/// Everything the child does, prepared by the parent.
pub(crate) struct ChildPlan {
    pub(crate) steps: Vec<Step>,
    /// The child's end of the control socket.
    pub(crate) ctrl: Fd,
}

/// What a failed child reports: which step, the errno, and a step-specific detail (the capability number, the
/// exec candidate index, the pivot sub-step).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Report {
    pub(crate) step: u32,
    pub(crate) errno: i32,
    pub(crate) detail: u32,
}

/// Size of an encoded [`Report`].
pub(crate) const REPORT_LEN: usize = 12;
/// Exit code of a child whose setup failed.
pub(crate) const SETUP_FAILED: i32 = 127;
/// `detail` of an exec failure meaning "no candidate was found".
pub(crate) const NOT_FOUND: u32 = u32::MAX;

impl Report {
    pub(crate) fn encode(self) -> [u8; REPORT_LEN] {
        let mut out = [0u8; REPORT_LEN];
        out[0..4].copy_from_slice(&self.step.to_ne_bytes());
        out[4..8].copy_from_slice(&self.errno.to_ne_bytes());
        out[8..12].copy_from_slice(&self.detail.to_ne_bytes());
        out
    }

    pub(crate) fn decode(bytes: &[u8; REPORT_LEN]) -> Report {
        let word = |i: usize| [bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]];
        Report {
            step: u32::from_ne_bytes(word(0)),
            errno: i32::from_ne_bytes(word(4)),
            detail: u32::from_ne_bytes(word(8)),
        }
    }
}

/// How a step ended.
enum Flow {
    /// Go on with the next step.
    Next,
    /// A fake `execve` reported that the program ran.
    Ran,
}

/// The child's whole life: run every step, or report the failing one. Child-safe: no allocation, no locks.
pub(crate) fn child_main(sys: &dyn Sys, plan: &ChildPlan) -> i32 {
    for (index, step) in plan.steps.iter().enumerate() {
        match run_op(sys, &step.op, plan.ctrl) {
            Ok(Flow::Next) => {}
            Ok(Flow::Ran) => return 0,
            Err((errno, detail)) => {
                let report = Report { step: index as u32, errno: errno.raw_os_error(), detail };
                // Nothing useful can be done if the parent is gone; exit either way.
                let _ = sys.write(plan.ctrl, &report.encode());
                return SETUP_FAILED;
            }
        }
    }
    // A plan always ends with Exec, which either replaces the process or fails above.
    SETUP_FAILED
}

fn opt(s: &Option<CString>) -> Option<&CStr> {
    s.as_deref()
}

fn run_op(sys: &dyn Sys, op: &Op, ctrl: Fd) -> Result<Flow, (Errno, u32)> {
    let plain = |r: Result<(), Errno>| r.map(|()| Flow::Next).map_err(|e| (e, 0));
    match op {
        Op::Mount { source, target, fstype, flags, data } => {
            plain(sys.mount(opt(source), target, opt(fstype), *flags, opt(data)))
        }
        Op::MaskPath { target, devnull } => {
            match sys.mount(Some(devnull), target, None, MountFlags::BIND, None) {
                Ok(()) | Err(Errno::NOENT) => Ok(Flow::Next),
                Err(Errno::NOTDIR) => {
                    plain(sys.mount(Some(c"tmpfs"), target, Some(c"tmpfs"), MountFlags::RDONLY, None))
                }
                Err(e) => Err((e, 0)),
            }
        }
        Op::ReadonlyPath { target } => {
            match sys.mount(Some(target), target, None, MountFlags::BIND | MountFlags::REC, None) {
                Err(Errno::NOENT) => return Ok(Flow::Next),
                Err(e) => return Err((e, 0)),
                Ok(()) => {}
            }
            let flags = MountFlags::REMOUNT
                | MountFlags::BIND
                | MountFlags::RDONLY
                | MountFlags::NOSUID
                | MountFlags::NODEV
                | MountFlags::NOEXEC;
            sys.mount(None, target, None, flags, None).map(|()| Flow::Next).map_err(|e| (e, 1))
        }
        Op::PivotRoot { new_root } => {
            sys.chdir(new_root).map_err(|e| (e, 0))?;
            sys.pivot_root(c".", c".").map_err(|e| (e, 1))?;
            sys.umount(c".", true).map_err(|e| (e, 2))?;
            sys.chdir(c"/").map_err(|e| (e, 3))?;
            Ok(Flow::Next)
        }
        Op::SetHostname(name) => plain(sys.sethostname(name)),
        Op::NewSession => plain(sys.setsid()),
        Op::ResetSignals => plain(sys.reset_signals()),
        Op::LoopbackUp => plain(sys.loopback_up()),
        Op::Umask(mask) => {
            sys.umask(*mask);
            Ok(Flow::Next)
        }
        Op::Chdir(path) => plain(sys.chdir(path)),
        Op::DropBoundingSet { keep, last_cap } => {
            for cap in 0..=*last_cap {
                if cap < 64 && keep & (1u64 << cap) != 0 {
                    continue;
                }
                sys.capbset_drop(cap).map_err(|e| (e, cap))?;
            }
            Ok(Flow::Next)
        }
        Op::KeepCaps(on) => plain(sys.set_keep_caps(*on)),
        Op::SetGroups(gids) => plain(sys.setgroups(gids)),
        Op::SetResGid(gid) => plain(sys.setresgid(*gid)),
        Op::SetResUid(uid) => plain(sys.setresuid(*uid)),
        Op::CapSet(sets) => plain(sys.capset(*sets)),
        Op::NoNewPrivs => plain(sys.set_no_new_privs()),
        Op::Seccomp(program) => plain(sys.seccomp_filter(program)),
        Op::ParentDeathSignal => {
            sys.set_parent_death_signal(libc::SIGKILL).map_err(|e| (e, 0))?;
            let mut fds = [PollFd { fd: ctrl, events: libc::POLLRDHUP, revents: 0 }];
            sys.poll(&mut fds, 0).map_err(|e| (e, 1))?;
            if fds[0].revents & (libc::POLLRDHUP | libc::POLLHUP) != 0 {
                // The parent died before the signal was armed: nobody would wait for us.
                return Err((Errno::SRCH, 2));
            }
            Ok(Flow::Next)
        }
        Op::Stdio { stdin, out } => {
            sys.dup2(*stdin, 0).map_err(|e| (e, 0))?;
            sys.dup2(*out, 1).map_err(|e| (e, 1))?;
            sys.dup2(*out, 2).map_err(|e| (e, 2))?;
            Ok(Flow::Next)
        }
        Op::CloseExtraFds => plain(sys.close_range_cloexec(3)),
        Op::Exec { candidates, argv_ptrs, envp_ptrs, .. } => exec(sys, candidates, argv_ptrs, envp_ptrs),
    }
}

/// `execvp`'s search: skip candidates that do not exist, remember a permission error, stop at any other error.
fn exec(
    sys: &dyn Sys,
    candidates: &[CString],
    argv: &[*const c_char],
    envp: &[*const c_char],
) -> Result<Flow, (Errno, u32)> {
    let single = candidates.len() == 1;
    let mut denied = None;
    for (i, path) in candidates.iter().enumerate() {
        match sys.execve(path, argv, envp) {
            Ok(()) => return Ok(Flow::Ran),
            Err(e) if single => return Err((e, 0)),
            Err(Errno::ACCESS) => denied = denied.or(Some(i as u32)),
            Err(Errno::NOENT | Errno::NOTDIR | Errno::STALE | Errno::NODEV | Errno::TIMEDOUT) => {}
            Err(e) => return Err((e, i as u32)),
        }
    }
    match denied {
        Some(i) => Err((Errno::ACCESS, i)),
        None => Err((Errno::NOENT, NOT_FOUND)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_round_trip() {
        let r = Report { step: 7, errno: 13, detail: NOT_FOUND };
        assert_eq!(Report::decode(&r.encode()), r);
    }
}
