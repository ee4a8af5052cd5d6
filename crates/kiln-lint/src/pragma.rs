//! In-file controls: hadolint's ignore pragmas (`# hadolint ignore=…`, `# hadolint global ignore=…`,
//! `# hadolint stage ignore=…`, and the same with `# kiln`) and BuildKit's `# check=` directive
//! (`skip=…;error=true;experimental=…`, at the top of the file or in the comments right above an
//! instruction).

use std::collections::{BTreeMap, BTreeSet};

use crate::model::Model;

/// Where each ignore pragma applies.
#[derive(Debug, Default)]
pub(crate) struct Pragmas {
    /// Rules ignored on a line (the line after the pragma).
    lines: BTreeMap<u32, BTreeSet<String>>,
    /// Rules ignored from a line on, until the next stage (keys are pragma line + 1 and FROM lines).
    stages: BTreeMap<u32, BTreeSet<String>>,
    /// Rules ignored in the whole file.
    global: BTreeSet<String>,
    /// Lines of `ignore=` pragmas (DL1001 reports them).
    pub(crate) inline_lines: Vec<usize>,
}

#[derive(Debug, PartialEq, Eq)]
enum Scope {
    Line,
    Stage,
    Global,
}

/// Parses `hadolint [global|stage] ignore=A,B # reason` (or `kiln …`) from a comment's text.
fn parse_ignore(comment: &str) -> Option<(Scope, Vec<String>)> {
    let blank = |c: char| c == ' ' || c == '\t';
    let s = comment.trim_start_matches(blank);
    let s = s.strip_prefix("hadolint").or_else(|| s.strip_prefix("kiln"))?;
    if !s.starts_with(blank) {
        return None;
    }
    let mut s = s.trim_start_matches(blank);
    let mut scope = Scope::Line;
    for (word, sc) in [("global", Scope::Global), ("stage", Scope::Stage)] {
        if let Some(rest) = s.strip_prefix(word)
            && rest.starts_with(blank)
        {
            s = rest.trim_start_matches(blank);
            scope = sc;
            break;
        }
    }
    let s = s.strip_prefix("ignore")?.trim_start_matches(blank).strip_prefix('=')?;
    let list = s.split('#').next().unwrap_or("");
    let mut rules = Vec::new();
    for r in list.split(',') {
        let r = r.trim_matches(blank);
        if r.is_empty() || !r.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return None;
        }
        rules.push(r.to_owned());
    }
    Some((scope, rules))
}

impl Pragmas {
    pub(crate) fn of(m: &Model<'_>) -> Pragmas {
        let mut p = Pragmas::default();
        for (i, c) in m.comments.iter().enumerate() {
            // Comments between continuation lines are part of the instruction, invisible to hadolint.
            if c.in_instruction {
                continue;
            }
            let Some((scope, rules)) = parse_ignore(&c.text) else { continue };
            match scope {
                Scope::Line => {
                    p.lines.entry(c.line + 1).or_default().extend(rules);
                    p.inline_lines.push(i);
                }
                Scope::Stage => {
                    p.stages.entry(c.line + 1).or_default().extend(rules);
                }
                Scope::Global => p.global.extend(rules),
            }
        }
        for s in &m.stages {
            p.stages.entry(m.insts[s.from].line).or_default();
        }
        p
    }

    /// Whether `rule` is ignored at `line` (hadolint's `shouldKeep`).
    pub(crate) fn ignores(&self, rule: &str, line: u32) -> bool {
        if self.global.contains(rule) || self.lines.get(&line).is_some_and(|s| s.contains(rule)) {
            return true;
        }
        self.stages.range(..line).next_back().is_some_and(|(_, s)| s.contains(rule))
    }
}

/// BuildKit's lint configuration (`# check=` and `Linter.WithMergedConfigFromComments`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CheckConfig {
    pub(crate) skip_all: bool,
    pub(crate) skip: BTreeSet<String>,
    pub(crate) error: bool,
    pub(crate) experimental_all: bool,
    pub(crate) experimental: BTreeSet<String>,
}

impl CheckConfig {
    /// BuildKit's `ParseLintOptions`.
    pub(crate) fn parse(value: &str) -> Result<CheckConfig, String> {
        let value = value.trim();
        let mut c = CheckConfig::default();
        if value.is_empty() {
            return Ok(c);
        }
        for part in value.splitn(3, ';') {
            let Some((k, v)) = part.split_once('=') else {
                return Err(format!("invalid check option {part:?}"));
            };
            let v = v.trim();
            match k.trim() {
                "skip" if v == "all" => c.skip_all = true,
                "skip" => c.skip.extend(v.split(',').map(|r| r.trim().to_owned())),
                "experimental" if v == "all" => c.experimental_all = true,
                "experimental" => c.experimental.extend(v.split(',').map(|r| r.trim().to_owned())),
                "error" => {
                    c.error = match v {
                        "1" | "t" | "T" | "true" | "TRUE" | "True" => true,
                        "0" | "f" | "F" | "false" | "FALSE" | "False" => false,
                        _ => return Err(format!("failed to parse check option {part:?}")),
                    }
                }
                other => return Err(format!("invalid check option {other:?}")),
            }
        }
        Ok(c)
    }

    /// The configuration for an instruction whose preceding comments are `comments` (the first `check=`
    /// comment is merged in, as BuildKit does).
    pub(crate) fn merged(&self, comments: &[String]) -> CheckConfig {
        for c in comments {
            let Some((name, value)) = c.split_once('=') else { continue };
            let name = name.trim();
            if !name.eq_ignore_ascii_case("check") || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
                continue;
            }
            let v = value.trim().split(' ').next().unwrap_or("");
            let Ok(other) = CheckConfig::parse(v) else { return self.clone() };
            let mut out = self.clone();
            out.skip_all |= other.skip_all;
            out.skip.extend(other.skip);
            out.error |= other.error;
            out.experimental_all |= other.experimental_all;
            out.experimental.extend(other.experimental);
            return out;
        }
        self.clone()
    }

    /// Whether a rule is skipped (`experimental` rules are off unless enabled).
    pub(crate) fn skips(&self, rule: &str, experimental: bool) -> bool {
        if experimental {
            return !(self.experimental_all || self.experimental.contains(rule));
        }
        self.skip_all || self.skip.contains(rule)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignore_pragmas() {
        assert_eq!(
            parse_ignore(" hadolint ignore=DL3008, DL3009 # because"),
            Some((Scope::Line, vec!["DL3008".into(), "DL3009".into()]))
        );
        assert_eq!(parse_ignore("hadolint global ignore=DL3006").map(|p| p.0), Some(Scope::Global));
        assert_eq!(parse_ignore("kiln stage ignore=KL001,StageNameCasing").map(|p| p.1.len()), Some(2));
        assert_eq!(parse_ignore("hadolint ignore="), None);
        assert_eq!(parse_ignore("hadolintignore=DL3000"), None);
        assert_eq!(parse_ignore("just a comment"), None);
    }

    #[test]
    fn check_directive() {
        let c = CheckConfig::parse("skip=JSONArgsRecommended, StageNameCasing;error=true").unwrap();
        assert!(c.error && c.skip.contains("StageNameCasing") && !c.skip_all);
        assert!(CheckConfig::parse("skip=all").unwrap().skips("UndefinedVar", false));
        assert!(CheckConfig::parse("nope=1").is_err());
        assert!(CheckConfig::default().skips("InvalidDefinitionDescription", true));
        let m = CheckConfig::default().merged(&["check=skip=UndefinedVar".into()]);
        assert!(m.skips("UndefinedVar", false));
    }
}
