//! The parser layer's splitting rules, as BuildKit's `parser` package applies them: builder-flag extraction,
//! whitespace splitting, shell-like word splitting (quotes kept), JSON string arrays, heredoc word lexing
//! and Go's `strconv.Quote` for the dump.
//!
//! Every split word comes with its byte range in the string it was cut from, so the parser can give each
//! token a span. None of this expands variables: that is [`crate::shell`]'s job, later.

use std::ops::Range;

use crate::shell::{EmptyEnv, Lexer};

/// A word and the byte range of its raw text in the input it was cut from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Word {
    pub(crate) value: String,
    pub(crate) range: Range<usize>,
}

/// Go's `unicode.IsSpace` (the same set as Rust's `char::is_whitespace`).
pub(crate) fn is_space(c: char) -> bool {
    c.is_whitespace()
}

/// The `[\t\v\f\r ]` class of BuildKit's `reWhitespace`.
fn is_re_ws(c: char) -> bool {
    matches!(c, '\t' | '\u{0b}' | '\u{0c}' | '\r' | ' ')
}

/// Go's `strings.TrimSpace`, as a sub-slice.
pub(crate) fn trim_space(s: &str) -> &str {
    s.trim_matches(is_space)
}

/// `reWhitespace.Split(s, n)` with `n == 2` (`Some(2)`) or `-1` (`None`): ranges of the pieces.
pub(crate) fn split_re_ws(s: &str, limit: Option<usize>) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut piece_start = 0;
    let mut iter = s.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        if limit.is_some_and(|n| out.len() + 1 >= n) {
            break;
        }
        if is_re_ws(c) {
            let mut end = i + c.len_utf8();
            while let Some(&(j, d)) = iter.peek() {
                if !is_re_ws(d) {
                    break;
                }
                end = j + d.len_utf8();
                iter.next();
            }
            out.push(piece_start..i);
            piece_start = end;
        }
    }
    out.push(piece_start..s.len());
    out
}

/// `reWhitespace.Split(s, 2)`: the first piece and, if there is whitespace, the rest after it.
pub(crate) fn split_first_re_ws(s: &str) -> (Range<usize>, Option<Range<usize>>) {
    let b = s.as_bytes();
    let is_ws = |c: u8| matches!(c, b'\t' | 0x0b | 0x0c | b'\r' | b' ');
    let Some(i) = b.iter().position(|c| is_ws(*c)) else { return (0..s.len(), None) };
    let j = b[i..].iter().position(|c| !is_ws(*c)).map_or(s.len(), |k| i + k);
    (0..i, Some(j..s.len()))
}

/// BuildKit's `extractBuilderFlags`: leading `--words` of `line`. Returns the offset where the rest starts
/// and the flags with quotes removed and escapes applied. A bare `--` ends the flags and is dropped.
pub(crate) fn extract_flags(line: &str, escape: char) -> (usize, Vec<Word>) {
    let mut words = Vec::new();
    let mut chars = line.char_indices().peekable();
    loop {
        // skip spaces
        let Some(&(start, c)) = chars.peek() else { return (line.len(), words) };
        if is_space(c) {
            chars.next();
            continue;
        }
        if !line[start..].starts_with("--") {
            return (start, words);
        }
        // Fast path: a word without quotes or escapes is its own value.
        let raw_end = line[start..].find(is_space).map_or(line.len(), |i| start + i);
        let raw = &line[start..raw_end];
        if !raw.contains(['\'', '"', escape]) {
            while chars.peek().is_some_and(|(i, _)| *i < raw_end) {
                chars.next();
            }
            if raw == "--" {
                return (raw_end, words);
            }
            words.push(Word { value: raw.to_owned(), range: start..raw_end });
            if raw_end == line.len() {
                return (line.len(), words);
            }
            continue;
        }
        let mut buf = String::with_capacity((line.len() - start).min(64));
        let mut blank_ok = false;
        let mut quote: Option<char> = None;
        let mut end = line.len();
        while let Some((i, c)) = chars.next() {
            match quote {
                None => {
                    if is_space(c) {
                        end = i;
                        break;
                    }
                    if c == '\'' || c == '"' {
                        quote = Some(c);
                        blank_ok = true;
                        continue;
                    }
                    if c == escape {
                        match chars.next() {
                            Some((_, n)) => buf.push(n),
                            None => continue,
                        }
                        continue;
                    }
                    buf.push(c);
                }
                Some(q) => {
                    if c == q {
                        quote = None;
                        continue;
                    }
                    if c == escape {
                        match chars.next() {
                            Some((_, n)) => buf.push(n),
                            None => quote = None,
                        }
                        continue;
                    }
                    buf.push(c);
                }
            }
        }
        if buf == "--" {
            if end == line.len() {
                return (line.len(), words);
            }
            return (end, words);
        }
        if blank_ok || !buf.is_empty() {
            words.push(Word { value: buf, range: start..end });
        }
        if end == line.len() {
            return (line.len(), words);
        }
    }
}

