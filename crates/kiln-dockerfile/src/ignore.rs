//! `.dockerignore` files ([`DockerIgnore`]) with moby's `patternmatcher` and `ignorefile` semantics.
//!
//! Written here (on [`regex`]) because gitignore-style matchers differ from Docker's: a bare `foo` matches
//! only at the context root, patterns are `filepath.Clean`ed, `**` has three special forms (prefix,
//! suffix, anywhere), a pattern that matches a parent directory excludes everything below it, and `!`
//! exceptions are evaluated in order. Each pattern is translated exactly as patternmatcher translates it
//! into a Go regular expression, then into the equivalent Rust one.
//!
//! Besides [`DockerIgnore::matches`], it answers the questions a context walker and `kiln context
//! explain` ask: which pattern decided ([`DockerIgnore::explain`]), whether an excluded directory can be
//! skipped without reading it ([`DockerIgnore::can_skip_dir`], BuildKit's fsutil rule), and which
//! exceptions can never re-include anything ([`DockerIgnore::useless_exceptions`]).

use serde::Serialize;

/// An invalid pattern or ignore file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct IgnoreError {
    /// The ignore file (or `--exclude` for patterns given directly).
    pub file: String,
    /// 1-based line of the pattern (0 when not from a file).
    pub line: u32,
    /// The pattern as written.
    pub pattern: String,
    /// What is wrong, in moby's words (`syntax error in pattern`, `illegal exclusion pattern: "!"`).
    pub message: String,
}

#[derive(Debug, Clone)]
enum Matcher {
    Exact,
    Prefix,
    Suffix,
    Regex(regex::Regex),
}

/// One pattern of an ignore file.
#[derive(Debug, Clone, Serialize)]
pub struct Pattern {
    /// The cleaned pattern without its `!`, as patternmatcher keeps it.
    pub text: String,
    /// `!pattern`: an exception that re-includes what earlier patterns excluded.
    pub exclusion: bool,
    /// 1-based line in the ignore file (0 when not from a file).
    pub line: u32,
    /// The line as written.
    pub original: String,
    #[serde(skip)]
    matcher: Matcher,
}

impl Pattern {
    fn new(p: &str, line: u32, original: &str, file: &str) -> Result<Option<Pattern>, IgnoreError> {
        let err = |message: String| IgnoreError {
            file: file.to_owned(),
            line,
            pattern: original.to_owned(),
            message,
        };
        let p = p.trim();
        if p.is_empty() {
            return Ok(None);
        }
        let p = clean(p);
        let (exclusion, p) = match p.strip_prefix('!') {
            Some("") => return Err(err("illegal exclusion pattern: \"!\"".into())),
            Some(rest) => (true, rest.to_owned()),
            None => (false, p),
        };
        if !go_match_syntax_ok(&p) {
            return Err(err("syntax error in pattern".into()));
        }
        let matcher = compile(&p).map_err(|e| err(format!("syntax error in pattern: {e}")))?;
        Ok(Some(Pattern { text: p, exclusion, line, original: original.to_owned(), matcher }))
    }

    /// Whether the pattern matches `path` itself (no parent directories considered).
    pub fn matches_path(&self, path: &str) -> bool {
        match &self.matcher {
            Matcher::Exact => path == self.text,
            Matcher::Prefix => path.starts_with(&self.text[..self.text.len() - 2]),
            Matcher::Suffix => {
                let suffix = &self.text[2..];
                path.ends_with(suffix) || suffix.strip_prefix('/').is_some_and(|s| path == s)
            }
            Matcher::Regex(re) => re.is_match(path),
        }
    }

    /// Whether the pattern matches `path` or one of its parent directories (patternmatcher's
    /// `MatchesOrParentMatches` for one pattern); returns the matching path.
    fn matches_or_parent<'p>(&self, path: &'p str) -> Option<&'p str> {
        if self.matches_path(path) {
            return Some(path);
        }
        let parent = match path.rfind('/') {
            Some(i) => &path[..i],
            None => return None,
        };
        parent
            .char_indices()
            .filter(|(_, c)| *c == '/')
            .map(|(i, _)| &parent[..i])
            .chain([parent])
            .find(|candidate| self.matches_path(candidate))
    }

    /// The pattern without a trailing `/**` or `/*` (fsutil's `patternWithoutTrailingGlob`).
    fn without_trailing_glob(&self) -> &str {
        let t = self.text.strip_suffix("/**").unwrap_or(&self.text);
        t.strip_suffix("/*").unwrap_or(t)
    }
}

