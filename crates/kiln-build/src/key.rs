//! Cache keys, known before a step runs, and the records that explain a miss.
//!
//! `key(step) = sha256(format ‖ key(parent) ‖ kind ‖ ingredients)`, where the parent is the previous
//! filesystem step of the stage (or its FROM) and the [`Ingredients`] are the step's named inputs: for RUN
//! the command, each environment variable and build arg, user, working directory, network and security
//! mode and every mount spec (never a secret's value, never a cache mount's contents); for COPY/ADD the
//! checksum of what the sources select, the flags, the destination and the working directory; for FROM the
//! base image's manifest digest. Metadata instructions (ENV, USER, WORKDIR, ...) reach the key through the
//! state they change (environment, user, working directory), exactly where they change a step's result;
//! a LABEL or CMD therefore invalidates nothing, as in BuildKit.
//!
//! Each step also records its ingredients under a stable identity (build, stage, instruction index) in the
//! store's memo table ([`StepRecord`]); when a step misses, [`explain`] names what changed since that
//! record: `file src/main.c modified`, `build arg VERSION changed`, `the base image busybox changed`, `step #3 changed`.

use kiln_context::{EntryChange, EntryDigest, diff_entries};
use kiln_oci::Digest;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// Versions the key format: bump it when what goes into a key changes.
const FORMAT: &[u8] = b"kiln-build/key/v1\0";
/// The memo-table namespace of step records.
const STEP_NAMESPACE: &str = "kiln-build/step/v1";

/// The named inputs of one step, in a fixed order. Values are digested, so a record never holds a
/// value itself (build args may be sensitive).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Ingredients {
    items: Vec<(String, String)>,
}

impl Ingredients {
    /// Adds ingredient `name` with `value` (digested).
    pub(crate) fn add(&mut self, name: impl Into<String>, value: impl AsRef<[u8]>) -> &mut Self {
        let digest = Digest::sha256_of(value.as_ref());
        self.items.push((name.into(), digest.hex().to_owned()));
        self
    }

    /// The cache key of a step of `kind` with these ingredients after `parent`.
    pub(crate) fn key(&self, kind: &str, parent: &Digest) -> Digest {
        let mut h = Sha256::new();
        h.update(FORMAT);
        h.update(parent.to_string().as_bytes());
        h.update(b"\0");
        h.update(kind.as_bytes());
        h.update(b"\0");
        for (name, value) in &self.items {
            h.update(name.as_bytes());
            h.update(b"\0");
            h.update(value.as_bytes());
            h.update(b"\0");
        }
        Digest::from_sha256_bytes(h.finalize().into())
    }
}

/// What a cache entry holds: the layer a step produced and when it was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CacheRecord {
    /// The layer's DiffID (the uncompressed blob's digest).
    pub(crate) diff_id: Digest,
    /// When the layer was made (RFC 3339): the history time BuildKit reports for it.
    pub(crate) created: String,
}

/// The last recorded inputs of one step (by its identity), to explain the next miss.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StepRecord {
    /// The key the step had.
    pub(crate) key: Digest,
    /// Its parent key.
    pub(crate) parent: Digest,
    /// Its ingredients.
    pub(crate) ingredients: Ingredients,
    /// For COPY/ADD from a context: each selected entry's path and digest, sorted by path.
    #[serde(default)]
    pub(crate) files: Vec<(String, Digest)>,
}

/// The memo-table key of the record of step `step` (its index, or what it builds on) of stage `stage` in
/// build `build`.
pub(crate) fn step_record_key(build: &str, stage: &str, step: &str) -> Vec<u8> {
    format!("{STEP_NAMESPACE}\0{build}\0{stage}\0{step}").into_bytes()
}

/// How many changed files a miss reason lists before summarizing.
const MAX_FILES: usize = 10;

