//! Downloading one blob into the store: [`ResumingReader`] turns a blob `GET` into a reader that survives
//! dropped connections and stalls (it re-requests from the byte it got to with `Range`, or skips ahead
//! when the registry ignores ranges), and [`download_layer`] streams a compressed layer through the blob
//! digest check and the decompressor into a store blob named by its DiffID. A damaged download (a flipped
//! byte, a truncated stream) fails the digest check, so nothing unverified becomes visible, and is fetched
//! again up to the retry policy's attempts.

use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};

use kiln_oci::{Compression, Descriptor, Digest, Sha256Reader};
use kiln_store::{Lease, StoreError};

use crate::client::Session;
use crate::error::{RegistryError, Result};
use crate::progress::{Progress, TransferEvent};

/// A blob body that resumes after failures.
pub(crate) struct ResumingReader<'a> {
    session: &'a Session,
    digest: &'a Digest,
    size: u64,
    offset: u64,
    body: Option<Box<dyn Read + Send>>,
    failures: u32,
    cancel: &'a AtomicBool,
    progress: &'a dyn Progress,
}

impl<'a> ResumingReader<'a> {
    pub(crate) fn new(
        session: &'a Session,
        digest: &'a Digest,
        size: u64,
        cancel: &'a AtomicBool,
        progress: &'a dyn Progress,
    ) -> Self {
        ResumingReader { session, digest, size, offset: 0, body: None, failures: 0, cancel, progress }
    }

    /// Counts a failure; errors out when the policy's attempts are used up, else waits before the next.
    fn failed(&mut self, error: RegistryError) -> io::Result<()> {
        self.body = None;
        self.failures += 1;
        let retry = self.session.endpoint.retry();
        if !error.is_transient() {
            return Err(io::Error::other(error));
        }
        if self.failures >= retry.attempts {
            return Err(io::Error::other(RegistryError::Exhausted {
                what: format!("downloading blob {} from {}", self.digest, self.session.name()),
                attempts: self.failures,
                last: Box::new(error),
            }));
        }
        self.progress.event(TransferEvent::Retrying {
            what: format!("blob {} at byte {}", self.digest, self.offset),
            attempt: self.failures,
            error: error.to_string(),
        });
        std::thread::sleep(retry.delay(self.failures));
        Ok(())
    }

    fn open(&mut self) -> Result<Box<dyn Read + Send>> {
        let (mut body, ranged) = self.session.get_blob(self.digest, self.offset)?;
        if !ranged && self.offset > 0 {
            // The registry ignored the Range: skip what we already have.
            let skipped = io::copy(&mut (&mut body).take(self.offset), &mut io::sink())
                .map_err(|e| self.network_error(e))?;
            if skipped != self.offset {
                return Err(self.network_error(io::Error::from(io::ErrorKind::UnexpectedEof)));
            }
        }
        Ok(body)
    }

    fn network_error(&self, e: io::Error) -> RegistryError {
        RegistryError::Network {
            what: format!("downloading blob {} from {}", self.digest, self.session.name()),
            method: "GET".to_owned(),
            url: format!("byte {}", self.offset),
            source: Box::new(e),
        }
    }
}

impl Read for ResumingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.cancel.load(Ordering::Relaxed) {
                return Err(io::Error::other(RegistryError::Cancelled));
            }
            if self.body.is_none() {
                match self.open() {
                    Ok(body) => self.body = Some(body),
                    Err(e) => {
                        self.failed(e)?;
                        continue;
                    }
                }
            }
            let Some(body) = self.body.as_mut() else { continue };
            match body.read(buf) {
                Ok(0) if self.offset < self.size => {
                    let e = self.network_error(io::Error::from(io::ErrorKind::UnexpectedEof));
                    self.failed(e)?;
                }
                Ok(n) => {
                    self.offset += n as u64;
                    if n > 0 {
                        self.progress.event(TransferEvent::BlobProgress {
                            digest: self.digest.clone(),
                            done: self.offset,
                        });
                    }
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let e = self.network_error(e);
                    self.failed(e)?;
                }
            }
        }
    }
}

/// Downloads layer `layer` (compressed as its media type says) into the store as the uncompressed blob
/// `diff_id`, retrying damaged downloads. The blob is pinned by `lease`.
pub(crate) fn download_layer(
    session: &Session,
    lease: &Lease,
    layer: &Descriptor,
    diff_id: &Digest,
    cancel: &AtomicBool,
    progress: &dyn Progress,
) -> Result<()> {
    let retry = session.endpoint.retry().clone();
    let mut attempt = 0;
    loop {
        attempt += 1;
        match download_once(session, lease, layer, diff_id, cancel, progress) {
            Ok(()) => return Ok(()),
            Err(e) if is_damage(&e) && attempt < retry.attempts && !cancel.load(Ordering::Relaxed) => {
                progress.event(TransferEvent::Retrying {
                    what: format!("blob {}", layer.digest),
                    attempt,
                    error: e.to_string(),
                });
                std::thread::sleep(retry.delay(attempt));
            }
            Err(e) if is_damage(&e) && attempt > 1 => {
                return Err(RegistryError::Exhausted {
                    what: format!("downloading blob {} from {}", layer.digest, session.name()),
                    attempts: attempt,
                    last: Box::new(e),
                });
            }
            Err(e) => return Err(e),
        }
    }
}

