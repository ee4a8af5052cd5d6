//! Opening images: docker-archives and OCI layouts are read in place, checked against their DiffIDs, and
//! bad input is an error naming the object; store images are read without hashing their layers again.

use kiln_analyze::{AnalyzeError, AnalyzeOptions, analyze, open_image};
use kiln_oci::Platform;

use crate::fixture::{self, Member};

fn layers() -> Vec<Vec<Member>> {
    vec![
        vec![Member::dir("etc"), Member::file("etc/os-release", b"ID=test\n")],
        vec![Member::file("etc/os-release", b"ID=test2\n"), Member::zeros("data", 1000)],
    ]
}

#[test]
fn docker_archive_and_oci_layout_give_the_same_analysis() {
    let tmp = tempfile::tempdir().unwrap();
    let history = fixture::history(&["/bin/sh -c #(nop) ADD base", "/bin/sh -c echo"]);
    let archive = fixture::docker_archive(&tmp.path().join("img.tar"), &layers(), &history);
    let layout = fixture::oci_layout(&tmp.path().join("layout"), &layers(), &history);
    let a =
        analyze(&open_image(&archive, None, &Platform::host()).unwrap(), &AnalyzeOptions::default()).unwrap();
    let b =
        analyze(&open_image(&layout, None, &Platform::host()).unwrap(), &AnalyzeOptions::default()).unwrap();
    assert_eq!(a.id, b.id);
    assert_eq!(serde_json::to_value(&a.layers).unwrap(), serde_json::to_value(&b.layers).unwrap());
    // The same layout as an oci-archive (a tar of the layout directory).
    let oci_tar = tmp.path().join("layout.tar");
    let mut t = tar::Builder::new(fs_err::File::create(&oci_tar).unwrap());
    t.append_dir_all(".", tmp.path().join("layout")).unwrap();
    t.finish().unwrap();
    drop(t);
    let c = analyze(
        &open_image(&format!("oci-archive:{}", oci_tar.display()), None, &Platform::host()).unwrap(),
        &AnalyzeOptions::default(),
    )
    .unwrap();
    assert_eq!(c.id, a.id);
    assert_eq!(serde_json::to_value(&c.layers).unwrap(), serde_json::to_value(&a.layers).unwrap());
    assert_eq!(a.wasted_bytes, 17);
    assert_eq!(a.layers[1].command, "echo");
    // Plain tars: no compressed size unless asked for.
    assert_eq!(a.layers[0].compressed_size_bytes, None);
    let with_gzip = AnalyzeOptions { compressed_size: true, ..AnalyzeOptions::default() };
    let c = analyze(&open_image(&archive, None, &Platform::host()).unwrap(), &with_gzip).unwrap();
    let gz = c.layers[1].compressed_size_bytes.unwrap();
    assert!(gz > 20 && gz < c.layers[1].tar_size_bytes, "gzip of 1000 zeros is small: {gz}");
}

#[test]
fn a_layer_that_does_not_match_its_diff_id_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let name = fixture::oci_layout(tmp.path(), &layers(), &fixture::history(&["a", "b"]));
    // Swap the layers' DiffIDs in the config: the content no longer matches.
    let blobs = tmp.path().join("blobs/sha256");
    for entry in fs_err::read_dir(&blobs).unwrap() {
        let path = entry.unwrap().path();
        let text = fs_err::read(&path).unwrap();
        if let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&text)
            && v.get("rootfs").is_some()
        {
            v["rootfs"]["diff_ids"].as_array_mut().unwrap().reverse();
            fs_err::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
        }
    }
    let source = open_image(&name, None, &Platform::host()).unwrap();
    let err = analyze(&source, &AnalyzeOptions::default()).unwrap_err();
    assert!(matches!(err, AnalyzeError::DiffIdMismatch { .. }), "{err}");
    assert!(err.to_string().contains("DiffID mismatch"), "{err}");
}

#[test]
fn a_corrupted_docker_archive_layer_is_refused_naming_the_layer() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("img.tar");
    let archive = fixture::docker_archive(&path, &layers(), &fixture::history(&["a", "b"]));
    // Flip one byte of the second layer's file content (`ID=test2`): same sizes, another DiffID.
    let mut bytes = fs_err::read(&path).unwrap();
    let at = bytes.windows(8).position(|w| w == b"ID=test2").unwrap();
    bytes[at + 3] = b'X';
    fs_err::write(&path, &bytes).unwrap();
    let source = open_image(&archive, None, &Platform::host()).unwrap();
    assert!(source.layers.iter().all(|l| !l.verified()), "archive layers are always hashed");
    let err = analyze(&source, &AnalyzeOptions::default()).unwrap_err();
    assert!(matches!(err, AnalyzeError::DiffIdMismatch { index: 1, .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("layer 1 of") && text.contains(&source.layers[1].diff_id.to_string()), "{text}");
}

#[test]
fn store_images_are_analyzed_like_their_archive_without_rehashing() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("img.tar");
    let history = fixture::history(&["/bin/sh -c #(nop) ADD base", "/bin/sh -c echo"]);
    let archive = fixture::docker_archive(&path, &layers(), &history);
    let store = kiln_store::Store::open(tmp.path().join("store")).unwrap();
    kiln_store::transport::load(&store, &path, &Default::default()).unwrap();
    let stored = open_image("test/image:latest", Some(&store), &Platform::host()).unwrap();
    assert!(stored.layers.iter().all(|l| l.verified()), "store layers were verified when written");
    let a = analyze(&stored, &AnalyzeOptions::default()).unwrap();
    let b =
        analyze(&open_image(&archive, None, &Platform::host()).unwrap(), &AnalyzeOptions::default()).unwrap();
    assert_eq!(a.id, b.id);
    // Same DiffIDs, tar sizes, entries and numbers, whether the layers were hashed or not.
    assert_eq!(serde_json::to_value(&a.layers).unwrap(), serde_json::to_value(&b.layers).unwrap());
    assert_eq!((a.efficiency, a.wasted_bytes, a.files), (b.efficiency, b.wasted_bytes, b.files));
    assert_eq!(a.layers[1].tar_size_bytes, stored.layers[1].stored_size());
}

#[test]
fn bad_sources_are_errors_naming_the_object() {
    let tmp = tempfile::tempdir().unwrap();
    let not_tar = tmp.path().join("junk.tar");
    fs_err::write(&not_tar, b"not a tar at all, just text that is long enough").unwrap();
    let err =
        open_image(&format!("docker-archive:{}", not_tar.display()), None, &Platform::host()).unwrap_err();
    assert!(err.to_string().contains("junk.tar"), "{err}");

    let archive =
        fixture::docker_archive(&tmp.path().join("img.tar"), &layers(), &fixture::history(&["a", "b"]));
    let err = open_image(&format!("{archive}:other/name:tag"), None, &Platform::host()).unwrap_err();
    assert!(
        err.to_string().contains("manifest.json") && err.to_string().contains("no image tagged"),
        "{err}"
    );

    let err = open_image("dir:/tmp", None, &Platform::host()).unwrap_err();
    assert!(err.to_string().contains("not an image"), "{err}");
    let err = open_image("alpine:3", None, &Platform::host()).unwrap_err();
    assert!(err.to_string().contains("no store"), "{err}");
}
