//! Fixtures: a busybox lower directory shared by the tests, fresh upper/work directories per run, and
//! a runner that collects output.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};

use kiln_sandbox::{LinuxSys, Rootfs, RunOutcome, RunSpec, Sandbox, SandboxError};
use kiln_test::TempDir;

/// Why the real-kernel tests cannot run here, if they cannot.
pub(crate) fn cannot_run() -> Option<String> {
    if !kiln_test::is_root() {
        return Some("needs root for namespaces and overlayfs".to_owned());
    }
    if !Path::new("/bin/busybox").exists() {
        return Some("busybox-static is not installed".to_owned());
    }
    None
}

/// Skips the test when the machine cannot run sandboxes.
#[macro_export]
macro_rules! need_sandbox {
    () => {
        kiln_test::skip_unless!(
            $crate::support::cannot_run().is_none(),
            "{}",
            $crate::support::cannot_run().unwrap_or_default()
        );
    };
}

/// A busybox rootfs built once per test binary.
pub(crate) fn busybox() -> &'static Path {
    static DIR: OnceLock<TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = TempDir::new().unwrap();
        kiln_test::busybox_rootfs(dir.path()).unwrap();
        dir
    })
    .path()
}

/// A fresh overlay (upper, work) over the given lowers, plus a scratch dir for the sandbox.
pub(crate) struct Fixture {
    pub(crate) dir: TempDir,
    pub(crate) sandbox: Sandbox,
}

impl Fixture {
    pub(crate) fn new() -> Fixture {
        let dir = TempDir::new().unwrap();
        std::fs::create_dir(dir.path().join("upper")).unwrap();
        std::fs::create_dir(dir.path().join("work")).unwrap();
        let sandbox = Sandbox::new(Arc::new(LinuxSys), dir.path().join("scratch"));
        Fixture { dir, sandbox }
    }

    pub(crate) fn upper(&self) -> PathBuf {
        self.dir.path().join("upper")
    }

    pub(crate) fn overlay(&self, lower: Vec<PathBuf>) -> Rootfs {
        Rootfs::Overlay { lower, upper: self.upper(), work: self.dir.path().join("work") }
    }

    /// A spec running `sh -c script` on busybox.
    pub(crate) fn sh(&self, script: &str) -> RunSpec {
        let mut spec = RunSpec::new(
            self.overlay(vec![busybox().to_path_buf()]),
            vec!["/bin/sh".into(), "-c".into(), script.into()],
        );
        spec.env = vec!["PATH=/usr/local/bin:/usr/bin:/bin".into()];
        spec
    }

    /// Runs `spec`, returning the outcome and the output lines.
    pub(crate) fn run(&self, spec: &RunSpec) -> (Result<RunOutcome, SandboxError>, Vec<String>) {
        let mut lines = Vec::new();
        let cancel = AtomicBool::new(false);
        let result = self
            .sandbox
            .run(spec, &cancel, &mut |l: &[u8]| lines.push(String::from_utf8_lossy(l).into_owned()));
        (result, lines)
    }

    /// Runs and expects success with exit code 0.
    pub(crate) fn ok(&self, spec: &RunSpec) -> Vec<String> {
        let (result, lines) = self.run(spec);
        let outcome = result.unwrap_or_else(|e| panic!("run failed: {e}\noutput: {lines:#?}"));
        assert!(outcome.status.success(), "{}: {lines:#?}", outcome.status);
        lines
    }
}

/// The entries of a directory tree, relative, sorted, with a type letter.
pub(crate) fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        entries.sort();
        for path in entries {
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let rel = path.strip_prefix(base).unwrap().display().to_string();
            use std::os::unix::fs::FileTypeExt;
            let t = meta.file_type();
            if t.is_dir() {
                out.push(format!("{rel}/"));
                walk(base, &path, out);
            } else if t.is_char_device() {
                use std::os::unix::fs::MetadataExt;
                out.push(format!("{rel} (char {}/{})", libc::major(meta.rdev()), libc::minor(meta.rdev())));
            } else if t.is_symlink() {
                out.push(format!("{rel} -> {}", std::fs::read_link(&path).unwrap().display()));
            } else {
                out.push(rel);
            }
        }
    }
    walk(dir, dir, &mut out);
    out
}
