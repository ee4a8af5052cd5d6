//! [`Registry::pull`]: a reference at a registry → an image in the store.
//!
//! 1. The manifest is fetched with every supported media type accepted (OCI and Docker schema2 manifests
//!    and indexes); a digest-pinned reference must hash to its digest. An index is resolved to the entry
//!    for the wanted platform, whose manifest must hash to the index entry's digest.
//! 2. When the store already holds that manifest's image, it is only tagged.
//! 3. The config is fetched and verified; each layer not already in the store is downloaded by a pool of
//!    threads ([`RegistryOptions::max_concurrent_downloads`](crate::RegistryOptions)), decompressed while
//!    streaming and stored uncompressed under its DiffID (`download.rs`).
//! 4. Only then is the image record committed (with the registry's manifest digest as its origin, so
//!    `name@digest` finds it); on any failure the blobs this pull created are removed again.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use kiln_oci::{
    Descriptor, Digest, ImageConfig, ImageIndex, ImageLocation, ImageManifest, MediaType, Platform, Reference,
};
use kiln_store::{ImageRecord, Lease, Store};

use crate::Registry;
use crate::client::{FetchedManifest, Session};
use crate::download::{Threads, download_layer, download_small, layer_compression};
use crate::error::{RegistryError, Result};
use crate::known::{KnownBlob, indexed_manifest, remember_blob, remember_index};
use crate::progress::{BlobOutcome, Progress, TransferEvent};

/// How to pull.
#[derive(Debug, Clone)]
pub struct PullOptions {
    /// The platform to pick from an index (default: the host's).
    pub platform: Platform,
    /// Tag the image in the store with the reference's tag (default: yes).
    pub tag: bool,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions { platform: Platform::host(), tag: true }
    }
}

/// What a pull did.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// The image in the store.
    pub record: ImageRecord,
    /// The registry's digest of the platform manifest.
    pub manifest_digest: Digest,
    /// The digest of the index it was picked from, when the reference named an index.
    pub index_digest: Option<Digest>,
    /// Layers downloaded.
    pub layers_downloaded: usize,
    /// Layers that were already in the store.
    pub layers_present: usize,
    /// Compressed bytes downloaded.
    pub bytes_downloaded: u64,
}

/// A reference resolved at the registry, without downloading the image.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The platform manifest.
    pub manifest: ImageManifest,
    /// Its digest.
    pub manifest_digest: Digest,
    /// The index it came from, if any.
    pub index_digest: Option<Digest>,
    /// The session that answered (a mirror or the registry).
    session: Session,
}

/// An index or a manifest.
enum Fetched {
    Index(ImageIndex),
    Manifest(ImageManifest),
}

fn parse_manifest(fetched: &FetchedManifest, object: &str) -> Result<Fetched> {
    let value: serde_json::Value = serde_json::from_slice(&fetched.bytes)
        .map_err(|e| RegistryError::invalid(object, format!("invalid JSON: {e}")))?;
    if value.get("schemaVersion").and_then(serde_json::Value::as_u64) == Some(1) {
        return Err(RegistryError::invalid(
            object,
            "is a Docker schema 1 manifest, which is deprecated and not supported; push the image again with a current client",
        ));
    }
    let declared = value
        .get("mediaType")
        .and_then(serde_json::Value::as_str)
        .map(MediaType::parse)
        .unwrap_or_else(|| MediaType::parse(fetched.media_type.split(';').next().unwrap_or("").trim()));
    let is_index = declared.is_index() || (!declared.is_manifest() && value.get("manifests").is_some());
    let json_err = |e: serde_json::Error| RegistryError::invalid(object, format!("invalid manifest: {e}"));
    if is_index {
        Ok(Fetched::Index(serde_json::from_value(value).map_err(json_err)?))
    } else {
        Ok(Fetched::Manifest(serde_json::from_value(value).map_err(json_err)?))
    }
}

impl Registry {
    /// Finds the manifest `reference` names for `platform`, trying Docker Hub's mirrors first.
    pub fn resolve(&self, reference: &Reference, platform: &Platform) -> Result<Resolved> {
        let sessions = self.pull_sessions(&reference.registry, &reference.repository)?;
        let count = sessions.len();
        let mut last = None;
        for (i, session) in sessions.into_iter().enumerate() {
            match resolve_at(&session, reference, platform) {
                Ok(resolved) => return Ok(resolved),
                // Mirrors are best effort: on any failure the next one (finally the registry) is asked.
                Err(e) if i + 1 < count => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| RegistryError::Usage("no registry to pull from".into())))
    }

