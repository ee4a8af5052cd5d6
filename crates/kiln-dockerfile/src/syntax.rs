//! The parser layer ([`SyntaxTree`]): BuildKit's `parser.Parse` — lines, directives, comments,
//! continuations, heredocs and the per-instruction argument splitting — with a span on every token.
//!
//! Nothing here knows which instructions exist beyond how their arguments are split, and nothing is
//! expanded: this is exactly what BuildKit's `Node.Dump()` shows ([`SyntaxTree::dump`]). The typed layer
//! ([`crate::instruction`]) validates on top of it.
//!
//! The tree is lossless: the source is partitioned into line-aligned [`Element`]s (directives, comments,
//! blank lines, instructions with their continuation lines and heredoc bodies) whose concatenation is the
//! input ([`SyntaxTree::to_source`]).

use std::ops::Range;

use serde::Serialize;

use crate::error::{ErrorKind, ParseError, Warning};
use crate::span::{LineIndex, Span};
use crate::words::{
    self, Json, Word, extract_flags, go_quote, heredocs_from_line, parse_json_array, parse_words,
    split_re_ws, trim_space,
};
pub use crate::words::{HeredocHead, parse_heredoc_word};

/// The largest line (with its `\n`) Go's `bufio.Scanner` accepts.
const MAX_LINE: usize = 65536;
const BOM: &str = "\u{FEFF}";

/// A piece of source text with its span: a keyword, an argument, a flag value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Token {
    /// The text as BuildKit's parser produced it (for most tokens the source text itself).
    pub value: String,
    /// Where it was written.
    pub span: Span,
}

/// A builder flag (`--name=value`) of an instruction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Flag {
    /// The flag as BuildKit keeps it: quotes removed, escapes applied, e.g. `--from=build`.
    pub raw: String,
    /// The whole flag word in the source.
    pub span: Span,
    /// The value part in the source (after the first `=`); empty at the end of the flag when there is none.
    pub value_span: Span,
}

impl Flag {
    /// The name without dashes, e.g. `from`.
    pub fn name(&self) -> &str {
        let n = self.raw.split_once('=').map_or(self.raw.as_str(), |(n, _)| n);
        n.strip_prefix("--").unwrap_or(n)
    }

    /// The value after the first `=`, if there is one.
    pub fn value(&self) -> Option<&str> {
        self.raw.split_once('=').map(|(_, v)| v)
    }
}

/// A heredoc attached to an instruction (`<<EOF` … `EOF`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Heredoc {
    /// The delimiter with quotes removed.
    pub name: String,
    /// The file descriptor written before `<<` (0 when none).
    pub fd: u64,
    /// False when any part of the delimiter was quoted: the body is then not expanded.
    pub expand: bool,
    /// `<<-`: leading tabs are stripped from the terminator (and, by consumers, from the body).
    pub chomp: bool,
    /// The body lines with their line endings, not chomped.
    pub content: String,
    /// The body in the source.
    pub body: Span,
    /// The terminator line in the source.
    pub terminator: Span,
}

impl Heredoc {
    /// The body as consumers use it: with leading tabs removed from every line when [`Heredoc::chomp`].
    pub fn chomped_content(&self) -> String {
        if self.chomp { chomp(&self.content) } else { self.content.clone() }
    }
}

/// BuildKit's `ChompHeredocContent`: removes the leading tabs of every line.
pub fn chomp(content: &str) -> String {
    content.split_inclusive('\n').map(|l| l.trim_start_matches('\t')).collect()
}

/// One instruction as BuildKit's parser sees it (a child of the root `Node`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Node {
    /// The keyword as written (`From`, `run`, …).
    pub keyword: Token,
    /// Builder flags before the arguments.
    pub flags: Vec<Flag>,
    /// The arguments after the parser's per-instruction splitting (see the crate docs).
    pub args: Vec<Token>,
    /// Whether the arguments were a JSON array (exec form).
    pub json: bool,
    /// The instruction nested in `ONBUILD`.
    pub onbuild: Option<Box<Node>>,
    /// Heredocs opened on this instruction's line, in order.
    pub heredocs: Vec<Heredoc>,
    /// The logical line: continuation lines joined, comments and empty lines dropped.
    pub original: String,
    /// BuildKit's `PrevComment`: the comment lines (text after `#`, trimmed) since the last instruction.
    pub comments: Vec<String>,
    /// From the keyword to the end of the last line consumed (heredoc terminator included).
    pub span: Span,
    /// 1-based first line.
    pub start_line: u32,
    /// 1-based last line consumed (continuation lines, comment lines and heredocs included).
    pub end_line: u32,
    /// The instruction the keyword names (upper case), `None` when unknown.
    #[serde(skip)]
    pub(crate) kind: Option<&'static str>,
}

