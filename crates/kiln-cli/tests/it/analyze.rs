//! `kiln analyze` and `kiln diff` end to end on images kiln built: the JSON report's fields and Dockerfile
//! lines, the same numbers from the store and from `oci:`, `oci-archive:` and `docker-archive:` copies,
//! dive's CI gates (flags and `.dive-ci`, exit 1 on failure), the HTML report, builder vs final stage, and
//! the interactive view driven under tmux.

// Skips are reported on stderr.
#![allow(clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use predicates::prelude::*;
use serde_json::Value;

use crate::{json_output, kiln};

/// Half a MiB written and deleted later: dive counts it as wasted.
const BIG: u64 = 512 * 1024;

const DOCKERFILE: &str = "FROM busybox AS builder
RUN dd if=/dev/zero of=/big bs=1024 count=512 && mkdir -p /var/lib/apt/lists && echo pkgs > /var/lib/apt/lists/Packages
RUN rm /big
COPY app.txt /app.txt

FROM busybox
COPY --from=builder /app.txt /app.txt
";

/// A store with `demo:builder` and `demo:final` built from [`DOCKERFILE`], built once for all tests of
/// this module (they only read it); `None` when builds cannot run here.
fn store() -> Option<&'static Path> {
    static STORE: OnceLock<Option<tempfile::TempDir>> = OnceLock::new();
    STORE.get_or_init(build).as_ref().map(|d| d.path())
}

