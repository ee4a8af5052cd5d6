//! `kiln parse`: parse a Dockerfile and print its syntax tree (JSON) or BuildKit's `Node.Dump()` format.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args as ClapArgs, ValueEnum};
use kiln_dockerfile::ParseError;
use miette::{GraphicalReportHandler, GraphicalTheme};

use crate::exit::Outcome;

/// `kiln parse` arguments.
#[derive(Debug, ClapArgs)]
pub(crate) struct Args {
    /// The Dockerfile to read (`-` reads standard input).
    #[arg(short = 'f', long = "file", default_value = "Dockerfile")]
    file: PathBuf,
    /// Output format: the typed AST as JSON, or BuildKit's parser dump (its `result` test-file format).
    #[arg(long, value_enum, default_value_t = Format::Json)]
    format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Json,
    Dump,
}

/// Runs `kiln parse`.
pub(crate) fn run(args: Args) -> anyhow::Result<Outcome> {
    let (name, source) = if args.file.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).context("reading the Dockerfile from standard input")?;
        ("<stdin>".to_owned(), s)
    } else {
        let s = fs_err::read_to_string(&args.file)?;
        (args.file.display().to_string(), s)
    };
    match args.format {
        Format::Dump => {
            let tree = kiln_dockerfile::syntax::parse_syntax(&name, &source).map_err(rendered)?;
            warn(&tree.warnings, &name);
            crate::output::line(&tree.dump());
        }
        Format::Json => {
            let df = kiln_dockerfile::parse_named(&name, &source).map_err(rendered)?;
            warn(&df.warnings, &name);
            crate::output::json(&serde_json::json!({
                "file": name,
                "directives": df.directives,
                "instructions": df.instructions,
                "comments": df.comments(),
                "warnings": df.warnings,
            }))?;
        }
    }
    Ok(Outcome::Ok)
}

#[allow(clippy::print_stderr)] // warnings are diagnostics, not data
fn warn(warnings: &[kiln_dockerfile::Warning], file: &str) {
    for w in warnings {
        eprintln!("warning: {file}:{}: {}: {} ({})", w.span.line, w.rule, w.message, w.url);
    }
}

/// The error with its source line underlined (no colour unless stderr is a terminal and `NO_COLOR` is
/// unset).
fn rendered(e: ParseError) -> anyhow::Error {
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let theme = if color { GraphicalTheme::unicode() } else { GraphicalTheme::unicode_nocolor() };
    let mut snippet = String::new();
    let _ = GraphicalReportHandler::new_themed(theme).render_report(&mut snippet, &e);
    anyhow::anyhow!("{}:{}:{}: {}\n{snippet}", e.file, e.line, e.col, e.message())
}
