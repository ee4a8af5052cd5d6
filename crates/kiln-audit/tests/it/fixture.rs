//! Synthetic images: layer tars written with the `tar` crate into a fresh store, and an image config
//! with history entries (Dockerfile provenance comments included), in milliseconds.

use kiln_oci::ImageConfig;
use kiln_store::{Lease, Store};

/// One tar member.
pub(crate) enum Member {
    File(&'static str, Vec<u8>, u32),
    Dir(&'static str, u32),
    Whiteout(&'static str),
}

pub(crate) fn file(path: &'static str, data: &[u8]) -> Member {
    Member::File(path, data.to_vec(), 0o644)
}

/// A layer with the history entry that made it.
pub(crate) struct Layer {
    pub(crate) members: Vec<Member>,
    pub(crate) created_by: String,
    pub(crate) line: Option<u32>,
}

pub(crate) struct Image {
    pub(crate) _dir: tempfile::TempDir,
    pub(crate) store: Store,
    pub(crate) _lease: Lease,
    pub(crate) config: ImageConfig,
}

fn tar(members: &[Member]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for m in members {
        let mut h = tar::Header::new_ustar();
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        match m {
            Member::File(path, data, mode) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(*mode);
                h.set_size(data.len() as u64);
                b.append_data(&mut h, path, data.as_slice()).unwrap();
            }
            Member::Dir(path, mode) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(*mode);
                h.set_size(0);
                b.append_data(&mut h, path, std::io::empty()).unwrap();
            }
            Member::Whiteout(path) => {
                let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
                let wh = if dir.is_empty() { format!(".wh.{name}") } else { format!("{dir}/.wh.{name}") };
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(0o644);
                h.set_size(0);
                b.append_data(&mut h, wh, std::io::empty()).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

/// Writes `layers` into a new store with `extra` merged into the config's `config` object.
pub(crate) fn image(layers: Vec<Layer>, extra: serde_json::Value, empty_history: &[&str]) -> Image {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store")).unwrap();
    let lease = store.lease().unwrap();
    let mut diff_ids = Vec::new();
    let mut history = Vec::new();
    for l in &layers {
        diff_ids.push(lease.put_blob(&tar(&l.members)).unwrap().to_string());
        let mut h = serde_json::json!({ "created_by": l.created_by });
        if let Some(line) = l.line {
            h["comment"] = format!("kiln.dockerfile.v0 Dockerfile:{line}").into();
        }
        history.push(h);
    }
    for cmd in empty_history {
        history.push(serde_json::json!({ "created_by": cmd, "empty_layer": true }));
    }
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": extra,
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
        "history": history,
    });
    let config: ImageConfig = serde_json::from_value(config).unwrap();
    Image { _dir: dir, store, _lease: lease, config }
}
