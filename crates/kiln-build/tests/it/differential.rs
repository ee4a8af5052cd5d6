//! The differential suite: each fixture under `tests/fixtures/differential/<name>/` (a Dockerfile and an
//! optional `context/`) is built with kiln and compared with what BuildKit built from the same input,
//! recorded in `<name>/buildkit.json` by `bench/record-buildkit-goldens.sh` (no daemon needed here).
//!
//! Compared: the root filesystem changes the Dockerfile made over its base image (every added, changed or
//! removed path with its type, mode, owner, size, content hash, link target and hardlink group) and the
//! config fields User, Env, Entrypoint, Cmd, WorkingDir, ExposedPorts, Labels, Healthcheck, StopSignal and
//! Volumes. Comparing changes over the base rather than whole trees keeps the suite valid when this
//! machine's busybox-static differs from the recording's: the base trees are compared too, and a difference
//! there is printed, not failed; a file whose content is a base file's (busybox copied by a stage) is
//! compared by which base file it is.

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::harness::Fixture;
use crate::need_root;

/// The config fields compared.
const CONFIG_FIELDS: &[&str] = &[
    "User",
    "Env",
    "Entrypoint",
    "Cmd",
    "WorkingDir",
    "ExposedPorts",
    "Labels",
    "Healthcheck",
    "StopSignal",
    "Volumes",
];

/// Paths BuildKit's layers have and kiln's deliberately do not (README "deliberate differences"): the mount
/// points runc creates in the first RUN layer when the base image lacks them.
const RUNTIME_MOUNT_POINTS: &[&str] = &["dev", "proc", "sys"];

type Tree = BTreeMap<String, Value>;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/differential")
}

/// The merged tree under `root`, in the golden files' shape.
fn tree_of(root: &Path) -> Tree {
    let mut tree = Tree::new();
    let mut inodes: HashMap<u64, Vec<String>> = HashMap::new();
    walk(root, root, &mut tree, &mut inodes);
    for mut paths in inodes.into_values().filter(|p| p.len() > 1) {
        paths.sort();
        for p in &paths[1..] {
            tree.get_mut(p).unwrap()["hardlink"] = json!(paths[0]);
        }
    }
    tree
}

fn walk(root: &Path, dir: &Path, tree: &mut Tree, inodes: &mut HashMap<u64, Vec<String>>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let rel = path.strip_prefix(root).unwrap().to_str().unwrap().to_owned();
        let m = std::fs::symlink_metadata(&path).unwrap();
        let mut e = json!({"mode": m.mode() & 0o7777, "uid": m.uid(), "gid": m.gid()});
        let ft = m.file_type();
        use std::os::unix::fs::FileTypeExt;
        if ft.is_dir() {
            e["type"] = json!("dir");
            walk(root, &path, tree, inodes);
        } else if ft.is_symlink() {
            e["type"] = json!("symlink");
            e["target"] = json!(std::fs::read_link(&path).unwrap().to_str().unwrap());
        } else if ft.is_file() {
            let data = std::fs::read(&path).unwrap();
            e["type"] = json!("file");
            e["size"] = json!(data.len());
            e["sha256"] = json!(format!("{:x}", Sha256::digest(&data)));
            if m.nlink() > 1 {
                inodes.entry(m.ino()).or_default().push(rel.clone());
            }
        } else if ft.is_fifo() {
            e["type"] = json!("fifo");
        } else if ft.is_char_device() {
            e["type"] = json!("char");
        } else if ft.is_block_device() {
            e["type"] = json!("block");
        }
        tree.insert(rel, e);
    }
}

/// What `image` changed over `base`: changed or added entries, and `null` for removed paths. File
/// contents equal to a base file's are named by that file (`base:bin/busybox`).
fn changes(base: &Tree, image: &Tree) -> Tree {
    let by_hash: HashMap<&str, &str> =
        base.iter().filter_map(|(p, e)| Some((e.get("sha256")?.as_str()?, p.as_str()))).collect();
    let mut out = Tree::new();
    for (p, e) in image {
        if base.get(p) == Some(e) {
            continue;
        }
        let mut e = e.clone();
        if let Some(from) = e.get("sha256").and_then(Value::as_str).and_then(|h| by_hash.get(h)) {
            e["sha256"] = json!(format!("base:{from}"));
            e["size"] = Value::Null;
        }
        out.insert(p.clone(), e);
    }
    for p in base.keys().filter(|p| !image.contains_key(*p)) {
        out.insert(p.clone(), Value::Null);
    }
    out
}

