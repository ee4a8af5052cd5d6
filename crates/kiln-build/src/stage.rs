//! Dispatching one stage: start from its base (scratch, an image, an earlier stage, a named context), then
//! apply each instruction the way BuildKit's dispatcher does. Metadata instructions change the config and
//! add an `empty_layer` history entry; RUN ([`crate::run`]), COPY/ADD ([`crate::copy`]) and WORKDIR produce
//! layers through [`Shared::cached_op`], which looks the step up in the cache first.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use kiln_context::ChecksumMemo;
use kiln_dockerfile::instruction::Healthcheck;
use kiln_dockerfile::{Command, CommandLine};
use kiln_oci::{Digest, Empty, ImageConfig, Reference};
use kiln_plan::{ArgBinding, ArgValue, BuildGraph, Input, Step};
use kiln_sandbox::{DEFAULT_PATH, Sandbox};
use kiln_store::build_cache::CacheEntry;
use kiln_store::{Lease, Store};

use crate::base::ResolvedImage;
use crate::error::{BuildError, StepLocation};
use crate::events::{BuildEvent, EventSink, StepInfo};
use crate::history::{self, go_duration, go_list, go_quote_list};
use crate::key::{CacheRecord, Ingredients, StepRecord, explain, step_record_key};
use crate::remote_cache::RemoteRecords;
use crate::request::{BuildRequest, StepReport};
use crate::schedule::Cancel;
use crate::state::StageState;

/// The vertices of the build: per stage, the FROM vertex and one per step (`None` for metadata steps).
#[derive(Debug, Default)]
pub(crate) struct Vertices {
    pub(crate) from: BTreeMap<usize, StepInfo>,
    pub(crate) steps: BTreeMap<(usize, usize), StepInfo>,
}

/// Everything the stages of one build share.
pub(crate) struct Shared<'a> {
    pub(crate) req: &'a BuildRequest,
    pub(crate) graph: &'a BuildGraph,
    pub(crate) store: &'a Store,
    pub(crate) lease: &'a Lease,
    pub(crate) sandbox: &'a Sandbox,
    pub(crate) events: &'a dyn EventSink,
    pub(crate) cancel: &'a Cancel,
    pub(crate) images: &'a BTreeMap<Reference, ResolvedImage>,
    pub(crate) vertices: &'a Vertices,
    pub(crate) memo: &'a dyn ChecksumMemo,
    /// `SOURCE_DATE_EPOCH` in seconds.
    pub(crate) epoch: Option<i64>,
    /// The same as RFC 3339.
    pub(crate) epoch_time: Option<String>,
    pub(crate) reports: std::sync::Mutex<Vec<StepReport>>,
    pub(crate) runs: AtomicUsize,
    pub(crate) counter: AtomicU64,
    /// The `--cache-from` records.
    pub(crate) remote: RemoteRecords,
    /// Every filesystem step so far: (stage, record), for `--cache-to`.
    pub(crate) cached: std::sync::Mutex<Vec<(usize, CacheEntry)>>,
}

/// A stage's result: its final state.
pub(crate) type StageOutput = Arc<StageState>;

/// One filesystem step, described for the cache.
pub(crate) struct Op<'s> {
    /// Kind for the key (`RUN`, `COPY`, `ADD`, `WORKDIR`).
    pub(crate) kind: &'static str,
    /// The named inputs.
    pub(crate) ingredients: Ingredients,
    /// Per-file digests of context sources (for explanations).
    pub(crate) files: Vec<kiln_context::EntryDigest>,
    /// The step's identity.
    pub(crate) stage: usize,
    pub(crate) step: usize,
    pub(crate) vertex: Option<&'s StepInfo>,
    /// The history entry's `created_by`.
    pub(crate) history: String,
    /// Whether BuildKit adds ` # buildkit` to it (RUN, COPY, ADD; not WORKDIR).
    pub(crate) suffix: bool,
    /// `COPY --link`: the layer does not depend on the layers below it, so its cache entry is looked up
    /// without them (a new base image keeps the hit); the stage's key chain still includes them.
    pub(crate) detached: bool,
}

