//! Faults between kiln and a real registry, injected by the test proxy: connections dropped mid-blob,
//! stalls, flipped bytes and server errors, on pulls and on pushes. Retries succeed, damaged bytes are
//! never accepted, and a failed pull leaves no image and no stray blob in the store.

use kiln_oci::{Digest, ImageLocation, Reference};
use kiln_registry::{
    CollectProgress, NoProgress, PullOptions, PushOptions, Registry, RegistryError, TransferEvent,
};
use kiln_store::Store;

use crate::fixture::{TestRegistry, client, generated_image, have_registry, image, layered_image, store};
use crate::proxy::{FaultKind, Proxy};

fn loc(s: &str) -> ImageLocation {
    ImageLocation::parse(s).unwrap()
}

/// A registry with one pushed image (one ~1.2 MB compressed layer) behind a proxy; returns what the pull
/// side needs: the reference through the proxy and the layer's compressed digest.
struct Setup {
    _registry: TestRegistry,
    proxy: Proxy,
    _dir: tempfile::TempDir,
    reg: Registry,
    target: Reference,
    layer: Digest,
}

fn setup(seed: u64) -> Setup {
    let registry = TestRegistry::start();
    let proxy = Proxy::start(registry.port);
    let (dir, a) = store();
    generated_image(&a, "local/gen:1", seed, 4, 600_000);
    let reg = client(dir.path());
    let target = crate::fixture::reference(&proxy.host(), "kiln/faulty:v1");
    reg.push(&a, &loc("local/gen:1"), &target, &PushOptions::default(), &NoProgress).unwrap();
    let diff_id = image(&a, "local/gen:1").diff_ids()[0].clone();
    let layer = kiln_registry::known::known_blobs(&a, &diff_id)[0].digest.clone();
    proxy.clear_log();
    Setup { _registry: registry, proxy, _dir: dir, reg, target, layer }
}

fn blob_count(store: &Store) -> usize {
    std::fs::read_dir(store.root().join("v1/blobs/sha256")).map_or(0, |d| d.count())
}

/// A registry behind a proxy and a store holding `local/gen:1` (one ~0.6 MB compressed layer), to push
/// to `repo` (a reference path) through the proxy.
struct PushSetup {
    registry: TestRegistry,
    proxy: Proxy,
    _dir: tempfile::TempDir,
    a: Store,
    reg: Registry,
    target: Reference,
}

fn push_setup(seed: u64, repo: &str) -> PushSetup {
    let registry = TestRegistry::start();
    let proxy = Proxy::start(registry.port);
    let (dir, a) = store();
    generated_image(&a, "local/gen:1", seed, 2, 600_000);
    let reg = client(dir.path());
    let target = crate::fixture::reference(&proxy.host(), repo);
    PushSetup { registry, proxy, _dir: dir, a, reg, target }
}

/// The errors of the `Retrying` events, in order.
fn retry_errors(progress: &CollectProgress) -> Vec<String> {
    progress
        .events()
        .into_iter()
        .filter_map(|e| match e {
            TransferEvent::Retrying { error, .. } => Some(error),
            _ => None,
        })
        .collect()
}

fn retries(progress: &CollectProgress) -> usize {
    progress.events().iter().filter(|e| matches!(e, TransferEvent::Retrying { .. })).count()
}

#[test]
fn pull_resumes_after_connections_drop_mid_blob() {
    if !have_registry() {
        return;
    }
    let s = setup(21);
    let path = format!("/blobs/{}", s.layer);
    s.proxy.fault("GET", &path, FaultKind::DropResponseAfter(300_000), 2);
    let (_d, b) = store();
    let progress = CollectProgress::default();
    let pulled = s.reg.pull(&b, &s.target, &PullOptions::default(), &progress).unwrap();
    assert_eq!(pulled.layers_downloaded, 1);
    assert!(retries(&progress) >= 2, "{:?}", progress.events());
    assert!(s.proxy.count("GET", &path) >= 3, "{:?}", s.proxy.log());
    // The resumed request asked only for the rest (the registry supports ranges), and the result verifies.
    b.load(&pulled.record).unwrap();
}

#[test]
fn pull_recovers_from_a_stall() {
    if !have_registry() {
        return;
    }
    let s = setup(22);
    let path = format!("/blobs/{}", s.layer);
    s.proxy.fault("GET", &path, FaultKind::StallResponseAfter(100_000), 1);
    let (_d, b) = store();
    let progress = CollectProgress::default();
    s.reg.pull(&b, &s.target, &PullOptions::default(), &progress).unwrap();
    assert!(retries(&progress) >= 1, "{:?}", progress.events());
}

