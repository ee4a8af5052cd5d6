//! Content checksums of selections ([`Context::checksum`]): one [`Digest`] for what a COPY/ADD reads, a
//! digest per entry (so a cache miss can name the file that changed, [`diff_entries`]), and a stat-keyed
//! memo ([`ChecksumMemo`]) so an unchanged context re-hashes almost nothing.
//!
//! What is hashed: per entry, its kind, permission bits, owner, and its content (a file's SHA-256, a
//! symlink's target, a device's number); per selection, each match's path and each entry's path relative
//! to the match with its entry digest. Not hashed: times, inode numbers, the host path of the context.
//!
//! The memo maps a [`MemoKey`] — the file's host path, device, inode, size, mtime, ctime and mode — to the
//! SHA-256 of its content. Any change to the file changes its ctime, so a stale entry is never hit; a file
//! modified within [`RACY_WINDOW`] of being hashed is not memoized (its timestamp could still be shared
//! with a later change, git's "racy" case). The build engine implements the trait over the store's memo
//! table; this crate does not depend on the store.

use std::collections::HashMap;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kiln_oci::Digest;
use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::context::Context;
use crate::error::{Result, io_err};
use crate::select::Selection;
use crate::walk::{Entry, EntryKind};

/// Files modified less than this long before they are hashed are not memoized.
pub const RACY_WINDOW: Duration = Duration::from_secs(1);

/// Versions the key and digest formats; bump it when either changes.
const FORMAT: &[u8] = b"kiln-context/v1\0";

/// The memo key of a file: its stat identity (opaque bytes, stable across processes).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MemoKey(Vec<u8>);

impl MemoKey {
    /// The key bytes (to store).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    fn of(context: &Context, entry: &Entry) -> MemoKey {
        let host = context.root().join(&entry.path);
        let s = &entry.stat;
        let mut k = Vec::with_capacity(FORMAT.len() + host.as_os_str().len() + 64);
        k.extend_from_slice(FORMAT);
        k.extend_from_slice(host.as_os_str().as_bytes());
        k.push(0);
        for n in [s.dev, s.ino, entry.size] {
            k.extend_from_slice(&n.to_le_bytes());
        }
        for n in [s.mtime.0, s.mtime.1, s.ctime.0, s.ctime.1] {
            k.extend_from_slice(&n.to_le_bytes());
        }
        k.extend_from_slice(&s.raw_mode.to_le_bytes());
        MemoKey(k)
    }
}

/// A persistent map from file identity to content digest, implemented by the caller (the build engine
/// over the store's memo table). Lookups and stores are batched: one call per checksum.
///
/// Implementations must not fail the build: a lookup that cannot be answered is a miss (`None`), a store
/// that cannot be written is dropped (the file is hashed again next time).
pub trait ChecksumMemo: Sync {
    /// The digests recorded for `keys`, one answer per key, in order.
    fn get(&self, keys: &[MemoKey]) -> Vec<Option<Digest>>;
    /// Records content digests.
    fn put(&self, entries: &[(MemoKey, Digest)]);
}

/// A memo that remembers nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoMemo;

impl ChecksumMemo for NoMemo {
    fn get(&self, keys: &[MemoKey]) -> Vec<Option<Digest>> {
        vec![None; keys.len()]
    }

    fn put(&self, _: &[(MemoKey, Digest)]) {}
}

/// An in-memory memo (tests, and one-shot commands that still want batching).
#[derive(Debug, Default)]
pub struct MemoryMemo {
    map: Mutex<HashMap<MemoKey, Digest>>,
}

impl MemoryMemo {
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl ChecksumMemo for MemoryMemo {
    fn get(&self, keys: &[MemoKey]) -> Vec<Option<Digest>> {
        match self.map.lock() {
            Ok(m) => keys.iter().map(|k| m.get(k).cloned()).collect(),
            Err(_) => vec![None; keys.len()],
        }
    }

    fn put(&self, entries: &[(MemoKey, Digest)]) {
        if let Ok(mut m) = self.map.lock() {
            m.extend(entries.iter().cloned());
        }
    }
}

/// The checksum of one or more selections.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checksum {
    /// One digest for everything selected (the COPY/ADD cache-key ingredient).
    pub digest: Digest,
    /// Per selected entry, by context-relative path (sorted, without repeats): what changed can be named.
    pub entries: Vec<EntryDigest>,
    /// What the computation did.
    pub stats: ChecksumStats,
}

