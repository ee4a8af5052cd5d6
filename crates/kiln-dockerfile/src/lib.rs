//! Dockerfile and `.dockerignore` syntax, as BuildKit's Dockerfile frontend reads them.
//!
//! `&str` in, a lossless syntax tree with spans, typed instructions and diagnostics out; plus the
//! shell-lexer variable expansion ([`shell`]) and the moby `.dockerignore` matcher ([`ignore`]).

mod error;
pub mod ignore;
pub mod shell;
mod span;
pub mod syntax;
mod words;

pub use error::{ErrorKind, ParseError, Warning};
pub use span::{LineIndex, Span};
