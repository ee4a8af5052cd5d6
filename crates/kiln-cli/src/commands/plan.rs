//! `kiln plan`: the stage graph a build would run (which stages, in which order, their bases and
//! dependencies, what is pruned), from kiln-plan.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args as ClapArgs, ValueEnum};
use kiln_oci::Platform;
use kiln_plan::{GraphSummary, PlanOptions, StageSummary};

use crate::exit::Outcome;

/// `kiln plan` arguments (`docker build` names).
#[derive(Debug, ClapArgs)]
pub(crate) struct Args {
    /// The Dockerfile to read (`-` reads standard input).
    #[arg(short = 'f', long = "file", default_value = "Dockerfile")]
    file: PathBuf,
    /// The stage to build (default: the last one).
    #[arg(long)]
    target: Option<String>,
    /// A build argument `NAME=VALUE` (`NAME` alone takes the value from the environment); repeatable.
    #[arg(long = "build-arg", value_name = "NAME[=VALUE]")]
    build_args: Vec<String>,
    /// A named build context `NAME=DIR` (only the name matters for the plan); repeatable.
    #[arg(long = "build-context", value_name = "NAME=DIR")]
    build_contexts: Vec<String>,
    /// The platform to build for (default: this machine's).
    #[arg(long)]
    platform: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

/// Runs `kiln plan`.
pub(crate) fn run(args: Args) -> anyhow::Result<Outcome> {
    let (name, source) = read_dockerfile(&args.file)?;
    let dockerfile = kiln_dockerfile::parse_named(&name, &source).map_err(super::diagnostic::rendered)?;
    let options = PlanOptions {
        target: args.target,
        build_args: build_args(&args.build_args),
        named_contexts: args.build_contexts.iter().map(|c| context_name(c)).collect::<anyhow::Result<_>>()?,
        target_platform: args.platform.as_deref().map(parse_platform).transpose()?,
        ..PlanOptions::default()
    };
    let graph = kiln_plan::plan(Arc::new(dockerfile), &options).map_err(super::diagnostic::rendered)?;
    if let Some(w) = graph.unused_build_args_warning() {
        super::diagnostic::warn(&w);
    }
    let summary = graph.summary();
    match args.format {
        Format::Json => crate::output::json(&summary)?,
        Format::Text => crate::output::text(&render(&summary)),
    }
    Ok(Outcome::Ok)
}

/// The Dockerfile's name (for diagnostics) and text; `-` is standard input.
pub(crate) fn read_dockerfile(file: &std::path::Path) -> anyhow::Result<(String, String)> {
    if file.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).context("reading the Dockerfile from standard input")?;
        return Ok(("<stdin>".to_owned(), s));
    }
    Ok((file.display().to_string(), fs_err::read_to_string(file)?))
}

/// `--build-arg`s as `docker build` reads them: `NAME=VALUE`, or `NAME` taking the environment's value
/// (ignored when the environment has none).
fn build_args(raw: &[String]) -> BTreeMap<String, String> {
    raw.iter()
        .filter_map(|a| match a.split_once('=') {
            Some((k, v)) => Some((k.to_owned(), v.to_owned())),
            None => std::env::var(a).ok().map(|v| (a.clone(), v)),
        })
        .collect()
}

fn context_name(raw: &str) -> anyhow::Result<String> {
    match raw.split_once('=') {
        Some((name, value)) if !name.is_empty() && !value.is_empty() => Ok(name.to_owned()),
        _ => bail!("invalid --build-context {raw:?}: expected NAME=VALUE"),
    }
}

fn parse_platform(raw: &str) -> anyhow::Result<Platform> {
    if raw.contains(',') {
        bail!("--platform {raw:?}: kiln builds for one platform at a time");
    }
    Ok(Platform::parse(raw)?)
}

fn render(s: &GraphSummary) -> String {
    let mut out = format!(
        "{}: target {} (stage {}), platform {} (build platform {})\n",
        s.file, s.target.display_name, s.target.index, s.target_platform, s.build_platform
    );
    out.push_str("build order:\n");
    for stage in &s.stages {
        out.push_str(&stage_line(stage));
        for d in &stage.dependencies {
            out.push_str(&format!("      needs {} ({}, line {})\n", d.name, d.via, d.line));
        }
        for i in &stage.other_inputs {
            out.push_str(&format!("      reads {i}\n"));
        }
    }
    if !s.pruned.is_empty() {
        out.push_str("pruned (not needed by the target):\n");
        for stage in &s.pruned {
            out.push_str(&stage_line(stage));
        }
    }
    out
}

fn stage_line(s: &StageSummary) -> String {
    let steps = if s.steps == 1 { "1 step".to_owned() } else { format!("{} steps", s.steps) };
    let base = match &s.replaced_by {
        Some(c) => format!("replaced by context {c}"),
        None => format!("FROM {}", s.base),
    };
    format!("  {:>2} {:<16} line {:<4} {base}, {}, {steps}\n", s.index, s.display_name, s.line, s.platform)
}
