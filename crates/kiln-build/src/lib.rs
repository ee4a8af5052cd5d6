//! kiln's build engine: turns a planned Dockerfile ([`kiln_plan::BuildGraph`]) and its build context into
//! an image in the store, the way BuildKit's solver and Dockerfile frontend would, without a daemon. The
//! central type is [`Engine`]; one [`Engine::build`] takes a [`BuildRequest`] and returns a
//! [`BuildOutput`].
//!
//! - Stages run as soon as their dependencies are done, each on its own thread; the first failure (or a
//!   [`CancelHandle`]) cancels the others: running commands are killed and nothing more is committed.
//! - Every filesystem step (RUN, COPY, ADD, WORKDIR) has a cache key computed *before* it runs (`key`
//!   module docs); a hit reuses the recorded layer without executing. A miss names what changed since the
//!   last build of that step (`file src/main.c modified`), in the progress events and the step reports.
//! - RUN runs in kiln-sandbox over the stage's snapshot stack; the overlay upper directory becomes the
//!   layer and, renamed, its snapshot. The sandbox sets `no_new_privs` (BuildKit does not): setuid
//!   programs do not gain privileges in a RUN. COPY/ADD and WORKDIR build their layer in a fresh directory, using a
//!   read-only view of the stage only to inspect the destination and resolve `--chown` names.
//! - The image config and history are what BuildKit writes (`created_by` strings, empty-layer entries,
//!   creation times), except that each history `comment` holds kiln's provenance (Dockerfile path and
//!   lines) instead of `buildkit.dockerfile.v0`. `SOURCE_DATE_EPOCH` clamps every time, so the same inputs
//!   give the same image digest.
//! - Base images come through the [`BaseImages`] trait ([`StoreImages`] resolves from the store only).
//! - Progress is a stream of [`BuildEvent`]s to an [`EventSink`]; the engine never prints.
//! - Results leave the store through [`export`] (OCI layout or archive, docker-archive, a flattened
//!   rootfs directory or tarball).
//! - `--cache-from` sources ([`CacheSource`], e.g. [`LocalCacheDir`]) are consulted when the store misses;
//!   every step of a build is reported ([`CachedStep`]) so that `--cache-to` can export them
//!   ([`CacheMode`]).
//! - [`prepare`] is the `docker build`-shaped front door: flags as typed ([`BuildSettings`]) to a request.

mod archive;
mod base;
mod chmod;
mod chown;
mod copy;
mod engine;
mod error;
mod events;
mod fetch;
mod history;
mod invoke;
mod key;
mod mounts;
mod output;
mod remote_cache;
mod request;
mod run;
mod schedule;
mod stage;
mod state;

pub use base::{BaseImageError, BaseImages, PullPolicy, ResolvedImage, StoreImages};
pub use engine::{CancelHandle, Engine};
pub use error::{BuildError, OUTPUT_TAIL_LINES, RunFailure, StepLocation};
pub use events::{BuildEvent, CollectEvents, EventSink, NoEvents, StepInfo, StepKind};
pub use invoke::{BuildSettings, ContextSource, Prepared, parse_output, parse_secret, parse_ssh, prepare};
pub use output::{Output, export};
pub use remote_cache::{
    CacheExport, CacheImport, CacheMode, CacheSource, CacheSourceError, CachedStep, LocalCacheDir,
    parse_cache_from, parse_cache_to,
};
pub use request::{BuildOutput, BuildRequest, NetworkMode, Secret, StepReport};
