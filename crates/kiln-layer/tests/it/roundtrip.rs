//! write_tree → apply → write_tree gives the same DiffID and the same tree.

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

use kiln_layer::{ApplyOptions, Entry, EntryKind, WriteOptions, apply, visit, write_tree};

use crate::support::{describe, set_mtime};

/// A tree with every kind of node kiln writes; owners, devices and `security.capability` only as root.
pub(crate) fn sample_tree(root: &Path) {
    let root_user = kiln_test::is_root();
    let w = |p: &str, data: &[u8], mode: u32| {
        let path = root.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, data).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    w("etc/hostname.conf", b"kiln\n", 0o644);
    w("usr/bin/tool", b"#!/bin/sh\necho hi\n", 0o755);
    w("usr/bin/su-like", b"setuid binary", 0o4755);
    w("usr/share/empty-file", b"", 0o600);
    let long_dir = "usr/share/".to_owned() + &"very-long-directory-name/".repeat(6);
    w(&(long_dir.clone() + "and-a-long-file-name.txt"), b"long path content", 0o644);
    std::fs::create_dir_all(root.join("var/empty")).unwrap();
    std::fs::set_permissions(root.join("var/empty"), std::fs::Permissions::from_mode(0o1777)).unwrap();
    symlink("../etc/hostname.conf", root.join("usr/hostname-link")).unwrap();
    symlink("/".to_owned() + &long_dir + "and-a-long-file-name.txt", root.join("usr/long-target")).unwrap();
    std::fs::hard_link(root.join("usr/bin/tool"), root.join("usr/bin/tool-hardlink")).unwrap();
    rustix::fs::setxattr(
        root.join("etc/hostname.conf"),
        "user.kiln.note",
        b"hello xattr",
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        root.join("var/fifo"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o640),
        0,
    )
    .unwrap();
    if root_user {
        // A real file capability blob (cap_net_bind_service+ep, VFS_CAP_REVISION_2).
        let cap = [0, 0, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        rustix::fs::setxattr(
            root.join("usr/bin/tool"),
            "security.capability",
            &cap,
            rustix::fs::XattrFlags::empty(),
        )
        .unwrap();
        let null = root.join("dev/null");
        std::fs::create_dir_all(null.parent().unwrap()).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &null,
            rustix::fs::FileType::CharacterDevice,
            rustix::fs::Mode::from_raw_mode(0o666),
            rustix::fs::makedev(1, 3),
        )
        .unwrap();
        rustix::fs::chown(root.join("usr/share/empty-file"), Some(uid(1000)), Some(gid(1001))).unwrap();
        rustix::fs::chownat(
            rustix::fs::CWD,
            root.join("usr/hostname-link"),
            Some(uid(65534)),
            Some(gid(65534)),
            rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
        )
        .unwrap();
        // chown clears setuid; put it back.
        std::fs::set_permissions(root.join("usr/bin/su-like"), std::fs::Permissions::from_mode(0o4755))
            .unwrap();
    }
    // Fixed mtimes everywhere, directories last.
    let mut all: Vec<_> = describe(root).into_keys().collect();
    all.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in all {
        set_mtime(&root.join(p), 1_700_000_000);
    }
}

fn uid(n: u32) -> rustix::fs::Uid {
    rustix::fs::Uid::from_raw(n)
}

fn gid(n: u32) -> rustix::fs::Gid {
    rustix::fs::Gid::from_raw(n)
}

fn owners() -> ApplyOptions {
    ApplyOptions { preserve_owners: kiln_test::is_root(), ..ApplyOptions::default() }
}

#[test]
fn write_apply_write_gives_the_same_diff_id_and_tree() {
    let a = tempfile::tempdir().unwrap();
    sample_tree(a.path());
    let mut tar = Vec::new();
    let first = write_tree(a.path(), &WriteOptions::default(), &mut tar).unwrap();
    assert_eq!(first.size, tar.len() as u64);
    assert_eq!(first.diff_id, kiln_oci::Digest::sha256_of(&tar));

    let b = tempfile::tempdir().unwrap();
    let stats = apply(&tar[..], b.path(), &owners()).unwrap();
    assert_eq!(stats.layer, first);
    assert_eq!(stats.skipped_xattrs, 0);
    assert_eq!(describe(a.path()), describe(b.path()));

    let mut again = Vec::new();
    let second = write_tree(b.path(), &WriteOptions::default(), &mut again).unwrap();
    assert_eq!(first, second);
}

#[test]
fn the_written_tar_decodes_to_the_tree() {
    let a = tempfile::tempdir().unwrap();
    sample_tree(a.path());
    let mut tar = Vec::new();
    write_tree(a.path(), &WriteOptions::default(), &mut tar).unwrap();
    let mut entries: Vec<Entry> = Vec::new();
    visit(&tar[..], |e, content| {
        let mut data = Vec::new();
        content.read_to_end(&mut data).unwrap();
        assert_eq!(data.len() as u64, e.size, "{}", e.path);
        entries.push(e.clone());
        Ok(())
    })
    .unwrap();
    let paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
    // Parents first, siblings in byte order.
    let etc = paths.iter().position(|p| *p == "etc").unwrap();
    let conf = paths.iter().position(|p| *p == "etc/hostname.conf").unwrap();
    assert!(etc < conf);
    let find = |p: &str| entries.iter().find(|e| e.path == p).unwrap();
    assert_eq!(find("usr/bin/tool-hardlink").kind, EntryKind::Hardlink { target: "usr/bin/tool".into() });
    assert_eq!(find("usr/hostname-link").kind, EntryKind::Symlink { target: "../etc/hostname.conf".into() });
    assert_eq!(find("usr/bin/su-like").mode, 0o4755);
    assert_eq!(find("var/empty").mode, 0o1777);
    assert_eq!(find("var/fifo").kind, EntryKind::Fifo);
    assert_eq!(find("etc/hostname.conf").xattrs.get("user.kiln.note").unwrap(), b"hello xattr");
    let long = entries.iter().find(|e| e.path.ends_with("and-a-long-file-name.txt")).unwrap();
    assert!(long.path.len() > 100);
    assert!(entries.iter().all(|e| e.mtime == 1_700_000_000));
    if kiln_test::is_root() {
        assert_eq!(find("dev/null").kind, EntryKind::CharDevice { major: 1, minor: 3 });
        assert_eq!((find("usr/share/empty-file").uid, find("usr/share/empty-file").gid), (1000, 1001));
        assert!(find("usr/bin/tool").xattrs.contains_key("security.capability"));
    }
}