    /// Pulls `reference` into `store` (see the module docs).
    pub fn pull(
        &self,
        store: &Store,
        reference: &Reference,
        options: &PullOptions,
        progress: &dyn Progress,
    ) -> Result<Pulled> {
        let resolved = self.resolve(reference, &options.platform)?;
        progress.event(TransferEvent::Resolved {
            reference: reference.familiar(),
            digest: resolved.manifest_digest.clone(),
        });
        if let Some(index) = &resolved.index_digest {
            remember_index(store, index, &options.platform, &resolved.manifest_digest);
        }
        let refs: Vec<Reference> = match (&reference.tag, options.tag) {
            (Some(_), true) => vec![Reference { digest: None, ..reference.clone() }],
            _ => Vec::new(),
        };
        let pinned =
            Reference { tag: None, digest: Some(resolved.manifest_digest.clone()), ..reference.clone() };
        if let Ok(record) = store.resolve(&ImageLocation::Store(pinned)) {
            let record = tag_all(store, &record, &refs)?;
            return Ok(Pulled {
                layers_present: record_layers(store, &record),
                record,
                manifest_digest: resolved.manifest_digest,
                index_digest: resolved.index_digest,
                layers_downloaded: 0,
                bytes_downloaded: 0,
            });
        }
        let lease = store.lease().map_err(RegistryError::store("starting a pull"))?;
        match pull_image(&lease, &resolved, &refs, progress) {
            Ok(pulled) => Ok(pulled),
            Err(e) => {
                // Nothing of a failed pull stays: no image record was written, and the blobs it created go.
                let _ = lease.abandon();
                Err(e)
            }
        }
    }
}

/// Remembers that layer `diff_id` was downloaded as blob `layer` from `session`'s repository, so a later
/// push there (or to a sibling repository) skips or mounts it.
pub(crate) fn remember_download(store: &Store, session: &Session, layer: &Descriptor, diff_id: &Digest) {
    let seen = KnownBlob::in_session(session, layer.digest.clone(), layer.size, layer.media_type.clone());
    remember_blob(store, diff_id, seen);
}

/// The stored image `reference` names, for `platform`, without asking any registry: by tag, by manifest
/// digest (the registry's or the store's own), or by an index digest pulled before for this platform.
pub fn local_image(store: &Store, reference: &Reference, platform: &Platform) -> Option<ImageRecord> {
    if let Ok(record) = store.resolve(&ImageLocation::Store(reference.clone())) {
        return Some(record);
    }
    let manifest = indexed_manifest(store, reference.digest.as_ref()?, platform)?;
    let pinned = Reference { tag: None, digest: Some(manifest), ..reference.clone() };
    store.resolve(&ImageLocation::Store(pinned)).ok()
}

fn record_layers(store: &Store, record: &ImageRecord) -> usize {
    store.load(record).map(|i| i.diff_ids().len()).unwrap_or(0)
}

fn tag_all(store: &Store, record: &ImageRecord, refs: &[Reference]) -> Result<ImageRecord> {
    let mut record = record.clone();
    for r in refs {
        record = store
            .tag(
                &ImageLocation::Store(Reference {
                    tag: None,
                    digest: Some(record.manifest_digest.clone()),
                    ..r.clone()
                }),
                r,
            )
            .map_err(RegistryError::store(format!("tagging {}", r.familiar())))?;
    }
    Ok(record)
}

