//! The subcommands: one module each, holding its clap arguments and a `run` that resolves them into a
//! library call and renders the result. A module over ~150 lines is a missing library function.

mod analyze;
mod build;
mod build_cache;
mod change;
mod check;
mod context;
mod db;
mod diagnostic;
mod diff;
mod image;
mod inspect;
mod lint;
mod parse;
mod plan;
mod progress;
mod registry;
mod render;
mod sbom;
mod scan;
mod transfer;

use std::path::PathBuf;

use clap::Subcommand;

use crate::exit::Outcome;

/// Options every subcommand sees.
#[derive(Debug)]
pub(crate) struct Global {
    /// `--root` / `KILN_ROOT`, when given.
    pub(crate) root: Option<PathBuf>,
}

/// kiln's subcommands (only implemented ones are listed).
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Build an image from a Dockerfile (`docker build` flags).
    Build(Box<build::Args>),
    /// Parse a Dockerfile and print its syntax tree (JSON) or BuildKit's parser dump.
    Parse(parse::Args),
    /// Print the stage graph a build would run: stages in build order, bases, dependencies, pruned stages.
    Plan(plan::Args),
    /// Inspect a build context: what a build would send and why a path is in or out.
    #[command(subcommand)]
    Context(context::Command),
    /// List the images in the store.
    Images(image::ImagesArgs),
    /// Give an image another name.
    Tag(image::TagArgs),
    /// Remove images (untag; delete when no tag is left).
    Rmi(image::RmiArgs),
    /// Show an image's config and manifest as JSON.
    Inspect(inspect::ImageArg),
    /// Show the history of an image.
    History(inspect::ImageArg),
    /// Remove unused blobs, snapshots and leftovers of interrupted operations.
    Prune(image::PruneArgs),
    /// Import a root filesystem (directory or tarball) as a one-layer image.
    Import(transfer::ImportArgs),
    /// Save images to a docker-archive or OCI archive.
    Save(transfer::SaveArgs),
    /// Load images from a docker-archive or OCI archive.
    Load(transfer::LoadArgs),
    /// Copy an image between the store, OCI layouts and archives.
    Copy(transfer::CopyArgs),
    /// Show where an image's bytes go: dive's efficiency and waste, findings, suggestions, CI gates.
    Analyze(Box<analyze::Args>),
    /// Compare two images file by file.
    Diff(diff::Args),
    /// List the packages installed in an image (SBOM: CycloneDX, SPDX, JSON or a table).
    Sbom(sbom::Args),
    /// Scan an image: known vulnerabilities (offline OSV database), leaked secrets, CIS-style checks.
    Scan(Box<scan::Args>),
    /// Manage the offline vulnerability database (OSV) that `kiln scan` uses.
    #[command(subcommand)]
    Db(db::Command),
    /// Lint Dockerfiles: hadolint's rules and flags, BuildKit's build checks, kiln's own rules, safe fixes.
    Lint(Box<lint::Args>),
    /// Pull an image from a registry into the store.
    Pull(registry::PullArgs),
    /// Push an image from the store to a registry.
    Push(registry::PushArgs),
    /// Log in to a registry (saved where `docker login` saves it).
    Login(registry::LoginArgs),
    /// Remove a registry login.
    Logout(registry::LogoutArgs),
    /// Print the version.
    Version,
}

/// Opens the store at `--root`, `KILN_ROOT` or the default root.
pub(crate) fn open_store(global: &Global) -> anyhow::Result<kiln_store::Store> {
    let root = kiln_store::Store::resolve_root(global.root.as_deref());
    kiln_store::Store::open(&root)
        .map_err(|e| anyhow::anyhow!(e))
        .map_err(|e| e.context(format!("opening the store at {}", root.display())))
}

/// Runs one subcommand.
pub(crate) fn run(command: Command, global: &Global) -> anyhow::Result<Outcome> {
    match command {
        Command::Build(args) => build::run(*args, global),
        Command::Parse(args) => parse::run(args),
        Command::Plan(args) => plan::run(args),
        Command::Context(command) => context::run(command),
        Command::Images(args) => image::images(args, global),
        Command::Tag(args) => image::tag(args, global),
        Command::Rmi(args) => image::rmi(args, global),
        Command::Inspect(args) => inspect::inspect(args, global),
        Command::History(args) => inspect::history(args, global),
        Command::Prune(args) => image::prune(args, global),
        Command::Import(args) => transfer::import(args, global),
        Command::Save(args) => transfer::save(args, global),
        Command::Load(args) => transfer::load(args, global),
        Command::Copy(args) => transfer::copy(args, global),
        Command::Analyze(args) => analyze::run(*args, global),
        Command::Diff(args) => diff::run(args, global),
        Command::Sbom(args) => sbom::run(args, global),
        Command::Scan(args) => scan::run(*args, global),
        Command::Db(command) => db::run(command, global),
        Command::Lint(args) => lint::run(*args),
        Command::Pull(args) => registry::pull(args, global),
        Command::Push(args) => registry::push(args, global),
        Command::Login(args) => registry::login(args),
        Command::Logout(args) => registry::logout(args),
        Command::Version => {
            crate::output::line(env!("CARGO_PKG_VERSION"));
            Ok(Outcome::Ok)
        }
    }
}
