//! Test images: layers built from member lists (the goldens' `listing.jsonl.gz`, or lists written in a test)
//! with the `tar` crate, wrapped as an OCI layout directory or a docker-archive.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use kiln_oci::{Digest, Sha256Writer};

/// One tar member to write.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    /// Tar type flag (`0`, `5`, `2`, `1`, ...).
    pub(crate) kind: char,
    /// Content length (regular files).
    pub(crate) size: u64,
    /// Member path as stored.
    pub(crate) path: String,
    /// Link target.
    pub(crate) link: String,
    /// Content; zeros of `size` bytes when `None`.
    pub(crate) data: Option<Vec<u8>>,
    /// Mode and owner.
    pub(crate) mode: u32,
    /// Owner.
    pub(crate) uid: u64,
}

impl Member {
    pub(crate) fn file(path: &str, data: &[u8]) -> Member {
        Member {
            kind: '0',
            size: data.len() as u64,
            path: path.into(),
            link: String::new(),
            data: Some(data.to_vec()),
            mode: 0o644,
            uid: 0,
        }
    }
    pub(crate) fn zeros(path: &str, size: u64) -> Member {
        Member { kind: '0', size, path: path.into(), link: String::new(), data: None, mode: 0o644, uid: 0 }
    }
    pub(crate) fn dir(path: &str) -> Member {
        Member { kind: '5', size: 0, path: path.into(), link: String::new(), data: None, mode: 0o755, uid: 0 }
    }
    pub(crate) fn whiteout(path: &str) -> Member {
        let (dir, name) = path.rsplit_once('/').map_or(("", path), |(d, n)| (d, n));
        let p = if dir.is_empty() { format!(".wh.{name}") } else { format!("{dir}/.wh.{name}") };
        Member::zeros(&p, 0)
    }
    pub(crate) fn with_mode(mut self, mode: u32, uid: u64) -> Member {
        self.mode = mode;
        self.uid = uid;
        self
    }
}

/// Reads a golden's member listing: one `[layer, type, size, path, link]` JSON array per line, gzipped.
pub(crate) fn read_listing(path: &Path) -> Vec<Vec<Member>> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(fs_err::File::open(path).unwrap()).read_to_string(&mut text).unwrap();
    let mut layers: Vec<Vec<Member>> = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let v: (usize, String, u64, String, String) = serde_json::from_str(line).unwrap();
        while layers.len() <= v.0 {
            layers.push(Vec::new());
        }
        let kind = v.1.chars().next().unwrap_or('0');
        let mode = if kind == '5' { 0o755 } else { 0o644 };
        layers[v.0].push(Member { kind, size: v.2, path: v.3, link: v.4, data: None, mode, uid: 0 });
    }
    layers
}

/// Writes one layer tar to `out`, returning its DiffID.
pub(crate) fn write_layer(members: &[Member], out: impl Write) -> (Digest, u64) {
    let mut builder = tar::Builder::new(Sha256Writer::new(out));
    for m in members {
        let mut header = tar::Header::new_gnu();
        header.set_mode(m.mode);
        header.set_uid(m.uid);
        header.set_gid(m.uid);
        header.set_mtime(0);
        let entry_type = match m.kind {
            '5' => tar::EntryType::Directory,
            '2' => tar::EntryType::Symlink,
            '1' => tar::EntryType::Link,
            '3' => tar::EntryType::Char,
            '4' => tar::EntryType::Block,
            '6' => tar::EntryType::Fifo,
            _ => tar::EntryType::Regular,
        };
        header.set_entry_type(entry_type);
        match entry_type {
            tar::EntryType::Symlink | tar::EntryType::Link => {
                header.set_size(0);
                builder.append_link(&mut header, &m.path, &m.link).unwrap();
            }
            tar::EntryType::Regular => {
                header.set_size(m.size);
                match &m.data {
                    Some(d) => builder.append_data(&mut header, &m.path, d.as_slice()).unwrap(),
                    None => {
                        builder.append_data(&mut header, &m.path, std::io::repeat(0).take(m.size)).unwrap()
                    }
                }
            }
            _ => {
                header.set_size(0);
                builder.append_data(&mut header, &m.path, std::io::empty()).unwrap();
            }
        }
    }
    let writer = builder.into_inner().unwrap();
    let (_, digest, size) = writer.finish();
    (digest, size)
}

/// The config of a test image: DiffIDs and one history entry per layer (`created_by`, or none for `None`).
pub(crate) fn config(diff_ids: &[Digest], history: &[serde_json::Value]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }))
    .unwrap()
}

/// Writes an OCI layout at `dir` with uncompressed layers; returns `oci:DIR`.
pub(crate) fn oci_layout(dir: &Path, layers: &[Vec<Member>], history: &[serde_json::Value]) -> String {
    let blobs = dir.join("blobs/sha256");
    fs_err::create_dir_all(&blobs).unwrap();
    let mut descriptors = Vec::new();
    let mut diff_ids = Vec::new();
    for members in layers {
        let tmp = dir.join("layer.tmp");
        let (digest, size) =
            write_layer(members, std::io::BufWriter::new(fs_err::File::create(&tmp).unwrap()));
        fs_err::rename(&tmp, blobs.join(digest.hex())).unwrap();
        descriptors.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest, "size": size}));
        diff_ids.push(digest);
    }
    let config = config(&diff_ids, history);
    let config_digest = put(&blobs, &config);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": descriptors,
    }))
    .unwrap();
    let manifest_digest = put(&blobs, &manifest);
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest,
                       "size": manifest.len(), "annotations": {"org.opencontainers.image.ref.name": "latest"}}],
    });
    fs_err::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    fs_err::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    format!("oci:{}", dir.display())
}

fn put(blobs: &Path, data: &[u8]) -> Digest {
    let digest = Digest::sha256_of(data);
    fs_err::write(blobs.join(digest.hex()), data).unwrap();
    digest
}

/// Writes a legacy docker-archive (`<n>/layer.tar`, `manifest.json`) at `path`; returns `docker-archive:PATH`.
pub(crate) fn docker_archive(path: &Path, layers: &[Vec<Member>], history: &[serde_json::Value]) -> String {
    let mut tars = Vec::new();
    let mut diff_ids = Vec::new();
    for members in layers {
        let mut data = Vec::new();
        let (digest, _) = write_layer(members, &mut data);
        tars.push(data);
        diff_ids.push(digest);
    }
    let config = config(&diff_ids, history);
    let config_name = format!("{}.json", Digest::sha256_of(&config).hex());
    let manifest = serde_json::to_vec(&serde_json::json!([{
        "Config": config_name, "RepoTags": ["test/image:latest"],
        "Layers": (0..tars.len()).map(|i| format!("{i}/layer.tar")).collect::<Vec<_>>(),
    }]))
    .unwrap();
    let mut outer = tar::Builder::new(fs_err::File::create(path).unwrap());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        outer.append_data(&mut h, name, data).unwrap();
    };
    add(&config_name, &config);
    for (i, t) in tars.iter().enumerate() {
        add(&format!("{i}/layer.tar"), t);
    }
    add("manifest.json", &manifest);
    outer.finish().unwrap();
    format!("docker-archive:{}", path.display())
}

/// History entries with these `created_by` values.
pub(crate) fn history(commands: &[&str]) -> Vec<serde_json::Value> {
    commands.iter().map(|c| serde_json::json!({"created_by": c})).collect()
}

/// The goldens directory.
pub(crate) fn goldens() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/goldens")
}