#[test]
fn a_flipped_byte_is_never_accepted_and_is_downloaded_again() {
    if !have_registry() {
        return;
    }
    let s = setup(23);
    let path = format!("/blobs/{}", s.layer);
    s.proxy.fault("GET", &path, FaultKind::CorruptResponseAt(500_000), 1);
    let (_d, b) = store();
    let progress = CollectProgress::default();
    let pulled = s.reg.pull(&b, &s.target, &PullOptions::default(), &progress).unwrap();
    let errors = retry_errors(&progress);
    assert!(errors.iter().any(|e| e.contains("digest mismatch") || e.contains("layer")), "{errors:?}");
    b.load(&pulled.record).unwrap();
}

#[test]
fn persistent_damage_fails_clearly_and_leaves_nothing_in_the_store() {
    if !have_registry() {
        return;
    }
    let s = setup(24);
    let path = format!("/blobs/{}", s.layer);
    s.proxy.fault("GET", &path, FaultKind::CorruptResponseAt(700_000), 100);
    let (_d, b) = store();
    let before = blob_count(&b);
    let err = s.reg.pull(&b, &s.target, &PullOptions::default(), &NoProgress).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, RegistryError::Exhausted { .. }), "{err:?}");
    assert!(text.contains(&s.layer.to_string()) && text.contains("digest mismatch"), "{text}");
    assert!(b.images().unwrap().is_empty(), "no image record after a failed pull");
    assert_eq!(blob_count(&b), before, "no blob of the failed pull stays");
    assert!(!b.has_blob(&s.layer));

    // Connections that keep dropping: a network error after the retries, same clean store.
    s.proxy.clear_faults();
    s.proxy.fault("GET", &path, FaultKind::DropResponseAfter(10_000), 100);
    let err = s.reg.pull(&b, &s.target, &PullOptions::default(), &NoProgress).unwrap_err();
    assert!(err.to_string().contains("giving up after"), "{err}");
    assert!(b.images().unwrap().is_empty());
    assert_eq!(blob_count(&b), before);

    // Once the network heals, the same store pulls fine.
    s.proxy.clear_faults();
    s.reg.pull(&b, &s.target, &PullOptions::default(), &NoProgress).unwrap();
}

/// The tests above pull one layer, which kiln spreads over three threads. Here four equal layers share the
/// cores, and on a 2-core machine (CI's) each is downloaded, inflated and stored on one thread: the same
/// faults, the same outcomes.
#[test]
fn layers_sharing_the_cores_survive_drops_and_damage_and_fail_cleanly() {
    if !have_registry() {
        return;
    }
    let registry = TestRegistry::start();
    let proxy = Proxy::start(registry.port);
    let (dir, a) = store();
    layered_image(&a, "local/layers:1", 31, 4, 400_000);
    let reg = client(dir.path());
    let target = crate::fixture::reference(&proxy.host(), "kiln/layers:v1");
    reg.push(&a, &loc("local/layers:1"), &target, &PushOptions::default(), &NoProgress).unwrap();
    let diff_ids = image(&a, "local/layers:1").diff_ids().to_vec();
    let blob = |i: usize| kiln_registry::known::known_blobs(&a, &diff_ids[i])[0].digest.clone();
    let (dropped, flipped) = (blob(1), blob(2));
    proxy.clear_log();
    proxy.fault("GET", &format!("/blobs/{dropped}"), FaultKind::DropResponseAfter(100_000), 1);
    proxy.fault("GET", &format!("/blobs/{flipped}"), FaultKind::CorruptResponseAt(150_000), 1);
    let (_d, b) = store();
    let progress = CollectProgress::default();
    let pulled = reg.pull(&b, &target, &PullOptions::default(), &progress).unwrap();
    assert_eq!(pulled.layers_downloaded, 4);
    let errors = retry_errors(&progress);
    assert!(errors.iter().any(|e| e.contains("digest mismatch")), "{errors:?}");
    assert!(retries(&progress) >= 2, "{:?}", progress.events());
    b.load(&pulled.record).unwrap();

    // Damage that stays: the pull fails naming the layer, and the store keeps nothing of it.
    proxy.clear_faults();
    proxy.fault("GET", &format!("/blobs/{flipped}"), FaultKind::CorruptResponseAt(150_000), 100);
    let (_d, c) = store();
    let before = blob_count(&c);
    let err = reg.pull(&c, &target, &PullOptions::default(), &NoProgress).unwrap_err();
    assert!(matches!(err, RegistryError::Exhausted { .. }), "{err:?}");
    assert!(err.to_string().contains(&flipped.to_string()), "{err}");
    assert!(c.images().unwrap().is_empty());
    assert_eq!(blob_count(&c), before, "no blob of the failed pull stays");
}