impl Node {
    fn can_contain_heredoc(&self) -> bool {
        let node = match &self.onbuild {
            Some(child) if self.keyword.value.eq_ignore_ascii_case("onbuild") => child,
            _ => self,
        };
        matches!(node.kind, Some("ADD" | "COPY" | "RUN")) && !node.json
    }

    /// BuildKit's `Node.Dump()` of this instruction.
    pub fn dump(&self) -> String {
        dump_instruction(&self.keyword, &self.flags, &self.args, self.onbuild.as_ref().map(|c| c.dump()))
    }
}

/// The instruction a keyword names (Unicode case-insensitively, as Go's `strings.ToLower` compares), as
/// its upper-case name; `None` for an unknown keyword.
pub(crate) fn keyword_kind(keyword: &str) -> Option<&'static str> {
    let names = crate::instruction::INSTRUCTIONS;
    if keyword.is_ascii() {
        return names.iter().copied().find(|n| n.eq_ignore_ascii_case(keyword));
    }
    let lower = keyword.to_lowercase();
    names.iter().copied().find(|n| n.eq_ignore_ascii_case(&lower))
}

/// BuildKit's `Node.Dump()` of one instruction: lower-cased keyword, `%q` flags, quoted arguments and
/// the nested ONBUILD instruction in parentheses.
pub(crate) fn dump_instruction(
    keyword: &Token,
    flags: &[Flag],
    args: &[Token],
    child: Option<String>,
) -> String {
    let mut s = keyword.value.to_lowercase();
    if !flags.is_empty() {
        s.push_str(" [");
        for (i, f) in flags.iter().enumerate() {
            if i > 0 {
                s.push(' ');
            }
            go_quote(&f.raw, &mut s);
        }
        s.push(']');
    }
    for a in args {
        s.push(' ');
        go_quote(&a.value, &mut s);
    }
    if let Some(child) = child {
        s.push_str(" (");
        s.push_str(&child);
        s.push(')');
    }
    trim_space(&s).to_owned()
}

/// BuildKit's root dump: `(instruction)` lines, trimmed.
pub(crate) fn dump_root(lines: impl Iterator<Item = String>) -> String {
    let mut s = String::new();
    for l in lines {
        s.push('(');
        s.push_str(&l);
        s.push_str(")\n");
    }
    trim_space(&s).to_owned()
}

/// A parser directive (`# syntax=`, `# escape=`, `# check=`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Directive {
    /// The lower-cased name.
    pub name: String,
    /// The value.
    pub value: String,
    /// The directive line.
    pub span: Span,
}

/// The parser directives at the top of the file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Directives {
    /// `# syntax=`.
    pub syntax: Option<Directive>,
    /// `# escape=`.
    pub escape: Option<Directive>,
    /// `# check=`.
    pub check: Option<Directive>,
    /// Whether the file started with a UTF-8 byte-order mark.
    pub bom: bool,
}

/// A comment line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Comment {
    /// The text after `#`, as written (line ending excluded).
    pub text: String,
    /// From `#` to the end of the line.
    pub span: Span,
    /// Whether the comment sits between the continuation lines of an instruction.
    pub in_instruction: bool,
}

/// What a line-aligned piece of the source is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ElementKind {
    /// A parser directive line.
    Directive,
    /// A comment line.
    Comment,
    /// A line with nothing but whitespace.
    Blank,
    /// An instruction (index into [`SyntaxTree::nodes`]) with all the lines it consumed.
    Instruction(usize),
}

/// A line-aligned piece of the source; the elements of a tree partition the whole input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Element {
    /// What it is.
    pub kind: ElementKind,
    /// Its bytes, line endings included.
    pub range: Range<usize>,
}

/// The result of BuildKit's parser layer, with spans and the source partition.
#[derive(Debug, Clone, Serialize)]
pub struct SyntaxTree {
    /// Parser directives.
    pub directives: Directives,
    /// The instructions.
    pub nodes: Vec<Node>,
    /// Every comment line outside heredoc bodies (directives excluded).
    pub comments: Vec<Comment>,
    /// Parser warnings.
    pub warnings: Vec<Warning>,
    /// The escape character in effect (`\` or a backtick).
    pub escape: char,
    /// The lossless partition of the source.
    pub elements: Vec<Element>,
    #[serde(skip)]
    source: String,
    #[serde(skip)]
    file: String,
}

impl SyntaxTree {
    /// BuildKit's `Node.Dump()` of the root: one `(instruction …)` per line, trimmed.
    pub fn dump(&self) -> String {
        dump_root(self.nodes.iter().map(Node::dump))
    }

    /// The source rebuilt from the elements; equals the input byte for byte.
    pub fn to_source(&self) -> String {
        let mut s = String::with_capacity(self.source.len());
        for e in &self.elements {
            s.push_str(&self.source[e.range.clone()]);
        }
        s
    }

