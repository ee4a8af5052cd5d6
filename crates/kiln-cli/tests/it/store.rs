//! The store commands end to end through the `kiln` binary: the README's import-and-save job loaded by a
//! real dockerd, `kill -9` in the middle of imports and loads, and several processes sharing one store.

// Skips and the crash test's tally are reported on stderr.
#![allow(clippy::print_stderr)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn kiln(root: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kiln"));
    cmd.arg("--root").arg(root).env_remove("KILN_ROOT").env_remove("SOURCE_DATE_EPOCH");
    cmd
}

fn ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn busybox(dir: &Path) -> bool {
    if !Path::new("/bin/busybox").exists() {
        assert!(!kiln_test::in_ci(), "CI must install busybox-static");
        eprintln!("SKIPPED: busybox-static is not installed");
        return false;
    }
    kiln_test::busybox_rootfs(dir).unwrap();
    true
}

/// Fills `dir` with `files` files of `size` incompressible bytes each (xorshift, seeded).
fn random_files(dir: &Path, files: usize, size: usize, seed: u64) {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    for i in 0..files {
        let mut data = vec![0u8; size];
        for chunk in data.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
        }
        std::fs::write(dir.join(format!("blob{i}")), data).unwrap();
    }
}

/// Every blob in the store hashes to its name.
fn verify_blobs(root: &Path) -> usize {
    let dir = root.join("v1/blobs/sha256");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let entry = entry.unwrap();
        let data = std::fs::read(entry.path()).unwrap();
        let digest = kiln_oci::Digest::sha256_of(&data);
        assert_eq!(digest.hex(), entry.file_name().to_string_lossy(), "blob content matches its name");
        n += 1;
    }
    n
}

/// The tags `kiln images --format json` lists; each image's layers must be in the store.
fn listed_tags(root: &Path) -> BTreeSet<String> {
    let images: serde_json::Value =
        serde_json::from_str(&ok(kiln(root).args(["images", "--format", "json"]))).unwrap();
    let mut tags = BTreeSet::new();
    for image in images.as_array().unwrap() {
        let id = image["Id"].as_str().unwrap();
        let inspected: serde_json::Value =
            serde_json::from_str(&ok(kiln(root).args(["inspect", id]))).unwrap();
        for layer in inspected[0]["RootFS"]["Layers"].as_array().unwrap() {
            let hex = layer.as_str().unwrap().trim_start_matches("sha256:");
            assert!(root.join("v1/blobs/sha256").join(hex).is_file(), "{id}: layer {hex} is in the store");
        }
        tags.extend(image["RepoTags"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_owned()));
    }
    tags
}

#[test]
fn readme_import_and_save_loads_into_docker() {
    let dir = tempfile::tempdir().unwrap();
    let rootfs = dir.path().join("rootfs");
    if !busybox(&rootfs) {
        return;
    }
    let root = dir.path().join("store");
    ok(kiln(&root).arg("import").arg(format!("dir:{}", rootfs.display())).arg("local/busybox:latest"));
    let tar = dir.path().join("busybox.tar");
    ok(kiln(&root).current_dir(dir.path()).args(["save", "local/busybox", "-o", "busybox.tar"]));
    let history = ok(kiln(&root).args(["history", "local/busybox"]));
    assert!(history.contains("Imported from"), "{history}");
    let daemon = match kiln_test::Dockerd::start() {
        Ok(d) => d,
        Err(reason) => {
            assert!(!kiln_test::in_ci(), "dockerd must start under CI: {reason}");
            eprintln!("SKIPPED docker part: {reason}");
            return;
        }
    };
    let loaded = ok(daemon.docker().arg("load").arg("-i").arg(&tar));
    assert!(loaded.contains("Loaded image: local/busybox:latest"), "{loaded}");
    let passwd =
        ok(daemon.docker().args(["run", "--rm", "--network", "none", "local/busybox", "cat", "/etc/passwd"]));
    assert!(passwd.starts_with("root:x:0:0:"), "{passwd}");
}

