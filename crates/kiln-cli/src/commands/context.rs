//! `kiln context ls` and `kiln context explain`: what a build would send from a context directory, and
//! why a path is in or out (which `.dockerignore` line decided), from kiln-context.

use std::path::{Path, PathBuf};

use clap::{Args as ClapArgs, Subcommand, ValueEnum};
use kiln_context::{Context, Listing, PathExplanation};

use super::render::{human_size, table};
use crate::exit::Outcome;

/// `kiln context` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// List what a build would send, with sizes per directory.
    Ls(LsArgs),
    /// Say whether a path is sent and which .dockerignore line decided.
    Explain(ExplainArgs),
}

/// Where the context is and which Dockerfile picks the ignore file.
#[derive(Debug, ClapArgs)]
pub(crate) struct Location {
    /// The Dockerfile (`<Dockerfile>.dockerignore` next to it wins over `.dockerignore`; `-`: none)
    /// [default: DIR/Dockerfile].
    #[arg(short = 'f', long = "file")]
    file: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// `kiln context ls` arguments.
#[derive(Debug, ClapArgs)]
pub(crate) struct LsArgs {
    /// The context directory.
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Show directories down to this depth (0: totals only).
    #[arg(long, default_value_t = 1)]
    depth: usize,
    #[command(flatten)]
    location: Location,
}

/// `kiln context explain` arguments.
#[derive(Debug, ClapArgs)]
pub(crate) struct ExplainArgs {
    /// The path to explain, relative to the context directory.
    path: String,
    /// The context directory.
    #[arg(default_value = ".")]
    dir: PathBuf,
    #[command(flatten)]
    location: Location,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

/// Runs a `kiln context` subcommand.
pub(crate) fn run(command: Command) -> anyhow::Result<Outcome> {
    match command {
        Command::Ls(args) => {
            let listing = open(&args.dir, &args.location)?.ls()?;
            for w in &listing.warnings {
                super::diagnostic::warn(&format!("{}:{}: {}", w.file.display(), w.line, w.message));
            }
            match args.location.format {
                Format::Json => crate::output::json(&listing)?,
                Format::Text => crate::output::text(&render_listing(&listing, args.depth)),
            }
        }
        Command::Explain(args) => {
            let explanation = open(&args.dir, &args.location)?.explain(&args.path)?;
            match args.location.format {
                Format::Json => crate::output::json(&explanation)?,
                Format::Text => crate::output::line(&render_explanation(&explanation)),
            }
        }
    }
    Ok(Outcome::Ok)
}

fn open(dir: &Path, location: &Location) -> anyhow::Result<Context> {
    let dockerfile = match &location.file {
        Some(f) if f.as_os_str() == "-" => None,
        Some(f) => Some(f.clone()),
        None => Some(kiln_context::default_dockerfile(dir)),
    };
    Ok(Context::from_dir(dir, dockerfile.as_deref())?)
}

fn render_listing(l: &Listing, depth: usize) -> String {
    let mut rows = vec![["SIZE".to_owned(), "FILES".to_owned(), "DIRECTORY".to_owned()]];
    for d in l.directories.iter().filter(|d| d.depth <= depth) {
        rows.push([human_size(d.bytes), d.files.to_string(), d.path.clone()]);
    }
    let mut out = format!(
        "context {} ({})\n",
        l.root.display(),
        l.ignore_file
            .as_ref()
            .map_or("no ignore file".to_owned(), |f| format!("ignore file {}", f.display()))
    );
    if depth > 0 {
        out.push_str(&table(&rows));
    }
    out.push_str(&format!("total: {} files, {} directories, {}\n", l.files, l.dirs, human_size(l.bytes)));
    if !l.skipped.is_empty() {
        out.push_str(&format!("excluded directories, not read: {}\n", l.skipped.join(" ")));
    }
    if l.excluded > 0 {
        out.push_str(&format!("excluded entries: {}\n", l.excluded));
    }
    out
}

fn render_explanation(e: &PathExplanation) -> String {
    let file = e.ignore_file.as_ref().map_or(".dockerignore".to_owned(), |f| f.display().to_string());
    let verdict = if e.included { "included" } else { "excluded" };
    let exists = if e.exists { "" } else { " (does not exist)" };
    match &e.decided_by {
        None => format!("{}{exists}: included: no pattern matches", e.path),
        Some(d) if !e.included || d.exception => {
            let via = if d.matched == e.path { String::new() } else { format!(" (matches {})", d.matched) };
            format!("{}{exists}: {verdict} by {file}:{}: {}{via}", e.path, d.line, d.pattern)
        }
        Some(d) => format!(
            "{}{exists}: included: excluded by {file}:{}: {}, but sent as the parent of paths an exception re-includes",
            e.path, d.line, d.pattern
        ),
    }
}
