//! [`Registry::push`]: an image in the store → a repository, uploading only what the repository lacks.
//!
//! For each layer (in parallel, [`RegistryOptions::max_concurrent_uploads`](crate::RegistryOptions)):
//! 1. the compressed forms kiln knows for it — the one remembered in the store, and the blobs it was
//!    pulled or pushed as ([`crate::known`]) — are checked with `HEAD` in the target repository: one that
//!    is there needs no upload;
//! 2. a known blob in another repository of the same registry is mounted (`POST ?mount=&from=`);
//! 3. otherwise it is uploaded: a layer already compressed in the store from there, in one `PUT` or in
//!    `PATCH` chunks; a layer not compressed yet is compressed once into the store (remembered, so the
//!    next push or export reuses it) while the compressed bytes stream into the upload as they come
//!    (`compress_and_upload`). A failed upload (dropped connection, a digest the registry rejects)
//!    starts again from a new upload session, reading the blob from the store.
//!
//! Then the config blob and an OCI manifest (`PUT` by tag), or for [`Registry::push_index`] each
//! platform's manifest by digest and an OCI index over them.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;

use kiln_oci::{
    Compression, Descriptor, Digest, ImageIndex, ImageLocation, ImageManifest, MediaType, Reference,
};
use kiln_store::{Image, Lease, Store};

use crate::Registry;
use crate::client::{Session, SizedBody};
use crate::error::{RegistryError, Result};
use crate::known::{KnownBlob, known_blobs, remember_blob};
use crate::progress::{BlobOutcome, Progress, TransferEvent};
use crate::pull::run_parallel;

/// How to push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushOptions {
    /// Layer compression (default gzip, as Docker; zstd; or none).
    pub compression: Compression,
    /// Compression level (gzip 0–9, default 3; zstd 1–22, default 3).
    pub level: Option<i32>,
}

impl Default for PushOptions {
    fn default() -> Self {
        PushOptions { compression: Compression::Gzip, level: None }
    }
}

/// What a push did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// The digest of the manifest (or index) pushed.
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
    /// What happened to the blobs.
    pub blobs: BlobCounts,
}

/// How many blobs a push uploaded, found or mounted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BlobCounts {
    /// Blobs uploaded.
    pub uploaded: usize,
    /// Blobs the repository already had.
    pub present: usize,
    /// Blobs mounted from another repository.
    pub mounted: usize,
    /// Bytes uploaded.
    pub bytes_uploaded: u64,
}

impl BlobCounts {
    pub(crate) fn add(&mut self, other: &BlobCounts) {
        self.uploaded += other.uploaded;
        self.present += other.present;
        self.mounted += other.mounted;
        self.bytes_uploaded += other.bytes_uploaded;
    }
}

impl Registry {
    /// Pushes the stored image `source` to `target` (tagged, or by digest when `target` has no tag).
    pub fn push(
        &self,
        store: &Store,
        source: &ImageLocation,
        target: &Reference,
        options: &PushOptions,
        progress: &dyn Progress,
    ) -> Result<Pushed> {
        let tag = target_tag(target)?;
        let session = self.push_session(&target.registry, &target.repository)?;
        let lease = store.lease().map_err(RegistryError::store("starting a push"))?;
        let image = store.image(source).map_err(RegistryError::store(format!("reading image {source}")))?;
        let (manifest, blobs) = push_image(&session, &lease, &image, options, progress)?;
        let reference = tag.unwrap_or_else(|| Digest::sha256_of(&manifest).to_string());
        let digest = session.put_manifest(&reference, MediaType::OciManifest.as_str(), &manifest)?;
        Ok(Pushed { digest, size: manifest.len() as u64, blobs })
    }

