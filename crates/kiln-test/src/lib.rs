//! Test support shared by kiln's integration tests (a dev-dependency only).
//!
//! Guards that skip a test with a printed reason when the machine cannot run it ([`skip_unless!`]),
//! makers of local base-image root filesystems ([`busybox_rootfs`]), the path of the shared conformance
//! data ([`shared_dir`]), filters that make outputs with digests and temp paths comparable ([`redact`]), and a
//! private Docker daemon for interop tests ([`Dockerd`]).

// Tests report skips on stderr: that is this crate's purpose.
#![allow(clippy::print_stderr)]

mod dockerd;

pub use dockerd::Dockerd;

use std::path::{Path, PathBuf};
use std::process::Command;

pub use tempfile::TempDir;

/// Skips the current test (returns from it) with a printed reason when `cond` is false.
///
/// ```ignore
/// kiln_test::skip_unless!(kiln_test::is_root(), "needs root for mounts");
/// ```
#[macro_export]
macro_rules! skip_unless {
    ($cond:expr, $($reason:tt)+) => {
        if !$cond {
            eprintln!("SKIPPED {}: {}", module_path!(), format!($($reason)+));
            return;
        }
    };
}

/// True when the test runs as uid 0.
pub fn is_root() -> bool {
    fs_err::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// The absolute path of `tool` on PATH, if it is installed.
pub fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(tool)).find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

/// True when running under CI (`CI=true`), where tests that would skip for a missing tool should fail instead.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// `../shared/<rel>` beside the workspace root, if present (conformance data, bench fixtures).
pub fn shared_dir(rel: &str) -> Option<PathBuf> {
    let dir = workspace_root().parent()?.join("shared").join(rel);
    dir.exists().then_some(dir)
}

/// The workspace root (the directory holding the top-level Cargo.toml).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

/// The busybox applets linked into a [`busybox_rootfs`].
pub const BUSYBOX_APPLETS: &[&str] = &[
    "sh",
    "ash",
    "echo",
    "cat",
    "ls",
    "id",
    "env",
    "mkdir",
    "rm",
    "cp",
    "mv",
    "ln",
    "touch",
    "chmod",
    "chown",
    "sleep",
    "true",
    "false",
    "test",
    "[",
    "printf",
    "wc",
    "head",
    "tail",
    "grep",
    "sed",
    "find",
    "hostname",
    "mount",
    "ps",
    "pwd",
    "stat",
    "dd",
    "sha256sum",
    "tar",
    "gzip",
    "date",
    "whoami",
    "uname",
    "adduser",
    "addgroup",
    "chgrp",
    "readlink",
    "realpath",
    "xargs",
    "sort",
    "tr",
    "cut",
    "seq",
    "yes",
    "du",
    "df",
];

/// Makes a minimal busybox-static root filesystem in `dir`: `/bin/busybox` plus applet symlinks, `/etc/passwd`
/// and `/etc/group` with root, a `nobody` user and an `app` user (uid/gid 1000), and empty `/tmp`, `/root`.
///
/// Returns an error when `/bin/busybox` (Debian's `busybox-static`) is missing or not static.
pub fn busybox_rootfs(dir: &Path) -> std::io::Result<()> {
    let busybox = Path::new("/bin/busybox");
    let out = Command::new("file").arg("-L").arg(busybox).output();
    if let Ok(out) = out
        && String::from_utf8_lossy(&out.stdout).contains("dynamically linked")
    {
        return Err(std::io::Error::other("/bin/busybox is dynamically linked; install busybox-static"));
    }
    for sub in ["bin", "etc", "tmp", "root", "home/app", "usr/bin", "var"] {
        fs_err::create_dir_all(dir.join(sub))?;
    }
    fs_err::copy(busybox, dir.join("bin/busybox"))?;
    for applet in BUSYBOX_APPLETS {
        std::os::unix::fs::symlink("busybox", dir.join("bin").join(applet))?;
    }
    fs_err::write(
        dir.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    )?;
    fs_err::write(dir.join("etc/group"), "root:x:0:\nwheel:x:10:app\napp:x:1000:\nnogroup:x:65534:\n")?;
    use std::os::unix::fs::PermissionsExt;
    fs_err::set_permissions(dir.join("tmp"), std::fs::Permissions::from_mode(0o1777))?;
    Ok(())
}

/// Replaces digests, temp paths and durations in `text` with stable placeholders for snapshot comparison.
pub fn redact(text: &str, temp_paths: &[&Path]) -> String {
    let mut out = text.to_owned();
    for path in temp_paths {
        out = out.replace(&path.display().to_string(), "[TEMP]");
    }
    let mut result = String::with_capacity(out.len());
    let mut rest = out.as_str();
    while let Some(pos) = rest.find("sha256:") {
        let (before, after) = rest.split_at(pos);
        result.push_str(before);
        let hex_len = after[7..].bytes().take_while(u8::is_ascii_hexdigit).count();
        if hex_len == 64 {
            result.push_str("sha256:[DIGEST]");
            rest = &after[7 + 64..];
        } else {
            result.push_str("sha256:");
            rest = &after[7..];
        }
    }
    result.push_str(rest);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_replaces_digests_and_paths() {
        let d = format!("sha256:{}", "a".repeat(64));
        let text = format!("image {d} at /tmp/xyz/store and sha256:short");
        assert_eq!(
            redact(&text, &[Path::new("/tmp/xyz")]),
            "image sha256:[DIGEST] at [TEMP]/store and sha256:short"
        );
    }

    #[test]
    fn busybox_rootfs_has_a_shell_and_users() {
        skip_unless!(Path::new("/bin/busybox").exists(), "busybox-static is not installed");
        let dir = TempDir::new().unwrap();
        busybox_rootfs(dir.path()).unwrap();
        assert_eq!(std::fs::read_link(dir.path().join("bin/sh")).unwrap(), Path::new("busybox"));
        let passwd = std::fs::read_to_string(dir.path().join("etc/passwd")).unwrap();
        assert!(passwd.contains("app:x:1000:1000"));
    }
}
