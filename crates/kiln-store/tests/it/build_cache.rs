//! Build-cache bundles in a layout directory: a round trip into another store, re-export over an old
//! bundle, and damaged or foreign input.

use kiln_oci::Digest;
use kiln_store::build_cache::{CacheBundle, CacheEntry, fetch_dir_layer, read_dir, write_dir};
use kiln_store::transport::ExportOptions;

use crate::support::{digest, store};

fn entry(key: &str, diff_id: &Digest) -> CacheEntry {
    CacheEntry {
        key: digest(key.as_bytes()),
        diff_id: diff_id.clone(),
        created: "2024-01-01T00:00:00Z".into(),
    }
}

#[test]
fn a_bundle_carries_records_and_layers_into_another_store() {
    let (_a_dir, a) = store();
    let lease = a.lease().unwrap();
    let one = lease.put_blob(b"layer one").unwrap();
    let two = lease.put_blob(b"layer two").unwrap();
    // Three distinct keys (k1 appears twice) over two layers.
    let entries = [entry("k1", &one), entry("k2", &two), entry("k3", &one), entry("k1", &two)];
    let out = kiln_test::TempDir::new().unwrap();
    let dir = out.path().join("cache");
    let written = write_dir(&lease, &entries, &dir, &ExportOptions::default()).unwrap();
    assert_eq!((written.records, written.copied, written.removed), (3, 2, 0));

    let bundle = read_dir(&dir).unwrap();
    assert_eq!(bundle.config.records.len(), 3);
    assert_eq!(bundle.config.records[0], entry("k1", &one), "the first record of a key wins");
    assert_eq!(bundle.config.diff_ids, vec![one.clone(), two.clone()]);

    let (_b_dir, b) = store();
    let b_lease = b.lease().unwrap();
    fetch_dir_layer(&b_lease, &dir, &bundle, &two).unwrap();
    assert_eq!(b.read_blob(&two).unwrap(), b"layer two");
    assert!(!b.has_blob(&one), "only the layer asked for is fetched");
}

#[test]
fn re_exporting_replaces_the_bundle_and_drops_what_it_no_longer_needs() {
    let (_d, s) = store();
    let lease = s.lease().unwrap();
    let one = lease.put_blob(b"layer one").unwrap();
    let two = lease.put_blob(b"layer two").unwrap();
    let out = kiln_test::TempDir::new().unwrap();
    let dir = out.path().join("cache");
    write_dir(&lease, &[entry("k1", &one), entry("k2", &two)], &dir, &ExportOptions::default()).unwrap();
    let again = write_dir(&lease, &[entry("k1", &one)], &dir, &ExportOptions::default()).unwrap();
    // Layer one is already there; layer two, the old config and the old manifest go.
    assert_eq!((again.copied, again.removed), (0, 3));
    let bundle = read_dir(&dir).unwrap();
    assert_eq!(bundle.config.records, vec![entry("k1", &one)]);
    assert_eq!(std::fs::read_dir(dir.join("blobs/sha256")).unwrap().count(), 3, "layer, config, manifest");
}

#[test]
fn damaged_or_foreign_bundles_are_errors_naming_the_object() {
    let (_d, s) = store();
    let lease = s.lease().unwrap();
    let one = lease.put_blob(b"layer one").unwrap();
    let out = kiln_test::TempDir::new().unwrap();
    let dir = out.path().join("cache");
    write_dir(&lease, &[entry("k1", &one)], &dir, &ExportOptions::default()).unwrap();
    let bundle = read_dir(&dir).unwrap();

    // A flipped byte in the layer blob: the fetch fails naming the layer, and stores nothing.
    let layer = &bundle.layers[0];
    let path = dir.join("blobs/sha256").join(layer.digest.hex());
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let (_o, other) = store();
    let err = fetch_dir_layer(&other.lease().unwrap(), &dir, &bundle, &one).unwrap_err().to_string();
    assert!(err.contains(&layer.digest.to_string()), "{err}");
    assert!(!other.has_blob(&one));

    // A record pointing at a layer the bundle does not carry is refused.
    let mut broken = bundle.clone();
    broken.config.records.push(entry("k9", &digest(b"elsewhere")));
    let (config, manifest) = broken.encode().unwrap();
    let manifest = CacheBundle::parse_manifest(&manifest, "test bundle").unwrap();
    let err = CacheBundle::decode(manifest, &config, "test bundle").unwrap_err().to_string();
    assert!(err.contains("test bundle") && err.contains("does not carry"), "{err}");

    // An image layout is not a cache.
    let image_manifest = br#"{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":2},"layers":[]}"#;
    let err = CacheBundle::parse_manifest(image_manifest, "app:1").unwrap_err().to_string();
    assert!(err.contains("app:1") && err.contains("not a kiln build cache"), "{err}");

    // A missing directory names it.
    let err = read_dir(&out.path().join("absent")).unwrap_err().to_string();
    assert!(err.contains("absent"), "{err}");
}
