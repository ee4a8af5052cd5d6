//! Dockerfile linting: rules declared as data ([`RULES`]) — hadolint's `DL` rules, BuildKit's build checks
//! and kiln's own `KL` rules — checked over a parsed Dockerfile, filtered by a [`Config`] (hadolint's
//! `.hadolint.yaml` and `HADOLINT_*` variables), ignore pragmas and BuildKit's `# check=` directive, with
//! safe fixes ([`fix`]) and report formats ([`format`](mod@format)).
//!
//! Two entry points: [`check`] lints a [`Dockerfile`] that already parsed (what a build calls to print
//! BuildKit-style warnings), [`lint`] parses a source text first and also lints files BuildKit rejects
//! (reporting the parse error as `DL1000` and linting the instructions it could read, as hadolint does).
//!
//! Shell-aware rules look at the script a `RUN` hands to the shell, parsed by [`shell`] (kiln's own
//! ShellCheck-compatible command extraction). ShellCheck's own `SC` rules are not implemented: they are
//! ShellCheck's whole analysis, which only ShellCheck does properly.

pub mod batch;
pub mod config;
pub mod context;
pub mod docs;
pub mod finding;
pub mod fix;
pub mod format;
mod model;
mod pragma;
pub mod rule;
mod rules;
pub mod shell;

use kiln_dockerfile::{Dockerfile, ErrorKind, ParseError};

pub use config::{Config, ConfigError, LabelType};
pub use context::{BuildContext, ContextError};
pub use finding::{Edit, Finding, Fix};
pub use rule::{Level, Origin, RULES, Rule, rule};

/// Lints a parsed Dockerfile. Findings are sorted by line; their levels reflect `config` and the file's
/// `# check=` directive.
pub fn check(df: &Dockerfile, config: &Config) -> Vec<Finding> {
    let m = model::Model::from_dockerfile(df);
    rules::run(&m, config)
}

/// The findings for one file.
#[derive(Debug, Clone)]
pub struct Report {
    /// The file name as given.
    pub file: String,
    /// The source text.
    pub source: String,
    /// Findings, sorted by line.
    pub findings: Vec<Finding>,
}

impl Report {
    /// Whether any finding is at `threshold` or more serious.
    pub fn fails(&self, threshold: Level) -> bool {
        self.findings.iter().any(|f| f.level <= threshold && f.level != Level::Ignore)
    }
}

/// Parses `source` (a file called `file`) and lints it. A file that does not parse gets a `DL1000`
/// finding; its instructions are still linted when the parser layer can read them.
pub fn lint(file: &str, source: &str, config: &Config) -> Report {
    let findings = match kiln_dockerfile::parse_named(file, source) {
        Ok(df) => check(&df, config),
        Err(e) => {
            let mut out = Vec::new();
            if !covered_by_rule(&e) && config.level_of("DL1000", Level::Error).is_some() {
                out.push(parse_finding(&e, source, config));
            }
            if let Ok(tree) = kiln_dockerfile::syntax::parse_syntax(file, source) {
                let m = model::Model::from_syntax(&tree);
                out.extend(rules::run(&m, config));
            }
            out.sort_by_key(|a| (a.line, a.column));
            out
        }
    };
    Report { file: file.to_owned(), source: source.to_owned(), findings }
}

/// Parse errors that a DL rule reports better (instruction before FROM: DL3061; ONBUILD triggers: DL3043).
fn covered_by_rule(e: &ParseError) -> bool {
    match &e.kind {
        ErrorKind::Instruction(m) => {
            m == "no build stage in current context"
                || m.contains("isn't allowed as an ONBUILD trigger")
                || m.contains("Chaining ONBUILD")
        }
        _ => false,
    }
}

fn parse_finding(e: &ParseError, source: &str, config: &Config) -> Finding {
    let level = config.level_of("DL1000", Level::Error).unwrap_or(Level::Error);
    let end = if e.span.is_empty() {
        source[e.span.start..].find('\n').map_or(source.len(), |n| e.span.start + n)
    } else {
        e.span.end
    };
    Finding {
        rule: "DL1000",
        level,
        message: e.message(),
        line: e.line,
        column: e.col,
        span: e.span.start..end,
        span_start: (e.line, e.col),
        fix: None,
    }
}
