//! COPY and ADD edge cases, checked on the built root filesystem.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use crate::harness::{Fixture, read};
use crate::need_root;

fn mode(root: &Path, rel: &str) -> u32 {
    std::fs::symlink_metadata(root.join(rel)).unwrap().mode() & 0o7777
}

fn owner(root: &Path, rel: &str) -> (u32, u32) {
    let m = std::fs::symlink_metadata(root.join(rel)).unwrap();
    (m.uid(), m.gid())
}

#[test]
fn directory_contents_trailing_slashes_and_globs() {
    need_root!();
    let f = Fixture::new();
    f.write("dir/a.txt", "a");
    f.write("dir/sub/b.txt", "b");
    f.write("one.txt", "1");
    f.write("two.txt", "2");
    f.write("three.md", "3");
    let built = f.build(
        "FROM busybox\n\
         COPY dir /contents\n\
         COPY one.txt /renamed\n\
         COPY one.txt /into/\n\
         COPY *.txt /globbed/\n\
         COPY one.txt two.txt /multi/\n\
         WORKDIR /work\n\
         COPY dir/a.txt .\n\
         COPY one.txt /tmp\n",
    );
    let r = f.rootfs(&built);
    assert_eq!(read(&r, "contents/a.txt"), "a", "a directory copies its contents");
    assert_eq!(read(&r, "contents/sub/b.txt"), "b");
    assert!(!r.join("contents/dir").exists());
    assert_eq!(read(&r, "renamed"), "1", "no trailing slash: the file takes the destination name");
    assert_eq!(read(&r, "into/one.txt"), "1", "a trailing slash makes a directory");
    assert_eq!(read(&r, "globbed/one.txt"), "1");
    assert_eq!(read(&r, "globbed/two.txt"), "2");
    assert!(!r.join("globbed/three.md").exists());
    assert_eq!(read(&r, "multi/two.txt"), "2");
    assert_eq!(read(&r, "work/a.txt"), "a", "relative destinations follow WORKDIR");
    assert_eq!(read(&r, "tmp/one.txt"), "1", "an existing directory receives the file");
    assert_eq!(mode(&r, "tmp"), 0o1777, "existing parents keep their metadata");
    assert_eq!(owner(&r, "contents/a.txt"), (0, 0), "context files belong to root");
    let h = &built.config().history;
    assert!(h.iter().any(|e| e.created_by.as_deref() == Some("COPY one.txt two.txt /multi/ # buildkit")));
}

