//! Tar dialects and compressions from other tools: GNU tar's gnu and posix formats (long names, all sparse
//! versions, xattrs), gzip and zstd CLIs; and GNU tar reading what kiln writes.

use std::io::Read as _;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;

use kiln_layer::{
    ApplyOptions, Compression, Entry, EntryKind, WriteOptions, apply, decompress, visit, write_tree,
};

use crate::rawtar::{Hdr, RawTar};
use crate::support::describe;

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn tool(name: &str) -> bool {
    let found = kiln_test::which(name).is_some();
    assert!(found || !kiln_test::in_ci(), "{name} is required in CI");
    found
}

/// A tree with a sparse file, long names, a long symlink target and a hardlink.
fn tree(root: &Path) {
    let long = "d".repeat(60) + "/" + &"e".repeat(70);
    std::fs::create_dir_all(root.join(&long)).unwrap();
    std::fs::write(root.join(&long).join("f".repeat(90)), b"long").unwrap();
    symlink("t/".repeat(70), root.join("long-link")).unwrap();
    let sparse = std::fs::File::create(root.join("sparse")).unwrap();
    sparse.set_len(10 << 20).unwrap();
    use std::os::unix::fs::FileExt as _;
    sparse.write_at(b"middle", 4 << 20).unwrap();
    sparse.write_at(b"end", (10 << 20) - 3).unwrap();
    std::fs::write(root.join("file"), b"content").unwrap();
    std::fs::hard_link(root.join("file"), root.join("hard")).unwrap();
    rustix::fs::setxattr(root.join("file"), "user.origin", b"gnu tar", rustix::fs::XattrFlags::empty())
        .unwrap();
}

fn applied(tar: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let opts = ApplyOptions { preserve_owners: kiln_test::is_root(), ..ApplyOptions::default() };
    apply(tar, dir.path(), &opts).unwrap();
    dir
}

fn same_tree(a: &Path, b: &Path) {
    let strip = |m: std::collections::BTreeMap<String, String>| -> Vec<(String, String)> {
        // GNU tar without --xattrs drops them; directory mtimes are compared elsewhere.
        m.into_iter().map(|(k, v)| (k, v.split(" xattrs=").next().unwrap().to_owned())).collect()
    };
    assert_eq!(strip(describe(a)), strip(describe(b)));
}

#[test]
fn gnu_tar_formats_read_back_identically() {
    if !tool("tar") {
        return;
    }
    let src = tempfile::tempdir().unwrap();
    tree(src.path());
    let out = tempfile::tempdir().unwrap();
    let variants: &[(&str, &[&str])] = &[
        ("gnu", &["--format=gnu", "--sparse"]),
        ("pax-sparse-0.0", &["--format=posix", "--sparse", "--sparse-version=0.0", "--xattrs"]),
        ("pax-sparse-0.1", &["--format=posix", "--sparse", "--sparse-version=0.1", "--xattrs"]),
        ("pax-sparse-1.0", &["--format=posix", "--sparse", "--sparse-version=1.0", "--xattrs"]),
    ];
    for (name, flags) in variants {
        let file = out.path().join(format!("{name}.tar"));
        run(Command::new("tar").args(*flags).arg("-cf").arg(&file).arg("-C").arg(src.path()).arg("."));
        let tar = std::fs::read(&file).unwrap();
        assert!(tar.len() < 1 << 20, "{name}: GNU tar did not write it sparse");
        let mut sparse = None;
        visit(&tar[..], |e, content| {
            if e.path == "sparse" {
                let mut data = Vec::new();
                content.read_to_end(&mut data).unwrap();
                assert_eq!(e.size, 10 << 20);
                sparse = Some(data);
            }
            if e.path == "file" && name.starts_with("pax") {
                assert_eq!(e.xattrs.get("user.origin").map(Vec::as_slice), Some(&b"gnu tar"[..]), "{name}");
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(sparse.unwrap(), std::fs::read(src.path().join("sparse")).unwrap(), "{name}");
        same_tree(src.path(), applied(&tar).path());
    }
}

#[test]
fn gnu_tar_extracts_what_kiln_writes() {
    if !tool("tar") {
        return;
    }
    let src = tempfile::tempdir().unwrap();
    tree(src.path());
    let mut tar = Vec::new();
    write_tree(src.path(), &WriteOptions::default(), &mut tar).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("layer.tar");
    std::fs::write(&file, &tar).unwrap();
    let dest = dir.path().join("out");
    std::fs::create_dir(&dest).unwrap();
    run(Command::new("tar").args(["--xattrs", "--xattrs-include=*", "-xf"]).arg(&file).arg("-C").arg(&dest));
    assert_eq!(describe(src.path()), describe(&dest));
}

#[test]
fn gzip_and_zstd_cli_output_is_detected() {
    if !tool("gzip") || !tool("zstd") {
        return;
    }
    let tar = RawTar::new().file("hello", b"world").end();
    for (cmd, args, kind) in
        [("gzip", ["-c", "-9"], Compression::Gzip), ("zstd", ["-c", "-19"], Compression::Zstd)]
    {
        let mut child = Command::new(cmd)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write as _;
        child.stdin.take().unwrap().write_all(&tar).unwrap();
        let compressed = child.wait_with_output().unwrap().stdout;
        let (detected, mut plain) = decompress(&compressed[..]).unwrap();
        assert_eq!(detected, kind);
        let mut back = Vec::new();
        plain.read_to_end(&mut back).unwrap();
        assert_eq!(back, tar);
        let info = kiln_layer::diff_id(&compressed[..]).unwrap();
        assert_eq!(info.diff_id, kiln_oci::Digest::sha256_of(&tar));
    }
}

#[test]
fn global_headers_aufs_metadata_and_old_style_dirs() {
    let mut tar = RawTar::new();
    let global = b"20 comment=whatever\n";
    let mut g = Hdr::new("pax_global_header", b'g');
    g.size = global.len() as u64;
    tar.header(&g).data(global);
    tar.file(".wh..wh.plnk/123.456", b"aufs hardlink store").dir(".wh..wh.aufs");
    let mut v7dir = Hdr::new("olddir/", b'0');
    v7dir.mode = 0o750;
    let tar = tar.header(&v7dir).file("olddir/f", b"x").end();
    let mut seen: Vec<Entry> = Vec::new();
    visit(&tar[..], |e, _| {
        seen.push(e.clone());
        Ok(())
    })
    .unwrap();
    let paths: Vec<(&str, &EntryKind)> = seen.iter().map(|e| (e.path.as_str(), &e.kind)).collect();
    assert_eq!(paths, [("olddir", &EntryKind::Dir), ("olddir/f", &EntryKind::File)]);
}

#[test]
fn a_stream_without_end_blocks_is_accepted() {
    let mut tar = RawTar::new().file("a", b"x").end();
    tar.truncate(tar.len() - 1024);
    let mut n = 0;
    visit(&tar[..], |_, _| {
        n += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!(n, 1);
    visit(&b""[..], |_, _| panic!("no entries")).unwrap();
}

#[test]
fn visitor_errors_name_the_member() {
    let tar = RawTar::new().file("first", b"1").file("second", b"2").end();
    let err = visit(&tar[..], |e, _| {
        if e.path == "second" {
            return Err(kiln_layer::LayerError::visit(&e.path, "consumer gave up"));
        }
        Ok(())
    })
    .unwrap_err();
    assert_eq!(err.to_string(), "tar member \"second\": consumer gave up");
}
