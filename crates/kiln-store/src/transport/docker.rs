//! docker-archive (`docker save` format): a tar with `manifest.json` (per image: its config file, its
//! `RepoTags` and its layer files), the config JSON and the layer tars, plus the legacy `repositories`.
//!
//! Reading follows `manifest.json` alone, so both layouts Docker writes load: the legacy one
//! (`<hex>.json`, `<id>/layer.tar`, shared layers as symlinks) and Docker 25+'s (an OCI layout inside,
//! members under `blobs/sha256/`). Layers may be plain or compressed (sniffed). Writing produces the legacy
//! layout, which `docker load` accepts from Docker 1.10 on (and so on Docker 20.10): layer tars at
//! `<blob hex>/layer.tar`, compressed as the export options say (`docker load` sniffs compression).

use std::collections::BTreeMap;

use kiln_oci::{Digest, Reference};
use serde::{Deserialize, Serialize};

use crate::Result;
use crate::error::StoreError;
use crate::lease::Lease;
use crate::transport::archive::Archive;
use crate::transport::export::{ExportImage, ExportOptions, export_layers};
use crate::transport::ingest::{StagedImage, check_config, ingest_layer};
use crate::transport::writer::ArchiveWriter;

/// Most images one archive may list.
const MAX_IMAGES: usize = 10_000;

/// One entry of `manifest.json`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Entry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// True when `archive` is a docker-archive.
pub(crate) fn is_docker_archive(archive: &Archive) -> bool {
    archive.has_file("manifest.json")
}

/// The digest a member name spells, for `<hex>.json` and `blobs/sha256/<hex>` names.
fn digest_in_name(name: &str) -> Option<Digest> {
    let base = name.rsplit('/').next()?;
    let hex = base.strip_suffix(".json").unwrap_or(base);
    Digest::from_hex(hex).ok()
}

/// Stages the images of docker-archive `archive`: all, or the one `reference` names (`name:tag` from its
/// `RepoTags`, or `@N` for the N-th entry).
pub(crate) fn read_docker_archive(
    lease: &Lease,
    archive: &Archive,
    reference: Option<&str>,
) -> Result<Vec<StagedImage>> {
    let entries: Vec<Entry> = archive.read_json("manifest.json")?;
    let object = archive.object("manifest.json");
    if entries.is_empty() || entries.len() > MAX_IMAGES {
        return Err(StoreError::invalid(&object, format!("lists {} images", entries.len())));
    }
    let selected: Vec<(usize, &Entry)> = match reference {
        None => entries.iter().enumerate().collect(),
        Some(r) if r.starts_with('@') => {
            let n: usize =
                r[1..].parse().map_err(|_| StoreError::invalid(&object, format!("bad image index {r:?}")))?;
            let entry =
                entries.get(n).ok_or_else(|| StoreError::invalid(&object, format!("no image {r}")))?;
            vec![(n, entry)]
        }
        Some(r) => {
            let wanted = Reference::parse(r).map_err(|e| StoreError::invalid(&object, e.to_string()))?;
            let found: Vec<_> = entries
                .iter()
                .enumerate()
                .filter(|(_, e)| {
                    e.repo_tags.iter().flatten().any(|t| Reference::parse(t).is_ok_and(|t| t == wanted))
                })
                .collect();
            if found.is_empty() {
                return Err(StoreError::invalid(&object, format!("no image tagged {r}")));
            }
            found
        }
    };
    selected.into_iter().map(|(i, entry)| stage_entry(lease, archive, i, entry)).collect()
}

fn stage_entry(lease: &Lease, archive: &Archive, index: usize, entry: &Entry) -> Result<StagedImage> {
    let object = format!("{} (image {index})", archive.object("manifest.json"));
    let config_bytes = archive.read(&entry.config, crate::blob::MAX_JSON_BLOB)?;
    let config_object = archive.object(&entry.config);
    if let Some(named) = digest_in_name(&entry.config) {
        let actual = Digest::sha256_of(&config_bytes);
        if actual != named {
            return Err(StoreError::DigestMismatch { object: config_object, expected: named, actual });
        }
    }
    let config = check_config(&config_bytes, None, &config_object)?;
    if config.rootfs.diff_ids.len() != entry.layers.len() {
        return Err(StoreError::invalid(
            &object,
            format!(
                "{} layers but the config lists {} DiffIDs",
                entry.layers.len(),
                config.rootfs.diff_ids.len()
            ),
        ));
    }
    for (layer, diff_id) in entry.layers.iter().zip(&config.rootfs.diff_ids) {
        let (reader, size) = archive.open(layer)?;
        // Docker 25+ names layer files by their blob digest: verify it too.
        let named = layer.starts_with("blobs/").then(|| digest_in_name(layer)).flatten();
        let declared = named.as_ref().map(|d| (d, size));
        ingest_layer(lease, reader, declared, diff_id, &archive.object(layer))?;
    }
    let names = entry
        .repo_tags
        .iter()
        .flatten()
        .map(|t| Reference::parse(t).map_err(|e| StoreError::invalid(&object, format!("RepoTags: {e}"))))
        .collect::<Result<Vec<_>>>()?;
    Ok(StagedImage { config_bytes, config, names, origin: None })
}

/// Writes `images` as a docker-archive. The platform of each image is recorded only in its config.
pub(crate) fn write_docker_archive(
    lease: &Lease,
    out: &mut ArchiveWriter,
    images: &[ExportImage],
    options: &ExportOptions,
) -> Result<()> {
    let store = lease.store();
    let mut manifest = Vec::with_capacity(images.len());
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for image in images {
        let layers = export_layers(lease, image, options)?;
        let mut layer_names = Vec::with_capacity(layers.len());
        for layer in &layers {
            out.add_dir(layer.digest.hex())?;
            let name = format!("{}/layer.tar", layer.digest.hex());
            let mut blob = store.open_blob(&layer.digest)?;
            out.add_file(&name, &mut blob, layer.size, true)?;
            layer_names.push(name);
        }
        let config_name = format!("{}.json", image.id().hex());
        out.add_bytes(&config_name, &image.config_bytes, true)?;
        let tags: Vec<String> =
            image.names.iter().filter(|n| n.tag.is_some()).map(|n| n.familiar()).collect();
        if let Some(top) = layers.last() {
            for name in image.names.iter().filter(|n| n.tag.is_some()) {
                let familiar = Reference { tag: None, digest: None, ..name.clone() }.familiar();
                let tag = name.tag.clone().unwrap_or_default();
                repositories.entry(familiar).or_default().insert(tag, top.digest.hex().to_owned());
            }
        }
        manifest.push(Entry {
            config: config_name,
            repo_tags: (!tags.is_empty()).then_some(tags),
            layers: layer_names,
        });
    }
    let manifest_json = serde_json::to_vec(&manifest).map_err(|e| StoreError::json("manifest.json", e))?;
    out.add_bytes("manifest.json", &manifest_json, false)?;
    if !repositories.is_empty() {
        let repositories_json =
            serde_json::to_vec(&repositories).map_err(|e| StoreError::json("repositories", e))?;
        out.add_bytes("repositories", &repositories_json, false)?;
    }
    Ok(())
}