/// BuildKit's `parseWords`: shell-like words split on whitespace outside quotes; quotes and escape
/// characters stay in the word (an escape at the very end of the input is dropped).
pub(crate) fn parse_words(rest: &str, escape: char) -> Vec<Word> {
    // Every character stays in its word except an escape token that ends the input, so each word is a
    // slice of `rest` (minus that escape).
    let mut words = Vec::new();
    let mut chars = rest.char_indices().peekable();
    loop {
        let Some(&(start, c)) = chars.peek() else { return words };
        if is_space(c) {
            chars.next();
            continue;
        }
        let mut blank_ok = false;
        let mut quote: Option<char> = None;
        let mut end = rest.len();
        let mut dropped_escape = false;
        while let Some((i, c)) = chars.next() {
            match quote {
                None => {
                    if is_space(c) {
                        end = i;
                        break;
                    }
                    if c == '\'' || c == '"' {
                        quote = Some(c);
                        blank_ok = true;
                    }
                    if c == escape && chars.next().is_none() {
                        dropped_escape = true;
                    }
                }
                Some(q) => {
                    if c == q {
                        quote = None;
                    }
                    if c == escape && q != '\'' && chars.next().is_none() {
                        dropped_escape = true;
                    }
                }
            }
        }
        let value = if dropped_escape { &rest[start..end - escape.len_utf8()] } else { &rest[start..end] };
        if blank_ok || !value.is_empty() {
            words.push(Word { value: value.to_owned(), range: start..end });
        }
        if end == rest.len() {
            return words;
        }
    }
}

/// Outcome of reading an instruction's rest as a JSON array.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Json {
    /// A valid array of strings, with the byte range of each string literal.
    Strings(Vec<Word>),
    /// Valid JSON array with a non-string element: a parse error in BuildKit.
    NotStrings,
    /// Not a JSON array: BuildKit falls back to the shell form.
    Invalid,
}

/// Go's `encoding/json` nesting limit.
const MAX_JSON_DEPTH: usize = 10_000;