impl Shared<'_> {
    /// A fresh scratch directory name under the lease's staging directory.
    pub(crate) fn scratch_dir(&self, prefix: &str) -> std::path::PathBuf {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        self.lease.tmp_dir().join(format!("{prefix}-{n}"))
    }

    pub(crate) fn emit(&self, event: BuildEvent) {
        self.events.emit(event);
    }

    fn stage_id(&self, stage: usize) -> String {
        match &self.graph.stages[stage].name {
            Some(n) => n.clone(),
            None => stage.to_string(),
        }
    }

    fn ignore_cache(&self, stage: usize) -> bool {
        if self.req.no_cache {
            return true;
        }
        let s = &self.graph.stages[stage];
        self.req
            .no_cache_filter
            .iter()
            .any(|f| s.name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(f)) || *f == stage.to_string())
    }

    /// Records in the store's cache that step `key` made the layer of `record`.
    fn record_cache(&self, key: &Digest, record: &CacheRecord) -> Result<(), BuildError> {
        let bytes = serde_json::to_vec(record).map_err(|e| BuildError::Invalid(e.to_string()))?;
        self.lease
            .cache_put(key, &bytes, std::slice::from_ref(&record.diff_id))
            .map_err(BuildError::store("recording the build cache"))
    }

    /// Runs filesystem step `op` with the cache: on a hit the recorded layer is reused without calling
    /// `execute`; on a miss `execute` makes the layer (returning its DiffID), which is then recorded.
    /// Either way the layer is pushed onto `state` and the step's history entry added (`history`).
    pub(crate) fn cached_op(
        &self,
        state: &mut StageState,
        op: Op<'_>,
        execute: impl FnOnce(&mut StageState) -> Result<Digest, BuildError>,
    ) -> Result<(), BuildError> {
        if self.cancel.is_cancelled() {
            return Err(BuildError::Cancelled);
        }
        let started = Instant::now();
        let parent = if op.detached { Digest::sha256_of(b"kiln-build/link") } else { state.key.clone() };
        let key = op.ingredients.key(op.kind, &parent);
        let record = StepRecord {
            key: key.clone(),
            parent,
            ingredients: op.ingredients,
            files: op.files.into_iter().map(|e| (e.path, e.digest)).collect(),
        };
        // The step's last record: found by what it builds on (survives inserted or removed instructions),
        // else by its position in the stage.
        let stage_id = self.stage_id(op.stage);
        let record_key = step_record_key(&self.req.build_id, &stage_id, &op.step.to_string());
        let parent_key =
            step_record_key(&self.req.build_id, &stage_id, &format!("{} after {}", op.kind, record.parent));
        let load = |k: &[u8]| -> Option<StepRecord> {
            self.store.memo_get(k).ok().flatten().and_then(|bytes| serde_json::from_slice(&bytes).ok())
        };
        let previous = load(&parent_key).or_else(|| load(&record_key));
        let mut cache_source = None;
        let hit = if self.ignore_cache(op.stage) {
            None
        } else {
            match self
                .lease
                .cache_get(&key)
                .map_err(BuildError::store("reading the build cache"))?
                .and_then(|bytes| serde_json::from_slice::<CacheRecord>(&bytes).ok())
            {
                Some(hit) => Some(hit),
                None => match self.remote.hit(&key, self.lease, self.events) {
                    Some((entry, source)) => {
                        let hit = CacheRecord { diff_id: entry.diff_id, created: entry.created };
                        self.record_cache(&key, &hit)?;
                        cache_source = Some(source);
                        Some(hit)
                    }
                    None => None,
                },
            }
        };
        let mut report = StepReport {
            id: op.vertex.map_or(0, |v| v.id),
            name: op.vertex.map(|v| v.name.clone()).unwrap_or_default(),
            cached: false,
            miss_reasons: Vec::new(),
            cache_key: key.to_string(),
            cache_source,
        };
        let (diff_id, created) = match hit {
            Some(hit) => {
                if let Some(v) = op.vertex {
                    self.emit(BuildEvent::Cached { step: v.clone() });
                }
                report.cached = true;
                (hit.diff_id, hit.created)
            }
            None => {
                if let Some(prev) = previous.as_ref().filter(|p| p.key != key) {
                    report.miss_reasons = explain(prev, &record, &state.parent);
                } else if previous.as_ref().is_some_and(|p| p.key == key) && !self.ignore_cache(op.stage) {
                    report.miss_reasons = vec!["the cache entry is gone (pruned)".to_owned()];
                }
                if let Some(v) = op.vertex {
                    if !report.miss_reasons.is_empty() {
                        self.emit(BuildEvent::CacheMiss {
                            step_id: v.id,
                            reasons: report.miss_reasons.clone(),
                        });
                    }
                    self.emit(BuildEvent::Started { step: v.clone(), at: std::time::SystemTime::now() });
                }
                let created = history::rfc3339(history::now_nanos());
                let diff_id = execute(state)?;
                self.record_cache(&key, &CacheRecord { diff_id: diff_id.clone(), created: created.clone() })?;
                (diff_id, created)
            }
        };
        self.cached.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((
            op.stage,
            CacheEntry { key: key.clone(), diff_id: diff_id.clone(), created: created.clone() },
        ));
        if let Ok(bytes) = serde_json::to_vec(&record) {
            // A record that cannot be written only makes the next miss unexplained.
            let _ = self.store.memo_put(&[(&record_key, &bytes), (&parent_key, &bytes)]);
        }
        if let Some(v) = op.vertex {
            self.emit(BuildEvent::Done { step_id: v.id, elapsed: started.elapsed(), cached: report.cached });
        }
        if let Some(mut r) = self.reports.lock().ok().filter(|_| op.vertex.is_some()) {
            r.push(report);
        }
        state.key = if op.detached {
            let mut chained = Ingredients::default();
            chained.add("layer", diff_id.to_string());
            chained.key("LINK", &state.key)
        } else {
            key
        };
        state.push_layer(diff_id, Some(created));
        state.parent = match op.vertex {
            Some(v) => format!("step #{} ({})", v.id, v.name),
            None => format!("the {} step", op.kind),
        };
        history::commit(&mut state.config, op.history, true, op.suffix, self.epoch_time.as_deref());
        Ok(())
    }
}

