//! Exit codes and error reporting: every failure prints its whole cause chain on stderr and maps to the
//! exit code of DESIGN.md's CLI conventions.

use std::fmt;
use std::process::ExitCode;

/// What a successful command run means for the exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Exit 0.
    Ok,
    /// Exit 1: findings over the user's threshold (lint, scan, analyze gates).
    #[allow(dead_code)] // used by lint, scan and analyze as they land
    Findings,
}

impl From<Outcome> for ExitCode {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Ok => ExitCode::SUCCESS,
            Outcome::Findings => ExitCode::from(1),
        }
    }
}

/// A Ctrl-C (or SIGTERM) ended the command; it exits 130.
#[derive(Debug, Clone, Copy)]
#[allow(dead_code)] // raised by long-running commands (build, load) as they land
pub(crate) struct Interrupted;

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("interrupted")
    }
}

impl std::error::Error for Interrupted {}

/// Prints `err` with its causes and returns the exit code: 130 when interrupted, 2 otherwise.
#[allow(clippy::print_stderr)] // reporting errors is the binary's job
pub(crate) fn report(err: &anyhow::Error) -> ExitCode {
    if err.downcast_ref::<Interrupted>().is_some() {
        eprintln!("kiln: interrupted");
        return ExitCode::from(130);
    }
    eprintln!("error: {err}");
    for cause in err.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
    ExitCode::from(2)
}
