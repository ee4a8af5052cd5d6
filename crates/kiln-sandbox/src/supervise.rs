//! The parent's side of a run: [`supervise`] waits for the cloned child's setup report (or end-of-file once
//! `execve` succeeded), streams its output line by line, kills it when the cancel flag is raised, reaps it,
//! and turns a child's [`Report`] into an error naming the failed step.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::child::{ChildPlan, NOT_FOUND, Op, REPORT_LEN, Report};
use crate::error::SandboxError;
use crate::sys::{ChildProcess, Errno, ExitStatus, Fd, PollFd, Sys};

/// How often the supervisor looks at the cancel flag while the command runs.
const POLL_INTERVAL_MS: i32 = 50;
/// How long to keep reading output after PID 1 exited (only a descriptor leaked to a concurrent fork
/// elsewhere in kiln could keep the pipe open that long).
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(1);
/// A line longer than this is passed on in pieces.
const MAX_LINE: usize = 64 * 1024;

/// A cloned child that is killed and reaped if the supervisor leaves early.
pub(crate) struct ChildGuard<'a> {
    pub(crate) sys: &'a dyn Sys,
    pub(crate) child: ChildProcess,
    pub(crate) reaped: bool,
}

impl Drop for ChildGuard<'_> {
    fn drop(&mut self) {
        if !self.reaped {
            let _ = self.sys.signal_child(self.child, libc::SIGKILL);
            let _ = self.sys.wait_child(self.child, true);
        }
        self.sys.close(self.child.pidfd);
    }
}

/// Splits output into lines for the callback.
struct Lines<'o> {
    pending: Vec<u8>,
    output: &'o mut (dyn FnMut(&[u8]) + Send),
}

impl Lines<'_> {
    fn push(&mut self, mut bytes: &[u8]) {
        while let Some(pos) = memchr(b'\n', bytes) {
            if self.pending.is_empty() {
                (self.output)(&bytes[..pos]);
            } else {
                self.pending.extend_from_slice(&bytes[..pos]);
                (self.output)(&self.pending);
                self.pending.clear();
            }
            bytes = &bytes[pos + 1..];
        }
        self.pending.extend_from_slice(bytes);
        if self.pending.len() >= MAX_LINE {
            (self.output)(&self.pending);
            self.pending.clear();
        }
    }

    fn finish(&mut self) {
        if !self.pending.is_empty() {
            (self.output)(&self.pending);
            self.pending.clear();
        }
    }
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

/// Waits for the child: its setup report (or end-of-file once `execve` succeeded), its output, its exit;
/// kills it when `cancel` is raised.
pub(crate) fn supervise(
    sys: &dyn Sys,
    guard: &mut ChildGuard<'_>,
    plan: &ChildPlan,
    ctrl: Fd,
    out: Fd,
    cancel: &AtomicBool,
    output: &mut (dyn FnMut(&[u8]) + Send),
) -> Result<ExitStatus, SandboxError> {
    let child = guard.child;
    let mut lines = Lines { pending: Vec::new(), output };
    let mut report = None;
    let (mut ctrl_open, mut out_open) = (true, true);
    let mut status = None;
    let mut killed = false;
    let mut drain_until = None;
    let mut buf = vec![0u8; 64 * 1024];
    let waiting = |e| SandboxError::setup("wait for the sandboxed process", e);
    loop {
        if status.is_some() && !ctrl_open && (!out_open || drain_until.is_some_and(|t| Instant::now() >= t)) {
            break;
        }
        if !killed && status.is_none() && cancel.load(Ordering::SeqCst) {
            match sys.signal_child(child, libc::SIGKILL) {
                Ok(()) | Err(Errno::SRCH) => killed = true,
                Err(e) => return Err(SandboxError::setup("kill the sandboxed process", e)),
            }
        }
        let mut fds = Vec::with_capacity(3);
        if ctrl_open {
            fds.push(PollFd { fd: ctrl, events: libc::POLLIN, revents: 0 });
        }
        if out_open {
            fds.push(PollFd { fd: out, events: libc::POLLIN, revents: 0 });
        }
        if status.is_none() {
            fds.push(PollFd { fd: child.pidfd, events: libc::POLLIN, revents: 0 });
        }
        sys.poll(&mut fds, POLL_INTERVAL_MS).map_err(waiting)?;
        for pfd in fds.iter().filter(|p| p.revents != 0) {
            if pfd.fd == ctrl {
                let mut msg = [0u8; REPORT_LEN];
                match sys.read(ctrl, &mut msg).map_err(waiting)? {
                    0 => ctrl_open = false,
                    REPORT_LEN => report = Some(Report::decode(&msg)),
                    _ => {}
                }
            } else if pfd.fd == out {
                match sys.read(out, &mut buf).map_err(waiting)? {
                    0 => out_open = false,
                    n => lines.push(&buf[..n]),
                }
            } else if let Some(done) = sys.wait_child(child, false).map_err(waiting)? {
                status = Some(done);
                guard.reaped = true;
                drain_until = Some(Instant::now() + DRAIN_AFTER_EXIT);
            }
        }
    }
    lines.finish();
    if let Some(report) = report {
        return Err(report_error(plan, report));
    }
    if killed {
        return Err(SandboxError::Cancelled);
    }
    status.ok_or_else(|| waiting(Errno::CHILD))
}

/// Turns a child's report into an error naming the step.
fn report_error(plan: &ChildPlan, report: Report) -> SandboxError {
    let errno = Errno::from_raw_os_error(report.errno);
    let Some(step) = plan.steps.get(report.step as usize) else {
        return SandboxError::setup(format!("unknown step {}", report.step), errno);
    };
    match &step.op {
        Op::Exec { candidates, .. } => {
            if report.detail == NOT_FOUND {
                let argv0 = step.what.trim_start_matches("exec ").trim_matches('"').to_owned();
                return SandboxError::NotFound { argv0 };
            }
            let path = candidates
                .get(report.detail as usize)
                .map_or_else(String::new, |p| p.to_string_lossy().into_owned());
            SandboxError::Exec { path, source: errno.into() }
        }
        Op::DropBoundingSet { .. } => {
            SandboxError::setup(format!("{} (capability {})", step.what, report.detail), errno)
        }
        Op::PivotRoot { .. } => {
            let sub = ["chdir into the new root", "pivot_root", "detach the old root", "chdir to /"];
            let sub = sub.get(report.detail as usize).copied().unwrap_or("?");
            SandboxError::setup(format!("{} ({sub})", step.what), errno)
        }
        _ => SandboxError::setup(step.what.clone(), errno),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_split_and_the_tail_flushed() {
        let mut seen: Vec<String> = Vec::new();
        let mut sink = |l: &[u8]| seen.push(String::from_utf8_lossy(l).into_owned());
        let mut lines = Lines { pending: Vec::new(), output: &mut sink };
        lines.push(b"one\ntw");
        lines.push(b"o\n\nthree");
        lines.finish();
        assert_eq!(seen, ["one", "two", "", "three"]);
    }
}