/// Why a path is in or out of the context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// Whether the path is excluded.
    pub excluded: bool,
    /// Index into [`DockerIgnore::patterns`] of the last pattern that changed the decision.
    pub pattern: Option<usize>,
    /// The path the deciding pattern matched: the path itself or one of its parent directories.
    pub matched_path: Option<String>,
}

/// A parsed `.dockerignore` (or a list of `--exclude` patterns).
#[derive(Debug, Clone, Default, Serialize)]
pub struct DockerIgnore {
    patterns: Vec<Pattern>,
    exclusions: bool,
}

impl DockerIgnore {
    /// Parses an ignore file (moby `ignorefile.ReadAll`): BOM dropped, lines starting with `#` are
    /// comments, blank lines skipped, leading `/` removed. `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<DockerIgnore, IgnoreError> {
        let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
        let mut patterns = Vec::new();
        for (i, raw) in text.split_inclusive('\n').enumerate() {
            let line = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let l = raw.strip_suffix('\n').unwrap_or(raw);
            let l = l.strip_suffix('\r').unwrap_or(l);
            if l.len() > 65535 {
                return Err(IgnoreError {
                    file: file.to_owned(),
                    line,
                    pattern: String::new(),
                    message: "bufio.Scanner: token too long".into(),
                });
            }
            if l.starts_with('#') {
                continue;
            }
            let mut p = l.trim();
            if p.is_empty() {
                continue;
            }
            let invert = p.starts_with('!');
            if invert {
                p = p[1..].trim();
            }
            let mut pat = String::new();
            if !p.is_empty() {
                pat = clean(p);
                if pat.len() > 1 && pat.starts_with('/') {
                    pat.remove(0);
                }
            }
            if invert {
                pat.insert(0, '!');
            }
            if let Some(p) = Pattern::new(&pat, line, l, file)? {
                patterns.push(p);
            }
        }
        Ok(DockerIgnore::from_compiled(patterns))
    }

    /// Builds a matcher from patterns given directly (patternmatcher's `New`, e.g. `COPY --exclude`).
    pub fn from_patterns<S: AsRef<str>>(patterns: &[S]) -> Result<DockerIgnore, IgnoreError> {
        let mut out = Vec::new();
        for p in patterns {
            if let Some(p) = Pattern::new(p.as_ref(), 0, p.as_ref(), "--exclude")? {
                out.push(p);
            }
        }
        Ok(DockerIgnore::from_compiled(out))
    }

    fn from_compiled(patterns: Vec<Pattern>) -> DockerIgnore {
        let exclusions = patterns.iter().any(|p| p.exclusion);
        DockerIgnore { patterns, exclusions }
    }

    /// The patterns in order.
    pub fn patterns(&self) -> &[Pattern] {
        &self.patterns
    }

    /// Whether there are no patterns at all.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether `rel_path` (relative to the context, `/`-separated) is excluded from the context.
    pub fn matches(&self, rel_path: &str) -> bool {
        self.explain(rel_path).excluded
    }

    /// Like [`Self::matches`], and says which pattern decided.
    pub fn explain(&self, rel_path: &str) -> Explanation {
        let path = clean(rel_path.trim_start_matches('/'));
        let mut out = Explanation { excluded: false, pattern: None, matched_path: None };
        if path == "." || path == "/" {
            return out;
        }
        for (i, p) in self.patterns.iter().enumerate() {
            if p.exclusion != out.excluded {
                continue;
            }
            if let Some(m) = p.matches_or_parent(&path) {
                out.excluded = !p.exclusion;
                out.pattern = Some(i);
                out.matched_path = Some(m.to_owned());
            }
        }
        out
    }

    /// Whether a walker may skip the excluded directory `rel_dir` without reading it: true when no
    /// exception pattern could re-include anything below it (BuildKit's fsutil rule: only exceptions
    /// without wildcards are analysed; any wildcard exception forces a full walk). False when the
    /// directory itself is not excluded.
    pub fn can_skip_dir(&self, rel_dir: &str) -> bool {
        let dir = clean(rel_dir.trim_start_matches('/'));
        if !self.matches(&dir) {
            return false;
        }
        if !self.exclusions {
            return true;
        }
        let exceptions = self.patterns.iter().filter(|p| p.exclusion);
        if exceptions.clone().any(|p| p.without_trailing_glob().contains(['*', '[', ']', '?', '^', '\\'])) {
            return false;
        }
        let dir_slash = format!("{dir}/");
        !exceptions.into_iter().any(|p| format!("{}/", p.without_trailing_glob()).starts_with(&dir_slash))
    }

    /// Exception patterns (`!p`) that can never re-include anything because no earlier pattern can
    /// exclude a path they match (e.g. an exception before any exclusion, or for an unrelated path).
    pub fn useless_exceptions(&self) -> Vec<&Pattern> {
        let mut out = Vec::new();
        for (i, p) in self.patterns.iter().enumerate() {
            if !p.exclusion {
                continue;
            }
            if !self.patterns[..i].iter().any(|q| !q.exclusion && may_overlap(&q.text, &p.text)) {
                out.push(p);
            }
        }
        out
    }
}

fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '[', '\\'])
}

/// Whether a path matched by `a` can equal, contain or lie inside a path matched by `b` (conservative:
/// true unless the literal path components prove otherwise).
fn may_overlap(a: &str, b: &str) -> bool {
    let (a, b): (Vec<&str>, Vec<&str>) = (a.split('/').collect(), b.split('/').collect());
    for (x, y) in a.iter().zip(&b) {
        if x.contains("**") || y.contains("**") {
            return true;
        }
        let ok = match (has_glob(x), has_glob(y)) {
            (false, false) => x == y,
            (true, false) => component_matches(x, y),
            (false, true) => component_matches(y, x),
            (true, true) => true,
        };
        if !ok {
            return false;
        }
    }
    true
}

fn component_matches(glob: &str, literal: &str) -> bool {
    Pattern::new(glob, 0, glob, "").ok().flatten().is_none_or(|p| p.matches_path(literal))
}

/// Go's `filepath.Clean` for `/`-separated paths.
pub fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            c => parts.push(c),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// Whether Go's `filepath.Match(pattern, ".")` accepts the pattern's syntax (character classes closed and
/// well-formed, no trailing `\`).
fn go_match_syntax_ok(p: &str) -> bool {
    let b = p.as_bytes();
    let get_esc = |mut i: usize| -> Option<usize> {
        if i >= b.len() || b[i] == b'-' || b[i] == b']' {
            return None;
        }
        if b[i] == b'\\' {
            i += 1;
            if i >= b.len() {
                return None;
            }
        }
        let c = p[i..].chars().next()?;
        i += c.len_utf8();
        (i < b.len()).then_some(i)
    };
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => {
                if i + 1 >= b.len() {
                    return false;
                }
                i += 2;
            }
            b'[' => {
                i += 1;
                if b.get(i) == Some(&b'^') {
                    i += 1;
                }
                let mut nrange = 0;
                loop {
                    if b.get(i) == Some(&b']') && nrange > 0 {
                        i += 1;
                        break;
                    }
                    let Some(j) = get_esc(i) else { return false };
                    i = j;
                    if b[i] == b'-' {
                        let Some(j) = get_esc(i + 1) else { return false };
                        i = j;
                    }
                    nrange += 1;
                }
            }
            _ => i += 1,
        }
    }
    true
}

