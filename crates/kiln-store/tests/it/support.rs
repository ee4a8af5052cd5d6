//! Fixture helpers: a store in a temp dir and small synthetic images.

use kiln_oci::{Digest, ImageConfig, Platform, Reference};
use kiln_store::{ImageRecord, Lease, Store};

pub(crate) fn store() -> (kiln_test::TempDir, Store) {
    let dir = kiln_test::TempDir::new().unwrap();
    let store = Store::open(dir.path().join("root")).unwrap();
    (dir, store)
}

pub(crate) fn reference(s: &str) -> Reference {
    Reference::parse(s).unwrap()
}

/// Stores layers with the given contents (any bytes: the store does not parse layer tars) and an image
/// over them.
pub(crate) fn image(lease: &Lease, layers: &[&[u8]], refs: &[&str]) -> ImageRecord {
    let mut config = ImageConfig::for_platform(&Platform::host());
    for layer in layers {
        let digest = lease.put_blob(layer).unwrap();
        config.rootfs.diff_ids.push(digest);
    }
    let refs: Vec<Reference> = refs.iter().map(|r| reference(r)).collect();
    lease.commit_image(&serde_json::to_vec(&config).unwrap(), &refs, None).unwrap()
}

pub(crate) fn blob_count(store: &Store) -> usize {
    std::fs::read_dir(store.root().join("v1/blobs/sha256")).unwrap().count()
}

pub(crate) fn digest(data: &[u8]) -> Digest {
    Digest::sha256_of(data)
}
