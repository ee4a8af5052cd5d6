//! Whiteouts and opaque directories, in both modes: flattened (Delete) and kept for overlayfs (Overlay),
//! the latter checked through a real overlay mount.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::process::Command;

use kiln_layer::{ApplyOptions, Entry, EntryKind, WhiteoutMode, apply, visit};

use crate::rawtar::RawTar;

fn lower() -> Vec<u8> {
    RawTar::new()
        .dir("etc")
        .file("etc/passwd", b"root")
        .file("etc/shadow", b"secret")
        .dir("opt")
        .dir("opt/app")
        .file("opt/app/old", b"old")
        .dir("opt/app/sub")
        .file("opt/app/sub/deep", b"deep")
        .file("opt/app/+early", b"sorts before the marker")
        .end()
}

fn upper() -> Vec<u8> {
    RawTar::new()
        .dir("etc")
        .file("etc/.wh.shadow", b"")
        .dir("opt/app")
        // Sorts before the opaque marker, yet belongs to this layer and must survive it.
        .file("opt/app/+new", b"new")
        .file("opt/app/.wh..wh..opq", b"")
        .dir("opt/app/sub")
        .file("opt/app/sub/fresh", b"fresh")
        .file(".wh.missing", b"")
        .end()
}

fn opts(whiteouts: WhiteoutMode) -> ApplyOptions {
    ApplyOptions { whiteouts, preserve_owners: false }
}

#[test]
fn whiteouts_decode_to_the_deleted_path() {
    let mut entries: Vec<Entry> = Vec::new();
    visit(&upper()[..], |e, _| {
        entries.push(e.clone());
        Ok(())
    })
    .unwrap();
    let kinds: Vec<(&str, &EntryKind)> = entries.iter().map(|e| (e.path.as_str(), &e.kind)).collect();
    assert!(kinds.contains(&("etc/shadow", &EntryKind::Whiteout)));
    assert!(kinds.contains(&("opt/app", &EntryKind::OpaqueDir)));
    assert!(kinds.contains(&("missing", &EntryKind::Whiteout)));
}

#[test]
fn delete_mode_flattens_layers() {
    let root = tempfile::tempdir().unwrap();
    apply(&lower()[..], root.path(), &opts(WhiteoutMode::Delete)).unwrap();
    apply(&upper()[..], root.path(), &opts(WhiteoutMode::Delete)).unwrap();
    let r = root.path();
    assert!(r.join("etc/passwd").exists());
    assert!(!r.join("etc/shadow").exists());
    assert!(!r.join("opt/app/old").exists());
    assert!(!r.join("opt/app/+early").exists());
    assert!(!r.join("opt/app/sub/deep").exists(), "an opaque dir hides lower content at any depth");
    assert_eq!(std::fs::read(r.join("opt/app/+new")).unwrap(), b"new");
    assert_eq!(std::fs::read(r.join("opt/app/sub/fresh")).unwrap(), b"fresh");
}

#[test]
fn a_whiteout_never_deletes_what_its_own_layer_wrote() {
    let root = tempfile::tempdir().unwrap();
    let tar = RawTar::new().file("a", b"this layer").file(".wh.a", b"").end();
    apply(&tar[..], root.path(), &opts(WhiteoutMode::Delete)).unwrap();
    assert_eq!(std::fs::read(root.path().join("a")).unwrap(), b"this layer");
}

#[test]
fn overlay_mode_keeps_whiteouts_for_overlayfs() {
    kiln_test::skip_unless!(
        kiln_test::is_root(),
        "overlay whiteouts are 0/0 char devices and trusted xattrs"
    );
    let dirs = tempfile::tempdir().unwrap();
    let (l1, l2) = (dirs.path().join("l1"), dirs.path().join("l2"));
    std::fs::create_dir(&l1).unwrap();
    std::fs::create_dir(&l2).unwrap();
    apply(&lower()[..], &l1, &opts(WhiteoutMode::Overlay)).unwrap();
    apply(&upper()[..], &l2, &opts(WhiteoutMode::Overlay)).unwrap();
    let shadow = std::fs::symlink_metadata(l2.join("etc/shadow")).unwrap();
    assert!(shadow.file_type().is_char_device());
    assert_eq!(shadow.rdev(), 0);
    let mut opaque = [0u8; 8];
    let n = rustix::fs::lgetxattr(l2.join("opt/app"), "trusted.overlay.opaque", &mut opaque[..]).unwrap();
    assert_eq!(&opaque[..n], b"y");

    // The snapshots mount as overlay lower dirs with the same view as the flattened rootfs.
    let merged = dirs.path().join("merged");
    std::fs::create_dir(&merged).unwrap();
    let data = std::ffi::CString::new(format!("lowerdir={}:{}", l2.display(), l1.display())).unwrap();
    if let Err(e) = rustix::mount::mount(
        "overlay",
        &merged,
        "overlay",
        rustix::mount::MountFlags::RDONLY,
        data.as_c_str(),
    ) {
        kiln_test::skip_unless!(false, "cannot mount overlayfs here: {e}");
    }
    let seen = listing(&merged);
    rustix::mount::unmount(&merged, rustix::mount::UnmountFlags::DETACH).unwrap();

    let flat = tempfile::tempdir().unwrap();
    apply(&lower()[..], flat.path(), &opts(WhiteoutMode::Delete)).unwrap();
    apply(&upper()[..], flat.path(), &opts(WhiteoutMode::Delete)).unwrap();
    assert_eq!(seen, listing(flat.path()));
    assert!(
        seen.contains(&"opt/app/+new".to_owned()) && !seen.contains(&"etc/shadow".to_owned()),
        "{seen:?}"
    );
}

fn listing(root: &Path) -> Vec<String> {
    let out = Command::new("find").arg(".").current_dir(root).output().unwrap();
    let mut lines: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.trim_start_matches("./").to_owned())
        .collect();
    lines.sort();
    lines
}
