//! `kiln build` end to end: flags, outputs, metadata, failures and their exit codes.

use predicates::prelude::*;

use crate::kiln;

fn can_build() -> bool {
    kiln_test::is_root() && std::path::Path::new("/bin/busybox").exists()
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let rootfs = dir.path().join("rootfs");
    std::fs::create_dir_all(&rootfs).unwrap();
    kiln_test::busybox_rootfs(&rootfs).unwrap();
    kiln()
        .env("KILN_ROOT", dir.path().join("store"))
        .arg("import")
        .arg(&rootfs)
        .arg("busybox")
        .assert()
        .success();
    std::fs::create_dir_all(dir.path().join("ctx")).unwrap();
    dir
}

#[test]
fn build_tags_writes_metadata_and_outputs() {
    kiln_test::skip_unless!(can_build(), "builds need root and busybox-static");
    let dir = setup();
    let d = dir.path();
    std::fs::write(d.join("ctx/hello.txt"), "hello\n").unwrap();
    std::fs::write(
        d.join("ctx/Dockerfile"),
        "FROM busybox\nCOPY hello.txt /hello.txt\nRUN cat /hello.txt > /copy\n",
    )
    .unwrap();
    let out = kiln()
        .env("KILN_ROOT", d.join("store"))
        .current_dir(d)
        .args([
            "build",
            "ctx",
            "-t",
            "demo:1",
            "-t",
            "demo:latest",
            "--iidfile",
            "iid",
            "--metadata-file",
            "meta.json",
        ])
        .args([
            "--output",
            "type=local,dest=rootfs-out",
            "--output",
            "type=oci,dest=image.oci.tar",
            "--progress=plain",
        ])
        .assert()
        .success()
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("#2 [2/3] COPY hello.txt /hello.txt"), "{stderr}");
    assert!(stderr.contains("#3 DONE"), "{stderr}");
    let id = std::fs::read_to_string(d.join("iid")).unwrap();
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["containerimage.config.digest"], id.as_str());
    assert!(meta["containerimage.digest"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(std::fs::read_to_string(d.join("rootfs-out/copy")).unwrap(), "hello\n");
    assert!(d.join("image.oci.tar").is_file());
    kiln().env("KILN_ROOT", d.join("store")).args(["inspect", "demo:1"]).assert().success();

    // Unchanged: everything cached, same ID on stdout with -q.
    kiln()
        .env("KILN_ROOT", d.join("store"))
        .current_dir(d)
        .args(["build", "ctx", "-q"])
        .assert()
        .success()
        .stdout(format!("{id}\n"));
    std::fs::write(d.join("ctx/hello.txt"), "changed\n").unwrap();
    kiln()
        .env("KILN_ROOT", d.join("store"))
        .current_dir(d)
        .args(["build", "ctx", "--progress=plain"])
        .assert()
        .success()
        .stderr(predicate::str::contains("cache miss: file hello.txt modified"));
}

#[test]
fn failures_exit_2_with_location_and_output_tail() {
    kiln_test::skip_unless!(can_build(), "builds need root and busybox-static");
    let dir = setup();
    let d = dir.path();
    kiln()
        .env("KILN_ROOT", d.join("store"))
        .current_dir(d)
        .args(["build", "ctx", "-f", "-", "--progress=plain"])
        .write_stdin("FROM busybox AS app\nRUN echo compiling; echo 'error: boom' >&2; exit 4\n")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("-:2: stage app"))
        .stderr(predicate::str::contains("exit code: 4"))
        .stderr(predicate::str::contains("--- last 2 lines of output ---\ncompiling\nerror: boom"));
    kiln()
        .env("KILN_ROOT", d.join("store"))
        .current_dir(d)
        .args(["build", "ctx", "-f", "-", "--platform", "linux/s390x"])
        .write_stdin("FROM busybox\n")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("this machine's platform"));
    kiln()
        .env("KILN_ROOT", d.join("store"))
        .current_dir(d)
        .args(["build", "ctx", "-f", "-"])
        .write_stdin("FROM 127.0.0.1:1/alpine:3.20\n")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("127.0.0.1:1/alpine:3.20 is not in the store and pulling it failed"))
        .stderr(predicate::str::contains("kiln import"));
}

