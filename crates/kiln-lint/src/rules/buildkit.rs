//! BuildKit's build checks (`frontend/dockerfile/linter`), with BuildKit's conditions and messages: the
//! parse-time ones (casing, stage names, MAINTAINER) and the dispatch-time ones, which need each stage's
//! environment; that is simulated here from the Dockerfile alone (all stages, as `docker build --check`).
//!
//! Without the base images, a stage's environment is only partly known: `UndefinedVar` is then reported
//! only for stages whose environment is fully known (built from `scratch`, or with `Config::base_env`)
//! or when a similarly named variable exists (a likely typo). `InvalidBaseImagePlatform` needs the pulled
//! image and is left to the build.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use kiln_dockerfile::shell::{Env, Lexer};
use regex::Regex;

use super::hadolint::maintainer_fix;
use super::{Cx, drop_quotes};
use crate::finding::{Edit, Fix};
use crate::model::{Inst, Kw, Model};

/// BuildKit's default build arguments for a linux/amd64 build.
fn default_args(target: &str) -> Vec<(String, String)> {
    [
        ("BUILDPLATFORM", "linux/amd64"),
        ("BUILDOS", "linux"),
        ("BUILDOSVERSION", ""),
        ("BUILDARCH", "amd64"),
        ("BUILDVARIANT", ""),
        ("TARGETPLATFORM", "linux/amd64"),
        ("TARGETOS", "linux"),
        ("TARGETOSVERSION", ""),
        ("TARGETARCH", "amd64"),
        ("TARGETVARIANT", ""),
        ("TARGETSTAGE", target),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

/// An environment of `(name, value)` pairs; later entries win.
#[derive(Debug, Clone, Default)]
struct Vars(Vec<(String, String)>);

impl Vars {
    fn set(&mut self, k: &str, v: &str) {
        self.0.retain(|(n, _)| n != k);
        self.0.push((k.to_owned(), v.to_owned()));
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(k, _)| k.as_str()).collect()
    }
}

impl Env for Vars {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

pub(super) fn checks<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    no_empty_continuation(cx);
    parse_time(cx, s);
    stage_names(cx);
    command_casing(cx, s);
    from_checks(cx);
    dispatch(cx);
}

fn no_empty_continuation(cx: &mut Cx<'_, '_>) {
    for w in cx.m.warnings.iter().filter(|w| w.rule == "NoEmptyContinuation") {
        let span = w.spans.first().copied().unwrap_or(w.span);
        cx.hit_span("NoEmptyContinuation", w.span.line, span).msg("Empty continuation line");
    }
}

/// Checks BuildKit makes while parsing instructions (all stages).
fn parse_time<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    for i in s {
        match i.kw {
            Kw::Maintainer => {
                let fix = maintainer_fix(cx.m, i);
                cx.hit("MaintainerDeprecated", i)
                    .msg("Maintainer instruction is deprecated in favor of using label")
                    .fix(fix);
            }
            Kw::From => {
                if let [_, as_kw, name] = i.args {
                    if name.value != name.value.to_lowercase() {
                        let lower = name.value.to_lowercase();
                        let collides =
                            cx.m.stages
                                .iter()
                                .filter(|st| st.alias.as_deref().is_some_and(|a| a.to_lowercase() == lower))
                                .count()
                                > 1;
                        // A name built from variables is renamed by its variables' values, not here.
                        let fix = (!collides && !name.value.contains('$'))
                            .then(|| stage_rename(s, &name.value, name.span.range()));
                        cx.hit("StageNameCasing", i)
                            .at(Some(name.span.range()))
                            .msg(format!("Stage name '{}' should be lowercase", name.value))
                            .fix(fix);
                    }
                    let from = &i.keyword.value;
                    let lower = *from == from.to_lowercase();
                    let upper = *from == from.to_uppercase();
                    let bad = (lower && as_kw.value != as_kw.value.to_lowercase())
                        || (!lower && upper && as_kw.value != as_kw.value.to_uppercase());
                    if bad && (lower || upper) {
                        let want = if lower { "as" } else { "AS" };
                        let fix = Some(Fix::replace(as_kw.span.range(), want));
                        cx.hit("FromAsCasing", i)
                            .at(Some(as_kw.span.range()))
                            .msg(format!("'{}' and '{}' keywords' casing do not match", as_kw.value, from))
                            .fix(fix);
                    }
                    describe(cx, i, "FROM", &[name.value.to_lowercase()]);
                }
            }
            Kw::Arg => {
                let keys: Vec<String> = i.arg_defs().into_iter().map(|(k, _)| k).collect();
                describe(cx, i, "ARG", &keys);
            }
            _ => {}
        }
    }
}

