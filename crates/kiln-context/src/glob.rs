//! COPY/ADD source wildcards: Go's `path/filepath.Match` ([`go_match`]), which BuildKit uses, and its
//! `containsWildcards` / `splitWildcards` helpers.
//!
//! Written here because the semantics must be Go's exactly: `*` and `?` never match `/`, `[...]` classes
//! negate with `^`, `\` escapes, there is no `**` and no `{a,b}`, and a malformed pattern matches nothing.
//! glob crates (globset, glob) differ on each of these points.

/// Whether a path component holds a wildcard (`*`, `?`, `[`), skipping `\`-escaped characters.
pub(crate) fn contains_wildcards(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'*' | b'?' | b'[' => return true,
            b'\\' => i += 1,
            _ => {}
        }
        i += 1;
    }
    false
}

/// Splits a `/`-separated relative path at its first component with a wildcard: the literal prefix and
/// the pattern rest (`src/*/x.go` → `("src", "*/x.go")`).
pub(crate) fn split_wildcards(path: &str) -> (String, String) {
    let mut literal = Vec::new();
    let mut pattern = Vec::new();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        if pattern.is_empty() && !contains_wildcards(part) {
            literal.push(part);
        } else {
            pattern.push(part);
        }
    }
    (literal.join("/"), pattern.join("/"))
}

/// Go's `filepath.Match(pattern, name)` on `/`-separated paths. A malformed pattern (an unclosed `[`, a
/// trailing `\`) matches nothing, which is what BuildKit makes of Go's `ErrBadPattern`.
pub(crate) fn go_match(pattern: &str, name: &str) -> bool {
    matches(pattern, name).unwrap_or(false)
}

struct BadPattern;

fn matches(mut pattern: &str, mut name: &str) -> Result<bool, BadPattern> {
    'pattern: while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            // A trailing `*` matches the rest of the name unless it holds a separator.
            return Ok(!name.contains('/'));
        }
        // Look for a match at the current position.
        let (t, ok) = match_chunk(chunk, name)?;
        // When this is the last chunk, it must consume the whole name; otherwise try a longer `*` prefix.
        if ok && (t.is_empty() || !pattern.is_empty()) {
            name = t;
            continue;
        }
        if star {
            // Try chunk positions after the star, never skipping a separator.
            for (i, c) in name.char_indices() {
                if c == '/' {
                    break;
                }
                let after = &name[i + c.len_utf8()..];
                let (t, ok) = match_chunk(chunk, after)?;
                if ok {
                    // The last chunk must match the whole rest.
                    if pattern.is_empty() && !t.is_empty() {
                        continue;
                    }
                    name = t;
                    continue 'pattern;
                }
            }
        }
        // Go reports a malformed remainder of the pattern even when the name did not match.
        while !pattern.is_empty() {
            let (_, chunk, rest) = scan_chunk(pattern);
            pattern = rest;
            match_chunk(chunk, "")?;
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

/// Go's `scanChunk`: leading stars, then the chunk up to the next unbracketed `*`, then the rest.
fn scan_chunk(mut pattern: &str) -> (bool, &str, &str) {
    let mut star = false;
    while let Some(rest) = pattern.strip_prefix('*') {
        pattern = rest;
        star = true;
    }
    let b = pattern.as_bytes();
    let mut in_range = false;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            // Skip the escaped character (if any).
            b'\\' if i + 1 < b.len() => i += 1,
            b'[' => in_range = true,
            b']' => in_range = false,
            b'*' if !in_range => break,
            _ => {}
        }
        i += 1;
    }
    (star, &pattern[..i], &pattern[i..])
}

/// Go's `matchChunk`: whether `chunk` (no `*`) matches a prefix of `s`; returns the rest.
fn match_chunk<'s>(chunk: &str, s: &'s str) -> Result<(&'s str, bool), BadPattern> {
    // Go keeps checking the pattern's syntax after a mismatch; `failed` records the mismatch.
    let mut failed = false;
    let mut s = s;
    let mut chunk = chunk;
    while let Some(c) = chunk.chars().next() {
        if !failed && s.is_empty() {
            failed = true;
        }
        match c {
            '[' => {
                let mut r = '\0';
                if !failed {
                    let mut it = s.chars();
                    r = it.next().unwrap_or('\0');
                    s = it.as_str();
                }
                chunk = &chunk[1..];
                let negated = chunk.starts_with('^');
                if negated {
                    chunk = &chunk[1..];
                }
                let mut matched = false;
                let mut nrange = 0;
                loop {
                    if chunk.starts_with(']') && nrange > 0 {
                        chunk = &chunk[1..];
                        break;
                    }
                    let (lo, rest) = get_esc(chunk)?;
                    chunk = rest;
                    let mut hi = lo;
                    if let Some(rest) = chunk.strip_prefix('-') {
                        let (h, rest) = get_esc(rest)?;
                        hi = h;
                        chunk = rest;
                    }
                    if lo <= r && r <= hi {
                        matched = true;
                    }
                    nrange += 1;
                }
                if matched == negated {
                    failed = true;
                }
            }
            '?' => {
                if !failed {
                    let mut it = s.chars();
                    if it.next() == Some('/') {
                        failed = true;
                    }
                    s = it.as_str();
                }
                chunk = &chunk[1..];
            }
            '\\' => {
                chunk = &chunk[1..];
                let Some(e) = chunk.chars().next() else { return Err(BadPattern) };
                if !failed {
                    match s.strip_prefix(e) {
                        Some(rest) => s = rest,
                        None => failed = true,
                    }
                }
                chunk = &chunk[e.len_utf8()..];
            }
            c => {
                if !failed {
                    match s.strip_prefix(c) {
                        Some(rest) => s = rest,
                        None => failed = true,
                    }
                }
                chunk = &chunk[c.len_utf8()..];
            }
        }
    }
    if failed { Ok(("", false)) } else { Ok((s, true)) }
}