/// BuildKit's `emptyImage`: the config of `FROM scratch`.
fn empty_image(graph: &BuildGraph, stage: usize) -> ImageConfig {
    let mut config = ImageConfig::for_platform(&graph.stage_platform(stage));
    config.config.working_dir = Some("/".to_owned());
    config.config.env = Some(vec![format!("PATH={DEFAULT_PATH}")]);
    config
}

fn env_pairs(config: &ImageConfig) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for e in config.config.env.iter().flatten() {
        let (k, v) = e.split_once('=').unwrap_or((e.as_str(), ""));
        match out.iter_mut().find(|(key, _)| key == k) {
            Some(p) => p.1 = v.to_owned(),
            None => out.push((k.to_owned(), v.to_owned())),
        }
    }
    out
}

/// The state a stage starts with.
fn initial_state(
    sh: &Shared<'_>,
    index: usize,
    done: &BTreeMap<usize, StageOutput>,
) -> Result<StageState, BuildError> {
    let stage = &sh.graph.stages[index];
    let platform = sh.graph.stage_platform(index);
    let fresh = |config: ImageConfig, key: Digest| StageState {
        env: env_pairs(&config),
        config,
        args: Vec::new(),
        key,
        chain: None,
        layer_times: Vec::new(),
        base_history: Vec::new(),
        cmd_set: false,
        parent: "the base (scratch)".to_owned(),
    };
    let mut state = match (&stage.replaced_by, &stage.base) {
        (Some(name), _) | (None, Input::Context(name)) => {
            let mut state = fresh(empty_image(sh.graph, index), Digest::sha256_of(b"scratch"));
            crate::copy::named_context_base(sh, &mut state, index, name)?;
            state
        }
        (None, Input::Scratch) => {
            let mut i = Ingredients::default();
            i.add("base", "scratch").add("platform", platform.to_string());
            fresh(empty_image(sh.graph, index), i.key("FROM", &Digest::sha256_of(b"")))
        }
        (None, Input::Stage(base_index)) => {
            let base = done.get(base_index).ok_or_else(|| {
                BuildError::Invalid(format!(
                    "stage {} needs stage {base_index}, which was not built",
                    stage.display_name()
                ))
            })?;
            let mut state = (**base).clone();
            state.parent = format!("the base stage {}", sh.graph.stages[*base_index].display_name());
            state.config.config.on_build = None;
            state.cmd_set = false;
            state
        }
        (None, Input::Image(reference)) => {
            let image = sh.images.get(reference).ok_or_else(|| {
                BuildError::Invalid(format!("image {reference} was not resolved before the build"))
            })?;
            let mut config = image.config.clone();
            config.created = None;
            config.config.on_build = None;
            let mut i = Ingredients::default();
            i.add("base", image.manifest_digest.to_string()).add("platform", platform.to_string());
            let key = i.key("FROM", &Digest::sha256_of(b""));
            let mut state = fresh(config, key);
            state.parent = format!("the base image {}", reference.familiar());
            state.base_history = state.config.history.clone();
            let diff_ids = state.config.rootfs.diff_ids.clone();
            state.config.rootfs.diff_ids.clear();
            for d in diff_ids {
                state.push_layer(d, None);
            }
            if let Some(v) = sh.vertices.from.get(&index) {
                let started = Instant::now();
                sh.emit(BuildEvent::Started { step: v.clone(), at: std::time::SystemTime::now() });
                // Make sure every layer is unpacked now, so the first RUN does not pay for it.
                sh.lease
                    .lower_dirs(state.diff_ids())
                    .map_err(BuildError::store(format!("unpacking the layers of {reference}")))?;
                sh.emit(BuildEvent::Done { step_id: v.id, elapsed: started.elapsed(), cached: false });
            }
            state
        }
    };
    if state.env_var("PATH").is_none() {
        state.config.config.env.get_or_insert_with(Vec::new).push(format!("PATH={DEFAULT_PATH}"));
        state.set_env("PATH", DEFAULT_PATH);
    }
    Ok(state)
}