/// Lower-cases a stage name where it is defined and where it is used (`FROM name`, `COPY --from=name`):
/// BuildKit matches stage names case-insensitively, hadolint exactly.
fn stage_rename(s: &[&Inst<'_>], name: &str, def: std::ops::Range<usize>) -> Fix {
    let lower = name.to_lowercase();
    let mut edits = vec![crate::finding::Edit { range: def, text: lower.clone() }];
    for i in s {
        match i.kw {
            Kw::From => {
                if let Some(img) =
                    i.args.first().filter(|t| t.value.eq_ignore_ascii_case(name) && t.value != lower)
                {
                    edits.push(crate::finding::Edit { range: img.span.range(), text: lower.clone() });
                }
            }
            Kw::Copy => {
                if let Some((f, v)) =
                    i.copy_from().filter(|(_, v)| v.eq_ignore_ascii_case(name) && *v != lower)
                    && f.value_span.len() == v.len()
                {
                    edits.push(crate::finding::Edit { range: f.value_span.range(), text: lower.clone() });
                }
            }
            _ => {}
        }
    }
    edits.sort_by_key(|e| e.range.start);
    Fix { edits }
}

/// InvalidDefinitionDescription (experimental).
fn describe<'m, 'a>(cx: &mut Cx<'m, 'a>, i: &'m Inst<'a>, instruction: &str, keys: &[String]) {
    let (Some(last), Some(first_key)) = (i.comments.last(), keys.first()) else { return };
    let word = last.split(' ').next().unwrap_or("");
    if keys.iter().any(|k| k == word) {
        return;
    }
    let example = if keys.len() > 1 { "<arg_key>" } else { first_key.as_str() };
    cx.hit("InvalidDefinitionDescription", i)
        .msg(format!("Comment for {instruction} should follow the format: `# {example} <description>`"));
}

fn stage_names(cx: &mut Cx<'_, '_>) {
    let mut seen = BTreeSet::new();
    let m = cx.m;
    for st in &m.stages {
        let Some(alias) = &st.alias else { continue };
        let name = alias.to_lowercase();
        let i = &m.insts[st.from];
        if name == "context" || name == "scratch" {
            cx.hit("ReservedStageName", i)
                .msg(format!("Stage name should not use the same name as reserved stage {name:?}"));
        }
        if !seen.insert(name.clone()) {
            cx.hit("DuplicateStageName", i)
                .msg(format!("Duplicate stage name {name:?}, stage names should be unique"));
        }
    }
}

fn command_casing<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    // Instructions inside stages (meta ARGs before the first FROM are not counted, as in BuildKit).
    let staged: Vec<&'m Inst<'a>> = s.iter().copied().filter(|i| i.stage.is_some()).collect();
    let consistent = |k: &str| k == k.to_lowercase() || k == k.to_uppercase();
    let (mut lower, mut upper) = (0, 0);
    for i in &staged {
        let k = &i.keyword.value;
        if consistent(k) {
            if *k == k.to_lowercase() {
                lower += 1;
            } else {
                upper += 1;
            }
        }
    }
    let majority_lower = lower > upper;
    for i in staged {
        let k = &i.keyword.value;
        let (want, casing) =
            if majority_lower { (k.to_lowercase(), "lowercase") } else { (k.to_uppercase(), "uppercase") };
        if *k != want {
            let mut edits = vec![crate::finding::Edit { range: i.keyword.span.range(), text: want }];
            // `FROM x as y`: the `AS` keyword follows the new casing (or FromAsCasing would start to fire).
            if i.kw == Kw::From
                && let [_, as_kw, _] = i.args
                && as_kw.value.eq_ignore_ascii_case("as")
            {
                let as_want = if majority_lower { "as" } else { "AS" };
                if as_kw.value != as_want {
                    edits.push(crate::finding::Edit { range: as_kw.span.range(), text: as_want.to_owned() });
                }
            }
            let fix = Some(Fix { edits });
            cx.hit("ConsistentInstructionCasing", i)
                .at(Some(i.keyword.span.range()))
                .msg(format!("Command '{k}' should match the case of the command majority ({casing})"))
                .fix(fix);
        }
    }
}

