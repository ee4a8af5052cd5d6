//! Nothing outlives a run: no mount in the host's mount namespace (during or after), no process after a
//! cancel, a failure, or `kill -9` of the process that started the sandbox.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use kiln_sandbox::SandboxError;

use crate::need_sandbox;
use crate::support::{Fixture, tree};

/// The mount table of the test process (the host's mount namespace).
fn host_mounts() -> String {
    std::fs::read_to_string("/proc/self/mountinfo").unwrap()
}

/// PIDs of processes whose command line contains `marker`.
fn processes_with(marker: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).replace('\0', " ").contains(marker))
        })
        .collect()
}

/// Waits (up to 10 s) until no process carries `marker`; returns those still there.
fn wait_gone(marker: &str) -> Vec<u32> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = processes_with(marker);
        if left.is_empty() || Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn assert_no_mounts_of(dir: &Path) {
    let mounts = host_mounts();
    let dir = dir.display().to_string();
    assert!(!mounts.contains(&dir), "a mount under {dir} is visible on the host:\n{mounts}");
}

#[test]
fn mounts_are_never_visible_on_the_host_even_while_running() {
    need_sandbox!();
    let f = Fixture::new();
    let before = host_mounts();
    let seen_while_running = std::sync::Mutex::new(String::new());
    let cancel = AtomicBool::new(false);
    let spec = f.sh("echo running; cat /proc/self/mountinfo | wc -l");
    let result = f.sandbox.run(&spec, &cancel, &mut |line: &[u8]| {
        if line == b"running" {
            *seen_while_running.lock().unwrap() = host_mounts();
        }
    });
    assert!(result.unwrap().status.success());
    assert_eq!(*seen_while_running.lock().unwrap(), before, "the host's mount table changed during the run");
    assert_eq!(host_mounts(), before);
}

#[test]
fn cancel_kills_the_whole_tree_and_leaves_nothing() {
    need_sandbox!();
    let f = Fixture::new();
    let before = host_mounts();
    let cancel = AtomicBool::new(false);
    // A background process and a foreground one, both far from finishing on their own.
    let spec = f.sh("sleep 31337 & echo started; sleep 31338; echo never");
    let mut lines = Vec::new();
    let result = f.sandbox.run(&spec, &cancel, &mut |line: &[u8]| {
        lines.push(String::from_utf8_lossy(line).into_owned());
        if line == b"started" {
            cancel.store(true, Ordering::SeqCst);
        }
    });
    assert!(matches!(result, Err(SandboxError::Cancelled)), "{result:?}");
    assert_eq!(lines, ["started"]);
    assert_eq!(processes_with("sleep 3133"), Vec::<u32>::new(), "processes survived the cancel");
    assert_eq!(host_mounts(), before);
    assert_eq!(tree(&f.dir.path().join("scratch")), ["mnt/"], "files left in the scratch directory");
}

#[test]
fn a_failed_setup_leaves_no_mount_and_no_process() {
    need_sandbox!();
    let f = Fixture::new();
    let before = host_mounts();
    let mut spec = f.sh("sleep 31340");
    spec.argv = vec!["/no/such/binary".into()];
    assert!(f.run(&spec).0.is_err());
    assert_eq!(host_mounts(), before);
    assert_eq!(processes_with("31340"), Vec::<u32>::new());
    assert_eq!(tree(&f.dir.path().join("scratch")), ["mnt/"]);
}

/// Not a test on its own: the body of the process that `kill_9_of_kiln_kills_the_sandbox` starts and kills.
#[test]
fn helper_run_until_killed() {
    if std::env::var_os("KILN_SANDBOX_HELPER").is_none() {
        return;
    }
    let f = Fixture::new();
    let cancel = AtomicBool::new(false);
    let spec = f.sh("sleep 31341 & echo ready; sleep 31342");
    let _ = f.sandbox.run(&spec, &cancel, &mut |line: &[u8]| {
        if line == b"ready" {
            std::fs::write(std::env::var("KILN_SANDBOX_HELPER").unwrap(), "ready").unwrap();
        }
    });
}

#[test]
fn kill_9_of_kiln_kills_the_sandbox() {
    need_sandbox!();
    let marker_dir = kiln_test::TempDir::new().unwrap();
    let marker = marker_dir.path().join("ready");
    let before = host_mounts();
    let mut helper = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "cleanup::helper_run_until_killed", "--nocapture", "--test-threads=1"])
        .env("KILN_SANDBOX_HELPER", &marker)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !marker.exists() {
        assert!(Instant::now() < deadline, "the helper never started its sandbox");
        assert!(helper.try_wait().unwrap().is_none(), "the helper exited early");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(processes_with("sleep 3134").len(), 2, "the sandboxed processes are running");
    helper.kill().unwrap();
    helper.wait().unwrap();
    assert_eq!(
        wait_gone("sleep 3134"),
        Vec::<u32>::new(),
        "sandboxed processes outlived kill -9 of their parent"
    );
    assert_eq!(host_mounts(), before);
    assert_no_mounts_of(marker_dir.path());
}