/// Empty values (absent, null, "", [], {}) compare equal, as `docker inspect` shows them.
fn normalized(v: Option<&Value>) -> Value {
    match v {
        None | Some(Value::Null) => Value::Null,
        Some(Value::String(s)) if s.is_empty() => Value::Null,
        Some(Value::Array(a)) if a.is_empty() => Value::Null,
        Some(Value::Object(o)) if o.is_empty() => Value::Null,
        Some(v) => v.clone(),
    }
}

/// Copies `src` to `dest` with the modes the recording script normalizes to (dirs 0755, files 0644 or
/// 0755 when executable), so the checkout's umask does not matter.
fn copy_normalized(src: &Path, dest: &Path) {
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let (from, to) = (entry.path(), dest.join(entry.file_name()));
        let m = std::fs::symlink_metadata(&from).unwrap();
        if m.is_dir() {
            std::fs::create_dir_all(&to).unwrap();
            copy_normalized(&from, &to);
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o755)).unwrap();
        } else if m.file_type().is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&from).unwrap(), &to).unwrap();
        } else {
            std::fs::copy(&from, &to).unwrap();
            let mode = if m.mode() & 0o100 != 0 { 0o755 } else { 0o644 };
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(mode)).unwrap();
        }
    }
}

/// Builds fixture `name` with kiln and returns the differences from BuildKit's golden (empty = equal).
#[allow(clippy::print_stderr)] // a note in the test log about a different base, as skip_unless! prints
fn compare(name: &str) -> Vec<String> {
    let dir = fixtures_dir().join(name);
    let golden: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("buildkit.json")).unwrap()).unwrap();
    let f = Fixture::new();
    let rootfs = f.dir.path().join("busybox-rootfs");
    kiln_store::transport::import_rootfs(
        &f.store,
        &rootfs,
        &[kiln_oci::Reference::parse("kiln-diff/busybox").unwrap()],
        &kiln_store::transport::RootfsImport::default(),
    )
    .unwrap();
    if dir.join("context").is_dir() {
        copy_normalized(&dir.join("context"), &f.ctx());
    }
    let dockerfile = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
    let built = match f.run(&f.request(&dockerfile, |_| {})) {
        Ok(built) => built,
        Err(e) => return vec![format!("{name}: kiln's build failed: {}", e.0)],
    };
    let image = tree_of(&f.rootfs(&built));
    let base = tree_of(&rootfs);

    let tree_from = |key: &str| -> Tree {
        golden[key].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    };
    let (golden_base, golden_image) = (tree_from("base"), tree_from("image"));
    if golden_base != base {
        let differing: Vec<&String> = golden_base
            .keys()
            .chain(base.keys())
            .filter(|p| golden_base.get(*p) != base.get(*p))
            .take(5)
            .collect();
        eprintln!(
            "{name}: this machine's base image differs from the recording's ({differing:?}, e.g. another \
             busybox-static version); comparing only what the Dockerfile changed"
        );
    }
    let mut want = changes(&golden_base, &golden_image);
    let have = changes(&base, &image);
    for p in RUNTIME_MOUNT_POINTS {
        if want.get(*p).is_some_and(|e| e["type"] == "dir") && !have.contains_key(*p) {
            want.remove(*p);
        }
    }
    let mut problems = Vec::new();
    for p in want.keys().chain(have.keys().filter(|p| !want.contains_key(*p))) {
        let (w, h) = (want.get(p), have.get(p));
        if w != h {
            let show = |v: Option<&Value>| v.map_or("unchanged".to_owned(), |v| v.to_string());
            problems.push(format!("{name}: /{p}: BuildKit {} | kiln {}", show(w), show(h)));
        }
    }
    let config = serde_json::to_value(&built.output.config).unwrap();
    for field in CONFIG_FIELDS {
        let (w, h) = (normalized(golden["config"].get(*field)), normalized(config["config"].get(*field)));
        if w != h {
            problems.push(format!("{name}: config {field}: BuildKit {w} | kiln {h}"));
        }
    }
    problems
}

/// Every recorded fixture builds with kiln to what BuildKit built.
#[test]
fn kiln_builds_what_buildkit_builds() {
    need_root!();
    let mut names: Vec<String> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("buildkit.json").is_file())
        .map(|p| p.file_name().unwrap().to_str().unwrap().to_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 7, "the differential fixtures are missing: {names:?}");
    let only = std::env::var("KILN_DIFFERENTIAL").ok();
    let problems: Vec<String> = names
        .iter()
        .filter(|n| only.as_deref().is_none_or(|o| o == n.as_str()))
        .flat_map(|n| compare(n))
        .collect();
    assert!(problems.is_empty(), "kiln differs from BuildKit:\n{}", problems.join("\n"));
}
