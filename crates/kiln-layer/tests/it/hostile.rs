//! Hostile layers: each crafted tar is either rejected with an error naming the member, or contained inside
//! the target root. Every case runs in an arena (`outer/root` is the target, `outer/sentinel` sits beside it)
//! and checks that nothing outside `root` changed.

use std::collections::BTreeMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use kiln_layer::{ApplyOptions, ApplyStats, CompressOptions, LayerError, apply, compress};

use crate::rawtar::{Hdr, RawTar};
use crate::support::describe;

struct Arena {
    outer: tempfile::TempDir,
    root: PathBuf,
    before: BTreeMap<String, String>,
}

impl Arena {
    fn new() -> Self {
        let outer = tempfile::tempdir().unwrap();
        let root = outer.path().join("root");
        std::fs::create_dir(&root).unwrap();
        std::fs::create_dir(outer.path().join("sentinel")).unwrap();
        std::fs::write(outer.path().join("sentinel/file"), b"original").unwrap();
        let before = outside(outer.path());
        Self { outer, root, before }
    }

    /// The sentinel directory's absolute path, without the leading `/` (as a member path).
    fn sentinel_rel(&self) -> String {
        self.outer.path().join("sentinel").to_string_lossy().trim_start_matches('/').to_owned()
    }

    fn apply(&self, tar: &[u8]) -> Result<ApplyStats, LayerError> {
        let opts = ApplyOptions { preserve_owners: kiln_test::is_root(), ..ApplyOptions::default() };
        let result = apply(tar, &self.root, &opts);
        assert_eq!(outside(self.outer.path()), self.before, "something outside the root changed");
        assert_eq!(std::fs::read(self.outer.path().join("sentinel/file")).unwrap(), b"original");
        result
    }
}

/// Everything in `outer` except the target root and its content.
fn outside(outer: &Path) -> BTreeMap<String, String> {
    describe(outer).into_iter().filter(|(k, _)| k != "root" && !k.starts_with("root/")).collect()
}

/// Asserts a rejection that names `member`.
fn rejected(result: Result<ApplyStats, LayerError>, member: &str) -> LayerError {
    let err = result.expect_err("the hostile layer was accepted");
    assert_eq!(err.member(), Some(member), "error does not name {member:?}: {err}");
    assert!(err.to_string().contains(member), "{err}");
    err
}

fn unique(name: &str) -> String {
    format!("kiln-hostile-{name}-{}", std::process::id())
}

#[test]
fn traversal_with_dotdot_is_rejected() {
    let arena = Arena::new();
    let tar = RawTar::new().file("../../x", b"escaped").end();
    let err = rejected(arena.apply(&tar), "../../x");
    assert!(err.to_string().contains(".."), "{err}");
}

#[test]
fn absolute_paths_are_contained() {
    let arena = Arena::new();
    let name = unique("abs");
    let tar = RawTar::new().file(&format!("/etc/{name}"), b"inside").end();
    arena.apply(&tar).unwrap();
    assert_eq!(std::fs::read(arena.root.join("etc").join(&name)).unwrap(), b"inside");
    assert!(!Path::new("/etc").join(&name).exists());
}

#[test]
fn symlink_to_root_then_write_through_it_is_contained() {
    let arena = Arena::new();
    let through = format!("evil/{}/file", arena.sentinel_rel());
    let tar = RawTar::new().symlink("evil", "/").file(&through, b"pwned").end();
    arena.apply(&tar).unwrap();
    assert_eq!(std::fs::read(arena.root.join(arena.sentinel_rel()).join("file")).unwrap(), b"pwned");
}

#[test]
fn symlink_dotdot_chains_are_contained() {
    let arena = Arena::new();
    let tar = RawTar::new()
        .dir("a")
        .symlink("a/up", "../../../../../../..")
        .symlink("b", "a/up/a/up/../..")
        .file("b/sentinel/file", b"pwned")
        .file("a/up/sentinel/file2", b"pwned too")
        .end();
    arena.apply(&tar).unwrap();
    assert_eq!(std::fs::read(arena.root.join("sentinel/file")).unwrap(), b"pwned");
    assert_eq!(std::fs::read(arena.root.join("sentinel/file2")).unwrap(), b"pwned too");
}