    /// The source text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The file name used in diagnostics.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// Moves the instructions out, leaving the rest (for the typed layer, which owns them from then on).
    pub(crate) fn take_nodes(&mut self) -> Vec<Node> {
        std::mem::take(&mut self.nodes)
    }
}

/// Parses `source` the way BuildKit's parser layer does (no instruction-level validation).
pub fn parse_syntax(file: &str, source: &str) -> Result<SyntaxTree, ParseError> {
    Parser::new(file, source).run()
}

/// The logical line under construction: text plus where each piece came from in the source.
#[derive(Default)]
struct Logical {
    text: String,
    /// `(logical offset, source offset)` of each contiguous piece.
    segments: Vec<(usize, usize)>,
}

impl Logical {
    fn push(&mut self, source: &str, range: Range<usize>) {
        self.segments.push((self.text.len(), range.start));
        self.text.push_str(&source[range]);
    }

    fn map_start(&self, off: usize) -> usize {
        let i = self.segments.partition_point(|s| s.0 <= off).saturating_sub(1);
        let (l, s) = self.segments.get(i).copied().unwrap_or((0, 0));
        s + (off - l)
    }

    fn map_end(&self, off: usize) -> usize {
        let i = self.segments.partition_point(|s| s.0 < off).saturating_sub(1);
        let (l, s) = self.segments.get(i).copied().unwrap_or((0, 0));
        s + off.saturating_sub(l)
    }

    fn map(&self, r: Range<usize>) -> Range<usize> {
        if r.is_empty() {
            let p = self.map_start(r.start);
            return p..p;
        }
        self.map_start(r.start)..self.map_end(r.end)
    }
}

#[derive(Default)]
struct DirectiveParser {
    done: bool,
    seen: Vec<String>,
}

impl DirectiveParser {
    /// BuildKit's `DirectiveParser.ParseLine` on an already trimmed line.
    fn parse_line(&mut self, line: &str) -> Result<Option<(String, String)>, ErrorKind> {
        if self.done {
            return Ok(None);
        }
        let Some(rest) = line.strip_prefix('#') else {
            self.done = true;
            return Ok(None);
        };
        let Some((name, value)) = match_directive(rest.trim_start_matches(words::is_space)) else {
            self.done = true;
            return Ok(None);
        };
        let key = name.to_ascii_lowercase();
        if !matches!(key.as_str(), "syntax" | "escape" | "check") {
            self.done = true;
            return Ok(None);
        }
        if self.seen.contains(&key) {
            return Err(ErrorKind::DuplicateDirective(key));
        }
        self.seen.push(key.clone());
        Ok(Some((key, value.to_owned())))
    }
}

/// Go's `\s`.
fn is_re_s(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\u{c}' | '\r' | ' ')
}

/// `^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$` with RE2's leftmost-first choices.
fn match_directive(s: &str) -> Option<(&str, &str)> {
    let name_len = s.bytes().take_while(u8::is_ascii_alphanumeric).count();
    if name_len == 0 || !s.as_bytes()[0].is_ascii_alphabetic() {
        return None;
    }
    let (name, rest) = s.split_at(name_len);
    let rest = rest.trim_start_matches(is_re_s).strip_prefix('=')?;
    let after_ws = rest.trim_start_matches(is_re_s);
    let value = after_ws.trim_end_matches(is_re_s);
    if !value.is_empty() {
        return Some((name, value));
    }
    // All whitespace: `\s*` gives back one character so that `.+?` can match it.
    let last = rest.chars().last()?;
    Some((name, &rest[rest.len() - last.len_utf8()..]))
}

fn is_comment(line: &str) -> bool {
    line.trim_start_matches(words::is_space).starts_with('#')
}

/// `trimNewline`: strips every trailing `\r` and `\n`.
fn trim_newline(line: &str) -> &str {
    line.trim_end_matches(['\r', '\n'])
}

struct Parser<'a> {
    file: &'a str,
    src: &'a str,
    index: LineIndex,
    /// `(start, end with terminator)` of each line the scanner can read.
    lines: Vec<(usize, usize)>,
    too_long: bool,
    escape: char,
    directives: Directives,
    dparser: DirectiveParser,
    /// The line of the last span computed (spans are made mostly in source order).
    hint: std::cell::Cell<usize>,
}

impl<'a> Parser<'a> {
    fn new(file: &'a str, src: &'a str) -> Self {
        let index = LineIndex::new(src);
        let starts = index.starts();
        let mut lines = Vec::with_capacity(starts.len());
        let mut too_long = false;
        for (k, &pos) in starts.iter().enumerate() {
            if pos >= src.len() {
                break;
            }
            let end = starts.get(k + 1).copied().unwrap_or(src.len());
            let len = end - pos;
            let terminated = src.as_bytes()[end - 1] == b'\n';
            if len > MAX_LINE || (!terminated && len >= MAX_LINE) {
                too_long = true;
                break;
            }
            lines.push((pos, end));
        }
        Parser {
            file,
            src,
            index,
            lines,
            too_long,
            escape: '\\',
            directives: Directives::default(),
            dparser: DirectiveParser::default(),
            hint: std::cell::Cell::new(0),
        }
    }

