//! Real clients read what we write and we read what they write: skopeo, umoci and a private dockerd.
//! Each test skips with a reason when its tool is missing, and fails instead under CI.

use std::io::Read;
use std::process::Command;

use kiln_oci::ImageLocation;
use kiln_store::Store;
use kiln_store::transport::{self, ExportOptions, ImportOptions, RootfsImport};

use crate::support::{busybox, reference, run, store, tree, unpack};

fn tool(name: &str) -> bool {
    if kiln_test::which(name).is_some() {
        return true;
    }
    assert!(!kiln_test::in_ci(), "CI must install {name}");
    eprintln!("SKIPPED: {name} is not installed");
    false
}

fn loc(s: String) -> ImageLocation {
    ImageLocation::parse(&s).unwrap()
}

/// Imports busybox as `local/busybox:latest`; returns the rootfs it came from.
fn import_busybox(store: &Store) -> Option<(kiln_test::TempDir, kiln_store::Image)> {
    let rootfs = busybox()?;
    let mut options = RootfsImport::default();
    options.config.cmd = Some(vec!["/bin/sh".to_owned()]);
    let rec = transport::import_rootfs(store, rootfs.path(), &[reference("local/busybox:latest")], &options)
        .unwrap();
    Some((rootfs, store.load(&rec).unwrap()))
}

fn copy_out(store: &Store, dest: String, options: &ExportOptions) {
    transport::copy(store, &loc("local/busybox".to_owned()), &loc(dest), &ImportOptions::default(), options)
        .unwrap();
}

