//! The one pass over an image's layers: every layer is streamed once ([`kiln_layer::visit`]), in order;
//! text files are scanned for secrets (deleted files included: a later layer's whiteout does not remove
//! the bytes from the image), and the facts the checks need (setuid/setgid bits, world-writable modes,
//! `sudo`, package-manager caches) are recorded with the layer they come from. Replaying the layers'
//! whiteouts, opaque directories and replacements then tells which facts the final filesystem still
//! shows ([`Fact::visible`]).

use std::collections::BTreeMap;
use std::io::Read as _;

use kiln_layer::{Entry, EntryKind, LayerError};
use kiln_oci::{Digest, ImageConfig};
use kiln_store::Store;

use crate::secrets::{self, Scanner, SecretMatch};
use crate::{AuditError, AuditOptions, AuditStats};

/// Something the checks care about, at one path of one layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FactKind {
    /// A regular file with setuid and/or setgid (mode bits).
    Setuid(u32),
    /// A world-writable regular file or non-sticky directory (mode bits, whether a directory).
    WorldWritable(u32, bool),
    /// The `sudo` binary.
    Sudo,
    /// A file in a package manager's cache (manager name, size).
    Cache(&'static str, u64),
    /// A secret in the file's content.
    Secret(Box<SecretMatch>),
}

/// A fact and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fact {
    /// Absolute path.
    pub(crate) path: String,
    /// Layer index, base first.
    pub(crate) layer: usize,
    /// What it is.
    pub(crate) kind: FactKind,
    /// Whether the final filesystem still has it.
    pub(crate) visible: bool,
}

/// Facts of all layers, indexed by path for the visibility replay.
#[derive(Debug, Default)]
pub(crate) struct Facts {
    pub(crate) all: Vec<Fact>,
    by_path: BTreeMap<String, Vec<usize>>,
}

impl Facts {
    fn add(&mut self, path: &str, layer: usize, kind: FactKind) {
        self.by_path.entry(path.to_owned()).or_default().push(self.all.len());
        self.all.push(Fact { path: format!("/{path}"), layer, kind, visible: true });
    }

    /// Hides facts of layers before `layer` at `path` itself and/or below it.
    fn hide(&mut self, path: &str, layer: usize, itself: bool, below: bool) {
        let hide = |ids: &Vec<usize>, all: &mut Vec<Fact>| {
            for &i in ids {
                if all[i].layer < layer {
                    all[i].visible = false;
                }
            }
        };
        if itself && let Some(ids) = self.by_path.get(path) {
            hide(ids, &mut self.all);
        }
        if below {
            let prefix = if path.is_empty() { String::new() } else { format!("{path}/") };
            for (p, ids) in self.by_path.range(prefix.clone()..) {
                if !p.starts_with(&prefix) {
                    break;
                }
                if p.len() > prefix.len() || path.is_empty() {
                    hide(ids, &mut self.all);
                }
            }
        }
    }
}

/// The package-manager cache a path belongs to, if any.
fn cache_manager(path: &str) -> Option<&'static str> {
    let in_home = |rest: &str| {
        path.strip_prefix("root/").is_some_and(|p| p.starts_with(rest))
            || path
                .strip_prefix("home/")
                .and_then(|p| p.split_once('/'))
                .is_some_and(|(_, p)| p.starts_with(rest))
    };
    if path.starts_with("var/cache/apt/") && (path.ends_with(".deb") || path.ends_with(".bin")) {
        return Some("apt");
    }
    if let Some(rest) = path.strip_prefix("var/lib/apt/lists/") {
        return (rest != "lock" && !rest.starts_with("partial") && !rest.is_empty()).then_some("apt");
    }
    if path.starts_with("var/cache/apk/") || path.starts_with("etc/apk/cache/") {
        return Some("apk");
    }
    if path.starts_with("var/cache/yum/") || path.starts_with("var/cache/dnf/") {
        return Some("yum/dnf");
    }
    if in_home(".cache/pip/") {
        return Some("pip");
    }
    if in_home(".npm/_cacache/") {
        return Some("npm");
    }
    if in_home(".cache/yarn/") || path.starts_with("usr/local/share/.cache/yarn/") {
        return Some("yarn");
    }
    if in_home(".cache/go-build/") {
        return Some("go");
    }
    None
}

fn world_writable_exempt(path: &str) -> bool {
    ["tmp", "var/tmp", "dev/shm"].iter().any(|t| path == *t || path.starts_with(&format!("{t}/")))
}

