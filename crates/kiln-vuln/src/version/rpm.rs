//! RPM version ordering: `[epoch:]version[-release]`, each part compared with `rpmvercmp`'s segment rules
//! (written here: a dozen lines of well-specified logic that the `rpm` crates bundle with much more).
//!
//! `rpmvercmp` splits a string into runs of digits and runs of letters, skipping other characters; digit
//! runs compare numerically and beat letter runs; letter runs compare as strings; `~` sorts before
//! anything (even the end: `1.0~rc1 < 1.0`), `^` after the end but before anything else
//! (`1.0 < 1.0^git1 < 1.0.1`); when one side runs out, the other is greater.

use std::cmp::Ordering;

/// A parsed RPM EVR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpmVersion {
    epoch: u64,
    version: String,
    release: Option<String>,
}

impl RpmVersion {
    /// Parses `[epoch:]version[-release]`.
    pub fn parse(text: &str) -> Result<RpmVersion, String> {
        let t = text.trim();
        let (epoch, rest) = match t.split_once(':') {
            Some((e, rest)) if e.bytes().all(|c| c.is_ascii_digit()) && !e.is_empty() => {
                (e.parse().map_err(|_| format!("epoch {e:?} is too large"))?, rest)
            }
            Some(_) => return Err("the epoch is not a number".into()),
            None => (0, t),
        };
        let (version, release) = match rest.rsplit_once('-') {
            Some((v, r)) => (v.to_owned(), Some(r.to_owned())),
            None => (rest.to_owned(), None),
        };
        if version.is_empty() {
            return Err("empty version".into());
        }
        Ok(RpmVersion { epoch, version, release })
    }
}

/// `rpmvercmp`.
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    let skip = |s: &mut &[u8]| {
        while let Some(&c) = s.first() {
            if c.is_ascii_alphanumeric() || c == b'~' || c == b'^' {
                break;
            }
            *s = &s[1..];
        }
    };
    loop {
        skip(&mut a);
        skip(&mut b);
        if a.first() == Some(&b'~') || b.first() == Some(&b'~') {
            if a.first() != Some(&b'~') {
                return Ordering::Greater;
            }
            if b.first() != Some(&b'~') {
                return Ordering::Less;
            }
            a = &a[1..];
            b = &b[1..];
            continue;
        }
        if a.first() == Some(&b'^') || b.first() == Some(&b'^') {
            if a.is_empty() {
                return Ordering::Less;
            }
            if b.is_empty() {
                return Ordering::Greater;
            }
            if a.first() != Some(&b'^') {
                return Ordering::Greater;
            }
            if b.first() != Some(&b'^') {
                return Ordering::Less;
            }
            a = &a[1..];
            b = &b[1..];
            continue;
        }
        if a.is_empty() || b.is_empty() {
            break;
        }
        let numeric = a[0].is_ascii_digit();
        let run = |s: &[u8]| {
            s.iter()
                .position(|c| if numeric { !c.is_ascii_digit() } else { !c.is_ascii_alphabetic() })
                .unwrap_or(s.len())
        };
        let (na, nb) = (run(a), run(b));
        let (sa, sb) = (&a[..na], &b[..nb]);
        if sb.is_empty() {
            return if numeric { Ordering::Greater } else { Ordering::Less };
        }
        let o = if numeric {
            let strip = |s: &[u8]| {
                let z = s.iter().position(|&c| c != b'0').unwrap_or(s.len());
                s[z..].to_vec()
            };
            let (x, y) = (strip(sa), strip(sb));
            x.len().cmp(&y.len()).then_with(|| x.cmp(&y))
        } else {
            sa.cmp(sb)
        };
        if o != Ordering::Equal {
            return o;
        }
        a = &a[na..];
        b = &b[nb..];
    }
    match (a.is_empty(), b.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

impl Ord for RpmVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch.cmp(&other.epoch).then_with(|| rpmvercmp(&self.version, &other.version)).then_with(|| {
            // A missing release sorts before every release, which keeps the order total (rpm's
            // dependency matching treats it as a wildcard instead, which is not an order).
            rpmvercmp(self.release.as_deref().unwrap_or(""), other.release.as_deref().unwrap_or(""))
        })
    }
}

impl PartialOrd for RpmVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpmvercmp_vectors() {
        // From rpm's own test suite (tests/rpmvercmp.at), as (a, b, expected).
        let cases = [
            ("1.0", "1.0", 0),
            ("1.0", "2.0", -1),
            ("2.0.1", "2.0.1", 0),
            ("2.0", "2.0.1", -1),
            ("2.0.1a", "2.0.1", 1),
            ("5.5p1", "5.5p2", -1),
            ("5.5p10", "5.5p1", 1),
            ("10xyz", "10.1xyz", -1),
            ("xyz10", "xyz10.1", -1),
            ("xyz.4", "8", -1),
            ("5.5p1", "5.6p1", -1),
            ("1.0~rc1", "1.0", -1),
            ("1.0~rc1", "1.0~rc2", -1),
            ("1.0~rc1~git123", "1.0~rc1", -1),
            ("1.0^", "1.0", 1),
            ("1.0^git1", "1.01", -1),
            ("1.0^20160101", "1.0.1", -1),
            ("1.0^20160101^git1", "1.0^20160101", 1),
            ("1.0~rc1^git1", "1.0~rc1", 1),
            ("1.0^git1~pre", "1.0^git1", -1),
            ("20101121", "20101121.0", -1),
            ("1.0a", "1.0aa", -1),
        ];
        for (a, b, want) in cases {
            let got = match rpmvercmp(a, b) {
                Ordering::Less => -1,
                Ordering::Equal => 0,
                Ordering::Greater => 1,
            };
            assert_eq!(got, want, "rpmvercmp({a:?}, {b:?})");
        }
    }

    #[test]
    fn epoch_and_release() {
        let v = |s: &str| RpmVersion::parse(s).unwrap();
        assert!(v("1:1.0-1") > v("2.0-1"));
        assert!(v("1.0-2.el9") > v("1.0-1.el9"));
    }
}