    fn span(&self, r: Range<usize>) -> Span {
        let mut hint = self.hint.get();
        let (line, col) = self.index.position_from(self.src, r.start, &mut hint);
        self.hint.set(hint);
        Span { start: r.start, end: r.end, line, col }
    }

    fn error(&self, kind: ErrorKind, r: Range<usize>) -> ParseError {
        ParseError::new(kind, self.file, self.src, self.span(r))
    }

    fn line_content(&self, i: usize) -> Range<usize> {
        let (s, e) = self.lines[i];
        s..s + trim_newline(&self.src[s..e]).len()
    }

    /// BuildKit's continuation test: the escape token as the last non-blank character, not itself
    /// escaped. Returns the range without it and whether the line ends the instruction.
    fn trim_continuation(&self, r: Range<usize>) -> (Range<usize>, bool) {
        let text = &self.src[r.clone()];
        let body = text.trim_end_matches([' ', '\t']);
        let Some(before) = body.strip_suffix(self.escape) else { return (r, true) };
        if before.ends_with(self.escape) {
            return (r, true);
        }
        (r.start..r.start + before.len(), false)
    }

    fn run(mut self) -> Result<SyntaxTree, ParseError> {
        let mut nodes: Vec<Node> = Vec::with_capacity(self.lines.len() / 2 + 1);
        let mut comments_all: Vec<Comment> = Vec::new();
        let mut elements: Vec<Element> = Vec::with_capacity(self.lines.len());
        let mut logical = Logical::default();
        let mut warnings = Vec::new();
        let mut prev_comments: Vec<String> = Vec::new();
        let mut i = 0;
        while i < self.lines.len() {
            let (ls, le) = self.lines[i];
            let mut start = ls;
            if i == 0 && self.src[ls..le].starts_with(BOM) {
                start += BOM.len();
                self.directives.bom = true;
            }
            let raw = &self.src[start..le];
            if is_comment(raw) {
                // BuildKit slices off one byte of the untrimmed line before trimming.
                let first = raw.chars().next().map_or(1, char::len_utf8);
                let c = trim_space(&raw[first..]);
                if c.is_empty() {
                    prev_comments.clear();
                } else {
                    prev_comments.push(c.to_owned());
                }
            }
            let content = start..start + trim_newline(raw).len();
            let lead = self.src[content.clone()].len()
                - self.src[content.clone()].trim_start_matches(words::is_space).len();
            let token = content.start + lead..content.end;
            let directive = self
                .dparser
                .parse_line(&self.src[token.clone()])
                .map_err(|k| self.error(k, token.clone()))?;
            if let Some((name, value)) = directive {
                prev_comments.pop();
                if name == "escape" {
                    if value != "`" && value != "\\" {
                        return Err(self.error(ErrorKind::InvalidEscape(value), token));
                    }
                    self.escape = value.chars().next().unwrap_or('\\');
                }
                let d = Directive { name: name.clone(), value, span: self.span(token) };
                match name.as_str() {
                    "syntax" => self.directives.syntax = Some(d),
                    "escape" => self.directives.escape = Some(d),
                    _ => self.directives.check = Some(d),
                }
                elements.push(Element { kind: ElementKind::Directive, range: ls..le });
                i += 1;
                continue;
            }
            if self.src[token.clone()].starts_with('#') {
                comments_all.push(Comment {
                    text: self.src[token.start + 1..token.end].to_owned(),
                    span: self.span(token),
                    in_instruction: false,
                });
                elements.push(Element { kind: ElementKind::Comment, range: ls..le });
                i += 1;
                continue;
            }
            let (first, mut eol) = self.trim_continuation(token.clone());
            if eol && first.is_empty() {
                elements.push(Element { kind: ElementKind::Blank, range: ls..le });
                i += 1;
                continue;
            }
            logical.text.clear();
            logical.segments.clear();
            logical.push(self.src, first);
            let mut empty_lines = Vec::new();
            let mut j = i + 1;
            while !eol && j < self.lines.len() {
                let (s, e) = self.lines[j];
                let content = self.line_content(j);
                j += 1;
                let raw = &self.src[s..e];
                if is_comment(raw) {
                    let lead = raw.len() - raw.trim_start_matches(words::is_space).len();
                    comments_all.push(Comment {
                        text: self.src[s + lead + 1..content.end].to_owned(),
                        span: self.span(s + lead..content.end),
                        in_instruction: true,
                    });
                    continue;
                }
                if self.src[content.clone()].trim_start_matches(words::is_space).is_empty() {
                    empty_lines.push(self.span(content));
                    continue;
                }
                let (piece, e2) = self.trim_continuation(content);
                eol = e2;
                logical.push(self.src, piece);
            }
            let last_line = j - 1;
            let start_line = self.span(ls..ls).line;
            let mut end_line = self.span(self.lines[last_line].0..self.lines[last_line].0).line;
            let text = logical.text.as_str();
            if !empty_lines.is_empty() {
                let last = self.line_content(last_line);
                warnings.push(Warning {
                    rule: "NoEmptyContinuation",
                    message: format!("Empty continuation line found in: {text}"),
                    url: "https://docs.docker.com/go/dockerfile/rule/no-empty-continuation/",
                    span: self.span(last),
                    spans: empty_lines,
                });
            }
            let instr_range = token.start..self.line_content(last_line).end;
            let mut node = self
                .node_from_line(text, 0..text.len(), &logical, std::mem::take(&mut prev_comments))
                .map_err(|(k, r)| {
                    self.error(k, if r.is_empty() { instr_range.clone() } else { logical.map(r) })
                })?;
            let mut content_end = self.line_content(last_line).end;
            if node.can_contain_heredoc() && text.contains("<<") {
                let heads = heredocs_from_line(text)
                    .map_err(|m| self.error(ErrorKind::InvalidHeredoc(m), instr_range.clone()))?;
                for h in heads {
                    let body_start = self.lines.get(j).map_or(self.src.len(), |l| l.0);
                    let mut content = String::new();
                    let mut terminator = None;
                    while j < self.lines.len() {
                        let (s, e) = self.lines[j];
                        let line = &self.src[s..e];
                        j += 1;
                        let mut possible = trim_newline(line);
                        if h.chomp {
                            possible = possible.trim_start_matches('\t');
                        }
                        if possible == h.name {
                            terminator = Some(self.line_content(j - 1));
                            break;
                        }
                        content.push_str(line);
                    }
                    let Some(term) = terminator else {
                        return Err(self.error(ErrorKind::UnterminatedHeredoc, instr_range).with_help(
                            format!("the heredoc `{}` needs a line `{}` to end it", h.name, h.name),
                        ));
                    };
                    content_end = term.end;
                    end_line = self.span(term.clone()).line;
                    node.heredocs.push(Heredoc {
                        name: h.name,
                        fd: h.fd,
                        expand: h.expand,
                        chomp: h.chomp,
                        content,
                        body: self.span(body_start..term.start),
                        terminator: self.span(term),
                    });
                }
            }
            node.span = self.span(token.start..content_end);
            node.start_line = start_line;
            node.end_line = end_line;
            if let Some(child) = &mut node.onbuild {
                child.start_line = start_line;
                child.end_line = end_line;
            }
            let end = self.lines.get(j - 1).map_or(self.src.len(), |l| l.1);
            elements.push(Element { kind: ElementKind::Instruction(nodes.len()), range: ls..end });
            nodes.push(node);
            i = j;
        }
        if nodes.is_empty() {
            let end = self.src.len();
            return Err(self.error(ErrorKind::NoInstructions, end..end));
        }
        if self.too_long {
            let start = self.lines.last().map_or(0, |l| l.1);
            let end = self.src[start..].find('\n').map_or(self.src.len(), |i| start + i);
            return Err(self.error(ErrorKind::LineTooLong, start..end));
        }
        Ok(SyntaxTree {
            directives: self.directives,
            nodes,
            comments: comments_all,
            warnings,
            escape: self.escape,
            elements,
            source: self.src.to_owned(),
            file: self.file.to_owned(),
        })
    }

