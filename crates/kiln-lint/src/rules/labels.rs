//! hadolint's label rules: key syntax (DL3048) and the configured `label-schema` (DL3049–DL3058), with
//! value validators for URLs, RFC 3339 times, SPDX identifiers, git hashes, semantic versions and e-mail
//! addresses.

use std::collections::BTreeSet;

use super::Cx;
use super::hadolint::hadolint_pairs;
use crate::config::LabelType;
use crate::model::{Inst, Kw};

pub(super) fn dl3048<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    for i in s.iter().filter(|i| i.kw == Kw::Label) {
        let bad = hadolint_pairs(i, cx.m.escape).iter().any(|(k, _)| !valid_key(k));
        if bad {
            cx.hit("DL3048", i);
        }
    }
}

/// hadolint's label key rule: starts with `a-z`, ends with `a-z0-9`, only `a-z0-9.-_/`, no reserved
/// namespace, no repeated separators.
fn valid_key(k: &str) -> bool {
    let first_ok = k.starts_with(|c: char| c.is_ascii_lowercase());
    let last_ok = k.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit());
    let chars_ok = k.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-_/".contains(c));
    let reserved = ["com.docker.", "io.docker.", "org.dockerproject."].iter().any(|p| k.starts_with(p));
    first_ok && last_ok && chars_ok && !reserved && !k.contains("..") && !k.contains("--")
}

pub(super) fn dl3049<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    let labels: Vec<String> = cx.cfg.label_schema.keys().cloned().collect();
    for label in labels {
        missing_label(cx, s, &label);
    }
}

/// One label's DL3049: stages (by FROM) that never set it, unless another stage builds on them with it
/// set or they are only copied from.
fn missing_label<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>], label: &str) {
    struct St {
        image: String,
        alias: Option<String>,
        inst: usize,
    }
    let mut stages: Vec<St> = Vec::new();
    let mut good: BTreeSet<usize> = BTreeSet::new();
    let mut bad: BTreeSet<usize> = BTreeSet::new();
    let mut silent: BTreeSet<usize> = BTreeSet::new();
    let silence = |stages: &Vec<St>, bad: &mut BTreeSet<usize>, silent: &mut BTreeSet<usize>, name: &str| {
        let hit: Vec<usize> =
            bad.iter().copied().filter(|&n| stages[n].alias.as_deref() == Some(name)).collect();
        for n in hit {
            bad.remove(&n);
            silent.insert(n);
        }
    };
    for (n, i) in s.iter().enumerate() {
        match i.kw {
            Kw::From => {
                let Some(st) = i.stage.and_then(|x| cx.m.stages.get(x)) else { continue };
                let id = stages.len();
                let inherits =
                    good.iter().any(|&g| stages[g].alias.as_deref() == Some(st.image.name.as_str()));
                stages.push(St { image: st.image.name.clone(), alias: st.alias.clone(), inst: n });
                if inherits {
                    good.insert(id);
                } else {
                    bad.insert(id);
                }
            }
            Kw::Copy => {
                if let Some((_, v)) = i.copy_from() {
                    silence(&stages, &mut bad, &mut silent, v);
                }
            }
            Kw::Label => {
                let Some(cur) = stages.len().checked_sub(1) else { continue };
                if hadolint_pairs(i, cx.m.escape).iter().any(|(k, _)| k == label) {
                    let name = stages[cur].alias.clone().unwrap_or_else(|| stages[cur].image.clone());
                    silence(&stages, &mut bad, &mut silent, &name);
                    good.insert(cur);
                    silent.remove(&cur);
                    bad.remove(&cur);
                }
            }
            _ => {}
        }
    }
    for n in bad {
        cx.hit("DL3049", s[stages[n].inst]).msg(format!("Label `{label}` is missing."));
    }
}

pub(super) fn dl3050<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    if !cx.cfg.strict_labels {
        return;
    }
    for i in s.iter().filter(|i| i.kw == Kw::Label) {
        if hadolint_pairs(i, cx.m.escape).iter().any(|(k, _)| !cx.cfg.label_schema.contains_key(k)) {
            cx.hit("DL3050", i);
        }
    }
}