/// BuildKit's `parseJSON` (Go's `encoding/json` into `[]any`). `rest` must already be left-trimmed.
///
/// Go's rules that matter: only `[` opens an array form; any syntax error (or a number that overflows a
/// float64, or nesting deeper than 10000) falls back to the shell form; a valid array holding anything
/// but strings is an error.
pub(crate) fn parse_json_array(rest: &str) -> Json {
    if !rest.starts_with('[') {
        return Json::Invalid;
    }
    let mut p = JsonParser { s: rest.as_bytes(), src: rest, pos: 0 };
    let mut out = Vec::new();
    let mut all_strings = true;
    let ok = (|| -> Option<()> {
        p.pos = 1;
        p.ws();
        if p.peek()? == b']' {
            p.pos += 1;
        } else {
            loop {
                p.ws();
                let start = p.pos;
                if p.peek()? == b'"' {
                    let v = p.string()?;
                    out.push(Word { value: v, range: start..p.pos });
                } else {
                    p.skip_value()?;
                    all_strings = false;
                }
                p.ws();
                match p.peek()? {
                    b',' => p.pos += 1,
                    b']' => {
                        p.pos += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        p.ws();
        (p.pos == p.s.len()).then_some(())
    })();
    match (ok, all_strings) {
        (None, _) => Json::Invalid,
        (Some(()), false) => Json::NotStrings,
        (Some(()), true) => Json::Strings(out),
    }
}

struct JsonParser<'a> {
    s: &'a [u8],
    src: &'a str,
    pos: usize,
}

impl JsonParser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// Skips one JSON value that is an element of the top-level array (depth 1), without recursion.
    fn skip_value(&mut self) -> Option<()> {
        // Open containers: `true` for an object, `false` for an array.
        let mut stack: Vec<bool> = Vec::new();
        loop {
            self.ws();
            // A value.
            match self.peek()? {
                b'"' => {
                    self.string()?;
                }
                b'[' | b'{' => {
                    let object = self.peek()? == b'{';
                    self.pos += 1;
                    if stack.len() + 2 > MAX_JSON_DEPTH {
                        return None;
                    }
                    stack.push(object);
                    self.ws();
                    let close = if object { b'}' } else { b']' };
                    if self.peek()? == close {
                        self.pos += 1;
                        stack.pop();
                    } else {
                        if object {
                            self.key()?;
                        }
                        continue;
                    }
                }
                b't' => self.literal("true")?,
                b'f' => self.literal("false")?,
                b'n' => self.literal("null")?,
                _ => self.number()?,
            }
            // After a value: close containers or move to the next element.
            loop {
                let Some(&object) = stack.last() else { return Some(()) };
                self.ws();
                match self.peek()? {
                    b',' => {
                        self.pos += 1;
                        if object {
                            self.ws();
                            self.key()?;
                        }
                        break;
                    }
                    b']' if !object => {
                        self.pos += 1;
                        stack.pop();
                    }
                    b'}' if object => {
                        self.pos += 1;
                        stack.pop();
                    }
                    _ => return None,
                }
            }
        }
    }

    /// An object key and its colon.
    fn key(&mut self) -> Option<()> {
        if self.peek()? != b'"' {
            return None;
        }
        self.string()?;
        self.ws();
        if self.peek()? != b':' {
            return None;
        }
        self.pos += 1;
        Some(())
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        if self.s[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Some(())
        } else {
            None
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// A number; `None` also when it overflows a float64 (Go then reports an UnmarshalTypeError).
    fn number(&mut self) -> Option<()> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek()? {
            b'0' => self.pos += 1,
            b'1'..=b'9' => {
                self.digits();
            }
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return None;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return None;
            }
        }
        let v: f64 = self.src[start..self.pos].parse().ok()?;
        v.is_finite().then_some(())
    }

    fn hex4(&mut self) -> Option<u32> {
        let h = self.src.get(self.pos..self.pos + 4)?;
        if !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let v = u32::from_str_radix(h, 16).ok()?;
        self.pos += 4;
        Some(v)
    }

    /// A string literal at `pos` (which is `"`), decoded like Go: lone surrogates become U+FFFD.
    fn string(&mut self) -> Option<String> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let start = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            out.push_str(&self.src[start..self.pos]);
            match self.peek()? {
                b'"' => {
                    self.pos += 1;
                    return Some(out);
                }
                b'\\' => {
                    self.pos += 1;
                    let e = self.peek()?;
                    self.pos += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hi = self.hex4()?;
                            if (0xD800..0xDC00).contains(&hi) && self.s[self.pos..].starts_with(b"\\u") {
                                let save = self.pos;
                                self.pos += 2;
                                match self.hex4() {
                                    Some(lo) if (0xDC00..0xE000).contains(&lo) => {
                                        let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                                        out.push(char::from_u32(c).unwrap_or('\u{FFFD}'));
                                    }
                                    _ => {
                                        self.pos = save;
                                        out.push('\u{FFFD}');
                                    }
                                }
                            } else {
                                out.push(char::from_u32(hi).unwrap_or('\u{FFFD}'));
                            }
                        }
                        _ => return None,
                    }
                }
                _ => return None,
            }
        }
    }
}