    /// BuildKit's `newNodeFromLine` on `logical.text[range]`. Errors carry a logical range (empty: the
    /// whole instruction).
    fn node_from_line(
        &self,
        text: &str,
        range: Range<usize>,
        logical: &Logical,
        comments: Vec<String>,
    ) -> Result<Node, (ErrorKind, Range<usize>)> {
        let line = &text[range.clone()];
        let trimmed = trim_space(line);
        let t0 = range.start + (line.len() - line.trim_start_matches(words::is_space).len());
        let (kw, rest_piece) = words::split_first_re_ws(trimmed);
        let keyword =
            Token { value: trimmed[kw.clone()].to_owned(), span: self.map(logical, shift(&kw, t0)) };
        let mut flags = Vec::new();
        let mut args_range = t0 + trimmed.len()..t0 + trimmed.len();
        if let Some(rest) = &rest_piece {
            let rest_text = &trimmed[rest.clone()];
            let rest_off = t0 + rest.start;
            let (after, words) = extract_flags(rest_text, self.escape);
            for w in words {
                flags.push(self.flag(w, rest_off, text, logical));
            }
            let args = &rest_text[after..];
            let lead = args.len() - args.trim_start_matches(words::is_space).len();
            let a0 = rest_off + after + lead;
            args_range = a0..a0 + trim_space(args).len();
        }
        let args_text = &text[args_range.clone()];
        let a0 = args_range.start;
        let mut node = Node {
            keyword,
            flags,
            args: Vec::new(),
            json: false,
            onbuild: None,
            heredocs: Vec::new(),
            original: line.to_owned(),
            comments,
            span: self.map(logical, range.clone()),
            start_line: 0,
            end_line: 0,
            kind: None,
        };
        let tok = |w: Word| Token { value: w.value, span: self.map(logical, shift(&w.range, a0)) };
        let kind = keyword_kind(&node.keyword.value);
        node.kind = kind;
        match kind.unwrap_or_default() {
            "ADD" | "COPY" | "VOLUME" => match parse_json_array(args_text) {
                Json::Strings(ws) => {
                    node.json = true;
                    node.args = ws.into_iter().map(tok).collect();
                }
                Json::NotStrings => return Err((ErrorKind::NotStringArray, args_range)),
                Json::Invalid => node.args = whitespace_words(args_text).into_iter().map(tok).collect(),
            },
            "RUN" | "CMD" | "ENTRYPOINT" | "SHELL" => {
                let (json, ws) = maybe_json(args_text).map_err(|k| (k, args_range.clone()))?;
                node.json = json;
                node.args = ws.into_iter().map(tok).collect();
            }
            "FROM" | "EXPOSE" => node.args = whitespace_words(args_text).into_iter().map(tok).collect(),
            "ARG" => node.args = parse_words(args_text, self.escape).into_iter().map(tok).collect(),
            key @ ("ENV" | "LABEL") => {
                node.args = self
                    .name_val(args_text, key)
                    .map_err(|k| (k, args_range.clone()))?
                    .into_iter()
                    .map(tok)
                    .collect();
            }
            "MAINTAINER" | "USER" | "WORKDIR" | "STOPSIGNAL" => {
                if !args_text.is_empty() {
                    node.args.push(tok(Word { value: args_text.to_owned(), range: 0..args_text.len() }));
                }
            }
            "HEALTHCHECK" => {
                let sep = args_text.find(words::is_space).unwrap_or(args_text.len());
                if sep > 0 {
                    let next = args_text.len() - args_text[sep..].trim_start_matches(words::is_space).len();
                    node.args.push(tok(Word { value: args_text[..sep].to_owned(), range: 0..sep }));
                    let (json, ws) = maybe_json(&args_text[next..]).map_err(|k| (k, args_range.clone()))?;
                    node.json = json;
                    node.args.extend(
                        ws.into_iter().map(|w| tok(Word { value: w.value, range: shift(&w.range, next) })),
                    );
                }
            }
            "ONBUILD" => {
                if !args_text.is_empty() {
                    let child = self.node_from_line(text, args_range.clone(), logical, Vec::new())?;
                    node.onbuild = Some(Box::new(child));
                }
            }
            _ => node.args.push(tok(Word { value: String::new(), range: 0..0 })),
        }
        Ok(node)
    }

