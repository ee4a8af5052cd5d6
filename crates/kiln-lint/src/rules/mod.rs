//! The checks behind [`crate::RULES`]: one function per rule (grouped by origin in the submodules), run
//! over a [`Model`], then filtered by configuration, `# check=` directives and ignore pragmas.
//!
//! hadolint runs many of its rules a second time over the triggers of `ONBUILD` instructions; those are
//! listed with `onbuild: true` and run over both instruction streams, the way hadolint's `onbuild`
//! combinator does (the trigger stream has no `FROM`, so stage-tracking rules see one anonymous stage).

mod buildkit;
mod hadolint;
mod kiln;
mod labels;

use std::ops::Range;

use kiln_dockerfile::{LineIndex, Span};

use crate::config::Config;
use crate::finding::{Finding, Fix};
use crate::model::{Inst, Model};
use crate::pragma::{CheckConfig, Pragmas};
use crate::rule::{Level, Origin, rule};

/// A finding before configuration is applied.
#[derive(Debug, Clone)]
pub(crate) struct Raw<'a> {
    pub(crate) rule: &'static str,
    pub(crate) line: u32,
    pub(crate) span: Range<usize>,
    pub(crate) message: Option<String>,
    pub(crate) fix: Option<Fix>,
    /// The comments above the instruction (BuildKit merges `check=` comments from there).
    pub(crate) comments: &'a [String],
}

impl Raw<'_> {
    /// Points the caret at `r` (source range), when known.
    pub(crate) fn at(&mut self, r: Option<Range<usize>>) -> &mut Self {
        if let Some(r) = r {
            self.span = r;
        }
        self
    }

    /// Sets the message (the rule's title otherwise).
    pub(crate) fn msg(&mut self, m: impl Into<String>) -> &mut Self {
        self.message = Some(m.into());
        self
    }

    /// Attaches a fix.
    pub(crate) fn fix(&mut self, f: Option<Fix>) -> &mut Self {
        self.fix = f;
        self
    }
}

/// What the checks share: the model, the configuration and the findings so far.
pub(crate) struct Cx<'m, 'a> {
    pub(crate) m: &'m Model<'a>,
    pub(crate) cfg: &'m Config,
    pub(crate) raw: Vec<Raw<'a>>,
}

impl<'m, 'a> Cx<'m, 'a> {
    /// Reports `rule` at instruction `inst` (line of the instruction, caret under its first line).
    pub(crate) fn hit(&mut self, rule: &'static str, inst: &Inst<'a>) -> &mut Raw<'a> {
        let head = inst.head_span(self.m.source);
        self.raw.push(Raw {
            rule,
            line: inst.line,
            span: head.range(),
            message: None,
            fix: None,
            comments: inst.comments,
        });
        let n = self.raw.len() - 1;
        &mut self.raw[n]
    }

    /// Reports `rule` at a line with a span that belongs to no instruction (comments, parser warnings).
    pub(crate) fn hit_span(&mut self, rule: &'static str, line: u32, span: Span) -> &mut Raw<'a> {
        self.raw.push(Raw { rule, line, span: span.range(), message: None, fix: None, comments: &[] });
        let n = self.raw.len() - 1;
        &mut self.raw[n]
    }

    /// The source range of a range of `inst`'s shell text.
    pub(crate) fn shell_span(&self, inst: &Inst<'_>, r: &Range<usize>) -> Option<Range<usize>> {
        inst.shell.as_ref().and_then(|(t, _)| t.to_source(r))
    }
}

type Check = for<'m, 'a> fn(&mut Cx<'m, 'a>, &[&'m Inst<'a>]);

