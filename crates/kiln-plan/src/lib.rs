//! A Dockerfile's stage graph for one build: [`plan`] turns a parsed [`Dockerfile`] plus build args,
//! `--target`, `--platform` and named build contexts ([`PlanOptions`]) into a [`BuildGraph`], with
//! BuildKit's (`dockerfile2llb`) semantics. Pure: no I/O.
//!
//! The graph holds every [`Stage`] by index and name (case-insensitive), each stage's base ([`Input`]:
//! `scratch`, an earlier stage, an image reference or a named context), its platform (`FROM --platform`
//! expanded), and its [`Step`]s: the instructions *unexpanded*, because the build engine expands each at
//! dispatch time with the stage's environment (`WORKDIR $GOPATH` needs the base image's ENV). What the
//! engine cannot work out alone is resolved here:
//! - for each ARG, where each declared name's value comes from ([`ArgValue`]): a `--build-arg`, the default
//!   (expanded later, [`Step::arg_value`]), the global scope, or nothing;
//! - for each `COPY --from` and `RUN --mount from=`, what it reads ([`StepInput`]);
//! - which stages the target needs ([`Stage::needed`], [`BuildGraph::order`]) and which are pruned;
//! - the global args ([`GlobalArgs`]), proxy args, `BUILDKIT_*` options, `SOURCE_DATE_EPOCH`, and the
//!   `--build-arg`s nothing consumes.
//!
//! Errors ([`PlanError`]) use BuildKit's wording and, when they belong to a line, are kiln-dockerfile
//! [`ParseError`]s with `file:line:col` and the source line.
//!
//! ```
//! use std::sync::Arc;
//! let df = kiln_dockerfile::parse("FROM alpine AS build\nRUN make\nFROM scratch\nCOPY --from=build /out /\n")?;
//! let graph = kiln_plan::plan(Arc::new(df), &kiln_plan::PlanOptions::default())?;
//! assert_eq!(graph.order, [0, 1]);
//! assert_eq!(graph.stages[1].steps[0].inputs[0].input, kiln_plan::Input::Stage(0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod args;
mod error;
mod graph;
mod mount;
mod plan;
mod summary;

pub use args::{
    GlobalArgs, NON_ENV_ARGS, PLATFORM_ARGS, PROXY_ARGS, is_builtin_arg, is_predefined_arg, is_proxy_arg,
};
pub use error::PlanError;
pub use graph::{
    ArgBinding, ArgValue, BuildGraph, Dependency, Input, InputUse, Stage, Step, StepInput, TriggerOrigin,
};
pub use kiln_dockerfile::{Dockerfile, ParseError};
pub use plan::{PlanOptions, plan};
pub use summary::{DependencySummary, GraphSummary, StageSummary};