    fn map(&self, logical: &Logical, r: Range<usize>) -> Span {
        self.span(logical.map(r))
    }

    fn flag(&self, w: Word, off: usize, text: &str, logical: &Logical) -> Flag {
        let range = shift(&w.range, off);
        let raw_text = &text[range.clone()];
        let value_range = match raw_text.find('=') {
            Some(i) => range.start + i + 1..range.end,
            None => range.end..range.end,
        };
        Flag { span: self.map(logical, range), value_span: self.map(logical, value_range), raw: w.value }
    }

    /// BuildKit's `parseNameVal` for ENV and LABEL: `key`, `value`, separator triples.
    fn name_val(&self, rest: &str, key: &str) -> Result<Vec<Word>, ErrorKind> {
        let words = parse_words(rest, self.escape);
        let Some(first) = words.first() else { return Ok(Vec::new()) };
        if !first.value.contains('=') {
            let parts = split_re_ws(rest, Some(2));
            if parts.len() < 2 {
                return Err(ErrorKind::MissingValue(key.to_owned()));
            }
            let end = parts[1].end;
            return Ok(vec![
                Word { value: rest[parts[0].clone()].to_owned(), range: parts[0].clone() },
                Word { value: rest[parts[1].clone()].to_owned(), range: parts[1].clone() },
                Word { value: String::new(), range: end..end },
            ]);
        }
        let mut out = Vec::with_capacity(words.len() * 3);
        for w in words {
            let Some(eq) = w.value.find('=') else {
                let mut q = String::new();
                go_quote(&w.value, &mut q);
                return Err(ErrorKind::MissingEquals(q));
            };
            // The word keeps every source character (bar a trailing lone escape), so `eq` is also the
            // offset of `=` in the source text.
            let s = w.range.start;
            out.push(Word { value: w.value[..eq].to_owned(), range: s..s + eq });
            out.push(Word {
                value: w.value[eq + 1..].to_owned(),
                range: s + eq + 1..w.range.end.max(s + eq + 1),
            });
            out.push(Word { value: "=".to_owned(), range: s + eq..s + eq + 1 });
        }
        Ok(out)
    }
}

