//! Finding credentials in bytes: the [`Scanner`] runs every [`rules::SecretRule`] over a file's content
//! or a config string and returns [`SecretMatch`]es that carry only a **redacted** form of the secret (its
//! first characters, or a key's header line) and a fingerprint, never the secret itself.
//!
//! Speed comes from a keyword prefilter: one Aho-Corasick pass over the content finds which rules'
//! keywords occur; only those rules' regexes run, and only on files that have a keyword. Content that
//! looks binary (a NUL byte in its first 8 KiB) is skipped, as are files over [`MAX_FILE_BYTES`]; both are
//! counted in the report, so a user can see what was not read.

pub mod rules;

use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::bytes::Regex;
use sha2::{Digest as _, Sha256};

use crate::Level;
use rules::{RULES, Scope, SecretRule};

/// Files larger than this are not scanned for secrets (credentials live in small files; large ones are
/// data, archives and databases).
pub const MAX_FILE_BYTES: u64 = 8 << 20;
/// How much of a file is inspected to decide it is binary.
pub const BINARY_SNIFF_BYTES: usize = 8 << 10;
/// The longest snippet of the surrounding line kept in a finding.
const SNIPPET_CHARS: usize = 120;

/// One secret found, redacted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SecretMatch {
    /// The rule's ID.
    pub rule: &'static str,
    /// The rule's title.
    pub title: &'static str,
    /// The rule's level.
    pub level: Level,
    /// The secret with all but its first characters masked (a key: its header line).
    pub redacted: String,
    /// The first 16 hex digits of the secret's SHA-256, to recognize (and ignore) one secret across
    /// images without printing it.
    pub fingerprint: String,
    /// 1-based line of the match, for files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// The line with the secret replaced by its redacted form, shortened and with control characters
    /// escaped.
    pub snippet: String,
}

struct Compiled {
    rule: &'static SecretRule,
    regex: Regex,
    requires: Option<Regex>,
}

/// The compiled rule set.
pub struct Scanner {
    prefilter: AhoCorasick,
    /// For each prefilter pattern, the rules it unlocks.
    keyword_rules: Vec<Vec<usize>>,
    rules: Vec<Compiled>,
}

impl std::fmt::Debug for Scanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scanner").field("rules", &self.rules.len()).finish()
    }
}

impl Scanner {
    /// The scanner over [`RULES`], compiled once per process.
    pub fn get() -> &'static Scanner {
        static SCANNER: OnceLock<Scanner> = OnceLock::new();
        SCANNER.get_or_init(Scanner::build)
    }

    fn build() -> Scanner {
        let mut keywords = Vec::new();
        let mut keyword_rules: Vec<Vec<usize>> = Vec::new();
        let mut rules = Vec::new();
        for (i, rule) in RULES.iter().enumerate() {
            // The rule table is a constant checked by the unit tests, so its patterns compile.
            let regex = Regex::new(rule.pattern).unwrap_or_else(|e| unreachable!("rule {}: {e}", rule.id));
            let requires = rule
                .requires
                .map(|r| Regex::new(r).unwrap_or_else(|e| unreachable!("rule {}: {e}", rule.id)));
            rules.push(Compiled { rule, regex, requires });
            for k in rule.keywords {
                let lower = k.to_ascii_lowercase();
                match keywords.iter().position(|x| *x == lower) {
                    Some(p) => keyword_rules[p].push(i),
                    None => {
                        keywords.push(lower);
                        keyword_rules.push(vec![i]);
                    }
                }
            }
        }
        let prefilter = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(&keywords)
            .unwrap_or_else(|e| unreachable!("keywords: {e}"));
        Scanner { prefilter, keyword_rules, rules }
    }

    /// Scans a file's content. `path` decides which path-scoped rules apply.
    pub fn scan_file(&self, path: &str, content: &[u8]) -> Vec<SecretMatch> {
        let assignments = is_env_file(path);
        let found = self.scan(content, |scope| match scope {
            Scope::Anywhere => true,
            Scope::Assignments => assignments,
            Scope::PathSuffix(suffixes) => suffixes.iter().any(|s| path.ends_with(s)),
        });
        found.into_iter().map(|(m, _)| m).collect()
    }

    /// Scans a string from the image config or history: `NAME=value` assignments count (as in `.env`).
    pub fn scan_assignment_text(&self, text: &str) -> Vec<SecretMatch> {
        self.scan_text_spans(text).into_iter().map(|(m, _)| m).collect()
    }

    /// `text` with every secret [`Scanner::scan_assignment_text`] finds replaced by its redacted form.
    pub fn scrub(&self, text: &str) -> String {
        let mut spans: Vec<(std::ops::Range<usize>, String)> =
            self.scan_text_spans(text).into_iter().map(|(m, r)| (r, m.redacted)).collect();
        spans.sort_by_key(|(r, _)| (r.start, std::cmp::Reverse(r.end)));
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for (r, redacted) in spans {
            if r.start < at {
                continue;
            }
            out.push_str(&text[at..r.start]);
            out.push_str(&redacted);
            at = r.end;
        }
        out.push_str(&text[at..]);
        out
    }

    fn scan_text_spans(&self, text: &str) -> Vec<(SecretMatch, std::ops::Range<usize>)> {
        self.scan(text.as_bytes(), |scope| !matches!(scope, Scope::PathSuffix(_)))
            .into_iter()
            // Spans of a str's bytes end on char boundaries except for lossy matches; keep the valid ones.
            .filter(|(_, r)| text.is_char_boundary(r.start) && text.is_char_boundary(r.end))
            .collect()
    }

    fn scan(
        &self,
        content: &[u8],
        applies: impl Fn(Scope) -> bool,
    ) -> Vec<(SecretMatch, std::ops::Range<usize>)> {
        let mut candidates = vec![false; self.rules.len()];
        let mut any = false;
        for m in self.prefilter.find_overlapping_iter(content) {
            for &r in &self.keyword_rules[m.pattern().as_usize()] {
                candidates[r] = true;
                any = true;
            }
        }
        if !any {
            return Vec::new();
        }
        let mut out = Vec::new();
        for (compiled, _) in self.rules.iter().zip(&candidates).filter(|(_, c)| **c) {
            let rule = compiled.rule;
            if !applies(rule.scope) {
                continue;
            }
            if let Some(req) = &compiled.requires
                && !req.is_match(content)
            {
                continue;
            }
            for caps in compiled.regex.captures_iter(content) {
                let Some(m) = caps.get(rule.group).or_else(|| caps.iter().skip(1).flatten().next()) else {
                    continue;
                };
                let secret = String::from_utf8_lossy(m.as_bytes());
                if rule.scope == Scope::Assignments && !rules::nontrivial_value(&secret) {
                    continue;
                }
                out.push((secret_match(rule, content, m.start(), m.end(), &secret), m.range()));
            }
        }
        // One secret, one finding: a generic assignment match that overlaps a specific rule's is dropped.
        let specific: Vec<std::ops::Range<usize>> = out
            .iter()
            .filter(|(m, _)| rule_scope(m.rule) != Some(Scope::Assignments))
            .map(|(_, r)| r.clone())
            .collect();
        out.retain(|(m, r)| {
            rule_scope(m.rule) != Some(Scope::Assignments)
                || !specific.iter().any(|s| s.start < r.end && r.start < s.end)
        });
        out
    }
}