#[test]
fn server_errors_are_retried() {
    if !have_registry() {
        return;
    }
    let s = setup(25);
    s.proxy.fault("GET", "/manifests/", FaultKind::Status(503), 2);
    let (_d, b) = store();
    s.reg.pull(&b, &s.target, &PullOptions::default(), &NoProgress).unwrap();
    assert_eq!(s.proxy.count("GET", "/manifests/v1"), 3, "{:?}", s.proxy.log());
}

#[test]
fn push_survives_dropped_and_corrupted_uploads() {
    if !have_registry() {
        return;
    }
    let PushSetup { registry, proxy, _dir, a, reg, target } = push_setup(26, "kiln/pushfault:v1");

    // The layer is compressed while it streams up in one PATCH, whose bytes get damaged: the registry's
    // digest check at the closing PUT refuses them. The layer is sent again from the store in PUTs, of
    // which the first is cut and the second damaged too; the third gets through.
    proxy.fault("PATCH", "/blobs/uploads/", FaultKind::CorruptRequestAt(300_000), 1);
    proxy.fault("PUT", "/blobs/uploads/", FaultKind::DropRequestAfter(200_000), 1);
    proxy.fault("PUT", "/blobs/uploads/", FaultKind::CorruptRequestAt(300_000), 1);
    let progress = CollectProgress::default();
    let pushed = reg.push(&a, &loc("local/gen:1"), &target, &PushOptions::default(), &progress).unwrap();
    let errors = retry_errors(&progress);
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(errors[0].contains("DIGEST_INVALID"), "the damaged stream is refused: {errors:?}");
    assert_eq!(proxy.count("PATCH", "/blobs/uploads/"), 1, "one streamed PATCH: {:?}", proxy.log());

    // What the registry holds verifies: a fresh store pulls it by digest.
    let (_d, b) = store();
    let pinned = crate::fixture::reference(&registry.host(), &format!("kiln/pushfault@{}", pushed.digest));
    let pulled = reg.pull(&b, &pinned, &PullOptions::default(), &NoProgress).unwrap();
    assert_eq!(pulled.manifest_digest, pushed.digest);
}

#[test]
fn push_that_keeps_failing_reports_the_blob_and_pushes_no_manifest() {
    if !have_registry() {
        return;
    }
    let PushSetup { registry: _registry, proxy, _dir, a, reg, target } = push_setup(27, "kiln/broken:v1");
    proxy.fault("PATCH", "/blobs/uploads/", FaultKind::CorruptRequestAt(100_000), 100);
    proxy.fault("PUT", "/blobs/uploads/", FaultKind::CorruptRequestAt(100_000), 100);
    let err = reg.push(&a, &loc("local/gen:1"), &target, &PushOptions::default(), &NoProgress).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("uploading blob sha256:") && text.contains("giving up after"), "{text}");
    assert!(text.contains("DIGEST_INVALID"), "the registry's reason is shown: {text}");
    assert_eq!(proxy.count("PUT", "/manifests/"), 0, "no manifest over missing blobs");
}

#[test]
fn a_registry_refusing_streamed_uploads_gets_the_layers_from_the_store() {
    if !have_registry() {
        return;
    }
    let PushSetup { registry, proxy, _dir, a, reg, target } = push_setup(28, "kiln/nostream:v1");
    proxy.fault("PATCH", "/blobs/uploads/", FaultKind::Status(405), 100);
    let before = blob_count(&a);
    let progress = CollectProgress::default();
    let pushed = reg.push(&a, &loc("local/gen:1"), &target, &PushOptions::default(), &progress).unwrap();
    assert_eq!(pushed.blobs.uploaded, 2, "the layer and the config");
    assert_eq!(retries(&progress), 1, "one fallback: {:?}", progress.events());
    assert_eq!(blob_count(&a), before + 1, "the layer's compressed form is kept once");

    // The compressed forms are remembered: pushing again to a new repository mounts them, compressing
    // nothing and streaming nothing.
    proxy.clear_faults();
    proxy.clear_log();
    let other = crate::fixture::reference(&proxy.host(), "kiln/nostream2:v1");
    let again = reg.push(&a, &loc("local/gen:1"), &other, &PushOptions::default(), &NoProgress).unwrap();
    assert_eq!((again.blobs.mounted, again.blobs.uploaded), (1, 1), "only the config: {:?}", proxy.log());
    assert_eq!(proxy.count("PATCH", "/blobs/uploads/"), 0);
    assert_eq!(blob_count(&a), before + 1);

    let (_d, b) = store();
    let pinned = crate::fixture::reference(&registry.host(), &format!("kiln/nostream@{}", pushed.digest));
    reg.pull(&b, &pinned, &PullOptions::default(), &NoProgress).unwrap();
}
