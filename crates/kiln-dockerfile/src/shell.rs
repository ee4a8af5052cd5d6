//! Variable expansion with BuildKit's shell-lexer semantics: the [`Lexer`] (BuildKit's `shell.Lex`).
//!
//! It expands `$v ${v} ${v:-w} ${v-w} ${v:+w} ${v+w} ${v:?m} ${v?m} ${v#p} ${v##p} ${v%p} ${v%%p} ${v/p/r}
//! ${v//p/r}`, removes quotes and escapes the way BuildKit does, and records which variables were found
//! and which were referenced but unset (lint's `UndefinedVar` needs the latter).
//!
//! Written here rather than taken from a shell crate because BuildKit's lexer is deliberately not a POSIX
//! shell: `'`/`"` handling, the escape token, the `<<` heredoc passthrough and even its quirks (a nested
//! `${…}` operand resets the word-splitting buffer of [`Lexer::process_words`]) decide what a build does,
//! and kiln must produce the same strings. Patterns (`#`, `%`, `/`) are compiled to [`regex`] exactly as
//! BuildKit compiles them to Go regular expressions (both engines use leftmost-first semantics).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::words::go_quote;

/// A source of variable values (BuildKit's `EnvGetter`).
pub trait Env {
    /// The value of `name`, or `None` when it is not set (set-but-empty is `Some("")`).
    fn get(&self, name: &str) -> Option<&str>;
}

impl<E: Env + ?Sized> Env for &E {
    fn get(&self, name: &str) -> Option<&str> {
        (**self).get(name)
    }
}

impl<S: std::hash::BuildHasher> Env for HashMap<String, String, S> {
    fn get(&self, name: &str) -> Option<&str> {
        HashMap::get(self, name).map(String::as_str)
    }
}

impl Env for BTreeMap<String, String> {
    fn get(&self, name: &str) -> Option<&str> {
        BTreeMap::get(self, name).map(String::as_str)
    }
}

/// A list of `(name, value)` pairs; a later pair overrides an earlier one with the same name.
impl<K: AsRef<str>, V: AsRef<str>> Env for [(K, V)] {
    fn get(&self, name: &str) -> Option<&str> {
        self.iter().rev().find(|(k, _)| k.as_ref() == name).map(|(_, v)| v.as_ref())
    }
}

impl<K: AsRef<str>, V: AsRef<str>> Env for Vec<(K, V)> {
    fn get(&self, name: &str) -> Option<&str> {
        Env::get(self.as_slice(), name)
    }
}

/// An environment with no variables.
#[derive(Debug, Clone, Copy, Default)]
pub struct EmptyEnv;

impl Env for EmptyEnv {
    fn get(&self, _: &str) -> Option<&str> {
        None
    }
}

/// An expansion failure: BuildKit's message, wrapped as `failed to process "<word>": <message>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("failed to process {}: {message}", quoted(word))]
pub struct ShellError {
    /// The word that was being expanded.
    pub word: String,
    /// What went wrong, e.g. `syntax error: bad substitution` or `FOO: is not allowed to be unset`.
    pub message: String,
}

fn quoted(s: &str) -> String {
    let mut out = String::new();
    go_quote(s, &mut out);
    out
}

/// The result of [`Lexer::process_word`]: the expanded string and the variables it looked up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expansion {
    /// The expanded word.
    pub value: String,
    /// Variables that were referenced and set.
    pub matched: BTreeSet<String>,
    /// Variables that were referenced but not set.
    pub unmatched: BTreeSet<String>,
}

/// BuildKit's shell lexer: word processing with quote removal, escapes and variable expansion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lexer {
    escape: char,
    /// Keep quote characters in the output (they still group words).
    pub raw_quotes: bool,
    /// Keep escape characters in the output.
    pub raw_escapes: bool,
    /// Treat `'` and `"` as ordinary characters.
    pub skip_process_quotes: bool,
    /// Leave references to unset variables as written instead of expanding them to `""`.
    pub skip_unset_env: bool,
}

impl Default for Lexer {
    fn default() -> Self {
        Lexer::new('\\')
    }
}

