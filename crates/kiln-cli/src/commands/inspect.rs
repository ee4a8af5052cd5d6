//! `kiln inspect` (manifest and config as JSON, like `docker image inspect`) and `kiln history` (like
//! `docker history`), for store images and images in any transport.

use anyhow::Context;
use clap::Args;
use kiln_oci::{Digest, ImageConfig, ImageLocation, ImageManifest, Reference};
use kiln_store::{ImageRecord, Store};
use serde_json::json;

use crate::commands::render::{ago, human_size, table};
use crate::commands::{Global, open_store};
use crate::exit::Outcome;
use crate::output;

/// `kiln inspect IMAGE` / `kiln history IMAGE`.
#[derive(Debug, Args)]
pub(crate) struct ImageArg {
    /// The image: in the store, or `oci:DIR[:ref]`, `oci-archive:FILE[:ref]`, `docker-archive:FILE[:ref]`.
    image: String,
    /// Do not truncate output.
    #[arg(long)]
    no_trunc: bool,
}

/// What inspect and history show of an image.
struct Shown {
    record: Option<ImageRecord>,
    manifest: Option<ImageManifest>,
    config: ImageConfig,
    id: Digest,
}

/// The manifest and config of a store image, or of an image in any transport (read without keeping it).
fn read_image(store: &Store, name: &str) -> anyhow::Result<Shown> {
    let location = ImageLocation::parse(name).with_context(|| format!("image {name:?}"))?;
    if matches!(location, ImageLocation::Store(_) | ImageLocation::StoreId(_)) {
        let image = store.image(&location)?;
        let id = image.record.id.clone();
        return Ok(Shown {
            record: Some(image.record),
            manifest: Some(image.manifest),
            config: image.config,
            id,
        });
    }
    let lease = store.lease()?;
    let mut images = kiln_store::transport::open_images(&lease, &[location], &Default::default())?;
    let image = images.pop().with_context(|| format!("{name}: no image"))?;
    let id = image.id();
    Ok(Shown { record: None, manifest: None, config: image.config, id })
}

pub(crate) fn inspect(args: ImageArg, global: &Global) -> anyhow::Result<Outcome> {
    let store = open_store(global)?;
    let Shown { record, manifest, config, id } = read_image(&store, &args.image)?;
    let tags: Vec<String> = record.iter().flat_map(|r| r.refs.iter().map(Reference::familiar)).collect();
    let size: u64 = manifest.as_ref().map_or(0, |m| m.layers.iter().map(|l| l.size).sum());
    output::json(&[json!({
        "Id": id,
        "RepoTags": tags,
        "ManifestDigest": record.as_ref().map(|r| &r.manifest_digest),
        "Created": config.created,
        "Author": config.author,
        "Architecture": config.architecture,
        "Variant": config.variant,
        "Os": config.os,
        "Size": size,
        "Config": config.config,
        "RootFS": {"Type": config.rootfs.kind, "Layers": config.rootfs.diff_ids},
        "History": config.history,
        "Manifest": manifest,
    })])?;
    Ok(Outcome::Ok)
}

pub(crate) fn history(args: ImageArg, global: &Global) -> anyhow::Result<Outcome> {
    let store = open_store(global)?;
    let Shown { manifest, config, id, .. } = read_image(&store, &args.image)?;
    let sizes: Vec<u64> = manifest.map(|m| m.layers.iter().map(|l| l.size).collect()).unwrap_or_default();
    let layer_of = config.layer_history();
    let mut rows = vec![[
        "IMAGE".to_owned(),
        "CREATED".to_owned(),
        "CREATED BY".to_owned(),
        "SIZE".to_owned(),
        "COMMENT".to_owned(),
    ]];
    let n = config.history.len();
    for (i, h) in config.history.iter().enumerate().rev() {
        let size =
            layer_of.iter().position(|e| *e == Some(i)).and_then(|l| sizes.get(l)).copied().unwrap_or(0);
        let mut created_by = h.created_by.clone().unwrap_or_default().replace('\n', " ");
        if !args.no_trunc && created_by.chars().count() > 45 {
            created_by = format!("{}…", created_by.chars().take(44).collect::<String>());
        }
        let image = if i + 1 == n { id.hex()[..12].to_owned() } else { "<missing>".to_owned() };
        rows.push([
            image,
            ago(h.created.as_deref()),
            created_by,
            human_size(size),
            h.comment.clone().unwrap_or_default(),
        ]);
    }
    output::text(&table(&rows));
    Ok(Outcome::Ok)
}
