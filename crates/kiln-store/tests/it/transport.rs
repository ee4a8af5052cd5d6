//! Import and export through every transport, round trips, and hostile archives.

use std::io::Write;

use kiln_oci::{Compression, ImageLocation, Reference};
use kiln_store::transport::{self, ExportImage, ExportOptions, ImportOptions, RootfsImport};
use kiln_store::{Store, StoreError};

use crate::support::{blob_count, busybox, reference, run, store, tree, unpack};

fn loc(s: &str) -> ImageLocation {
    ImageLocation::parse(s).unwrap()
}

/// Imports busybox as `local/busybox:latest`.
fn import_busybox(store: &Store) -> Option<(kiln_test::TempDir, kiln_store::Image)> {
    let rootfs = busybox()?;
    let mut options = RootfsImport { source_date_epoch: Some(1_700_000_000), ..RootfsImport::default() };
    options.config.cmd = Some(vec!["/bin/sh".to_owned()]);
    let rec = transport::import_rootfs(store, rootfs.path(), &[reference("local/busybox:latest")], &options)
        .unwrap();
    let image = store.load(&rec).unwrap();
    Some((rootfs, image))
}

#[test]
fn rootfs_import_is_reproducible_and_unpacks_to_the_same_tree() {
    let (_d, store) = store();
    let Some((rootfs, image)) = import_busybox(&store) else { return };
    assert_eq!(image.config.config.cmd.as_deref(), Some(&["/bin/sh".to_owned()][..]));
    assert_eq!(image.config.created.as_deref(), Some("2023-11-14T22:13:20Z"));
    assert_eq!(tree(unpack(&store, &image).path()), tree(rootfs.path()));

    let (_d2, other) = crate::support::store();
    let options = RootfsImport {
        source_date_epoch: Some(1_700_000_000),
        config: image.config.config.clone(),
        ..RootfsImport::default()
    };
    let again = transport::import_rootfs(&other, rootfs.path(), &[reference("x")], &options).unwrap();
    assert_eq!(again.id, image.record.id, "same tree and epoch, same image ID");
}