/// The global (meta) ARGs: their names, and the environment FROM sees (`defaults` only: no build args).
fn meta_args(m: &Model<'_>, lex: &Lexer, target: &str) -> (Vars, BTreeSet<String>) {
    let mut env = Vars(default_args(target));
    let mut names = BTreeSet::new();
    for i in m.insts.iter().take_while(|i| i.stage.is_none()) {
        if i.kw != Kw::Arg {
            continue;
        }
        for (k, v) in i.arg_defs() {
            if let Some(v) = v {
                let value = lex.process_word(&v, &env).map(|e| e.value).unwrap_or(v);
                env.set(&k, &value);
            }
            names.insert(k);
        }
    }
    (env, names)
}

fn from_checks(cx: &mut Cx<'_, '_>) {
    let m = cx.m;
    let lex = Lexer::new(m.escape);
    let target = m
        .stages
        .last()
        .and_then(|s| s.alias.clone())
        .map_or_else(|| "default".to_owned(), |a| a.to_lowercase());
    let (env, names) = meta_args(m, &lex, &target);
    let mut keys: BTreeSet<String> = names.clone();
    keys.extend(env.keys().into_iter().map(str::to_owned));
    let key_list: Vec<&str> = keys.iter().map(String::as_str).collect();
    for st in &m.stages {
        let i = &m.insts[st.from];
        let undeclared = |word: &str| -> Vec<String> {
            lex.process_word(word, &env)
                .map(|e| e.unmatched.into_iter().filter(|v| !keys.contains(v)).collect())
                .unwrap_or_default()
        };
        for arg in undeclared(&st.image_raw) {
            let s = kiln_dockerfile::suggest(&arg, &key_list, true);
            cx.hit("UndefinedArgInFrom", i).msg(undefined_msg("FROM argument", &arg, s.as_deref(), ""));
        }
        // InvalidDefaultArgInFrom: with defaults only, the base must be a valid reference.
        if let Ok(e) = lex.process_word(&st.image_raw, &env)
            && !is_valid_reference(&e.value)
        {
            cx.hit("InvalidDefaultArgInFrom", i).msg(format!(
                "Default value for ARG {} results in empty or invalid base image name",
                st.image_raw
            ));
        }
        let Some(platform) = &st.platform else { continue };
        for arg in undeclared(platform) {
            let s = kiln_dockerfile::suggest(&arg, &key_list, true);
            cx.hit("UndefinedArgInFrom", i).msg(undefined_msg("FROM argument", &arg, s.as_deref(), ""));
        }
        let Ok(pm) = lex.process_word(platform, &env) else { continue };
        let fspan = i.flag("platform").map(|f| f.span.range());
        if pm.matched.len() == 1
            && pm.unmatched.is_empty()
            && pm.matched.contains("TARGETPLATFORM")
            && Some(pm.value.as_str()) == env.get("TARGETPLATFORM")
        {
            cx.hit("RedundantTargetPlatform", i)
                .at(fspan.clone())
                .msg(format!("Setting platform to predefined {platform} in FROM is redundant as this is the default behavior"));
        }
        if pm.matched.is_empty()
            && pm.unmatched.is_empty()
            && let Some((os, arch)) = parse_platform(&pm.value)
        {
            let name = st.alias.as_deref().unwrap_or("").to_lowercase();
            if !name.contains(&os) && !name.contains(&arch) {
                cx.hit("FromPlatformFlagConstDisallowed", i)
                    .at(fspan)
                    .msg(format!("FROM --platform flag should not use constant value {:?}", pm.value));
            }
        }
    }
}

fn undefined_msg(what: &str, arg: &str, suggestion: Option<&str>, sigil: &str) -> String {
    let mut out = format!("{what} '{sigil}{arg}' is not declared");
    if what != "FROM argument" {
        out = format!("Usage of undefined variable '{sigil}{arg}'");
    }
    if let Some(s) = suggestion {
        out.push_str(&format!(" (did you mean {sigil}{s}?)"));
    }
    out
}

