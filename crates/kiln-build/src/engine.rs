//! [`Engine::build`]: one build from start to finish. Resolve every base image first (and add the ONBUILD
//! triggers of image bases to the graph, as BuildKit does before dispatching), number the steps, build the
//! needed stages (each on its own thread as soon as its dependencies are done; the first failure cancels
//! the rest), then complete the target's config and commit the image to the store.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use kiln_context::{ChecksumMemo, MemoKey};
use kiln_dockerfile::Command;
use kiln_oci::{Digest, Reference};
use kiln_plan::{BuildGraph, Input};
use kiln_sandbox::Sandbox;
use kiln_store::Store;

use crate::base::{BaseImages, ResolvedImage};
use crate::error::BuildError;
use crate::events::{BuildEvent, EventSink, StepInfo, StepKind};
use crate::history;
use crate::remote_cache::{CachedStep, RemoteRecords};
use crate::request::{BuildOutput, BuildRequest};
use crate::schedule::{Cancel, ScheduleError, run_stages};
use crate::stage::{Shared, Vertices, build_stage};

/// The build engine: a store, a sandbox, a way to resolve base images, and where progress goes.
pub struct Engine {
    store: Store,
    sandbox: Arc<Sandbox>,
    images: Arc<dyn BaseImages>,
    events: Arc<dyn EventSink>,
    cancel: Cancel,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("store", &self.store).finish_non_exhaustive()
    }
}

/// The context checksum memo, kept in the store's memo table (keys are kiln-context's own, versioned).
struct StoreMemo<'a>(&'a Store);

impl ChecksumMemo for StoreMemo<'_> {
    fn get(&self, keys: &[MemoKey]) -> Vec<Option<Digest>> {
        // One read transaction for all keys: a 5,000-file context is one query batch, not 5,000.
        let raw: Vec<&[u8]> = keys.iter().map(MemoKey::as_bytes).collect();
        let values = self.0.memo_get_many(&raw).unwrap_or_else(|_| vec![None; keys.len()]);
        values
            .into_iter()
            .map(|v| v.and_then(|v| Digest::parse(std::str::from_utf8(&v).ok()?).ok()))
            .collect()
    }

    fn put(&self, entries: &[(MemoKey, Digest)]) {
        let values: Vec<(Vec<u8>, Vec<u8>)> =
            entries.iter().map(|(k, d)| (k.as_bytes().to_vec(), d.to_string().into_bytes())).collect();
        let refs: Vec<(&[u8], &[u8])> = values.iter().map(|(k, v)| (k.as_slice(), v.as_slice())).collect();
        // A memo that cannot be written only costs re-hashing next time.
        let _ = self.0.memo_put(&refs);
    }
}

/// A flag that cancels a running build when raised (Ctrl-C).
#[derive(Debug, Clone)]
pub struct CancelHandle(Cancel);

impl CancelHandle {
    /// Cancels the build: running commands are killed, nothing more is committed.
    pub fn cancel(&self) {
        self.0.cancel();
    }

    /// Whether it was raised.
    pub fn is_cancelled(&self) -> bool {
        self.0.is_cancelled()
    }
}

impl Engine {
    /// An engine over `store`, running RUN steps in `sandbox`, resolving base images with `images`, and
    /// reporting to `events`.
    pub fn new(
        store: Store,
        sandbox: Arc<Sandbox>,
        images: Arc<dyn BaseImages>,
        events: Arc<dyn EventSink>,
    ) -> Self {
        Engine { store, sandbox, images, events, cancel: Cancel::new() }
    }

    /// A handle that cancels builds of this engine (for a Ctrl-C handler).
    pub fn cancel_handle(&self) -> CancelHandle {
        CancelHandle(self.cancel.clone())
    }

