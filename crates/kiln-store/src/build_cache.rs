//! Build-cache bundles: the cache records of a build packaged so that another store (another machine)
//! can reuse every cached step without running it, and the `type=local` transport that keeps a bundle in
//! a directory.
//!
//! A bundle is an OCI image manifest whose config (media type [`CACHE_CONFIG_MEDIA_TYPE`]) is a
//! [`CacheConfig`]: the records (cache key → layer DiffID and creation time) and the DiffID of each
//! manifest layer. The layers are the compressed layer blobs the records point at. Being a plain OCI
//! manifest, a bundle is stored by any OCI registry (a tag names it) and in an OCI image layout directory
//! (`index.json` names it), and a registry's garbage collection keeps the layers it references.
//!
//! Everything read from outside is verified: the manifest and config against their descriptors, every
//! record against the layers the bundle carries, and each layer against its blob digest and its DiffID
//! while it is stored.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::Path;

use kiln_oci::{ANNOTATION_REF_NAME, Descriptor, Digest, ImageIndex, ImageManifest, MediaType};
use serde::{Deserialize, Serialize};

use crate::Result;
use crate::error::StoreError;
use crate::lease::Lease;
use crate::transport::ExportOptions;
use crate::transport::export::export_layer;
use crate::transport::ingest::{check_bytes, ingest_layer};
use crate::transport::oci::{LAYOUT_FILE, LAYOUT_JSON, blob_name};

/// The media type of a bundle's config blob.
pub const CACHE_CONFIG_MEDIA_TYPE: &str = "application/vnd.kiln.build-cache.config.v1+json";
/// The format version [`CacheConfig::format`] carries.
pub const CACHE_FORMAT: u32 = 1;
/// The ref name a bundle has in a layout directory's `index.json`.
const LAYOUT_REF: &str = "kiln-build-cache";
/// Upper bound for a manifest or config read from outside.
const MAX_METADATA_BYTES: u64 = 64 << 20;

/// One cached step: its cache key, the layer it produced and when that layer was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheEntry {
    /// The step's cache key.
    pub key: Digest,
    /// The DiffID of the layer it produced.
    pub diff_id: Digest,
    /// When the layer was made (RFC 3339), the time its history entry shows.
    pub created: String,
}

/// A bundle's config blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheConfig {
    /// [`CACHE_FORMAT`].
    pub format: u32,
    /// The DiffID of each manifest layer, in manifest order.
    pub diff_ids: Vec<Digest>,
    /// The cached steps.
    pub records: Vec<CacheEntry>,
}

/// A bundle: its records and the (compressed) layer blobs that hold their layers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheBundle {
    /// The records and the layers' DiffIDs.
    pub config: CacheConfig,
    /// The layer blobs, in the order of [`CacheConfig::diff_ids`].
    pub layers: Vec<Descriptor>,
}

impl CacheBundle {
    /// The distinct layers `entries` need, in first-use order, with each key kept once (the first wins).
    pub fn plan(entries: &[CacheEntry]) -> (Vec<CacheEntry>, Vec<Digest>) {
        let mut keys = BTreeSet::new();
        let mut seen = BTreeSet::new();
        let mut records = Vec::new();
        let mut layers = Vec::new();
        for e in entries {
            if !keys.insert(e.key.clone()) {
                continue;
            }
            if seen.insert(e.diff_id.clone()) {
                layers.push(e.diff_id.clone());
            }
            records.push(e.clone());
        }
        (records, layers)
    }

    /// A bundle of `records` whose layer DiffIDs `diff_ids` are stored as the blobs `layers`.
    pub fn new(records: Vec<CacheEntry>, diff_ids: Vec<Digest>, layers: Vec<Descriptor>) -> Result<Self> {
        let bundle = CacheBundle { config: CacheConfig { format: CACHE_FORMAT, diff_ids, records }, layers };
        bundle.check("the build cache")?;
        Ok(bundle)
    }

    /// The blob that holds layer `diff_id`.
    pub fn layer(&self, diff_id: &Digest) -> Option<&Descriptor> {
        self.config.diff_ids.iter().position(|d| d == diff_id).and_then(|i| self.layers.get(i))
    }

    /// The config blob's bytes and the manifest's bytes (which reference that config).
    pub fn encode(&self) -> Result<(Vec<u8>, Vec<u8>)> {
        let config =
            serde_json::to_vec(&self.config).map_err(|e| StoreError::json("build-cache config", e))?;
        let manifest = ImageManifest {
            schema_version: 2,
            media_type: Some(MediaType::OciManifest),
            config: Descriptor::new(
                MediaType::Other(CACHE_CONFIG_MEDIA_TYPE.to_owned()),
                Digest::sha256_of(&config),
                config.len() as u64,
            ),
            layers: self.layers.clone(),
            annotations: BTreeMap::new(),
        };
        let manifest =
            serde_json::to_vec(&manifest).map_err(|e| StoreError::json("build-cache manifest", e))?;
        Ok((config, manifest))
    }

