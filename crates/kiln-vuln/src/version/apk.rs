//! Alpine's apk version ordering, written here because no maintained crate implements it;
//! DEPENDENCIES.md asks for it to be checked against apk-tools' own test vectors (the integration tests do).
//!
//! A version is the token stream `first-number ('.' number)* letter? ('_' suffix number?)* ('~' hash)?
//! ('-r' number)?`. Two versions compare token by token while both streams have a token of the same kind;
//! the first differing value decides:
//! - the first number compares numerically; a later number compares numerically too, unless either
//!   side starts with `0`, then as a string (`1.01 < 1.1`, `1.2.07 < 1.2.12`: the Gentoo rule);
//! - a letter by its byte, a suffix by its rank (`alpha < beta < pre < rc < (none) < cvs < svn < git <
//!   hg < p`), suffix numbers and revisions numerically, commit hashes as strings.
//!
//! When the kinds differ (one version continues differently, or ends), the side whose next token is a
//! pre-release suffix is smaller (`1.0_rc1 < 1.0`); otherwise the side with the *later* kind in the list
//! above is smaller, the end of the stream being the latest (`1.0 < 1.0-r0 < 1.0_p1 < 1.0a < 1.0.1`).
//! A malformed tail (an unknown suffix, an upper-case letter, a `-` not followed by `r`) ends the stream
//! with an invalid token that sorts below everything; apk orders such versions too, so parsing never
//! fails, and [`ApkVersion::is_valid`] says whether apk would accept one.

use std::cmp::Ordering;

/// Suffixes in rank order; the empty entry stands for "no suffix", so pre-releases rank below it.
const SUFFIXES: [&str; 10] = ["alpha", "beta", "pre", "rc", "", "cvs", "svn", "git", "hg", "p"];
/// The rank of "no suffix" in [`SUFFIXES`].
const NO_SUFFIX: usize = 4;

/// What a token is; the declaration order is apk's and decides which of two diverging streams is smaller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    FirstDigit,
    Digit,
    Letter,
    Suffix,
    SuffixNo,
    CommitHash,
    RevisionNo,
    End,
    Invalid,
}

/// One token: its kind and its text (for a suffix, the suffix name).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Token {
    kind: Kind,
    text: String,
}

/// An apk version: its token stream, always ending with an `End` or `Invalid` token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApkVersion {
    tokens: Vec<Token>,
}

impl ApkVersion {
    /// Reads `text` into tokens. Never fails: apk orders malformed versions too (see the module doc).
    pub fn parse(text: &str) -> Result<ApkVersion, String> {
        Ok(ApkVersion { tokens: tokenize(text.trim()) })
    }

    /// Whether apk accepts the version as well-formed.
    pub fn is_valid(&self) -> bool {
        self.tokens.last().is_some_and(|t| t.kind == Kind::End)
    }
}

/// A cursor over the version text.
struct Reader<'a> {
    s: &'a str,
    pos: usize,
}

impl Reader<'_> {
    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> String {
        let start = self.pos;
        while self.pos < self.s.len() && f(self.s.as_bytes()[self.pos]) {
            self.pos += 1;
        }
        self.s[start..self.pos].to_owned()
    }

    fn eat(&mut self, prefix: &str) -> bool {
        let found = self.s[self.pos..].starts_with(prefix);
        if found {
            self.pos += prefix.len();
        }
        found
    }

    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }
}

fn tokenize(s: &str) -> Vec<Token> {
    let mut r = Reader { s, pos: 0 };
    let mut out = Vec::new();
    let push = |out: &mut Vec<Token>, kind, text: String| out.push(Token { kind, text });
    let invalid = |mut out: Vec<Token>| {
        out.push(Token { kind: Kind::Invalid, text: String::new() });
        out
    };
    let first = r.take_while(|c| c.is_ascii_digit());
    if first.is_empty() {
        return invalid(out);
    }
    push(&mut out, Kind::FirstDigit, first);
    while r.eat(".") {
        let n = r.take_while(|c| c.is_ascii_digit());
        if n.is_empty() {
            return invalid(out);
        }
        push(&mut out, Kind::Digit, n);
    }
    if let Some(c) = r.peek().filter(u8::is_ascii_lowercase) {
        r.pos += 1;
        push(&mut out, Kind::Letter, char::from(c).to_string());
    }
    while r.eat("_") {
        let name = r.take_while(|c| c.is_ascii_lowercase());
        if name.is_empty() || !SUFFIXES.contains(&name.as_str()) {
            return invalid(out);
        }
        push(&mut out, Kind::Suffix, name);
        let n = r.take_while(|c| c.is_ascii_digit());
        if !n.is_empty() {
            push(&mut out, Kind::SuffixNo, n);
        }
    }
    if r.eat("~") {
        let hash = r.take_while(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase());
        if hash.is_empty() {
            return invalid(out);
        }
        push(&mut out, Kind::CommitHash, hash);
    }
    if r.eat("-r") {
        let n = r.take_while(|c| c.is_ascii_digit());
        if n.is_empty() {
            return invalid(out);
        }
        push(&mut out, Kind::RevisionNo, n);
    }
    if r.pos != s.len() {
        return invalid(out);
    }
    push(&mut out, Kind::End, String::new());
    out
}

/// Compares two digit strings as unbounded non-negative integers.
fn numeric(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn suffix_rank(name: &str) -> usize {
    SUFFIXES.iter().position(|s| *s == name).unwrap_or(NO_SUFFIX)
}

/// Compares the values of two tokens of the same kind.
fn value_cmp(kind: Kind, a: &str, b: &str) -> Ordering {
    match kind {
        Kind::Digit if a.starts_with('0') || b.starts_with('0') => a.cmp(b),
        Kind::FirstDigit | Kind::Digit | Kind::SuffixNo | Kind::RevisionNo => numeric(a, b),
        Kind::Suffix => suffix_rank(a).cmp(&suffix_rank(b)),
        Kind::Letter | Kind::CommitHash | Kind::End | Kind::Invalid => a.cmp(b),
    }
}

impl Ord for ApkVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        // Both streams end with an End or Invalid token, and the walk stops at the first of those.
        for (ta, tb) in self.tokens.iter().zip(&other.tokens) {
            if ta.kind != tb.kind {
                let pre = |t: &Token| t.kind == Kind::Suffix && suffix_rank(&t.text) < NO_SUFFIX;
                if pre(ta) {
                    return Ordering::Less;
                }
                if pre(tb) {
                    return Ordering::Greater;
                }
                return tb.kind.cmp(&ta.kind);
            }
            if ta.kind >= Kind::End {
                return Ordering::Equal;
            }
            let o = value_cmp(ta.kind, &ta.text, &tb.text);
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    }
}

impl PartialOrd for ApkVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> ApkVersion {
        ApkVersion::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn suffixes_and_revisions() {
        let ordered = ["1.0_alpha", "1.0_beta2", "1.0_rc1", "1.0", "1.0-r1", "1.0_p1", "1.0a", "1.0.1"];
        for w in ordered.windows(2) {
            assert_eq!(v(w[0]).cmp(&v(w[1])), Ordering::Less, "{} < {}", w[0], w[1]);
        }
        assert!(v("3.1.4-r0").is_valid());
        assert!(!v("23_foo").is_valid());
        assert!(!v("1.0-x").is_valid());
    }
}
