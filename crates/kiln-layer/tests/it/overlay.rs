//! Overlay upper dirs become layers: deletions in a real overlay mount turn into `.wh.` whiteouts, replaced
//! directories into opaque markers, and applying lower + diff gives the merged view back.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::path::Path;

use kiln_layer::{
    ApplyOptions, EntryKind, LayerError, TreeSource, WhiteoutMode, WriteOptions, apply, visit, write_tree,
};

fn write(path: &Path, data: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
}

fn upper_opts() -> WriteOptions {
    WriteOptions { source: TreeSource::OverlayUpper, ..WriteOptions::default() }
}

fn entries(tar: &[u8]) -> BTreeMap<String, EntryKind> {
    let mut out = BTreeMap::new();
    visit(tar, |e, _| {
        out.insert(e.path.clone(), e.kind.clone());
        Ok(())
    })
    .unwrap();
    out
}

/// Path → content (files), "dir" or "link->target", for comparing views.
fn view(root: &Path) -> BTreeMap<String, String> {
    crate::support::describe(root)
        .into_iter()
        .map(|(k, v)| (k, v.split(" mode=").next().unwrap().to_owned()))
        .collect()
}

#[test]
fn a_real_overlay_upper_becomes_whiteouts_and_opaque_dirs() {
    kiln_test::skip_unless!(kiln_test::is_root(), "mounting overlayfs needs root");
    let d = tempfile::tempdir().unwrap();
    let (lower, upper, work, merged) =
        (d.path().join("l"), d.path().join("u"), d.path().join("w"), d.path().join("m"));
    for dir in [&lower, &upper, &work, &merged] {
        std::fs::create_dir(dir).unwrap();
    }
    write(&lower.join("etc/passwd"), "root:x:0:0");
    write(&lower.join("etc/shadow"), "secret");
    write(&lower.join("opt/app/a"), "a");
    write(&lower.join("opt/app/b/c"), "c");
    write(&lower.join("var/lib/x/file"), "x");
    write(&lower.join("keep/file"), "kept");

    let opts = |extra: &str| {
        CString::new(format!(
            "lowerdir={},upperdir={},workdir={}{extra}",
            lower.display(),
            upper.display(),
            work.display()
        ))
        .unwrap()
    };
    let flags = rustix::mount::MountFlags::empty();
    let mounted =
        rustix::mount::mount("overlay", &merged, "overlay", flags, opts(",redirect_dir=off").as_c_str())
            .or_else(|_| rustix::mount::mount("overlay", &merged, "overlay", flags, opts("").as_c_str()));
    if let Err(e) = mounted {
        kiln_test::skip_unless!(false, "cannot mount overlayfs here: {e}");
    }
    std::fs::remove_file(merged.join("etc/shadow")).unwrap();
    std::fs::write(merged.join("etc/passwd"), "root:x:0:0:changed").unwrap();
    std::fs::remove_dir_all(merged.join("opt/app")).unwrap();
    write(&merged.join("opt/app/new"), "new");
    std::fs::remove_dir_all(merged.join("var/lib/x")).unwrap();
    write(&merged.join("var/lib/x"), "now a file");
    write(&merged.join("added/file"), "added");
    let expected = view(&merged);
    rustix::mount::unmount(&merged, rustix::mount::UnmountFlags::empty()).unwrap();

    let mut diff = Vec::new();
    write_tree(&upper, &upper_opts(), &mut diff).unwrap();
    let got = entries(&diff);
    assert_eq!(got.get("etc/shadow"), Some(&EntryKind::Whiteout), "{got:?}");
    assert_eq!(got.get("opt/app"), Some(&EntryKind::OpaqueDir), "{got:?}");
    assert_eq!(got.get("opt/app/new"), Some(&EntryKind::File));
    assert_eq!(got.get("var/lib/x"), Some(&EntryKind::File));
    assert_eq!(got.get("etc/passwd"), Some(&EntryKind::File));
    assert!(!got.contains_key("keep/file"), "untouched lower files are not in the diff");

    // Lower + diff, flattened, is the merged view.
    let mut base = Vec::new();
    write_tree(&lower, &WriteOptions::default(), &mut base).unwrap();
    let flat = tempfile::tempdir().unwrap();
    let opts = ApplyOptions { whiteouts: WhiteoutMode::Delete, preserve_owners: true };
    apply(&base[..], flat.path(), &opts).unwrap();
    apply(&diff[..], flat.path(), &opts).unwrap();
    assert_eq!(view(flat.path()), expected);
}