fn shift(r: &Range<usize>, by: usize) -> Range<usize> {
    r.start + by..r.end + by
}

/// `parseStringsWhitespaceDelimited`.
fn whitespace_words(rest: &str) -> Vec<Word> {
    if rest.is_empty() {
        return Vec::new();
    }
    split_re_ws(rest, None)
        .into_iter()
        .map(|r| Word { value: rest[r.clone()].to_owned(), range: r })
        .collect()
}

/// `parseMaybeJSON`: a JSON array of strings, or the whole rest as one argument.
fn maybe_json(rest: &str) -> Result<(bool, Vec<Word>), ErrorKind> {
    if rest.is_empty() {
        return Ok((false, Vec::new()));
    }
    let lead = rest.len() - rest.trim_start_matches(words::is_space).len();
    match parse_json_array(&rest[lead..]) {
        Json::Strings(ws) => Ok((
            true,
            ws.into_iter().map(|w| Word { value: w.value, range: shift(&w.range, lead) }).collect(),
        )),
        Json::NotStrings => Err(ErrorKind::NotStringArray),
        Json::Invalid => Ok((false, vec![Word { value: rest.to_owned(), range: 0..rest.len() }])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dump(src: &str) -> String {
        parse_syntax("Dockerfile", src).unwrap().dump()
    }

    fn err(src: &str) -> ParseError {
        parse_syntax("Dockerfile", src).unwrap_err()
    }

    #[test]
    fn splits_arguments_per_instruction() {
        assert_eq!(
            dump("FROM a AS b\nRUN echo  hi\nCMD [\"a\", \"b\"]"),
            "(from \"a\" \"AS\" \"b\")\n(run \"echo  hi\")\n(cmd \"a\" \"b\")"
        );
        assert_eq!(
            dump("ENV a=b c=\"d e\"\nENV x y z"),
            "(env \"a\" \"b\" \"=\" \"c\" \"\\\"d e\\\"\" \"=\")\n(env \"x\" \"y z\" \"\")"
        );
        assert_eq!(
            dump("COPY --from=x --chown=1:1 a b/\nCOPY -- --x y"),
            "(copy [\"--from=x\" \"--chown=1:1\"] \"a\" \"b/\")\n(copy \"--x\" \"y\")"
        );
        assert_eq!(
            dump("ONBUILD RUN [\"a\"]\nHEALTHCHECK --interval=5s CMD curl x"),
            "(onbuild (run \"a\"))\n(healthcheck [\"--interval=5s\"] \"CMD\" \"curl x\")"
        );
        assert_eq!(dump("CMD []\nCMD\nFOO bar"), "(cmd)\n(cmd)\n(foo \"\")");
        assert_eq!(dump("ARG a=\"1 2\" b"), "(arg \"a=\\\"1 2\\\"\" \"b\")");
    }

    #[test]
    fn continuations_comments_and_empty_lines() {
        let src = "RUN a \\\n  # c\n\n  b \\\n\nc\n";
        let t = parse_syntax("Dockerfile", src).unwrap();
        assert_eq!(t.dump(), "(run \"a   b c\")");
        assert_eq!(t.nodes[0].start_line, 1);
        assert_eq!(t.nodes[0].end_line, 6);
        assert_eq!(t.warnings.len(), 1);
        assert_eq!(t.warnings[0].rule, "NoEmptyContinuation");
        assert_eq!(t.warnings[0].spans.iter().map(|s| s.line).collect::<Vec<_>>(), [3, 5]);
        assert_eq!(t.comments.len(), 1);
        assert!(t.comments[0].in_instruction);
        assert_eq!(t.to_source(), src);
        // An escaped escape at the end is no continuation; a lone escape at EOF just ends.
        assert_eq!(dump("ENV A b\\\\\nRUN x \\"), "(env \"A\" \"b\\\\\\\\\" \"\")\n(run \"x\")");
    }

    #[test]
    fn directives_and_escape() {
        let t =
            parse_syntax("Dockerfile", "\u{FEFF}# syntax=docker/dockerfile:1\n# ESCAPE = `\nRUN a `\n b\n")
                .unwrap();
        assert_eq!(t.escape, '`');
        assert!(t.directives.bom);
        assert_eq!(t.directives.syntax.as_ref().unwrap().value, "docker/dockerfile:1");
        assert_eq!(t.dump(), "(run \"a  b\")");
        assert_eq!(
            err("# escape=x\nFROM a").to_string(),
            "Dockerfile:1:1: invalid escape token 'x' does not match ` or \\"
        );
        assert_eq!(err("# check=a\n# check=b\nFROM a").kind, ErrorKind::DuplicateDirective("check".into()));
        // After a non-directive line, a directive is only a comment.
        let t = parse_syntax("Dockerfile", "# hello\n# escape=`\nRUN a \\\nb").unwrap();
        assert_eq!(t.escape, '\\');
        assert_eq!(t.nodes[0].comments, ["hello", "escape=`"]);
    }

    #[test]
    fn heredocs_are_attached_with_spans() {
        let src = "FROM a\nCOPY <<X <<-'Y' /d\nx1\nX\n\ty1\n\tY\nRUN [\"<<Z\"]\n";
        let t = parse_syntax("Dockerfile", src).unwrap();
        let h = &t.nodes[1].heredocs;
        assert_eq!((h[0].name.as_str(), h[0].content.as_str(), h[0].expand), ("X", "x1\n", true));
        assert_eq!(
            (h[1].name.as_str(), h[1].content.as_str(), h[1].expand, h[1].chomp),
            ("Y", "\ty1\n", false, true)
        );
        assert_eq!(h[1].chomped_content(), "y1\n");
        assert_eq!(&src[h[0].body.range()], "x1\n");
        assert_eq!(&src[h[1].terminator.range()], "\tY");
        assert_eq!((t.nodes[1].start_line, t.nodes[1].end_line), (2, 6));
        assert!(t.nodes[2].heredocs.is_empty());
        assert_eq!(t.to_source(), src);
        let e = err("FROM a\nRUN <<EOF\nx\n");
        assert_eq!(e.kind, ErrorKind::UnterminatedHeredoc);
        assert_eq!(e.line, 2);
        // `<<- EOF` on a line lexes as two words, so it opens no heredoc (as in BuildKit).
        assert!(parse_syntax("Dockerfile", "RUN <<- EOF\nEOF\n").unwrap().nodes[0].heredocs.is_empty());
        // A line that cannot be lexed has no heredocs (BuildKit ignores the lexer error).
        assert!(parse_syntax("Dockerfile", "FROM a\nRUN <<'EOF\n").unwrap().nodes[1].heredocs.is_empty());
    }

    #[test]
    fn token_spans_point_into_the_source() {
        let src = "FROM a\nRUN --mount=type=cache,target=/x \\\n    apt-get install -y \\\n  curl\nENV K=v\n";
        let t = parse_syntax("Dockerfile", src).unwrap();
        let run = &t.nodes[1];
        assert_eq!(&src[run.keyword.span.range()], "RUN");
        assert_eq!(&src[run.flags[0].span.range()], "--mount=type=cache,target=/x");
        assert_eq!(&src[run.flags[0].value_span.range()], "type=cache,target=/x");
        let a = run.args[0].span;
        assert_eq!((a.line, a.col), (3, 5));
        assert!(src[a.range()].ends_with("curl"));
        let env = &t.nodes[2];
        assert_eq!((&src[env.args[0].span.range()], &src[env.args[1].span.range()]), ("K", "v"));
    }

    #[test]
    fn errors_have_positions_and_buildkit_wording() {
        assert_eq!(err("").to_string(), "Dockerfile:1:1: file with no instructions");
        assert_eq!(err("# a\n\n").kind, ErrorKind::NoInstructions);
        let e = err("FROM a\nENV PATH");
        assert_eq!((e.line, e.col, e.kind.to_string().as_str()), (2, 5, "ENV must have two arguments"));
        assert_eq!(
            err("FROM a\nLABEL a=b c").kind.to_string(),
            "Syntax error - can't find = in \"c\". Must be of the form: name=value"
        );
        assert_eq!(err("FROM a\nCMD [\"a\", 1]").kind, ErrorKind::NotStringArray);
        assert_eq!(dump("CMD [\"a\", 1e999]"), "(cmd \"[\\\"a\\\", 1e999]\")");
        let long = format!("FROM a\nRUN {}\n", "x".repeat(70000));
        assert_eq!(err(&long).kind, ErrorKind::LineTooLong);
        let ok = format!("FROM a\nRUN {}\n", "x".repeat(65535 - 4));
        assert!(parse_syntax("Dockerfile", &ok).is_ok());
    }

    #[test]
    fn crlf_is_trimmed_but_kept_in_source() {
        let src = "FROM a\r\nRUN b \\\r\n c\r\n";
        let t = parse_syntax("Dockerfile", src).unwrap();
        assert_eq!(t.dump(), "(from \"a\")\n(run \"b  c\")");
        assert_eq!(t.to_source(), src);
    }
}