    /// Pushes several stored images (one per platform) and an OCI index over them to `target`.
    pub fn push_index(
        &self,
        store: &Store,
        sources: &[ImageLocation],
        target: &Reference,
        options: &PushOptions,
        progress: &dyn Progress,
    ) -> Result<Pushed> {
        let tag = target_tag(target)?;
        let session = self.push_session(&target.registry, &target.repository)?;
        let lease = store.lease().map_err(RegistryError::store("starting a push"))?;
        let mut index = ImageIndex::new();
        let mut total = BlobCounts::default();
        for source in sources {
            let image =
                store.image(source).map_err(RegistryError::store(format!("reading image {source}")))?;
            let (manifest, pushed) = push_image(&session, &lease, &image, options, progress)?;
            total.add(&pushed);
            let digest = Digest::sha256_of(&manifest);
            session.put_manifest(&digest.to_string(), MediaType::OciManifest.as_str(), &manifest)?;
            let mut entry = Descriptor::new(MediaType::OciManifest, digest, manifest.len() as u64);
            entry.platform = Some(image.config.platform());
            if index.manifests.iter().any(|m| m.platform == entry.platform) {
                return Err(RegistryError::Usage(format!(
                    "two images for platform {} in one index",
                    image.config.platform()
                )));
            }
            index.manifests.push(entry);
        }
        let bytes =
            serde_json::to_vec(&index).map_err(|e| RegistryError::invalid("image index", e.to_string()))?;
        let reference = tag.unwrap_or_else(|| Digest::sha256_of(&bytes).to_string());
        let digest = session.put_manifest(&reference, MediaType::OciIndex.as_str(), &bytes)?;
        Ok(Pushed { digest, size: bytes.len() as u64, blobs: total })
    }
}

pub(crate) fn target_tag(target: &Reference) -> Result<Option<String>> {
    if target.digest.is_some() {
        return Err(RegistryError::Usage(format!(
            "cannot push to {}: a push target names a tag, not a digest (the digest is the result)",
            target.familiar()
        )));
    }
    Ok(target.tag.clone())
}

/// Uploads `image`'s blobs to `session`'s repository; returns its OCI manifest bytes.
fn push_image(
    session: &Session,
    lease: &Lease,
    image: &Image,
    options: &PushOptions,
    progress: &dyn Progress,
) -> Result<(Vec<u8>, BlobCounts)> {
    let (layers, mut stats) = push_layers(session, lease, image.diff_ids(), options, progress)?;
    let config_digest = Digest::sha256_of(&image.config_bytes);
    let config =
        Descriptor::new(MediaType::OciConfig, config_digest.clone(), image.config_bytes.len() as u64);
    stats.add(&push_bytes(session, &image.config_bytes)?);
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(MediaType::OciManifest),
        config,
        layers,
        annotations: Default::default(),
    };
    let bytes =
        serde_json::to_vec(&manifest).map_err(|e| RegistryError::invalid("image manifest", e.to_string()))?;
    Ok((bytes, stats))
}

/// Makes the small blob `bytes` (a config) present in `session`'s repository, uploading it when missing.
pub(crate) fn push_bytes(session: &Session, bytes: &[u8]) -> Result<BlobCounts> {
    let digest = Digest::sha256_of(bytes);
    let mut stats = BlobCounts::default();
    match session.head_blob(&digest)? {
        Some(_) => stats.present += 1,
        None => {
            upload_bytes(session, bytes, &digest)?;
            stats.uploaded += 1;
            stats.bytes_uploaded += bytes.len() as u64;
        }
    }
    Ok(stats)
}