#[test]
fn symlink_loops_are_an_error_naming_the_member() {
    let arena = Arena::new();
    let tar = RawTar::new().symlink("l1", "l2").symlink("l2", "l1").file("l1/x", b"x").end();
    rejected(arena.apply(&tar), "l1/x");
}

#[test]
fn hardlink_to_outside_is_rejected() {
    let arena = Arena::new();
    let tar = RawTar::new().hardlink("h", "../sentinel/file").end();
    rejected(arena.apply(&tar), "h");
}

#[test]
fn hardlink_with_an_absolute_target_stays_inside() {
    let arena = Arena::new();
    let target = format!("/{}/file", arena.sentinel_rel());
    let tar = RawTar::new().hardlink("h", &target).end();
    let err = rejected(arena.apply(&tar), "h");
    assert!(err.to_string().contains("does not exist"), "{err}");
}

#[test]
fn hardlink_to_a_symlink_that_points_outside_links_the_symlink_itself() {
    let arena = Arena::new();
    let outside_file = arena.outer.path().join("sentinel/file");
    let tar =
        RawTar::new().symlink("s", outside_file.to_str().unwrap()).hardlink("h", "s").file("h2", b"").end();
    arena.apply(&tar).unwrap();
    let h = std::fs::symlink_metadata(arena.root.join("h")).unwrap();
    let s = std::fs::symlink_metadata(arena.root.join("s")).unwrap();
    assert!(h.file_type().is_symlink());
    assert_eq!(h.ino(), s.ino());
    // Writing through it afterwards replaces the link, never the file it names.
    let tar = RawTar::new().file("h", b"pwned").file("s/../x", b"y").end();
    arena.apply(&tar).unwrap();
    assert_eq!(std::fs::read(arena.root.join("h")).unwrap(), b"pwned");
}

#[test]
fn hardlink_through_pax_linkpath_traversal_is_rejected() {
    let arena = Arena::new();
    let tar = RawTar::new().pax(&[("linkpath", b"../../../etc/passwd")]).hardlink("h", "innocent").end();
    let err = rejected(arena.apply(&tar), "h");
    assert!(err.to_string().contains("hardlink target"), "{err}");
}

#[test]
fn whiteout_of_dotdot_is_rejected() {
    let arena = Arena::new();
    let tar = RawTar::new().dir("a").file("a/.wh...", b"").end();
    rejected(arena.apply(&tar), "a/.wh...");
    let tar = RawTar::new().file(".wh.", b"").end();
    rejected(arena.apply(&tar), ".wh.");
}

#[test]
fn whiteouts_with_traversal_are_rejected() {
    let arena = Arena::new();
    let tar = RawTar::new().file("../.wh.sentinel", b"").end();
    rejected(arena.apply(&tar), "../.wh.sentinel");
    let tar = RawTar::new().file("a/../../.wh..wh..opq", b"").end();
    rejected(arena.apply(&tar), "a/../../.wh..wh..opq");
    assert!(arena.outer.path().join("sentinel/file").exists());
}

#[test]
fn whiteout_through_a_symlink_to_outside_is_contained() {
    let arena = Arena::new();
    let sentinel = format!("/{}", arena.sentinel_rel());
    let tar = RawTar::new().symlink("link", &sentinel).file("link/.wh.file", b"").end();
    arena.apply(&tar).unwrap();
    assert!(arena.outer.path().join("sentinel/file").exists());
}

#[test]
fn device_nodes_are_created_as_root_or_refused_clearly() {
    let arena = Arena::new();
    let mut tar = RawTar::new();
    let mut h = Hdr::new("dev/kmsg", b'3');
    (h.major, h.minor) = (1, 11);
    tar.dir("dev").header(&h);
    let mut h = Hdr::new("dev/loop0", b'4');
    (h.major, h.minor) = (7, 0);
    let tar = tar.header(&h).end();
    let result = arena.apply(&tar);
    if kiln_test::is_root() {
        result.unwrap();
        let kmsg = std::fs::symlink_metadata(arena.root.join("dev/kmsg")).unwrap();
        assert!(kmsg.file_type().is_char_device());
        assert_eq!(kmsg.rdev(), rustix::fs::makedev(1, 11));
        assert!(
            std::fs::symlink_metadata(arena.root.join("dev/loop0")).unwrap().file_type().is_block_device()
        );
    } else {
        let err = rejected(result, "dev/kmsg");
        assert!(matches!(err, LayerError::DeviceNotPermitted { .. }), "{err}");
    }
}