#[test]
fn kill_9_during_import_and_load_leaves_a_usable_store() {
    let dir = tempfile::tempdir().unwrap();
    let rootfs = dir.path().join("rootfs");
    if !busybox(&rootfs) {
        return;
    }
    random_files(&rootfs.join("var"), 48, 1 << 20, 7);
    let root = dir.path().join("store");
    // A fixed creation time: every import of the same tree is then the same image, whatever second a run
    // (or a run killed after its commit) finishes in.
    let kiln = |root: &Path| {
        let mut cmd = kiln(root);
        cmd.env("SOURCE_DATE_EPOCH", "1700000000");
        cmd
    };
    // One complete import and an archive of it to load, timing the import to spread the kills over it.
    let started = Instant::now();
    ok(kiln(&root).arg("import").arg(&rootfs).arg("big:base"));
    let span = started.elapsed().max(Duration::from_millis(200));
    let archive = dir.path().join("big.tar");
    ok(kiln(&root).args(["save", "big:base", "--compression", "none", "-o"]).arg(&archive));
    ok(kiln(&root).args(["rmi", "big:base"]));

    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut completed = BTreeSet::new();
    let mut killed = 0;
    for round in 0..20 {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let delay = span.mul_f64((seed >> 33) as f64 / (1u64 << 31) as f64);
        let tag = format!("big:r{round}");
        let mut cmd = kiln(&root);
        if round % 2 == 0 {
            cmd.arg("import").arg(&rootfs).arg(&tag);
        } else {
            // Loading a differently named copy: retag through copy so each round's name is unique.
            cmd.args(["copy", &format!("docker-archive:{}", archive.display()), &tag]);
        }
        let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL
        if child.wait().unwrap().success() {
            // Start the next round from an empty store again, so every run has real work to be killed in.
            assert!(listed_tags(&root).contains(&tag), "a finished run is listed");
            ok(kiln(&root).args(["rmi", &tag]));
            completed.insert(tag);
        } else {
            killed += 1;
        }
    }
    // A run killed after its commit may be listed; every listed image is complete (listed_tags checks its
    // layers), and nothing else is.
    let tags = listed_tags(&root);
    assert!(tags.iter().all(|t| t.starts_with("big:r") && !completed.contains(t)), "{tags:?}");
    verify_blobs(&root);
    eprintln!("{killed} of 20 runs were killed mid-way, {} finished", completed.len());

    // The store works as is, and prune clears every leftover.
    ok(kiln(&root).arg("import").arg(&rootfs).arg("big:after"));
    ok(kiln(&root).args(["prune"]));
    assert_eq!(std::fs::read_dir(root.join("v1/tmp")).unwrap().count(), 0, "no staging leftovers");
    assert_eq!(std::fs::read_dir(root.join("v1/leases")).unwrap().count(), 0, "no stale leases");
    let blobs = verify_blobs(&root);
    let images: serde_json::Value =
        serde_json::from_str(&ok(kiln(&root).args(["images", "--format", "json"]))).unwrap();
    let distinct_ids: BTreeSet<&str> =
        images.as_array().unwrap().iter().map(|i| i["Id"].as_str().unwrap()).collect();
    assert_eq!(distinct_ids.len(), 1, "every run stored the same image");
    assert_eq!(blobs, 3, "one layer, one config, one manifest remain: {blobs}");
    assert!(listed_tags(&root).contains("big:after"));
}

#[test]
fn concurrent_processes_share_one_store() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    ok(kiln(&root).arg("images")); // create the store once
    let workers = 4;
    let rounds = 5;
    let handles: Vec<_> = (0..workers)
        .map(|w| {
            let root = root.clone();
            let base = dir.path().join(format!("w{w}"));
            std::thread::spawn(move || {
                for r in 0..rounds {
                    let rootfs: PathBuf = base.join(format!("r{r}"));
                    std::fs::create_dir_all(&rootfs).unwrap();
                    random_files(&rootfs, 2, 64 << 10, (w * 100 + r + 1) as u64);
                    std::fs::write(rootfs.join("shared"), b"identical in every image").unwrap();
                    ok(kiln(&root).arg("import").arg(&rootfs).arg(format!("w{w}:{r}")));
                    ok(kiln(&root).args(["tag", &format!("w{w}:{r}"), &format!("w{w}:keep{r}")]));
                    if r % 2 == 1 {
                        ok(kiln(&root).args(["rmi", &format!("w{w}:{r}")]));
                    }
                    ok(kiln(&root).arg("prune"));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let mut expected = BTreeSet::new();
    for w in 0..workers {
        for r in 0..rounds {
            expected.insert(format!("w{w}:keep{r}"));
            if r % 2 == 0 {
                expected.insert(format!("w{w}:{r}"));
            }
        }
    }
    assert_eq!(listed_tags(&root), expected, "no tag lost, none left behind");
    verify_blobs(&root);
    ok(kiln(&root).arg("prune"));
    assert_eq!(verify_blobs(&root), workers * rounds * 3, "each image keeps its layer, config and manifest");
}
