//! `kiln pull`, `push`, `login` and `logout` end to end against a real `docker-registry` on 127.0.0.1
//! (plain HTTP, which kiln allows for loopback hosts; htpasswd auth for the login tests).

// Skips are reported on stderr.
#![allow(clippy::print_stderr)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `docker-registry` on a free 127.0.0.1 port, killed on drop.
struct Registry {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Registry {
    /// Starts one; `user` adds htpasswd auth. `None` (with a printed reason) when the tools are missing.
    fn start(user: Option<(&str, &str)>) -> Option<Registry> {
        for tool in ["docker-registry", "htpasswd"] {
            if kiln_test::which(tool).is_none() {
                assert!(!kiln_test::in_ci(), "CI must install {tool}");
                eprintln!("SKIPPED: {tool} is not installed");
                return None;
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut config = format!(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        );
        if let Some((user, password)) = user {
            let out = Command::new("htpasswd").args(["-Bbn", user, password]).output().unwrap();
            std::fs::write(dir.path().join("htpasswd"), out.stdout).unwrap();
            let path = dir.path().join("htpasswd");
            config += &format!("auth:\n  htpasswd:\n    realm: kiln\n    path: {}\n", path.display());
        }
        std::fs::write(dir.path().join("config.yml"), config).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(dir.path().join("config.yml"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "docker-registry did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(Registry { child, port, _dir: dir })
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn kiln(root: &Path, docker_config: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kiln"));
    cmd.arg("--root").arg(root).env_remove("KILN_ROOT").env("DOCKER_CONFIG", docker_config);
    cmd
}

fn ok(cmd: &mut Command) -> (String, String) {
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{cmd:?}: {stderr}");
    (String::from_utf8(out.stdout).unwrap(), stderr)
}

fn fails(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{cmd:?} must fail with 2: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Imports busybox-static as `name` into `root`; false (with a printed reason) when it is missing.
fn import_busybox(root: &Path, config: &Path, name: &str) -> bool {
    let rootfs = tempfile::tempdir().unwrap();
    if let Err(e) = kiln_test::busybox_rootfs(rootfs.path()) {
        assert!(!kiln_test::in_ci(), "CI must install busybox-static: {e}");
        eprintln!("SKIPPED: {e}");
        return false;
    }
    ok(kiln(root, config).arg("import").arg(format!("dir:{}", rootfs.path().display())).arg(name));
    true
}

#[test]
fn push_then_pull_into_another_store_and_re_push_uploads_nothing() {
    let Some(registry) = Registry::start(None) else { return };
    let dir = tempfile::tempdir().unwrap();
    let (a, b, config) = (dir.path().join("a"), dir.path().join("b"), dir.path().join("docker"));
    if !import_busybox(&a, &config, "local/busybox:1") {
        return;
    }
    let target = format!("{}/kiln/busybox:1", registry.host());
    let (digest, log) = ok(kiln(&a, &config).args(["push", "local/busybox:1", &target]));
    let digest = digest.trim().to_owned();
    assert!(digest.starts_with("sha256:") && digest.len() == 71, "{digest}");
    assert!(log.contains("2 blobs uploaded"), "{log}");

    let (again, log) = ok(kiln(&a, &config).args(["push", "local/busybox:1", &target]));
    assert_eq!(again.trim(), digest);
    assert!(log.contains("0 blobs uploaded") && log.contains("2 already there"), "{log}");

    let (pulled, log) = ok(kiln(&b, &config).args(["pull", &target]));
    assert_eq!(pulled.trim(), digest, "{log}");
    let (images, _) = ok(kiln(&b, &config).args(["images", "--format", "json"]));
    assert!(images.contains("kiln/busybox"), "{images}");
    let by_digest = format!("{}/kiln/busybox@{digest}", registry.host());
    let (quiet, log) = ok(kiln(&b, &config).args(["pull", "-q", &by_digest]));
    assert_eq!((quiet.trim(), log.as_str()), (digest.as_str(), ""));

    let err = fails(kiln(&b, &config).args(["pull", &format!("{}/kiln/absent:1", registry.host())]));
    assert!(err.contains("kiln/absent") && err.contains("not found"), "{err}");
}

#[test]
fn login_checks_the_password_and_logout_forgets_it() {
    let Some(registry) = Registry::start(Some(("ci", "pa55"))) else { return };
    let dir = tempfile::tempdir().unwrap();
    let (root, config) = (dir.path().join("root"), dir.path().join("docker"));
    if !import_busybox(&root, &config, "local/busybox:1") {
        return;
    }
    let target = format!("{}/team/busybox:1", registry.host());
    let err = fails(kiln(&root, &config).args(["push", "local/busybox:1", &target]));
    assert!(err.contains("kiln login"), "{err}");

    let login = |password: &str| {
        let mut cmd = kiln(&root, &config);
        cmd.args(["login", &registry.host(), "-u", "ci", "--password-stdin"]).stdin(Stdio::piped());
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), format!("{password}\n").as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let out = login("wrong");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&registry.host()));
    let out = login("pa55");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Login Succeeded"));
    let saved = std::fs::read_to_string(config.join("config.json")).unwrap();
    assert!(saved.contains(&registry.host()), "{saved}");

    ok(kiln(&root, &config).args(["push", "local/busybox:1", &target]));
    let (_, log) = ok(kiln(&root, &config).args(["logout", &registry.host()]));
    assert!(log.contains("Removed"), "{log}");
    let err = fails(kiln(&root, &config).args(["pull", &target]));
    assert!(err.contains("authentication required"), "{err}");
}

#[test]
fn plain_http_is_refused_for_hosts_not_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let (root, config) = (dir.path().join("root"), dir.path().join("docker"));
    // Refused before any connection is made: nothing leaves this machine.
    let err = fails(kiln(&root, &config).args([
        "pull",
        "--registry-mirror",
        "http://mirror.invalid",
        "busybox:latest",
    ]));
    assert!(err.contains("plain HTTP") && err.contains("--insecure-registry"), "{err}");
}

/// A registry holding busybox as `<registry>/kiln/busybox:1`, pushed from store `<dir>/a` (which keeps it
/// as `local/busybox:1`); `None` (with a printed reason) when a tool is missing.
struct WithBase {
    registry: Registry,
    dir: tempfile::TempDir,
    config: std::path::PathBuf,
    base: String,
}

fn registry_with_base() -> Option<WithBase> {
    let registry = Registry::start(None)?;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("docker");
    let a = dir.path().join("a");
    if !import_busybox(&a, &config, "local/busybox:1") {
        return None;
    }
    let base = format!("{}/kiln/busybox:1", registry.host());
    ok(kiln(&a, &config).args(["push", "local/busybox:1", &base]));
    Some(WithBase { registry, dir, config, base })
}

#[test]
fn build_pulls_a_missing_base_and_pushes_the_result() {
    kiln_test::skip_unless!(kiln_test::is_root(), "builds need root");
    let Some(WithBase { registry, dir, config, base }) = registry_with_base() else { return };
    let b = dir.path().join("b");

    // Store b has no base image: the build pulls it, runs the step and pushes the result.
    let ctx = dir.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("Dockerfile"), format!("FROM {base}\nRUN echo built > /built\n")).unwrap();
    let target = format!("{}/kiln/app:1", registry.host());
    let (_, log) =
        ok(kiln(&b, &config).args(["build", "--progress=plain", "--push", "-t", &target]).arg(&ctx));
    assert!(log.contains(&format!("pushed {target}@sha256:")), "{log}");

    // A third store pulls the pushed image and finds the step's file in its top layer.
    let c = dir.path().join("c");
    ok(kiln(&c, &config).args(["pull", &target]));
    let (inspect, _) = ok(kiln(&c, &config).args(["history", &target]));
    assert!(inspect.contains("echo built"), "{inspect}");

    // A pull of a base that does not exist fails the build with the registry's answer.
    std::fs::write(ctx.join("Dockerfile"), format!("FROM {}/kiln/absent:1\n", registry.host())).unwrap();
    let err = fails(kiln(&b, &config).args(["build", "--progress=plain"]).arg(&ctx));
    assert!(err.contains("kiln/absent") && err.contains("not found"), "{err}");
}

/// Rewrites the image of OCI layout `dir` to claim architecture `arch` (new config, manifest and index).
fn claim_architecture(dir: &Path, arch: &str) {
    let blob = |digest: &str| dir.join("blobs/sha256").join(digest.trim_start_matches("sha256:"));
    let put = |data: &[u8]| {
        let digest = kiln_oci::Digest::sha256_of(data);
        std::fs::write(blob(&digest.to_string()), data).unwrap();
        (digest.to_string(), data.len())
    };
    let read =
        |path: &Path| -> serde_json::Value { serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap() };
    let mut index = read(&dir.join("index.json"));
    let mut manifest = read(&blob(index["manifests"][0]["digest"].as_str().unwrap()));
    let mut config = read(&blob(manifest["config"]["digest"].as_str().unwrap()));
    config["architecture"] = arch.into();
    let (digest, size) = put(&serde_json::to_vec(&config).unwrap());
    manifest["config"]["digest"] = digest.into();
    manifest["config"]["size"] = size.into();
    let (digest, size) = put(&serde_json::to_vec(&manifest).unwrap());
    index["manifests"][0]["digest"] = digest.into();
    index["manifests"][0]["size"] = size.into();
    if let Some(platform) = index["manifests"][0].get_mut("platform") {
        platform["architecture"] = arch.into();
    }
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}

#[test]
fn a_local_base_for_another_platform_is_pulled_for_the_build_and_keeps_its_tag() {
    kiln_test::skip_unless!(kiln_test::is_root(), "builds need root");
    let Some(WithBase { registry: _registry, dir, config, base }) = registry_with_base() else { return };
    // Store b holds an image under the base's name that claims another architecture.
    let layout = dir.path().join("layout");
    ok(kiln(&dir.path().join("a"), &config)
        .args(["copy", "local/busybox:1"])
        .arg(format!("oci:{}:x", layout.display())));
    claim_architecture(&layout, "s390x");
    let b = dir.path().join("b");
    ok(kiln(&b, &config).arg("copy").arg(format!("oci:{}:x", layout.display())).arg(&base));
    let (before, _) = ok(kiln(&b, &config).args(["inspect", &base]));
    assert!(before.contains("s390x"), "{before}");

    // The build pulls the host platform's image from the registry instead of failing on the local one.
    let ctx = dir.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("Dockerfile"), format!("FROM {base}\nRUN echo ran > /ran\n")).unwrap();
    ok(kiln(&b, &config).args(["build", "--progress=plain", "-t", "local/app:1"]).arg(&ctx));
    let (app, _) = ok(kiln(&b, &config).args(["inspect", "local/app:1"]));
    assert!(!app.contains("s390x"), "{app}");
    // The local tag still names the image the user put there.
    let (after, _) = ok(kiln(&b, &config).args(["inspect", &base]));
    assert_eq!(after, before);

    // With the registry unreachable, the error says which platform was wanted and what the store has.
    drop(_registry);
    let err = fails(
        kiln(&b, &config).args(["build", "--progress=plain", "--no-cache", "-t", "local/app:2"]).arg(&ctx),
    );
    assert!(err.contains("the store has it for linux/s390x"), "{err}");
}

/// A multi-stage build whose every step leaves a trace, for the cache tests.
fn cache_test_context(dir: &Path, base: &str) -> std::path::PathBuf {
    let ctx = dir.join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("hello.txt"), "hello\n").unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        format!(
            "FROM {base} AS build\nRUN echo built > /out.txt\nCOPY hello.txt /hello.txt\n\
             RUN cat /hello.txt /out.txt > /both.txt\n\n\
             FROM {base}\nCOPY --from=build /both.txt /both.txt\nRUN wc -c /both.txt > /size.txt\n"
        ),
    )
    .unwrap();
    ctx
}

/// The build metadata kiln wrote: (image ID, RUN steps executed, steps cached from a --cache-from source).
fn build_metadata(path: &Path) -> (String, u64, usize) {
    let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let imported = meta["kiln.build.steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["cache_source"].as_str().is_some())
        .count();
    (
        meta["containerimage.config.digest"].as_str().unwrap().to_owned(),
        meta["kiln.build.runs"].as_u64().unwrap(),
        imported,
    )
}

#[test]
fn a_second_machine_reuses_every_step_from_the_registry_cache() {
    kiln_test::skip_unless!(kiln_test::is_root(), "builds need root");
    let Some(WithBase { registry, dir, config, base }) = registry_with_base() else { return };
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let ctx = cache_test_context(dir.path(), &base);
    let cache = format!("{}/kiln/cache:main", registry.host());
    let app = format!("{}/kiln/app:1", registry.host());

    // Machine a builds, pushes the image with --output type=registry and the cache of every stage.
    let meta_a = dir.path().join("a.json");
    let (_, log) = ok(kiln(&a, &config)
        .args(["build", "--progress=plain", "--output", &format!("type=registry,name={app}")])
        .arg(format!("--cache-to=type=registry,ref={cache},mode=max"))
        .arg("--metadata-file")
        .arg(&meta_a)
        .arg(&ctx));
    assert!(log.contains(&format!("pushed {app}@sha256:")), "{log}");
    assert!(log.contains("cache: 5 steps exported"), "{log}");
    let (id_a, runs_a, _) = build_metadata(&meta_a);
    assert_eq!(runs_a, 3, "{log}");

    // Machine b has an empty store: it pulls the base, takes every step from the cache, runs nothing,
    // and makes the same image.
    let meta_b = dir.path().join("b.json");
    let (_, log) = ok(kiln(&b, &config)
        .args(["build", "--progress=plain", "--cache-from", &cache, "-t", "app:1"])
        .arg("--metadata-file")
        .arg(&meta_b)
        .arg(&ctx));
    let (id_b, runs_b, imported) = build_metadata(&meta_b);
    assert_eq!(runs_b, 0, "no RUN step may execute on the second machine: {log}");
    assert_eq!(imported, 5, "{log}");
    assert_eq!(id_b, id_a, "both machines must make the same image");
    // The pushed image is the one machine b made.
    let c = dir.path().join("c");
    ok(kiln(&c, &config).args(["pull", &app]));
    let (listed, _) = ok(kiln(&c, &config).args(["images", "--format", "json"]));
    assert!(listed.contains(id_a.trim_start_matches("sha256:")), "{listed}");

    // Exporting the same cache again from machine b uploads no layer (the registry has them all).
    let (_, log) = ok(kiln(&b, &config)
        .args(["build", "--progress=plain", "-t", "app:1"])
        .arg(format!("--cache-to=type=registry,ref={cache},mode=max"))
        .arg(&ctx));
    assert!(log.contains("0 blobs uploaded"), "{log}");

    // mode=min carries only the final stage's steps: a third machine re-runs the builder stage's RUNs but
    // reuses the final stage's.
    let min = format!("{}/kiln/cache:min", registry.host());
    ok(kiln(&a, &config)
        .args(["build", "--progress=plain"])
        .arg(format!("--cache-to=type=registry,ref={min}"))
        .arg(&ctx));
    let meta_d = dir.path().join("d.json");
    let d = dir.path().join("d");
    ok(kiln(&d, &config)
        .args(["build", "--progress=plain", "--cache-from", &format!("type=registry,ref={min}")])
        .arg("--metadata-file")
        .arg(&meta_d)
        .arg(&ctx));
    let (id_d, runs_d, imported) = build_metadata(&meta_d);
    assert_eq!(
        (runs_d, imported),
        (2, 2),
        "the builder's two RUNs run, the final stage's two steps are reused"
    );
    assert_eq!(id_d, id_a);
}

#[test]
fn a_cache_that_cannot_be_read_is_a_warning_not_a_failure() {
    kiln_test::skip_unless!(kiln_test::is_root(), "builds need root");
    let Some(registry) = Registry::start(None) else { return };
    let dir = tempfile::tempdir().unwrap();
    let (a, config) = (dir.path().join("a"), dir.path().join("docker"));
    if !import_busybox(&a, &config, "local/busybox:1") {
        return;
    }
    let ctx = cache_test_context(dir.path(), "local/busybox:1");
    // An image is not a cache; a missing tag is not either. Both builds run every step and succeed.
    let image = format!("{}/kiln/busybox:1", registry.host());
    ok(kiln(&a, &config).args(["push", "local/busybox:1", &image]));
    let missing = format!("{}/kiln/cache:absent", registry.host());
    let (_, log) = ok(kiln(&a, &config)
        .args(["build", "--progress=plain", "--no-cache", "--cache-from", &image, "--cache-from", &missing])
        .arg(&ctx));
    assert!(log.contains("not a kiln build cache"), "{log}");
    assert!(log.contains("kiln/cache:absent") && log.contains("not used"), "{log}");
    assert!(log.contains("built sha256:"), "{log}");
}

/// The shell script of the kiln container in `examples/k8s/kiln-build-job.yaml` (the `- |` block under
/// `args:`).
fn job_script() -> String {
    let manifest = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/k8s/kiln-build-job.yaml"),
    )
    .unwrap();
    let mut lines = manifest.lines().skip_while(|l| l.trim() != "- |");
    let marker = lines.next().expect("the manifest has an `args: - |` script");
    let indent = marker.len() - marker.trim_start().len() + 2;
    lines
        .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() >= indent)
        .map(|l| l.get(indent..).unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_kubernetes_example_builds_as_one_machine_from_the_registry_cache() {
    kiln_test::skip_unless!(kiln_test::is_root(), "builds need root");
    let script = job_script();
    assert!(script.contains("kiln build") && script.contains("--cache-to"), "{script}");
    let Some(WithBase { registry, dir, config, base }) = registry_with_base() else { return };
    let ctx = cache_test_context(dir.path(), &base);
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_kiln")).parent().unwrap().to_owned();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    // Two pods, each with an empty store, run the Job's script one after the other.
    let run_pod = |name: &str| -> (String, u64, usize) {
        let root = dir.path().join(name);
        let out = Command::new("/bin/sh")
            .arg("-ec")
            .arg(&script)
            .env("PATH", &path)
            .env("IMAGE", format!("{}/team/myapp:latest", registry.host()))
            .env("CACHE", format!("{}/team/myapp:buildcache", registry.host()))
            .env("CONTEXT", &ctx)
            .env("KILN_ROOT", &root)
            .env("DOCKER_CONFIG", &config)
            .output()
            .unwrap();
        let log = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "pod {name}: {log}");
        build_metadata(&root.join("metadata.json"))
    };
    let (first_id, first_runs, _) = run_pod("pod-1");
    assert_eq!(first_runs, 3);
    let (second_id, second_runs, imported) = run_pod("pod-2");
    assert_eq!((second_runs, imported), (0, 5), "the second pod takes every step from the registry cache");
    assert_eq!(second_id, first_id);
}
