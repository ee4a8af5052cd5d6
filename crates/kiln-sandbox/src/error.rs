//! [`SandboxError`]: why a run could not start or finish; every variant names the step and the path.

use std::io;

use crate::user::UserError;

/// Why a sandboxed run failed (a command that ran and exited non-zero is not an error: see
/// [`crate::RunOutcome::status`]).
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The sandbox needs root; the rootless mode (a user namespace with a uid map) is not implemented.
    #[error(
        "the RUN sandbox needs root (running as uid {uid}): rootless builds, which need a user namespace with \
         a uid map, are not supported yet; run kiln as root (for example with sudo)"
    )]
    NotRoot {
        /// The effective uid.
        uid: u32,
    },
    /// The spec is unusable (an empty command, a relative path, a NUL byte...).
    #[error("invalid run spec: {field}: {reason}")]
    InvalidSpec {
        /// Which field.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A setup step failed; `step` says what was being done and to which path.
    #[error("sandbox setup failed: {step}: {source}{hint}", hint = hint(step, source))]
    Setup {
        /// The step, with its path (for example "mount proc at /proc").
        step: String,
        /// The kernel's answer.
        source: io::Error,
    },
    /// The `USER` value could not be resolved in the rootfs.
    #[error("resolving USER {spec:?} in the rootfs: {source}")]
    User {
        /// The value.
        spec: String,
        /// Why.
        source: UserError,
    },
    /// `argv[0]` was not found in any `PATH` directory.
    #[error("exec {argv0:?}: executable file not found in $PATH")]
    NotFound {
        /// The command name.
        argv0: String,
    },
    /// `execve` of an existing path failed.
    #[error("exec {path}: {source}")]
    Exec {
        /// The path inside the rootfs.
        path: String,
        /// The kernel's answer.
        source: io::Error,
    },
    /// The cancel flag was raised; the process tree was killed and reaped.
    #[error("the run was cancelled")]
    Cancelled,
}

/// Steps that fail with `EPERM` when kiln lacks real root privileges (in a restricted container).
const PRIVILEGED_STEPS: &[&str] =
    &["mount", "unshare", "clone", "pivot_root", "hostname", "capabilit", "loopback"];

/// A hint for errors that usually mean the environment, not kiln, is at fault.
fn hint(step: &str, source: &io::Error) -> &'static str {
    match source.raw_os_error() {
        Some(libc::EPERM) if PRIVILEGED_STEPS.iter().any(|s| step.contains(s)) => {
            " (kiln runs RUN steps in new namespaces and needs the privileges of real root; inside a container \
             that means --privileged or equivalent)"
        }
        _ => "",
    }
}

impl SandboxError {
    /// A setup error from a step description and an errno.
    pub(crate) fn setup(step: impl Into<String>, errno: rustix::io::Errno) -> SandboxError {
        SandboxError::Setup { step: step.into(), source: errno.into() }
    }

    /// An invalid-spec error.
    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> SandboxError {
        SandboxError::InvalidSpec { field: field.into(), reason: reason.into() }
    }
}