impl Lexer {
    /// A lexer with escape token `escape` (`\` or the backtick from `# escape=`) and default options.
    pub fn new(escape: char) -> Self {
        Lexer {
            escape,
            raw_quotes: false,
            raw_escapes: false,
            skip_process_quotes: false,
            skip_unset_env: false,
        }
    }

    /// The escape token.
    pub fn escape(&self) -> char {
        self.escape
    }

    /// Expands one word (BuildKit's `ProcessWord`): quotes removed, variables expanded, spaces kept.
    pub fn process_word(&self, word: &str, env: &dyn Env) -> Result<Expansion, ShellError> {
        let mut sw = ShellWord::new(self, word, env, true);
        let (value, _) = sw.process()?;
        Ok(Expansion { value, matched: sw.matched, unmatched: sw.unmatched })
    }

    /// Expands a line and splits it into words on unquoted whitespace (BuildKit's `ProcessWords`).
    pub fn process_words(&self, word: &str, env: &dyn Env) -> Result<Vec<String>, ShellError> {
        let mut sw = ShellWord::new(self, word, env, false);
        sw.process().map(|(_, words)| words)
    }
}

/// Go's `unicode.IsSpace` equals Rust's `char::is_whitespace` (both are the Unicode White_Space set).
fn is_space(c: char) -> bool {
    c.is_whitespace()
}

/// Go's `unicode.IsLetter`: general categories L*.
pub(crate) fn is_go_letter(c: char) -> bool {
    use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};
    if c.is_ascii() {
        return c.is_ascii_alphabetic();
    }
    c.general_category_group() == GeneralCategoryGroup::Letter
}

/// Go's `unicode.IsDigit`: general category Nd.
pub(crate) fn is_go_digit(c: char) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    if c.is_ascii() {
        return c.is_ascii_digit();
    }
    c.general_category() == GeneralCategory::DecimalNumber
}

/// One word being processed (BuildKit's `shellWord`).
struct ShellWord<'a> {
    lex: &'a Lexer,
    source: &'a str,
    pos: usize,
    env: &'a dyn Env,
    raw_escapes: bool,
    capture: bool,
    matched: BTreeSet<String>,
    unmatched: BTreeSet<String>,
    /// BuildKit shares one word buffer between nested `processStopOn` calls; each call resets it. This
    /// quirk changes `process_words` results around `${v:-w}` and is reproduced on purpose.
    words_buf: String,
}

/// The per-call word list of `processStopOn` (its buffer is the shared [`ShellWord::words_buf`]).
#[derive(Default)]
struct Words {
    words: Vec<String>,
    in_word: bool,
}

const EOF_CHAR: char = '\u{FFFD}';