/// Content that arrived damaged (worth downloading again), as opposed to a network failure the resuming
/// reader already retried.
fn is_damage(e: &RegistryError) -> bool {
    matches!(e, RegistryError::DigestMismatch { .. } | RegistryError::SizeMismatch { .. })
}

fn download_once(
    session: &Session,
    lease: &Lease,
    layer: &Descriptor,
    diff_id: &Digest,
    cancel: &AtomicBool,
    progress: &dyn Progress,
) -> Result<()> {
    let object = format!("blob {} from {}", layer.digest, session.name());
    let source = ResumingReader::new(session, &layer.digest, layer.size, cancel, progress);
    let mut hashing = Sha256Reader::new(source.take(layer.size + 1));
    let mut writer = lease.blob_writer().map_err(RegistryError::store(format!("storing layer {diff_id}")))?;
    let copied = match kiln_layer::decompress(&mut hashing) {
        Ok((_, mut plain)) => kiln_layer::copy_large(&mut plain, &mut writer).map(|_| ()),
        Err(e) => Err(io::Error::new(io::ErrorKind::InvalidData, e.to_string())),
    };
    if let Err(e) = copied {
        // Network errors (already retried) and cancellation end here; a broken compressed stream is
        // judged by the blob digest: damage when it does not match, a bad blob when it does.
        let e = match e.downcast::<RegistryError>() {
            Ok(registry_error) => return Err(registry_error),
            Err(e) => e,
        };
        drain(&mut hashing, &object)?;
        verify(hashing, layer, &object)?;
        return Err(RegistryError::invalid(object, format!("not a valid layer: {e}")));
    }
    drain(&mut hashing, &object)?;
    verify(hashing, layer, &object)?;
    writer.commit_named(Some(diff_id), None, &format!("layer {diff_id} (uncompressed {object})")).map_err(
        |e| match e {
            StoreError::DigestMismatch { object, expected, actual } => RegistryError::invalid(
                object,
                format!("its uncompressed digest is {actual}, but the image config names DiffID {expected}"),
            ),
            e => RegistryError::Store { context: format!("storing layer {diff_id}"), source: e },
        },
    )?;
    Ok(())
}

/// Reads the rest of the compressed stream (after the decompressor's end) so the digest covers every byte.
fn drain<R: Read>(hashing: &mut Sha256Reader<R>, object: &str) -> Result<()> {
    io::copy(hashing, &mut io::sink()).map(|_| ()).map_err(|e| match e.downcast::<RegistryError>() {
        Ok(registry_error) => registry_error,
        Err(e) => RegistryError::invalid(object, e.to_string()),
    })
}

fn verify<R>(hashing: Sha256Reader<R>, layer: &Descriptor, object: &str) -> Result<()> {
    let (_, digest, size) = hashing.finish();
    if size != layer.size {
        return Err(RegistryError::SizeMismatch {
            object: object.to_owned(),
            expected: layer.size,
            actual: size,
        });
    }
    if digest != layer.digest {
        return Err(RegistryError::DigestMismatch {
            object: object.to_owned(),
            expected: layer.digest.clone(),
            actual: digest,
        });
    }
    Ok(())
}

/// Downloads a small blob (a config) whole, verifying digest and size.
pub(crate) fn download_small(
    session: &Session,
    descriptor: &Descriptor,
    cancel: &AtomicBool,
    progress: &dyn Progress,
) -> Result<Vec<u8>> {
    let object = format!("blob {} from {}", descriptor.digest, session.name());
    if descriptor.size > kiln_store::blob::MAX_JSON_BLOB {
        return Err(RegistryError::invalid(object, "too large for a config"));
    }
    let retry = session.endpoint.retry().clone();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut data = Vec::with_capacity(descriptor.size as usize);
        let reader = ResumingReader::new(session, &descriptor.digest, descriptor.size, cancel, progress);
        reader.take(descriptor.size + 1).read_to_end(&mut data).map_err(|e| {
            match e.downcast::<RegistryError>() {
                Ok(r) => r,
                Err(e) => RegistryError::invalid(&object, e.to_string()),
            }
        })?;
        let digest = Digest::sha256_of(&data);
        let err = if data.len() as u64 != descriptor.size {
            RegistryError::SizeMismatch {
                object: object.clone(),
                expected: descriptor.size,
                actual: data.len() as u64,
            }
        } else if digest != descriptor.digest {
            RegistryError::DigestMismatch {
                object: object.clone(),
                expected: descriptor.digest.clone(),
                actual: digest,
            }
        } else {
            return Ok(data);
        };
        if attempt >= retry.attempts {
            return Err(RegistryError::Exhausted {
                what: format!("downloading {object}"),
                attempts: attempt,
                last: Box::new(err),
            });
        }
        std::thread::sleep(retry.delay(attempt));
    }
}

/// The compression a layer descriptor declares, or an error naming it.
pub(crate) fn layer_compression(layer: &Descriptor, object: &str) -> Result<Compression> {
    if !layer.urls.is_empty()
        || matches!(&layer.media_type, kiln_oci::MediaType::Other(m) if m.contains("foreign"))
    {
        return Err(RegistryError::invalid(
            object,
            format!(
                "layer {} is a foreign (non-distributable) layer, which kiln does not download",
                layer.digest
            ),
        ));
    }
    layer.media_type.layer_compression().ok_or_else(|| {
        RegistryError::invalid(
            object,
            format!("layer {} has media type {}, which is not a layer", layer.digest, layer.media_type),
        )
    })
}
