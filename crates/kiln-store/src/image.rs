//! Images in the store: [`ImageRecord`] (a database row plus its refs), [`Image`] (with manifest and config
//! loaded), committing a new image from its config ([`Lease::commit_image`]), resolving what the user named
//! ([`Store::resolve`]), tagging and removal.
//!
//! An image's identity in the store is its *local manifest*: an OCI manifest whose layers are the
//! uncompressed layer blobs (digest = DiffID, `application/vnd.oci.image.layer.v1.tar`). Its ID, as
//! `docker images` shows it, is the config digest. When an image came from elsewhere under another manifest
//! digest (a registry or archive with compressed layers), that digest is kept as its *origin*, so
//! `name@<origin digest>` still finds it.

use std::collections::BTreeMap;

use kiln_oci::{Descriptor, Digest, ImageConfig, ImageLocation, ImageManifest, MediaType, Reference};

use crate::db::{ImageRow, now};
use crate::error::StoreError;
use crate::lease::Lease;
use crate::{Result, Store};

/// A stored image as listed: its identity and refs, without reading any blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRecord {
    /// The local manifest's digest.
    pub manifest_digest: Digest,
    /// The image ID: the config digest.
    pub id: Digest,
    /// Total uncompressed layer size in bytes.
    pub size: u64,
    /// The config's `created` time (RFC 3339), if any.
    pub created: Option<String>,
    /// When the image was stored (seconds since the epoch).
    pub added: i64,
    /// The manifest digest the image was imported under, when it differs from the local one.
    pub origin: Option<Digest>,
    /// The references (tags) pointing at it, sorted.
    pub refs: Vec<Reference>,
}

/// A stored image with its manifest and config read.
#[derive(Debug, Clone)]
pub struct Image {
    /// The record.
    pub record: ImageRecord,
    /// The local manifest (uncompressed layers).
    pub manifest: ImageManifest,
    /// The config.
    pub config: ImageConfig,
    /// The config's exact bytes (their digest is the image ID).
    pub config_bytes: Vec<u8>,
}

impl Image {
    /// The layers' DiffIDs, base first (equal to the local manifest's layer digests).
    pub fn diff_ids(&self) -> &[Digest] {
        &self.config.rootfs.diff_ids
    }
}

/// What [`Store::remove`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Removal {
    /// References removed.
    pub untagged: Vec<Reference>,
    /// The image ID, when the image record itself was deleted.
    pub deleted: Option<Digest>,
}

fn record(row: ImageRow, refs: Vec<String>) -> ImageRecord {
    ImageRecord {
        manifest_digest: row.manifest,
        id: row.config,
        size: row.size,
        created: row.created,
        added: row.added,
        origin: row.origin,
        refs: refs.iter().filter_map(|r| Reference::parse(r).ok()).collect(),
    }
}

/// The key a tag is stored under: the normalized reference without digest.
fn ref_key(reference: &Reference) -> Option<String> {
    let tag = reference.tag.as_ref()?;
    Some(format!("{}:{tag}", reference.name()))
}

impl Store {
    /// Every image, newest first.
    pub fn images(&self) -> Result<Vec<ImageRecord>> {
        self.with_db(|db| {
            let mut refs: BTreeMap<Digest, Vec<String>> = BTreeMap::new();
            for (name, manifest) in db.all_refs()? {
                refs.entry(manifest).or_default().push(name);
            }
            Ok(db
                .all_images()?
                .into_iter()
                .map(|row| {
                    let r = refs.remove(&row.manifest).unwrap_or_default();
                    record(row, r)
                })
                .collect())
        })
    }

    /// Finds the stored image `location` names: a reference (`name:tag`, `name@digest`) or an image ID
    /// (prefix). Other transports are not in the store and give [`StoreError::ImageNotFound`].
    pub fn resolve(&self, location: &ImageLocation) -> Result<ImageRecord> {
        self.with_db(|db| {
            let not_found = || StoreError::ImageNotFound(location.to_string());
            let row = match location {
                ImageLocation::Store(reference) => match &reference.digest {
                    Some(digest) => db.images_by_manifest_or_origin(digest)?.into_iter().next(),
                    None => match ref_key(reference) {
                        Some(key) => match db.resolve_ref(&key)? {
                            Some(manifest) => db.image(&manifest)?,
                            None => None,
                        },
                        None => None,
                    },
                },
                ImageLocation::StoreId(prefix) => {
                    let mut rows = db.images_by_id_prefix(prefix)?;
                    rows.dedup_by(|a, b| a.config == b.config);
                    if rows.len() > 1 {
                        return Err(StoreError::AmbiguousId { id: prefix.clone(), count: rows.len() });
                    }
                    rows.pop()
                }
                _ => None,
            };
            let row = row.ok_or_else(not_found)?;
            let refs = db.refs_of(&row.manifest)?;
            Ok(record(row, refs))
        })
    }

