//! Interop with other registry clients through a real `docker-registry`: an image kiln pushed is copied
//! by `skopeo` and pulled and run by a real dockerd; images skopeo pushed (as an OCI manifest and as a
//! Docker schema2 manifest) are pulled by kiln.

use std::process::Command;

use kiln_oci::ImageLocation;
use kiln_registry::{NoProgress, PullOptions, PushOptions};

use crate::fixture::{TestRegistry, busybox_image, client, have_registry, image, store};

fn loc(s: &str) -> ImageLocation {
    ImageLocation::parse(s).unwrap()
}

fn have_skopeo() -> bool {
    if kiln_test::which("skopeo").is_some() {
        return true;
    }
    assert!(!kiln_test::in_ci(), "CI must install skopeo");
    eprintln!("SKIPPED: skopeo is not installed");
    false
}

/// Runs a command, asserting success; returns stdout.
fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn skopeo() -> Command {
    let mut cmd = Command::new("skopeo");
    // No policy file, no system registries.conf: accept anything from the local registry only.
    cmd.args(["--insecure-policy", "--registries-conf", "/dev/null"]);
    cmd
}

#[test]
fn skopeo_copies_what_kiln_pushed_and_kiln_pulls_what_skopeo_pushed() {
    if !have_registry() || !have_skopeo() {
        return;
    }
    let registry = TestRegistry::start();
    let (dir, a) = store();
    let Some(record) = busybox_image(&a, "local/busybox:1") else { return };
    let reg = client(dir.path());
    let pushed_ref = registry.reference("kiln/busybox:1");
    let pushed =
        reg.push(&a, &loc("local/busybox:1"), &pushed_ref, &PushOptions::default(), &NoProgress).unwrap();

    // skopeo reads kiln's manifest, config and layers (it verifies every digest) into an OCI layout.
    let layout = dir.path().join("layout");
    let src = format!("docker://{}/kiln/busybox:1", registry.host());
    run(skopeo()
        .args(["copy", "--src-tls-verify=false", &src])
        .arg(format!("oci:{}:copied", layout.display())));
    let inspect = run(skopeo().args(["inspect", "--tls-verify=false", &src]));
    let inspect: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    assert_eq!(inspect["Digest"], pushed.digest.to_string());

    // skopeo pushes it back as Docker schema2 and as OCI, to other repositories; kiln pulls both.
    for (format, repo) in [("v2s2", "skopeo/docker"), ("oci", "skopeo/oci")] {
        let dest = format!("docker://{}/{repo}:1", registry.host());
        run(skopeo()
            .args(["copy", "--dest-tls-verify=false", "--format", format])
            .arg(format!("oci:{}:copied", layout.display()))
            .arg(&dest));
        let (_d, b) = store();
        let target = registry.reference(&format!("{repo}:1"));
        let pulled = reg.pull(&b, &target, &PullOptions::default(), &NoProgress).unwrap();
        assert_eq!(pulled.record.id, record.id, "{format}: same config, same image");
        let got = image(&b, &target.to_string());
        let want = image(&a, "local/busybox:1");
        for diff_id in want.diff_ids() {
            assert_eq!(
                std::fs::read(b.blob_path(diff_id)).unwrap(),
                std::fs::read(a.blob_path(diff_id)).unwrap(),
                "{format}: layer {diff_id}"
            );
        }
        assert_eq!(got.config_bytes, want.config_bytes);
        let manifest: serde_json::Value =
            serde_json::from_str(&run(skopeo().args(["inspect", "--raw", "--tls-verify=false", &dest])))
                .unwrap();
        let media_type = manifest["mediaType"].as_str().unwrap_or_default().to_owned();
        let want_type = if format == "v2s2" {
            "application/vnd.docker.distribution.manifest.v2+json"
        } else {
            "application/vnd.oci.image.manifest.v1+json"
        };
        assert_eq!(media_type, want_type);
    }
}

#[test]
fn dockerd_pulls_and_runs_what_kiln_pushed() {
    if !have_registry() {
        return;
    }
    let registry = TestRegistry::start();
    let (dir, a) = store();
    if busybox_image(&a, "local/busybox:1").is_none() {
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
    let reg = client(dir.path());
    let target = registry.reference("kiln/busybox:run");
    let pushed =
        reg.push(&a, &loc("local/busybox:1"), &target, &PushOptions::default(), &NoProgress).unwrap();
    let name = format!("{}/kiln/busybox:run", registry.host());
    // dockerd treats 127.0.0.0/8 as an insecure registry by default: plain HTTP works.
    let out = run(daemon.docker().args(["pull", &name]));
    assert!(out.contains(&pushed.digest.to_string()), "{out}");
    let out = run(daemon.docker().args([
        "run",
        "--rm",
        "--network",
        "none",
        &name,
        "/bin/sh",
        "-c",
        "echo from-kiln",
    ]));
    assert_eq!(out.trim(), "from-kiln");
}