/// Builds stage `index` (its base and inputs are in `done`).
pub(crate) fn build_stage(
    sh: &Shared<'_>,
    index: usize,
    done: &BTreeMap<usize, StageOutput>,
) -> Result<StageOutput, BuildError> {
    let stage = &sh.graph.stages[index];
    let mut state = initial_state(sh, index, done).map_err(|e| located(sh, index, None, e))?;
    if stage.replaced_by.is_none() {
        for (i, step) in stage.steps.iter().enumerate() {
            if sh.cancel.is_cancelled() {
                return Err(BuildError::Cancelled);
            }
            let before = state.config.history.len();
            dispatch(sh, &mut state, index, i, step, done).map_err(|e| {
                let e = located(sh, index, Some(step), e);
                if let Some(v) = sh.vertices.steps.get(&(index, i)).filter(|_| !e.is_cancelled()) {
                    sh.emit(BuildEvent::Failed { step_id: v.id, message: e.to_string() });
                }
                e
            })?;
            let file =
                if step.trigger.is_some() { step.file.file().to_owned() } else { sh.req.dockerfile.clone() };
            let provenance = kiln_oci::Provenance {
                file,
                start_line: step.instruction.start_line,
                end_line: step.instruction.end_line,
            };
            for h in &mut state.config.history[before..] {
                h.comment = Some(provenance.to_comment());
            }
        }
    }
    Ok(Arc::new(state))
}

/// Wraps `e` with the location of `step` (or of the stage's FROM).
fn located(sh: &Shared<'_>, stage: usize, step: Option<&Step>, e: BuildError) -> BuildError {
    if matches!(e, BuildError::Cancelled | BuildError::Dockerfile(_) | BuildError::Step { .. }) {
        return e;
    }
    let s = &sh.graph.stages[stage];
    let (inst, file) = match step {
        Some(step) => (&step.instruction, step.file.file().to_owned()),
        None => (&s.from, sh.req.dockerfile.clone()),
    };
    let file = if step.is_some_and(|st| st.trigger.is_some()) { file } else { sh.req.dockerfile.clone() };
    let location = if inst.start_line == inst.end_line {
        format!("{file}:{}", inst.start_line)
    } else {
        format!("{file}:{}-{}", inst.start_line, inst.end_line)
    };
    let instruction = inst.original.lines().next().unwrap_or_default().trim().to_owned();
    BuildError::Step {
        at: Box::new(StepLocation { location, stage: s.display_name(), instruction }),
        source: Box::new(e),
    }
}

/// The argv of a CMD/ENTRYPOINT/RUN command line (shell form gets the stage's shell).
pub(crate) fn argv(command: &CommandLine, state: &StageState) -> Vec<String> {
    command.with_shell(&state.shell())
}