    /// Parses a bundle's manifest (from `object`, for errors) and checks that it is one.
    pub fn parse_manifest(bytes: &[u8], object: &str) -> Result<ImageManifest> {
        let manifest: ImageManifest =
            serde_json::from_slice(bytes).map_err(|e| StoreError::json(object.to_owned(), e))?;
        if manifest.config.media_type.as_str() != CACHE_CONFIG_MEDIA_TYPE {
            return Err(StoreError::invalid(
                object,
                format!(
                    "not a kiln build cache: its config is {}, not {CACHE_CONFIG_MEDIA_TYPE}",
                    manifest.config.media_type.as_str()
                ),
            ));
        }
        Ok(manifest)
    }

    /// The bundle `manifest` describes, given its config blob's bytes (verified against the manifest).
    pub fn decode(manifest: ImageManifest, config_bytes: &[u8], object: &str) -> Result<Self> {
        check_bytes(config_bytes, &manifest.config, &format!("config of {object}"))?;
        let config: CacheConfig = serde_json::from_slice(config_bytes)
            .map_err(|e| StoreError::json(format!("config of {object}"), e))?;
        let bundle = CacheBundle { config, layers: manifest.layers };
        bundle.check(object)?;
        Ok(bundle)
    }

    fn check(&self, object: &str) -> Result<()> {
        if self.config.format != CACHE_FORMAT {
            return Err(StoreError::invalid(
                object,
                format!(
                    "build-cache format {} (this kiln reads format {CACHE_FORMAT}); export the cache again",
                    self.config.format
                ),
            ));
        }
        if self.config.diff_ids.len() != self.layers.len() {
            return Err(StoreError::invalid(
                object,
                format!("{} layers but {} DiffIDs", self.layers.len(), self.config.diff_ids.len()),
            ));
        }
        if let Some(l) = self.layers.iter().find(|l| l.media_type.layer_compression().is_none()) {
            return Err(StoreError::invalid(
                object,
                format!("layer {} has media type {}, not a layer type", l.digest, l.media_type.as_str()),
            ));
        }
        if let Some(r) = self.config.records.iter().find(|r| !self.config.diff_ids.contains(&r.diff_id)) {
            return Err(StoreError::invalid(
                object,
                format!("the record of key {} points at layer {}, which it does not carry", r.key, r.diff_id),
            ));
        }
        Ok(())
    }
}

/// What [`write_dir`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenCache {
    /// The bundle's manifest digest.
    pub digest: Digest,
    /// How many records it holds.
    pub records: usize,
    /// How many layer blobs were copied (the others were already there).
    pub copied: usize,
    /// How many blobs of an earlier export were removed (nothing references them any more).
    pub removed: usize,
}

