//! Commands that move images in and out of the store: `kiln import`, `save`, `load` and `copy`.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use kiln_oci::{Compression, ImageLocation, Platform, Reference};
use kiln_store::ImageRecord;
use kiln_store::transport::{self, ExportOptions, ImportOptions, RootfsImport};

use crate::commands::{Global, change, open_store};
use crate::exit::Outcome;
use crate::output;

/// Layer compression flags shared by `save` and `copy`.
#[derive(Debug, Args)]
pub(crate) struct CompressionArgs {
    /// Layer compression: gzip, zstd or none.
    #[arg(long, default_value = "gzip", value_parser = ["gzip", "zstd", "none"])]
    compression: String,
    /// Compression level (gzip 0-9, default 3; zstd 1-22, default 3).
    #[arg(long)]
    compression_level: Option<i32>,
}

impl CompressionArgs {
    fn options(&self) -> ExportOptions {
        let compression = match self.compression.as_str() {
            "zstd" => Compression::Zstd,
            "none" => Compression::None,
            _ => Compression::Gzip,
        };
        ExportOptions { compression, level: self.compression_level, threads: 0 }
    }
}

/// `kiln import SOURCE [NAME[:TAG]]`.
#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// A root filesystem directory or tarball (`dir:ROOTFS` or a path), or any image transport.
    source: String,
    /// The name to give the image.
    name: Option<String>,
    /// A Dockerfile instruction to apply (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR).
    #[arg(short, long)]
    change: Vec<String>,
    /// The history comment.
    #[arg(short, long)]
    message: Option<String>,
    /// Platform to record (rootfs) or pick from a multi-platform source.
    #[arg(long)]
    platform: Option<String>,
}

/// `kiln save IMAGE... -o FILE`.
#[derive(Debug, Args)]
pub(crate) struct SaveArgs {
    /// Images to save.
    #[arg(required = true)]
    images: Vec<String>,
    /// The archive to write.
    #[arg(short, long)]
    output: PathBuf,
    /// Archive format: docker (docker load) or oci (an OCI layout tar).
    #[arg(long, default_value = "docker", value_parser = ["docker", "oci"])]
    format: String,
    #[command(flatten)]
    compression: CompressionArgs,
}

/// `kiln load -i FILE`.
#[derive(Debug, Args)]
pub(crate) struct LoadArgs {
    /// A docker-archive or OCI archive (optionally gzip or zstd compressed).
    #[arg(short, long)]
    input: PathBuf,
    /// Platform to pick from multi-platform archives.
    #[arg(long)]
    platform: Option<String>,
}

/// `kiln copy SRC DST`.
#[derive(Debug, Args)]
pub(crate) struct CopyArgs {
    /// Source: a store image or `oci:`, `oci-archive:`, `docker-archive:` location.
    source: String,
    /// Destination: a store name[:tag] or `oci:`, `oci-archive:`, `docker-archive:` location.
    destination: String,
    /// Platform to pick from a multi-platform source.
    #[arg(long)]
    platform: Option<String>,
    #[command(flatten)]
    compression: CompressionArgs,
}

fn platform(p: &Option<String>) -> anyhow::Result<Option<Platform>> {
    p.as_deref().map(|p| Platform::parse(p).context("--platform")).transpose()
}

fn location(s: &str) -> anyhow::Result<ImageLocation> {
    ImageLocation::parse(s).with_context(|| format!("image {s:?}"))
}

fn report_loaded(records: &[ImageRecord]) {
    for r in records {
        if r.refs.is_empty() {
            output::line(&format!("Loaded image ID: {}", r.id));
        }
        for t in &r.refs {
            output::line(&format!("Loaded image: {}", t.familiar()));
        }
    }
}

pub(crate) fn import(args: ImportArgs, global: &Global) -> anyhow::Result<Outcome> {
    let store = open_store(global)?;
    let refs: Vec<Reference> = args
        .name
        .iter()
        .map(|n| Reference::parse(n).with_context(|| format!("name {n:?}")))
        .collect::<Result<_, _>>()?;
    let rootfs = match ImageLocation::parse(&args.source) {
        Ok(ImageLocation::Dir(path)) => Some(path),
        Ok(ImageLocation::Store(_) | ImageLocation::StoreId(_)) | Err(_) => Some(PathBuf::from(&args.source)),
        Ok(_) => None,
    };
    let record = match rootfs {
        Some(path) => {
            let mut options = RootfsImport {
                platform: platform(&args.platform)?,
                source_date_epoch: source_date_epoch()?,
                message: args.message,
                ..RootfsImport::default()
            };
            change::apply(&args.change, &mut options.config)?;
            transport::import_rootfs(&store, &path, &refs, &options)?
        }
        None => {
            if !args.change.is_empty() {
                bail!("--change applies to root filesystem imports only");
            }
            let options = ImportOptions { platform: platform(&args.platform)? };
            let mut records = transport::import(&store, &location(&args.source)?, &refs, &options)?;
            records.pop().context("the source holds no image")?
        }
    };
    output::line(&record.id.to_string());
    Ok(Outcome::Ok)
}

/// `SOURCE_DATE_EPOCH`, when set.
fn source_date_epoch() -> anyhow::Result<Option<i64>> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if !v.is_empty() => {
            Ok(Some(v.trim().parse().with_context(|| format!("SOURCE_DATE_EPOCH={v:?}"))?))
        }
        _ => Ok(None),
    }
}

pub(crate) fn save(args: SaveArgs, global: &Global) -> anyhow::Result<Outcome> {
    let store = open_store(global)?;
    let sources = args.images.iter().map(|i| location(i)).collect::<anyhow::Result<Vec<_>>>()?;
    let dest = match args.format.as_str() {
        "oci" => ImageLocation::OciArchive { path: args.output, reference: None },
        _ => ImageLocation::DockerArchive { path: args.output, reference: None },
    };
    let lease = store.lease()?;
    let images = transport::open_images(&lease, &sources, &ImportOptions::default())?;
    transport::export(&lease, &images, &dest, &args.compression.options())?;
    Ok(Outcome::Ok)
}

pub(crate) fn load(args: LoadArgs, global: &Global) -> anyhow::Result<Outcome> {
    let store = open_store(global)?;
    let options = ImportOptions { platform: platform(&args.platform)? };
    let records = transport::load(&store, &args.input, &options)
        .with_context(|| format!("loading {}", args.input.display()))?;
    report_loaded(&records);
    Ok(Outcome::Ok)
}

pub(crate) fn copy(args: CopyArgs, global: &Global) -> anyhow::Result<Outcome> {
    let store = open_store(global)?;
    let options = ImportOptions { platform: platform(&args.platform)? };
    let records = transport::copy(
        &store,
        &location(&args.source)?,
        &location(&args.destination)?,
        &options,
        &args.compression.options(),
    )?;
    report_loaded(&records);
    Ok(Outcome::Ok)
}
