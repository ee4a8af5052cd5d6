//! The subcommands: one module each, holding its clap arguments and a `run` that resolves them into a
//! library call and renders the result. A module over ~150 lines is a missing library function.

use std::path::PathBuf;

use clap::Subcommand;

use crate::exit::Outcome;

/// Options every subcommand sees.
#[derive(Debug)]
pub(crate) struct Global {
    /// `--root` / `KILN_ROOT`, when given.
    #[allow(dead_code)] // read by the store commands as they land
    pub(crate) root: Option<PathBuf>,
}

/// kiln's subcommands (only implemented ones are listed).
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Print the version.
    Version,
}

/// Runs one subcommand.
pub(crate) fn run(command: Command, _global: &Global) -> anyhow::Result<Outcome> {
    match command {
        Command::Version => {
            crate::output::line(env!("CARGO_PKG_VERSION"));
            Ok(Outcome::Ok)
        }
    }
}
