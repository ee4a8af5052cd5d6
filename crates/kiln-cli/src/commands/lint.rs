//! `kiln lint`: lint Dockerfiles (hadolint's DL rules, BuildKit's checks, kiln's KL rules) with hadolint's
//! flags, configuration and exit codes; `--fix`/`--diff` apply the safe fixes. The work is
//! `kiln_lint::batch::Run`; this module resolves flags into it and prints the report.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args as ClapArgs;
use kiln_lint::batch::{ContextMode, FixMode, Run};
use kiln_lint::format::{Format, TtyOptions, render};
use kiln_lint::{Config, LabelType, Level};

use crate::exit::Outcome;

/// `kiln lint` arguments (hadolint's names where hadolint has the option).
#[derive(Debug, ClapArgs)]
pub(crate) struct Args {
    /// Dockerfiles or directories (searched for `Dockerfile`, `Dockerfile.*`, `*.Dockerfile`); `-` reads
    /// standard input.
    #[arg(value_name = "PATH", default_value = "Dockerfile")]
    paths: Vec<PathBuf>,
    /// Output format: tty, json, sarif, checkstyle, gnu, codeclimate (default tty, or the config's).
    #[arg(short = 'f', long, value_name = "FORMAT")]
    format: Option<String>,
    /// Configuration file (default: hadolint's search, `./.hadolint.yaml` first).
    #[arg(short = 'c', long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Do not report this rule (repeatable).
    #[arg(long, value_name = "RULE")]
    ignore: Vec<String>,
    /// Report this rule as an error (repeatable).
    #[arg(long, value_name = "RULE")]
    error: Vec<String>,
    /// Report this rule as a warning (repeatable).
    #[arg(long, value_name = "RULE")]
    warning: Vec<String>,
    /// Report this rule as info (repeatable).
    #[arg(long, value_name = "RULE")]
    info: Vec<String>,
    /// Report this rule as style (repeatable).
    #[arg(long, value_name = "RULE")]
    style: Vec<String>,
    /// Exit 1 only for findings at this level or above: error, warning, info, style, none.
    #[arg(short = 't', long, value_name = "LEVEL")]
    failure_threshold: Option<String>,
    /// Only report findings at this level or above.
    #[arg(long, value_name = "LEVEL")]
    severity: Option<String>,
    /// Always exit 0 when the files could be linted.
    #[arg(long)]
    no_fail: bool,
    /// Allowed registry for FROM images (DL3026; repeatable).
    #[arg(long, value_name = "REGISTRY")]
    trusted_registry: Vec<String>,
    /// Required label and its type, `name:type` (DL3049–DL3058; repeatable).
    #[arg(long, value_name = "LABEL:TYPE")]
    require_label: Vec<String>,
    /// Report labels that `--require-label`/label-schema does not name (DL3050).
    #[arg(long)]
    strict_labels: bool,
    /// Ignore `# hadolint ignore=` / `# kiln ignore=` pragmas.
    #[arg(long)]
    disable_ignore_pragma: bool,
    /// Build context for context-aware rules (default: each Dockerfile's directory).
    #[arg(long, value_name = "DIR")]
    context: Option<PathBuf>,
    /// Rewrite the files with the safe fixes, then report what is left.
    #[arg(long, conflicts_with = "diff")]
    fix: bool,
    /// Print the safe fixes as a unified diff; change nothing.
    #[arg(long)]
    diff: bool,
    /// Only fix these rules (with --fix/--diff; repeatable).
    #[arg(long, value_name = "RULE")]
    fix_only: Vec<String>,
    /// Never use colors.
    #[arg(long)]
    no_color: bool,
    /// List every rule with its level and title.
    #[arg(long, exclusive = true)]
    list_rules: bool,
    /// Explain a rule (e.g. DL3008, UndefinedVar, KL001).
    #[arg(long, value_name = "RULE", exclusive = true)]
    explain: Option<String>,
}

fn level(s: &str) -> anyhow::Result<Level> {
    Level::parse(s).with_context(|| format!("invalid level {s:?} (error, warning, info, style, none)"))
}