/// One change a layer makes to the facts, in tar order.
#[derive(Debug, Clone)]
enum Event {
    /// A fact at a path (relative, no leading `/`).
    Add(String, FactKind),
    /// Facts of lower layers at `path` itself and/or below it are gone.
    Hide { path: String, itself: bool, below: bool },
}

/// The audit's view of one layer: fed entry by entry (by [`audit`](crate::audit)'s own pass, or by
/// another walker that reads the layers once for several scanners, such as `kiln scan`'s), then merged
/// with the other layers by [`crate::audit_layers`]. Layers are independent until merged, so they can be
/// fed in parallel.
#[derive(Debug)]
pub struct LayerAudit {
    layer: usize,
    options: AuditOptions,
    events: Vec<Event>,
    stats: AuditStats,
}

impl LayerAudit {
    /// An empty view of layer `layer_index` (base first).
    pub fn new(layer_index: usize, options: &AuditOptions) -> LayerAudit {
        // The secrets check (CIS-DI-0010) needs the secret scan even when secrets are not reported.
        let options = AuditOptions { secrets: options.secrets || options.checks, ..options.clone() };
        LayerAudit { layer: layer_index, options, events: Vec::new(), stats: AuditStats::default() }
    }

    /// For a regular file: how many bytes of its content the audit needs, given its first bytes (`None`:
    /// none beyond them). Text files up to the size limit are read whole, for the secret scan.
    pub fn wants(&self, entry: &Entry, head: &[u8]) -> Option<u64> {
        let scan = self.options.secrets
            && entry.kind == EntryKind::File
            && entry.size > 0
            && entry.size <= self.options.max_file_bytes
            && !secrets::looks_binary(head);
        scan.then_some(entry.size)
    }

    /// Records one entry of the layer, in tar order. For regular files, `content` is the bytes read (at
    /// least the first [`secrets::BINARY_SNIFF_BYTES`], or the whole file), `complete` whether that is
    /// the whole file; other entries pass an empty slice.
    pub fn visit(&mut self, entry: &Entry, content: &[u8], complete: bool) {
        let path = entry.path.as_str();
        let hide = |itself, below| Event::Hide { path: path.to_owned(), itself, below };
        match &entry.kind {
            EntryKind::Whiteout => {
                self.events.push(hide(true, true));
                return;
            }
            EntryKind::OpaqueDir => {
                self.events.push(hide(false, true));
                return;
            }
            EntryKind::Dir => self.events.push(hide(true, false)),
            _ => self.events.push(hide(true, true)),
        }
        let is_file = matches!(entry.kind, EntryKind::File | EntryKind::Hardlink { .. });
        if self.options.checks {
            if is_file && entry.mode & 0o6000 != 0 {
                self.add(path, FactKind::Setuid(entry.mode));
            }
            let is_dir = entry.kind == EntryKind::Dir;
            let sticky_dir = is_dir && entry.mode & 0o1000 != 0;
            if (is_file || is_dir) && entry.mode & 0o002 != 0 && !sticky_dir && !world_writable_exempt(path) {
                self.add(path, FactKind::WorldWritable(entry.mode, is_dir));
            }
            if matches!(path, "usr/bin/sudo" | "bin/sudo" | "usr/sbin/sudo" | "usr/local/bin/sudo")
                && !matches!(entry.kind, EntryKind::Dir)
            {
                self.add(path, FactKind::Sudo);
            }
            if entry.kind == EntryKind::File
                && let Some(manager) = cache_manager(path)
            {
                self.add(path, FactKind::Cache(manager, entry.size));
            }
        }
        if self.options.secrets && entry.kind == EntryKind::File && entry.size > 0 {
            if entry.size > self.options.max_file_bytes {
                self.stats.skipped_large += 1;
                return;
            }
            if secrets::looks_binary(content) {
                self.stats.skipped_binary += 1;
                return;
            }
            if !complete {
                // The walker read less than `wants` asked for: count it rather than scan a fragment.
                self.stats.skipped_large += 1;
                return;
            }
            self.stats.files_scanned += 1;
            self.stats.bytes_scanned += content.len() as u64;
            for m in Scanner::get().scan_file(&format!("/{path}"), content) {
                self.add(path, FactKind::Secret(Box::new(m)));
            }
        }
    }

    fn add(&mut self, path: &str, kind: FactKind) {
        self.events.push(Event::Add(path.to_owned(), kind));
    }
}