/// The digest of one entry (metadata and content).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct EntryDigest {
    /// Context-relative path.
    pub path: String,
    /// Its digest.
    pub digest: Digest,
}

/// Counters of one checksum computation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ChecksumStats {
    /// Entries digested.
    pub entries: usize,
    /// Regular files among them (distinct).
    pub files: usize,
    /// Files whose content was read and hashed.
    pub hashed: usize,
    /// Files whose content digest came from the memo (this process's or the caller's).
    pub memo_hits: usize,
    /// Bytes read to hash.
    pub bytes_hashed: u64,
}

/// How one entry differs between two checksums.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", content = "path", rename_all = "lowercase")]
pub enum EntryChange {
    /// Only in the new checksum.
    Added(String),
    /// Only in the old checksum.
    Removed(String),
    /// In both, with different digests (content, mode, type or link target).
    Modified(String),
}

/// The entries that differ between `old` and `new` (each sorted by path, as in [`Checksum::entries`]).
pub fn diff_entries(old: &[EntryDigest], new: &[EntryDigest]) -> Vec<EntryChange> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < old.len() || j < new.len() {
        match (old.get(i), new.get(j)) {
            (Some(a), Some(b)) if a.path == b.path => {
                if a.digest != b.digest {
                    out.push(EntryChange::Modified(b.path.clone()));
                }
                i += 1;
                j += 1;
            }
            (Some(a), Some(b)) if a.path < b.path => {
                out.push(EntryChange::Removed(a.path.clone()));
                i += 1;
            }
            (Some(_), Some(b)) | (None, Some(b)) => {
                out.push(EntryChange::Added(b.path.clone()));
                j += 1;
            }
            (Some(a), None) => {
                out.push(EntryChange::Removed(a.path.clone()));
                i += 1;
            }
            (None, None) => break,
        }
    }
    out
}

impl Context {
    /// Checksums `selections` (e.g. all sources of one COPY), taking file content digests from this
    /// context's own cache, then from `memo`, and hashing the rest in parallel (then recording them).
    pub fn checksum(&self, selections: &[Selection], memo: &dyn ChecksumMemo) -> Result<Checksum> {
        let mut files: Vec<&Entry> = selections
            .iter()
            .flat_map(|s| &s.matches)
            .flat_map(|m| &m.entries)
            .map(|e| &e.entry)
            .filter(|e| e.kind == EntryKind::File)
            .collect();
        files.sort_unstable_by(|a, b| a.path.cmp(&b.path));
        files.dedup_by(|a, b| a.path == b.path);
        let contents = self.content_digests(&files, memo)?;

        let mut stats = contents.stats;
        let mut by_path: HashMap<&str, Digest> = HashMap::new();
        let mut h = Sha256::new();
        h.update(FORMAT);
        h.update(b"selections\0");
        for s in selections {
            h.update(b"S");
            h.update(s.source.as_bytes());
            h.update(b"\0");
            for m in &s.matches {
                h.update(b"M");
                h.update(m.path.as_bytes());
                h.update(b"\0");
                h.update(m.resolved.as_bytes());
                h.update(b"\0");
                for e in &m.entries {
                    let digest = match by_path.get(e.entry.path.as_str()) {
                        Some(d) => d.clone(),
                        None => {
                            let d = entry_digest(&e.entry, contents.map.get(e.entry.path.as_str()));
                            by_path.insert(&e.entry.path, d.clone());
                            d
                        }
                    };
                    h.update(b"E");
                    h.update(e.rel.as_bytes());
                    h.update(b"\0");
                    h.update(digest.hex().as_bytes());
                }
            }
        }
        let mut entries: Vec<EntryDigest> =
            by_path.into_iter().map(|(path, digest)| EntryDigest { path: path.to_owned(), digest }).collect();
        entries.sort_unstable();
        stats.entries = entries.len();
        Ok(Checksum { digest: Digest::from_sha256_bytes(h.finalize().into()), entries, stats })
    }