/// containerd's `platforms.Parse` (enough of it): `(os, arch)` normalized, or `None` when invalid.
fn parse_platform(p: &str) -> Option<(String, String)> {
    const OSES: &[&str] = &[
        "aix",
        "android",
        "darwin",
        "dragonfly",
        "freebsd",
        "illumos",
        "ios",
        "js",
        "linux",
        "netbsd",
        "openbsd",
        "plan9",
        "solaris",
        "wasip1",
        "windows",
    ];
    let norm_arch = |a: &str| -> Option<String> {
        let a = a.to_lowercase();
        Some(
            match a.as_str() {
                "i386" | "386" => "386",
                "x86_64" | "x86-64" | "amd64" => "amd64",
                "aarch64" | "arm64" => "arm64",
                "armhf" | "armel" | "arm" => "arm",
                "" => return None,
                other if other.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') => {
                    return Some(other.to_owned());
                }
                _ => return None,
            }
            .to_owned(),
        )
    };
    let parts: Vec<&str> = p.split('/').collect();
    match parts.as_slice() {
        [one] => {
            let l = one.to_lowercase();
            if OSES.contains(&l.as_str()) {
                Some((l, "amd64".to_owned()))
            } else {
                Some(("linux".to_owned(), norm_arch(one)?))
            }
        }
        [os, arch] | [os, arch, _] => {
            let os = os.to_lowercase();
            if os.is_empty() || !os.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                return None;
            }
            Some((os, norm_arch(arch)?))
        }
        _ => None,
    }
}

/// `reference.ParseNormalizedNamed`: a valid, lower-case image reference.
pub(crate) fn is_valid_reference(s: &str) -> bool {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    let re = RE.get_or_init(|| {
        let domain_comp = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
        let domain = format!(r"(?:{domain_comp}(?:\.{domain_comp})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?");
        let path_comp = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*";
        // Go's `\w` is ASCII (Rust's is Unicode). The tag's 128-character limit is checked below: as a
        // `{0,127}` repetition it made this regex take ~40 ms to compile, in every build.
        let tag = r"[A-Za-z0-9_][A-Za-z0-9_.-]*";
        let digest = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";
        Regex::new(&format!(r"^(?:{domain}/)?{path_comp}(?:/{path_comp})*(?::{tag})?(?:@{digest})?$")).ok()
    });
    if s.is_empty() {
        return false;
    }
    // A first component without `.`/`:` that is not `localhost` is part of the path (must be lower case).
    let path_start = match s.split_once('/') {
        Some((d, _)) if d.contains(['.', ':']) || d == "localhost" => d.len() + 1,
        _ => 0,
    };
    let name_end = s[path_start..].find([':', '@']).map_or(s.len(), |n| n + path_start);
    if s[path_start..name_end].chars().any(|c| c.is_ascii_uppercase()) {
        return false;
    }
    let name = s.split_once('@').map_or(s, |(n, _)| n);
    let tag_len = match (name.rfind(':'), name.rfind('/')) {
        (Some(colon), slash) if slash.is_none_or(|sl| sl < colon) => name.len() - colon - 1,
        _ => 0,
    };
    tag_len <= 128 && re.as_ref().is_some_and(|r| r.is_match(s))
}

fn secret_regexes() -> &'static (Option<Regex>, Option<Regex>) {
    static RE: OnceLock<(Option<Regex>, Option<Regex>)> = OnceLock::new();
    RE.get_or_init(|| {
        (
            Regex::new(r"(?i)(?:_|^)(?:apikey|auth|credential|credentials|key|password|pword|passwd|secret|token)(?:_|$)").ok(),
            Regex::new(r"(?i)(?:_|^)(?:public|file|version)(?:_|$)").ok(),
        )
    })
}

/// BuildKit's `validateNoSecretKey` test.
pub(crate) fn is_secret_key(key: &str) -> bool {
    let (deny, allow) = secret_regexes();
    deny.as_ref().is_some_and(|d| d.is_match(key)) && !allow.as_ref().is_some_and(|a| a.is_match(key))
}

/// A stage's simulated dispatch state.
#[derive(Debug, Clone, Default)]
struct StageState {
    env: Vars,
    /// ARG names declared in the stage (never reported as undefined).
    build_args: BTreeSet<String>,
    /// Whether `env` holds the whole environment (no unknown base image).
    known: bool,
    workdir_set: bool,
    shell_set: bool,
}

