//! Dockerfile and `.dockerignore` syntax, as BuildKit's Dockerfile frontend reads them.
//!
//! `&str` in, a [`Dockerfile`] out: a lossless syntax tree with a span on every token ([`syntax`]), typed
//! [`Instruction`]s validated the way BuildKit's `instructions` package validates them, parser warnings,
//! and [`ParseError`] diagnostics with `file:line:col` that miette renders with the source line.
//! Variables are expanded on demand with BuildKit's shell-lexer semantics ([`shell`], [`Dockerfile::expand`]).
//! The moby `.dockerignore` matcher lives in [`ignore`].
//!
//! Two layers, as in BuildKit: [`syntax::parse_syntax`] is the parser alone (what `Node.Dump()` shows and
//! the conformance data tests); [`parse`] adds the instruction-level checks a build would make.

mod error;
pub mod expand;
mod flags;
pub mod ignore;
pub mod instruction;
mod mount;
pub mod shell;
mod span;
pub mod syntax;
mod words;

use serde::Serialize;

pub use error::{ErrorKind, ParseError, Warning};
pub use expand::{Expanded, parse_port};
pub use flags::suggest;
pub use instruction::{Command, CommandLine, INSTRUCTIONS, Instruction, parse_go_duration};
pub use mount::{Device, Mount, MountError, MountType, Sharing};
pub use span::{LineIndex, Span};
pub use syntax::{Comment, Directive, Directives, Flag, Heredoc, SyntaxTree, Token};

/// A parsed and validated Dockerfile.
#[derive(Debug, Clone, Serialize)]
pub struct Dockerfile {
    /// Parser directives (`# syntax=`, `# escape=`, `# check=`).
    pub directives: Directives,
    /// The instructions in order.
    pub instructions: Vec<Instruction>,
    /// Parser warnings (e.g. `NoEmptyContinuation`).
    pub warnings: Vec<Warning>,
    /// The syntax tree without its nodes (they moved into `instructions`).
    #[serde(skip)]
    syntax: SyntaxTree,
}

/// Parses a Dockerfile called `Dockerfile`.
pub fn parse(source: &str) -> Result<Dockerfile, ParseError> {
    parse_named("Dockerfile", source)
}

/// Parses a Dockerfile; `file` names it in diagnostics.
pub fn parse_named(file: &str, source: &str) -> Result<Dockerfile, ParseError> {
    let mut syntax = syntax::parse_syntax(file, source)?;
    let nodes = syntax.take_nodes();
    let mut instructions = Vec::with_capacity(nodes.len());
    let mut seen_from = false;
    for node in nodes {
        let i = instruction::parse_instruction(node).map_err(|e| {
            let err = ParseError::new(e.kind, file, source, e.span);
            match e.help {
                Some(h) => err.with_help(h),
                None => err,
            }
        })?;
        match &i.command {
            Command::From(_) => seen_from = true,
            Command::Arg(_) => {}
            _ if !seen_from => {
                return Err(ParseError::new(
                    ErrorKind::Instruction("no build stage in current context".into()),
                    file,
                    source,
                    i.keyword.span,
                )
                .with_help("start the Dockerfile with FROM (only ARG may come before it)"));
            }
            _ => {}
        }
        instructions.push(i);
    }
    Ok(Dockerfile {
        directives: syntax.directives.clone(),
        instructions,
        warnings: syntax.warnings.clone(),
        syntax,
    })
}

impl Dockerfile {
    /// BuildKit's `Node.Dump()` of the parser tree (the format of its `result` test files).
    pub fn dump(&self) -> String {
        syntax::dump_root(self.instructions.iter().map(Instruction::dump))
    }

    /// The source rebuilt from the tree; equals the input byte for byte.
    pub fn to_source(&self) -> String {
        self.syntax.to_source()
    }

    /// The file name used in diagnostics.
    pub fn file(&self) -> &str {
        self.syntax.file()
    }

    /// The source text.
    pub fn source(&self) -> &str {
        self.syntax.source()
    }

    /// Every comment line (outside heredocs, directives excluded), with spans.
    pub fn comments(&self) -> &[Comment] {
        &self.syntax.comments
    }

    /// The escape token in effect (`\` or a backtick).
    pub fn escape(&self) -> char {
        self.syntax.escape
    }

    /// The lossless partition of the source into directives, comments, blank lines and instructions
    /// (an [`syntax::ElementKind::Instruction`] indexes [`Dockerfile::instructions`]).
    pub fn elements(&self) -> &[syntax::Element] {
        &self.syntax.elements
    }

    /// Expands `instruction`'s values the way BuildKit's dispatcher does, with `env` (the stage's
    /// environment and build args; for FROM, the global args). See [`expand`] for what is expanded.
    pub fn expand(&self, instruction: &Instruction, env: &dyn shell::Env) -> Result<Expanded, ParseError> {
        expand::expand_command(&instruction.command, instruction.span, self.syntax.escape, env).map_err(|f| {
            let e = ParseError::new(f.kind, self.file(), self.source(), f.span);
            match f.help {
                Some(h) => e.with_help(h),
                None => e,
            }
        })
    }

    /// An error at `span` of this file (for callers that validate further, e.g. a missing stage).
    pub fn error_at(&self, message: impl Into<String>, span: Span) -> ParseError {
        ParseError::new(ErrorKind::Instruction(message.into()), self.file(), self.source(), span)
    }
}