    /// Content digests of regular files, by context path.
    fn content_digests<'e>(&self, files: &[&'e Entry], memo: &dyn ChecksumMemo) -> Result<Contents<'e>> {
        let mut stats = ChecksumStats { files: files.len(), ..ChecksumStats::default() };
        let keys: Vec<MemoKey> = files.iter().map(|e| MemoKey::of(self, e)).collect();
        let mut found: Vec<Option<Digest>> = {
            let cache = self.hashed.lock().ok();
            keys.iter().map(|k| cache.as_ref().and_then(|c| c.get(k).cloned())).collect()
        };
        let missing: Vec<usize> = (0..files.len()).filter(|&i| found[i].is_none()).collect();
        if !missing.is_empty() {
            let asked: Vec<MemoKey> = missing.iter().map(|&i| keys[i].clone()).collect();
            for (&i, answer) in missing.iter().zip(memo.get(&asked)) {
                found[i] = answer;
            }
        }
        stats.memo_hits = found.iter().filter(|f| f.is_some()).count();

        let bytes = AtomicU64::new(0);
        let todo: Vec<usize> = (0..files.len()).filter(|&i| found[i].is_none()).collect();
        let hash = |&i: &usize| -> Result<(usize, Digest)> {
            let host = self.root().join(&files[i].path);
            let (digest, n) = hash_file(&host)?;
            bytes.fetch_add(n, Ordering::Relaxed);
            Ok((i, digest))
        };
        // A root filesystem may be mounted in the calling thread's private mount namespace, which rayon's
        // pool threads do not see (walk.rs): hash it on the calling thread.
        let hashed: Vec<(usize, Digest)> = if self.keeps_owners() {
            todo.iter().map(hash).collect::<Result<_>>()?
        } else {
            todo.par_iter().map(hash).collect::<Result<_>>()?
        };
        stats.hashed = hashed.len();
        stats.bytes_hashed = bytes.into_inner();

        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let settled = |e: &Entry| {
            let mtime = Duration::new(
                u64::try_from(e.stat.mtime.0).unwrap_or(0),
                u32::try_from(e.stat.mtime.1).unwrap_or(0),
            );
            mtime + RACY_WINDOW < now
        };
        let mut to_memo = Vec::new();
        for (i, digest) in hashed {
            if settled(files[i]) {
                to_memo.push((keys[i].clone(), digest.clone()));
            }
            found[i] = Some(digest);
        }
        if !to_memo.is_empty() {
            memo.put(&to_memo);
        }
        let mut map = HashMap::with_capacity(files.len());
        if let Ok(mut cache) = self.hashed.lock() {
            for ((k, e), d) in keys.into_iter().zip(files).zip(&found) {
                if let Some(d) = d {
                    if settled(e) {
                        cache.insert(k, d.clone());
                    }
                    map.insert(e.path.as_str(), d.clone());
                }
            }
        }
        Ok(Contents { map, stats })
    }
}

struct Contents<'e> {
    map: HashMap<&'e str, Digest>,
    stats: ChecksumStats,
}

/// SHA-256 of a file's content and its length.
fn hash_file(path: &std::path::Path) -> Result<(Digest, u64)> {
    let mut file = std::fs::File::open(path).map_err(io_err(path))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 128 * 1024];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(io_err(path))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        total += n as u64;
    }
    Ok((Digest::from_sha256_bytes(h.finalize().into()), total))
}

/// The digest of one entry: kind, mode, owner and content (`content` is the file's content digest).
fn entry_digest(e: &Entry, content: Option<&Digest>) -> Digest {
    let mut h = Sha256::new();
    h.update(FORMAT);
    let (tag, payload): (&[u8], String) = match &e.kind {
        EntryKind::File => (b"file", content.map(|d| d.hex().to_owned()).unwrap_or_default()),
        EntryKind::Dir => (b"dir", String::new()),
        EntryKind::Symlink { target } => (b"symlink", target.clone()),
        EntryKind::Fifo => (b"fifo", String::new()),
        EntryKind::CharDevice { rdev } => (b"char", rdev.to_string()),
        EntryKind::BlockDevice { rdev } => (b"block", rdev.to_string()),
    };
    h.update(tag);
    h.update(format!("\0{:o}\0{}\0{}\0", e.mode, e.uid, e.gid).as_bytes());
    h.update(payload.as_bytes());
    Digest::from_sha256_bytes(h.finalize().into())
}
