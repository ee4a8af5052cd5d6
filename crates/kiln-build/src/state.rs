//! [`StageState`]: a stage while it is dispatched (BuildKit's `dispatchState`): the image config being
//! built (history included), the environment RUN steps and variable expansion see (image ENV, ENV
//! instructions and ARG values), the declared build args, the layer stack and the cache key so far.
//! Also the layer commit ([`commit_layer`]): a finished directory becomes a blob and a snapshot.

use std::path::Path;

use kiln_layer::{TreeSource, WriteOptions};
use kiln_oci::{Digest, History, ImageConfig};
use kiln_store::Lease;

use crate::error::BuildError;

/// BuildKit's default shell for shell-form instructions.
pub(crate) fn default_shell() -> Vec<String> {
    vec!["/bin/sh".to_owned(), "-c".to_owned()]
}

/// A stage being dispatched.
#[derive(Debug, Clone)]
pub(crate) struct StageState {
    /// The image config so far.
    pub(crate) config: ImageConfig,
    /// The environment: image ENV, ENV instructions and ARG values, in order, later ones replacing.
    pub(crate) env: Vec<(String, String)>,
    /// The ARGs declared so far (with the value each took, `None` when unset), for RUN's history entry.
    pub(crate) args: Vec<(String, Option<String>)>,
    /// Cache key of the last filesystem step.
    pub(crate) key: Digest,
    /// ChainID of the layer stack (`None`: empty filesystem).
    pub(crate) chain: Option<Digest>,
    /// Creation time of each layer (by index), for the history.
    pub(crate) layer_times: Vec<Option<String>>,
    /// The history of the base image, which `SOURCE_DATE_EPOCH` does not rewrite.
    pub(crate) base_history: Vec<History>,
    /// Whether CMD was set in this stage (ENTRYPOINT then keeps it).
    pub(crate) cmd_set: bool,
    /// What the next step builds on, for miss explanations (`the base image busybox`, `step #3`).
    pub(crate) parent: String,
}

impl StageState {
    /// The working directory (`/` when unset).
    pub(crate) fn workdir(&self) -> String {
        match self.config.config.working_dir.as_deref() {
            Some(w) if !w.is_empty() => w.to_owned(),
            _ => "/".to_owned(),
        }
    }

    /// The `USER` value (empty for root).
    pub(crate) fn user(&self) -> String {
        self.config.config.user.clone().unwrap_or_default()
    }

    /// The shell for shell-form instructions.
    pub(crate) fn shell(&self) -> Vec<String> {
        match &self.config.config.shell {
            Some(s) if !s.is_empty() => s.clone(),
            _ => default_shell(),
        }
    }

    /// The layers' DiffIDs.
    pub(crate) fn diff_ids(&self) -> &[Digest] {
        &self.config.rootfs.diff_ids
    }

    /// Sets variable `key` in the environment (replacing in place).
    pub(crate) fn set_env(&mut self, key: &str, value: &str) {
        match self.env.iter_mut().find(|(k, _)| k == key) {
            Some(e) => e.1 = value.to_owned(),
            None => self.env.push((key.to_owned(), value.to_owned())),
        }
    }

    /// The value of variable `key`.
    pub(crate) fn env_var(&self, key: &str) -> Option<&str> {
        self.env.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Appends a committed layer.
    pub(crate) fn push_layer(&mut self, diff_id: Digest, created: Option<String>) {
        self.chain = Some(match &self.chain {
            None => diff_id.clone(),
            Some(parent) => chain_of(parent, &diff_id),
        });
        self.config.rootfs.diff_ids.push(diff_id);
        self.layer_times.push(created);
    }
}

/// The ChainID of `diff_id` on top of `parent`.
pub(crate) fn chain_of(parent: &Digest, diff_id: &Digest) -> Digest {
    Digest::sha256_of(format!("{parent} {diff_id}").as_bytes())
}

/// Writes `dir` as a layer blob (uncompressed; its digest is the DiffID) and moves the directory itself into
/// the snapshot for the resulting ChainID (it already is in overlay lower-dir form). Returns the DiffID.
///
/// The tar is hashed once, by the tar writer (the blob writer only counts bytes), and written once. Only the
/// blob is synced: the snapshot is an unsynced one ([`Lease::ensure_snapshot_unsynced`]), which a crash of
/// the machine invalidates and the next build unpacks again from the durable blob.
pub(crate) fn commit_layer(
    lease: &Lease,
    dir: &Path,
    source: TreeSource,
    epoch: Option<i64>,
    parent_chain: Option<&Digest>,
) -> Result<Digest, BuildError> {
    let mut writer = lease.prehashed_blob_writer().map_err(BuildError::store("writing a layer"))?;
    let opts = WriteOptions { source, source_date_epoch: epoch, exclude: Vec::new() };
    let info = kiln_layer::write_tree(dir, &opts, &mut writer)
        .map_err(BuildError::layer(format!("writing the layer of {}", dir.display())))?;
    let (diff_id, _) = writer
        .commit_named(Some(&info.diff_id), Some(info.size), &format!("layer {}", info.diff_id))
        .map_err(BuildError::store("storing a layer"))?;
    let chain = match parent_chain {
        None => diff_id.clone(),
        Some(p) => chain_of(p, &diff_id),
    };
    lease
        .ensure_snapshot_unsynced(&chain, |staged| {
            // `staged` is an empty directory: rename(2) replaces it.
            std::fs::rename(dir, staged)?;
            Ok(())
        })
        .map_err(BuildError::store(format!("creating snapshot {chain}")))?;
    if dir.exists() {
        // The snapshot existed already (an identical layer): ours is not needed.
        remove_tree(dir);
    }
    Ok(diff_id)
}

/// Removes a directory tree, best effort (used for scratch directories; read-only directories inside are
/// made writable first).
pub(crate) fn remove_tree(dir: &Path) {
    if std::fs::remove_dir_all(dir).is_ok() || !dir.exists() {
        return;
    }
    for entry in walk_dirs(dir) {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o700));
    }
    let _ = std::fs::remove_dir_all(dir);
}

fn walk_dirs(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![dir.to_owned()];
    let mut i = 0;
    while i < out.len() {
        if let Ok(rd) = std::fs::read_dir(&out[i]) {
            for e in rd.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    out.push(e.path());
                }
            }
        }
        i += 1;
    }
    out
}

/// `mkdir -p`, naming the path on error.
pub(crate) fn mkdirs(path: impl AsRef<Path>) -> Result<(), BuildError> {
    let path = path.as_ref();
    std::fs::create_dir_all(path).map_err(BuildError::io("creating", path))
}

/// `mkdir`, naming the path on error.
pub(crate) fn mkdir(path: impl AsRef<Path>) -> Result<(), BuildError> {
    let path = path.as_ref();
    std::fs::create_dir(path).map_err(BuildError::io("creating", path))
}