/// Go's `strconv.Quote`: printable runes (including non-ASCII) literal, the rest escaped.
pub(crate) fn go_quote(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if is_go_print(c) => out.push(c),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
}

/// Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII space.
fn is_go_print(c: char) -> bool {
    use unicode_properties::{GeneralCategoryGroup as G, UnicodeGeneralCategory};
    if c.is_ascii() {
        return (' '..='~').contains(&c);
    }
    matches!(c.general_category_group(), G::Letter | G::Mark | G::Number | G::Punctuation | G::Symbol)
}

/// The heredoc head found in a word: `[fd]<<[-]name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeredocHead {
    /// The delimiter with quotes removed.
    pub name: String,
    /// The file descriptor before `<<` (0 when none).
    pub fd: u64,
    /// False when any part of the delimiter was quoted.
    pub expand: bool,
    /// `<<-`.
    pub chomp: bool,
}

/// BuildKit's `ParseHeredoc` on one word (`^(\d*)<<(-?)\s*([^<]*)$` and a one-word name): `Ok(None)`
/// when the word is not a heredoc, `Err` when it looks like one but its name cannot be lexed.
pub fn parse_heredoc_word(word: &str) -> Result<Option<HeredocHead>, String> {
    let digits = word.bytes().take_while(u8::is_ascii_digit).count();
    let Some(after) = word[digits..].strip_prefix("<<") else { return Ok(None) };
    let (chomp, after) = match after.strip_prefix('-') {
        Some(a) => (true, a),
        None => (false, after),
    };
    let rest = after.trim_start_matches(['\t', '\n', '\u{c}', '\r', ' ']);
    if rest.contains('<') || rest.is_empty() {
        return Ok(None);
    }
    // Go's ParseUint: empty is 0, overflow saturates.
    let fd = if digits == 0 { 0 } else { word[..digits].parse::<u64>().unwrap_or(u64::MAX) };
    let mut lex = Lexer::new('\\');
    lex.skip_unset_env = true;
    let words = lex.process_words(rest, &EmptyEnv).map_err(|e| e.to_string())?;
    if words.len() != 1 {
        return Ok(None);
    }
    lex.raw_quotes = true;
    let raw = lex.process_words(rest, &EmptyEnv).map_err(|e| e.to_string())?;
    if raw.len() != 1 {
        return Err(format!("internal lexing of heredoc produced inconsistent results: {rest}"));
    }
    let count = |s: &str| s.chars().filter(|c| *c == '\'' || *c == '"').count();
    let expand = count(&words[0]) == count(&raw[0]);
    Ok(Some(HeredocHead { name: words[0].clone(), fd, expand, chomp }))
}