/// Replays the layers' events in layer order: the facts of every layer, each marked visible unless a
/// later layer hid it. Adds the layers' statistics to `stats`.
pub(crate) fn replay(mut layers: Vec<LayerAudit>, stats: &mut AuditStats) -> Facts {
    layers.sort_by_key(|l| l.layer);
    let mut facts = Facts::default();
    for l in layers {
        stats.files_scanned += l.stats.files_scanned;
        stats.bytes_scanned += l.stats.bytes_scanned;
        stats.skipped_binary += l.stats.skipped_binary;
        stats.skipped_large += l.stats.skipped_large;
        for e in l.events {
            match e {
                Event::Add(path, kind) => facts.add(&path, l.layer, kind),
                Event::Hide { path, itself, below } => facts.hide(&path, l.layer, itself, below),
            }
        }
    }
    facts
}

/// Reads every layer of the image once, in order, into one [`LayerAudit`] each.
pub(crate) fn walk(
    store: &Store,
    config: &ImageConfig,
    options: &AuditOptions,
) -> Result<Vec<LayerAudit>, AuditError> {
    let mut layers = Vec::new();
    let mut buf = Vec::new();
    for (layer, diff_id) in config.rootfs.diff_ids.iter().enumerate() {
        let blob = store.open_blob(diff_id).map_err(|source| AuditError::LayerOpen {
            index: layer,
            diff_id: diff_id.clone(),
            source,
        })?;
        let layer_err =
            |source: LayerError| AuditError::Layer { index: layer, diff_id: diff_id.clone(), source };
        let mut audit = LayerAudit::new(layer, options);
        kiln_layer::visit(std::io::BufReader::with_capacity(1 << 20, blob), |entry, content| {
            buf.clear();
            if entry.kind != EntryKind::File {
                audit.visit(entry, &[], true);
                return Ok(());
            }
            let io = |source| LayerError::MemberIo {
                member: entry.path.clone(),
                action: "reading its content".into(),
                source,
            };
            let head = entry.size.min(secrets::BINARY_SNIFF_BYTES as u64);
            content.take(head).read_to_end(&mut buf).map_err(io)?;
            if let Some(limit) = audit.wants(entry, &buf) {
                let more = limit.saturating_sub(buf.len() as u64);
                content.take(more).read_to_end(&mut buf).map_err(io)?;
            }
            let complete = buf.len() as u64 >= entry.size;
            audit.visit(entry, &buf, complete);
            Ok(())
        })
        .map_err(layer_err)?;
        layers.push(audit);
    }
    Ok(layers)
}

/// The DiffIDs and history of the layers, for locating facts.
pub(crate) fn layer_provenance(config: &ImageConfig) -> Vec<(Digest, Option<String>)> {
    let history = config.layer_history();
    config
        .rootfs
        .diff_ids
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let line = history
                .get(i)
                .copied()
                .flatten()
                .and_then(|h| config.history.get(h))
                .and_then(|h| h.provenance())
                .map(|p| p.location());
            (d.clone(), line)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caches() {
        assert_eq!(cache_manager("var/cache/apt/archives/curl_8.5.0-1_amd64.deb"), Some("apt"));
        assert_eq!(
            cache_manager("var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease"),
            Some("apt")
        );
        assert_eq!(cache_manager("var/lib/apt/lists/lock"), None);
        assert_eq!(cache_manager("var/lib/apt/lists/partial/x"), None);
        assert_eq!(cache_manager("home/app/.cache/pip/http/a/b"), Some("pip"));
        assert_eq!(cache_manager("root/.npm/_cacache/index-v5/aa"), Some("npm"));
        assert_eq!(cache_manager("usr/lib/python3/x.py"), None);
    }

    #[test]
    fn visibility_replay() {
        let mut f = Facts::default();
        f.add("etc/secret", 0, FactKind::Sudo);
        f.add("app/a/b", 0, FactKind::Sudo);
        f.add("app/c", 0, FactKind::Sudo);
        f.add("apple", 0, FactKind::Sudo);
        f.hide("app", 1, true, true); // whiteout of /app
        f.hide("etc", 1, false, true); // opaque /etc
        let visible: Vec<(&str, bool)> = f.all.iter().map(|x| (x.path.as_str(), x.visible)).collect();
        assert_eq!(
            visible,
            [("/etc/secret", false), ("/app/a/b", false), ("/app/c", false), ("/apple", true)]
        );
    }
}