fn resolve_at(session: &Session, reference: &Reference, platform: &Platform) -> Result<Resolved> {
    let part = reference.reference_part();
    let object = format!("manifest {}:{part}", session.name());
    let top = session.get_manifest(&part)?;
    if let Some(pinned) = &reference.digest
        && top.digest != *pinned
    {
        return Err(RegistryError::DigestMismatch { object, expected: pinned.clone(), actual: top.digest });
    }
    match parse_manifest(&top, &object)? {
        Fetched::Manifest(manifest) => Ok(Resolved {
            manifest,
            manifest_digest: top.digest,
            index_digest: None,
            session: session.clone(),
        }),
        Fetched::Index(index) => {
            let entry = index.select(platform).ok_or_else(|| RegistryError::NoMatchingPlatform {
                reference: reference.familiar(),
                wanted: platform.to_string(),
                available: index
                    .manifests
                    .iter()
                    .filter_map(|d| d.platform.as_ref().map(ToString::to_string))
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
            let object = format!("manifest {}@{}", session.name(), entry.digest);
            let inner = session.get_manifest(&entry.digest.to_string())?;
            if inner.digest != entry.digest {
                return Err(RegistryError::DigestMismatch {
                    object,
                    expected: entry.digest.clone(),
                    actual: inner.digest,
                });
            }
            if inner.bytes.len() as u64 != entry.size {
                return Err(RegistryError::SizeMismatch {
                    object,
                    expected: entry.size,
                    actual: inner.bytes.len() as u64,
                });
            }
            match parse_manifest(&inner, &object)? {
                Fetched::Manifest(manifest) => Ok(Resolved {
                    manifest,
                    manifest_digest: inner.digest,
                    index_digest: Some(top.digest),
                    session: session.clone(),
                }),
                Fetched::Index(_) => Err(RegistryError::invalid(
                    object,
                    "an index entry is itself an index (nested indexes are not supported)",
                )),
            }
        }
    }
}

fn pull_image(
    lease: &Lease,
    resolved: &Resolved,
    refs: &[Reference],
    progress: &dyn Progress,
) -> Result<Pulled> {
    let session = &resolved.session;
    let store = lease.store();
    let manifest = &resolved.manifest;
    let object = format!("image {}@{}", session.name(), resolved.manifest_digest);
    if !manifest.config.media_type.is_config() {
        return Err(RegistryError::invalid(
            &object,
            format!("is not a container image: its config has media type {}", manifest.config.media_type),
        ));
    }
    let cancel = AtomicBool::new(false);
    let config_bytes = match lease.pin_blob(&manifest.config.digest) {
        Ok(true) => store
            .read_blob(&manifest.config.digest)
            .map_err(RegistryError::store("reading the image config"))?,
        _ => download_small(session, &manifest.config, &cancel, progress)?,
    };
    let config: ImageConfig = serde_json::from_slice(&config_bytes).map_err(|e| {
        RegistryError::invalid(format!("config {} of {object}", manifest.config.digest), e.to_string())
    })?;
    let diff_ids = &config.rootfs.diff_ids;
    if diff_ids.len() != manifest.layers.len() {
        return Err(RegistryError::invalid(
            &object,
            format!(
                "the manifest lists {} layers but the config {} DiffIDs",
                manifest.layers.len(),
                diff_ids.len()
            ),
        ));
    }
    let mut jobs = VecDeque::new();
    let mut present = 0;
    for (layer, diff_id) in manifest.layers.iter().zip(diff_ids) {
        layer_compression(layer, &object)?;
        if lease.pin_blob(diff_id).map_err(RegistryError::store("checking the store"))? {
            present += 1;
            progress.event(TransferEvent::BlobDone {
                digest: layer.digest.clone(),
                outcome: BlobOutcome::AlreadyThere,
            });
        } else if !jobs.iter().any(|(_, d): &(&Descriptor, &Digest)| *d == diff_id) {
            jobs.push_back((layer, diff_id));
        }
    }
    let downloaded = jobs.len();
    let bytes: u64 = jobs.iter().map(|(l, _)| l.size).sum();
    let workers = resolved_workers(session, downloaded);
    run_parallel(jobs, workers, &cancel, |(layer, diff_id)| {
        progress.event(TransferEvent::BlobStarted { digest: layer.digest.clone(), size: layer.size });
        download_layer(
            session,
            lease,
            layer,
            diff_id,
            Threads::for_layer(layer.size, bytes, workers),
            &cancel,
            progress,
        )?;
        progress.event(TransferEvent::BlobDone {
            digest: layer.digest.clone(),
            outcome: BlobOutcome::Downloaded,
        });
        Ok(())
    })?;
    let record = lease
        .commit_image(&config_bytes, refs, Some(resolved.manifest_digest.clone()))
        .map_err(RegistryError::store(format!("storing {object}")))?;
    for (layer, diff_id) in manifest.layers.iter().zip(diff_ids) {
        remember_download(store, session, layer, diff_id);
    }
    Ok(Pulled {
        record,
        manifest_digest: resolved.manifest_digest.clone(),
        index_digest: resolved.index_digest.clone(),
        layers_downloaded: downloaded,
        layers_present: present,
        bytes_downloaded: bytes,
    })
}

fn resolved_workers(session: &Session, jobs: usize) -> usize {
    session.endpoint.max_downloads().clamp(1, jobs.max(1))
}

/// Runs `work` on each job with `workers` threads; the first error cancels the rest and is returned.
pub(crate) fn run_parallel<J: Send>(
    jobs: VecDeque<J>,
    workers: usize,
    cancel: &AtomicBool,
    work: impl Fn(J) -> Result<()> + Sync,
) -> Result<()> {
    let queue = Mutex::new(jobs);
    let first_error: Mutex<Option<RegistryError>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    if cancel.load(Ordering::Relaxed) {
                        return;
                    }
                    // The queue and error slots hold plain data; a panicking worker cannot corrupt them.
                    let job = queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop_front();
                    let Some(job) = job else { return };
                    if let Err(e) = work(job) {
                        cancel.store(true, Ordering::Relaxed);
                        let mut slot = first_error.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        if slot.is_none() || matches!(*slot, Some(RegistryError::Cancelled)) {
                            *slot = Some(e);
                        }
                        return;
                    }
                }
            });
        }
    });
    match first_error.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
