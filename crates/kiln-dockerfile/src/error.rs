//! Diagnostics: [`ParseError`] (an error at `file:line:col` that renders the source line with miette) and
//! [`Warning`] (a non-fatal finding such as `NoEmptyContinuation`).

use std::sync::Arc;

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceSpan};
use serde::Serialize;

use crate::span::Span;

/// What went wrong, with BuildKit's wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The file holds no instruction at all (empty, or only comments).
    #[error("file with no instructions")]
    NoInstructions,
    /// A physical line is longer than BuildKit's scanner accepts.
    #[error("dockerfile line greater than max allowed size of 65535")]
    LineTooLong,
    /// A parser directive appears twice.
    #[error("only one {0} parser directive can be used")]
    DuplicateDirective(String),
    /// `# escape=` names something other than `\` or a backtick.
    #[error("invalid escape token '{0}' does not match ` or \\")]
    InvalidEscape(String),
    /// A JSON array holds something other than strings.
    #[error("when using JSON array syntax, arrays must be comprised of strings only")]
    NotStringArray,
    /// Legacy `ENV key` / `LABEL key` without a value.
    #[error("{0} must have two arguments")]
    MissingValue(String),
    /// A word of `ENV a=b c` without `=`.
    #[error("Syntax error - can't find = in {0}. Must be of the form: name=value")]
    MissingEquals(String),
    /// A heredoc whose terminator line never comes.
    #[error("unterminated heredoc")]
    UnterminatedHeredoc,
    /// A heredoc word whose name cannot be lexed (e.g. an unterminated quote).
    #[error("{0}")]
    InvalidHeredoc(String),
    /// An instruction keyword BuildKit does not know.
    #[error("unknown instruction: {0}")]
    UnknownInstruction(String),
    /// An instruction-level error (flags, arguments, values), worded as BuildKit words it.
    #[error("{0}")]
    Instruction(String),
    /// A variable expansion failed.
    #[error("{0}")]
    Expansion(Box<crate::shell::ShellError>),
}

/// A Dockerfile error at a place in the source; renders with the source line underlined through miette.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{file}:{line}:{col}: {kind}")]
pub struct ParseError {
    /// What went wrong.
    pub kind: ErrorKind,
    /// File name given to `parse_named` (`Dockerfile` otherwise).
    pub file: String,
    /// 1-based line of the error.
    pub line: u32,
    /// 1-based column of the error.
    pub col: u32,
    /// The offending range of the source.
    pub span: Span,
    /// A suggestion such as "did you mean ENTRYPOINT?".
    pub help: Option<String>,
    source_code: Arc<NamedSource<String>>,
}

impl ParseError {
    /// Builds an error for `span` of `source` (a file called `file`).
    pub fn new(kind: ErrorKind, file: &str, source: &str, span: Span) -> Self {
        ParseError {
            kind,
            file: file.to_owned(),
            line: span.line,
            col: span.col,
            span,
            help: None,
            source_code: Arc::new(NamedSource::new(file, source.to_owned())),
        }
    }

    /// Adds a help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// The message without the position, as BuildKit prints it (plus ` (did you mean X?)` when BuildKit
    /// would add a suggestion).
    pub fn message(&self) -> String {
        match &self.help {
            Some(h) if h.starts_with("did you mean ") => format!("{} ({h})", self.kind),
            _ => self.kind.to_string(),
        }
    }
}

impl Diagnostic for ParseError {
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.help.as_ref().map(|h| Box::new(h) as Box<dyn std::fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&*self.source_code)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let label = LabeledSpan::new_with_span(
            Some(self.kind.to_string()),
            SourceSpan::new(self.span.start.into(), self.span.len()),
        );
        Some(Box::new(std::iter::once(label)))
    }
}

/// A non-fatal finding of the parser, e.g. BuildKit's `NoEmptyContinuation`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// BuildKit's rule name, e.g. `NoEmptyContinuation`.
    pub rule: &'static str,
    /// BuildKit's short message.
    pub message: String,
    /// Documentation URL of the rule.
    pub url: &'static str,
    /// Where BuildKit reports it (for `NoEmptyContinuation`: the instruction's last line).
    pub span: Span,
    /// The offending places (for `NoEmptyContinuation`: each empty line).
    pub spans: Vec<Span>,
}
