//! `kiln sbom IMAGE`: the image's software bill of materials (kiln-sbom) as CycloneDX 1.5, SPDX 2.3, kiln
//! JSON or a table, on stdout or in a file.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args as ClapArgs, ValueEnum};
use kiln_oci::ImageLocation;
use kiln_sbom::format::{Format, OutputOptions};
use kiln_sbom::{CatalogOptions, ImageSource};

use crate::commands::diagnostic::warn;
use crate::commands::{Global, open_store};
use crate::exit::Outcome;
use crate::output;

/// `kiln sbom` arguments.
#[derive(Debug, ClapArgs)]
pub(crate) struct Args {
    /// The image: in the store, or `oci:DIR[:ref]`, `oci-archive:FILE[:ref]`, `docker-archive:FILE[:ref]`.
    image: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Table)]
    format: FormatArg,
    /// Write to this file instead of stdout.
    #[arg(short = 'o', long)]
    output: Option<PathBuf>,
    /// Also list packages that a later layer deleted (their bytes are still in the image).
    #[arg(long, overrides_with = "no_all_layers")]
    all_layers: bool,
    /// List only packages present in the final filesystem (the default).
    #[arg(long)]
    no_all_layers: bool,
    /// Also read lockfiles (package-lock.json, Cargo.lock): declared, not installed, dependencies.
    #[arg(long, overrides_with = "no_lockfiles")]
    lockfiles: bool,
    /// Do not read lockfiles (the default, like syft for images).
    #[arg(long)]
    no_lockfiles: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FormatArg {
    /// CycloneDX 1.5 JSON.
    Cyclonedx,
    /// SPDX 2.3 JSON.
    Spdx,
    /// kiln's JSON, with every field (layers, Dockerfile lines, deleted packages).
    Json,
    /// A table for people.
    Table,
}

pub(crate) fn run(args: Args, global: &Global) -> anyhow::Result<Outcome> {
    let store = open_store(global)?;
    let location = ImageLocation::parse(&args.image).with_context(|| format!("image {:?}", args.image))?;
    let image = ImageSource::open(&store, &location, &args.image)?;
    let options = CatalogOptions { lockfiles: args.lockfiles, ..CatalogOptions::default() };
    let mut sbom = kiln_sbom::catalog(&image, &options)?;
    // History commands can hold build arguments: never print a secret.
    crate::commands::scan::scrub_history(&mut sbom.image);
    for w in &sbom.warnings {
        warn(&w.to_string());
    }
    let format = match args.format {
        FormatArg::Cyclonedx => Format::CycloneDx,
        FormatArg::Spdx => Format::Spdx,
        FormatArg::Json => Format::Json,
        FormatArg::Table => Format::Table,
    };
    let mut out_opts = OutputOptions { all_layers: args.all_layers, ..OutputOptions::default() };
    if let Some(epoch) = source_date_epoch()? {
        out_opts.timestamp = time::OffsetDateTime::from_unix_timestamp(epoch)
            .with_context(|| format!("SOURCE_DATE_EPOCH={epoch}"))?;
    }
    let mut buf = Vec::new();
    kiln_sbom::format::write(&sbom, format, &out_opts, &mut buf)?;
    match &args.output {
        Some(path) => fs_err::write(path, &buf)?,
        None => output::text(&String::from_utf8_lossy(&buf)),
    }
    Ok(Outcome::Ok)
}

/// `SOURCE_DATE_EPOCH`, when set.
fn source_date_epoch() -> anyhow::Result<Option<i64>> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if !v.trim().is_empty() => {
            Ok(Some(v.trim().parse().with_context(|| format!("SOURCE_DATE_EPOCH={v:?}"))?))
        }
        _ => Ok(None),
    }
}
