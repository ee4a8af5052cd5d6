//! Progress of pulls and pushes as a stream of [`TransferEvent`]s to a [`Progress`] sink; the library never
//! prints (the CLI renders them).

use kiln_oci::Digest;

/// Something that happened during a transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferEvent {
    /// The reference resolved to this manifest digest.
    Resolved {
        /// The reference as the user named it.
        reference: String,
        /// The manifest's digest (of the platform manifest, not of an index).
        digest: Digest,
    },
    /// A blob is needed: `size` bytes.
    BlobStarted {
        /// The blob (as at the registry: compressed).
        digest: Digest,
        /// Its size.
        size: u64,
    },
    /// `done` of the blob's bytes have gone through so far.
    BlobProgress {
        /// The blob.
        digest: Digest,
        /// Bytes transferred so far.
        done: u64,
    },
    /// The blob is done, and how.
    BlobDone {
        /// The blob.
        digest: Digest,
        /// What happened.
        outcome: BlobOutcome,
    },
    /// A request or blob failed and is tried again.
    Retrying {
        /// What is retried.
        what: String,
        /// The attempt that failed (from 1).
        attempt: u32,
        /// Why it failed.
        error: String,
    },
}

/// How a blob was handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobOutcome {
    /// Downloaded and verified.
    Downloaded,
    /// Already in the store (pull) or in the target repository (push): nothing transferred.
    AlreadyThere,
    /// Mounted from another repository of the same registry (push): nothing transferred.
    Mounted,
    /// Uploaded.
    Uploaded,
}

/// A sink for transfer events; called from several threads at once.
pub trait Progress: Send + Sync {
    /// Receives one event.
    fn event(&self, event: TransferEvent);
}

/// Discards events.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn event(&self, _event: TransferEvent) {}
}

/// Collects events (for tests and summaries).
#[derive(Debug, Default)]
pub struct CollectProgress {
    events: std::sync::Mutex<Vec<TransferEvent>>,
}

impl CollectProgress {
    /// The events so far.
    pub fn events(&self) -> Vec<TransferEvent> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

impl Progress for CollectProgress {
    fn event(&self, event: TransferEvent) {
        if !matches!(event, TransferEvent::BlobProgress { .. })
            && let Ok(mut events) = self.events.lock()
        {
            events.push(event);
        }
    }
}
