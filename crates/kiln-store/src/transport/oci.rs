//! OCI image layouts, as a directory (`oci:DIR[:ref]`) or a tar of one (`oci-archive:FILE[:ref]`): reading
//! images out of one and writing images into one (an existing layout directory is added to; an entry with
//! the same ref name is replaced, as skopeo does).
//!
//! Reading follows `index.json` to manifests, through nested indexes to the manifest for the requested
//! platform (other platforms are not imported). Every blob is read by its digest from `blobs/<alg>/<hex>`
//! and verified against its descriptor's digest and size.

use std::collections::BTreeMap;

use kiln_oci::{
    ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME, Descriptor, Digest, ImageIndex, ImageManifest, MediaType,
    Platform, Reference,
};

use crate::Result;
use crate::error::StoreError;
use crate::lease::Lease;
use crate::transport::archive::Archive;
use crate::transport::export::{ExportImage, ExportOptions, export_layers};
use crate::transport::ingest::{StagedImage, check_bytes, check_config, ingest_layer};
use crate::transport::writer::ArchiveWriter;

/// How deep indexes may nest.
const MAX_INDEX_DEPTH: usize = 4;

pub(crate) const LAYOUT_FILE: &str = "oci-layout";
pub(crate) const LAYOUT_JSON: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;

/// The blob path of `digest` inside a layout.
pub(crate) fn blob_name(digest: &Digest) -> String {
    format!("blobs/{}/{}", digest.algorithm(), digest.hex())
}

/// True when `archive` looks like an OCI layout.
pub(crate) fn is_layout(archive: &Archive) -> bool {
    archive.has_file(LAYOUT_FILE) && archive.has_file("index.json")
}

/// The names an index entry gives its image: containerd's full image name, else a ref name that is a full
/// reference (`name:tag`); a bare tag like `latest` names nothing by itself.
fn entry_names(desc: &Descriptor) -> Vec<Reference> {
    if let Some(r) = desc.annotations.get(ANNOTATION_IMAGE_NAME).and_then(|n| Reference::parse(n).ok()) {
        return vec![r];
    }
    desc.annotations
        .get(ANNOTATION_REF_NAME)
        .filter(|n| n.contains(':') || n.contains('/'))
        .and_then(|n| Reference::parse(n).ok())
        .into_iter()
        .collect()
}

fn entry_matches(desc: &Descriptor, wanted: &str) -> bool {
    let annotation = |key| desc.annotations.get(key).map(String::as_str);
    if annotation(ANNOTATION_REF_NAME) == Some(wanted) || annotation(ANNOTATION_IMAGE_NAME) == Some(wanted) {
        return true;
    }
    match Reference::parse(wanted) {
        Ok(r) => entry_names(desc).contains(&r),
        Err(_) => false,
    }
}

/// Reads a JSON blob named by `desc`, verified.
fn read_verified(archive: &Archive, desc: &Descriptor) -> Result<Vec<u8>> {
    let name = blob_name(&desc.digest);
    let bytes = archive.read(&name, crate::blob::MAX_JSON_BLOB)?;
    check_bytes(&bytes, desc, &archive.object(&name))?;
    Ok(bytes)
}

/// Stages the images of layout `archive`: the one whose ref name is `reference`, or all of them.
pub(crate) fn read_layout(
    lease: &Lease,
    archive: &Archive,
    reference: Option<&str>,
    platform: &Platform,
) -> Result<Vec<StagedImage>> {
    if !is_layout(archive) {
        return Err(StoreError::invalid(
            archive.display(),
            "not an OCI image layout (no oci-layout and index.json)",
        ));
    }
    let index: ImageIndex = archive.read_json("index.json")?;
    let entries: Vec<&Descriptor> = match reference {
        Some(wanted) => index.manifests.iter().filter(|d| entry_matches(d, wanted)).collect(),
        None => index.manifests.iter().collect(),
    };
    if entries.is_empty() {
        let reason = match reference {
            Some(r) => format!("no image with ref name {r:?}"),
            None => "the index lists no image".to_owned(),
        };
        return Err(StoreError::invalid(archive.object("index.json"), reason));
    }
    entries
        .into_iter()
        .map(|entry| {
            let (manifest_desc, manifest) = resolve_manifest(archive, entry, platform, 0)?;
            let mut image = stage_manifest(lease, archive, &manifest_desc, &manifest)?;
            image.names = entry_names(entry);
            Ok(image)
        })
        .collect()
}

/// Follows `desc` through indexes to the manifest for `platform`.
fn resolve_manifest(
    archive: &Archive,
    desc: &Descriptor,
    platform: &Platform,
    depth: usize,
) -> Result<(Descriptor, ImageManifest)> {
    let object = archive.object(&blob_name(&desc.digest));
    if depth > MAX_INDEX_DEPTH {
        return Err(StoreError::invalid(object, "indexes nest too deep"));
    }
    let bytes = read_verified(archive, desc)?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| StoreError::json(&object, e))?;
    if desc.media_type.is_index() || value.get("manifests").is_some() {
        let index: ImageIndex = serde_json::from_value(value).map_err(|e| StoreError::json(&object, e))?;
        let chosen = index
            .select(platform)
            .or_else(|| {
                (index.manifests.len() == 1 && index.manifests[0].platform.is_none())
                    .then(|| &index.manifests[0])
            })
            .ok_or_else(|| {
                StoreError::invalid(&object, format!("the index has no manifest for {platform}"))
            })?;
        return resolve_manifest(archive, chosen, platform, depth + 1);
    }
    let manifest: ImageManifest = serde_json::from_value(value).map_err(|e| StoreError::json(&object, e))?;
    Ok((desc.clone(), manifest))
}

