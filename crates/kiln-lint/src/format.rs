//! Report formats ([`Format`]): `tty` (hadolint's line plus the source line and a caret under the span,
//! colored unless disabled), `json` (hadolint's `-f json` shape), `sarif` (SARIF 2.1.0 with rules and
//! fixes), `checkstyle`, `gnu` and `codeclimate` (GitLab Code Quality).

use std::fmt::Write as _;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::Report;
use crate::finding::Finding;
use crate::rule::{Level, RULES, Rule};

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Human-readable, with source excerpts.
    Tty,
    /// hadolint's JSON: `[{file, line, column, level, code, message}]`.
    Json,
    /// SARIF 2.1.0 (code-scanning uploads).
    Sarif,
    /// Checkstyle XML.
    Checkstyle,
    /// `kiln:file:line:column: CODE level: message` lines.
    Gnu,
    /// GitLab Code Quality (Code Climate) JSON.
    Codeclimate,
}

impl Format {
    /// Every format with its name.
    pub const ALL: &'static [(&'static str, Format)] = &[
        ("tty", Format::Tty),
        ("json", Format::Json),
        ("sarif", Format::Sarif),
        ("checkstyle", Format::Checkstyle),
        ("gnu", Format::Gnu),
        ("codeclimate", Format::Codeclimate),
        ("gitlab_codeclimate", Format::Codeclimate),
    ];

    /// Parses a format name (hadolint's names included).
    pub fn parse(s: &str) -> Option<Format> {
        Format::ALL.iter().find(|(n, _)| *n == s).map(|(_, f)| *f)
    }
}

/// Options of the `tty` format.
#[derive(Debug, Clone, Copy, Default)]
pub struct TtyOptions {
    /// Use ANSI colors.
    pub color: bool,
}

/// Renders `reports` in `format`.
pub fn render(format: Format, reports: &[Report], tty: TtyOptions) -> String {
    match format {
        Format::Tty => render_tty(reports, tty),
        Format::Json => render_json(reports),
        Format::Sarif => render_sarif(reports),
        Format::Checkstyle => render_checkstyle(reports),
        Format::Gnu => render_gnu(reports),
        Format::Codeclimate => render_codeclimate(reports),
    }
}

fn paint(s: &str, code: &str, on: bool) -> String {
    if on { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_owned() }
}

fn level_color(l: Level) -> &'static str {
    match l {
        Level::Error => "1;31",
        Level::Warning => "1;33",
        Level::Info => "32",
        Level::Style => "36",
        Level::Ignore => "0",
    }
}

/// Replaces control characters (from hostile Dockerfiles) before printing to a terminal.
fn sanitize(s: &str) -> String {
    s.chars().map(|c| if c.is_control() && c != '\t' { '\u{FFFD}' } else { c }).collect()
}

fn render_tty(reports: &[Report], o: TtyOptions) -> String {
    let mut out = String::new();
    for r in reports {
        for f in &r.findings {
            let _ = writeln!(
                out,
                "{}:{} {} {}: {}",
                sanitize(&r.file),
                f.line,
                paint(f.rule, "1", o.color),
                paint(f.level.as_str(), level_color(f.level), o.color),
                sanitize(&f.message)
            );
            out.push_str(&excerpt(&r.source, f, o));
            if let Some(fix) = f.fix.as_ref().and(f.rule_data()).and_then(|d| d.fix) {
                let _ = writeln!(out, "   = fix: {fix} (kiln lint --fix)");
            }
        }
    }
    out
}

/// The source line of `f`'s span with a caret line under it.
fn excerpt(source: &str, f: &Finding, o: TtyOptions) -> String {
    let (line_no, col) = f.span_start;
    if line_no == 0 || f.span.start > source.len() {
        return String::new();
    }
    let line_start = source[..f.span.start].rfind('\n').map_or(0, |n| n + 1);
    let line_end = source[f.span.start..].find('\n').map_or(source.len(), |n| f.span.start + n);
    let text = source[line_start..line_end].trim_end_matches('\r');
    let width = line_no.to_string().len();
    let end = f.span.end.clamp(f.span.start, line_start + text.len());
    let len = source[f.span.start..end].chars().count().max(1);
    let pad: String = text
        .chars()
        .take(col.saturating_sub(1) as usize)
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    let gutter = paint("|", "34", o.color);
    format!(
        "{:w$} {gutter}\n{} {gutter} {}\n{:w$} {gutter} {pad}{}\n",
        "",
        paint(&line_no.to_string(), "34", o.color),
        sanitize(text),
        "",
        paint(&"^".repeat(len), level_color(f.level), o.color),
        w = width
    )
}

fn render_json(reports: &[Report]) -> String {
    let items: Vec<Value> = reports
        .iter()
        .flat_map(|r| {
            r.findings.iter().map(move |f| {
                json!({
                    "file": r.file,
                    "line": f.line,
                    "column": f.column,
                    "level": f.level.as_str(),
                    "code": f.rule,
                    "message": f.message,
                })
            })
        })
        .collect();
    let mut s = serde_json::to_string(&Value::Array(items)).unwrap_or_else(|_| "[]".to_owned());
    s.push('\n');
    s
}