pub(super) fn dl3051_to_dl3058<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    let schema: Vec<(String, LabelType)> = cx.cfg.label_schema.iter().map(|(k, v)| (k.clone(), *v)).collect();
    for i in s.iter().filter(|i| i.kw == Kw::Label) {
        let pairs = hadolint_pairs(i, cx.m.escape);
        for (label, ty) in &schema {
            let values: Vec<&str> =
                pairs.iter().filter(|(k, _)| k == label).map(|(_, v)| v.as_str()).collect();
            if values.iter().any(|v| v.is_empty()) {
                cx.hit("DL3051", i).msg(format!("label `{label}` is empty."));
            }
            let (rule, ok, what): (&'static str, fn(&str) -> bool, &str) = match ty {
                LabelType::Text => continue,
                LabelType::Url => ("DL3052", is_url, "is not a valid URL."),
                LabelType::Rfc3339 => {
                    ("DL3053", is_rfc3339, "is not a valid time format - must conform to RFC3339.")
                }
                LabelType::Spdx => ("DL3054", is_spdx, "is not a valid SPDX identifier."),
                LabelType::Hash => ("DL3055", is_git_hash, "is not a valid git hash."),
                LabelType::Semver => ("DL3056", is_semver, "does not conform to semantic versioning."),
                LabelType::Email => {
                    ("DL3058", is_email, "is not a valid email format - must conform to RFC5322.")
                }
            };
            if values.iter().any(|v| !ok(v)) {
                cx.hit(rule, i).msg(format!("Label `{label}` {what}"));
            }
        }
    }
}

/// An absolute URI (`scheme:rest`) with only URI characters (RFC 3986), as `Network.URI.parseURI`.
pub(crate) fn is_url(v: &str) -> bool {
    let Some((scheme, rest)) = v.split_once(':') else { return false };
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    let b = rest.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'%' {
            if !(b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
            {
                return false;
            }
            i += 3;
            continue;
        }
        if !(c.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=".contains(&c)) {
            return false;
        }
        i += 1;
    }
    scheme_ok
}

pub(crate) fn is_rfc3339(v: &str) -> bool {
    time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339).is_ok()
}

/// A single SPDX license identifier (no expressions, no `+`), as Cabal's `LicenseId` parser.
pub(crate) fn is_spdx(v: &str) -> bool {
    !v.contains('+') && spdx::license_id(v).is_some()
}

pub(crate) fn is_git_hash(v: &str) -> bool {
    (v.len() == 7 || v.len() == 40) && v.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

pub(crate) fn is_semver(v: &str) -> bool {
    semver::Version::parse(v).is_ok()
}

/// An RFC 5322 `addr-spec`: a dot-atom or quoted local part, `@`, a dot-atom domain or a domain literal.
pub(crate) fn is_email(v: &str) -> bool {
    let Some(at) = v.rfind('@') else { return false };
    let (local, domain) = (&v[..at], &v[at + 1..]);
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
    let dot_atom = |s: &str| !s.is_empty() && s.split('.').all(|p| !p.is_empty() && p.chars().all(atext));
    let local_ok = dot_atom(local)
        || (local.len() >= 2
            && local.starts_with('"')
            && local.ends_with('"')
            && !local[1..local.len() - 1].contains('"'));
    let domain_ok =
        dot_atom(domain) || (domain.starts_with('[') && domain.ends_with(']') && domain.len() > 2);
    local_ok && domain_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validators() {
        assert!(valid_key("org.opencontainers.image.source"));
        assert!(
            !valid_key("Org.example") && !valid_key("com.docker.x") && !valid_key("a..b") && !valid_key("a-")
        );
        assert!(is_url("https://example.com/x?y=1") && !is_url("example.com") && !is_url("http://a b"));
        assert!(is_rfc3339("2024-01-02T03:04:05Z") && !is_rfc3339("2024-01-02"));
        assert!(is_spdx("MIT") && is_spdx("Apache-2.0") && !is_spdx("MIT OR Apache-2.0") && !is_spdx("mit"));
        assert!(is_git_hash("abcdef0") && !is_git_hash("ABCDEF0") && !is_git_hash("abc"));
        assert!(is_semver("1.2.3-rc.1") && !is_semver("v1.2.3") && !is_semver("1.2"));
        assert!(is_email("a.b@example.com") && !is_email("a@") && !is_email("no-at"));
    }
}
