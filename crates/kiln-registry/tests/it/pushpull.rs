//! Push and pull against a real registry: round trips, re-push without re-upload, mounts, pull by digest,
//! multi-platform indexes, and what the store holds afterwards.

use kiln_oci::{ImageLocation, Platform};
use kiln_registry::{CollectProgress, NoProgress, PullOptions, PushOptions, RegistryError};

use crate::fixture::{
    TestRegistry, busybox_image, client, generated_image, generated_image_for, have_registry, image, store,
};
use crate::proxy::Proxy;

fn loc(s: &str) -> ImageLocation {
    ImageLocation::parse(s).unwrap()
}

#[test]
fn pushed_image_pulls_back_identical_into_another_store() {
    if !have_registry() {
        return;
    }
    let registry = TestRegistry::start();
    let (dir, a) = store();
    let record = generated_image(&a, "local/gen:1", 1, 4, 200_000);
    let reg = client(dir.path());
    let target = registry.reference("kiln/gen:v1");
    let pushed = reg.push(&a, &loc("local/gen:1"), &target, &PushOptions::default(), &NoProgress).unwrap();
    assert_eq!(
        (pushed.blobs.uploaded, pushed.blobs.present, pushed.blobs.mounted),
        (2, 0, 0),
        "layer and config uploaded"
    );

    let (_d2, b) = store();
    let progress = CollectProgress::default();
    let pulled = reg.pull(&b, &target, &PullOptions::default(), &progress).unwrap();
    assert_eq!(pulled.manifest_digest, pushed.digest, "the pulled manifest is the pushed one");
    assert_eq!(pulled.record.id, record.id, "same config, same image ID");
    assert_eq!(pulled.record.manifest_digest, record.manifest_digest, "same uncompressed layers");
    assert_eq!(pulled.layers_downloaded, 1);
    assert_eq!(pulled.record.origin, Some(pushed.digest.clone()));
    let want = image(&a, "local/gen:1");
    let got = image(&b, &target.to_string());
    assert_eq!(got.config_bytes, want.config_bytes);
    for diff_id in want.diff_ids() {
        assert_eq!(
            std::fs::read(b.blob_path(diff_id)).unwrap(),
            std::fs::read(a.blob_path(diff_id)).unwrap()
        );
    }
    // By the registry's digest too, and a second pull downloads nothing.
    let by_digest = b.resolve(&loc(&format!("{}@{}", target.name(), pushed.digest))).unwrap();
    assert_eq!(by_digest.id, record.id);
    let again = reg.pull(&b, &target, &PullOptions::default(), &NoProgress).unwrap();
    assert_eq!(again.layers_downloaded, 0);
}

#[test]
fn re_push_uploads_nothing_and_sibling_repositories_mount() {
    if !have_registry() {
        return;
    }
    let registry = TestRegistry::start();
    let proxy = Proxy::start(registry.port);
    let (dir, a) = store();
    generated_image(&a, "local/gen:1", 2, 3, 300_000);
    let reg = client(dir.path());
    let target = crate::fixture::reference(&proxy.host(), "kiln/app:v1");
    reg.push(&a, &loc("local/gen:1"), &target, &PushOptions::default(), &NoProgress).unwrap();
    assert!(proxy.count("PUT", "/blobs/uploads/") >= 2, "{:?}", proxy.log());

    proxy.clear_log();
    let again = crate::fixture::reference(&proxy.host(), "kiln/app:v2");
    let pushed = reg.push(&a, &loc("local/gen:1"), &again, &PushOptions::default(), &NoProgress).unwrap();
    assert_eq!((pushed.blobs.uploaded, pushed.blobs.present), (0, 2));
    assert_eq!(proxy.count("POST", "/blobs/uploads/"), 0, "no upload session: {:?}", proxy.log());
    assert_eq!(proxy.count("PATCH", "/blobs/"), 0);
    assert_eq!(proxy.count("PUT", "/blobs/"), 0);

    proxy.clear_log();
    let sibling = crate::fixture::reference(&proxy.host(), "other/app:v1");
    let pushed = reg.push(&a, &loc("local/gen:1"), &sibling, &PushOptions::default(), &NoProgress).unwrap();
    assert_eq!(pushed.blobs.mounted, 1, "the layer is mounted from kiln/app");
    assert_eq!(pushed.blobs.uploaded, 1, "only the config is uploaded");
    assert_eq!(proxy.count("POST", "mount="), 1);
}

#[test]
fn pulled_image_pushes_elsewhere_by_mount_without_recompressing() {
    if !have_registry() {
        return;
    }
    let registry = TestRegistry::start();
    let proxy = Proxy::start(registry.port);
    let (dir, a) = store();
    generated_image(&a, "local/gen:1", 3, 2, 100_000);
    let reg = client(dir.path());
    let source = crate::fixture::reference(&proxy.host(), "team/base:1");
    reg.push(&a, &loc("local/gen:1"), &source, &PushOptions::default(), &NoProgress).unwrap();

    let (dir_b, b) = store();
    let reg_b = client(dir_b.path());
    let pulled = reg_b.pull(&b, &source, &PullOptions::default(), &NoProgress).unwrap();
    proxy.clear_log();
    let target = crate::fixture::reference(&proxy.host(), "team/copy:1");
    let pushed =
        reg_b.push(&b, &loc(&source.to_string()), &target, &PushOptions::default(), &NoProgress).unwrap();
    assert_eq!(pushed.blobs.mounted, 1, "{:?}", proxy.log());
    assert_eq!(pushed.blobs.uploaded, 1, "only the config is uploaded");
    assert_eq!(proxy.count("PUT", "/blobs/uploads/"), 1, "{:?}", proxy.log());
    assert_eq!(pushed.digest, pulled.manifest_digest, "same blobs, same manifest");
}