    /// Runs one build and commits the target stage's image to the store (tagged `request.tags`).
    pub fn build(&self, request: &BuildRequest) -> Result<BuildOutput, BuildError> {
        let lease = self.store.lease().map_err(BuildError::store("starting a build lease"))?;
        let mut graph = request.graph.clone();
        let images = self.resolve_images(&mut graph, request)?;
        if let Some(w) = graph.unused_build_args_warning() {
            self.events.emit(BuildEvent::Warning { message: w });
        }
        for w in request.context.ignore_warnings() {
            self.events.emit(BuildEvent::Warning {
                message: format!("{}:{}: {:?}: {}", w.file.display(), w.line, w.pattern, w.message),
            });
        }
        let vertices = number_steps(&graph, &images, &request.dockerfile);
        let mut plan: Vec<StepInfo> =
            vertices.from.values().chain(vertices.steps.values()).cloned().collect();
        plan.sort_by_key(|s| s.id);
        self.events.emit(BuildEvent::Plan { steps: plan });

        let epoch = match &graph.source_date_epoch {
            Some(v) => Some(v.trim().parse::<i64>().map_err(|_| {
                BuildError::Invalid(format!("invalid SOURCE_DATE_EPOCH {v:?}: expected seconds since 1970"))
            })?),
            None => request.source_date_epoch,
        };
        let memo = StoreMemo(&self.store);
        let shared = Shared {
            req: request,
            graph: &graph,
            store: &self.store,
            lease: &lease,
            sandbox: &self.sandbox,
            events: &*self.events,
            cancel: &self.cancel,
            images: &images,
            vertices: &vertices,
            memo: &memo,
            epoch,
            epoch_time: epoch.map(|e| history::rfc3339(i128::from(e) * 1_000_000_000)),
            reports: std::sync::Mutex::new(Vec::new()),
            runs: AtomicUsize::new(0),
            counter: AtomicU64::new(0),
            remote: RemoteRecords::load(&request.cache_from, &*self.events),
            cached: std::sync::Mutex::new(Vec::new()),
        };
        let deps: BTreeMap<usize, Vec<usize>> = graph
            .order
            .iter()
            .map(|&i| {
                let mut d: Vec<usize> = graph.stages[i].dependencies().iter().map(|d| d.stage).collect();
                d.sort_unstable();
                d.dedup();
                (i, d)
            })
            .collect();
        let results = run_stages(&deps, deps.len().max(1), &self.cancel, |index, inputs, _| {
            build_stage(&shared, index, inputs)
        })
        .map_err(|e| match e {
            ScheduleError::Stage(e) => e,
            ScheduleError::Cancelled => BuildError::Cancelled,
            ScheduleError::InvalidGraph(m) => BuildError::Invalid(m),
        })?;
        let target = results
            .get(&graph.target)
            .ok_or_else(|| BuildError::Invalid("the target stage was not built".into()))?;

        self.events.emit(BuildEvent::Exporting { what: "writing image".into() });
        let mut config = target.config.clone();
        if !request.labels.is_empty() {
            let labels = config.config.labels.get_or_insert_with(BTreeMap::new);
            labels.extend(request.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        history::finalize(
            &mut config,
            &target.layer_times,
            &target.base_history,
            shared.epoch_time.as_deref(),
        );
        let bytes =
            serde_json::to_vec(&config).map_err(|e| BuildError::Invalid(format!("image config: {e}")))?;
        if self.cancel.is_cancelled() {
            return Err(BuildError::Cancelled);
        }
        let image = lease
            .commit_image(&bytes, &request.tags, None)
            .map_err(BuildError::store("committing the image"))?;
        let mut steps = shared.reports.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
        steps.sort_by_key(|s| s.id);
        let in_result = result_stages(&graph);
        let cache = shared
            .cached
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .into_iter()
            .map(|(stage, entry)| CachedStep { stage, in_result: in_result.contains(&stage), entry })
            .collect();
        Ok(BuildOutput { image, config, steps, runs: shared.runs.load(Ordering::Relaxed), cache })
    }

    /// Resolves every image the needed stages read, adding image ONBUILD triggers to the graph until no
    /// new stage or image is needed.
    fn resolve_images(
        &self,
        graph: &mut BuildGraph,
        request: &BuildRequest,
    ) -> Result<BTreeMap<Reference, ResolvedImage>, BuildError> {
        let mut images: BTreeMap<Reference, ResolvedImage> = BTreeMap::new();
        let mut applied: BTreeSet<usize> = BTreeSet::new();
        loop {
            for r in graph.images() {
                if let std::collections::btree_map::Entry::Vacant(slot) = images.entry(r) {
                    let resolved = self.images.resolve(slot.key(), &graph.target_platform, request.pull)?;
                    slot.insert(resolved);
                }
            }
            let mut grew = false;
            for index in graph.order.clone() {
                if !applied.insert(index) {
                    continue;
                }
                let stage = &graph.stages[index];
                let Input::Image(r) = &stage.base else { continue };
                if stage.replaced_by.is_some() {
                    continue;
                }
                let triggers =
                    images.get(r).and_then(|i| i.config.config.on_build.clone()).unwrap_or_default();
                if !triggers.is_empty() {
                    grew |= graph.apply_onbuild(index, &r.to_string(), &triggers)?;
                }
            }
            if !grew && graph.images().iter().all(|r| images.contains_key(r)) {
                return Ok(images);
            }
        }
    }
}

/// The target stage and the stages it is built `FROM`, transitively: the stages whose layers the result
/// holds.
fn result_stages(graph: &BuildGraph) -> BTreeSet<usize> {
    let mut out = BTreeSet::new();
    let mut stage = Some(graph.target);
    while let Some(index) = stage.filter(|i| out.insert(*i)) {
        stage = match &graph.stages[index].base {
            Input::Stage(base) => Some(*base),
            _ => None,
        };
    }
    out
}

/// Numbers the vertices of the needed stages in build order and names them as BuildKit does.
fn number_steps(
    graph: &BuildGraph,
    images: &BTreeMap<Reference, ResolvedImage>,
    dockerfile: &str,
) -> Vertices {
    let mut v = Vertices::default();
    let mut id = 0u32;
    for &index in &graph.order {
        let stage = &graph.stages[index];
        if stage.replaced_by.is_some() {
            continue;
        }
        let kind_of = |c: &Command| match c {
            Command::Run(_) => Some(StepKind::Run),
            Command::Copy(_) => Some(StepKind::Copy),
            Command::Add(_) => Some(StepKind::Add),
            Command::Workdir(_) => Some(StepKind::Workdir),
            _ => None,
        };
        let image_base = match &stage.base {
            Input::Image(r) => images.get(r),
            _ => None,
        };
        let total = usize::from(image_base.is_some())
            + stage.steps.iter().filter(|s| kind_of(&s.instruction.command).is_some()).count();
        let width = total.to_string().len();
        let prefix = match &stage.name {
            Some(n) => format!("[{n} "),
            None => "[".to_owned(),
        };
        let mut k = 0;
        let name = |text: &str, k: usize| format!("{prefix}{k:>width$}/{total}] {text}");
        let location = |file: &str, a: u32, b: u32| {
            if a == b { format!("{file}:{a}") } else { format!("{file}:{a}-{b}") }
        };
        if let Some(image) = image_base {
            k += 1;
            id += 1;
            v.from.insert(
                index,
                StepInfo {
                    id,
                    stage_index: index,
                    stage: stage.display_name(),
                    kind: StepKind::From,
                    name: name(&format!("FROM {}", image.reference), k),
                    location: location(dockerfile, stage.from.start_line, stage.from.end_line),
                },
            );
        }
        for (i, step) in stage.steps.iter().enumerate() {
            let Some(kind) = kind_of(&step.instruction.command) else { continue };
            k += 1;
            id += 1;
            let text = step.instruction.original.trim();
            let text = if step.trigger.is_some() { format!("ONBUILD {text}") } else { text.to_owned() };
            let file =
                if step.trigger.is_some() { step.file.file().to_owned() } else { dockerfile.to_owned() };
            v.steps.insert(
                (index, i),
                StepInfo {
                    id,
                    stage_index: index,
                    stage: stage.display_name(),
                    kind,
                    name: name(&text, k),
                    location: location(&file, step.instruction.start_line, step.instruction.end_line),
                },
            );
        }
    }
    v
}