#[test]
fn dockerfile_outside_the_context_and_a_tarball_context_on_stdin() {
    kiln_test::skip_unless!(can_build(), "builds need root and busybox-static");
    let dir = setup();
    let d = dir.path();
    std::fs::write(d.join("ctx/data.txt"), "data\n").unwrap();
    std::fs::write(d.join("outside.Dockerfile"), "FROM busybox\nCOPY data.txt /data.txt\n").unwrap();
    let id = kiln()
        .env("KILN_ROOT", d.join("store"))
        .current_dir(d)
        .args(["build", "ctx", "-f", "outside.Dockerfile", "-q", "-o", "type=tar,dest=rootfs.tar"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let listing = std::process::Command::new("tar").arg("-tf").arg(d.join("rootfs.tar")).output().unwrap();
    assert!(String::from_utf8_lossy(&listing.stdout).lines().any(|l| l == "data.txt"));
    let history = kiln()
        .env("KILN_ROOT", d.join("store"))
        .args(["inspect", String::from_utf8_lossy(&id).trim()])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&history.stdout).contains("kiln.dockerfile.v0 outside.Dockerfile:2"));

    std::fs::write(d.join("ctx/Dockerfile"), "FROM busybox\nCOPY data.txt /from-stdin.txt\n").unwrap();
    let tarball = std::process::Command::new("tar")
        .arg("-C")
        .arg(d.join("ctx"))
        .args(["-cf", "-", "."])
        .output()
        .unwrap();
    kiln()
        .env("KILN_ROOT", d.join("store"))
        .args(["build", "-", "-q", "--output"])
        .arg(format!("type=local,dest={}", d.join("out").display()))
        .write_stdin(tarball.stdout)
        .assert()
        .success();
    assert_eq!(std::fs::read_to_string(d.join("out/from-stdin.txt")).unwrap(), "data\n");
}

#[test]
fn build_checks_are_listed_after_the_build_and_errors_stop_it() {
    kiln_test::skip_unless!(can_build(), "builds need root and busybox-static");
    let dir = setup();
    let d = dir.path();
    let build = |extra: &[&str], dockerfile: &str| {
        kiln()
            .env("KILN_ROOT", d.join("store"))
            .current_dir(d)
            .args(["build", "ctx", "-f", "-", "--progress=plain"])
            .args(extra)
            .write_stdin(dockerfile.to_owned())
            .assert()
    };
    // BuildKit's checks run on every build and are listed after it; kiln lint's other rules do not.
    build(&[], "FROM busybox as app\nRUN cd /tmp && true\n")
        .success()
        .stderr(predicate::str::contains("1 warning found:\n - FromAsCasing: "))
        .stderr(predicate::str::contains("(-:1)"))
        .stderr(predicate::str::contains("DL3003").not());
    // `# check=error=true` makes them errors: the build stops before any step runs.
    build(&[], "# check=error=true\nFROM busybox as app\nRUN echo ran-a-step\n")
        .failure()
        .stderr(predicate::str::contains("FromAsCasing"))
        .stderr(predicate::str::contains("1 build check failed in -"))
        .stderr(predicate::str::contains("ran-a-step").not());
    // --check lints with every rule first: DL3000 (relative WORKDIR) is an error and stops the build,
    // a warning (DL3003) does not.
    build(&["--check"], "FROM busybox\nWORKDIR app\n")
        .failure()
        .stderr(predicate::str::contains("DL3000"))
        .stderr(predicate::str::contains("#1 ").not());
    build(&["--check"], "FROM busybox\nRUN cd /tmp && true\n")
        .success()
        .stderr(predicate::str::contains(" - DL3003: "));
}

#[test]
fn build_scan_fails_the_build_on_a_leaked_secret() {
    kiln_test::skip_unless!(can_build(), "builds need root and busybox-static");
    let dir = setup();
    let d = dir.path();
    // Assembled at run time so no scanner flags this source file.
    let token = format!("ghp_{}", "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8");
    std::fs::write(d.join("ctx/app.env"), format!("GITHUB_TOKEN={token}\n")).unwrap();
    let build = |dockerfile: &str| {
        kiln()
            .env("KILN_ROOT", d.join("store"))
            .current_dir(d)
            .args(["build", "ctx", "-f", "-", "--progress=plain", "--scan", "--fail-on", "high"])
            .arg("--iidfile")
            .arg(d.join("iid"))
            .write_stdin(dockerfile.to_owned())
            .assert()
    };
    build("FROM busybox\nCOPY app.env /app/.env\nUSER 65534\n")
        .code(1)
        .stderr(predicate::str::contains("github"))
        .stderr(predicate::str::contains("found what --fail-on forbids"))
        .stderr(predicate::str::contains(token.as_str()).not());
    assert!(!d.join("iid").exists(), "a failed build writes no --iidfile");
    // The same image without the file passes (no vulnerability database: secrets and audit only).
    build("FROM busybox\nRUN echo ok > /ok\nUSER 65534\n")
        .success()
        .stderr(predicate::str::contains("no vulnerability database"))
        .stderr(predicate::str::contains("Secrets: 0"));
    assert!(d.join("iid").exists());
}