/// Makes layers `diff_ids` present in `session`'s repository, in parallel; returns their descriptors (in
/// order) and what it took.
pub(crate) fn push_layers(
    session: &Session,
    lease: &Lease,
    diff_ids: &[Digest],
    options: &PushOptions,
    progress: &dyn Progress,
) -> Result<(Vec<Descriptor>, BlobCounts)> {
    let results: Mutex<Vec<Option<(Descriptor, BlobOutcome)>>> = Mutex::new(vec![None; diff_ids.len()]);
    let mut jobs: VecDeque<(usize, &Digest)> = diff_ids.iter().enumerate().collect();
    // The same layer twice in one image is pushed once.
    let mut seen = std::collections::HashSet::new();
    jobs.retain(|(_, d)| seen.insert(*d));
    let cancel = AtomicBool::new(false);
    let workers = session.endpoint.max_uploads().clamp(1, jobs.len().max(1));
    run_parallel(jobs, workers, &cancel, |(i, diff_id)| {
        let done = push_layer(session, lease, diff_id, options, progress)?;
        results.lock().unwrap_or_else(std::sync::PoisonError::into_inner)[i] = Some(done);
        Ok(())
    })?;
    let results = results.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut stats = BlobCounts::default();
    let mut layers = Vec::with_capacity(diff_ids.len());
    for (i, diff_id) in diff_ids.iter().enumerate() {
        let found = results[i].clone().or_else(|| {
            let first = diff_ids.iter().position(|d| d == diff_id)?;
            results[first].clone().map(|(d, _)| (d, BlobOutcome::AlreadyThere))
        });
        let (descriptor, outcome) =
            found.ok_or_else(|| RegistryError::Usage(format!("layer {diff_id} was not pushed")))?;
        match outcome {
            BlobOutcome::Uploaded => {
                stats.uploaded += 1;
                stats.bytes_uploaded += descriptor.size;
            }
            BlobOutcome::Mounted => stats.mounted += 1,
            BlobOutcome::AlreadyThere | BlobOutcome::Downloaded => stats.present += 1,
        }
        layers.push(descriptor);
    }
    Ok((layers, stats))
}

/// Makes layer `diff_id` present in the repository; returns its descriptor and how.
fn push_layer(
    session: &Session,
    lease: &Lease,
    diff_id: &Digest,
    options: &PushOptions,
    progress: &dyn Progress,
) -> Result<(Descriptor, BlobOutcome)> {
    let store = lease.store();
    let compression = options.compression;
    let media_type = MediaType::oci_layer(compression);
    let local = if compression == Compression::None {
        if !lease.pin_blob(diff_id).map_err(RegistryError::store("reading the store"))? {
            return Err(RegistryError::Store {
                context: "pushing".to_owned(),
                source: kiln_store::StoreError::BlobNotFound(diff_id.clone()),
            });
        }
        let size = store.blob_size(diff_id).map_err(RegistryError::store(format!("layer {diff_id}")))?;
        Some((diff_id.clone(), size))
    } else {
        lease
            .compressed_blob(diff_id, compression, options.level)
            .map_err(RegistryError::store(format!("layer {diff_id}")))?
    };
    let known: Vec<KnownBlob> = known_blobs(store, diff_id)
        .into_iter()
        .filter(|k| k.media_type.layer_compression() == Some(compression))
        .collect();
    let here = |digest: &Digest, size: u64, outcome: BlobOutcome| {
        remember_blob(
            store,
            diff_id,
            KnownBlob::in_session(session, digest.clone(), size, media_type.clone()),
        );
        progress.event(TransferEvent::BlobDone { digest: digest.clone(), outcome });
        Ok((Descriptor::new(media_type.clone(), digest.clone(), size), outcome))
    };
    // 1. Already in the target repository?
    let mut candidates: Vec<(Digest, u64)> = local.iter().cloned().collect();
    for k in &known {
        if !candidates.iter().any(|(d, _)| *d == k.digest) {
            candidates.push((k.digest.clone(), k.size));
        }
    }
    for (digest, size) in &candidates {
        if session.head_blob(digest)?.is_some() {
            return here(digest, *size, BlobOutcome::AlreadyThere);
        }
    }
    // 2. In a sibling repository of the same registry?
    for k in
        known.iter().filter(|k| k.registry == session.endpoint.host && k.repository != session.repository)
    {
        if session.mount_blob(&k.digest, &k.repository)? {
            return here(&k.digest, k.size, BlobOutcome::Mounted);
        }
    }
    // 3. Upload, compressing on the way if needed.
    let (digest, size) = match local {
        Some((digest, size)) => {
            progress.event(TransferEvent::BlobStarted { digest: digest.clone(), size });
            upload_blob(session, lease, &digest, size, progress)?;
            (digest, size)
        }
        None => compress_and_upload(session, lease, diff_id, options, progress)?,
    };
    here(&digest, size, BlobOutcome::Uploaded)
}