fn rule_scope(id: &str) -> Option<Scope> {
    RULES.iter().find(|r| r.id == id).map(|r| r.scope)
}

/// `.env`, `.env.production`, `prod.env`, `app/.envrc`.
fn is_env_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name == ".env" || name.starts_with(".env.") || name == ".envrc" || name.ends_with(".env")
}

/// True when `head` (a file's first bytes) looks binary.
pub fn looks_binary(head: &[u8]) -> bool {
    head[..head.len().min(BINARY_SNIFF_BYTES)].contains(&0)
}

/// The secret with everything but a short prefix masked; a PEM block shows its header line only.
pub fn redact(secret: &str) -> String {
    if secret.starts_with("-----BEGIN") {
        let header_end = secret[5..].find("-----").map_or(secret.len(), |i| i + 10);
        return format!("{}…[redacted]", &secret[..header_end.min(secret.len())]);
    }
    let chars: Vec<char> = secret.chars().collect();
    let keep = (chars.len() / 4).min(4);
    format!("{}{}", chars[..keep].iter().collect::<String>(), "*".repeat(8))
}

/// The first 16 hex digits of the SHA-256 of `secret`.
pub fn fingerprint(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

fn secret_match(
    rule: &'static SecretRule,
    content: &[u8],
    start: usize,
    end: usize,
    secret: &str,
) -> SecretMatch {
    let redacted = redact(secret);
    let line_start = content[..start].iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let line_end = content[end..].iter().position(|&b| b == b'\n').map_or(content.len(), |i| end + i);
    let line_no = content[..start].iter().filter(|&&b| b == b'\n').count() + 1;
    let before = String::from_utf8_lossy(&content[line_start..start]);
    let after_end = line_end.max(end);
    let after = if secret.starts_with("-----BEGIN") {
        String::new()
    } else {
        String::from_utf8_lossy(&content[end..after_end]).into_owned()
    };
    let snippet = shorten(&format!("{before}{redacted}{after}"), before.chars().count());
    SecretMatch {
        rule: rule.id,
        title: rule.title,
        level: rule.level,
        redacted,
        fingerprint: fingerprint(secret),
        line: Some(line_no),
        snippet,
    }
}

/// Keeps at most [`SNIPPET_CHARS`] characters around position `focus`, escaping control characters.
fn shorten(line: &str, focus: usize) -> String {
    let chars: Vec<char> = line.chars().collect();
    let start = focus.saturating_sub(SNIPPET_CHARS / 3);
    let end = (start + SNIPPET_CHARS).min(chars.len());
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    for c in &chars[start..end] {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(*c);
        }
    }
    if end < chars.len() {
        out.push('…');
    }
    out.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(matches: &[SecretMatch]) -> Vec<&'static str> {
        matches.iter().map(|m| m.rule).collect()
    }

    #[test]
    fn every_rule_compiles_and_has_keywords() {
        let s = Scanner::get();
        assert_eq!(s.rules.len(), RULES.len());
        assert!(RULES.iter().all(|r| !r.keywords.is_empty()));
    }

    #[test]
    fn tokens_are_found_and_redacted() {
        let s = Scanner::get();
        // Fake tokens in the documented formats (AWS's documented example key ID included).
        let text = "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n\
                    aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n\
                    GITHUB=ghp_0123456789abcdefghijABCDEFGHIJ012345\n\
                    gl: glpat-abcdefghij0123456789\n\
                    slack xoxb-123456789012-abcdefghijklmnop\n\
                    stripe sk_live_abcdefghijklmnopqrstuvwx\n\
                    npm npm_abcdefghijklmnopqrstuvwxyz0123456789\n\
                    google AIzaSyA-abcdefghijklmnopqrstuvwxyz01234\n";
        let found = s.scan_file("/app/config.ini", text.as_bytes());
        assert_eq!(
            ids(&found),
            [
                "aws-access-key-id",
                "aws-secret-access-key",
                "gcp-api-key",
                "github-token",
                "gitlab-token",
                "slack-token",
                "stripe-key",
                "npm-token"
            ]
        );
        for m in &found {
            assert!(m.redacted.ends_with("********"), "{m:?}");
            assert!(
                !m.snippet.contains("EXAMPLEKEY") && !m.snippet.contains("0123456789abcdefghij"),
                "{m:?}"
            );
        }
        assert_eq!(found[0].line, Some(1));
        assert_eq!(found[0].redacted, "AKIA********");
        assert_eq!(found[0].snippet, "aws_access_key_id = AKIA********");
    }

    #[test]
    fn env_assignments_need_an_env_file_and_a_real_value() {
        let s = Scanner::get();
        let text = b"DB_PASSWORD=s3cr3t-Pa55word\nAPI_TOKEN=changeme\nSECRET_KEY=${SECRET_KEY}\nPASSWORD_FILE=/run/secrets/db\n";
        let found = s.scan_file("/srv/app/.env", text);
        assert_eq!(ids(&found), ["env-secret"]);
        assert_eq!(found[0].redacted, "s3c********");
        assert!(s.scan_file("/srv/app/run.sh", text).is_empty());
        assert_eq!(ids(&s.scan_assignment_text("MYSQL_ROOT_PASSWORD=hunter2hunter2")), ["env-secret"]);
    }

    #[test]
    fn structured_secrets() {
        let s = Scanner::get();
        let key_body = "MIIEowIBAAKCAQEA7bq3hYvWc0Jm3Qz0gk8Yd9zTtXbqV8dG5Q0mJ3r1TqKJmZ8bXq5h\n".repeat(3);
        let pem = format!("-----BEGIN RSA PRIVATE KEY-----\n{key_body}-----END RSA PRIVATE KEY-----\n");
        let found = s.scan_file("/root/.ssh/id_rsa", pem.as_bytes());
        assert_eq!(ids(&found), ["private-key"]);
        assert_eq!(found[0].redacted, "-----BEGIN RSA PRIVATE KEY-----…[redacted]");
        // A header alone (documentation) is not a key.
        assert!(s.scan_file("/usr/share/doc/x", b"-----BEGIN PRIVATE KEY-----\n...\n").is_empty());

        let sa = format!(
            "{{\"type\": \"service_account\", \"project_id\": \"p\", \"private_key_id\": \"abc\", \"private_key\": \"{}\"}}",
            pem.replace('\n', "\\n")
        );
        assert!(ids(&s.scan_file("/app/sa.json", sa.as_bytes())).contains(&"gcp-service-account"));

        let docker = br#"{"auths": {"registry.example.com": {"auth": "dXNlcjpodW50ZXIy"}}}"#;
        assert_eq!(ids(&s.scan_file("/root/.docker/config.json", docker)), ["docker-config-auth"]);
        assert!(s.scan_file("/app/config.json", docker).is_empty());

        let kube = b"apiVersion: v1\nkind: Config\nusers:\n- name: admin\n  user:\n    token: eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.abc\n";
        assert_eq!(ids(&s.scan_file("/root/.kube/config", kube)), ["kubeconfig"]);

        let azure = format!(
            "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={}==;EndpointSuffix=core.windows.net",
            "a".repeat(86)
        );
        assert_eq!(ids(&s.scan_file("/app/appsettings.json", azure.as_bytes())), ["azure-storage-key"]);
    }

    #[test]
    fn binaries_and_fingerprints() {
        assert!(looks_binary(b"\x7fELF\x02\x01\x01\x00"));
        assert!(!looks_binary(b"#!/bin/sh\necho hi\n"));
        assert_eq!(fingerprint("x"), fingerprint("x"));
        assert_ne!(fingerprint("x"), fingerprint("y"));
        assert_eq!(fingerprint("x").len(), 16);
    }
}