impl<'a> ShellWord<'a> {
    fn new(lex: &'a Lexer, source: &'a str, env: &'a dyn Env, capture: bool) -> Self {
        // Go's text/scanner skips a byte-order mark at the very start.
        let pos = if source.starts_with('\u{FEFF}') { '\u{FEFF}'.len_utf8() } else { 0 };
        ShellWord {
            lex,
            source,
            pos,
            env,
            raw_escapes: lex.raw_escapes,
            capture,
            matched: BTreeSet::new(),
            unmatched: BTreeSet::new(),
            words_buf: String::new(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.source[self.pos..].chars().next()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn err(&self, message: impl Into<String>) -> ShellError {
        ShellError { word: self.source.to_owned(), message: message.into() }
    }

    fn process(&mut self) -> Result<(String, Vec<String>), ShellError> {
        let raw = self.raw_escapes;
        self.process_stop_on(None, raw).map_err(|m| self.err(m))
    }

    fn add_char(&mut self, w: &mut Words, c: char) {
        if is_space(c) && w.in_word {
            if !self.words_buf.is_empty() {
                w.words.push(std::mem::take(&mut self.words_buf));
                w.in_word = false;
            }
        } else if !is_space(c) {
            self.add_raw_char(w, c);
        }
    }

    fn add_raw_char(&mut self, w: &mut Words, c: char) {
        self.words_buf.push(c);
        w.in_word = true;
    }

    fn add_string(&mut self, w: &mut Words, s: &str) {
        for c in s.chars() {
            self.add_char(w, c);
        }
    }

    fn add_raw_string(&mut self, w: &mut Words, s: &str) {
        self.words_buf.push_str(s);
        w.in_word = true;
    }

    fn get_words(&mut self, mut w: Words) -> Vec<String> {
        if !self.words_buf.is_empty() {
            w.words.push(std::mem::take(&mut self.words_buf));
        }
        w.words
    }

    /// Processes up to `stop` (or the end); errors are bare messages, wrapped by [`Self::process`].
    fn process_stop_on(
        &mut self,
        stop: Option<char>,
        raw_escapes: bool,
    ) -> Result<(String, Vec<String>), String> {
        let saved = self.raw_escapes;
        self.raw_escapes = raw_escapes;
        let r = self.stop_on_inner(stop);
        self.raw_escapes = saved;
        r
    }

    fn stop_on_inner(&mut self, stop: Option<char>) -> Result<(String, Vec<String>), String> {
        let mut result = String::new();
        self.words_buf.clear();
        let mut words = Words::default();
        while let Some(c) = self.peek() {
            if stop == Some(c) {
                self.pos += c.len_utf8();
                return Ok((result, self.get_words(words)));
            }
            let special = match c {
                '$' => Some(self.process_dollar()?),
                '<' => Some(self.process_possible_heredoc()),
                '\'' if !self.lex.skip_process_quotes => Some(self.process_single_quote()?),
                '"' if !self.lex.skip_process_quotes => Some(self.process_double_quote()?),
                _ => None,
            };
            if let Some(text) = special {
                result.push_str(&text);
                if c == '$' {
                    self.add_string(&mut words, &text);
                } else {
                    self.add_raw_string(&mut words, &text);
                }
                continue;
            }
            self.pos += c.len_utf8();
            let mut ch = c;
            if ch == self.lex.escape {
                if self.raw_escapes {
                    self.add_raw_char(&mut words, ch);
                    result.push(ch);
                }
                match self.next() {
                    None => break,
                    Some(n) => ch = n,
                }
                self.add_raw_char(&mut words, ch);
            } else {
                self.add_char(&mut words, ch);
            }
            result.push(ch);
        }
        if let Some(s) = stop {
            return Err(format!("unexpected end of statement while looking for matching {s}"));
        }
        Ok((result, self.get_words(words)))
    }

    fn process_single_quote(&mut self) -> Result<String, String> {
        let mut out = String::new();
        let q = self.next().unwrap_or('\'');
        if self.lex.raw_quotes {
            out.push(q);
        }
        loop {
            match self.next() {
                None => {
                    return Err("unexpected end of statement while looking for matching single-quote".into());
                }
                Some('\'') => {
                    if self.lex.raw_quotes {
                        out.push('\'');
                    }
                    return Ok(out);
                }
                Some(c) => out.push(c),
            }
        }
    }

    fn process_double_quote(&mut self) -> Result<String, String> {
        let mut out = String::new();
        let q = self.next().unwrap_or('"');
        if self.lex.raw_quotes {
            out.push(q);
        }
        loop {
            match self.peek() {
                None => {
                    return Err("unexpected end of statement while looking for matching double-quote".into());
                }
                Some('"') => {
                    self.pos += 1;
                    if self.lex.raw_quotes {
                        out.push('"');
                    }
                    return Ok(out);
                }
                Some('$') => {
                    let v = self.process_dollar()?;
                    out.push_str(&v);
                }
                Some(c) => {
                    self.pos += c.len_utf8();
                    let mut ch = c;
                    if ch == self.lex.escape {
                        if self.raw_escapes {
                            out.push(ch);
                        }
                        match self.peek() {
                            None => continue,
                            Some(n) if n == '"' || n == '$' || n == self.lex.escape => {
                                self.pos += n.len_utf8();
                                ch = n;
                            }
                            Some(_) => {}
                        }
                    }
                    out.push(ch);
                }
            }
        }
    }

    fn get_env(&mut self, name: &str) -> Option<String> {
        match self.env.get(name) {
            Some(v) => {
                if self.capture {
                    self.matched.insert(name.to_owned());
                }
                Some(v.to_owned())
            }
            None => {
                if self.capture {
                    self.unmatched.insert(name.to_owned());
                }
                None
            }
        }
    }

    fn process_name(&mut self) -> String {
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if name.is_empty() && is_go_digit(c) {
                while let Some(d) = self.peek().filter(|d| is_go_digit(*d)) {
                    name.push(d);
                    self.pos += d.len_utf8();
                }
                return name;
            }
            if name.is_empty() && matches!(c, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0') {
                self.pos += c.len_utf8();
                name.push(c);
                return name;
            }
            if !is_go_letter(c) && !is_go_digit(c) && c != '_' {
                break;
            }
            self.pos += c.len_utf8();
            name.push(c);
        }
        name
    }

    fn process_dollar(&mut self) -> Result<String, String> {
        self.pos += 1; // '$'
        if self.peek() != Some('{') {
            let name = self.process_name();
            if name.is_empty() {
                return Ok("$".into());
            }
            return Ok(match self.get_env(&name) {
                Some(v) => v,
                None if self.lex.skip_unset_env => format!("${name}"),
                None => String::new(),
            });
        }
        self.pos += 1; // '{'
        match self.peek() {
            None => return Err("syntax error: missing '}'".into()),
            Some('{' | '}' | ':') => return Err("syntax error: bad substitution".into()),
            Some(_) => {}
        }
        let name = self.process_name();
        let ch = self.next();
        let mut chs = ch.unwrap_or(EOF_CHAR).to_string();
        match ch {
            Some('}') => {
                let value = self.get_env(&name);
                Ok(match value {
                    Some(v) => v,
                    None if self.lex.skip_unset_env => format!("${{{name}}}"),
                    None => String::new(),
                })
            }
            Some(':' | '+' | '-' | '?' | '#' | '%') => {
                let mut op = ch;
                let null_is_unset = op == Some(':');
                if null_is_unset {
                    op = self.next();
                    chs.push(op.unwrap_or(EOF_CHAR));
                }
                let raw = matches!(op, Some('#' | '%'));
                if null_is_unset && raw {
                    return Err(format!("unsupported modifier ({chs}) in substitution"));
                }
                let word = match self.process_stop_on(Some('}'), raw) {
                    Ok((w, _)) => w,
                    Err(e) => {
                        return Err(if self.peek().is_none() {
                            "syntax error: missing '}'".into()
                        } else {
                            e
                        });
                    }
                };
                let value = self.get_env(&name);
                if self.lex.skip_unset_env && value.is_none() {
                    return Ok(format!("${{{name}{chs}{word}}}"));
                }
                let set = value.is_some();
                let value = value.unwrap_or_default();
                let null = !set || (null_is_unset && value.is_empty());
                match op {
                    Some('-') => Ok(if null { word } else { value }),
                    Some('+') => Ok(if null { String::new() } else { word }),
                    Some('?') => {
                        if !set {
                            let m = if word.is_empty() { "is not allowed to be unset" } else { &word };
                            return Err(format!("{name}: {m}"));
                        }
                        if null_is_unset && value.is_empty() {
                            let m = if word.is_empty() { "is not allowed to be empty" } else { &word };
                            return Err(format!("{name}: {m}"));
                        }
                        Ok(value)
                    }
                    Some(c @ ('%' | '#')) => {
                        let (greedy, pattern) = match word.strip_prefix(c) {
                            Some(rest) => (true, rest),
                            None => (false, word.as_str()),
                        };
                        if c == '%' {
                            trim_suffix(pattern, &value, greedy)
                        } else {
                            trim_prefix(pattern, &value, greedy)
                        }
                    }
                    _ => Err(format!("unsupported modifier ({chs}) in substitution")),
                }
            }
            Some('/') => {
                let replace_all = self.peek() == Some('/');
                if replace_all {
                    self.pos += 1;
                }
                let pattern = match self.process_stop_on(Some('/'), true) {
                    Ok((p, _)) => p,
                    Err(e) => {
                        return Err(if self.peek().is_none() {
                            "syntax error: missing '/' in ${}".into()
                        } else {
                            e
                        });
                    }
                };
                let replacement = match self.process_stop_on(Some('}'), true) {
                    Ok((r, _)) => r,
                    Err(e) => {
                        return Err(if self.peek().is_none() {
                            "syntax error: missing '}'".into()
                        } else {
                            e
                        });
                    }
                };
                let value = self.get_env(&name);
                let Some(value) = value else {
                    if self.lex.skip_unset_env {
                        return Ok(format!("${{{name}/{pattern}/{replacement}}}"));
                    }
                    return replace(&pattern, "", &replacement, replace_all);
                };
                replace(&pattern, &value, &replacement, replace_all)
            }
            _ => Err(format!("unsupported modifier ({chs}) in substitution")),
        }
    }

    fn process_possible_heredoc(&mut self) -> String {
        self.pos += 1; // '<'
        if self.peek() != Some('<') {
            return "<".into();
        }
        self.pos += 1;
        let mut out = String::from("<<");
        while let Some(c @ ('\t' | '\r' | ' ')) = self.peek() {
            out.push(c);
            self.pos += 1;
        }
        out
    }
}

/// BuildKit's `convertShellPatternToRegex`: `*` (greedy or lazy), `?`, `\` escapes, the rest literal.
fn shell_pattern_regex(pattern: &str, greedy: bool, anchored: bool) -> Result<regex::Regex, String> {
    let mut out = String::with_capacity(pattern.len() + 4);
    if anchored {
        out.push('^');
    }
    let star = if greedy { ".*" } else { ".*?" };
    let body = pattern.strip_prefix('\u{FEFF}').unwrap_or(pattern);
    let mut chars = body.chars().peekable();
    while let Some(tok) = chars.next() {
        match tok {
            '*' => out.push_str(star),
            '?' => out.push('.'),
            '\\' => {
                // `}` and `/` are escaped only to get past the `${…}` parser; the escape is not part of
                // the pattern.
                if matches!(chars.peek(), Some('}' | '/')) {
                    continue;
                }
                match chars.next() {
                    Some(c @ ('*' | '?' | '\\')) => {
                        out.push('\\');
                        out.push(c);
                    }
                    other => {
                        return Err(format!("invalid escape '\\{}'", other.unwrap_or(EOF_CHAR)));
                    }
                }
            }
            c => out.push_str(&regex::escape(c.encode_utf8(&mut [0; 4]))),
        }
    }
    regex::Regex::new(&out).map_err(|e| e.to_string())
}

fn trim_prefix(pattern: &str, value: &str, greedy: bool) -> Result<String, String> {
    let re = shell_pattern_regex(pattern, greedy, true)
        .map_err(|e| format!("invalid pattern ({pattern}) in substitution: {e}"))?;
    Ok(match re.find(value) {
        Some(m) => value[m.end()..].to_owned(),
        None => value.to_owned(),
    })
}

/// Reverses a pattern but keeps each `\x` escape pair in order (`a\*c` → `c\*a`).
fn reverse_pattern(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = vec!['\0'; chars.len()];
    let last = chars.len().saturating_sub(1);
    let mut i = 0;
    while i < chars.len() {
        let out_idx = last - i;
        if chars[i] == '\\' && i != last {
            out[out_idx - 1] = '\\';
            out[out_idx] = chars[i + 1];
            i += 2;
        } else {
            out[out_idx] = chars[i];
            i += 1;
        }
    }
    out.into_iter().collect()
}

fn trim_suffix(pattern: &str, value: &str, greedy: bool) -> Result<String, String> {
    // A regular expression cannot find the shortest rightmost match, so search the reversed value for
    // the reversed pattern, as BuildKit does.
    let reversed: String = value.chars().rev().collect();
    let trimmed = trim_prefix(&reverse_pattern(pattern), &reversed, greedy)?;
    Ok(trimmed.chars().rev().collect())
}

fn replace(pattern: &str, value: &str, replacement: &str, all: bool) -> Result<String, String> {
    let re = shell_pattern_regex(pattern, true, false)
        .map_err(|e| format!("invalid pattern ({pattern}) in substitution: {e}"))?;
    if !all {
        return Ok(match re.find(value) {
            Some(m) => format!("{}{}{}", &value[..m.start()], replacement, &value[m.end()..]),
            None => value.to_owned(),
        });
    }
    // Go's ReplaceAllString expands `$0`/`${0}` in the replacement (the pattern has no groups).
    let mut out = String::with_capacity(value.len());
    let mut last = 0;
    for m in re.find_iter(value) {
        out.push_str(&value[last..m.start()]);
        expand_template(replacement, m.as_str(), &mut out);
        last = m.end();
    }
    out.push_str(&value[last..]);
    Ok(out)
}

/// Go's `Regexp.Expand` for a regexp without capture groups: `$$` is `$`, `$0`/`${0}` the match, any other
/// well-formed reference is empty and a malformed one is a literal `$`.
fn expand_template(template: &str, matched: &str, out: &mut String) {
    let mut rest = template;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if let Some(r) = rest.strip_prefix('$') {
            out.push('$');
            rest = r;
            continue;
        }
        let (brace, body) = match rest.strip_prefix('{') {
            Some(b) => (true, b),
            None => (false, rest),
        };
        let len: usize = body
            .chars()
            .take_while(|c| is_go_letter(*c) || is_go_digit(*c) || *c == '_')
            .map(char::len_utf8)
            .sum();
        if len == 0 || (brace && !body[len..].starts_with('}')) {
            out.push('$');
            continue;
        }
        if &body[..len] == "0" {
            out.push_str(matched);
        }
        rest = &body[len + usize::from(brace)..];
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn word(input: &str, pairs: &[(&str, &str)]) -> Result<String, ShellError> {
        Lexer::new('\\').process_word(input, &env(pairs)).map(|e| e.value)
    }

    #[test]
    fn basic_forms() {
        let e = [("A", "a"), ("E", "")];
        assert_eq!(word("$A ${A}", &e).unwrap(), "a a");
        assert_eq!(word("${X:-w} ${E:-w} ${E-w} ${A-w}", &e).unwrap(), "w w  a");
        assert_eq!(word("${X:+w}|${E:+w}|${E+w}|${A+w}", &e).unwrap(), "||w|w");
        assert_eq!(word("${A:?m}${E?m}", &e).unwrap(), "a");
        assert_eq!(word("${X:?boom}", &e).unwrap_err().message, "X: boom");
        assert_eq!(word("${X?}", &e).unwrap_err().message, "X: is not allowed to be unset");
        assert_eq!(word("${E:?}", &e).unwrap_err().message, "E: is not allowed to be empty");
        assert_eq!(
            word("${}", &e).unwrap_err().to_string(),
            "failed to process \"${}\": syntax error: bad substitution"
        );
        assert_eq!(word("${A", &e).unwrap_err().message, "unsupported modifier (\u{FFFD}) in substitution");
        assert_eq!(word("${A:=x}", &e).unwrap_err().message, "unsupported modifier (:=) in substitution");
        assert_eq!(word("${A:-x", &e).unwrap_err().message, "syntax error: missing '}'");
    }

    #[test]
    fn prefix_and_suffix_removal() {
        let e = [("FOO", "xxyy"), ("P", "/usr/local/bin/tool.tar.gz"), ("BAR", "x")];
        assert_eq!(word("${FOO#*x*y}", &e).unwrap(), "y");
        assert_eq!(word("${FOO##*x}", &e).unwrap(), "yy");
        assert_eq!(word("${FOO#$BAR}", &e).unwrap(), "xyy");
        assert_eq!(word("${FOO#}", &e).unwrap(), "xxyy");
        assert_eq!(word("${P%.*}", &e).unwrap(), "/usr/local/bin/tool.tar");
        assert_eq!(word("${P%%.*}", &e).unwrap(), "/usr/local/bin/tool");
        assert_eq!(word("${P##*/}", &e).unwrap(), "tool.tar.gz");
        assert_eq!(word("${P#*/}", &e).unwrap(), "usr/local/bin/tool.tar.gz");
        assert_eq!(word("${FOO#?\\?}", &[("FOO", "???y")]).unwrap(), "?y");
        assert_eq!(word("${FOO%%\\**\\*}", &[("FOO", "a***yy*")]).unwrap(), "a");
        assert_eq!(word("${FOO#()[]{\\}^$.\\*\\?|\\\\}", &[("FOO", "()[]{}^$.*?|\\x")]).unwrap(), "x");
        assert!(word("${FOO:#x}", &e).is_err());
        assert!(word("${FOO#\\x}", &e).is_err());
    }

    #[test]
    fn replacement() {
        let e = [("FOO", "/foo*/*/*.txt"), ("NEEDLE", "\\*/")];
        assert_eq!(word("${FOO/$NEEDLE/.} - ${FOO//$NEEDLE/.}", &e).unwrap(), "/foo.*/*.txt - /foo..*.txt");
        let e = [("FOO", "/a/foo/b/c.txt"), ("NEEDLE", "/?/"), ("R", "/")];
        assert_eq!(word("${FOO/$NEEDLE/$R} - ${FOO//$NEEDLE/$R}", &e).unwrap(), "/foo/b/c.txt - /foo/c.txt");
        assert_eq!(word("${FOO//\\//\\/}", &[("FOO", "/tmp/foo.txt")]).unwrap(), "\\/tmp\\/foo.txt");
        assert_eq!(word("${FOO/$BAR/ww}", &[("FOO", "xxyy")]).unwrap(), "wwxxyy");
        assert!(word("${FOO//ww}", &[("FOO", "xxyy")]).is_err());
        assert_eq!(word("${FOO///}", &[("FOO", "xxyy")]).unwrap(), "xxyy");
        // Go's template expansion in replace-all: `$0` is the match, `$$` a dollar.
        assert_eq!(word("${FOO//x/<\\$0>}", &[("FOO", "axb")]).unwrap(), "a<\\x>b");
        let mut s = String::new();
        expand_template("[$0|${0}|$$|$1|${x|$]", "m", &mut s);
        assert_eq!(s, "[m|m|$||${x|$]");
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(word(r#"he'l l'o "a\"b" \$x"#, &[]).unwrap(), "hel lo a\"b $x");
        assert_eq!(word(r#""a\tb""#, &[]).unwrap(), "a\\tb");
        let mut lex = Lexer::new('`');
        assert_eq!(lex.process_word("a`$b\\c", &EmptyEnv).unwrap().value, "a$b\\c");
        lex.raw_quotes = true;
        assert_eq!(lex.process_word("'a'\"b\"", &EmptyEnv).unwrap().value, "'a'\"b\"");
        let mut lex = Lexer::new('\\');
        lex.skip_process_quotes = true;
        assert_eq!(lex.process_word("'$A' \"x\"", &env(&[("A", "1")])).unwrap().value, "'1' \"x\"");
    }

    #[test]
    fn unmatched_and_matched_are_reported() {
        let r =
            Lexer::new('\\').process_word("${A}${B:-x}$C ${D+y}", &env(&[("A", "1"), ("D", "")])).unwrap();
        assert_eq!(r.value, "1x y");
        assert_eq!(r.matched.into_iter().collect::<Vec<_>>(), ["A", "D"]);
        assert_eq!(r.unmatched.into_iter().collect::<Vec<_>>(), ["B", "C"]);
    }

    #[test]
    fn skip_unset_env_keeps_references() {
        let mut lex = Lexer::new('\\');
        lex.skip_unset_env = true;
        let e = env(&[("A", "1")]);
        assert_eq!(
            lex.process_word("$A $B ${C} ${D:-x} ${E/a/b}", &e).unwrap().value,
            "1 $B ${C} ${D:-x} ${E/a/b}"
        );
    }

    #[test]
    fn words_split_and_buffer_quirk() {
        let lex = Lexer::new('\\');
        let e = env(&[("S", "a  b")]);
        assert_eq!(lex.process_words("x${S}y \"$S\"", &e).unwrap(), ["xa", "by", "a  b"]);
        // BuildKit's shared buffer: the text before a `${v:-w}` in the same word is dropped.
        assert_eq!(lex.process_words("a b${X:-y}c", &EmptyEnv).unwrap(), ["a", "yc"]);
    }

    #[test]
    fn names_follow_go_unicode_classes() {
        let e = [("é1", "v"), ("x", "X")];
        assert_eq!(word("$é1-$x²", &e).unwrap(), "v-X²");
        assert_eq!(word("$1x", &e).unwrap(), "x");
    }

    #[test]
    fn reverse_pattern_keeps_escapes() {
        assert_eq!(reverse_pattern("a\\*c"), "c\\*a");
        assert_eq!(reverse_pattern("ab\\"), "\\ba");
    }
}
