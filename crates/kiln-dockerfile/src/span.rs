//! Source positions: [`Span`] (byte range plus 1-based line and column) and the [`LineIndex`] that computes them.

use std::ops::Range;

use serde::Serialize;

/// A byte range in the Dockerfile source with the 1-based line and column of its start.
///
/// Columns count Unicode scalar values from the start of the line, so they match what an editor shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
pub struct Span {
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset one past the last byte.
    pub end: usize,
    /// 1-based line of `start`.
    pub line: u32,
    /// 1-based column (in characters) of `start`.
    pub col: u32,
}

impl Span {
    /// The byte range, for slicing the source.
    pub fn range(&self) -> Range<usize> {
        self.start..self.end
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// Whether the span covers no bytes.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

/// Offsets of line starts in a source text, to turn byte offsets into line/column positions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineIndex {
    starts: Vec<usize>,
    /// Whether the whole source is ASCII (columns are then byte offsets).
    ascii: bool,
}

impl LineIndex {
    /// Indexes the line starts of `source` (lines end at `\n`).
    pub fn new(source: &str) -> Self {
        let mut starts = Vec::with_capacity(source.len() / 32 + 1);
        starts.push(0);
        starts.extend(memchr::memchr_iter(b'\n', source.as_bytes()).map(|i| i + 1));
        LineIndex { starts, ascii: source.is_ascii() }
    }

    /// Byte offsets of the line starts (the first is 0; a text ending in `\n` has an empty last line).
    pub fn starts(&self) -> &[usize] {
        &self.starts
    }

    /// 1-based line and column (in characters) of byte `offset` in `source`.
    pub fn position(&self, source: &str, offset: usize) -> (u32, u32) {
        let offset = offset.min(source.len());
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let start = self.starts[line - 1];
        let col = if self.ascii {
            offset - start
        } else {
            source.get(start..offset).map_or(offset - start, |s| s.chars().count())
        } + 1;
        (to_u32(line), to_u32(col))
    }

    /// Like [`Self::position`], starting the line search at `hint` (the line of the previous lookup), which
    /// makes lookups in increasing order O(1); updates the hint.
    pub fn position_from(&self, source: &str, offset: usize, hint: &mut usize) -> (u32, u32) {
        let offset = offset.min(source.len());
        let h = (*hint).min(self.starts.len() - 1);
        let line = if self.starts[h] <= offset && self.starts.get(h + 1).is_none_or(|&n| n > offset) {
            h + 1
        } else {
            self.starts.partition_point(|&s| s <= offset).max(1)
        };
        *hint = line - 1;
        let start = self.starts[line - 1];
        let col = if self.ascii {
            offset - start
        } else {
            source.get(start..offset).map_or(offset - start, |s| s.chars().count())
        } + 1;
        (to_u32(line), to_u32(col))
    }

    /// The span of `range` in `source`.
    pub fn span(&self, source: &str, range: Range<usize>) -> Span {
        let (line, col) = self.position(source, range.start);
        Span { start: range.start, end: range.end, line, col }
    }

    /// Byte range of 1-based `line` without its line terminator.
    pub fn line_range(&self, source: &str, line: u32) -> Range<usize> {
        let i = (line as usize).saturating_sub(1);
        let start = self.starts.get(i).copied().unwrap_or(source.len());
        let mut end = self.starts.get(i + 1).copied().unwrap_or(source.len());
        let bytes = source.as_bytes();
        while end > start && matches!(bytes[end - 1], b'\n' | b'\r') {
            end -= 1;
        }
        start..end
    }

    /// Number of lines (a text ending in `\n` has an empty last line that is counted).
    pub fn line_count(&self) -> usize {
        self.starts.len()
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_chars() {
        let src = "FROM a\nRUN ♥ x\n";
        let idx = LineIndex::new(src);
        assert_eq!(idx.position(src, 0), (1, 1));
        assert_eq!(idx.position(src, 7), (2, 1));
        let x = src.find('x').unwrap();
        assert_eq!(idx.position(src, x), (2, 7));
        assert_eq!(idx.line_range(src, 2), 7..src.len() - 1);
        assert_eq!(idx.line_count(), 3);
    }
}
