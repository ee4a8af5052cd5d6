//! Synthetic images: layer tars written with the `tar` crate, committed to a fresh store with a config
//! whose history carries kiln's Dockerfile provenance comments, and opened as an [`ImageSource`].

use kiln_oci::{ImageLocation, Reference};
use kiln_sbom::ImageSource;
use kiln_store::Store;

/// A layer: its files (`path`, content; a `None` content is a whiteout of `path`) and Dockerfile line.
pub(crate) struct Layer {
    pub(crate) files: Vec<(String, Option<Vec<u8>>)>,
    pub(crate) line: Option<u32>,
}

pub(crate) struct Image {
    pub(crate) _dir: tempfile::TempDir,
    pub(crate) source: ImageSource,
}

fn tar(files: &[(String, Option<Vec<u8>>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut h = tar::Header::new_ustar();
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_entry_type(tar::EntryType::Regular);
        let (name, bytes) = match data {
            Some(d) => (path.clone(), d.clone()),
            None => {
                let (dir, base) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
                (format!("{dir}/.wh.{base}"), Vec::new())
            }
        };
        h.set_size(bytes.len() as u64);
        b.append_data(&mut h, name, bytes.as_slice()).unwrap();
    }
    b.into_inner().unwrap()
}

/// Commits `layers` as image `test:1` in a new store and opens it.
pub(crate) fn image(layers: &[Layer]) -> Image {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store")).unwrap();
    let lease = store.lease().unwrap();
    let mut diff_ids = Vec::new();
    let mut history = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        diff_ids.push(lease.put_blob(&tar(&l.files)).unwrap().to_string());
        let mut h = serde_json::json!({ "created_by": format!("COPY layer{i} / # buildkit") });
        if let Some(line) = l.line {
            h["comment"] = format!("kiln.dockerfile.v0 Dockerfile:{line}").into();
        }
        history.push(h);
    }
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": { "type": "layers", "diff_ids": diff_ids }, "history": history,
    });
    let reference = Reference::parse("test:1").unwrap();
    lease.commit_image(config.to_string().as_bytes(), &[reference], None).unwrap();
    drop(lease);
    let source = ImageSource::open(&store, &ImageLocation::parse("test:1").unwrap(), "test:1").unwrap();
    Image { _dir: dir, source }
}

/// Owned paths for a layer's file list.
pub(crate) fn own(files: Vec<(&str, Option<Vec<u8>>)>) -> Vec<(String, Option<Vec<u8>>)> {
    files.into_iter().map(|(p, d)| (p.to_owned(), d)).collect()
}

pub(crate) fn text(s: &str) -> Option<Vec<u8>> {
    Some(s.as_bytes().to_vec())
}

/// A Debian 12 image with dpkg, Python and npm packages over three layers; the last layer uninstalls
/// `requests` (a whiteout of its dist-info).
pub(crate) fn mixed() -> Image {
    let status = "Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl\n\
                  Version: 3.0.11-1~deb12u1\nDescription: SSL\n\n\
                  Package: base-files\nStatus: install ok installed\nArchitecture: amd64\nVersion: 12.4+deb12u5\n\
                  Description: base\n\n\
                  Package: removed-pkg\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 1.0\n\n";
    image(&[
        Layer {
            files: own(vec![
                (
                    "etc/os-release",
                    text(
                        "ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n",
                    ),
                ),
                ("var/lib/dpkg/status", text(status)),
                (
                    "usr/lib/python3/dist-packages/requests-2.28.1.dist-info/METADATA",
                    text(
                        "Metadata-Version: 2.1\nName: requests\nVersion: 2.28.1\nLicense: Apache 2.0\n\nbody\n",
                    ),
                ),
                (
                    "usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA",
                    text("Metadata-Version: 2.1\nName: six\nVersion: 1.16.0\nLicense-Expression: MIT\n\n"),
                ),
            ]),
            line: Some(1),
        },
        Layer {
            files: own(vec![
                (
                    "app/node_modules/lodash/package.json",
                    text(r#"{"name": "lodash", "version": "4.17.20", "license": "MIT"}"#),
                ),
                (
                    "app/node_modules/@babel/core/package.json",
                    text(r#"{"name": "@babel/core", "version": "7.22.5"}"#),
                ),
                ("app/package.json", text(r#"{"name": "app", "version": "1.0.0", "private": true}"#)),
            ]),
            line: Some(5),
        },
        Layer {
            files: own(vec![("usr/lib/python3/dist-packages/requests-2.28.1.dist-info", None)]),
            line: Some(7),
        },
    ])
}
