//! Build progress events: what the engine reports while it works ([`BuildEvent`]), for the CLI's plain,
//! JSON and tty views. The engine emits them through an [`EventSink`] and never prints.
//!
//! Steps are BuildKit's "vertices": FROM, RUN, COPY, ADD and WORKDIR each get one, numbered from 1 in build
//! order before anything runs, and named as BuildKit names them (`[build 2/5] RUN make`). Metadata-only
//! instructions (ENV, LABEL, ...) change the image config and get no vertex, as in BuildKit.

use std::time::{Duration, SystemTime};

use serde::Serialize;

/// What kind of instruction a step is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepKind {
    /// `FROM` an image (loading its layers).
    From,
    /// `RUN`: a command in the sandbox.
    Run,
    /// `COPY`.
    Copy,
    /// `ADD`.
    Add,
    /// `WORKDIR` (creates the directory).
    Workdir,
}

/// One step of the build as shown to the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepInfo {
    /// Number of the step in this build, from 1 (BuildKit's `#N`).
    pub id: u32,
    /// Index of the stage in the Dockerfile.
    pub stage_index: usize,
    /// The stage's display name (`build`, `stage-1`).
    pub stage: String,
    /// What kind of step.
    pub kind: StepKind,
    /// BuildKit's vertex name: `[stage k/n] INSTRUCTION args`.
    pub name: String,
    /// Dockerfile location (`Dockerfile:12` or `Dockerfile:12-14`).
    pub location: String,
}

/// Something that happened during a build.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum BuildEvent {
    /// The steps the build will go through, in order (sent once, before anything runs).
    Plan {
        /// Every step.
        steps: Vec<StepInfo>,
    },
    /// A step started executing (a RUN step starts a sandbox).
    Started {
        /// The step.
        step: StepInfo,
        /// When.
        #[serde(with = "unix_secs")]
        at: SystemTime,
    },
    /// A step was satisfied from the cache without executing.
    Cached {
        /// The step.
        step: StepInfo,
    },
    /// A step must run although it was built before: what changed since then.
    CacheMiss {
        /// The step.
        step_id: u32,
        /// What changed (`file src/main.c modified`, `build arg VERSION`, `base image`, `previous step`).
        reasons: Vec<String>,
    },
    /// One line of output of a running step.
    Log {
        /// The step.
        step_id: u32,
        /// The line, without its newline (lossily decoded).
        line: String,
    },
    /// A step finished.
    Done {
        /// The step.
        step_id: u32,
        /// How long it took.
        #[serde(with = "duration_secs")]
        elapsed: Duration,
        /// Whether it came from the cache.
        cached: bool,
    },
    /// A step failed; the build stops.
    Failed {
        /// The step.
        step_id: u32,
        /// The error, rendered.
        message: String,
    },
    /// A warning that does not stop the build.
    Warning {
        /// The message.
        message: String,
    },
    /// An export or commit phase (`writing image`, `exporting to oci-archive`).
    Exporting {
        /// What is being done.
        what: String,
    },
}

/// Receives events from the engine, possibly from several threads at once.
pub trait EventSink: Send + Sync {
    /// Handles one event.
    fn emit(&self, event: BuildEvent);
}

/// Discards every event.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoEvents;

impl EventSink for NoEvents {
    fn emit(&self, _event: BuildEvent) {}
}

/// Keeps every event in memory (tests, and callers that render after the build).
#[derive(Debug, Default)]
pub struct CollectEvents {
    events: std::sync::Mutex<Vec<BuildEvent>>,
}

impl CollectEvents {
    /// The events so far.
    pub fn events(&self) -> Vec<BuildEvent> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

impl EventSink for CollectEvents {
    fn emit(&self, event: BuildEvent) {
        if let Ok(mut e) = self.events.lock() {
            e.push(event);
        }
    }
}

mod duration_secs {
    use std::time::Duration;

    pub(super) fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
}

mod unix_secs {
    use std::time::SystemTime;

    pub(super) fn serialize<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        let secs = t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
        s.serialize_f64(secs)
    }
}
