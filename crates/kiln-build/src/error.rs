//! [`BuildError`]: why a build failed. Errors that belong to an instruction are wrapped in
//! [`BuildError::Step`], which names the Dockerfile location, the stage and the instruction; a failed RUN
//! ([`RunFailure`]) also carries the exit status and the last lines of its output.

use std::path::PathBuf;

use kiln_context::ContextError;
use kiln_dockerfile::ParseError;
use kiln_layer::LayerError;
use kiln_plan::PlanError;
use kiln_sandbox::SandboxError;
use kiln_store::StoreError;

use crate::base::BaseImageError;

/// How many lines of a failed command's output an error keeps.
pub const OUTPUT_TAIL_LINES: usize = 20;

/// A RUN command that ran and failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunFailure {
    /// The command as run (argv joined with spaces, as BuildKit prints it).
    pub command: String,
    /// `exit code: N` or `signal: N`.
    pub status: String,
    /// The exit code, when the command exited (not killed).
    pub exit_code: Option<i32>,
    /// The last lines of its output (at most [`OUTPUT_TAIL_LINES`]).
    pub output_tail: Vec<String>,
}

/// Where in the Dockerfile a failing step is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepLocation {
    /// `Dockerfile:12` or `Dockerfile:12-14`.
    pub location: String,
    /// The stage's display name.
    pub stage: String,
    /// The instruction as written (first line).
    pub instruction: String,
}

impl std::fmt::Display for StepLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: stage {}: {}", self.location, self.stage, self.instruction)
    }
}

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// An error while executing one instruction.
    #[error("{at}: {source}")]
    Step {
        /// Where.
        at: Box<StepLocation>,
        /// What went wrong.
        source: Box<BuildError>,
    },
    /// A RUN command exited non-zero (BuildKit's wording).
    #[error("process {:?} did not complete successfully: {}", .0.command, .0.status)]
    RunFailed(Box<RunFailure>),
    /// An instruction could not be expanded or is invalid (with `file:line:col`).
    #[error(transparent)]
    Dockerfile(Box<ParseError>),
    /// The stage graph could not be completed (ONBUILD triggers of a base image).
    #[error(transparent)]
    Plan(Box<PlanError>),
    /// A base image could not be resolved.
    #[error(transparent)]
    BaseImage(#[from] BaseImageError),
    /// The store failed.
    #[error("{action}: {source}")]
    Store {
        /// What was being done.
        action: String,
        /// The store's error.
        source: StoreError,
    },
    /// The sandbox could not run a command.
    #[error("{source}")]
    Sandbox {
        /// The sandbox's error.
        source: SandboxError,
    },
    /// The build context could not be read.
    #[error("{source}")]
    Context {
        /// The context's error.
        source: ContextError,
    },
    /// A layer could not be written or read.
    #[error("{what}: {source}")]
    Layer {
        /// Which layer or file.
        what: String,
        /// The codec's error.
        source: LayerError,
    },
    /// A file operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// An ADD URL could not be fetched or did not match its checksum.
    #[error("{url}: {message}")]
    Fetch {
        /// The URL.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The request or an instruction asks for something kiln cannot do, or names something that does not
    /// exist (a secret, an ssh agent, a user).
    #[error("{0}")]
    Invalid(String),
    /// The build was cancelled (Ctrl-C, or another stage failed).
    #[error("the build was cancelled")]
    Cancelled,
}

impl BuildError {
    /// The failed RUN behind this error, if that is what it is.
    pub fn run_failure(&self) -> Option<&RunFailure> {
        match self {
            BuildError::RunFailed(f) => Some(f),
            BuildError::Step { source, .. } => source.run_failure(),
            _ => None,
        }
    }

    /// The instruction this error belongs to, if any.
    pub fn location(&self) -> Option<&StepLocation> {
        match self {
            BuildError::Step { at, .. } => Some(at),
            _ => None,
        }
    }

    /// Whether the build stopped because it was cancelled.
    pub fn is_cancelled(&self) -> bool {
        match self {
            BuildError::Cancelled | BuildError::Sandbox { source: SandboxError::Cancelled } => true,
            BuildError::Step { source, .. } => source.is_cancelled(),
            _ => false,
        }
    }

    pub(crate) fn store(action: impl Into<String>) -> impl FnOnce(StoreError) -> BuildError {
        let action = action.into();
        move |source| BuildError::Store { action, source }
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> BuildError {
        let path = path.into();
        move |source| BuildError::Io { action, path, source }
    }

    pub(crate) fn layer(what: impl Into<String>) -> impl FnOnce(LayerError) -> BuildError {
        let what = what.into();
        move |source| BuildError::Layer { what, source }
    }
}

impl From<ParseError> for BuildError {
    fn from(e: ParseError) -> Self {
        BuildError::Dockerfile(Box::new(e))
    }
}

impl From<PlanError> for BuildError {
    fn from(e: PlanError) -> Self {
        BuildError::Plan(Box::new(e))
    }
}

impl From<ContextError> for BuildError {
    fn from(source: ContextError) -> Self {
        BuildError::Context { source }
    }
}

impl From<SandboxError> for BuildError {
    fn from(source: SandboxError) -> Self {
        BuildError::Sandbox { source }
    }
}