#[test]
fn overlay_markers_in_a_plain_dir_are_translated() {
    kiln_test::skip_unless!(kiln_test::is_root(), "0/0 char devices and trusted.* xattrs need root");
    let d = tempfile::tempdir().unwrap();
    let up = d.path();
    write(&up.join("dir/file"), "f");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        up.join("dir/gone"),
        rustix::fs::FileType::CharacterDevice,
        rustix::fs::Mode::empty(),
        0,
    )
    .unwrap();
    std::fs::create_dir(up.join("opaque")).unwrap();
    rustix::fs::setxattr(up.join("opaque"), "trusted.overlay.opaque", b"y", rustix::fs::XattrFlags::empty())
        .unwrap();
    rustix::fs::setxattr(
        up.join("dir"),
        "trusted.overlay.origin",
        b"\0\x01",
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    let mut tar = Vec::new();
    write_tree(up, &upper_opts(), &mut tar).unwrap();
    let got = entries(&tar);
    assert_eq!(got.get("dir/gone"), Some(&EntryKind::Whiteout));
    assert_eq!(got.get("opaque"), Some(&EntryKind::OpaqueDir));
    let mut raw_names = Vec::new();
    let mut xattrs = Vec::new();
    visit(&tar[..], |e, _| {
        raw_names.push(e.path.clone());
        xattrs.extend(e.xattrs.keys().cloned());
        Ok(())
    })
    .unwrap();
    assert!(xattrs.iter().all(|k| !k.starts_with("trusted.overlay.")), "{xattrs:?}");
    // The opaque marker directly follows its directory.
    let pos = |p: &str| raw_names.iter().position(|n| n == p).unwrap();
    assert_eq!(pos("opaque") + 1, raw_names.iter().rposition(|n| n == "opaque").unwrap());

    // As a full tree the same char device is just a device.
    let mut full = Vec::new();
    write_tree(up, &WriteOptions::default(), &mut full).unwrap();
    assert_eq!(entries(&full).get("dir/gone"), Some(&EntryKind::CharDevice { major: 0, minor: 0 }));
}

#[test]
fn redirect_and_metacopy_uppers_are_refused() {
    kiln_test::skip_unless!(kiln_test::is_root(), "trusted.* xattrs need root");
    for (name, xattr) in [("moved", "trusted.overlay.redirect"), ("meta", "trusted.overlay.metacopy")] {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join(name);
        std::fs::create_dir(&path).unwrap();
        rustix::fs::setxattr(&path, xattr, b"/elsewhere", rustix::fs::XattrFlags::empty()).unwrap();
        let err = write_tree(d.path(), &upper_opts(), std::io::sink()).unwrap_err();
        assert!(matches!(&err, LayerError::Unrepresentable { path: p, .. } if *p == path), "{err}");
        assert!(err.to_string().contains("redirect_dir=off"), "{err}");
    }
}

#[test]
fn excluded_paths_and_sockets_are_not_written() {
    let d = tempfile::tempdir().unwrap();
    write(&d.path().join("etc/resolv.conf"), "nameserver 1.1.1.1");
    write(&d.path().join("etc/keep"), "k");
    write(&d.path().join("mnt/cache/blob"), "cache mount content");
    let _socket = std::os::unix::net::UnixListener::bind(d.path().join("etc/sock")).unwrap();
    let opts = WriteOptions {
        exclude: vec!["/etc/resolv.conf".into(), "mnt/cache".into()],
        ..WriteOptions::default()
    };
    let mut tar = Vec::new();
    write_tree(d.path(), &opts, &mut tar).unwrap();
    let got: Vec<String> = entries(&tar).into_keys().collect();
    assert_eq!(got, ["etc", "etc/keep", "mnt"]);
}