/// Compresses layer `diff_id` into the store (remembered, as [`compress_layer`]) while streaming the
/// compressed bytes into an upload; returns the blob's digest and size once the registry has it.
///
/// The registry gets the bytes as they come out of the compressor, in one chunked `PATCH`, and the digest
/// (known only at the end) in the closing `PUT`. The store keeps every byte whatever the upload does, so
/// when the streamed upload fails (a dropped connection, a digest the registry computed differently, a
/// registry that refuses streamed `PATCH`es) the blob is uploaded again from the store with retries, as
/// when it was compressed before. With a chunk size set (a registry that limits request sizes) the layer
/// is compressed first and uploaded in chunks.
fn compress_and_upload(
    session: &Session,
    lease: &Lease,
    diff_id: &Digest,
    options: &PushOptions,
    progress: &dyn Progress,
) -> Result<(Digest, u64)> {
    let upload = |digest: &Digest, size: u64| {
        progress.event(TransferEvent::BlobStarted { digest: digest.clone(), size });
        upload_blob(session, lease, digest, size, progress)
    };
    if session.endpoint.chunk_size().is_some() {
        let (digest, size) = compress_layer(lease, diff_id, options, None)?;
        upload(&digest, size)?;
        return Ok((digest, size));
    }
    let what = format!("uploading layer {diff_id} to {}", session.name());
    let (streamed, compressed) = match session.start_upload(&what) {
        Err(e) => (Err(e), compress_layer(lease, diff_id, options, None)),
        Ok(location) => {
            let (tx, mut body) = crate::pipe::pipe(4);
            std::thread::scope(|scope| {
                let sender = scope.spawn(|| {
                    let sent = session.upload_stream(&what, &location, &mut body);
                    // A failed request may leave the compressor's next block unread: end the pipe.
                    drop(body);
                    sent
                });
                let compressed = compress_layer(lease, diff_id, options, Some(tx));
                let sent = sender.join().unwrap_or_else(|_| {
                    Err(RegistryError::invalid(&what, "the upload thread panicked".to_owned()))
                });
                let streamed = match (&sent, &compressed) {
                    (Ok(next), Ok((digest, _))) => session.finish_upload(&what, next, digest),
                    (Err(_), _) => sent.map(|_| ()),
                    // The bytes all went up but the store could not keep them: close nothing.
                    (Ok(_), Err(_)) => Err(RegistryError::invalid(&what, "the layer was not stored")),
                };
                if streamed.is_err() {
                    let _ = session.cancel_upload(&location);
                }
                (streamed, compressed)
            })
        }
    };
    let (digest, size) = compressed?;
    match streamed {
        Ok(()) => {
            progress.event(TransferEvent::BlobStarted { digest: digest.clone(), size });
            progress.event(TransferEvent::BlobProgress { digest: digest.clone(), done: size });
        }
        Err(e) => {
            progress.event(TransferEvent::Retrying {
                what: format!("{what} while compressing it (uploading it again from the store)"),
                attempt: 1,
                error: e.to_string(),
            });
            upload(&digest, size)?;
        }
    }
    Ok((digest, size))
}

