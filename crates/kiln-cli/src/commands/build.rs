//! `kiln build`: `docker build` flags → `kiln_build::prepare` → `Engine::build` → outputs, with progress
//! on stderr (`progress`), `--iidfile` and `--metadata-file`. Ctrl-C cancels the build (running commands
//! are killed, nothing is committed) and exits 130.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args as ClapArgs;
use kiln_build::{BuildError, BuildSettings, ContextSource, Engine, Output};
use kiln_sandbox::{LinuxSys, Sandbox};

use super::progress::{self, Mode};
use crate::exit::{Interrupted, Outcome};

/// `kiln build` arguments, with `docker build` names.
#[derive(Debug, ClapArgs)]
pub(crate) struct Args {
    /// The build context: a directory, or `-` for a tarball (or a lone Dockerfile) on standard input.
    #[arg(default_value = ".", value_name = "PATH|-")]
    path: String,
    /// The Dockerfile (default `PATH/Dockerfile`; `-` reads standard input; may be outside the context).
    #[arg(short = 'f', long = "file")]
    file: Option<PathBuf>,
    /// Name the image `name[:tag]`; repeatable.
    #[arg(short = 't', long = "tag")]
    tags: Vec<String>,
    /// A build argument `NAME=VALUE` (`NAME` alone takes the environment's value); repeatable.
    #[arg(long = "build-arg", value_name = "NAME[=VALUE]")]
    build_args: Vec<String>,
    /// A named context `NAME=DIR` for `FROM NAME` and `COPY --from=NAME`; repeatable.
    #[arg(long = "build-context", value_name = "NAME=DIR")]
    build_contexts: Vec<String>,
    /// A secret for `RUN --mount=type=secret`: `id=ID,src=FILE` or `id=ID,env=VAR`; repeatable.
    #[arg(long)]
    secret: Vec<String>,
    /// An SSH agent for `RUN --mount=type=ssh`: `default` or `ID=SOCKET`; repeatable.
    #[arg(long)]
    ssh: Vec<String>,
    /// A label `KEY=VALUE` for the image; repeatable.
    #[arg(long)]
    label: Vec<String>,
    /// The stage to build (default: the last).
    #[arg(long)]
    target: Option<String>,
    /// The platform to build for (only this machine's).
    #[arg(long)]
    platform: Option<String>,
    /// Network of RUN steps: `default` (the host's), `host` or `none`.
    #[arg(long, default_value = "default")]
    network: String,
    /// Do not use the cache.
    #[arg(long)]
    no_cache: bool,
    /// Do not use the cache for these stages; repeatable.
    #[arg(long = "no-cache-filter", value_name = "STAGE")]
    no_cache_filter: Vec<String>,
    /// Always check the registry for a newer base image (else the store is used when it has one).
    #[arg(long)]
    pull: bool,
    /// Write the image ID to this file.
    #[arg(long, value_name = "FILE")]
    iidfile: Option<PathBuf>,
    /// Write build metadata (JSON: image digest, config digest, step reports) to this file.
    #[arg(long = "metadata-file", value_name = "FILE")]
    metadata_file: Option<PathBuf>,
    /// Progress output on stderr.
    #[arg(long, value_enum, default_value_t = Mode::Auto)]
    progress: Mode,
    /// No progress; print the image ID on stdout.
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Also write the result: `type=image|oci|docker|local|tar,dest=PATH`; repeatable.
    #[arg(short = 'o', long)]
    output: Vec<String>,
    /// Lint the Dockerfile with every `kiln lint` rule before building; an error-level finding stops the
    /// build (BuildKit's own checks always run, and are listed after the build).
    #[arg(long)]
    check: bool,
    /// Scan the built image (vulnerabilities, secrets, audit; see `kiln scan`) and print the report.
    #[arg(long)]
    scan: bool,
    /// With --scan: fail (exit 1, nothing pushed) when a finding is at this level or above.
    #[arg(long, value_enum, requires = "scan")]
    fail_on: Option<super::scan::Level>,
    /// Push the image to its registry under each --tag after the build (`--output type=registry`).
    #[arg(long)]
    push: bool,
    /// Also reuse cached steps from here: `type=registry,ref=REF`, `type=local,src=DIR`, or a bare REF;
    /// repeatable. Layers are fetched only for the steps the build reuses.
    #[arg(long = "cache-from", value_name = "SPEC")]
    cache_from: Vec<String>,
    /// Export the build cache after the build: `type=registry,ref=REF` or `type=local,dest=DIR`, with
    /// `mode=min` (the result's steps, the default) or `mode=max` (every stage's), `compression=gzip|zstd`;
    /// repeatable.
    #[arg(long = "cache-to", value_name = "SPEC")]
    cache_to: Vec<String>,
    #[command(flatten)]
    registry: super::registry::RegistryArgs,
}