/// What changed between the recorded inputs `old` of a step and its inputs now (`new`), as short phrases;
/// `parent` names what the step builds on (`the base image busybox`, `step #3`) for when that changed.
pub(crate) fn explain(old: &StepRecord, new: &StepRecord, parent: &str) -> Vec<String> {
    let mut out = Vec::new();
    if old.parent != new.parent {
        out.push(format!("{parent} changed"));
    }
    let old_items = &old.ingredients.items;
    let new_items = &new.ingredients.items;
    for (name, value) in new_items {
        match old_items.iter().find(|(n, _)| n == name) {
            None => out.push(format!("{name} added")),
            Some((_, v)) if v != value => out.push(format!("{name} changed")),
            Some(_) => {}
        }
    }
    for (name, _) in old_items {
        if !new_items.iter().any(|(n, _)| n == name) {
            out.push(format!("{name} removed"));
        }
    }
    let entries = |f: &[(String, Digest)]| -> Vec<EntryDigest> {
        f.iter().map(|(path, digest)| EntryDigest { path: path.clone(), digest: digest.clone() }).collect()
    };
    let changes = diff_entries(&entries(&old.files), &entries(&new.files));
    for change in changes.iter().take(MAX_FILES) {
        out.push(match change {
            EntryChange::Added(p) => format!("file {p} added"),
            EntryChange::Removed(p) => format!("file {p} removed"),
            EntryChange::Modified(p) => format!("file {p} modified"),
        });
    }
    if changes.len() > MAX_FILES {
        out.push(format!("and {} more files", changes.len() - MAX_FILES));
    }
    if !changes.is_empty() {
        // The files are summarized by the `sources` ingredient, whose change is now explained.
        out.retain(|r| r != "sources changed");
    }
    if out.is_empty() {
        out.push("the cache entry is gone (pruned, or --no-cache)".to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_key(f: impl FnOnce(&mut Ingredients)) -> Digest {
        let mut i = Ingredients::default();
        i.add("command", "[\"/bin/sh\",\"-c\",\"make\"]").add("env PATH", "/bin").add("user", "");
        f(&mut i);
        i.key("RUN", &Digest::sha256_of(b"parent"))
    }

    #[test]
    fn every_ingredient_and_the_parent_change_the_key() {
        let base = run_key(|_| {});
        assert_eq!(base, run_key(|_| {}), "keys are deterministic");
        assert_ne!(
            base,
            run_key(|i| {
                i.add("workdir", "/src");
            })
        );
        let mut i = Ingredients::default();
        i.add("command", "[\"/bin/sh\",\"-c\",\"make\"]").add("env PATH", "/usr/bin").add("user", "");
        assert_ne!(base, i.key("RUN", &Digest::sha256_of(b"parent")));
        assert_ne!(base, i.key("RUN", &Digest::sha256_of(b"other parent")));
        assert_ne!(i.key("RUN", &Digest::sha256_of(b"p")), i.key("COPY", &Digest::sha256_of(b"p")));
    }

    #[test]
    fn names_and_values_cannot_be_confused() {
        let mut a = Ingredients::default();
        a.add("env A", "1");
        let mut b = Ingredients::default();
        b.add("env A1", "");
        let p = Digest::sha256_of(b"p");
        assert_ne!(a.key("RUN", &p), b.key("RUN", &p));
    }

    #[test]
    fn explanations_name_what_changed() {
        let p = Digest::sha256_of(b"p");
        let mut a = Ingredients::default();
        a.add("build arg V", "1").add("sources", "x");
        let mut b = Ingredients::default();
        b.add("build arg V", "2").add("sources", "y");
        let file = |path: &str, d: &[u8]| (path.to_owned(), Digest::sha256_of(d));
        let old = StepRecord {
            key: a.key("COPY", &p),
            parent: p.clone(),
            ingredients: a,
            files: vec![file("a.c", b"1")],
        };
        let new =
            StepRecord { key: b.key("COPY", &p), parent: p, ingredients: b, files: vec![file("a.c", b"2")] };
        assert_eq!(explain(&old, &new, "step #1"), vec!["build arg V changed", "file a.c modified"]);
    }
}