fn dispatch(
    sh: &Shared<'_>,
    state: &mut StageState,
    stage: usize,
    index: usize,
    step: &Step,
    done: &BTreeMap<usize, StageOutput>,
) -> Result<(), BuildError> {
    let epoch = sh.epoch_time.as_deref();
    if let Command::Arg(decl) = &step.instruction.command {
        let mut parts = Vec::new();
        for binding in &step.args {
            let value = step.arg_value(binding, &state.env)?;
            if let Some(v) = value.as_ref().filter(|_| binding.in_env()) {
                state.set_env(&binding.name, v);
            }
            // History shows the declaration with its default expanded, never a --build-arg or global
            // value, as BuildKit does (dockerd 20.10: `--build-arg TOKEN=x` still records `ARG TOKEN`).
            let default =
                decl.args.iter().find(|d| d.key.value == binding.name).and_then(|d| d.value.clone());
            parts.push(match default {
                Some(token) => {
                    let declared = ArgBinding { name: binding.name.clone(), value: ArgValue::Default(token) };
                    format!("{}={}", binding.name, step.arg_value(&declared, &state.env)?.unwrap_or_default())
                }
                None => binding.name.clone(),
            });
            state.args.push((binding.name.clone(), value));
        }
        history::commit(&mut state.config, format!("ARG {}", parts.join(" ")), false, false, epoch);
        return Ok(());
    }
    let expanded = step.expand(&state.env)?.command;
    match expanded {
        Command::Env(e) => {
            let mut msg = String::from("ENV");
            for kv in &e.vars {
                msg.push_str(&format!(" {}={}", kv.key.value, kv.value.value));
                state.config.config.set_env_var(&kv.key.value, &kv.value.value);
                state.set_env(&kv.key.value, &kv.value.value);
            }
            history::commit(&mut state.config, msg, false, false, epoch);
        }
        Command::Label(l) => {
            let mut msg = String::from("LABEL");
            let labels = state.config.config.labels.get_or_insert_with(BTreeMap::new);
            for kv in &l.labels {
                labels.insert(kv.key.value.clone(), kv.value.value.clone());
                msg.push_str(&format!(" {}={}", kv.key.value, kv.value.value));
            }
            history::commit(&mut state.config, msg, false, false, epoch);
        }
        Command::Maintainer(m) => {
            state.config.author = Some(m.name.value.clone());
            history::commit(&mut state.config, format!("MAINTAINER {}", m.name.value), false, false, epoch);
        }
        Command::Cmd(cmd) => {
            let args = argv(&cmd.command, state);
            let c = &mut state.config.config;
            c.cmd = Some(args.clone());
            c.args_escaped = Some(true);
            state.cmd_set = true;
            history::commit(&mut state.config, format!("CMD {}", go_quote_list(&args)), false, false, epoch);
        }
        Command::Entrypoint(ep) => {
            let args = argv(&ep.command, state);
            let c = &mut state.config.config;
            c.entrypoint = Some(args.clone());
            if !state.cmd_set {
                c.cmd = None;
            }
            history::commit(
                &mut state.config,
                format!("ENTRYPOINT {}", go_quote_list(&args)),
                false,
                false,
                epoch,
            );
        }
        Command::Healthcheck(h) => {
            let (test, interval, timeout, start_period, start_interval, retries) = match h {
                Healthcheck::None => (
                    vec!["NONE".to_owned()],
                    Default::default(),
                    Default::default(),
                    Default::default(),
                    Default::default(),
                    0,
                ),
                Healthcheck::Cmd(h) => {
                    (h.test, h.interval, h.timeout, h.start_period, h.start_interval, h.retries)
                }
            };
            let nanos = |d: std::time::Duration| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
            let msg = format!(
                "HEALTHCHECK {{Test:{} Interval:{} Timeout:{} StartPeriod:{} StartInterval:{} Retries:{retries}}}",
                go_list(&test),
                go_duration(interval),
                go_duration(timeout),
                go_duration(start_period),
                go_duration(start_interval),
            );
            state.config.config.healthcheck = Some(kiln_oci::Healthcheck {
                test: Some(test),
                interval: nanos(interval),
                timeout: nanos(timeout),
                start_period: nanos(start_period),
                start_interval: nanos(start_interval),
                retries: i64::from(retries),
            });
            history::commit(&mut state.config, msg, false, false, epoch);
        }
        Command::Expose(e) => {
            let mut ports = Vec::new();
            for p in &e.ports {
                ports.extend(kiln_dockerfile::parse_port(&p.value).map_err(BuildError::Invalid)?);
            }
            let exposed = state.config.config.exposed_ports.get_or_insert_with(BTreeMap::new);
            for p in &ports {
                exposed.insert(p.clone(), Empty {});
            }
            history::commit(&mut state.config, format!("EXPOSE {}", go_list(&ports)), false, false, epoch);
        }
        Command::User(u) => {
            state.config.config.user = Some(u.user.value.clone());
            history::commit(&mut state.config, format!("USER {}", u.user.value), false, false, epoch);
        }
        Command::Volume(v) => {
            let paths: Vec<String> = v.paths.iter().map(|p| p.value.clone()).collect();
            let volumes = state.config.config.volumes.get_or_insert_with(BTreeMap::new);
            for p in &paths {
                if p.is_empty() {
                    return Err(BuildError::Invalid("VOLUME specified can not be an empty string".into()));
                }
                volumes.insert(p.clone(), Empty {});
            }
            history::commit(&mut state.config, format!("VOLUME {}", go_list(&paths)), false, false, epoch);
        }
        Command::StopSignal(s) => {
            check_signal(&s.signal.value)?;
            state.config.config.stop_signal = Some(s.signal.value.clone());
            history::commit(&mut state.config, format!("STOPSIGNAL {}", s.signal.value), false, false, epoch);
        }
        Command::Shell(s) => {
            state.config.config.shell = Some(s.shell.clone());
            history::commit(&mut state.config, format!("SHELL {}", go_list(&s.shell)), false, false, epoch);
        }
        Command::Onbuild(_) => {
            if let Some(expr) = step.instruction.onbuild_expression() {
                state.config.config.on_build.get_or_insert_with(Vec::new).push(expr);
            }
        }
        Command::Workdir(w) => workdir(sh, state, stage, index, &w.path.value)?,
        Command::Run(run) => crate::run::run_step(sh, state, stage, index, step, &run, done)?,
        Command::Copy(copy) => {
            crate::copy::copy_step(sh, state, stage, index, step, crate::copy::CopyKind::Copy(copy), done)?
        }
        Command::Add(add) => {
            crate::copy::copy_step(sh, state, stage, index, step, crate::copy::CopyKind::Add(add), done)?
        }
        Command::From(_) | Command::Arg(_) => {}
    }
    Ok(())
}