#[test]
fn fifos_are_created_inside() {
    let arena = Arena::new();
    let tar = RawTar::new().header(&Hdr::new("run/pipe", b'6')).end();
    arena.apply(&tar).unwrap();
    assert!(std::fs::symlink_metadata(arena.root.join("run/pipe")).unwrap().file_type().is_fifo());
}

#[test]
fn duplicate_entries_later_wins() {
    let arena = Arena::new();
    let sentinel = format!("/{}/file", arena.sentinel_rel());
    let tar = RawTar::new()
        // file, then dir over it
        .file("d", b"file first")
        .dir("d")
        .file("d/x", b"in the dir")
        // dir with content, then a symlink to / over it, then a write through it
        .dir("e")
        .file("e/y", b"gone")
        .symlink("e", "/")
        .file("e/z", b"lands at the root")
        // symlink to outside, then a file over it
        .symlink("f", &sentinel)
        .file("f", b"a plain file now")
        // dir over dir merges
        .dir("g")
        .file("g/keep", b"kept")
        .dir("g")
        .end();
    arena.apply(&tar).unwrap();
    let root = &arena.root;
    assert_eq!(std::fs::read(root.join("d/x")).unwrap(), b"in the dir");
    assert!(std::fs::symlink_metadata(root.join("e")).unwrap().file_type().is_symlink());
    assert_eq!(std::fs::read(root.join("z")).unwrap(), b"lands at the root");
    assert!(std::fs::symlink_metadata(root.join("f")).unwrap().file_type().is_file());
    assert_eq!(std::fs::read(root.join("f")).unwrap(), b"a plain file now");
    assert_eq!(std::fs::read(root.join("g/keep")).unwrap(), b"kept");
}

#[test]
fn huge_declared_size_is_an_error_naming_the_member() {
    let arena = Arena::new();
    let mut h = Hdr::new("huge", b'0');
    h.size = 0o77777777777; // 8 GiB - 1, with only a few bytes present
    let mut tar = RawTar::new();
    tar.header(&h);
    tar.bytes.extend_from_slice(b"just a few bytes");
    let err = rejected(arena.apply(&tar.bytes), "huge");
    assert!(matches!(err, LayerError::MemberIo { .. }), "{err}");
}

#[test]
fn truncated_member_data_is_an_error_naming_the_member() {
    let arena = Arena::new();
    let mut tar = RawTar::new().file("ok", b"fine").end();
    tar.truncate(tar.len() - 1024);
    let mut h = Hdr::new("short", b'0');
    h.size = 1000;
    tar.extend_from_slice(&h.bytes());
    tar.extend_from_slice(&[7; 100]);
    rejected(arena.apply(&tar), "short");
}

#[test]
fn truncated_gzip_is_an_error_naming_the_member() {
    let arena = Arena::new();
    let big: Vec<u8> = (0..2_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let tar = RawTar::new().file("small", b"x").file("big", &big).end();
    let mut gz = Vec::new();
    compress(&tar[..], &mut gz, &CompressOptions::default()).unwrap();
    gz.truncate(gz.len() / 2);
    let err = rejected(arena.apply(&gz), "big");
    assert!(matches!(err, LayerError::MemberIo { .. }), "{err}");
}

#[test]
fn bad_checksum_is_an_error_naming_the_header() {
    let arena = Arena::new();
    let mut h = Hdr::new("corrupt", b'0');
    h.checksum = Some(1234);
    let tar = RawTar::new().file("before", b"x").header(&h).end();
    let err = rejected(arena.apply(&tar), "corrupt");
    assert!(matches!(&err, LayerError::Header { previous: Some(p), .. } if p == "before"), "{err}");
}

#[test]
fn pax_path_override_with_traversal_is_rejected() {
    let arena = Arena::new();
    let tar = RawTar::new().pax(&[("path", b"../../pax-escape")]).file("innocent", b"x").end();
    rejected(arena.apply(&tar), "../../pax-escape");
}

#[test]
fn gnu_long_name_with_traversal_is_rejected() {
    let arena = Arena::new();
    let name = "../".repeat(40) + "gnu-escape";
    let tar = RawTar::new().gnu_long(b'L', name.as_bytes()).file("short", b"x").end();
    rejected(arena.apply(&tar), &name);
}

#[test]
fn setuid_files_keep_their_mode() {
    // Documented choice: like Docker, setuid/setgid bits are kept (images ship su, passwd, ping).
    let arena = Arena::new();
    let mut h = Hdr::new("usr/bin/su", b'0');
    (h.mode, h.size, h.uid, h.gid) = (0o4755, 2, 0, 0);
    let tar = RawTar::new().header(&h).data(b"su").end();
    arena.apply(&tar).unwrap();
    let meta = std::fs::metadata(arena.root.join("usr/bin/su")).unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o4755);
}

