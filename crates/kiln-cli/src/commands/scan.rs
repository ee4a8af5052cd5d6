//! `kiln scan IMAGE`: one pass over the image's layers feeds the SBOM cataloger (kiln-sbom) and the
//! audit (kiln-audit: secrets and image checks) together; the packages are then matched against the
//! offline OSV database (kiln-vuln). Ignores, severity filters and the `--fail-on` threshold are applied
//! here ([`report`]), and the result is rendered as a table, JSON or SARIF ([`sarif`]). Exit 1 when a
//! finding reaches `--fail-on`.

mod ignore;
mod report;
mod sarif;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args as ClapArgs, ValueEnum};
use kiln_audit::{AuditOptions, LayerAudit};
use kiln_oci::ImageLocation;
use kiln_sbom::walk::{Content, LayerVisitor, Want};
use kiln_sbom::{CatalogOptions, ImageSource, SbomError};
use kiln_vuln::MatchOptions;

use crate::commands::db::{DbArg, db_dir};
use crate::commands::diagnostic::warn;
use crate::commands::{Global, open_store};
use crate::exit::Outcome;
use crate::output;
pub(crate) use report::Level;
pub(crate) use report::scrub_history;

/// `kiln scan` arguments.
#[derive(Debug, ClapArgs)]
pub(crate) struct Args {
    /// The image: in the store, or `oci:DIR[:ref]`, `oci-archive:FILE[:ref]`, `docker-archive:FILE[:ref]`.
    image: String,
    #[command(flatten)]
    db: DbArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Write the report to this file instead of stdout.
    #[arg(short = 'o', long)]
    output: Option<PathBuf>,
    /// Report only findings of these levels (comma-separated; default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    severity: Vec<Level>,
    /// Exit 1 when a reported finding is at this level or above.
    #[arg(long, value_enum)]
    fail_on: Option<Level>,
    /// Leave out vulnerabilities that have no fixed version.
    #[arg(long, overrides_with = "no_ignore_unfixed")]
    ignore_unfixed: bool,
    /// Report vulnerabilities without a fix too (the default).
    #[arg(long)]
    no_ignore_unfixed: bool,
    /// A YAML file of ignores (`ignores: [{id, reason, expires?, package?, path?}]`).
    #[arg(long, value_name = "FILE")]
    ignore_file: Option<PathBuf>,
    /// Run only these scanners (comma-separated; default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<Scanner>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Sections for people: vulnerabilities, secrets, audit.
    Table,
    /// The whole report as JSON.
    Json,
    /// SARIF 2.1.0 (code-scanning services).
    Sarif,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scanner {
    /// Known vulnerabilities of the installed packages.
    Vulns,
    /// Leaked credentials in layers, config and history.
    Secrets,
    /// CIS-style image checks.
    Audit,
}

/// The audit's per-layer collector, fed by the SBOM's layer walk.
struct AuditVisitor(LayerAudit);

impl LayerVisitor for AuditVisitor {
    fn wants(&mut self, entry: &kiln_sbom::walk::Entry, head: &[u8]) -> Want {
        self.0.wants(entry, head).map_or(Want::Head, Want::UpTo)
    }

    fn visit(&mut self, entry: &kiln_sbom::walk::Entry, content: Content<'_>) -> Result<(), SbomError> {
        self.0.visit(entry, content.bytes, content.complete);
        Ok(())
    }
}

pub(crate) fn run(args: Args, global: &Global) -> anyhow::Result<Outcome> {
    let destination = args.output.clone();
    let (text, outcome) = scan(args, global)?;
    match destination {
        Some(path) => fs_err::write(path, text)?,
        None => output::text(&text),
    }
    Ok(outcome)
}

/// `kiln build --scan`: scans the image just built (`id`) and prints the table on stderr, next to the
/// build's progress. Without a vulnerability database only secrets and the audit run, with a warning.
pub(crate) fn after_build(id: &str, fail_on: Option<Level>, global: &Global) -> anyhow::Result<Outcome> {
    let db = DbArg { db: None };
    let has_db = db_dir(&db, global).is_ok_and(|dir| crate::commands::db::open(&dir).is_ok());
    if !has_db {
        warn("no vulnerability database (kiln db import): the build scan checks secrets and the audit only");
    }
    let args = Args {
        image: id.to_owned(),
        db,
        format: Format::Table,
        output: None,
        severity: Vec::new(),
        fail_on,
        ignore_unfixed: false,
        no_ignore_unfixed: false,
        ignore_file: None,
        only: if has_db { Vec::new() } else { vec![Scanner::Secrets, Scanner::Audit] },
    };
    let (text, outcome) = scan(args, global)?;
    #[allow(clippy::print_stderr)] // the build's scan report goes beside its progress, not to stdout
    {
        eprint!("{text}");
    }
    Ok(outcome)
}

/// Scans `args.image` and renders the report in `args.format`, with the `--fail-on` outcome.
fn scan(args: Args, global: &Global) -> anyhow::Result<(String, Outcome)> {
    let enabled = |s| args.only.is_empty() || args.only.contains(&s);
    let ignores = match &args.ignore_file {
        Some(path) => ignore::load(path)?,
        None => Vec::new(),
    };
    let store = open_store(global)?;
    let db = if enabled(Scanner::Vulns) {
        let dir = db_dir(&args.db, global)?;
        Some(crate::commands::db::open(&dir).context("use --only secrets,audit to scan without it")?)
    } else {
        None
    };
    let location = ImageLocation::parse(&args.image).with_context(|| format!("image {:?}", args.image))?;
    let image = ImageSource::open(&store, &location, &args.image)?;
    let audit_opts = AuditOptions {
        secrets: enabled(Scanner::Secrets),
        checks: enabled(Scanner::Audit),
        ..AuditOptions::default()
    };
    let (sbom, layers) = kiln_sbom::catalog_with(&image, &CatalogOptions::default(), |layer| {
        AuditVisitor(LayerAudit::new(layer.index, &audit_opts))
    })?;
    for w in &sbom.warnings {
        warn(&w.to_string());
    }
    let audit =
        kiln_audit::audit_layers(image.config(), layers.into_iter().map(|v| v.0).collect(), &audit_opts);
    let vulns = match &db {
        Some(db) => {
            let options = MatchOptions { ignore_unfixed: args.ignore_unfixed, visible_only: false };
            let found = db.match_packages(&kiln_vuln::installed(&sbom), &options)?;
            for u in &found.unparsable {
                warn(&format!("version not comparable: {u}"));
            }
            Some(found)
        }
        None => None,
    };
    let today = time::OffsetDateTime::now_utc().date();
    let report =
        report::Report::new(&sbom, vulns, audit, audit_opts.secrets, &ignores, today, &args.severity);
    for problem in &report.ignore_problems {
        warn(&problem.to_string());
    }
    let text = match args.format {
        Format::Table => report.table(),
        Format::Json => serde_json::to_string_pretty(&report)? + "\n",
        Format::Sarif => serde_json::to_string_pretty(&sarif::document(&report))? + "\n",
    };
    let outcome = match args.fail_on {
        Some(level) if report.worst().is_some_and(|w| w >= level) => Outcome::Findings,
        _ => Outcome::Ok,
    };
    Ok((text, outcome))
}