#[test]
fn skopeo_and_umoci_read_our_oci_output() {
    if !tool("skopeo") || !tool("umoci") {
        return;
    }
    let (dir, store) = store();
    let Some((rootfs, image)) = import_busybox(&store) else { return };
    let out = dir.path();
    for (name, options) in [
        ("gzip", ExportOptions::default()),
        ("zstd", ExportOptions { compression: kiln_oci::Compression::Zstd, ..ExportOptions::default() }),
    ] {
        copy_out(&store, format!("oci:{}/{name}:v1", out.display()), &options);
        copy_out(&store, format!("oci-archive:{}/{name}.tar:v1", out.display()), &options);
        for source in [
            format!("oci:{}/{name}:v1", out.display()),
            format!("oci-archive:{}/{name}.tar:v1", out.display()),
        ] {
            let inspected: serde_json::Value =
                serde_json::from_str(&run(Command::new("skopeo").args(["inspect", &source]))).unwrap();
            assert_eq!(inspected["Layers"].as_array().unwrap().len(), 1, "{source}: {inspected}");
            assert_eq!(inspected["Architecture"], image.config.architecture, "{source}");
            let config: serde_json::Value =
                serde_json::from_str(&run(Command::new("skopeo").args(["inspect", "--config", &source])))
                    .unwrap();
            assert_eq!(config["rootfs"]["diff_ids"][0], image.diff_ids()[0].to_string(), "{source}");
        }
    }
    // skopeo copies it on, into a layout and a docker-archive.
    run(Command::new("skopeo").args([
        "copy",
        &format!("oci:{}/gzip:v1", out.display()),
        &format!("oci:{}/copied:again", out.display()),
    ]));
    run(Command::new("skopeo").args([
        "copy",
        &format!("oci-archive:{}/gzip.tar:v1", out.display()),
        &format!("docker-archive:{}/skopeo-docker.tar:x/y:z", out.display()),
    ]));
    // kiln's gzip is one member per MiB; the layer has several, so the readers below must read them all.
    let layer = fs_err::read_dir(out.join("gzip/blobs/sha256"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .max_by_key(|path| fs_err::metadata(path).unwrap().len())
        .unwrap();
    let (mut first, mut all) = (Vec::new(), Vec::new());
    let gz = fs_err::read(&layer).unwrap();
    flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut first).unwrap();
    flate2::read::MultiGzDecoder::new(&gz[..]).read_to_end(&mut all).unwrap();
    assert!(first.len() < all.len(), "{}: one gzip member only", layer.display());
    // umoci unpacks it to the same tree (rootless, so owners become ours; modes and content are compared).
    let bundle = out.join("bundle");
    run(Command::new("umoci")
        .args(["unpack", "--rootless", "--image", &format!("{}/gzip:v1", out.display())])
        .arg(&bundle));
    assert_eq!(tree(&bundle.join("rootfs")), tree(rootfs.path()));
}

#[test]
fn we_read_what_skopeo_and_umoci_write() {
    if !tool("skopeo") || !tool("umoci") {
        return;
    }
    let (dir, store) = store();
    let Some((rootfs, image)) = import_busybox(&store) else { return };
    let out = dir.path();
    copy_out(&store, format!("oci:{}/ours:v1", out.display()), &ExportOptions::default());
    // skopeo re-writes it in each format.
    for dest in [
        format!("oci:{}/skopeo-layout:s1", out.display()),
        format!("oci-archive:{}/skopeo-oci.tar:s1", out.display()),
        format!("docker-archive:{}/skopeo-docker.tar:skopeo/busybox:s1", out.display()),
    ] {
        run(Command::new("skopeo").args(["copy", &format!("oci:{}/ours:v1", out.display()), &dest]));
        let (_d, fresh) = crate::support::store();
        let recs = transport::import(
            &fresh,
            &loc(dest.clone()),
            &[reference("from:skopeo")],
            &ImportOptions::default(),
        )
        .unwrap();
        assert_eq!(recs[0].id, image.record.id, "{dest}: the config bytes survive");
        let back = fresh.load(&recs[0]).unwrap();
        assert_eq!(tree(unpack(&fresh, &back).path()), tree(rootfs.path()), "{dest}");
    }
    // umoci builds an image of its own from the rootfs.
    let layout = out.join("umoci");
    let image_ref = format!("{}:built", layout.display());
    run(Command::new("umoci").args(["init", "--layout"]).arg(&layout));
    run(Command::new("umoci").args(["new", "--image", &image_ref]));
    let bundle = out.join("umoci-bundle");
    run(Command::new("umoci").args(["unpack", "--rootless", "--image", &image_ref]).arg(&bundle));
    run(Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", rootfs.path().display()))
        .arg(bundle.join("rootfs")));
    run(Command::new("umoci").args(["repack", "--image", &image_ref]).arg(&bundle));
    let (_d, fresh) = crate::support::store();
    let recs =
        transport::import(&fresh, &loc(format!("oci:{image_ref}")), &[], &ImportOptions::default()).unwrap();
    let back = fresh.load(&recs[0]).unwrap();
    assert_eq!(
        tree(unpack(&fresh, &back).path()),
        tree(rootfs.path()),
        "umoci's layer unpacks to the rootfs"
    );
}

#[test]
fn docker_loads_and_runs_our_archive_and_we_load_docker_save() {
    if !tool("dockerd") {
        return;
    }
    let daemon = match kiln_test::Dockerd::start() {
        Ok(d) => d,
        Err(reason) => {
            assert!(!kiln_test::in_ci(), "dockerd must start under CI: {reason}");
            eprintln!("SKIPPED: {reason}");
            return;
        }
    };
    let (dir, store) = store();
    let Some((rootfs, image)) = import_busybox(&store) else { return };
    let archive = dir.path().join("busybox.tar");
    let lease = store.lease().unwrap();
    let images =
        transport::open_images(&lease, &[loc("local/busybox:latest".to_owned())], &ImportOptions::default())
            .unwrap();
    transport::export(
        &lease,
        &images,
        &ImageLocation::DockerArchive { path: archive.clone(), reference: None },
        &ExportOptions::default(),
    )
    .unwrap();
    drop(lease);

    let loaded = run(daemon.docker().arg("load").arg("-i").arg(&archive));
    assert!(loaded.contains("local/busybox:latest"), "{loaded}");
    let id = run(daemon.docker().args(["image", "inspect", "--format", "{{.Id}}", "local/busybox:latest"]));
    assert_eq!(id.trim(), image.record.id.to_string(), "docker computes the same image ID");
    let passwd = run(daemon.docker().args([
        "run",
        "--rm",
        "--network",
        "none",
        "local/busybox",
        "cat",
        "/etc/passwd",
    ]));
    assert_eq!(passwd, std::fs::read_to_string(rootfs.path().join("etc/passwd")).unwrap());

    // docker save's output loads back into a fresh store with the same ID, name and tree.
    run(daemon.docker().args(["tag", "local/busybox:latest", "docker/saved:1"]));
    let saved = dir.path().join("saved.tar");
    run(daemon.docker().args(["save", "-o"]).arg(&saved).arg("docker/saved:1"));
    let (_d, fresh) = crate::support::store();
    let recs = transport::load(&fresh, &saved, &ImportOptions::default()).unwrap();
    assert_eq!(recs[0].id, image.record.id);
    assert_eq!(recs[0].refs, vec![reference("docker/saved:1")]);
    assert_eq!(tree(unpack(&fresh, &fresh.load(&recs[0]).unwrap()).path()), tree(rootfs.path()));
}