/// Runs `kiln lint`.
pub(crate) fn run(args: Args) -> anyhow::Result<Outcome> {
    if args.list_rules {
        for r in kiln_lint::RULES {
            crate::output::line(&format!(
                "{:<32} {:<8} {:<9} {}",
                r.id,
                r.level.as_str(),
                r.origin.as_str(),
                r.title
            ));
        }
        return Ok(Outcome::Ok);
    }
    if let Some(id) = &args.explain {
        let r =
            kiln_lint::rule(id).with_context(|| format!("no rule {id:?} (see kiln lint --list-rules)"))?;
        crate::output::text(&kiln_lint::docs::rule_text(r));
        return Ok(Outcome::Ok);
    }
    let mut cli = Config { ignored: args.ignore.iter().cloned().collect(), ..Config::default() };
    for (ids, l) in [
        (&args.error, Level::Error),
        (&args.warning, Level::Warning),
        (&args.info, Level::Info),
        (&args.style, Level::Style),
    ] {
        cli.overrides.extend(ids.iter().map(|id| (id.clone(), l)));
    }
    cli.trusted_registries.clone_from(&args.trusted_registry);
    for item in &args.require_label {
        let (name, ty) = item.split_once(':').unwrap_or((item, ""));
        let t =
            LabelType::parse(ty).with_context(|| format!("--require-label {item:?}: invalid label type"))?;
        cli.label_schema.insert(name.to_owned(), t);
    }
    cli.strict_labels = args.strict_labels;
    cli.disable_ignore_pragma = args.disable_ignore_pragma;
    cli.failure_threshold = args.failure_threshold.as_deref().map(level).transpose()?;
    cli.no_fail = args.no_fail.then_some(true);
    cli.format.clone_from(&args.format);
    let cwd = std::env::current_dir().context("reading the current directory")?;
    let env = |k: &str| std::env::var(k).ok();
    let (config, _) = kiln_lint::batch::resolve_config(args.config.as_deref(), true, &cwd, &env, cli)?;
    let format_name = config.format.clone().unwrap_or_else(|| "tty".to_owned());
    let Some(format) = Format::parse(&format_name) else {
        bail!("unknown format {format_name:?} (tty, json, sarif, checkstyle, gnu, codeclimate)");
    };

    let stdin_wanted = args.paths.iter().any(|p| p.as_os_str() == "-");
    let stdin = if stdin_wanted {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).context("reading the Dockerfile from standard input")?;
        Some(s)
    } else {
        None
    };
    let run = Run {
        paths: args.paths.into_iter().filter(|p| p.as_os_str() != "-").collect(),
        stdin,
        context: args.context.map_or(ContextMode::DockerfileDir, ContextMode::Dir),
        fix: if args.fix {
            FixMode::Write
        } else if args.diff {
            FixMode::Diff
        } else {
            FixMode::Report
        },
        fix_only: (!args.fix_only.is_empty()).then(|| args.fix_only.into_iter().collect()),
        min_level: args.severity.as_deref().map(level).transpose()?,
    };
    let result = run.execute(&config)?;
    let threshold = if config.no_fail == Some(true) {
        Level::Ignore
    } else {
        config.failure_threshold.unwrap_or(Level::Info)
    };
    report(&result, run.fix, format, !args.no_color, threshold)
}

#[allow(clippy::print_stderr)] // what was fixed and what could not be read are diagnostics
fn report(
    result: &kiln_lint::batch::RunResult,
    mode: FixMode,
    format: Format,
    color: bool,
    threshold: Level,
) -> anyhow::Result<Outcome> {
    for e in &result.errors {
        eprintln!("error: {e}");
    }
    if mode == FixMode::Diff {
        crate::output::text(&result.diff);
        return Ok(if result.diff.is_empty() { Outcome::Ok } else { Outcome::Findings });
    }
    for (path, rules) in &result.fixed {
        eprintln!("fixed {}: {}", path.display(), rules.join(", "));
    }
    let color = color
        && format == Format::Tty
        && std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none();
    crate::output::text(&render(format, &result.reports, TtyOptions { color }));
    if !result.errors.is_empty() {
        bail!("{} of the inputs could not be linted", result.errors.len());
    }
    let failed = threshold != Level::Ignore && result.reports.iter().any(|r| r.fails(threshold));
    Ok(if failed { Outcome::Findings } else { Outcome::Ok })
}
