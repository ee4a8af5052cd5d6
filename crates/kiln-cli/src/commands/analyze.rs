//! `kiln analyze IMAGE`: where an image's bytes go (dive's efficiency and wasted bytes, findings with their
//! Dockerfile lines, suggestions) as text, JSON or a one-file HTML report; dive's CI gates; and the
//! interactive view (`-i`).

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;
use clap::ValueEnum;
use kiln_analyze::ci::{CiConfig, CiFlags};
use kiln_analyze::{Analysis, AnalyzeOptions, ImageSource};
use kiln_oci::{ImageLocation, Platform};

use crate::commands::{Global, open_store};
use crate::exit::Outcome;
use crate::output;

/// Report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Text for the terminal.
    Tty,
    /// The whole analysis as JSON.
    Json,
    /// A self-contained HTML report.
    Html,
}

/// `kiln analyze`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The image: in the store, or `oci:DIR[:ref]`, `oci-archive:FILE[:ref]`, `docker-archive:FILE[:ref]`.
    image: String,
    /// Report format.
    #[arg(long, value_enum, default_value = "tty")]
    format: Format,
    /// Write the report to FILE instead of stdout.
    #[arg(short = 'o', long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Explore the image in a terminal UI (layers, file tree, changes).
    #[arg(short = 'i', long, conflicts_with_all = ["format", "output", "ci"])]
    interactive: bool,
    /// Check dive's CI gates and exit 1 when one fails (also on when CI=true, as with dive, for tty output).
    #[arg(long, overrides_with = "no_ci")]
    ci: bool,
    /// Do not check the CI gates, even with CI=true.
    #[arg(long, overrides_with = "ci")]
    no_ci: bool,
    /// dive's CI rules file.
    #[arg(long, value_name = "FILE", default_value = ".dive-ci")]
    ci_config: PathBuf,
    /// Fail when the efficiency is below RATIO (0-1; dive's default 0.9; `disabled` turns it off).
    #[arg(long, alias = "lowestEfficiency", value_name = "RATIO")]
    lowest_efficiency: Option<String>,
    /// Fail when the wasted bytes exceed SIZE (e.g. 20MB; default disabled).
    #[arg(long, alias = "highestWastedBytes", value_name = "SIZE")]
    highest_wasted_bytes: Option<String>,
    /// Fail when wasted / user bytes exceeds RATIO (0-1; default 0.1).
    #[arg(long, alias = "highestUserWastedPercent", value_name = "RATIO")]
    highest_user_wasted_percent: Option<String>,
    /// Compute each layer's gzip size when the source does not record it (one more pass).
    #[arg(long, overrides_with = "no_compressed_size")]
    compressed_size: bool,
    /// Do not compute compressed sizes.
    #[arg(long, overrides_with = "compressed_size")]
    no_compressed_size: bool,
    #[command(flatten)]
    source: SourceArgs,
}

/// How to find an image (shared with `kiln diff`).
#[derive(Debug, clap::Args)]
pub(crate) struct SourceArgs {
    /// Platform to pick from multi-platform sources (default: this machine's).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    platform: Option<String>,
}

/// Opens the image `name` from the store or any transport.
pub(crate) fn open(global: &Global, name: &str, args: &SourceArgs) -> anyhow::Result<ImageSource> {
    let platform = match &args.platform {
        Some(p) => Platform::parse(p).with_context(|| format!("--platform {p:?}"))?,
        None => Platform::host(),
    };
    let location = ImageLocation::parse(name).with_context(|| format!("image {name:?}"))?;
    let store = match location {
        ImageLocation::Store(_) | ImageLocation::StoreId(_) => Some(open_store(global)?),
        _ => None,
    };
    Ok(kiln_analyze::open_image(name, store.as_ref(), &platform)?)
}

/// True when `CI` is set to a value Go's `strconv.ParseBool` reads as true (dive turns on its gates then).
fn ci_env() -> bool {
    std::env::var("CI").is_ok_and(|v| matches!(v.as_str(), "1" | "t" | "T" | "true" | "TRUE" | "True"))
}

pub(crate) fn run(args: Args, global: &Global) -> anyhow::Result<Outcome> {
    let source = open(global, &args.image, &args.source)?;
    let options = AnalyzeOptions { compressed_size: args.compressed_size, ..AnalyzeOptions::default() };
    let analysis = kiln_analyze::analyze(&source, &options)?;
    if args.interactive {
        anyhow::ensure!(std::io::stdout().is_terminal(), "the interactive view (-i) needs a terminal");
        kiln_analyze::tui::run(&analysis)?;
        return Ok(Outcome::Ok);
    }
    let gates = !args.no_ci && (args.ci || (args.format == Format::Tty && ci_env()));
    let ci = gates
        .then(|| {
            let flags = CiFlags {
                lowest_efficiency: args.lowest_efficiency.clone(),
                highest_wasted_bytes: args.highest_wasted_bytes.clone(),
                highest_user_wasted_percent: args.highest_user_wasted_percent.clone(),
            };
            let config = CiConfig::load(&args.ci_config, &flags)?;
            let outcome = kiln_analyze::ci::evaluate(&config, &analysis);
            anyhow::Ok((config, outcome))
        })
        .transpose()?;
    let report = match args.format {
        Format::Tty => match &ci {
            Some((config, outcome)) => kiln_analyze::ci::render(&analysis, config, outcome),
            None => kiln_analyze::render::text::analysis(&analysis),
        },
        Format::Json => json(&analysis, ci.as_ref().map(|(_, o)| o))?,
        Format::Html => kiln_analyze::render::html::html(&analysis)?,
    };
    match &args.output {
        Some(path) => fs_err::write(path, report)?,
        None => output::text(&report),
    }
    Ok(match ci {
        Some((_, outcome)) if !outcome.pass => Outcome::Findings,
        _ => Outcome::Ok,
    })
}

fn json(analysis: &Analysis, ci: Option<&kiln_analyze::ci::CiOutcome>) -> anyhow::Result<String> {
    let mut value = serde_json::to_value(analysis)?;
    if let (Some(ci), Some(map)) = (ci, value.as_object_mut()) {
        map.insert("ci".into(), serde_json::to_value(ci)?);
    }
    Ok(serde_json::to_string_pretty(&value)? + "\n")
}