/// BuildKit's `NormalizeWorkdir`: relative paths are joined to the current one; the result is cleaned.
pub(crate) fn normalize_workdir(current: &str, requested: &str) -> Result<String, BuildError> {
    if requested.is_empty() {
        return Err(BuildError::Invalid("cannot normalize nothing".into()));
    }
    let joined =
        if requested.starts_with('/') { requested.to_owned() } else { format!("{current}/{requested}") };
    Ok(clean_path(&joined))
}

/// Go's `path.Clean` of an absolute path.
pub(crate) fn clean_path(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

fn workdir(
    sh: &Shared<'_>,
    state: &mut StageState,
    stage: usize,
    index: usize,
    path: &str,
) -> Result<(), BuildError> {
    let wd = normalize_workdir(&state.workdir(), path)?;
    state.config.config.working_dir = Some(wd.clone());
    if wd == "/" {
        history::commit(&mut state.config, format!("WORKDIR {wd}"), false, false, sh.epoch_time.as_deref());
        return Ok(());
    }
    let user = state.user();
    let mut ingredients = Ingredients::default();
    ingredients.add("path", &wd).add("user", &user);
    // WORKDIR's history entry has no `# buildkit` suffix (BuildKit passes no state to commitToHistory).
    let op = Op {
        kind: "WORKDIR",
        ingredients,
        files: Vec::new(),
        stage,
        step: index,
        vertex: sh.vertices.steps.get(&(stage, index)),
        history: format!("WORKDIR {wd}"),
        suffix: false,
        detached: false,
    };
    sh.cached_op(state, op, |state| crate::copy::mkdir_layer(sh, state, &wd, &user))
}

/// Signal names and numbers moby's `signal.ParseSignal` accepts.
fn check_signal(s: &str) -> Result<(), BuildError> {
    const NAMES: &[&str] = &[
        "ABRT", "ALRM", "BUS", "CHLD", "CLD", "CONT", "FPE", "HUP", "ILL", "INT", "IO", "IOT", "KILL",
        "PIPE", "POLL", "PROF", "PWR", "QUIT", "SEGV", "STKFLT", "STOP", "SYS", "TERM", "TRAP", "TSTP",
        "TTIN", "TTOU", "UNUSED", "URG", "USR1", "USR2", "VTALRM", "WINCH", "XCPU", "XFSZ",
    ];
    if s.parse::<u32>().is_ok_and(|n| n > 0 && n <= 64) {
        return Ok(());
    }
    let upper = s.to_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    let rt = name.strip_prefix("RTMIN").or_else(|| name.strip_prefix("RTMAX"));
    if NAMES.contains(&name)
        || rt.is_some_and(|r| r.is_empty() || r.trim_start_matches(['+', '-']).parse::<u32>().is_ok())
    {
        return Ok(());
    }
    Err(BuildError::Invalid(format!("Invalid signal: {s}")))
}
