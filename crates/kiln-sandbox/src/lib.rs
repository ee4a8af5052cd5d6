//! kiln-sandbox runs one process in a root filesystem, isolated the way BuildKit isolates a `RUN` step:
//! [`Sandbox::run`] takes a [`RunSpec`] (an overlay of lower directories with a fresh upper directory, or a
//! plain directory; the command, environment, user, working directory, network mode, extra mounts) and
//! returns a [`RunOutcome`] (exit status, mount-point placeholders it cleaned up). It knows nothing about
//! images or layers: the caller turns the upper directory into a layer afterwards.
//!
//! Isolation: new mount, PID, UTS and IPC namespaces (and a network namespace with only `lo` for
//! [`Network::None`]); the command is PID 1 and leads its own session; `pivot_root` into an overlay mounted
//! in a private mount namespace; fresh `/proc` (with containerd's masked and read-only paths), read-only
//! `/sys`, a minimal `/dev`; `/etc/resolv.conf` and `/etc/hosts` bound read-only from a private tmpfs;
//! Docker's default capability set as bounding set (none effective for other users); `no_new_privs`; a
//! seccomp filter refusing what Docker's default profile refuses. Nothing is ever mounted in the host's mount
//! namespace, and everything dies with the command or with kiln.
//!
//! Also here: [`resolve_user`] (Dockerfile `USER` → ids, BuildKit's rules) and [`Sandbox::with_view`] (a
//! read-only merged view of layers, to read their `/etc/passwd` without a run).
//!
//! Every kernel call goes through the [`Sys`] trait: [`LinuxSys`] in production, [`RecordingSys`] in unit
//! tests, always passed in by the caller. Root is required; rootless mode is refused with
//! [`SandboxError::NotRoot`].

mod caps;
mod child;
mod error;
mod etc;
#[cfg(test)]
mod fake_runs;
mod overlay;
mod resolve;
mod run;
mod seccomp;
mod spec;
mod supervise;
pub mod sys;
mod user;

pub use caps::{DEFAULT_CAPABILITIES, default_capability_mask};
pub use error::SandboxError;
pub use etc::{hosts_file, resolv_conf};
pub use run::{RunOutcome, Sandbox};
pub use spec::{
    BindAccess, DEFAULT_HOSTNAME, DEFAULT_PATH, EtcFile, EtcFiles, Ids, Mount, Network, Rootfs, RunSpec,
    Security, User,
};
pub use sys::{ExitStatus, LinuxSys, RecordingSys, Sys};
pub use user::{UserError, resolve_user};
