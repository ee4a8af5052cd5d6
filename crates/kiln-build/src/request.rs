//! What a build is asked to do ([`BuildRequest`]) and what it produced ([`BuildOutput`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use kiln_context::Context;
use kiln_oci::{ImageConfig, Reference};
use kiln_plan::BuildGraph;
use kiln_store::ImageRecord;
use serde::Serialize;

use crate::base::PullPolicy;
use crate::remote_cache::{CacheMode, CacheSource, CachedStep};

/// The value of a `--secret`: kept in memory only, never logged (its `Debug` shows the length).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// A secret with these bytes.
    pub fn new(value: Vec<u8>) -> Self {
        Secret(value)
    }

    /// The bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret(<{} bytes>)", self.0.len())
    }
}

/// The network RUN steps get unless they say `--network`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    /// The host's network namespace (kiln's default, as buildah's `--network=host`).
    #[default]
    Host,
    /// Loopback only.
    None,
}

/// One build.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    /// The planned stage graph (`kiln_plan::plan`).
    pub graph: BuildGraph,
    /// The Dockerfile's path as the user gave it (relative to the context when inside it; `-` for stdin):
    /// recorded in each history entry's provenance comment.
    pub dockerfile: String,
    /// A stable identity of this build (e.g. the context directory and Dockerfile path): the steps of the
    /// last build with the same identity are what "why a step missed" compares with.
    pub build_id: String,
    /// The main build context.
    pub context: Arc<Context>,
    /// `--build-context NAME=DIR`.
    pub named_contexts: BTreeMap<String, Arc<Context>>,
    /// `--secret id=...`, by id.
    pub secrets: BTreeMap<String, Secret>,
    /// `--ssh id=socket`, by id (`default` for the plain `--ssh default`).
    pub ssh: BTreeMap<String, PathBuf>,
    /// `--label`: added to the image config (no history entry, as BuildKit).
    pub labels: BTreeMap<String, String>,
    /// `-t`: the references the image gets in the store.
    pub tags: Vec<Reference>,
    /// `--network`: the default network mode of RUN steps.
    pub network: NetworkMode,
    /// `--no-cache`: no cache lookups (results are still recorded).
    pub no_cache: bool,
    /// `--no-cache-filter`: stages (by name or index) whose steps skip cache lookups.
    pub no_cache_filter: Vec<String>,
    /// `--pull`.
    pub pull: PullPolicy,
    /// `SOURCE_DATE_EPOCH` from the environment (a `--build-arg` of that name is read from the graph and
    /// wins).
    pub source_date_epoch: Option<i64>,
    /// `--cache-from`: where else to look for cached steps when the store misses, in order.
    pub cache_from: Vec<Arc<dyn CacheSource>>,
}

impl BuildRequest {
    /// A request with defaults for everything but the graph and the context.
    pub fn new(graph: BuildGraph, context: Arc<Context>) -> Self {
        BuildRequest {
            graph,
            dockerfile: "Dockerfile".to_owned(),
            build_id: context.root().display().to_string(),
            context,
            named_contexts: BTreeMap::new(),
            secrets: BTreeMap::new(),
            ssh: BTreeMap::new(),
            labels: BTreeMap::new(),
            tags: Vec::new(),
            network: NetworkMode::Host,
            no_cache: false,
            no_cache_filter: Vec::new(),
            pull: PullPolicy::Missing,
            source_date_epoch: None,
            cache_from: Vec::new(),
        }
    }
}

/// What happened to one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepReport {
    /// The step number (`#N`).
    pub id: u32,
    /// The vertex name (`[build 2/5] RUN make`).
    pub name: String,
    /// Whether the step came from the cache.
    pub cached: bool,
    /// For a step that ran although it had run before: what changed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub miss_reasons: Vec<String>,
    /// Its cache key.
    pub cache_key: String,
    /// For a step cached from a `--cache-from` source (not the store): which one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_source: Option<String>,
}

/// What a build produced.
#[derive(Debug, Clone)]
pub struct BuildOutput {
    /// The image in the store.
    pub image: ImageRecord,
    /// Its config.
    pub config: ImageConfig,
    /// Every step with a vertex, in build order.
    pub steps: Vec<StepReport>,
    /// How many RUN steps executed in the sandbox.
    pub runs: usize,
    /// Every filesystem step (cached or run), in the order they finished: what `--cache-to` exports.
    pub cache: Vec<CachedStep>,
}

impl BuildOutput {
    /// The cache records a `--cache-to` with `mode` exports.
    pub fn cache_entries(&self, mode: CacheMode) -> Vec<kiln_store::build_cache::CacheEntry> {
        self.cache.iter().filter(|s| mode == CacheMode::Max || s.in_result).map(|s| s.entry.clone()).collect()
    }
}