fn build() -> Option<tempfile::TempDir> {
    if !(kiln_test::is_root() && Path::new("/bin/busybox").exists()) {
        assert!(!kiln_test::in_ci(), "CI runs as root with busybox-static");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let rootfs = d.join("rootfs");
    std::fs::create_dir_all(&rootfs).unwrap();
    kiln_test::busybox_rootfs(&rootfs).unwrap();
    let kiln_in = |cwd: &Path| {
        let mut cmd = kiln();
        cmd.env("KILN_ROOT", d.join("store")).current_dir(cwd);
        cmd
    };
    kiln_in(d).arg("import").arg(&rootfs).arg("busybox").assert().success();
    std::fs::create_dir_all(d.join("ctx")).unwrap();
    std::fs::write(d.join("ctx/app.txt"), "the app\n").unwrap();
    std::fs::write(d.join("ctx/Dockerfile"), DOCKERFILE).unwrap();
    kiln_in(d).args(["build", "ctx", "-q", "--target", "builder", "-t", "demo:builder"]).assert().success();
    kiln_in(d).args(["build", "ctx", "-q", "-t", "demo:final"]).assert().success();
    Some(dir)
}

/// A working directory of one test, with the shared store.
struct Work {
    store: &'static Path,
    dir: tempfile::TempDir,
}

impl Work {
    fn new() -> Option<Work> {
        Some(Work { store: store()?, dir: tempfile::tempdir().unwrap() })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `kiln` with the shared store and this directory as working directory, outside any CI environment.
    fn cli(&self) -> assert_cmd::Command {
        let mut cmd = kiln();
        cmd.env("KILN_ROOT", self.store.join("store")).env_remove("CI").current_dir(self.path());
        cmd
    }

    fn report(&self, image: &str) -> Value {
        json_output(self.cli().args(["analyze", image, "--format", "json"]))
    }
}

#[test]
fn json_report_has_dives_numbers_and_dockerfile_lines() {
    let Some(w) = Work::new() else { return skip() };
    let r = w.report("demo:builder");
    let layers = r["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 4, "busybox, RUN dd, RUN rm, COPY");
    let sizes: u64 = layers.iter().map(|l| l["size_bytes"].as_u64().unwrap()).sum();
    assert_eq!(r["size_bytes"].as_u64().unwrap(), sizes);
    assert!(layers[1]["created_by"].as_str().unwrap().contains("dd if=/dev/zero"), "{}", layers[1]);
    assert!(layers[1]["size_bytes"].as_u64().unwrap() >= BIG);
    // The deleted file is wasted; nothing else is written twice.
    assert_eq!(r["wasted_bytes"].as_u64().unwrap(), BIG);
    let user = sizes - layers[0]["size_bytes"].as_u64().unwrap();
    let pct = r["user_wasted_percent"].as_f64().unwrap();
    assert!((pct - BIG as f64 / user as f64 * 100.0).abs() < 1e-9, "{pct}");
    let eff = r["efficiency"].as_f64().unwrap();
    assert!(eff > 0.0 && eff < 1.0, "{eff}");
    // Findings name the Dockerfile line; the suggestions say what they save.
    let deleted = r["findings"].as_array().unwrap().iter().find(|f| f["kind"] == "deleted-later");
    let deleted = deleted.unwrap_or_else(|| panic!("no deleted-later finding: {:#}", r["findings"]));
    assert_eq!(deleted["bytes"].as_u64().unwrap(), BIG);
    assert_eq!(deleted["layer"], 1);
    assert_eq!(deleted["location"], "Dockerfile:2");
    let suggestions = r["suggestions"].as_array().unwrap();
    assert!(suggestions.iter().any(|s| s["bytes_saved"].as_u64().unwrap() >= BIG), "{suggestions:#?}");

    // The text report says the same.
    w.cli()
        .args(["analyze", "demo:builder"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Findings").and(predicate::str::contains("Dockerfile:2")))
        .stdout(predicate::str::contains(format!("({BIG} bytes)")));
}

#[test]
fn every_transport_gives_the_stores_numbers() {
    let Some(w) = Work::new() else { return skip() };
    let want = w.report("demo:builder");
    for dest in ["oci:layout", "oci-archive:image.oci.tar", "docker-archive:image.docker.tar"] {
        w.cli().args(["copy", "demo:builder", dest]).assert().success();
        let got = w.report(dest);
        for key in ["size_bytes", "efficiency", "wasted_bytes", "user_wasted_percent", "id"] {
            assert_eq!(got[key], want[key], "{dest}: {key}");
        }
        let layer_sizes = |r: &Value| -> Vec<Value> {
            r["layers"].as_array().unwrap().iter().map(|l| l["size_bytes"].clone()).collect()
        };
        assert_eq!(layer_sizes(&got), layer_sizes(&want), "{dest}");
    }
}

#[test]
fn ci_gates_fail_with_exit_1_and_read_dive_ci() {
    let Some(w) = Work::new() else { return skip() };
    let d = w.path();
    // dive's defaults: efficiency ≥ 0.9 and user waste ≤ 10%; half a MiB wasted fails both.
    w.cli()
        .args(["analyze", "demo:builder", "--ci"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("Using default CI config"))
        .stdout(predicate::str::contains("FAIL: lowestEfficiency"))
        .stdout(predicate::str::contains("Result:FAIL"));
    // CI=true turns the gates on, as with dive.
    w.cli().env("CI", "true").args(["analyze", "demo:builder"]).assert().code(1);
    // Flags loosen them.
    w.cli()
        .args(["analyze", "demo:builder", "--ci", "--lowest-efficiency", "0.1"])
        .args(["--highest-user-wasted-percent", "disabled", "--highest-wasted-bytes", "1MB"])
        .assert()
        .success()
        .stdout(predicate::str::contains("SKIP: highestUserWastedPercent"))
        .stdout(predicate::str::contains("Result:PASS"));
    // .dive-ci in the working directory: here it tightens highestWastedBytes below the waste.
    std::fs::write(
        d.join(".dive-ci"),
        "rules:\n  lowestEfficiency: 0.1\n  highestWastedBytes: 100kB\n  highestUserWastedPercent: disabled\n",
    )
    .unwrap();
    w.cli()
        .args(["analyze", "demo:builder", "--ci"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("Using CI config: .dive-ci"))
        .stdout(predicate::str::contains("PASS: lowestEfficiency"))
        .stdout(predicate::str::contains(format!("wasted-bytes={BIG} > threshold=100000")));
    // A flag wins over the file; the JSON report carries the gates' results.
    let out = w
        .cli()
        .args(["analyze", "demo:builder", "--ci", "--highest-wasted-bytes", "disabled", "--format", "json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let r: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(r["ci"]["pass"], true, "{:#}", r["ci"]);
    // A bad value names the file and the key; it is an error (2), not a gate failure.
    std::fs::write(d.join("bad.yaml"), "rules:\n  lowestEfficiency: 1.5\n").unwrap();
    w.cli()
        .args(["analyze", "demo:builder", "--ci", "--ci-config", "bad.yaml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bad.yaml: lowestEfficiency"));
    // The final stage wastes nothing and passes dive's defaults.
    w.cli().args(["analyze", "demo:final", "--ci", "--ci-config", "none"]).assert().success();
}

#[test]
fn html_report_is_one_file() {
    let Some(w) = Work::new() else { return skip() };
    let d = w.path();
    w.cli().args(["analyze", "demo:builder", "--format", "html", "-o", "report.html"]).assert().success();
    let page = std::fs::read_to_string(d.join("report.html")).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains(r#"<div class="v" id="layer-count">4</div>"#));
    assert!(page.contains("Dockerfile:2"));
    assert!(!page.contains("src=\"http") && !page.contains("href=\"http"));
}

#[test]
fn diff_compares_builder_and_final() {
    let Some(w) = Work::new() else { return skip() };
    let a = w.report("demo:builder");
    let b = w.report("demo:final");
    let pct = b["size_bytes"].as_f64().unwrap() / a["size_bytes"].as_f64().unwrap() * 100.0;
    w.cli()
        .args(["diff", "demo:builder", "demo:final"])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!("demo:final is {pct:.2}% of demo:builder")))
        .stdout(predicate::str::contains("/var/lib/apt/lists/Packages"));
    let j = json_output(w.cli().args(["diff", "demo:builder", "demo:final", "--format", "json"]));
    let removed: Vec<&str> =
        j["removed"].as_array().unwrap().iter().map(|c| c["path"].as_str().unwrap()).collect();
    assert!(removed.contains(&"/var/lib/apt/lists/Packages"), "{removed:?}");
    assert!(j["added"].as_array().unwrap().is_empty(), "{:#}", j["added"]);
    assert_eq!(j["size_delta_bytes"], b["size_bytes"].as_i64().unwrap() - a["size_bytes"].as_i64().unwrap());
    // A missing image is an error naming it.
    w.cli()
        .args(["diff", "demo:builder", "demo:nope"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("demo:nope"));
}

fn skip() {
    eprintln!("SKIPPED: builds need root and busybox-static");
}

/// A tmux session running one command, removed on drop.
struct Tmux {
    socket: PathBuf,
    name: &'static str,
}

impl Tmux {
    fn tmux(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.arg("-S").arg(&self.socket);
        cmd
    }

    fn keys(&self, keys: &[&str]) {
        assert!(self.tmux().args(["send-keys", "-t", self.name]).args(keys).status().unwrap().success());
    }

    fn screen(&self) -> String {
        let out = self.tmux().args(["capture-pane", "-p", "-t", self.name]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen shows `text` (the UI redraws asynchronously); panics with the screen if it
    /// never does.
    fn wait_for(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(Instant::now() < deadline, "the screen never showed {text:?}:\n{screen}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn running(&self) -> bool {
        self.tmux().args(["has-session", "-t", self.name]).output().is_ok_and(|o| o.status.success())
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux().arg("kill-server").output();
    }
}

#[test]
fn interactive_view_under_tmux() {
    kiln_test::skip_unless!(kiln_test::which("tmux").is_some(), "tmux is not installed");
    let Some(w) = Work::new() else { return skip() };
    let d = w.path();
    let kiln_bin = assert_cmd::cargo::cargo_bin("kiln");
    let command = format!(
        "cd {} && KILN_ROOT={} {} analyze -i demo:builder; echo exited $? > {}; sleep 30",
        d.display(),
        w.store.join("store").display(),
        kiln_bin.display(),
        d.join("status").display()
    );
    let t = Tmux { socket: d.join("tmux.sock"), name: "analyze" };
    let started = t
        .tmux()
        .args(["new-session", "-d", "-s", t.name, "-x", "160", "-y", "45", "-e", "TERM=xterm-256color"])
        .arg(command)
        .status()
        .unwrap();
    assert!(started.success());
    // The first layer is selected: the busybox rootfs, all added.
    let screen = t.wait_for("Filesystem after layer 0");
    assert!(screen.contains(" Layers ") && screen.contains("4 layers"), "{screen}");
    assert!(screen.contains("A ") && screen.contains("bin/"), "{screen}");
    // Layer 2 (RUN rm /big): /big is marked removed.
    t.keys(&["Down", "Down"]);
    let screen = t.wait_for("Filesystem after layer 2");
    assert!(screen.contains("rm /big"), "{screen}");
    assert!(screen.lines().any(|l| l.contains("R ") && l.contains("big")), "{screen}");
    // Into the tree, show only removed paths: busybox's bin/ disappears, big stays.
    t.keys(&["Tab", "a", "u"]);
    let screen = t.wait_for("toggle [·MR·]");
    assert!(screen.lines().any(|l| l.contains("R ") && l.contains("big")), "{screen}");
    assert!(!screen.contains("busybox"), "{screen}");
    // Everything again, then filter by path.
    t.keys(&["a", "u", "/", "a", "p", "t", "Enter"]);
    let screen = t.wait_for("/ filter \"apt\"");
    assert!(screen.contains("Packages") && !screen.contains("busybox"), "{screen}");
    // Collapse the first directory row (var/): its children disappear.
    t.keys(&["Home", "Space"]);
    let screen = t.wait_for("⊕ var/");
    assert!(!screen.contains("Packages"), "{screen}");
    t.keys(&["q"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !d.join("status").exists() {
        assert!(Instant::now() < deadline, "kiln analyze -i did not quit on q:\n{}", t.screen());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(std::fs::read_to_string(d.join("status")).unwrap().trim(), "exited 0");
    assert!(t.running(), "the shell is still sleeping");
}