#[test]
fn every_transport_round_trips_the_image_id() {
    let (dir, store) = store();
    let Some((_rootfs, image)) = import_busybox(&store) else { return };
    let out = dir.path();
    let destinations = [
        format!("oci:{}/layout:v1", out.display()),
        format!("oci-archive:{}/img-oci.tar", out.display()),
        format!("docker-archive:{}/img-docker.tar", out.display()),
    ];
    for dest in &destinations {
        transport::copy(
            &store,
            &loc("local/busybox"),
            &loc(dest),
            &ImportOptions::default(),
            &ExportOptions::default(),
        )
        .unwrap();
        let (_d, fresh) = crate::support::store();
        let records =
            transport::import(&fresh, &loc(dest), &[reference("back:1")], &ImportOptions::default()).unwrap();
        assert_eq!(records[0].id, image.record.id, "{dest}");
        assert_eq!(records[0].manifest_digest, image.record.manifest_digest, "{dest}: same local manifest");
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(out.join("img-docker.tar")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o644, "archives are readable by others, like docker save's");
    // docker-archive names survive a load.
    let (_d, fresh) = crate::support::store();
    let loaded = transport::load(&fresh, &out.join("img-docker.tar"), &ImportOptions::default()).unwrap();
    assert_eq!(loaded[0].refs, vec![reference("local/busybox:latest")]);
    let loaded = transport::load(&fresh, &out.join("img-oci.tar"), &ImportOptions::default()).unwrap();
    assert_eq!(loaded[0].id, image.record.id, "load detects OCI archives");
}

#[test]
fn a_second_export_reuses_the_compressed_blobs() {
    let (dir, store) = store();
    let Some((_rootfs, image)) = import_busybox(&store) else { return };
    let export = ExportImage::from_image(&image, vec![]);
    let dest = loc(&format!("oci:{}/a", dir.path().display()));
    transport::export(
        &store.lease().unwrap(),
        std::slice::from_ref(&export),
        &dest,
        &ExportOptions::default(),
    )
    .unwrap();
    let blobs = blob_count(&store);
    let compressed_at = |p: &str| std::fs::read_dir(dir.path().join(p).join("blobs/sha256")).unwrap().count();
    let dest2 = loc(&format!("oci:{}/b", dir.path().display()));
    transport::export(
        &store.lease().unwrap(),
        std::slice::from_ref(&export),
        &dest2,
        &ExportOptions::default(),
    )
    .unwrap();
    assert_eq!(blob_count(&store), blobs, "no new compressed blob");
    assert_eq!(compressed_at("a"), compressed_at("b"));
    let zstd = ExportOptions { compression: Compression::Zstd, level: Some(19), threads: 1 };
    let dest3 = loc(&format!("oci-archive:{}/z.tar", dir.path().display()));
    transport::export(&store.lease().unwrap(), &[export], &dest3, &zstd).unwrap();
    assert_eq!(blob_count(&store), blobs + 1, "one zstd layer");
    let (_d, fresh) = crate::support::store();
    let rec = transport::import(&fresh, &dest3, &[], &ImportOptions::default()).unwrap();
    assert_eq!(rec[0].id, image.record.id);
}

/// Writes a docker-archive tar by hand: `members` are (path, content) or (path, link target) pairs.
fn handmade_tar(path: &std::path::Path, members: &[(&str, &[u8])], links: &[(&str, &str)]) {
    let mut b = tar::Builder::new(std::fs::File::create(path).unwrap());
    for (name, data) in members {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        // Write the raw name so hostile names are not rejected by the tar crate's own checks.
        let bytes = name.as_bytes();
        h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    for (name, target) in links {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        let bytes = name.as_bytes();
        h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
        let t = target.as_bytes();
        h.as_old_mut().linkname[..t.len()].copy_from_slice(t);
        h.set_cksum();
        b.append(&h, &[][..]).unwrap();
    }
    b.finish().unwrap();
}

fn layer_tar() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_size(5);
    h.set_mode(0o644);
    b.append_data(&mut h, "hello.txt", &b"hello"[..]).unwrap();
    b.into_inner().unwrap()
}

fn config_for(layer: &[u8]) -> Vec<u8> {
    let mut config = kiln_oci::ImageConfig::for_platform(&kiln_oci::Platform::host());
    config.rootfs.diff_ids.push(kiln_oci::Digest::sha256_of(layer));
    serde_json::to_vec(&config).unwrap()
}

/// What the archive is, its members, its symlinks, and a word the error must contain.
type HostileCase<'a> = (&'a str, Vec<(&'a str, Vec<u8>)>, Vec<(&'a str, &'a str)>, &'a str);

#[test]
fn hostile_docker_archives_are_rejected_naming_the_member_and_leave_nothing() {
    let (dir, store) = store();
    let layer = layer_tar();
    let config = config_for(&layer);
    let config_name = format!("{}.json", kiln_oci::Digest::sha256_of(&config).hex());
    let manifest = |layers: &str| {
        format!(r#"[{{"Config":"{config_name}","RepoTags":["evil:1"],"Layers":[{layers}]}}]"#).into_bytes()
    };
    let good_manifest = manifest(r#""l/layer.tar""#);
    let mut tampered = layer.clone();
    tampered[600] ^= 1;
    let cases: Vec<HostileCase<'_>> = vec![
        (
            "traversal in Layers",
            vec![("manifest.json", manifest(r#""../../etc/passwd""#)), (&config_name, config.clone())],
            vec![],
            "climbs out",
        ),
        (
            "absolute path in Layers",
            vec![("manifest.json", manifest(r#""/etc/passwd""#)), (&config_name, config.clone())],
            vec![],
            "absolute",
        ),
        (
            "missing layer",
            vec![("manifest.json", good_manifest.clone()), (&config_name, config.clone())],
            vec![],
            "l/layer.tar",
        ),
        (
            "tampered layer",
            vec![
                ("manifest.json", good_manifest.clone()),
                (&config_name, config.clone()),
                ("l/layer.tar", tampered),
            ],
            vec![],
            "DiffID",
        ),
        (
            "config digest mismatch",
            vec![
                ("manifest.json", good_manifest.clone()),
                (&config_name, config_for(b"other")),
                ("l/layer.tar", layer.clone()),
            ],
            vec![],
            "digest mismatch",
        ),
        (
            "duplicate member",
            vec![("manifest.json", good_manifest.clone()), ("manifest.json", good_manifest.clone())],
            vec![],
            "duplicate member",
        ),
        (
            "absolute symlink",
            vec![("manifest.json", good_manifest.clone()), (&config_name, config.clone())],
            vec![("l/layer.tar", "/etc/passwd")],
            "absolute",
        ),
        (
            "symlink out of the archive",
            vec![("manifest.json", good_manifest.clone()), (&config_name, config.clone())],
            vec![("l/layer.tar", "../../x")],
            "climbs out",
        ),
        (
            "member path traversal",
            vec![("../escape", b"x".to_vec()), ("manifest.json", good_manifest.clone())],
            vec![],
            "../escape",
        ),
        ("not JSON", vec![("manifest.json", b"[{".to_vec())], vec![], "manifest.json"),
    ];
    for (what, members, links, needle) in cases {
        let path = dir.path().join("evil.tar");
        let members: Vec<(&str, &[u8])> = members.iter().map(|(n, d)| (*n, &d[..])).collect();
        handmade_tar(&path, &members, &links);
        let before = blob_count(&store);
        let err = transport::load(&store, &path, &ImportOptions::default()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(needle), "{what}: {msg:?} should mention {needle:?}");
        assert_eq!(blob_count(&store), before, "{what}: a failed load leaves no blob");
        assert!(store.images().unwrap().is_empty(), "{what}");
    }
    // The same archive with nothing wrong loads.
    let path = dir.path().join("good.tar");
    handmade_tar(
        &path,
        &[("manifest.json", &good_manifest), (&config_name, &config), ("l/layer.tar", &layer)],
        &[],
    );
    let rec = transport::load(&store, &path, &ImportOptions::default()).unwrap();
    assert_eq!(rec[0].refs, vec![reference("evil:1")]);
}

#[test]
fn truncated_and_corrupt_oci_blobs_are_rejected() {
    let (dir, store) = store();
    let Some((_rootfs, image)) = import_busybox(&store) else { return };
    let layout = dir.path().join("layout");
    transport::copy(
        &store,
        &loc("local/busybox"),
        &loc(&format!("oci:{}", layout.display())),
        &ImportOptions::default(),
        &ExportOptions::default(),
    )
    .unwrap();
    let layer_digest = {
        let index: kiln_oci::ImageIndex =
            serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
        let m: kiln_oci::ImageManifest = serde_json::from_slice(
            &std::fs::read(layout.join("blobs/sha256").join(index.manifests[0].digest.hex())).unwrap(),
        )
        .unwrap();
        m.layers[0].digest.clone()
    };
    let layer_path = layout.join("blobs/sha256").join(layer_digest.hex());
    let original = std::fs::read(&layer_path).unwrap();
    let (_d, fresh) = crate::support::store();
    for (what, bytes) in [
        ("truncated gzip", original[..original.len() / 2].to_vec()),
        ("flipped byte", {
            let mut b = original.clone();
            let n = b.len() - 20;
            b[n] ^= 0xff;
            b
        }),
    ] {
        std::fs::write(&layer_path, &bytes).unwrap();
        let err = transport::import(
            &fresh,
            &loc(&format!("oci:{}", layout.display())),
            &[],
            &ImportOptions::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains(layer_digest.hex()), "{what}: {err}");
        assert_eq!(blob_count(&fresh), 0, "{what}: nothing stays in the store");
    }
    std::fs::write(&layer_path, &original).unwrap();
    let rec =
        transport::import(&fresh, &loc(&format!("oci:{}", layout.display())), &[], &ImportOptions::default())
            .unwrap();
    assert_eq!(rec[0].id, image.record.id);
    assert!(matches!(
        transport::import(
            &fresh,
            &loc(&format!("oci:{}:nope", layout.display())),
            &[],
            &ImportOptions::default()
        ),
        Err(StoreError::Invalid { .. })
    ));
}

#[test]
fn multi_platform_indexes_import_the_host_platform() {
    let (dir, store) = store();
    let Some((_rootfs, image)) = import_busybox(&store) else { return };
    let layout = dir.path().join("multi");
    transport::copy(
        &store,
        &loc("local/busybox"),
        &loc(&format!("oci:{}", layout.display())),
        &ImportOptions::default(),
        &ExportOptions::default(),
    )
    .unwrap();
    // Wrap the single manifest in a nested index next to a foreign-platform entry.
    let mut index: kiln_oci::ImageIndex =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let host = index.manifests.remove(0);
    let mut foreign = host.clone();
    foreign.platform = Some(kiln_oci::Platform::parse("linux/s390x").unwrap());
    foreign.digest = kiln_oci::Digest::sha256_of(b"not there");
    let mut inner = kiln_oci::ImageIndex::new();
    inner.manifests = vec![foreign, host];
    let inner_json = serde_json::to_vec(&inner).unwrap();
    let inner_digest = kiln_oci::Digest::sha256_of(&inner_json);
    std::fs::write(layout.join("blobs/sha256").join(inner_digest.hex()), &inner_json).unwrap();
    let mut entry =
        kiln_oci::Descriptor::new(kiln_oci::MediaType::OciIndex, inner_digest, inner_json.len() as u64);
    entry.annotations.insert(kiln_oci::ANNOTATION_REF_NAME.to_owned(), "multi".to_owned());
    index.manifests = vec![entry];
    std::fs::File::create(layout.join("index.json"))
        .unwrap()
        .write_all(&serde_json::to_vec(&index).unwrap())
        .unwrap();

    let (_d, fresh) = crate::support::store();
    let source = loc(&format!("oci:{}:multi", layout.display()));
    let rec = transport::import(&fresh, &source, &[reference("m:1")], &ImportOptions::default()).unwrap();
    assert_eq!(rec[0].id, image.record.id);
    let s390x = ImportOptions { platform: Some(kiln_oci::Platform::parse("linux/s390x").unwrap()) };
    let err = transport::import(&fresh, &source, &[reference("m:2")], &s390x).unwrap_err();
    assert!(err.to_string().contains("no such file"), "the foreign manifest is absent: {err}");
    let arm = ImportOptions { platform: Some(kiln_oci::Platform::parse("linux/riscv64").unwrap()) };
    let err = transport::import(&fresh, &source, &[], &arm).unwrap_err();
    assert!(err.to_string().contains("no manifest for linux/riscv64"), "{err}");
    let _ = Reference::parse("x");
    let _ = run;
}

#[test]
fn docker_25_archives_with_an_oci_layout_inside_load() {
    let (dir, store) = store();
    let Some((_rootfs, image)) = import_busybox(&store) else { return };
    // Docker 25+ writes an OCI layout plus a manifest.json whose paths point into blobs/sha256.
    let layout = dir.path().join("layout");
    transport::copy(
        &store,
        &loc("local/busybox"),
        &loc(&format!("oci:{}", layout.display())),
        &ImportOptions::default(),
        &ExportOptions::default(),
    )
    .unwrap();
    let index: kiln_oci::ImageIndex =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let blob = |d: &kiln_oci::Digest| format!("blobs/sha256/{}", d.hex());
    let manifest: kiln_oci::ImageManifest =
        serde_json::from_slice(&std::fs::read(layout.join(blob(&index.manifests[0].digest))).unwrap())
            .unwrap();
    let entry = serde_json::json!([{
        "Config": blob(&manifest.config.digest),
        "RepoTags": ["docker25/busybox:latest"],
        "Layers": manifest.layers.iter().map(|l| blob(&l.digest)).collect::<Vec<_>>(),
    }]);
    std::fs::write(layout.join("manifest.json"), serde_json::to_vec(&entry).unwrap()).unwrap();
    let archive = dir.path().join("docker25.tar");
    run(std::process::Command::new("tar").arg("-cf").arg(&archive).arg("-C").arg(&layout).arg("."));

    let (_d, fresh) = crate::support::store();
    let recs = transport::load(&fresh, &archive, &ImportOptions::default()).unwrap();
    assert_eq!(recs[0].id, image.record.id);
    assert_eq!(recs[0].refs, vec![reference("docker25/busybox:latest")]);

    // A layer whose bytes do not match the digest in its name is refused, naming it.
    let layer = layout.join(blob(&manifest.layers[0].digest));
    let mut bytes = std::fs::read(&layer).unwrap();
    let n = bytes.len() - 1;
    bytes[n] ^= 0xff;
    std::fs::write(&layer, bytes).unwrap();
    run(std::process::Command::new("tar").arg("-cf").arg(&archive).arg("-C").arg(&layout).arg("."));
    let (_d, fresh) = crate::support::store();
    let err = transport::load(&fresh, &archive, &ImportOptions::default()).unwrap_err();
    assert!(err.to_string().contains(manifest.layers[0].digest.hex()), "{err}");
}
