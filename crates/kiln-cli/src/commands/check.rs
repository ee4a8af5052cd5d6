//! Build checks around `kiln build`: `--check` lints the Dockerfile with all of `kiln lint`'s rules (and its
//! configuration file) before building and stops on an error; every build reports BuildKit's own build
//! checks as BuildKit does (warnings listed after the build, a build stopped when the Dockerfile's
//! `# check=error=true` makes one an error).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context as _, bail};
use kiln_dockerfile::Dockerfile;
use kiln_lint::format::{Format, TtyOptions, render};
use kiln_lint::{Config, Finding, Level, Origin, Report};

/// Lints `df` before it is built: with `all` every rule under the configuration `kiln lint` would find
/// from the working directory, else BuildKit's build checks alone. Errors stop the build (printed in
/// `kiln lint`'s format); the other findings are returned to be reported after the build.
pub(crate) fn before_build(df: &Dockerfile, all: bool) -> anyhow::Result<Report> {
    let config = if all { lint_config()? } else { Config::default() };
    let mut findings: Vec<Finding> = kiln_lint::check(df, &config);
    findings.retain(|f| {
        f.level != Level::Ignore && (all || f.rule_data().is_some_and(|r| r.origin == Origin::Buildkit))
    });
    let report = Report { file: df.file().to_owned(), source: df.source().to_owned(), findings };
    let errors = report.findings.iter().filter(|f| f.level == Level::Error).count();
    if errors > 0 {
        let errors_only = Report {
            findings: report.findings.iter().filter(|f| f.level == Level::Error).cloned().collect(),
            ..report
        };
        eprint(&render(Format::Tty, std::slice::from_ref(&errors_only), TtyOptions { color: false }));
        bail!(
            "{errors} build check{} failed in {} (see kiln lint --explain RULE)",
            if errors == 1 { "" } else { "s" },
            errors_only.file
        );
    }
    Ok(report)
}

/// Prints what [`before_build`] found below errors, as BuildKit lists its warnings after a build.
pub(crate) fn report_after_build(report: &Report) {
    if report.findings.is_empty() {
        return;
    }
    let n = report.findings.len();
    let mut out = format!("{n} warning{} found:\n", if n == 1 { "" } else { "s" });
    for f in &report.findings {
        let _ = writeln!(out, " - {}: {} ({}:{})", f.rule, f.message, report.file, f.line);
    }
    eprint(&out);
}

/// `kiln lint`'s configuration: `.hadolint.yaml` and friends found from the working directory, and the
/// `HADOLINT_*` variables.
fn lint_config() -> anyhow::Result<Config> {
    let cwd = std::env::current_dir().context("reading the current directory")?;
    let env = |k: &str| std::env::var(k).ok();
    let (config, _) = kiln_lint::batch::resolve_config(None::<&Path>, true, &cwd, &env, Config::default())?;
    Ok(config)
}

#[allow(clippy::print_stderr)] // build-check findings are diagnostics
fn eprint(text: &str) {
    eprint!("{text}");
}
