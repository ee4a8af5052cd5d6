//! `kiln db import PATH` / `kiln db status`: the offline OSV vulnerability database (kiln-vuln) that
//! `kiln scan` matches against, kept in the store at `<root>/v1/vulndb/` unless `--db` names another
//! directory.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args as ClapArgs, Subcommand};
use kiln_vuln::VulnDb;

use crate::commands::{Global, open_store};
use crate::exit::Outcome;
use crate::output;

/// `kiln db` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Import OSV records: JSON files, directories of them, or OSV's per-ecosystem zip archives.
    Import(ImportArgs),
    /// Show what the database holds: advisories per ecosystem, newest record, past imports.
    Status(StatusArgs),
}

/// Where the database is.
#[derive(Debug, ClapArgs)]
pub(crate) struct DbArg {
    /// The database directory (default: `<store root>/v1/vulndb`).
    #[arg(long, value_name = "DIR")]
    pub(crate) db: Option<PathBuf>,
}

/// `kiln db import` arguments.
#[derive(Debug, ClapArgs)]
pub(crate) struct ImportArgs {
    /// OSV JSON files, directories of them, or zip archives (`all.zip` per ecosystem).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    db: DbArg,
    /// Print the import report as JSON.
    #[arg(long)]
    json: bool,
}

/// `kiln db status` arguments.
#[derive(Debug, ClapArgs)]
pub(crate) struct StatusArgs {
    #[command(flatten)]
    db: DbArg,
    /// Print the status as JSON.
    #[arg(long)]
    json: bool,
}

/// The database directory `arg` names, or the store's.
pub(crate) fn db_dir(arg: &DbArg, global: &Global) -> anyhow::Result<PathBuf> {
    match &arg.db {
        Some(dir) => Ok(dir.clone()),
        None => Ok(open_store(global)?.root().join("v1").join("vulndb")),
    }
}

/// Opens the database for lookups.
pub(crate) fn open(dir: &Path) -> anyhow::Result<VulnDb> {
    VulnDb::open(dir).with_context(|| format!("opening the vulnerability database in {}", dir.display()))
}

pub(crate) fn run(command: Command, global: &Global) -> anyhow::Result<Outcome> {
    match command {
        Command::Import(args) => {
            let dir = db_dir(&args.db, global)?;
            let mut db = VulnDb::create(&dir)?;
            let mut reports = Vec::new();
            for path in &args.paths {
                let report = db.import(path).with_context(|| format!("importing {}", path.display()))?;
                if !args.json {
                    let ecosystems: Vec<String> =
                        report.by_ecosystem.iter().map(|(e, n)| format!("{e} {n}")).collect();
                    output::line(&format!(
                        "{}: {} file(s), {} record(s) stored, {} unchanged{}",
                        path.display(),
                        report.files,
                        report.stored,
                        report.unchanged,
                        if ecosystems.is_empty() {
                            String::new()
                        } else {
                            format!(" ({})", ecosystems.join(", "))
                        }
                    ));
                }
                reports.push(report);
            }
            if args.json {
                output::json(&reports)?;
            }
            Ok(Outcome::Ok)
        }
        Command::Status(args) => {
            let dir = db_dir(&args.db, global)?;
            let status = open(&dir)?.status()?;
            if args.json {
                output::json(&status)?;
                return Ok(Outcome::Ok);
            }
            output::line(&format!("database: {}", status.path.display()));
            output::line(&format!("advisories: {}", status.advisories));
            for (eco, n) in &status.by_ecosystem {
                output::line(&format!("  {eco}: {n}"));
            }
            output::line(&format!("newest record: {}", status.newest_modified.as_deref().unwrap_or("-")));
            output::line(&format!("last import: {}", status.last_import.as_deref().unwrap_or("-")));
            Ok(Outcome::Ok)
        }
    }
}