/// Compresses layer `diff_id` into the store and remembers it, handing the compressed bytes to `pipe`
/// too when given (a dropped pipe ends only the copy into it). On failure the store keeps nothing.
fn compress_layer(
    lease: &Lease,
    diff_id: &Digest,
    options: &PushOptions,
    pipe: Option<crate::pipe::PipeWriter>,
) -> Result<(Digest, u64)> {
    let store = lease.store();
    let context = format!("compressing layer {diff_id}");
    let source = store.open_blob(diff_id).map_err(RegistryError::store(&context))?;
    // The compressor hashes exactly the bytes it writes (all of them reach the writer through the tee):
    // the store need not hash them again.
    let writer = lease.prehashed_blob_writer().map_err(RegistryError::store(&context))?;
    let mut tee = crate::pipe::Tee::new(writer, pipe);
    let layer_options =
        kiln_layer::CompressOptions { compression: options.compression, level: options.level, threads: 0 };
    let info =
        kiln_layer::compress(std::io::BufReader::with_capacity(1 << 20, source), &mut tee, &layer_options)
            .map_err(|e| RegistryError::invalid(format!("layer {diff_id}"), format!("compressing: {e}")))?;
    let writer = tee.finish();
    let (digest, size) =
        writer.commit(Some(&info.digest), Some(info.size)).map_err(RegistryError::store(&context))?;
    lease
        .remember_compressed(diff_id, options.compression, options.level, &digest, size)
        .map_err(RegistryError::store(&context))?;
    Ok((digest, size))
}

/// True for failures an upload restarted from scratch may get past: network failures, server errors,
/// and a digest the registry computed differently (the bytes were damaged on the way).
fn upload_may_succeed_again(e: &RegistryError) -> bool {
    e.is_transient()
        || matches!(e, RegistryError::Status { status: 400, detail, .. } if detail.contains("DIGEST_INVALID") || detail.contains("SIZE_INVALID"))
        || matches!(e, RegistryError::Status { status: 401, .. })
}

/// Uploads store blob `digest`, starting over from a new upload session after a failure.
fn upload_blob(
    session: &Session,
    lease: &Lease,
    digest: &Digest,
    size: u64,
    progress: &dyn Progress,
) -> Result<()> {
    let what = format!("uploading blob {digest} to {}", session.name());
    let retry = session.endpoint.retry().clone();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let result = (|| {
            let location = session.start_upload(&what)?;
            let mut file = lease.store().open_blob(digest).map_err(RegistryError::store(&what))?;
            let mut done = 0u64;
            let mut report = |n: u64| {
                done += n;
                progress.event(TransferEvent::BlobProgress { digest: digest.clone(), done });
            };
            let sent =
                session.upload(&what, &location, SizedBody { reader: &mut file, size }, digest, &mut report);
            if sent.is_err() {
                let _ = session.cancel_upload(&location);
            }
            sent
        })();
        match result {
            Ok(()) => return Ok(()),
            Err(e) if upload_may_succeed_again(&e) && attempt < retry.attempts => {
                progress.event(TransferEvent::Retrying { what: what.clone(), attempt, error: e.to_string() });
                std::thread::sleep(retry.delay(attempt));
            }
            Err(e) if attempt > 1 => {
                return Err(RegistryError::Exhausted { what, attempts: attempt, last: Box::new(e) });
            }
            Err(e) => return Err(e),
        }
    }
}

/// Uploads a small blob held in memory (a config).
pub(crate) fn upload_bytes(session: &Session, bytes: &[u8], digest: &Digest) -> Result<()> {
    let what = format!("uploading blob {digest} to {}", session.name());
    let retry = session.endpoint.retry().clone();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let result = session.start_upload(&what).and_then(|location| {
            let body = SizedBody { reader: &mut &bytes[..], size: bytes.len() as u64 };
            session.upload(&what, &location, body, digest, &mut |_| {})
        });
        match result {
            Ok(()) => return Ok(()),
            Err(e) if upload_may_succeed_again(&e) && attempt < retry.attempts => {
                std::thread::sleep(retry.delay(attempt));
            }
            Err(e) if attempt > 1 => {
                return Err(RegistryError::Exhausted { what, attempts: attempt, last: Box::new(e) });
            }
            Err(e) => return Err(e),
        }
    }
}