/// BuildKit's `heredocsFromLine`: heredoc heads in the words of a whole instruction line (lexed with raw
/// quotes and raw escapes; a line that cannot be lexed has none).
pub(crate) fn heredocs_from_line(line: &str) -> Result<Vec<HeredocHead>, String> {
    let mut lex = Lexer::new('\\');
    lex.raw_quotes = true;
    lex.raw_escapes = true;
    lex.skip_unset_env = true;
    let words = lex.process_words(line, &EmptyEnv).unwrap_or_default();
    let mut out = Vec::new();
    for w in words {
        if let Some(h) = parse_heredoc_word(&w)? {
            out.push(h);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vals(w: &[Word]) -> Vec<&str> {
        w.iter().map(|w| w.value.as_str()).collect()
    }

    #[test]
    fn flags_are_extracted_with_quotes_removed() {
        let line = "--from=\"a b\" --link  -- foo /tmp/";
        let (rest, flags) = extract_flags(line, '\\');
        assert_eq!(vals(&flags), ["--from=a b", "--link"]);
        assert_eq!(&line[rest..], " foo /tmp/");
        assert_eq!(&line[flags[0].range.clone()], "--from=\"a b\"");
        let (rest, flags) = extract_flags("foo", '\\');
        assert_eq!((rest, flags.len()), (0, 0));
        let (rest, flags) = extract_flags("--x", '\\');
        assert_eq!((rest, vals(&flags)), (3, vec!["--x"]));
    }

    #[test]
    fn words_keep_quotes_and_escapes() {
        let w = parse_words("abc=\"123 456\" def", '\\');
        assert_eq!(vals(&w), ["abc=\"123 456\"", "def"]);
        assert_eq!(w[1].range, 14..17);
        let w = parse_words("a\\ b c`", '`');
        assert_eq!(vals(&w), ["a\\", "b", "c"]);
    }

    #[test]
    fn whitespace_split_like_go_regexp() {
        let s = "a \t b";
        let r: Vec<_> = split_re_ws(s, None).into_iter().map(|r| &s[r]).collect();
        assert_eq!(r, ["a", "b"]);
        let r: Vec<_> = split_re_ws("a b c", Some(2)).into_iter().map(|r| &"a b c"[r]).collect();
        assert_eq!(r, ["a", "b c"]);
        assert_eq!(split_re_ws("", None), vec![0..0]);
    }

    #[test]
    fn json_arrays() {
        match parse_json_array(r#"[ "a", "\u0000\ud83d\ude00" ]"#) {
            Json::Strings(w) => assert_eq!(vals(&w), ["a", "\u{0}😀"]),
            other => panic!("{other:?}"),
        }
        assert_eq!(parse_json_array(r#"["a", ["b"]]"#), Json::NotStrings);
        assert_eq!(parse_json_array(r#"["a", 1.5e3, null, {"k": [true]}]"#), Json::NotStrings);
        assert_eq!(parse_json_array(r#"['a']"#), Json::Invalid);
        assert_eq!(parse_json_array(r#"["a"] x"#), Json::Invalid);
        assert_eq!(parse_json_array(r#"["a""#), Json::Invalid);
        assert_eq!(parse_json_array("[\"\t\"]"), Json::Invalid);
        assert_eq!(parse_json_array("[01]"), Json::Invalid);
    }

    #[test]
    fn go_quote_matches_strconv() {
        let mut s = String::new();
        go_quote("\" \\ / \u{8} \u{c} \n \r \t \u{0} ♥ \u{7f} \u{a0} \u{1F600} \u{E000}", &mut s);
        assert_eq!(s, r#""\" \\ / \b \f \n \r \t \x00 ♥ \x7f \u00a0 😀 \ue000""#);
    }

    #[test]
    fn heredoc_words() {
        for w in ["<<EOF", "<<'EOF'", "<<\"EOF\"", "<<-EOF", "<<EO\"F\"", "<< EOF", "<<- EOF"] {
            assert_eq!(parse_heredoc_word(w).unwrap().unwrap().name, "EOF", "{w}");
        }
        for w in ["<<'EOF", "<<\"EOF", "<<EOF'", "<<EOF\""] {
            assert!(parse_heredoc_word(w).is_err(), "{w}");
        }
        for w in ["", "EOF", "<<", "<<-", "<EOF", "<<<EOF", "<<EOF sh"] {
            assert_eq!(parse_heredoc_word(w), Ok(None), "{w}");
        }
        let h = parse_heredoc_word("3<<-'X'").unwrap().unwrap();
        assert_eq!((h.fd, h.chomp, h.expand), (3, true, false));
    }

    #[test]
    fn heredocs_in_lines() {
        let names =
            |l: &str| -> Vec<String> { heredocs_from_line(l).unwrap().into_iter().map(|h| h.name).collect() };
        assert_eq!(names("RUN <<EOF <<EOF2"), ["EOF", "EOF2"]);
        assert_eq!(names("RUN << -EOF"), ["-EOF"]);
        assert_eq!(names("RUN 4<<EOF"), ["EOF"]);
        assert!(names("RUN '<<EOF'").is_empty());
        assert!(names("RUN \"<<EOF\"").is_empty());
        assert_eq!(names("RUN <<$EOF"), ["$EOF"]);
        assert_eq!(names("RUN <<  EOF  > foo"), ["EOF"]);
        assert_eq!(names("RUN ${a:-x} <<EOF"), ["EOF"]);
        assert!(names("RUN 'unterminated <<EOF").is_empty());
    }
}