#[test]
fn non_directory_root_members_and_nul_bytes_are_rejected() {
    let arena = Arena::new();
    let tar = RawTar::new().file(".", b"x").end();
    rejected(arena.apply(&tar), ".");
    let tar = RawTar::new().pax(&[("path", b"a\0/../../b")]).file("x", b"x").end();
    let err = arena.apply(&tar).unwrap_err();
    assert!(err.to_string().contains("NUL"), "{err}");
}

#[test]
fn uid_minus_one_is_rejected() {
    let arena = Arena::new();
    let tar = RawTar::new().pax(&[("uid", b"4294967295")]).file("owned", b"x").end();
    rejected(arena.apply(&tar), "owned");
}

#[test]
fn pax_header_bombs_are_refused_without_reading_them() {
    let arena = Arena::new();
    let mut h = Hdr::new("PaxHeaders.0/bomb", b'x');
    h.size = 1 << 30;
    let tar = RawTar::new().header(&h).end();
    let err = arena.apply(&tar).unwrap_err();
    assert!(matches!(err, LayerError::Header { .. }), "{err}");
    assert!(err.to_string().contains("limit"), "{err}");
}

#[test]
fn sparse_bombs_become_holes_not_disk_usage() {
    let arena = Arena::new();
    let huge = (1u64 << 40).to_string();
    let tar = RawTar::new()
        .pax(&[
            ("GNU.sparse.size", huge.as_bytes()),
            ("GNU.sparse.map", b"0,5,1099511627000,3"),
            ("GNU.sparse.name", b"bomb"),
        ])
        .file("GNUSparseFile.0/bomb", b"hello" as &[u8])
        .end();
    // The stored data is 5 bytes but the map wants 8: rejected, naming the member.
    let err = arena.apply(&tar).unwrap_err();
    assert!(err.to_string().contains("sparse map"), "{err}");

    let tar = RawTar::new()
        .pax(&[
            ("GNU.sparse.size", huge.as_bytes()),
            ("GNU.sparse.map", b"0,5,1099511627000,3"),
            ("GNU.sparse.name", b"bomb"),
        ])
        .file("GNUSparseFile.0/bomb", b"helloend")
        .end();
    let stats = arena.apply(&tar).unwrap();
    assert_eq!(stats.bytes, 8);
    let meta = std::fs::metadata(arena.root.join("bomb")).unwrap();
    assert_eq!(meta.len(), 1 << 40);
    assert!(meta.blocks() * 512 < 1 << 20, "{} blocks allocated", meta.blocks());
}

#[test]
fn an_unterminated_pax_sparse_map_is_an_error_not_a_hang() {
    // Found by fuzzing: the sparse map of a PAX 1.0 sparse member whose last line never ends.
    let arena = Arena::new();
    let mut map = b"1\n0\n".to_vec();
    map.extend_from_slice(&[b'7'; 1500]);
    let tar = RawTar::new()
        .pax(&[
            ("GNU.sparse.major", b"1"),
            ("GNU.sparse.minor", b"0"),
            ("GNU.sparse.realsize", b"100"),
            ("GNU.sparse.name", b"sparse"),
        ])
        .file("GNUSparseFile.0/sparse", &map)
        .end();
    let err = arena.apply(&tar).unwrap_err();
    assert!(matches!(err, LayerError::Header { .. }), "{err}");
}