/// Stages one manifest's config and layers.
fn stage_manifest(
    lease: &Lease,
    archive: &Archive,
    desc: &Descriptor,
    manifest: &ImageManifest,
) -> Result<StagedImage> {
    let object = archive.object(&blob_name(&desc.digest));
    if !manifest.config.media_type.is_config() {
        return Err(StoreError::invalid(
            &object,
            format!("config media type {} is not an image config", manifest.config.media_type),
        ));
    }
    let config_bytes = read_verified(archive, &manifest.config)?;
    let config = check_config(
        &config_bytes,
        Some(&manifest.config),
        &archive.object(&blob_name(&manifest.config.digest)),
    )?;
    if config.rootfs.diff_ids.len() != manifest.layers.len() {
        return Err(StoreError::invalid(
            &object,
            format!(
                "{} layers but the config lists {} DiffIDs",
                manifest.layers.len(),
                config.rootfs.diff_ids.len()
            ),
        ));
    }
    for (layer, diff_id) in manifest.layers.iter().zip(&config.rootfs.diff_ids) {
        if layer.media_type.layer_compression().is_none() {
            return Err(StoreError::invalid(
                &object,
                format!("layer {} has media type {}, not a layer", layer.digest, layer.media_type),
            ));
        }
        let name = blob_name(&layer.digest);
        let (reader, _) = archive.open(&name)?;
        ingest_layer(lease, reader, Some((&layer.digest, layer.size)), diff_id, &archive.object(&name))?;
    }
    Ok(StagedImage { config_bytes, config, names: Vec::new(), origin: Some(desc.digest.clone()) })
}

/// Writes `images` into an OCI layout (directory or archive). `ref_name` overrides the ref name of a single
/// image; otherwise each image's first name gives `org.opencontainers.image.ref.name` (its tag) and
/// `io.containerd.image.name` (the full name), as Docker and containerd write them.
pub(crate) fn write_layout(
    lease: &Lease,
    out: &mut ArchiveWriter,
    existing_index: Option<ImageIndex>,
    images: &[ExportImage],
    ref_name: Option<&str>,
    options: &ExportOptions,
) -> Result<ImageIndex> {
    let store = lease.store();
    let mut index = existing_index.unwrap_or_default();
    out.add_bytes(LAYOUT_FILE, LAYOUT_JSON, false)?;
    out.add_dir("blobs")?;
    out.add_dir("blobs/sha256")?;
    for image in images {
        let layers = export_layers(lease, image, options)?;
        let mut descriptors = Vec::with_capacity(layers.len());
        for layer in &layers {
            let mut blob = store.open_blob(&layer.digest)?;
            out.add_file(&blob_name(&layer.digest), &mut blob, layer.size, true)?;
            descriptors.push(Descriptor::new(
                MediaType::oci_layer(layer.compression),
                layer.digest.clone(),
                layer.size,
            ));
        }
        let config_digest = image.id();
        out.add_bytes(&blob_name(&config_digest), &image.config_bytes, true)?;
        let manifest = ImageManifest {
            schema_version: 2,
            media_type: Some(MediaType::OciManifest),
            config: Descriptor::new(MediaType::OciConfig, config_digest, image.config_bytes.len() as u64),
            layers: descriptors,
            annotations: BTreeMap::new(),
        };
        let manifest_json = serde_json::to_vec(&manifest).map_err(|e| StoreError::json("manifest", e))?;
        let manifest_digest = Digest::sha256_of(&manifest_json);
        out.add_bytes(&blob_name(&manifest_digest), &manifest_json, true)?;

        let mut entry = Descriptor::new(MediaType::OciManifest, manifest_digest, manifest_json.len() as u64);
        entry.platform = Some(image.config.platform());
        // The annotation that identifies the entry: an entry already carrying the same value is replaced.
        let identity = match (ref_name, image.names.first()) {
            (Some(r), _) => {
                entry.annotations.insert(ANNOTATION_REF_NAME.to_owned(), r.to_owned());
                Some((ANNOTATION_REF_NAME, r.to_owned()))
            }
            (None, Some(name)) => {
                entry.annotations.insert(ANNOTATION_IMAGE_NAME.to_owned(), name.to_string());
                if let Some(tag) = &name.tag {
                    entry.annotations.insert(ANNOTATION_REF_NAME.to_owned(), tag.clone());
                }
                Some((ANNOTATION_IMAGE_NAME, name.to_string()))
            }
            (None, None) => None,
        };
        if let Some((key, value)) = identity {
            index.manifests.retain(|d| d.annotations.get(key) != Some(&value));
        }
        index.manifests.push(entry);
    }
    let index_json = serde_json::to_vec(&index).map_err(|e| StoreError::json("index.json", e))?;
    out.add_bytes("index.json", &index_json, false)?;
    Ok(index)
}
