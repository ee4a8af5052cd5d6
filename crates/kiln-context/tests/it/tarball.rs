//! Tarball contexts: compressions, ignore files inside, hostile members.

use std::io::Write;

use kiln_context::{Context, SourceSpec};

/// A tar archive builder that can also write members `tar::Builder` refuses (hostile paths).
struct Tarball {
    builder: tar::Builder<Vec<u8>>,
}

impl Tarball {
    fn new() -> Self {
        Tarball { builder: tar::Builder::new(Vec::new()) }
    }

    fn header(path: &str, kind: tar::EntryType, size: u64, mode: u32) -> tar::Header {
        let mut h = tar::Header::new_ustar();
        // Written raw, so `..` and absolute paths are possible.
        let name = &mut h.as_ustar_mut().unwrap().name;
        name[..path.len()].copy_from_slice(path.as_bytes());
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(mode);
        h.set_mtime(1_700_000_000);
        h
    }

    fn file(mut self, path: &str, content: &str) -> Self {
        let mut h = Self::header(path, tar::EntryType::Regular, content.len() as u64, 0o644);
        h.set_cksum();
        self.builder.append(&h, content.as_bytes()).unwrap();
        self
    }

    fn dir(mut self, path: &str, mode: u32) -> Self {
        let mut h = Self::header(path, tar::EntryType::Directory, 0, mode);
        h.set_cksum();
        self.builder.append(&h, std::io::empty()).unwrap();
        self
    }

    fn link(mut self, kind: tar::EntryType, path: &str, target: &str) -> Self {
        let mut h = Self::header(path, kind, 0, 0o777);
        h.as_ustar_mut().unwrap().linkname[..target.len()].copy_from_slice(target.as_bytes());
        h.set_cksum();
        self.builder.append(&h, std::io::empty()).unwrap();
        self
    }

    fn bytes(self) -> Vec<u8> {
        self.builder.into_inner().unwrap()
    }
}

fn sample() -> Tarball {
    Tarball::new()
        .dir("app/", 0o755)
        .file("app/main.py", "print('hi')\n")
        .file("Dockerfile", "FROM python\nCOPY app /app\n")
        .file(".dockerignore", "*.log\n")
        .file("debug.log", "noise\n")
        .link(tar::EntryType::Symlink, "app/current", "main.py")
        .link(tar::EntryType::Link, "app/copy.py", "app/main.py")
}

/// An extracted context and the scratch directory holding it (dropped after it: fields drop in order).
#[derive(Debug)]
struct Opened {
    ctx: Context,
    _scratch: tempfile::TempDir,
}

impl std::ops::Deref for Opened {
    type Target = Context;
    fn deref(&self) -> &Context {
        &self.ctx
    }
}

fn open(bytes: &[u8], dockerfile: Option<&str>) -> kiln_context::Result<Opened> {
    let scratch = tempfile::tempdir().unwrap();
    let ctx = Context::from_tar(bytes, "ctx.tar", scratch.path(), dockerfile)?;
    Ok(Opened { ctx, _scratch: scratch })
}

fn listing(ctx: &Context) -> Vec<String> {
    ctx.entries().unwrap().into_iter().map(|e| e.path).collect()
}

#[test]
fn plain_gzip_and_zstd_archives_give_the_same_context() {
    let plain = sample().bytes();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&plain).unwrap();
    let gz = gz.finish().unwrap();
    let zst = zstd::encode_all(&plain[..], 3).unwrap();
    let expected = [".dockerignore", "Dockerfile", "app", "app/copy.py", "app/current", "app/main.py"];
    for bytes in [&plain, &gz, &zst] {
        let ctx = open(bytes, Some("Dockerfile")).unwrap();
        assert_eq!(listing(&ctx), expected);
        assert_eq!(ctx.read_file("Dockerfile").unwrap(), b"FROM python\nCOPY app /app\n");
        let s = ctx.select(&SourceSpec::new("app/current")).unwrap();
        assert_eq!(s.matches[0].resolved, "app/main.py");
    }
}

#[test]
fn a_dockerfile_specific_ignore_file_wins_inside_the_archive() {
    let bytes =
        sample().file("build/Dockerfile.dockerignore", "app\n").file("build/Dockerfile", "FROM x\n").bytes();
    let ctx = open(&bytes, Some("build/Dockerfile")).unwrap();
    assert!(ctx.ignore_file().unwrap().ends_with("build/Dockerfile.dockerignore"));
    assert!(!listing(&ctx).iter().any(|p| p.starts_with("app")));
    assert!(listing(&ctx).contains(&"debug.log".to_owned()));
}

#[test]
fn hostile_members_are_refused() {
    let cases = [
        (Tarball::new().file("../evil", "x").bytes(), "../evil", "climbs out"),
        (Tarball::new().file("a/../../evil", "x").bytes(), "a/../../evil", "climbs out"),
        (
            Tarball::new().link(tar::EntryType::Symlink, "escape", "/tmp").file("escape/evil", "x").bytes(),
            "escape/evil",
            "is not a directory",
        ),
        (Tarball::new().link(tar::EntryType::Link, "hl", "../../etc/passwd").bytes(), "hl", "climbs out"),
        (Tarball::new().link(tar::EntryType::Link, "hl", "later").bytes(), "hl", "not an earlier member"),
    ];
    for (bytes, member, message) in cases {
        let err = open(&bytes, None).unwrap_err().to_string();
        assert!(err.contains(&format!("member {member:?}")) && err.contains(message), "{member}: {err}");
    }
    let mut dev = Tarball::header("null", tar::EntryType::Char, 0, 0o666);
    dev.set_cksum();
    let mut t = Tarball::new();
    t.builder.append(&dev, std::io::empty()).unwrap();
    let err = open(&t.bytes(), None).unwrap_err().to_string();
    assert!(err.contains("unsupported member type"), "{err}");
}

#[test]
fn absolute_member_paths_land_inside_and_modes_are_kept() {
    let bytes = Tarball::new().dir("/ro/", 0o555).file("/ro/f", "x").file("/bin.sh", "#!/bin/sh\n").bytes();
    let ctx = open(&bytes, None).unwrap();
    let entries = ctx.entries().unwrap();
    let modes: Vec<(&str, u32)> = entries.iter().map(|e| (e.path.as_str(), e.mode)).collect();
    assert_eq!(modes, [("bin.sh", 0o644), ("ro", 0o555), ("ro/f", 0o644)]);
}

#[test]
fn compressions_kiln_cannot_read_say_so() {
    let err = open(b"BZh91AY&SY", None).unwrap_err().to_string();
    assert!(err.contains("bzip2-compressed contexts are not supported"), "{err}");
    let err = open(b"not a tar archive at all, but long enough to fill a header ......", None).unwrap_err();
    assert!(err.to_string().starts_with("ctx.tar"), "{err}");
}
