//! The same tree always gives the same DiffID and the same compressed digests: whatever the on-disk mtimes
//! (under SOURCE_DATE_EPOCH), creation order and compressor thread count.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use kiln_layer::{CompressOptions, Compression, LayerInfo, WriteOptions, compress, write_tree};

use crate::support::set_mtime;

const EPOCH: i64 = 1_600_000_000;

/// The same content created in the given order, every mtime set to `mtime`.
fn make_tree(root: &Path, names: &[&str], mtime: i64) {
    for name in names {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let body: Vec<u8> = name.bytes().cycle().take(200_000 + name.len() * 1000).collect();
        std::fs::write(&path, body).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    }
    // Xattrs set in a different order on each call's first name that is a top-level file.
    let first = names.iter().find(|n| !n.contains('/')).unwrap();
    let mut keys = ["user.b", "user.a"];
    if names[0] != "a/one.txt" {
        keys.reverse();
    }
    for xattr in keys {
        rustix::fs::setxattr(root.join(first), xattr, xattr.as_bytes(), rustix::fs::XattrFlags::empty())
            .unwrap();
    }
    let mut all: Vec<_> = walk(root);
    all.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for p in all {
        set_mtime(&p, mtime);
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

fn layer(root: &Path, epoch: Option<i64>) -> (LayerInfo, Vec<u8>) {
    let mut tar = Vec::new();
    let opts = WriteOptions { source_date_epoch: epoch, ..WriteOptions::default() };
    let info = write_tree(root, &opts, &mut tar).unwrap();
    (info, tar)
}

fn blob(tar: &[u8], compression: Compression, threads: usize) -> kiln_layer::BlobInfo {
    compress(tar, std::io::sink(), &CompressOptions { compression, level: None, threads }).unwrap()
}

#[test]
fn same_tree_same_digests_under_source_date_epoch() {
    let names = ["a/one.txt", "a/b/two.txt", "c.txt", "a/b/c/three.txt", "z/last"];
    let mut reversed = names;
    reversed.reverse();
    let (x, y) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    make_tree(x.path(), &names, EPOCH + 1000);
    make_tree(y.path(), &reversed, EPOCH + 999_999);

    let (ix, tx) = layer(x.path(), Some(EPOCH));
    let (iy, ty) = layer(y.path(), Some(EPOCH));
    assert_eq!(ix, iy);
    assert_eq!(tx, ty);
    for compression in [Compression::Gzip, Compression::Zstd] {
        let one = blob(&tx, compression, 1);
        assert_eq!(one, blob(&ty, compression, 2), "{compression:?}");
        assert_eq!(one, blob(&tx, compression, 0), "{compression:?}");
    }

    // Without the epoch the different mtimes show, so the check above is not vacuous.
    assert_ne!(layer(x.path(), None).0, layer(y.path(), None).0);
}

#[test]
fn the_epoch_only_lowers_mtimes() {
    let x = tempfile::tempdir().unwrap();
    make_tree(x.path(), &["old", "new"], EPOCH - 50);
    set_mtime(&x.path().join("new"), EPOCH + 50);
    let (_, tar) = layer(x.path(), Some(EPOCH));
    let mut mtimes = std::collections::BTreeMap::new();
    kiln_layer::visit(&tar[..], |e, _| {
        mtimes.insert(e.path.clone(), e.mtime);
        Ok(())
    })
    .unwrap();
    assert_eq!(mtimes["old"], EPOCH - 50);
    assert_eq!(mtimes["new"], EPOCH);
}

#[test]
fn compressing_on_the_fly_gives_the_same_digests() {
    let x = tempfile::tempdir().unwrap();
    make_tree(x.path(), &["a/one.txt", "c.txt"], EPOCH);
    let (info, tar) = layer(x.path(), None);
    for compression in [Compression::None, Compression::Gzip, Compression::Zstd] {
        let opts = CompressOptions { compression, level: None, threads: 2 };
        let mut out = Vec::new();
        let (layer, blob) =
            kiln_layer::write_tree_compressed(x.path(), &WriteOptions::default(), &opts, &mut out).unwrap();
        assert_eq!(layer, info);
        assert_eq!(blob, blob_of(&tar, &opts));
        assert_eq!(blob.digest, kiln_oci::Digest::sha256_of(&out));
    }
    let err = kiln_layer::write_tree_compressed(
        &x.path().join("missing"),
        &WriteOptions::default(),
        &CompressOptions::default(),
        std::io::sink(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("missing"), "{err}");
}

fn blob_of(tar: &[u8], opts: &CompressOptions) -> kiln_layer::BlobInfo {
    compress(tar, std::io::sink(), opts).unwrap()
}
