//! Build caches that travel between machines (`--cache-from`, `--cache-to`).
//!
//! - Importing: a [`CacheSource`] offers cache records (key → layer) and fetches a record's layer into the
//!   store. The engine reads every source's records once, before the build ([`RemoteRecords`]); a step
//!   that misses the local cache but matches a record fetches that layer (only then: a cache of many
//!   steps costs only the layers a build reuses), records it in the local cache, and counts as cached.
//!   A source that cannot be read, or a layer that cannot be fetched, is a warning and a cache miss,
//!   never a failed build (BuildKit does the same). [`LocalCacheDir`] is `type=local,src=DIR`; the
//!   registry source lives above this crate (the CLI wires it), like registry base images.
//! - Exporting: every filesystem step of a build, cached or not, is a [`CachedStep`] of the
//!   [`BuildOutput`](crate::BuildOutput); [`CacheMode`] picks which of them a bundle carries, and
//!   [`kiln_store::build_cache`] (local) or the registry client writes the bundle.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use kiln_oci::{Compression, Digest, Reference};
use kiln_store::Lease;
use kiln_store::build_cache::{CacheBundle, CacheEntry, fetch_dir_layer, read_dir};

use crate::error::BuildError;
use crate::events::{BuildEvent, EventSink};
use crate::invoke::{fields, invalid};

/// Why a cache source failed.
pub type CacheSourceError = Box<dyn std::error::Error + Send + Sync>;

/// Somewhere outside the store that holds cache records and their layers (`--cache-from`).
pub trait CacheSource: Send + Sync + std::fmt::Debug {
    /// What it is, for messages (`registry 127.0.0.1:5000/app:buildcache`).
    fn name(&self) -> String;
    /// The records it offers (called once per build, before any step runs).
    fn records(&self) -> Result<Vec<CacheEntry>, CacheSourceError>;
    /// Stores layer `diff_id` (of one of its records) in the store through `lease`, uncompressed and
    /// verified against its DiffID.
    fn fetch_layer(&self, lease: &Lease, diff_id: &Digest) -> Result<(), CacheSourceError>;
}

/// An OCI layout directory written by `--cache-to type=local,dest=DIR`.
#[derive(Debug)]
pub struct LocalCacheDir {
    dir: PathBuf,
    bundle: OnceLock<CacheBundle>,
}

impl LocalCacheDir {
    /// The cache in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        LocalCacheDir { dir: dir.into(), bundle: OnceLock::new() }
    }
}

impl CacheSource for LocalCacheDir {
    fn name(&self) -> String {
        format!("local cache {}", self.dir.display())
    }

    fn records(&self) -> Result<Vec<CacheEntry>, CacheSourceError> {
        let bundle = read_dir(&self.dir)?;
        let records = bundle.config.records.clone();
        let _ = self.bundle.set(bundle);
        Ok(records)
    }

    fn fetch_layer(&self, lease: &Lease, diff_id: &Digest) -> Result<(), CacheSourceError> {
        let bundle = self.bundle.get().ok_or("the cache's records were not read")?;
        Ok(fetch_dir_layer(lease, &self.dir, bundle, diff_id)?)
    }
}

/// Which steps a cache export carries (`mode=` of `--cache-to`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CacheMode {
    /// The steps of the layers of the result: the target stage and the stages it is built `FROM`
    /// (BuildKit's default).
    #[default]
    Min,
    /// Every step of every stage built, so builder stages hit too.
    Max,
}

impl CacheMode {
    /// Parses `min` or `max`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "min" => Some(CacheMode::Min),
            "max" => Some(CacheMode::Max),
            _ => None,
        }
    }
}

/// One filesystem step of a build, as a cache export sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedStep {
    /// The stage's index.
    pub stage: usize,
    /// Whether the stage's layers are in the result (the target or a stage it is built `FROM`).
    pub in_result: bool,
    /// The record.
    pub entry: CacheEntry,
}

/// The records of every `--cache-from` source, by key.
#[derive(Debug, Default)]
pub(crate) struct RemoteRecords {
    sources: Vec<Arc<dyn CacheSource>>,
    records: BTreeMap<Digest, (usize, CacheEntry)>,
}

impl RemoteRecords {
    /// Reads `sources` (earlier ones win on a shared key); one that fails is reported to `events` and
    /// left out.
    pub(crate) fn load(sources: &[Arc<dyn CacheSource>], events: &dyn EventSink) -> Self {
        let mut out = RemoteRecords { sources: sources.to_vec(), records: BTreeMap::new() };
        for (i, source) in sources.iter().enumerate() {
            match source.records() {
                Ok(records) => {
                    for r in records {
                        out.records.entry(r.key.clone()).or_insert((i, r));
                    }
                }
                Err(e) => {
                    events.emit(BuildEvent::Warning { message: format!("{}: not used: {e}", source.name()) })
                }
            }
        }
        out
    }

    /// The record of `key` with its layer in the store (fetched when missing) and pinned by `lease`, and
    /// the name of the source it came from; `None` when no source has it or fetching failed (reported).
    pub(crate) fn hit(
        &self,
        key: &Digest,
        lease: &Lease,
        events: &dyn EventSink,
    ) -> Option<(CacheEntry, String)> {
        let (i, entry) = self.records.get(key)?;
        let source = &self.sources[*i];
        let present = lease.pin_blob(&entry.diff_id).unwrap_or(false);
        if !present && let Err(e) = source.fetch_layer(lease, &entry.diff_id) {
            events.emit(BuildEvent::Warning {
                message: format!(
                    "{}: layer {}: {e} (running the step instead)",
                    source.name(),
                    entry.diff_id
                ),
            });
            return None;
        }
        Some((entry.clone(), source.name()))
    }
}

