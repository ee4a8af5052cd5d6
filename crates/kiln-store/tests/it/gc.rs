//! Leases and garbage collection.

use std::io::Write;

use kiln_oci::ImageLocation;
use kiln_store::{PruneOptions, StoreError};

use crate::support::{blob_count, digest, image, store};

#[test]
fn prune_keeps_what_images_cache_and_live_leases_use() {
    let (_dir, store) = store();
    let lease = store.lease().unwrap();
    let kept = image(&lease, &[b"kept layer"], &["kept:1"]);
    let doomed = image(&lease, &[b"doomed layer"], &["doomed:1"]);
    let cache_only = lease.put_blob(b"cache only").unwrap();
    lease.cache_put(&digest(b"key"), b"record", std::slice::from_ref(&cache_only)).unwrap();
    drop(lease);
    store.remove(&ImageLocation::parse("doomed:1").unwrap(), false).unwrap();

    let pinned = store.lease().unwrap();
    let in_flight = pinned.put_blob(b"written by a running build").unwrap();

    let report = store.prune(&PruneOptions::default()).unwrap();
    assert_eq!(report.blobs, 3, "doomed's layer, config and manifest: {report:?}");
    assert!(report.bytes_freed > 0);
    assert!(!store.has_blob(&doomed.manifest_digest));
    assert!(!store.has_blob(&digest(b"doomed layer")));
    assert!(store.has_blob(&kept.manifest_digest) && store.has_blob(&digest(b"kept layer")));
    assert!(store.has_blob(&cache_only), "cache records keep their blobs");
    assert!(store.has_blob(&in_flight), "a live lease keeps what it wrote");
    store.load(&store.resolve(&ImageLocation::parse("kept:1").unwrap()).unwrap()).unwrap();

    drop(pinned);
    let report = store.prune(&PruneOptions { cache: true }).unwrap();
    assert_eq!(report.cache_records, 1);
    assert_eq!(report.blobs, 2, "the dropped lease's blob and the cache-only blob: {report:?}");
    assert_eq!(blob_count(&store), 3, "only kept:1 is left");
}

#[test]
fn prune_removes_leftovers_of_dead_processes() {
    let (_dir, store) = store();
    let v1 = store.root().join("v1");
    // What a kill -9 leaves: a lease file nobody holds, its staging dir with a half-written blob, and a
    // complete blob it had renamed into place and pinned but never referenced.
    let orphan = store.lease().unwrap().put_blob(b"orphan").unwrap();
    std::fs::write(v1.join("leases/lease-dead"), format!("blob {orphan}\nblob sha256:tor")).unwrap();
    std::fs::create_dir_all(v1.join("tmp/lease-dead/snapshot-x/etc")).unwrap();
    std::fs::File::create(v1.join("tmp/lease-dead/blob-1")).unwrap().write_all(&[0; 4096]).unwrap();
    std::fs::create_dir_all(v1.join("snapshots").join(digest(b"nobody").hex())).unwrap();

    let live = store.lease().unwrap();
    let mut w = live.blob_writer().unwrap();
    w.write_all(b"half written by a live process").unwrap();

    let report = store.prune(&PruneOptions::default()).unwrap();
    assert_eq!(report.leftovers, 2, "the dead lease file and its staging dir: {report:?}");
    assert_eq!(report.snapshots, 1);
    assert!(!store.has_blob(&orphan), "a dead lease's pins do not count");
    assert!(!v1.join("leases/lease-dead").exists() && !v1.join("tmp/lease-dead").exists());
    assert_eq!(std::fs::read_dir(live.tmp_dir()).unwrap().count(), 1, "a live lease's staging is untouched");
    let (d, _) = w.commit(None, None).unwrap();
    assert!(store.has_blob(&d));
}

#[test]
fn prune_skips_blobs_pinned_after_the_fact() {
    let (_dir, store) = store();
    let lease = store.lease().unwrap();
    let d = lease.put_blob(b"reused").unwrap();
    drop(lease);
    let other = store.lease().unwrap();
    assert!(other.pin_blob(&d).unwrap(), "an existing blob can be pinned instead of rewritten");
    store.prune(&PruneOptions::default()).unwrap();
    assert!(store.has_blob(&d));
    drop(other);
    store.prune(&PruneOptions::default()).unwrap();
    assert!(!store.has_blob(&d));
    assert!(matches!(store.open_blob(&d), Err(StoreError::BlobNotFound(_))));
}