/// patternmatcher's `compile` for `/` separators: the match type, and for `regexpMatch` the regex.
fn compile(pattern: &str) -> Result<Matcher, String> {
    #[derive(PartialEq)]
    enum T {
        Exact,
        Prefix,
        Suffix,
        Regex,
    }
    let mut reg = String::from("^");
    let mut ty = T::Exact;
    let mut chars = pattern.chars().peekable();
    let mut i = 0;
    while let Some(ch) = chars.next() {
        match ch {
            '*' => {
                if chars.peek() == Some(&'*') {
                    chars.next();
                    if chars.peek() == Some(&'/') {
                        chars.next();
                    }
                    if chars.peek().is_none() {
                        if ty == T::Exact {
                            ty = T::Prefix;
                        } else {
                            reg.push_str(".*");
                            ty = T::Regex;
                        }
                    } else {
                        reg.push_str("(.*/)?");
                        ty = T::Regex;
                    }
                    if i == 0 {
                        ty = T::Suffix;
                    }
                } else {
                    reg.push_str("[^/]*");
                    ty = T::Regex;
                }
            }
            '?' => {
                reg.push_str("[^/]");
                ty = T::Regex;
            }
            '.' | '+' | '(' | ')' | '|' | '{' | '}' | '$' => {
                reg.push('\\');
                reg.push(ch);
            }
            '\\' => match chars.next() {
                Some(n) => {
                    reg.push('\\');
                    reg.push(n);
                    ty = T::Regex;
                }
                None => reg.push('\\'),
            },
            '[' | ']' => {
                reg.push(ch);
                ty = T::Regex;
            }
            c => reg.push(c),
        }
        i += 1;
    }
    Ok(match ty {
        T::Exact => Matcher::Exact,
        T::Prefix => Matcher::Prefix,
        T::Suffix => Matcher::Suffix,
        T::Regex => {
            reg.push('$');
            Matcher::Regex(regex::Regex::new(&go_regex_to_rust(&reg)).map_err(|e| e.to_string())?)
        }
    })
}

