//! kiln-plan's rules as specs: ARG scoping, stage resolution and pruning, inputs, named contexts, ONBUILD
//! triggers, and the errors BuildKit reports.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod args;
mod errors;
mod graph;

use std::sync::Arc;

use kiln_oci::Platform;
use kiln_plan::{BuildGraph, PlanError, PlanOptions};

/// Options with fixed platforms (linux/amd64 builds for linux/amd64) so tests do not depend on the host.
pub fn options() -> PlanOptions {
    PlanOptions { build_platform: Platform::parse("linux/amd64").unwrap(), ..PlanOptions::default() }
}

/// `options()` plus `--build-arg`s.
pub fn with_args(args: &[(&str, &str)]) -> PlanOptions {
    let mut o = options();
    o.build_args = args.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    o
}

/// Plans `src` (called `Dockerfile`).
pub fn try_plan(src: &str, options: &PlanOptions) -> Result<BuildGraph, PlanError> {
    let df = kiln_dockerfile::parse(src).expect("test Dockerfile parses");
    kiln_plan::plan(Arc::new(df), options)
}

/// Plans `src`, panicking with the error when it fails.
pub fn plan(src: &str, options: &PlanOptions) -> BuildGraph {
    try_plan(src, options).unwrap_or_else(|e| panic!("plan failed: {e}"))
}

/// The error text (`file:line:col: message` for located errors).
pub fn plan_err(src: &str, options: &PlanOptions) -> String {
    match try_plan(src, options) {
        Ok(_) => panic!("expected an error for:\n{src}"),
        Err(e) => e.to_string(),
    }
}

/// `options()` with `--target`.
pub fn target(t: &str) -> PlanOptions {
    let mut o = options();
    o.target = Some(t.to_owned());
    o
}