/// Go's `getEsc`: one possibly escaped character of a class.
fn get_esc(chunk: &str) -> Result<(char, &str), BadPattern> {
    let mut it = chunk.chars();
    let mut c = it.next().ok_or(BadPattern)?;
    if c == '-' || c == ']' {
        return Err(BadPattern);
    }
    if c == '\\' {
        c = it.next().ok_or(BadPattern)?;
    }
    let rest = it.as_str();
    if rest.is_empty() {
        return Err(BadPattern);
    }
    Ok((c, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Go's own `filepath.Match` test table (path/filepath/match_test.go), `true`/`false` per case; the
    /// cases Go reports as `ErrBadPattern` are expected not to match.
    #[test]
    fn go_match_table() {
        let cases: &[(&str, &str, bool)] = &[
            ("abc", "abc", true),
            ("*", "abc", true),
            ("*c", "abc", true),
            ("a*", "a", true),
            ("a*", "abc", true),
            ("a*", "ab/c", false),
            ("a*/b", "abc/b", true),
            ("a*/b", "a/c/b", false),
            ("a*b*c*d*e*/f", "axbxcxdxe/f", true),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/f", true),
            ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", false),
            ("a*b?c*x", "abxbbxdbxebxczzx", true),
            ("a*b?c*x", "abxbbxdbxebxczzy", false),
            ("ab[c]", "abc", true),
            ("ab[b-d]", "abc", true),
            ("ab[e-g]", "abc", false),
            ("ab[^c]", "abc", false),
            ("ab[^b-d]", "abc", false),
            ("ab[^e-g]", "abc", true),
            ("a\\*b", "a*b", true),
            ("a\\*b", "ab", false),
            ("a?b", "a☺b", true),
            ("a[^a]b", "a☺b", true),
            ("a???b", "a☺b", false),
            ("a[^a][^a][^a]b", "a☺b", false),
            ("[a-ζ]*", "α", true),
            ("*[a-ζ]", "A", false),
            ("a?b", "a/b", false),
            ("a*b", "a/b", false),
            ("[\\]a]", "]", true),
            ("[\\-]", "-", true),
            ("[x\\-]", "x", true),
            ("[x\\-]", "-", true),
            ("[x\\-]", "z", false),
            ("[\\-x]", "x", true),
            ("[\\-x]", "-", true),
            ("[\\-x]", "a", false),
            ("[]a]", "]", false),
            ("[-]", "-", false),
            ("[x-]", "x", false),
            ("[x-]", "-", false),
            ("[x-]", "z", false),
            ("[-x]", "x", false),
            ("[-x]", "-", false),
            ("[-x]", "a", false),
            ("\\", "a", false),
            ("[a-b-c]", "a", false),
            ("[", "a", false),
            ("[^", "a", false),
            ("[^bc", "a", false),
            ("a[", "a", false),
            ("a[", "ab", false),
            ("a[", "x", false),
            ("a/b[", "x", false),
            ("*x", "xxx", true),
        ];
        for (pattern, name, want) in cases {
            assert_eq!(go_match(pattern, name), *want, "Match({pattern:?}, {name:?})");
        }
    }

    #[test]
    fn wildcard_detection_and_split() {
        assert!(contains_wildcards("*.go") && contains_wildcards("a[0]") && contains_wildcards("?"));
        assert!(!contains_wildcards("plain") && !contains_wildcards("a\\*b"));
        assert_eq!(split_wildcards("src/*/x.go"), ("src".to_owned(), "*/x.go".to_owned()));
        assert_eq!(split_wildcards("*.txt"), (String::new(), "*.txt".to_owned()));
        assert_eq!(split_wildcards("a/b"), ("a/b".to_owned(), String::new()));
    }
}