    /// Reads the manifest and config of `record`.
    pub fn load(&self, record: &ImageRecord) -> Result<Image> {
        let manifest: ImageManifest = self.read_json(&record.manifest_digest)?;
        let config_bytes = self.read_blob(&manifest.config.digest)?;
        let config: ImageConfig = serde_json::from_slice(&config_bytes)
            .map_err(|e| StoreError::json(format!("config {}", manifest.config.digest), e))?;
        Ok(Image { record: record.clone(), manifest, config, config_bytes })
    }

    /// The record of the image whose local manifest is `manifest`.
    pub fn record_by_manifest(&self, manifest: &Digest) -> Result<ImageRecord> {
        self.with_db(|db| {
            let row = db.image(manifest)?.ok_or_else(|| StoreError::ImageNotFound(manifest.to_string()))?;
            let refs = db.refs_of(manifest)?;
            Ok(record(row, refs))
        })
    }

    /// [`Store::resolve`] then [`Store::load`].
    pub fn image(&self, location: &ImageLocation) -> Result<Image> {
        let record = self.resolve(location)?;
        self.load(&record)
    }

    /// Points `target` (a tagged reference) at the image `source` names; moves the tag if it existed.
    pub fn tag(&self, source: &ImageLocation, target: &Reference) -> Result<ImageRecord> {
        let key = ref_key(target).ok_or_else(|| {
            StoreError::invalid(target.to_string(), "a tag target needs a tag, not only a digest")
        })?;
        let record = self.resolve(source)?;
        self.with_db(|db| db.set_ref(&key, &record.manifest_digest))?;
        self.resolve(&ImageLocation::Store(target.clone()))
    }

    /// Removes what `location` names: a tag is untagged (and the image record deleted with its last tag);
    /// an ID or digest deletes the image with its tags, which needs `force` when it has more than one.
    /// Blobs stay until [`Store::prune`].
    pub fn remove(&self, location: &ImageLocation, force: bool) -> Result<Removal> {
        let record = self.resolve(location)?;
        let by_tag = matches!(location, ImageLocation::Store(r) if r.digest.is_none());
        self.with_db(|db| {
            if by_tag {
                let ImageLocation::Store(reference) = location else { return Ok(Removal::default()) };
                let key = ref_key(reference).unwrap_or_default();
                let (untagged, deleted) = db.remove_ref(&key, &record.manifest_digest)?;
                if !untagged {
                    return Err(StoreError::ImageNotFound(location.to_string()));
                }
                return Ok(Removal {
                    untagged: vec![reference.clone()],
                    deleted: deleted.then(|| record.id.clone()),
                });
            }
            if record.refs.len() > 1 && !force {
                return Err(StoreError::Conflict {
                    id: record.id.to_string(),
                    refs: record.refs.iter().map(Reference::familiar).collect::<Vec<_>>().join(", "),
                });
            }
            let (refs, deleted) = db.remove_image(&record.manifest_digest)?;
            Ok(Removal {
                untagged: refs.iter().filter_map(|r| Reference::parse(r).ok()).collect(),
                deleted: deleted.then(|| record.id.clone()),
            })
        })
    }
}

impl Lease {
    /// Stores an image from its config bytes: every layer blob (by DiffID, uncompressed) must already be in
    /// the store; writes the config and the local manifest, then inserts the image record and points `refs`
    /// at it in one transaction. `origin` is the manifest digest the image is known by elsewhere.
    pub fn commit_image(
        &self,
        config_json: &[u8],
        refs: &[Reference],
        origin: Option<Digest>,
    ) -> Result<ImageRecord> {
        let config: ImageConfig =
            serde_json::from_slice(config_json).map_err(|e| StoreError::json("image config", e))?;
        let store = self.store();
        let mut layers = Vec::with_capacity(config.rootfs.diff_ids.len());
        let mut size = 0u64;
        for diff_id in &config.rootfs.diff_ids {
            if !self.pin_blob(diff_id)? {
                return Err(StoreError::BlobNotFound(diff_id.clone()));
            }
            let n = store.blob_size(diff_id)?;
            size += n;
            layers.push(Descriptor::new(MediaType::OciLayer, diff_id.clone(), n));
        }
        let config_digest = self.put_blob(config_json)?;
        let manifest = ImageManifest {
            schema_version: 2,
            media_type: Some(MediaType::OciManifest),
            config: Descriptor::new(MediaType::OciConfig, config_digest.clone(), config_json.len() as u64),
            layers,
            annotations: BTreeMap::new(),
        };
        let manifest_json =
            serde_json::to_vec(&manifest).map_err(|e| StoreError::json("local manifest", e))?;
        let manifest_digest = self.put_blob(&manifest_json)?;
        let origin = origin.filter(|o| *o != manifest_digest);
        let row = ImageRow {
            manifest: manifest_digest.clone(),
            config: config_digest,
            size,
            created: config.created.clone(),
            added: now(),
            origin,
        };
        let keys: Vec<String> = refs.iter().filter_map(ref_key).collect();
        // The pins above keep every blob alive until this record references them. Rebuilding an unchanged
        // image writes nothing.
        if !store.with_db(|db| db.image_and_refs_exist(&row, &keys))? {
            store.sync_blob_names()?;
            store.with_db(|db| db.insert_image(&row, &keys))?;
        }
        store.record_by_manifest(&manifest_digest)
    }
}