/// Writes the cache `entries` (their layers are in the store) as a bundle in the OCI layout directory
/// `dir` (`--cache-to type=local,dest=DIR`), creating it. Blobs already there are not copied again;
/// `index.json` is replaced atomically, then blobs the new bundle does not reference are removed.
pub fn write_dir(
    lease: &Lease,
    entries: &[CacheEntry],
    dir: &Path,
    options: &ExportOptions,
) -> Result<WrittenCache> {
    let store = lease.store();
    let blobs = dir.join("blobs").join("sha256");
    fs_err::create_dir_all(&blobs).map_err(|e| StoreError::io(format!("creating {}", blobs.display()), e))?;
    let (records, diff_ids) = CacheBundle::plan(entries);
    let mut layers = Vec::with_capacity(diff_ids.len());
    let mut copied = 0;
    for diff_id in &diff_ids {
        let layer = export_layer(lease, diff_id, options)?;
        let target = dir.join(blob_name(&layer.digest));
        if !target.exists() {
            let mut source = store.open_blob(&layer.digest)?;
            let mut out = kiln_fs::AtomicFile::create(&target)
                .map_err(|e| StoreError::io(format!("writing {}", target.display()), e))?;
            std::io::copy(&mut source, &mut out)
                .and_then(|_| out.commit())
                .map_err(|e| StoreError::io(format!("writing {}", target.display()), e))?;
            copied += 1;
        }
        layers.push(Descriptor::new(MediaType::oci_layer(layer.compression), layer.digest, layer.size));
    }
    let count = records.len();
    let bundle = CacheBundle::new(records, diff_ids, layers)?;
    let (config, manifest) = bundle.encode()?;
    let digest = Digest::sha256_of(&manifest);
    let config_digest = Digest::sha256_of(&config);
    for (bytes, d) in [(&config, config_digest.clone()), (&manifest, digest.clone())] {
        write_file(&dir.join(blob_name(&d)), bytes)?;
    }
    write_file(&dir.join(LAYOUT_FILE), LAYOUT_JSON)?;
    let mut entry = Descriptor::new(MediaType::OciManifest, digest.clone(), manifest.len() as u64);
    entry.annotations.insert(ANNOTATION_REF_NAME.to_owned(), LAYOUT_REF.to_owned());
    let mut index = ImageIndex::new();
    index.manifests.push(entry);
    let index = serde_json::to_vec(&index).map_err(|e| StoreError::json("index.json", e))?;
    write_file(&dir.join("index.json"), &index)?;

    let keep: BTreeSet<String> = bundle
        .layers
        .iter()
        .map(|l| l.digest.hex().to_owned())
        .chain([config_digest.hex().to_owned(), digest.hex().to_owned()])
        .collect();
    let mut removed = 0;
    let listing =
        fs_err::read_dir(&blobs).map_err(|e| StoreError::io(format!("listing {}", blobs.display()), e))?;
    for item in listing.flatten() {
        let name = item.file_name().to_string_lossy().into_owned();
        let is_blob = name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit());
        if is_blob && !keep.contains(&name) && fs_err::remove_file(item.path()).is_ok() {
            removed += 1;
        }
    }
    Ok(WrittenCache { digest, records: count, copied, removed })
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = kiln_fs::AtomicFile::create(path)
        .map_err(|e| StoreError::io(format!("writing {}", path.display()), e))?;
    file.write_all(bytes)
        .and_then(|()| file.commit())
        .map_err(|e| StoreError::io(format!("writing {}", path.display()), e))
}

/// Reads a verified blob of at most [`MAX_METADATA_BYTES`] from layout `dir`.
fn read_blob(dir: &Path, desc: &Descriptor, object: &str) -> Result<Vec<u8>> {
    if desc.size > MAX_METADATA_BYTES {
        return Err(StoreError::invalid(object, format!("{} bytes is too large for metadata", desc.size)));
    }
    let path = dir.join(blob_name(&desc.digest));
    let bytes = fs_err::read(&path).map_err(|e| StoreError::io(format!("reading {object}"), e))?;
    check_bytes(&bytes, desc, object)?;
    Ok(bytes)
}

/// Reads the bundle in the OCI layout directory `dir` (`--cache-from type=local,src=DIR`).
pub fn read_dir(dir: &Path) -> Result<CacheBundle> {
    let index_path = dir.join("index.json");
    let index = fs_err::read(&index_path).map_err(|e| StoreError::io("reading the build cache", e))?;
    let index: ImageIndex =
        serde_json::from_slice(&index).map_err(|e| StoreError::json(index_path.display().to_string(), e))?;
    let entry = index
        .manifests
        .iter()
        .find(|m| m.annotations.get(ANNOTATION_REF_NAME).map(String::as_str) == Some(LAYOUT_REF))
        .or_else(|| index.manifests.first())
        .ok_or_else(|| StoreError::invalid(index_path.display().to_string(), "it lists no manifest"))?;
    let object = format!("build cache {}", dir.display());
    let manifest = read_blob(dir, entry, &format!("manifest of {object}"))?;
    let manifest = CacheBundle::parse_manifest(&manifest, &object)?;
    let config = read_blob(dir, &manifest.config, &format!("config of {object}"))?;
    CacheBundle::decode(manifest, &config, &object)
}

/// Stores layer `diff_id` of `bundle` (read from layout `dir`) in the store, uncompressed, verified
/// against its blob digest and its DiffID.
pub fn fetch_dir_layer(lease: &Lease, dir: &Path, bundle: &CacheBundle, diff_id: &Digest) -> Result<()> {
    let desc = bundle.layer(diff_id).ok_or_else(|| {
        StoreError::invalid(format!("build cache {}", dir.display()), format!("it has no layer {diff_id}"))
    })?;
    let path = dir.join(blob_name(&desc.digest));
    let object = format!("layer {} of build cache {}", desc.digest, dir.display());
    let file = fs_err::File::open(&path).map_err(|e| StoreError::io(format!("reading {object}"), e))?;
    ingest_layer(
        lease,
        std::io::BufReader::with_capacity(1 << 20, file),
        Some((&desc.digest, desc.size)),
        diff_id,
        &object,
    )
}