#[test]
fn chown_by_name_chmod_exclude_parents_and_symlinks() {
    need_root!();
    let f = Fixture::new();
    f.write("app/main.c", "int main;");
    f.write("app/notes.tmp", "x");
    f.write("app/lib/util.c", "u");
    f.write("src/x/keep.go", "k");
    f.write("src/y/keep.go", "k2");
    std::os::unix::fs::symlink("main.c", f.ctx().join("app/link")).unwrap();
    std::fs::set_permissions(f.ctx().join("app/main.c"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let built = f.build(
        "FROM busybox\n\
         COPY --chown=app:wheel app /owned/\n\
         COPY --chmod=755 app/main.c /octal\n\
         COPY --chmod=u+x,g+r app/main.c /symbolic\n\
         COPY --exclude=*.tmp app /excluded/\n\
         COPY --parents src/*/keep.go /parents/\n\
         COPY app/link /followed\n\
         COPY --chown=1234 app/lib/util.c /numeric\n",
    );
    let r = f.rootfs(&built);
    assert_eq!(owner(&r, "owned/main.c"), (1000, 10), "names resolve in the stage's passwd and group");
    assert_eq!(owner(&r, "owned/lib"), (1000, 10));
    assert_eq!(owner(&r, "owned"), (1000, 10), "the created destination directory gets the owner");
    assert_eq!(mode(&r, "octal"), 0o755);
    assert_eq!(mode(&r, "symbolic"), 0o740);
    assert!(r.join("excluded/main.c").exists());
    assert!(!r.join("excluded/notes.tmp").exists(), "--exclude drops matches");
    assert_eq!(read(&r, "parents/src/x/keep.go"), "k", "--parents keeps the source path");
    assert_eq!(read(&r, "parents/src/y/keep.go"), "k2");
    assert_eq!(
        std::fs::read_link(r.join("owned/link")).unwrap(),
        Path::new("main.c"),
        "symlinks inside a directory stay links"
    );
    assert_eq!(read(&r, "followed"), "int main;", "a symlink named as the source is followed");
    assert_eq!(owner(&r, "numeric"), (1234, 1234), "a uid alone also sets the gid, as BuildKit");
    let h = &built.config().history;
    assert!(
        h.iter().any(|e| e.created_by.as_deref() == Some("COPY --chown=app:wheel app /owned/ # buildkit"))
    );
    assert!(
        h.iter()
            .any(|e| e.created_by.as_deref() == Some("COPY --parents src/*/keep.go /parents/ # buildkit"))
    );
}

#[test]
fn link_ignores_the_existing_destination_and_heredocs_are_files() {
    need_root!();
    let f = Fixture::new();
    f.write("file", "content");
    let built = f.build(
        "FROM busybox\n\
         COPY --link file /tmp\n\
         COPY <<EOF /etc/motd\nhello $HOSTNAME\nEOF\n\
         COPY <<'EOF' /raw\n$NOT_EXPANDED\nEOF\n",
    );
    let r = f.rootfs(&built);
    // With --link the destination is looked at on an empty filesystem: /tmp is not a directory there.
    assert_eq!(read(&r, "tmp"), "content");
    assert_eq!(read(&r, "etc/motd"), "hello \n");
    assert_eq!(read(&r, "raw"), "$NOT_EXPANDED\n");
    assert_eq!(mode(&r, "etc/motd"), 0o644);
}

#[test]
fn copy_from_stage_keeps_owners_and_add_extracts_archives() {
    need_root!();
    let f = Fixture::new();
    // A gzip tarball made with busybox tar in a build, then ADDed from the context.
    let staging = f.dir.path().join("tarsrc");
    std::fs::create_dir_all(staging.join("pkg")).unwrap();
    std::fs::write(staging.join("pkg/data.txt"), "inside").unwrap();
    let status = std::process::Command::new("tar")
        .args(["-czf"])
        .arg(f.ctx().join("pkg.tar.gz"))
        .arg("-C")
        .arg(&staging)
        .arg("pkg")
        .status()
        .unwrap();
    assert!(status.success());
    let built = f.build(
        "FROM busybox AS build\n\
         RUN mkdir /out && echo built > /out/result && chown 1000:1000 /out/result\n\
         FROM busybox\n\
         COPY --from=build /out/result /result\n\
         COPY --from=0 /out /out-dir\n\
         ADD pkg.tar.gz /opt/\n\
         COPY pkg.tar.gz /copied/\n",
    );
    let r = f.rootfs(&built);
    assert_eq!(read(&r, "result"), "built\n");
    assert_eq!(owner(&r, "result"), (1000, 1000), "files from a stage keep their owners");
    assert_eq!(read(&r, "out-dir/result"), "built\n");
    assert_eq!(read(&r, "opt/pkg/data.txt"), "inside", "ADD extracts a local tarball");
    assert!(r.join("copied/pkg.tar.gz").is_file(), "COPY does not extract");
}

#[test]
fn add_fetches_urls_and_checks_checksums() {
    need_root!();
    let f = Fixture::new();
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr().unwrap();
    let body = "downloaded\n";
    let handle = std::thread::spawn(move || {
        use std::io::{Read, Write};
        // Serves two requests, then stops.
        for _ in 0..2 {
            let (mut s, _) = server.accept().unwrap();
            let mut buf = [0u8; 2048];
            let _ = s.read(&mut buf).unwrap();
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nLast-Modified: Wed, 21 Oct 2015 07:28:00 GMT\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            s.write_all(reply.as_bytes()).unwrap();
        }
    });
    let digest = kiln_oci::Digest::sha256_of(body.as_bytes());
    let built =
        f.build(&format!("FROM busybox\nADD --checksum={digest} http://{addr}/files/data.txt /srv/\n"));
    let r = f.rootfs(&built);
    assert_eq!(read(&r, "srv/data.txt"), body);
    assert_eq!(mode(&r, "srv/data.txt"), 0o600, "downloads are 0600, as BuildKit's HTTP source");
    assert_eq!(std::fs::metadata(r.join("srv/data.txt")).unwrap().mtime(), 1_445_412_480);
    let wrong = kiln_oci::Digest::sha256_of(b"other");
    let req = f.request(&format!("FROM busybox\nADD --checksum={wrong} http://{addr}/x /x\n"), |_| {});
    let err = f.run(&req).err().unwrap().0.to_string();
    assert!(err.contains("digest mismatch"), "{err}");
    handle.join().unwrap();
}

#[test]
fn add_extracts_every_compression() {
    need_root!();
    use std::io::Write;
    let f = Fixture::new();
    let staging = f.dir.path().join("tarsrc");
    std::fs::create_dir_all(staging.join("d")).unwrap();
    std::fs::write(staging.join("d/x.txt"), "x").unwrap();
    let plain = f.dir.path().join("plain.tar");
    let status = std::process::Command::new("tar")
        .arg("-cf")
        .arg(&plain)
        .arg("-C")
        .arg(&staging)
        .arg("d")
        .status()
        .unwrap();
    assert!(status.success());
    let tar = std::fs::read(&plain).unwrap();
    std::fs::write(f.ctx().join("a.tar"), &tar).unwrap();
    let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
    bz.write_all(&tar).unwrap();
    std::fs::write(f.ctx().join("a.tar.bz2"), bz.finish().unwrap()).unwrap();
    let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 6);
    xz.write_all(&tar).unwrap();
    std::fs::write(f.ctx().join("a.tar.xz"), xz.finish().unwrap()).unwrap();
    std::fs::write(f.ctx().join("a.tar.zst"), zstd::encode_all(&tar[..], 3).unwrap()).unwrap();
    std::fs::write(f.ctx().join("not-a-tar.gz"), b"plain text, not an archive").unwrap();
    let built = f.build(
        "FROM busybox\nADD a.tar /plain/\nADD a.tar.bz2 /bz2/\nADD a.tar.xz /xz/\nADD a.tar.zst /zst/\nADD not-a-tar.gz /file/\n",
    );
    let r = f.rootfs(&built);
    for dir in ["plain", "bz2", "xz", "zst"] {
        assert_eq!(read(&r, &format!("{dir}/d/x.txt")), "x", "{dir}");
    }
    assert!(r.join("file/not-a-tar.gz").is_file(), "a file that is not an archive is copied");
}

#[test]
fn symlinks_from_one_source_never_lead_a_later_one_out_of_the_image() {
    need_root!();
    let f = Fixture::new();
    let marker = format!("kiln-escape-{}", std::process::id());
    std::fs::create_dir_all(f.ctx().join("a")).unwrap();
    std::os::unix::fs::symlink("/tmp", f.ctx().join("a/x")).unwrap();
    f.write(&format!("b/x/{marker}"), "should stay in the image");
    let built = f.build("FROM busybox\nCOPY a b /dest/\n");
    assert!(!Path::new("/tmp").join(&marker).exists(), "a COPY wrote through a symlink onto the host");
    let r = f.rootfs(&built);
    // The later directory replaces the link in the layer, so the file stays under the destination.
    assert_eq!(read(&r, &format!("dest/x/{marker}")), "should stay in the image");
}