/// Rewrites the subset of Go regexp syntax patternmatcher produces into Rust `regex` syntax with the same
/// meaning: inside a character class Go treats `[`, `&`, `~` and `--` literally, Rust does not.
fn go_regex_to_rust(go: &str) -> String {
    let mut out = String::with_capacity(go.len() + 8);
    let chars: Vec<char> = go.chars().collect();
    let mut i = 0;
    let mut in_class = false;
    let mut prev_dash = false;
    let push_escaped = |out: &mut String, c: char| {
        if c.is_ascii_alphanumeric() {
            out.push('\\');
            out.push(c);
        } else {
            out.push_str(&regex::escape(c.encode_utf8(&mut [0; 4])));
        }
    };
    while i < chars.len() {
        let c = chars[i];
        if !in_class {
            match c {
                '\\' => {
                    match chars.get(i + 1) {
                        Some(&n) => push_escaped(&mut out, n),
                        None => out.push('\\'),
                    }
                    i += 2;
                    continue;
                }
                '[' => {
                    out.push('[');
                    in_class = true;
                    prev_dash = false;
                    i += 1;
                    if chars.get(i) == Some(&'^') {
                        out.push('^');
                        i += 1;
                    }
                    if chars.get(i) == Some(&']') {
                        out.push_str("\\]");
                        i += 1;
                    }
                    continue;
                }
                ']' => out.push_str("\\]"),
                c => out.push(c),
            }
            i += 1;
            continue;
        }
        match c {
            ']' => {
                out.push(']');
                in_class = false;
            }
            '[' if chars.get(i + 1) == Some(&':') => {
                // A POSIX class `[:name:]` means the same in both.
                let rest: String = chars[i..].iter().collect();
                if let Some(end) = rest.find(":]") {
                    out.push_str(&rest[..end + 2]);
                    i += rest[..end + 2].chars().count();
                    continue;
                }
                out.push_str("\\[");
            }
            '\\' => {
                match chars.get(i + 1) {
                    Some(&n) => push_escaped(&mut out, n),
                    None => out.push('\\'),
                }
                i += 2;
                prev_dash = false;
                continue;
            }
            '[' | '&' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '-' if prev_dash => out.push_str("\\-"),
            c => out.push(c),
        }
        prev_dash = c == '-';
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn di(s: &str) -> DockerIgnore {
        DockerIgnore::parse(".dockerignore", s).unwrap()
    }

    #[test]
    fn clean_like_go() {
        for (i, o) in [
            ("a/./b/../c/", "a/c"),
            ("/../x", "/x"),
            ("../../x", "../../x"),
            ("", "."),
            ("a/..", "."),
            ("//a//", "/a"),
        ] {
            assert_eq!(clean(i), o, "{i}");
        }
    }

    #[test]
    fn root_relative_and_parent_dirs() {
        let d = di("foo\n/bar/baz\n*.log\n");
        assert!(d.matches("foo"));
        assert!(d.matches("foo/deep/file"));
        assert!(!d.matches("sub/foo"));
        assert!(d.matches("bar/baz/x"));
        assert!(d.matches("a.log"));
        assert!(!d.matches("dir/a.log"));
        assert!(d.matches("x.log/inside"));
    }

    #[test]
    fn double_star_forms() {
        let d = di("**/*.tmp\nbuild/**\n**\n");
        assert!(d.matches("anything"));
        let d = di("**/*.tmp\nbuild/**");
        assert!(d.matches("a.tmp") && d.matches("x/y/z.tmp"));
        assert!(d.matches("build/out") && !d.matches("build"));
        let d = di("**/node_modules\na/**/c");
        assert!(d.matches("node_modules") && d.matches("x/node_modules/y"));
        assert!(d.matches("a/c") && d.matches("a/b/b/c") && !d.matches("ab/c"));
    }

    #[test]
    fn exceptions_in_order() {
        let d = di("*.md\n!README.md\n");
        assert!(d.matches("CHANGES.md"));
        assert!(!d.matches("README.md"));
        let e = d.explain("README.md");
        assert_eq!((e.excluded, e.pattern), (false, Some(1)));
        let d = di("docs\n!docs/keep\n");
        assert!(d.matches("docs/other"));
        assert!(!d.matches("docs/keep"));
        assert!(!d.matches("docs/keep/deeper"));
        let e = d.explain("docs/other/x");
        assert_eq!((e.pattern, e.matched_path.as_deref()), (Some(0), Some("docs")));
        let d = di("!a\na\n");
        assert!(d.matches("a"));
    }

    #[test]
    fn comments_blank_lines_and_errors() {
        let d = di("\u{FEFF}# comment\n\n  # not a comment\r\n /x/ \n");
        assert_eq!(
            d.patterns().iter().map(|p| p.text.as_str()).collect::<Vec<_>>(),
            ["# not a comment", "x"]
        );
        assert_eq!(d.patterns()[1].line, 4);
        let e = DockerIgnore::parse(".dockerignore", "ok\n[a\n").unwrap_err();
        assert_eq!(e.to_string(), ".dockerignore:2: syntax error in pattern");
        assert_eq!(e.line, 2);
        let e = DockerIgnore::parse(".dockerignore", "!\n").unwrap_err();
        assert_eq!(e.message, "illegal exclusion pattern: \"!\"");
        assert!(DockerIgnore::parse("f", "a\\").is_err());
        assert!(DockerIgnore::parse("f", "[a-]").is_err());
    }

    #[test]
    fn classes_and_escapes() {
        let d = di("file[0-9].txt\n\\*star\n[[]x\nq?\n");
        assert!(d.matches("file3.txt") && !d.matches("filex.txt"));
        assert!(d.matches("*star") && !d.matches("xstar"));
        assert!(d.matches("[x"));
        assert!(d.matches("qa") && !d.matches("q/"));
    }

    #[test]
    fn skip_dirs_like_fsutil() {
        let d = di("node_modules\n");
        assert!(d.can_skip_dir("node_modules"));
        assert!(!d.can_skip_dir("src"));
        let d = di("vendor\n!vendor/keep\n");
        assert!(!d.can_skip_dir("vendor"));
        let d = di("vendor\nother\n!vendor/keep\n");
        assert!(d.can_skip_dir("other"));
        let d = di("vendor\n!**/keep\n");
        assert!(!d.can_skip_dir("vendor"));
    }

    #[test]
    fn useless_exceptions_are_found() {
        let d = di("!early\n*.md\n!README.md\n!src/x\nbuild\n!build/keep\n!other\n");
        let useless: Vec<&str> = d.useless_exceptions().iter().map(|p| p.text.as_str()).collect();
        assert_eq!(useless, ["early", "src/x", "other"]);
    }
}