/// Runs `kiln build`.
pub(crate) fn run(args: Args, global: &super::Global) -> anyhow::Result<Outcome> {
    let store = super::open_store(global)?;
    let outputs = args.output.iter().map(|o| kiln_build::parse_output(o)).collect::<Result<Vec<_>, _>>()?;
    let cache_to =
        args.cache_to.iter().map(|c| kiln_build::parse_cache_to(c)).collect::<Result<Vec<_>, _>>()?;
    let cache_from = super::build_cache::sources(&args.cache_from, &args.registry)?;
    let settings = BuildSettings {
        context: if args.path == "-" {
            ContextSource::Stdin
        } else {
            ContextSource::Dir(PathBuf::from(&args.path))
        },
        file: args.file,
        build_args: args
            .build_args
            .iter()
            .filter_map(|a| match a.split_once('=') {
                Some((k, v)) => Some((k.to_owned(), v.to_owned())),
                None => std::env::var(a).ok().map(|v| (a.clone(), v)),
            })
            .collect(),
        build_contexts: args.build_contexts,
        secrets: args.secret,
        ssh: args.ssh,
        labels: args.label,
        tags: args.tags,
        target: args.target,
        platform: args.platform,
        network: args.network,
        no_cache: args.no_cache,
        no_cache_filter: args.no_cache_filter,
        pull: args.pull,
        source_date_epoch: std::env::var("SOURCE_DATE_EPOCH").ok().and_then(|v| v.trim().parse().ok()),
    };
    let scratch = std::env::temp_dir();
    let prepared =
        kiln_build::prepare(&settings, &mut std::io::stdin().lock(), &scratch).map_err(rendered)?;
    let mut request = prepared.request;
    request.cache_from = cache_from;
    let checks = super::check::before_build(request.graph.dockerfile(), args.check)?;
    // Dropped after the engine, on every return: the tty view draws its final frame then.
    let progress = progress::sink(if args.quiet { Mode::Quiet } else { args.progress });
    let sandbox = Sandbox::new(Arc::new(LinuxSys), store.root().join("v1").join("sandbox"));
    let engine = Engine::new(
        store.clone(),
        Arc::new(sandbox),
        Arc::new(super::registry::RegistryImages::new(store.clone(), args.registry.registry())),
        progress.events(),
    );
    let cancel = engine.cancel_handle();
    // A second handler cannot be installed (tests run several builds in one process): then Ctrl-C keeps
    // its default action, which still leaves nothing mounted.
    let _ = ctrlc::set_handler(move || cancel.cancel());
    let built = engine.build(&request);
    drop(engine);
    drop(progress);
    let built = built.map_err(rendered)?;
    super::check::report_after_build(&checks);
    let id = built.image.id.to_string();
    if args.scan && super::scan::after_build(&id, args.fail_on, global)? == Outcome::Findings {
        // The image stays in the store (to inspect it) but is neither pushed nor exported; exit 1 as a
        // `kiln scan --fail-on` that triggers.
        super::diagnostic::warn(&format!("build failed: the scan of {id} found what --fail-on forbids"));
        return Ok(Outcome::Findings);
    }
    let image = kiln_oci::ImageLocation::StoreId(built.image.id.hex().to_owned());
    for output in &outputs {
        match output {
            Output::Image => {}
            Output::Registry { names } => {
                let names = if names.is_empty() { &request.tags } else { names };
                super::registry::push_tags(&store, &image, names, &args.registry)?;
            }
            _ => kiln_build::export(&store, &built, output, &request.tags).map_err(rendered)?,
        }
    }
    if args.push {
        super::registry::push_tags(&store, &image, &request.tags, &args.registry)?;
    }
    super::build_cache::export(&store, &built, &cache_to, &args.registry)?;
    if let Some(path) = &args.iidfile {
        fs_err::write(path, &id)?;
    }
    if let Some(path) = &args.metadata_file {
        let names: Vec<String> = request.tags.iter().map(ToString::to_string).collect();
        let metadata = serde_json::json!({
            "containerimage.digest": built.image.manifest_digest.to_string(),
            "containerimage.config.digest": id,
            "image.name": names.join(","),
            "kiln.build.steps": built.steps,
            "kiln.build.runs": built.runs,
        });
        fs_err::write(path, serde_json::to_vec_pretty(&metadata)?).context("writing the metadata file")?;
    }
    if args.quiet {
        crate::output::line(&id);
    } else {
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), "built {id}{}", tags_note(&request.tags));
    }
    Ok(Outcome::Ok)
}

fn tags_note(tags: &[kiln_oci::Reference]) -> String {
    if tags.is_empty() {
        return String::new();
    }
    let names: Vec<String> = tags.iter().map(kiln_oci::Reference::familiar).collect();
    format!(" as {}", names.join(", "))
}

/// A build error for the user: Dockerfile errors with their source line; a failed RUN with the last lines
/// of its output; an interruption as [`Interrupted`] (exit 130).
fn rendered(e: BuildError) -> anyhow::Error {
    if e.is_cancelled() {
        return anyhow::Error::new(Interrupted);
    }
    if let BuildError::Dockerfile(p) = e {
        return super::diagnostic::rendered(*p);
    }
    let mut message = e.to_string();
    if let Some(f) = e.run_failure().filter(|f| !f.output_tail.is_empty()) {
        message.push_str(&format!("\n--- last {} lines of output ---", f.output_tail.len()));
        for line in &f.output_tail {
            message.push('\n');
            message.push_str(&progress::sanitize(line));
        }
    }
    anyhow::anyhow!(message)
}