fn render_gnu(reports: &[Report]) -> String {
    let mut out = String::new();
    for r in reports {
        for f in &r.findings {
            let _ = writeln!(
                out,
                "kiln:{}:{}:{}: {} {}: {}",
                r.file, f.line, f.column, f.rule, f.level, f.message
            );
        }
    }
    out
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

fn render_checkstyle(reports: &[Report]) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<checkstyle version=\"4.3\">\n");
    for r in reports {
        let _ = writeln!(out, "  <file name=\"{}\">", xml_escape(&r.file));
        for f in &r.findings {
            let _ = writeln!(
                out,
                "    <error line=\"{}\" column=\"{}\" severity=\"{}\" message=\"{}\" source=\"{}\"/>",
                f.line,
                f.column,
                f.level,
                xml_escape(&f.message),
                f.rule
            );
        }
        out.push_str("  </file>\n");
    }
    out.push_str("</checkstyle>\n");
    out
}

fn render_codeclimate(reports: &[Report]) -> String {
    let items: Vec<Value> = reports
        .iter()
        .flat_map(|r| {
            r.findings.iter().map(move |f| {
                let severity = match f.level {
                    Level::Error => "blocker",
                    Level::Warning => "major",
                    Level::Info => "info",
                    Level::Style | Level::Ignore => "minor",
                };
                let mut h = Sha256::new();
                h.update(format!("{}\0{}\0{}\0{}", r.file, f.line, f.rule, f.message));
                json!({
                    "type": "issue",
                    "check_name": f.rule,
                    "description": f.message,
                    "categories": ["Bug Risk"],
                    "severity": severity,
                    "fingerprint": hex::encode(h.finalize()),
                    "location": {"path": r.file, "lines": {"begin": f.line, "end": f.line}},
                })
            })
        })
        .collect();
    let mut s = serde_json::to_string_pretty(&Value::Array(items)).unwrap_or_else(|_| "[]".to_owned());
    s.push('\n');
    s
}

fn sarif_level(l: Level) -> &'static str {
    match l {
        Level::Error => "error",
        Level::Warning => "warning",
        Level::Info | Level::Style => "note",
        Level::Ignore => "none",
    }
}

fn sarif_rule(r: &Rule) -> Value {
    let mut v = json!({
        "id": r.id,
        "shortDescription": {"text": r.title},
        "fullDescription": {"text": r.description},
        "defaultConfiguration": {"level": sarif_level(r.level), "enabled": r.level != Level::Ignore && !r.experimental},
        "properties": {"origin": r.origin.as_str()},
    });
    if let Some(u) = r.url {
        v["helpUri"] = json!(u);
    }
    v["help"] = json!({"text": crate::docs::rule_text(r), "markdown": crate::docs::rule_markdown(r)});
    v
}

fn render_sarif(reports: &[Report]) -> String {
    let mut used: Vec<&'static Rule> = Vec::new();
    for r in reports {
        for f in &r.findings {
            if let Some(d) = f.rule_data()
                && !used.iter().any(|u| u.id == d.id)
            {
                used.push(d);
            }
        }
    }
    used.sort_by_key(|r| RULES.iter().position(|x| x.id == r.id));
    let mut results = Vec::new();
    let mut artifacts = Vec::new();
    for (ai, r) in reports.iter().enumerate() {
        artifacts.push(json!({"location": {"uri": r.file}}));
        for f in &r.findings {
            let idx = used.iter().position(|u| u.id == f.rule);
            let (sl, sc) = f.span_start;
            let end_col = sc as usize
                + r.source
                    .get(f.span.clone())
                    .map_or(0, |t| t.split('\n').next().unwrap_or("").chars().count());
            let mut res = json!({
                "ruleId": f.rule,
                "level": sarif_level(f.level),
                "message": {"text": f.message},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": r.file, "index": ai},
                        "region": {"startLine": sl.max(1), "startColumn": sc.max(1), "endLine": sl.max(1), "endColumn": end_col.max(sc as usize).max(1)},
                    }
                }],
            });
            if let Some(i) = idx {
                res["ruleIndex"] = json!(i);
            }
            if let Some(fix) = &f.fix {
                let desc = f.rule_data().and_then(|d| d.fix).unwrap_or("apply the safe fix");
                let replacements: Vec<Value> = fix
                    .edits
                    .iter()
                    .map(|e| {
                        json!({
                            "deletedRegion": {"byteOffset": e.range.start, "byteLength": e.range.len()},
                            "insertedContent": {"text": e.text},
                        })
                    })
                    .collect();
                res["fixes"] = json!([{
                    "description": {"text": desc},
                    "artifactChanges": [{"artifactLocation": {"uri": r.file, "index": ai}, "replacements": replacements}],
                }]);
            }
            results.push(res);
        }
    }
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "kiln",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": used.iter().map(|r| sarif_rule(r)).collect::<Vec<_>>(),
            }},
            "columnKind": "unicodeCodePoints",
            "artifacts": artifacts,
            "results": results,
        }],
    });
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}
