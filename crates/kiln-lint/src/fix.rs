//! Safe fixes: [`apply`] rewrites a source with the fixes of its findings (non-overlapping edits, source
//! order), [`fix_source`] repeats lint-and-apply until nothing fixable is left, and [`unified_diff`]
//! shows the change (`kiln lint --diff`).
//!
//! Edits only replace the bytes a rule names, so comments and formatting elsewhere are kept byte for byte.

use std::collections::BTreeSet;

use crate::config::Config;
use crate::finding::{Edit, Finding};

/// Applies the fixes of `findings` whose rule is selected (all when `only` is `None`) to `source`.
/// Edits that overlap an earlier one are skipped (a later round picks them up). Returns the new source
/// and the rule IDs whose fixes were applied.
pub fn apply(
    source: &str,
    findings: &[Finding],
    only: Option<&BTreeSet<String>>,
) -> (String, Vec<&'static str>) {
    let mut edits: Vec<(&Edit, &'static str, usize)> = Vec::new();
    for (n, f) in findings.iter().enumerate() {
        if only.is_some_and(|o| !o.contains(f.rule)) {
            continue;
        }
        let Some(fix) = &f.fix else { continue };
        // A fix is applied whole or not at all.
        let conflicts = fix.edits.iter().any(|e| edits.iter().any(|(o, _, _)| overlaps(&e.range, &o.range)));
        let in_bounds = fix.edits.iter().all(|e| {
            e.range.end <= source.len()
                && source.is_char_boundary(e.range.start)
                && source.is_char_boundary(e.range.end)
        });
        if conflicts || !in_bounds {
            continue;
        }
        edits.extend(fix.edits.iter().map(|e| (e, f.rule, n)));
    }
    edits.sort_by_key(|(e, _, n)| (e.range.start, e.range.end, *n));
    let mut out = String::with_capacity(source.len() + 64);
    let mut pos = 0;
    let mut applied = Vec::new();
    for (e, rule, _) in edits {
        out.push_str(&source[pos..e.range.start]);
        out.push_str(&e.text);
        pos = e.range.end;
        if !applied.contains(&rule) {
            applied.push(rule);
        }
    }
    out.push_str(&source[pos..]);
    (out, applied)
}

/// Two ranges overlap when they share a byte; an insertion conflicts with a replacement around it, not
/// with another insertion at the same place.
fn overlaps(a: &std::ops::Range<usize>, b: &std::ops::Range<usize>) -> bool {
    if a.is_empty() && b.is_empty() {
        return false;
    }
    if a.is_empty() {
        return b.start < a.start && a.start < b.end;
    }
    if b.is_empty() {
        return a.start < b.start && b.start < a.end;
    }
    a.start < b.end && b.start < a.end
}

/// The result of fixing a file.
#[derive(Debug, Clone)]
pub struct Fixed {
    /// The new source.
    pub source: String,
    /// The rules whose fixes were applied, in order.
    pub rules: Vec<&'static str>,
}

/// Lints `source` and applies fixes until no selected fix applies (at most a few rounds).
pub fn fix_source(file: &str, source: &str, config: &Config, only: Option<&BTreeSet<String>>) -> Fixed {
    let mut current = source.to_owned();
    let mut rules = Vec::new();
    for _ in 0..5 {
        let report = crate::lint(file, &current, config);
        let (next, applied) = apply(&current, &report.findings, only);
        if applied.is_empty() || next == current {
            break;
        }
        for r in applied {
            if !rules.contains(&r) {
                rules.push(r);
            }
        }
        current = next;
    }
    Fixed { source: current, rules }
}

/// A unified diff of `old` → `new` with three lines of context (`--- a/file`, `+++ b/file`).
pub fn unified_diff(file: &str, old: &str, new: &str) -> String {
    if old == new {
        return String::new();
    }
    let a: Vec<&str> = old.split_inclusive('\n').collect();
    let b: Vec<&str> = new.split_inclusive('\n').collect();
    let ops = diff_lines(&a, &b);
    let mut out = format!("--- a/{file}\n+++ b/{file}\n");
    // Changes closer than 7 unchanged lines share a hunk; each hunk has 3 lines of context.
    let mut groups: Vec<(usize, usize)> = Vec::new();
    for (n, op) in ops.iter().enumerate() {
        if matches!(op, Op::Same(..)) {
            continue;
        }
        match groups.last_mut() {
            Some(g) if n - g.1 <= 7 => g.1 = n,
            _ => groups.push((n, n)),
        }
    }
    for (first, last) in groups {
        let start = first.saturating_sub(3);
        let end = (last + 4).min(ops.len());
        let (mut a_start, mut b_start) = (0, 0);
        for op in &ops[..start] {
            match op {
                Op::Same(..) => {
                    a_start += 1;
                    b_start += 1;
                }
                Op::Del(_) => a_start += 1,
                Op::Add(_) => b_start += 1,
            }
        }
        let a_len = ops[start..end].iter().filter(|o| !matches!(o, Op::Add(_))).count();
        let b_len = ops[start..end].iter().filter(|o| !matches!(o, Op::Del(_))).count();
        out.push_str(&format!("@@ -{},{} +{},{} @@\n", a_start + 1, a_len, b_start + 1, b_len));
        for op in &ops[start..end] {
            let (sign, line) = match op {
                Op::Same(l) => (' ', *l),
                Op::Del(l) => ('-', *l),
                Op::Add(l) => ('+', *l),
            };
            out.push(sign);
            out.push_str(line);
            if !line.ends_with('\n') {
                out.push_str("\n\\ No newline at end of file\n");
            }
        }
    }
    out
}

enum Op<'a> {
    Same(&'a str),
    Del(&'a str),
    Add(&'a str),
}

/// A line diff by longest common subsequence (Dockerfiles are small).
fn diff_lines<'a>(a: &[&'a str], b: &[&'a str]) -> Vec<Op<'a>> {
    // Trim the common prefix and suffix, then LCS on the middle.
    let pre = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suf = a[pre..].iter().rev().zip(b[pre..].iter().rev()).take_while(|(x, y)| x == y).count();
    let (am, bm) = (&a[pre..a.len() - suf], &b[pre..b.len() - suf]);
    let (n, m) = (am.len(), bm.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if am[i] == bm[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let mut ops: Vec<Op<'a>> = a[..pre].iter().zip(&b[..pre]).map(|(x, _)| Op::Same(x)).collect();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && am[i] == bm[j] {
            ops.push(Op::Same(am[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(Op::Del(am[i]));
            i += 1;
        } else {
            ops.push(Op::Add(bm[j]));
            j += 1;
        }
    }
    ops.extend(a[a.len() - suf..].iter().zip(&b[b.len() - suf..]).map(|(x, _)| Op::Same(x)));
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_shows_changed_lines_with_context() {
        let old = "a\nb\nc\nd\ne\nf\ng\nh\n";
        let new = "a\nb\nc\nD\ne\nf\ng\nh\n";
        let d = unified_diff("Dockerfile", old, new);
        assert_eq!(
            d,
            "--- a/Dockerfile\n+++ b/Dockerfile\n@@ -1,7 +1,7 @@\n a\n b\n c\n-d\n+D\n e\n f\n g\n"
        );
        assert_eq!(unified_diff("x", old, old), "");
    }

    #[test]
    fn insertions_at_one_place_do_not_conflict() {
        assert!(!overlaps(&(3..3), &(3..3)));
        assert!(overlaps(&(3..3), &(1..5)));
        assert!(!overlaps(&(5..5), &(1..5)));
        assert!(overlaps(&(1..4), &(3..6)));
    }
}
