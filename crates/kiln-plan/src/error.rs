//! [`PlanError`]: why a Dockerfile cannot be planned, with BuildKit's wording. Errors that belong to a
//! place in the Dockerfile are kiln-dockerfile [`ParseError`]s (`file:line:col`, rendered by miette with
//! the source line); the others name the flag value they are about.

use kiln_dockerfile::ParseError;

/// Why a Dockerfile cannot be planned.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[non_exhaustive]
pub enum PlanError {
    /// An error at a place in the Dockerfile: a FROM whose reference is blank or invalid after expansion, an
    /// unparsable `--platform`, `--from` naming an invalid stage index or using a variable, a circular
    /// dependency, a stage copied from before it is defined, an expansion error in a global ARG.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Dockerfile(Box<ParseError>),
    /// `--target` names no stage.
    #[error("target stage {target:?} could not be found{}", suggestion_text(.suggestion))]
    UnknownTarget {
        /// The requested target.
        target: String,
        /// The closest stage name, when one is close.
        suggestion: Option<String>,
    },
    /// The Dockerfile has no FROM at all.
    #[error("{file}: dockerfile contains no stages to build")]
    NoStages {
        /// The Dockerfile's name.
        file: String,
    },
    /// An ONBUILD trigger of a base image is not a valid instruction.
    #[error("invalid ONBUILD trigger {trigger:?} of {image}: {message}")]
    InvalidTrigger {
        /// The image whose config holds the trigger.
        image: String,
        /// The trigger as stored in the image config.
        trigger: String,
        /// What is wrong with it.
        message: String,
    },
    /// A stage index passed to a [`crate::BuildGraph`] method does not exist.
    #[error("no stage with index {0}")]
    NoSuchStage(usize),
}

fn suggestion_text(s: &Option<String>) -> String {
    s.as_ref().map(|s| format!(" (did you mean {s}?)")).unwrap_or_default()
}

impl From<ParseError> for PlanError {
    fn from(e: ParseError) -> Self {
        PlanError::Dockerfile(Box::new(e))
    }
}

impl PlanError {
    /// The located Dockerfile error, when this is one.
    pub fn parse_error(&self) -> Option<&ParseError> {
        match self {
            PlanError::Dockerfile(e) => Some(e),
            _ => None,
        }
    }
}
