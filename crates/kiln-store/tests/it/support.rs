//! Fixture helpers: a store in a temp dir and small synthetic images.

use kiln_oci::{Digest, ImageConfig, Platform, Reference};
use kiln_store::{ImageRecord, Lease, Store};

pub(crate) fn store() -> (kiln_test::TempDir, Store) {
    let dir = kiln_test::TempDir::new().unwrap();
    let store = Store::open(dir.path().join("root")).unwrap();
    (dir, store)
}

pub(crate) fn reference(s: &str) -> Reference {
    Reference::parse(s).unwrap()
}

/// Stores layers with the given contents (any bytes: the store does not parse layer tars) and an image
/// over them.
pub(crate) fn image(lease: &Lease, layers: &[&[u8]], refs: &[&str]) -> ImageRecord {
    let mut config = ImageConfig::for_platform(&Platform::host());
    for layer in layers {
        let digest = lease.put_blob(layer).unwrap();
        config.rootfs.diff_ids.push(digest);
    }
    let refs: Vec<Reference> = refs.iter().map(|r| reference(r)).collect();
    lease.commit_image(&serde_json::to_vec(&config).unwrap(), &refs, None).unwrap()
}

pub(crate) fn blob_count(store: &Store) -> usize {
    std::fs::read_dir(store.root().join("v1/blobs/sha256")).unwrap().count()
}

pub(crate) fn digest(data: &[u8]) -> Digest {
    Digest::sha256_of(data)
}

/// A busybox rootfs in a temp dir, or `None` (with a printed reason) when busybox-static is missing.
pub(crate) fn busybox() -> Option<kiln_test::TempDir> {
    if !std::path::Path::new("/bin/busybox").exists() {
        assert!(!kiln_test::in_ci(), "CI must install busybox-static");
        eprintln!("SKIPPED: busybox-static is not installed");
        return None;
    }
    let dir = kiln_test::TempDir::new().unwrap();
    kiln_test::busybox_rootfs(dir.path()).unwrap();
    Some(dir)
}

/// A listing of a tree for comparison: path → kind, mode, and content digest or link target.
pub(crate) fn tree(root: &std::path::Path) -> std::collections::BTreeMap<String, String> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = std::collections::BTreeMap::new();
    fn walk(
        root: &std::path::Path,
        dir: &std::path::Path,
        out: &mut std::collections::BTreeMap<String, String>,
    ) {
        let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap()).collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let mode = meta.permissions().mode() & 0o7777;
            let desc = if meta.file_type().is_symlink() {
                format!("link -> {}", std::fs::read_link(&path).unwrap().display())
            } else if meta.is_dir() {
                walk(root, &path, out);
                format!("dir {mode:o}")
            } else {
                format!("file {mode:o} {}", Digest::sha256_of(&std::fs::read(&path).unwrap()))
            };
            out.insert(rel, desc);
        }
    }
    walk(root, root, &mut out);
    out
}

/// Unpacks a stored image's layers (whiteouts applied) into a new temp dir.
pub(crate) fn unpack(store: &Store, image: &kiln_store::Image) -> kiln_test::TempDir {
    let dir = kiln_test::TempDir::new().unwrap();
    for diff_id in image.diff_ids() {
        let blob = store.open_blob(diff_id).unwrap();
        kiln_layer::apply(blob, dir.path(), &kiln_layer::ApplyOptions::default()).unwrap();
    }
    dir
}

/// Runs a command, panicking with its output when it fails; returns stdout.
pub(crate) fn run(cmd: &mut std::process::Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