/// Every check, with whether hadolint also runs it over `ONBUILD` triggers.
const CHECKS: &[(Check, bool)] = &[
    (hadolint::dl1001, false),
    (hadolint::dl3000, false),
    (hadolint::dl3001, true),
    (hadolint::dl3002, false),
    (hadolint::dl3003, false),
    (hadolint::dl3004, true),
    (hadolint::dl3006, false),
    (hadolint::dl3007, false),
    (hadolint::dl3008, true),
    (hadolint::dl3009, true),
    (hadolint::dl3010, false),
    (hadolint::dl3011, false),
    (hadolint::dl3012, false),
    (hadolint::dl3013, true),
    (hadolint::dl3014, true),
    (hadolint::dl3015, true),
    (hadolint::dl3016, true),
    (hadolint::dl3018, true),
    (hadolint::dl3019, true),
    (hadolint::dl3020, false),
    (hadolint::dl3021, false),
    (hadolint::dl3022, false),
    (hadolint::dl3023, false),
    (hadolint::dl3024, false),
    (hadolint::dl3025, false),
    (hadolint::dl3026, false),
    (hadolint::dl3027, true),
    (hadolint::dl3028, true),
    (hadolint::dl3029, false),
    (hadolint::dl3030, true),
    (hadolint::dl3032, true),
    (hadolint::dl3033, true),
    (hadolint::dl3034, true),
    (hadolint::dl3035, true),
    (hadolint::dl3036, true),
    (hadolint::dl3037, true),
    (hadolint::dl3038, true),
    (hadolint::dl3040, true),
    (hadolint::dl3041, true),
    (hadolint::dl3042, true),
    (hadolint::dl3043, false),
    (hadolint::dl3044, false),
    (hadolint::dl3045, false),
    (hadolint::dl3046, true),
    (hadolint::dl3047, true),
    (labels::dl3048, false),
    (labels::dl3049, false),
    (labels::dl3050, false),
    (labels::dl3051_to_dl3058, false),
    (hadolint::dl3057, false),
    (hadolint::dl3059, false),
    (hadolint::dl3060, true),
    (hadolint::dl3061, false),
    (hadolint::dl3062, true),
    (hadolint::dl3063, false),
    (hadolint::dl3064, true),
    (hadolint::dl3065, false),
    (hadolint::dl3066, false),
    (hadolint::dl3067, false),
    (hadolint::dl4000, false),
    (hadolint::dl4001, true),
    (hadolint::dl4003, false),
    (hadolint::dl4004, false),
    (hadolint::dl4005, true),
    (hadolint::dl4006, false),
    (buildkit::checks, false),
    (kiln::checks, false),
];

/// Runs every check over `m` and applies `cfg`, the `# check=` configuration and the ignore pragmas.
pub(crate) fn run<'a>(m: &Model<'a>, cfg: &Config) -> Vec<Finding> {
    let mut cx = Cx { m, cfg, raw: Vec::new() };
    let main: Vec<&Inst<'a>> = m.insts.iter().collect();
    let triggers: Vec<&Inst<'a>> = m.insts.iter().filter_map(|i| i.child.as_deref()).collect();
    for (check, onbuild) in CHECKS {
        check(&mut cx, &main);
        if *onbuild && !triggers.is_empty() {
            check(&mut cx, &triggers);
        }
    }
    finish(m, cfg, cx.raw)
}

fn finish(m: &Model<'_>, cfg: &Config, raw: Vec<Raw<'_>>) -> Vec<Finding> {
    let pragmas = Pragmas::of(m);
    let mut global =
        m.check_directive.as_ref().and_then(|(v, _)| CheckConfig::parse(v).ok()).unwrap_or_default();
    global.experimental.extend(cfg.experimental.iter().cloned());
    let idx = LineIndex::new(m.source);
    let mut out = Vec::with_capacity(raw.len());
    for r in raw {
        let Some(rule) = rule(r.rule) else { continue };
        let check = global.merged(r.comments);
        if check.skips(rule.id, rule.experimental) {
            continue;
        }
        let default = if rule.origin == Origin::Buildkit && check.error { Level::Error } else { rule.level };
        let Some(level) = cfg.level_of(rule.id, default) else { continue };
        if !cfg.disable_ignore_pragma && pragmas.ignores(rule.id, r.line) {
            continue;
        }
        let (sl, sc) = idx.position(m.source, r.span.start);
        let column = if sl == r.line { sc } else { 1 };
        out.push(Finding {
            rule: rule.id,
            level,
            message: r.message.unwrap_or_else(|| rule.title.to_owned()),
            line: r.line,
            column,
            span: r.span,
            span_start: (sl, sc),
            fix: r.fix,
        });
    }
    out.sort_by_key(|a| (a.line, a.column));
    out
}

/// Whether a RUN has a `--mount` of type cache or tmpfs whose target contains `frag` (hadolint's
/// `hasCacheOrTmpfsMountWith`).
pub(crate) fn has_cache_mount(inst: &Inst<'_>, frag: &str) -> bool {
    inst.flags.iter().filter(|f| f.name() == "mount").any(|f| {
        let v = f.value().unwrap_or("");
        let mut ty = "bind";
        let mut target = "";
        for kv in v.split(',') {
            let (k, val) = kv.split_once('=').unwrap_or((kv, ""));
            match k.trim() {
                "type" => ty = val.trim(),
                "target" | "dst" | "destination" => target = val.trim(),
                _ => {}
            }
        }
        matches!(ty, "cache" | "tmpfs") && target.contains(frag)
    })
}

/// hadolint's `dropQuotes`: removes `"` and `'` at both ends.
pub(crate) fn drop_quotes(s: &str) -> &str {
    s.trim_matches(|c| c == '"' || c == '\'')
}
