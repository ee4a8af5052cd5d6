//! What a check reports: a [`Finding`] (rule, level, message, position) with an optional safe [`Fix`].

use std::ops::Range;

use serde::Serialize;

use crate::rule::{Level, Rule};

/// One problem found in a Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The rule ID (`DL3008`, `StageNameCasing`, `KL001`).
    pub rule: &'static str,
    /// The level after configuration (overrides, `# check=error=true`).
    pub level: Level,
    /// The message.
    pub message: String,
    /// 1-based line the finding is reported at (the instruction's first line, as hadolint reports it).
    pub line: u32,
    /// 1-based column on that line.
    pub column: u32,
    /// The offending source range, for carets (may lie on a continuation line).
    #[serde(skip)]
    pub span: Range<usize>,
    /// 1-based line and column of `span`'s start.
    #[serde(skip)]
    pub span_start: (u32, u32),
    /// The safe rewrite that resolves it, when the rule has one and it applies here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<Fix>,
}

impl Finding {
    /// The rule's data.
    pub fn rule_data(&self) -> Option<&'static Rule> {
        crate::rule::rule(self.rule)
    }
}

/// A safe rewrite: non-overlapping replacements of source ranges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fix {
    /// The replacements, in source order.
    pub edits: Vec<Edit>,
}

/// Replace `range` of the source with `text`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Edit {
    /// The byte range replaced (empty for an insertion).
    pub range: Range<usize>,
    /// The new text.
    pub text: String,
}

impl Fix {
    /// One insertion at `at`.
    pub fn insert(at: usize, text: impl Into<String>) -> Fix {
        Fix { edits: vec![Edit { range: at..at, text: text.into() }] }
    }

    /// One replacement.
    pub fn replace(range: Range<usize>, text: impl Into<String>) -> Fix {
        Fix { edits: vec![Edit { range, text: text.into() }] }
    }

    /// The first byte this fix touches and the last.
    pub fn extent(&self) -> Range<usize> {
        let start = self.edits.iter().map(|e| e.range.start).min().unwrap_or(0);
        let end = self.edits.iter().map(|e| e.range.end).max().unwrap_or(0);
        start..end
    }
}