#[test]
fn pull_by_digest_and_a_wrong_digest() {
    if !have_registry() {
        return;
    }
    let registry = TestRegistry::start();
    let (dir, a) = store();
    generated_image(&a, "local/gen:1", 4, 1, 10_000);
    let reg = client(dir.path());
    let target = registry.reference("kiln/pinned:v1");
    let pushed = reg.push(&a, &loc("local/gen:1"), &target, &PushOptions::default(), &NoProgress).unwrap();
    let (_d, b) = store();
    let pinned = registry.reference(&format!("kiln/pinned@{}", pushed.digest));
    let pulled = reg.pull(&b, &pinned, &PullOptions::default(), &NoProgress).unwrap();
    assert!(pulled.record.refs.is_empty(), "a digest pull tags nothing: {:?}", pulled.record.refs);
    assert_eq!(b.images().unwrap().len(), 1);
    let missing = registry.reference(&format!("kiln/pinned@sha256:{}", "0".repeat(64)));
    let err = reg.pull(&b, &missing, &PullOptions::default(), &NoProgress).unwrap_err();
    assert!(matches!(err, RegistryError::NotFound { .. }), "{err}");
    assert!(err.to_string().contains("MANIFEST_UNKNOWN"), "{err}");
    let err = reg
        .pull(&b, &registry.reference("kiln/absent:v1"), &PullOptions::default(), &NoProgress)
        .unwrap_err();
    assert!(err.to_string().contains("not found"), "{err}");
}

#[test]
fn multi_platform_index_pulls_the_wanted_platform() {
    if !have_registry() {
        return;
    }
    let registry = TestRegistry::start();
    let (dir, a) = store();
    let amd = generated_image_for(&a, "local/multi:amd64", 5, 1, 5_000, Some("linux/amd64"));
    let arm = generated_image_for(&a, "local/multi:arm64", 6, 1, 5_000, Some("linux/arm64"));
    let reg = client(dir.path());
    let target = registry.reference("kiln/multi:v1");
    let sources = [loc("local/multi:amd64"), loc("local/multi:arm64")];
    let pushed = reg.push_index(&a, &sources, &target, &PushOptions::default(), &NoProgress).unwrap();

    let (_d, b) = store();
    for (platform, want) in [("linux/arm64", &arm), ("linux/amd64", &amd)] {
        let options = PullOptions { platform: Platform::parse(platform).unwrap(), tag: true };
        let pulled = reg.pull(&b, &target, &options, &NoProgress).unwrap();
        assert_eq!(pulled.record.id, want.id, "{platform}");
        assert_eq!(pulled.index_digest.as_ref(), Some(&pushed.digest));
        // The index digest finds the platform's image locally afterwards.
        let pinned = registry.reference(&format!("kiln/multi@{}", pushed.digest));
        let local = kiln_registry::pull::local_image(&b, &pinned, &options.platform).unwrap();
        assert_eq!(local.id, want.id);
    }
    let options = PullOptions { platform: Platform::parse("linux/s390x").unwrap(), tag: true };
    let err = reg.pull(&b, &target, &options, &NoProgress).unwrap_err().to_string();
    assert!(err.contains("no image for platform linux/s390x") && err.contains("linux/arm64"), "{err}");
}

#[test]
fn busybox_round_trip_keeps_the_image_runnable_by_id() {
    if !have_registry() {
        return;
    }
    let registry = TestRegistry::start();
    let (dir, a) = store();
    let Some(record) = busybox_image(&a, "local/busybox:1") else { return };
    let reg = client(dir.path());
    let target = registry.reference("library/busybox:1");
    reg.push(&a, &loc("local/busybox:1"), &target, &PushOptions::default(), &NoProgress).unwrap();
    let (_d, b) = store();
    let pulled = reg.pull(&b, &target, &PullOptions::default(), &NoProgress).unwrap();
    assert_eq!(pulled.record.id, record.id);
    assert_eq!(pulled.record.refs, vec![target.clone()]);
}

#[test]
fn chunked_uploads_send_patches_and_the_result_pulls_back() {
    if !have_registry() {
        return;
    }
    let registry = TestRegistry::start();
    let proxy = Proxy::start(registry.port);
    let (dir, a) = store();
    let record = generated_image(&a, "local/gen:1", 7, 2, 300_000);
    let options =
        kiln_registry::RegistryOptions { chunk_size: Some(64 << 10), ..crate::fixture::options(dir.path()) };
    let reg = kiln_registry::Registry::new(options);
    let target = crate::fixture::reference(&proxy.host(), "kiln/chunked:v1");
    let pushed = reg.push(&a, &loc("local/gen:1"), &target, &PushOptions::default(), &NoProgress).unwrap();
    let layer_size = pushed.blobs.bytes_uploaded;
    assert!(layer_size > 64 << 10);
    let patches = proxy.count("PATCH", "/blobs/uploads/");
    assert!(patches as u64 >= layer_size / (64 << 10), "{patches} PATCHes for {layer_size} bytes");
    let (_d, b) = store();
    let pulled = reg.pull(&b, &target, &PullOptions::default(), &NoProgress).unwrap();
    assert_eq!(pulled.record.id, record.id);
}