/// Where `--cache-from` reads a cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheImport {
    /// `type=registry,ref=REF`, or a bare `REF`.
    Registry(Reference),
    /// `type=local,src=DIR`.
    Local(PathBuf),
}

/// Where and what `--cache-to` writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheExport {
    /// Where.
    pub target: CacheImport,
    /// `mode=min|max`.
    pub mode: CacheMode,
    /// `compression=gzip|zstd|uncompressed` (default gzip).
    pub compression: Compression,
    /// `compression-level=N`.
    pub level: Option<i32>,
}

const CACHE_TYPES: &str = "supported: type=registry,ref=REF and type=local,src=DIR / dest=DIR";

fn cache_location(
    raw: &str,
    flag: &str,
    dir_key: &str,
) -> Result<(CacheImport, std::collections::BTreeMap<String, String>), BuildError> {
    let f = fields(raw);
    let kind = match f.get("type") {
        Some(k) => k.as_str(),
        None if !raw.contains('=') && flag == "--cache-from" => {
            let reference = Reference::parse(raw).map_err(|e| invalid(format!("{flag} {raw:?}: {e}")))?;
            return Ok((CacheImport::Registry(reference), f));
        }
        None => return Err(invalid(format!("{flag} {raw:?}: type= is required ({CACHE_TYPES})"))),
    };
    let target = match kind {
        "registry" => {
            let r = f
                .get("ref")
                .filter(|r| !r.is_empty())
                .ok_or_else(|| invalid(format!("{flag} {raw:?}: ref= is required for type=registry")))?;
            CacheImport::Registry(
                Reference::parse(r).map_err(|e| invalid(format!("{flag} {raw:?}: ref {r:?}: {e}")))?,
            )
        }
        "local" => {
            let dir = f
                .get(dir_key)
                .filter(|d| !d.is_empty())
                .ok_or_else(|| invalid(format!("{flag} {raw:?}: {dir_key}= is required for type=local")))?;
            CacheImport::Local(PathBuf::from(dir))
        }
        other => {
            return Err(invalid(format!(
                "{flag} {raw:?}: cache type {other:?} is not supported ({CACHE_TYPES})"
            )));
        }
    };
    Ok((target, f))
}

/// Reads a `--cache-from` value: `type=registry,ref=REF`, `type=local,src=DIR`, or a bare `REF`.
pub fn parse_cache_from(raw: &str) -> Result<CacheImport, BuildError> {
    cache_location(raw, "--cache-from", "src").map(|(target, _)| target)
}

/// Reads a `--cache-to` value: `type=registry,ref=REF` or `type=local,dest=DIR`, with `mode=min|max`,
/// `compression=gzip|zstd|uncompressed` and `compression-level=N`.
pub fn parse_cache_to(raw: &str) -> Result<CacheExport, BuildError> {
    let (target, f) = cache_location(raw, "--cache-to", "dest")?;
    let mode = match f.get("mode") {
        None => CacheMode::Min,
        Some(m) => CacheMode::parse(m)
            .ok_or_else(|| invalid(format!("--cache-to {raw:?}: mode {m:?} (min or max)")))?,
    };
    let compression = match f.get("compression").map(String::as_str) {
        None | Some("gzip") => Compression::Gzip,
        Some("zstd") => Compression::Zstd,
        Some("uncompressed") => Compression::None,
        Some(c) => {
            return Err(invalid(format!(
                "--cache-to {raw:?}: compression {c:?} (gzip, zstd or uncompressed)"
            )));
        }
    };
    let level =
        match f.get("compression-level") {
            None => None,
            Some(l) => Some(l.parse::<i32>().map_err(|_| {
                invalid(format!("--cache-to {raw:?}: compression-level {l:?} is not a number"))
            })?),
        };
    Ok(CacheExport { target, mode, compression, level })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_flags_parse_like_buildx() {
        let r = Reference::parse("127.0.0.1:5000/app:cache").unwrap();
        assert_eq!(parse_cache_from("127.0.0.1:5000/app:cache").unwrap(), CacheImport::Registry(r.clone()));
        assert_eq!(
            parse_cache_from("type=registry,ref=127.0.0.1:5000/app:cache").unwrap(),
            CacheImport::Registry(r.clone())
        );
        assert_eq!(parse_cache_from("type=local,src=/c").unwrap(), CacheImport::Local("/c".into()));
        let to =
            parse_cache_to("type=registry,ref=127.0.0.1:5000/app:cache,mode=max,compression=zstd").unwrap();
        assert_eq!(
            to,
            CacheExport {
                target: CacheImport::Registry(r),
                mode: CacheMode::Max,
                compression: Compression::Zstd,
                level: None
            }
        );
        let to = parse_cache_to("type=local,dest=/c,compression-level=3").unwrap();
        assert_eq!((to.mode, to.level), (CacheMode::Min, Some(3)));
    }

    #[test]
    fn bad_cache_flags_say_what_is_wrong() {
        let message = |r: Result<CacheExport, BuildError>| r.unwrap_err().to_string();
        assert!(message(parse_cache_to("type=gha")).contains("not supported"));
        assert!(message(parse_cache_to("type=local")).contains("dest= is required"));
        assert!(message(parse_cache_to("type=registry")).contains("ref= is required"));
        assert!(message(parse_cache_to("type=local,dest=/c,mode=all")).contains("min or max"));
        assert!(message(parse_cache_to("/c")).contains("type= is required"));
        assert!(parse_cache_from("type=local,dest=/c").unwrap_err().to_string().contains("src= is required"));
    }
}
