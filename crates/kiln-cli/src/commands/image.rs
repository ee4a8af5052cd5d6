//! Store image commands: `kiln images`, `tag`, `rmi`, `inspect`, `history`, `prune`.

use anyhow::Context;
use clap::Args;
use kiln_oci::{ImageLocation, Reference};
use kiln_store::ImageRecord;
use kiln_store::gc::PruneOptions;
use serde_json::json;

use crate::commands::render::{ago, human_size, table};
use crate::commands::{Global, open_store};
use crate::exit::Outcome;
use crate::output;

/// `kiln images`.
#[derive(Debug, Args)]
pub(crate) struct ImagesArgs {
    /// Output format: table or json.
    #[arg(long, default_value = "table", value_parser = ["table", "json"])]
    format: String,
    /// Show full image IDs.
    #[arg(long)]
    no_trunc: bool,
}

/// `kiln tag SRC DST`.
#[derive(Debug, Args)]
pub(crate) struct TagArgs {
    /// The image to tag (name, name:tag, name@digest or ID).
    source: String,
    /// The new name[:tag].
    target: String,
}

/// `kiln rmi IMAGE...`.
#[derive(Debug, Args)]
pub(crate) struct RmiArgs {
    /// Images to remove (a tag untags; an ID removes the image).
    #[arg(required = true)]
    images: Vec<String>,
    /// Remove an image by ID even when several tags point at it.
    #[arg(short, long)]
    force: bool,
    /// Keep the image's blobs until the next `kiln prune`.
    #[arg(long)]
    no_prune: bool,
}

/// `kiln prune`.
#[derive(Debug, Args)]
pub(crate) struct PruneArgs {
    /// Also delete the build cache.
    #[arg(long)]
    cache: bool,
}

fn location(s: &str) -> anyhow::Result<ImageLocation> {
    ImageLocation::parse(s).with_context(|| format!("image {s:?}"))
}

fn short_id(record: &ImageRecord, no_trunc: bool) -> String {
    if no_trunc { record.id.to_string() } else { record.id.hex()[..12].to_owned() }
}

pub(crate) fn images(args: ImagesArgs, global: &Global) -> anyhow::Result<Outcome> {
    let records = open_store(global)?.images()?;
    if args.format == "json" {
        let rows: Vec<_> = records
            .iter()
            .map(|r| {
                json!({"Id": r.id, "RepoTags": r.refs.iter().map(Reference::familiar).collect::<Vec<_>>(),
                       "ManifestDigest": r.manifest_digest, "Created": r.created, "Size": r.size})
            })
            .collect();
        output::json(&rows)?;
        return Ok(Outcome::Ok);
    }
    let mut rows = vec![[
        "REPOSITORY".to_owned(),
        "TAG".to_owned(),
        "IMAGE ID".to_owned(),
        "CREATED".to_owned(),
        "SIZE".to_owned(),
    ]];
    for r in &records {
        let tags: Vec<(String, String)> = if r.refs.is_empty() {
            vec![("<none>".to_owned(), "<none>".to_owned())]
        } else {
            r.refs
                .iter()
                .map(|t| (Reference { tag: None, ..t.clone() }.familiar(), t.tag.clone().unwrap_or_default()))
                .collect()
        };
        for (repo, tag) in tags {
            rows.push([repo, tag, short_id(r, args.no_trunc), ago(r.created.as_deref()), human_size(r.size)]);
        }
    }
    output::text(&table(&rows));
    Ok(Outcome::Ok)
}

pub(crate) fn tag(args: TagArgs, global: &Global) -> anyhow::Result<Outcome> {
    let target = Reference::parse(&args.target).with_context(|| format!("target {:?}", args.target))?;
    open_store(global)?.tag(&location(&args.source)?, &target)?;
    Ok(Outcome::Ok)
}

pub(crate) fn rmi(args: RmiArgs, global: &Global) -> anyhow::Result<Outcome> {
    let store = open_store(global)?;
    for image in &args.images {
        let removal =
            store.remove(&location(image)?, args.force).with_context(|| format!("removing {image}"))?;
        for r in &removal.untagged {
            output::line(&format!("Untagged: {}", r.familiar()));
        }
        if let Some(id) = &removal.deleted {
            output::line(&format!("Deleted: {id}"));
        }
    }
    if !args.no_prune {
        store.prune(&PruneOptions::default())?;
    }
    Ok(Outcome::Ok)
}

pub(crate) fn prune(args: PruneArgs, global: &Global) -> anyhow::Result<Outcome> {
    let report = open_store(global)?.prune(&PruneOptions { cache: args.cache })?;
    output::line(&format!(
        "Deleted {} blobs, {} snapshots, {} cache records, {} leftovers of interrupted operations",
        report.blobs, report.snapshots, report.cache_records, report.leftovers
    ));
    output::line(&format!("Total reclaimed space: {}", human_size(report.bytes_freed)));
    Ok(Outcome::Ok)
}
