//! `kiln diff IMAGE_A IMAGE_B`: the files B adds, removes and changes compared with A, and how their sizes
//! compare (builder stage vs final stage: "B is 0.25% of A").

use clap::ValueEnum;

use crate::commands::Global;
use crate::commands::analyze::{SourceArgs, open};
use crate::exit::Outcome;
use crate::output;

/// Diff formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Text for the terminal.
    Tty,
    /// JSON.
    Json,
}

/// `kiln diff`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The first image (any image location, as for `kiln analyze`).
    image_a: String,
    /// The second image.
    image_b: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "tty")]
    format: Format,
    #[command(flatten)]
    source: SourceArgs,
}

pub(crate) fn run(args: Args, global: &Global) -> anyhow::Result<Outcome> {
    let options = kiln_analyze::AnalyzeOptions::default();
    let analyze = |name: &str| -> anyhow::Result<kiln_analyze::Analysis> {
        Ok(kiln_analyze::analyze(&open(global, name, &args.source)?, &options)?)
    };
    let a = analyze(&args.image_a)?;
    let b = analyze(&args.image_b)?;
    let diff = kiln_analyze::diff::diff(&a, &b);
    match args.format {
        Format::Tty => output::text(&kiln_analyze::render::text::diff(&diff)),
        Format::Json => output::json(&diff)?,
    }
    Ok(Outcome::Ok)
}
