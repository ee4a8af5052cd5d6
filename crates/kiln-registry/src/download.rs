//! Downloading one blob into the store: [`ResumingReader`] turns a blob `GET` into a reader that survives
//! dropped connections and stalls (it re-requests from the byte it got to with `Range`, or skips ahead
//! when the registry ignores ranges), and [`download_layer`] streams a compressed layer through the blob
//! digest check and the decompressor into a store blob named by its DiffID, on one thread or, for a layer
//! that holds most of a pull, on three ([`Threads`]). A damaged download (a flipped byte, a truncated
//! stream) fails the digest check, so nothing unverified becomes visible, and is fetched again up to the
//! retry policy's attempts.

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use kiln_oci::{Compression, Descriptor, Digest, Sha256Reader};
use kiln_store::{BlobWriter, Lease, StoreError};

use crate::client::Session;
use crate::error::{RegistryError, Result};
use crate::pipe::{PipeReader, PipeWriter, pipe, pump};
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
    threads: Threads,
    cancel: &AtomicBool,
    progress: &dyn Progress,
) -> Result<()> {
    let retry = session.endpoint.retry().clone();
    let mut attempt = 0;
    loop {
        attempt += 1;
        match download_once(session, lease, layer, diff_id, threads, cancel, progress) {
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

/// The download's pieces: big enough to make few hand-overs between threads, small enough to stay in the
/// cache between the thread that fills a piece and the one that reads it.
const FETCH_PIECE: usize = 256 << 10;
/// Download pieces in flight (2 MiB).
const FETCH_DEPTH: usize = 8;
/// The uncompressed pieces: one of kiln's gzip members inflates straight into one, and the store blob's
/// 1 MiB write buffer passes a piece this big to the file without copying it.
const PLAIN_PIECE: usize = 1 << 20;
/// Uncompressed pieces in flight.
const PLAIN_DEPTH: usize = 3;

/// How a layer's download uses threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Threads {
    /// The download with its blob digest, decompression, and the store blob (which hashes the DiffID as it
    /// writes) each on a thread of their own, joined by [`crate::pipe`]s: for a layer that would otherwise
    /// leave cores idle (docs/registry.md has the numbers).
    Pipelined,
    /// All three on the calling thread: when other layers keep the other cores busy, the hand-overs
    /// between threads only cost.
    One,
}

impl Threads {
    /// For one of the layers of a pull of `total` bytes that downloads `at_once` layers at a time.
    pub(crate) fn for_layer(size: u64, total: u64, at_once: usize) -> Threads {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Threads::choose(size, total, at_once, cores)
    }

    /// Pipelined when cores would otherwise idle: fewer layers download at once than there are cores, or
    /// the layer holds more than a core's share of the bytes, so that it runs alone for much of the pull (a
    /// single layer; the big base layer of an image with small ones on top). Else on one thread.
    fn choose(size: u64, total: u64, at_once: usize, cores: usize) -> Threads {
        let dominant = u128::from(size) * cores as u128 > u128::from(total);
        if cores > 1 && (at_once < cores || dominant) { Threads::Pipelined } else { Threads::One }
    }
}

/// One attempt at a layer.
fn download_once(
    session: &Session,
    lease: &Lease,
    layer: &Descriptor,
    diff_id: &Digest,
    threads: Threads,
    cancel: &AtomicBool,
    progress: &dyn Progress,
) -> Result<()> {
    let object = format!("blob {} from {}", layer.digest, session.name());
    let storing = format!("storing layer {diff_id}");
    let source = ResumingReader::new(session, &layer.digest, layer.size, cancel, progress);
    let writer = lease.blob_writer().map_err(RegistryError::store(&storing))?;
    let (hashing, undelivered, inflated, stored) = match threads {
        Threads::Pipelined => pipelined(source, layer.size, writer),
        Threads::One => {
            let mut hashing = Sha256Reader::new(source.take(layer.size + 1));
            let mut writer = writer;
            let (inflated, stored) = inflate_into(&mut hashing, &mut writer);
            let network_failed =
                matches!(&inflated, Err(e) if e.get_ref().is_some_and(|inner| inner.is::<RegistryError>()));
            // The rest of the stream after the decompressor's end, so that the digest covers every byte.
            let undelivered = if network_failed || stored.is_err() {
                None
            } else {
                io::copy(&mut hashing, &mut io::sink()).err()
            };
            (hashing, undelivered, inflated, stored.map(|()| writer))
        }
    };
    let network = |e: io::Error| match e.downcast::<RegistryError>() {
        Ok(registry_error) => registry_error,
        Err(e) => RegistryError::invalid(&object, e.to_string()),
    };
    let writer = match (inflated, stored) {
        (Ok(()), Ok(writer)) => writer,
        // The store failed (the decompressor then only saw its pipe close).
        (Ok(()), Err(e)) => return Err(store_failed(storing, e)),
        (Err(e), Err(store_error)) if e.kind() == io::ErrorKind::BrokenPipe => {
            return Err(store_failed(storing, store_error));
        }
        (Err(e), _) => {
            // Network errors (already retried) and cancellation end here; a broken compressed stream is
            // judged by the blob digest: damage when it does not match, a bad blob when it does.
            let e = match e.downcast::<RegistryError>() {
                Ok(registry_error) => return Err(registry_error),
                Err(e) => e,
            };
            if let Some(e) = undelivered {
                return Err(network(e));
            }
            verify(hashing, layer, &object)?;
            return Err(RegistryError::invalid(object, format!("not a valid layer: {e}")));
        }
    };
    if let Some(e) = undelivered {
        return Err(network(e));
    }
    verify(hashing, layer, &object)?;
    writer.commit_named(Some(diff_id), None, &format!("layer {diff_id} (uncompressed {object})")).map_err(
        |e| match e {
            StoreError::DigestMismatch { object, expected, actual } => RegistryError::invalid(
                object,
                format!("its uncompressed digest is {actual}, but the image config names DiffID {expected}"),
            ),
            e => RegistryError::Store { context: storing, source: e },
        },
    )?;
    Ok(())
}

/// What a download attempt left: the hashing reader of the compressed stream, a read error that the
/// decompressor did not see, and the results of decompressing and of writing the store blob.
type Outcome<'a, W> =
    (Sha256Reader<io::Take<ResumingReader<'a>>>, Option<io::Error>, io::Result<()>, io::Result<W>);

/// Runs the download, the decompressor (on this thread) and the store blob on three threads.
fn pipelined<'a, 'l>(
    source: ResumingReader<'a>,
    size: u64,
    writer: BlobWriter<'l>,
) -> Outcome<'a, BlobWriter<'l>> {
    let (fetch_tx, fetched) = pipe(FETCH_DEPTH);
    let (plain_tx, mut plain) = pipe(PLAIN_DEPTH);
    std::thread::scope(|scope| {
        let fetch = scope.spawn(move || {
            let mut hashing = Sha256Reader::new(source.take(size + 1));
            let undelivered = pump(&mut hashing, fetch_tx, FETCH_PIECE);
            (hashing, undelivered)
        });
        let store = scope.spawn(move || {
            let mut writer = writer;
            plain.write_to(&mut writer).map(|_| writer)
        });
        let inflated = inflate(fetched, plain_tx);
        // The threads only run code that returns its errors; a panic there is a bug to surface as such.
        let stored = store.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        let (hashing, undelivered) = fetch.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (hashing, undelivered, inflated, stored)
    })
}

/// Decompresses `compressed` into `writer` in [`PLAIN_PIECE`]s: the results of the decompression and of
/// the writes.
fn inflate_into(compressed: impl Read, writer: &mut impl Write) -> (io::Result<()>, io::Result<()>) {
    let mut layer = match kiln_layer::decompress(compressed) {
        Ok((_, layer)) => layer,
        Err(e) => return (Err(io::Error::new(io::ErrorKind::InvalidData, e.to_string())), Ok(())),
    };
    let mut piece = vec![0u8; PLAIN_PIECE];
    loop {
        match kiln_layer::read_full(&mut layer, &mut piece) {
            Ok(0) => return (Ok(()), Ok(())),
            Ok(n) => {
                if let Err(e) = writer.write_all(&piece[..n]) {
                    return (Ok(()), Err(e));
                }
            }
            Err(e) => return (Err(e), Ok(())),
        }
    }
}

fn store_failed(context: String, source: io::Error) -> RegistryError {
    RegistryError::Store {
        context,
        source: StoreError::Io { context: "writing the blob".to_owned(), source },
    }
}

/// Decompresses the layer read from `fetched` into `plain`, ending it cleanly only when the whole layer
/// went through. Dropping `fetched` on the way out lets the download thread finish reading (and hashing)
/// whatever the decompressor did not need.
fn inflate(fetched: PipeReader, plain: PipeWriter) -> io::Result<()> {
    let (_, mut layer) = kiln_layer::decompress(fetched)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
    while plain.send_read(&mut layer, PLAIN_PIECE)? {}
    plain.finish();
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_are_pipelined_only_where_cores_would_idle() {
        // 2 cores, 3 downloads at once: one of five equal layers stays on one thread; a single layer, or a
        // big base under small layers, is spread.
        assert_eq!(Threads::choose(60, 300, 3, 2), Threads::One);
        assert_eq!(Threads::choose(300, 300, 1, 2), Threads::Pipelined);
        assert_eq!(Threads::choose(240, 300, 3, 2), Threads::Pipelined);
        assert_eq!(Threads::choose(20, 300, 3, 2), Threads::One);
        // Two equal layers on two cores keep both busy already.
        assert_eq!(Threads::choose(150, 300, 2, 2), Threads::One);
        // 8 cores, 3 downloads at once: every layer is spread, or 5 cores would idle.
        assert_eq!(Threads::choose(10, 1000, 3, 8), Threads::Pipelined);
        // One core: threads would only take turns.
        assert_eq!(Threads::choose(300, 300, 1, 1), Threads::One);
    }
}