/// Dispatch-time checks, stage by stage.
fn dispatch(cx: &mut Cx<'_, '_>) {
    let m = cx.m;
    let lex = Lexer::new(m.escape);
    let target = m
        .stages
        .last()
        .and_then(|s| s.alias.clone())
        .map_or_else(|| "default".to_owned(), |a| a.to_lowercase());
    let (global, _) = meta_args(m, &lex, &target);
    let mut finals: Vec<StageState> = Vec::new();
    for (n, st) in m.stages.iter().enumerate() {
        let mut state = match st.base {
            Some(b) => finals
                .get(b)
                .cloned()
                .map(|mut s| {
                    s.build_args.clear();
                    s
                })
                .unwrap_or_default(),
            None => {
                let image = lex.process_word(&st.image_raw, &global).map(|e| e.value).unwrap_or_default();
                let mut s = StageState::default();
                if image == "scratch" {
                    s.known = true;
                    s.env.set("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
                } else if let Some(env) = cx.cfg.base_env.get(&image) {
                    s.known = true;
                    for kv in env {
                        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                        s.env.set(k, v);
                    }
                }
                s
            }
        };
        let mut cmd: Option<&Inst<'_>> = None;
        let mut entrypoint: Option<&Inst<'_>> = None;
        let mut healthcheck: Option<&Inst<'_>> = None;
        let escape = cx.m.escape;
        for i in m.stage_insts(n).filter(|i| i.kw != Kw::From) {
            undefined_vars(cx, &lex, i, &state);
            match i.kw {
                Kw::Env => {
                    let mut sets = Vec::new();
                    for (k, v, legacy) in i.pairs() {
                        if legacy {
                            cx.hit("LegacyKeyValueFormat", i).msg("\"ENV key=value\" should be used instead of legacy \"ENV key value\" format").fix(legacy_fix(i, k, v, escape));
                        }
                        let key = lex
                            .process_word(&k.value, &state.env)
                            .map(|e| e.value)
                            .unwrap_or_else(|_| k.value.clone());
                        if is_secret_key(&key) {
                            cx.hit("SecretsUsedInArgOrEnv", i).msg(format!(
                                "Do not use ARG or ENV instructions for sensitive data (ENV {key:?})"
                            ));
                        }
                        let val = lex.process_word(&v.value, &state.env).map(|e| e.value).unwrap_or_default();
                        sets.push((key, val));
                    }
                    for (k, v) in sets {
                        state.env.set(&k, &v);
                    }
                }
                Kw::Label => {
                    for (k, v, legacy) in i.pairs() {
                        if legacy {
                            cx.hit("LegacyKeyValueFormat", i).msg("\"LABEL key=value\" should be used instead of legacy \"LABEL key value\" format").fix(legacy_fix(i, k, v, escape));
                        }
                    }
                }
                Kw::Arg => {
                    for (k, v) in i.arg_defs() {
                        if is_secret_key(&k) {
                            cx.hit("SecretsUsedInArgOrEnv", i).msg(format!(
                                "Do not use ARG or ENV instructions for sensitive data (ARG {k:?})"
                            ));
                        }
                        let value = match v {
                            Some(v) => Some(lex.process_word(&v, &state.env).map(|e| e.value).unwrap_or(v)),
                            None => global.get(&k).map(str::to_owned),
                        };
                        if let Some(v) = value {
                            state.env.set(&k, &v);
                        }
                        state.build_args.insert(k);
                    }
                }
                Kw::Workdir => {
                    let raw = i.arg_text();
                    let p = lex.process_word(&raw, &state.env).map(|e| e.value).unwrap_or(raw);
                    if !state.workdir_set && !p.starts_with('/') {
                        let fix = i.args.first().filter(|_| !p.is_empty()).map(|t| {
                            let quotes = t.value.len() - t.value.trim_start_matches(['"', '\'']).len();
                            Fix::insert(t.span.start + quotes, "/")
                        });
                        cx.hit("WorkdirRelativePath", i)
                            .at(i.args.first().map(|t| t.span.range()))
                            .msg(format!(
                                "Relative workdir {p:?} can have unexpected results if the base image changes"
                            ))
                            .fix(fix);
                    }
                    state.workdir_set = true;
                }
                Kw::Shell => state.shell_set = true,
                Kw::Cmd | Kw::Entrypoint | Kw::Healthcheck => {
                    let slot = match i.kw {
                        Kw::Cmd => &mut cmd,
                        Kw::Entrypoint => &mut entrypoint,
                        _ => &mut healthcheck,
                    };
                    if let Some(prev) = slot.replace(i) {
                        cx.hit("MultipleInstructionsDisallowed", prev).msg(format!(
                            "Multiple {} instructions should not be used in the same stage because only the last one will be used",
                            i.keyword.value
                        ));
                    }
                    if matches!(i.kw, Kw::Cmd | Kw::Entrypoint) && !i.json && !state.shell_set {
                        cx.hit("JSONArgsRecommended", i).msg(format!(
                            "JSON arguments recommended for {} to prevent unintended behavior related to OS signals",
                            i.keyword.value
                        ));
                    }
                }
                Kw::Expose => expose(cx, &lex, i, &state),
                Kw::Copy | Kw::Add => copy_ignored(cx, &lex, i, &state),
                _ => {}
            }
        }
        finals.push(state);
    }
}

/// `KEY value` → `KEY=value`, when that is the same value. Only the gap between key and value and the
/// end of the value are edited, so a value continued over several lines keeps its lines (a value that
/// starts on a continuation line gets `KEY="\` on the key line and loses that line's indentation, which
/// BuildKit would otherwise keep inside the quotes).
fn legacy_fix(
    i: &Inst<'_>,
    k: &kiln_dockerfile::Token,
    v: &kiln_dockerfile::Token,
    escape: char,
) -> Option<Fix> {
    if k.span.end > v.span.start || i.json {
        return None;
    }
    let raw = &v.value;
    let plain_word = !raw.is_empty() && !raw.contains(char::is_whitespace);
    if !plain_word && (raw.is_empty() || raw.contains(['"', '\'', '\\', '\n'])) {
        return None;
    }
    let quote = if plain_word { "" } else { "\"" };
    let gap = if v.span.line == k.span.line { format!("={quote}") } else { format!("={quote}{escape}\n") };
    let mut edits = vec![Edit { range: k.span.end..v.span.start, text: gap }];
    if !plain_word {
        edits.push(Edit { range: v.span.end..v.span.end, text: quote.to_owned() });
    }
    Some(Fix { edits })
}

/// The words BuildKit expands in an instruction (with whether they use the raw heredoc lexer).
fn expanded_words(i: &Inst<'_>) -> Vec<(String, bool)> {
    let mut out: Vec<(String, bool)> = Vec::new();
    match i.kw {
        Kw::Env | Kw::Label => {
            for (k, v, _) in i.pairs() {
                out.push((k.value.clone(), false));
                out.push((v.value.clone(), false));
            }
        }
        Kw::Copy | Kw::Add => {
            for f in i.flags {
                if matches!(f.name(), "chown" | "chmod") || (i.kw == Kw::Add && f.name() == "checksum") {
                    out.push((f.value().unwrap_or_default().to_owned(), false));
                }
            }
            for a in i.args {
                match kiln_dockerfile::syntax::parse_heredoc_word(&a.value).ok().flatten() {
                    Some(h) => {
                        if h.expand
                            && let Some(d) = i.heredocs.iter().rev().find(|d| d.name == h.name)
                        {
                            out.push((d.content.clone(), true));
                        }
                    }
                    None => out.push((a.value.clone(), false)),
                }
            }
        }
        Kw::Workdir | Kw::User | Kw::StopSignal => out.push((i.arg_text(), false)),
        Kw::Volume => out.extend(i.args.iter().map(|a| (a.value.clone(), false))),
        Kw::Run => {
            for f in i.flags.iter().filter(|f| f.name() == "mount") {
                for kv in f.value().unwrap_or("").split(',') {
                    if let Some((_, v)) = kv.split_once('=') {
                        out.push((v.to_owned(), false));
                    }
                }
            }
        }
        Kw::Arg => {
            for (_, v) in i.arg_defs() {
                if let Some(v) = v {
                    out.push((v, false));
                }
            }
        }
        _ => {}
    }
    out
}

fn undefined_vars<'a>(cx: &mut Cx<'_, 'a>, lex: &Lexer, i: &Inst<'a>, state: &StageState) {
    let mut raw = Lexer::new('\\');
    raw.skip_process_quotes = true;
    let mut unmatched: BTreeSet<String> = BTreeSet::new();
    for (w, heredoc) in expanded_words(i) {
        let l = if heredoc { &raw } else { lex };
        if let Ok(e) = l.process_word(&w, &state.env) {
            unmatched.extend(e.unmatched);
        }
    }
    let keys = state.env.keys();
    for v in unmatched {
        if state.build_args.contains(&v)
            || v == "BUILDKIT_SBOM_SCAN_CONTEXT"
            || v == "BUILDKIT_SBOM_SCAN_STAGE"
            || v == "PATH"
        {
            continue;
        }
        let suggestion = kiln_dockerfile::suggest(&v, &keys, true);
        if !state.known && suggestion.is_none() {
            continue;
        }
        cx.hit("UndefinedVar", i).msg(undefined_msg("", &v, suggestion.as_deref(), "$"));
    }
}

