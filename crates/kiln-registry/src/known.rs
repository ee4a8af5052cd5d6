//! Where a layer is known to live in registries: [`KnownBlob`] records, kept in the store's memo table,
//! that map a layer's DiffID to the compressed blobs it was pulled as or pushed as (digest, size, media
//! type, registry and repository). They let a push skip the upload of a layer the target repository
//! already has, or mount it from a sibling repository, without keeping the compressed bytes locally —
//! Docker's "v2 metadata" design. A pull stores only the uncompressed layer (its digest is the DiffID):
//! keeping the compressed copy too would double the bytes written and synced per pull.
//!
//! Also here: which platform manifest an index digest resolved to, so `name@<index digest>` finds the
//! pulled image in the store without asking the registry.

use kiln_oci::{Digest, MediaType, Platform};
use kiln_store::Store;
use serde::{Deserialize, Serialize};

use crate::client::Session;

const BLOB_NAMESPACE: &str = "kiln-registry/blob/v1";
const INDEX_NAMESPACE: &str = "kiln-registry/index/v1";
/// How many locations are remembered per layer (newest first).
const MAX_LOCATIONS: usize = 8;

/// One compressed form of a layer and where it was seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownBlob {
    /// The registry host.
    pub registry: String,
    /// The repository.
    pub repository: String,
    /// The blob's digest.
    pub digest: Digest,
    /// Its size.
    pub size: u64,
    /// Its media type as the manifest gave it.
    pub media_type: MediaType,
}

impl KnownBlob {
    /// Blob `digest` (`size` bytes, `media_type`), seen in `session`'s registry and repository.
    pub(crate) fn in_session(
        session: &Session,
        digest: Digest,
        size: u64,
        media_type: MediaType,
    ) -> KnownBlob {
        KnownBlob {
            registry: session.endpoint.host.clone(),
            repository: session.repository.clone(),
            digest,
            size,
            media_type,
        }
    }
}

fn blob_key(diff_id: &Digest) -> Vec<u8> {
    format!("{BLOB_NAMESPACE}\0{diff_id}").into_bytes()
}

/// The known compressed forms of layer `diff_id`, newest first (empty when unknown or unreadable).
pub fn known_blobs(store: &Store, diff_id: &Digest) -> Vec<KnownBlob> {
    store
        .memo_get(&blob_key(diff_id))
        .ok()
        .flatten()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// Records that layer `diff_id` is `blob` (newest first; older duplicates of the same place dropped). A
/// failure to record only costs a later upload, so it is ignored.
pub fn remember_blob(store: &Store, diff_id: &Digest, blob: KnownBlob) {
    let mut known = known_blobs(store, diff_id);
    known.retain(|k| {
        !(k.registry == blob.registry && k.repository == blob.repository && k.digest == blob.digest)
    });
    known.insert(0, blob);
    known.truncate(MAX_LOCATIONS);
    if let Ok(bytes) = serde_json::to_vec(&known) {
        let _ = store.memo_put(&[(&blob_key(diff_id), &bytes)]);
    }
}

fn index_key(index: &Digest, platform: &Platform) -> Vec<u8> {
    format!("{INDEX_NAMESPACE}\0{index}\0{platform}").into_bytes()
}

/// The platform manifest that index `index` resolved to for `platform`, when it was pulled before.
pub fn indexed_manifest(store: &Store, index: &Digest, platform: &Platform) -> Option<Digest> {
    let bytes = store.memo_get(&index_key(index, platform)).ok()??;
    Digest::parse(std::str::from_utf8(&bytes).ok()?).ok()
}

/// Records that index `index` holds `manifest` for `platform`.
pub(crate) fn remember_index(store: &Store, index: &Digest, platform: &Platform, manifest: &Digest) {
    let _ = store.memo_put(&[(&index_key(index, platform), manifest.to_string().as_bytes())]);
}
