//! Fuzzes the layer reader: `visit` must never panic, and `apply` into a temp dir must never panic nor
//! write anything outside its root (checked with a sentinel beside the root).
#![no_main]

use kiln_layer::{ApplyOptions, WhiteoutMode, apply, visit};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = visit(data, |entry, content| {
        // Read a bounded prefix: a sparse member may claim terabytes of zeros.
        let mut buf = [0u8; 4096];
        let mut left = 1 << 20;
        while left > 0 {
            match content.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => left -= n.min(left),
            }
        }
        assert!(!entry.path.starts_with('/') && !entry.path.split('/').any(|c| c == ".." || c == "."));
        Ok(())
    });

    let outer = tempfile::tempdir().unwrap();
    let root = outer.path().join("root");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(outer.path().join("sentinel"), b"untouched").unwrap();
    let opts = ApplyOptions { whiteouts: WhiteoutMode::Delete, preserve_owners: false };
    let _ = apply(data, &root, &opts);
    let mut names: Vec<_> = std::fs::read_dir(outer.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    names.sort();
    assert_eq!(names, ["root", "sentinel"], "apply wrote beside its root");
    assert_eq!(std::fs::read(outer.path().join("sentinel")).unwrap(), b"untouched");
    // Make sure the temp dir can be removed whatever modes the layer set.
    unlock(&root);
});

fn unlock(dir: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                unlock(&entry.path());
            }
        }
    }
}