fn expose<'a>(cx: &mut Cx<'_, 'a>, lex: &Lexer, i: &Inst<'a>, state: &StageState) {
    for a in i.args {
        let words = lex.process_words(&a.value, &state.env).unwrap_or_else(|_| vec![a.value.clone()]);
        for raw in words {
            let parts: Vec<&str> = raw.split(':').collect();
            let (ip, host, container) = match parts.as_slice() {
                [c] => ("", "", *c),
                [h, c] => ("", *h, *c),
                [ip, h, c] => (*ip, *h, *c),
                _ => (":", parts[parts.len() - 2], parts[parts.len() - 1]),
            };
            let proto = container.split_once('/').map_or("", |(_, p)| p);
            if proto != proto.to_lowercase() {
                cx.hit("ExposeProtoCasing", i)
                    .at(Some(a.span.range()))
                    .msg(format!("Defined protocol '{raw}' in EXPOSE instruction should be lowercase"));
            }
            if !ip.is_empty() || !host.is_empty() {
                cx.hit("ExposeInvalidFormat", i).at(Some(a.span.range())).msg(format!(
                    "EXPOSE instruction should not define an IP address or host-port mapping, found '{raw}'"
                ));
            }
        }
    }
}

fn copy_ignored<'a>(cx: &mut Cx<'_, 'a>, lex: &Lexer, i: &Inst<'a>, state: &StageState) {
    let Some(ctx) = &cx.cfg.context else { return };
    let Some(ignore) = &ctx.dockerignore else { return };
    if ignore.patterns().iter().any(|p| p.exclusion) || (i.kw == Kw::Copy && i.flag("from").is_some()) {
        return;
    }
    let Some((srcs, _)) = i.args.split_last().map(|(d, s)| (s, d)) else { return };
    let root_ignored =
        ignore.patterns().iter().any(|p| !p.exclusion && matches!(p.text.as_str(), "*" | "**" | "**/*"));
    let cmd = if i.kw == Kw::Add { "Add" } else { "Copy" };
    for t in srcs {
        if kiln_dockerfile::syntax::parse_heredoc_word(&t.value).ok().flatten().is_some() {
            continue;
        }
        let v = lex.process_word(&t.value, &state.env).map(|e| e.value).unwrap_or_else(|_| t.value.clone());
        if v.starts_with("http://")
            || v.starts_with("https://")
            || v.starts_with("git@")
            || v.contains(".git#")
        {
            continue;
        }
        let src = kiln_dockerfile::ignore::clean(drop_quotes(&v));
        if (src == "." || src == "/") && !root_ignored {
            continue;
        }
        if ignore.matches(&src) {
            cx.hit("CopyIgnoredFile", i)
                .at(Some(t.span.range()))
                .msg(format!("Attempting to {cmd} file {src:?} that is excluded by .dockerignore"));
        }
    }
}

#[allow(dead_code)]
fn unused(_: BTreeMap<String, String>) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_and_platforms() {
        assert!(is_valid_reference("alpine:3.20") && is_valid_reference("gcr.io/distroless/static:nonroot"));
        assert!(is_valid_reference("localhost:5000/x") && is_valid_reference("scratch"));
        assert!(!is_valid_reference("") && !is_valid_reference("Ubuntu") && !is_valid_reference(":1"));
        let tag = |n: usize| format!("localhost:5000/app:{}", "t".repeat(n));
        assert!(
            is_valid_reference(&tag(128)) && !is_valid_reference(&tag(129)),
            "tags are 1 to 128 characters"
        );
        assert!(
            !is_valid_reference("app:é") && is_valid_reference("app:v1_2.3-rc"),
            "tag characters are ASCII"
        );
        assert_eq!(parse_platform("linux/arm64"), Some(("linux".into(), "arm64".into())));
        assert_eq!(parse_platform("x86_64"), Some(("linux".into(), "amd64".into())));
        assert!(is_secret_key("GITHUB_TOKEN") && is_secret_key("password") && !is_secret_key("PUBLIC_KEY"));
        assert!(!is_secret_key("TOKENIZER") && !is_secret_key("KEY_FILE"));
    }
}
