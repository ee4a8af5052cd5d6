//! hadolint's `DL` rules, ported from hadolint 2.15.1 (`src/Hadolint/Rule/DL*.hs`) rule by rule: the
//! same triggering conditions, state tracking and messages, over kiln's model instead of language-docker's
//! AST. Where kiln deliberately differs (a hadolint bug), the function says so.

use std::collections::{BTreeMap, BTreeSet};

use kiln_dockerfile::shell::{EmptyEnv, Lexer};

use super::{Cx, drop_quotes, has_cache_mount};
use crate::finding::{Edit, Fix};
use crate::model::{ImageRef, Inst, Kw, Model};
use crate::shell::{Command, Script};

/// RUN instructions of a stream with their parsed scripts.
fn runs<'x, 'a>(s: &'x [&'x Inst<'a>]) -> impl Iterator<Item = (&'x Inst<'a>, &'x Script)> {
    s.iter().filter(|i| i.kw == Kw::Run).filter_map(|i| i.script().map(|sc| (*i, sc)))
}

/// Reports `rule` for every RUN of `s` whose script has a command for which `bad` holds; the caret goes
/// under the first such command.
fn each_bad_command<'m, 'a>(
    cx: &mut Cx<'m, 'a>,
    s: &[&'m Inst<'a>],
    rule: &'static str,
    bad: impl Fn(&Command) -> bool,
) {
    for (i, sc) in runs(s) {
        if let Some(c) = sc.commands.iter().find(|c| bad(c)) {
            let at = cx.shell_span(i, &c.span);
            cx.hit(rule, i).at(at);
        }
    }
}

/// A value as hadolint's parser gives it: quotes removed, variables left as written.
pub(super) fn unquote(s: &str, escape: char) -> String {
    let mut lex = Lexer::new(escape);
    lex.skip_unset_env = true;
    lex.process_word(s, &EmptyEnv).map(|e| e.value).unwrap_or_else(|_| s.to_owned())
}

/// ENV/LABEL pairs as hadolint sees them: key unquoted, value unquoted unless written in the legacy form.
pub(super) fn hadolint_pairs(i: &Inst<'_>, escape: char) -> Vec<(String, String)> {
    i.pairs()
        .map(|(k, v, legacy)| {
            (unquote(&k.value, escape), if legacy { v.value.clone() } else { unquote(&v.value, escape) })
        })
        .collect()
}

/// The source offset just after argument `n` of `c` (for inserting a flag after it).
fn after_arg(cx: &Cx<'_, '_>, i: &Inst<'_>, c: &Command, n: usize) -> Option<usize> {
    cx.shell_span(i, &c.args.get(n)?.span).map(|r| r.end)
}

/// Inserts ` text` after the first `word` argument of each of `cmds` (one fix for the whole RUN, so one
/// round of `--fix` repairs every command the rule objects to); `None` when no command maps to the source.
fn insert_after_word(
    cx: &Cx<'_, '_>,
    i: &Inst<'_>,
    cmds: &[&Command],
    word: &str,
    text: &str,
) -> Option<Fix> {
    let edits: Vec<Edit> = cmds
        .iter()
        .filter_map(|c| {
            let n = c.args.iter().position(|a| a.text == word)?;
            after_arg(cx, i, c, n)
        })
        .map(|at| Edit { range: at..at, text: format!(" {text}") })
        .collect();
    (!edits.is_empty()).then_some(Fix { edits })
}

pub(super) fn dl1001<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    if !is_main(cx.m, s) {
        return;
    }
    let pragmas = crate::pragma::Pragmas::of(cx.m);
    for &ci in &pragmas.inline_lines {
        let c = &cx.m.comments[ci];
        cx.hit_span("DL1001", c.line, c.span);
    }
}

/// Whether `s` is the main stream (not the ONBUILD triggers).
fn is_main(m: &Model<'_>, s: &[&Inst<'_>]) -> bool {
    s.first().is_none_or(|i| m.insts.first().is_some_and(|f| std::ptr::eq(*i, f)))
}

fn is_windows_absolute(p: &str) -> bool {
    let mut c = p.chars();
    matches!((c.next(), c.next()), (Some(d), Some(':')) if d.is_alphabetic())
}

pub(super) fn dl3000<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    let mut seen_workdir: BTreeSet<Option<usize>> = BTreeSet::new();
    for i in s.iter().filter(|i| i.kw == Kw::Workdir) {
        let first_in_stage = seen_workdir.insert(i.stage);
        let raw = i.arg_text();
        let p = drop_quotes(&raw);
        if p.starts_with('$') || p.starts_with('/') || is_windows_absolute(p) {
            continue;
        }
        let fix = (first_in_stage && !p.is_empty()).then(|| i.args.first()).flatten().map(|t| {
            let quotes = t.value.len() - t.value.trim_start_matches(['"', '\'']).len();
            Fix::insert(t.span.start + quotes, "/")
        });
        let at = i.args.first().map(|t| t.span.range());
        cx.hit("DL3000", i).at(at).fix(fix);
    }
}

pub(super) fn dl3001<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    const BAD: &[&str] = &["free", "kill", "mount", "ps", "service", "shutdown", "ssh", "top", "vim"];
    each_bad_command(cx, s, "DL3001", |c| BAD.contains(&c.name.as_str()));
}

pub(super) fn is_root_user(u: &str) -> bool {
    u.starts_with("root:") || u.starts_with("0:") || u == "root" || u == "0"
}

pub(super) fn dl3002<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    // Per stage, the last USER when it is root.
    let mut last: BTreeMap<usize, &'m Inst<'a>> = BTreeMap::new();
    let mut stage = None;
    for (n, i) in s.iter().enumerate() {
        match i.kw {
            Kw::From => stage = Some(n),
            Kw::User => {
                let Some(st) = stage else { continue };
                if is_root_user(&i.arg_text()) {
                    last.insert(st, i);
                } else {
                    last.remove(&st);
                }
            }
            _ => {}
        }
    }
    for i in last.into_values() {
        cx.hit("DL3002", i);
    }
}

pub(super) fn dl3003<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    each_bad_command(cx, s, "DL3003", |c| c.name == "cd");
}

pub(super) fn dl3004<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    each_bad_command(cx, s, "DL3004", |c| c.name == "sudo");
}

fn stage_image<'x>(m: &'x Model<'_>, i: &Inst<'_>) -> Option<&'x crate::model::Stage> {
    i.stage.and_then(|s| m.stages.get(s)).filter(|st| std::ptr::eq(&m.insts[st.from], i))
}

/// A flag an instruction turns on for the rest of its stage, which a stage inherits from the stage it is
/// built `FROM` (hadolint's view of ENV and WORKDIR state across stages).
#[derive(Default)]
struct StageFlag {
    current: Option<String>,
    by_stage: BTreeMap<Option<String>, bool>,
}

impl StageFlag {
    /// Enters the stage the `FROM` instruction `i` starts (a stage named after its image when it has no
    /// alias), inheriting the flag of the stage it builds on.
    fn enter(&mut self, m: &Model<'_>, i: &Inst<'_>) {
        let Some(st) = stage_image(m, i) else { return };
        let name = st.alias.clone().unwrap_or_else(|| st.image.name.clone());
        let parent = self.by_stage.get(&Some(st.image.name.clone())).copied().unwrap_or(false);
        self.by_stage.insert(Some(name.clone()), parent);
        self.current = Some(name);
    }

    /// Turns the flag on for the current stage.
    fn set(&mut self) {
        self.by_stage.insert(self.current.clone(), true);
    }

    /// Whether the flag is on in the current stage.
    fn is_set(&self) -> bool {
        self.by_stage.get(&self.current).copied().unwrap_or(false)
    }
}

pub(super) fn dl3006<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    let mut aliases: BTreeSet<String> = BTreeSet::new();
    for i in s.iter().filter(|i| i.kw == Kw::From) {
        let Some(st) = stage_image(cx.m, i) else { continue };
        let img = &st.image;
        let bad = img.name != "scratch"
            && img.digest.is_none()
            && img.tag.is_none()
            && !img.name.starts_with('$')
            && !aliases.contains(&img.name);
        if let Some(a) = &st.alias {
            aliases.insert(a.clone());
        }
        if bad {
            let at = i.args.first().map(|t| t.span.range());
            cx.hit("DL3006", i).at(at);
        }
    }
}

pub(super) fn dl3007<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    for i in s.iter().filter(|i| i.kw == Kw::From) {
        let Some(st) = stage_image(cx.m, i) else { continue };
        if st.image.tag.as_deref() == Some("latest") && st.image.digest.is_none() {
            let at = i.args.first().map(|t| t.span.range());
            cx.hit("DL3007", i).at(at);
        }
    }
}

/// Packages of `apt-get install` commands: plain arguments (after dropping `-t`/`--target-release`
/// values), without `install`. kiln also skips `--` (hadolint counts it as a package).
fn unpinned(c: &Command, drop: &[&str], skip: &[&str], pinned: impl Fn(&str) -> bool) -> Option<usize> {
    c.plain_args(drop).into_iter().find(|&n| {
        let t = c.args[n].text.as_str();
        !skip.contains(&t) && t != "--" && !pinned(t)
    })
}

fn each_unpinned<'m, 'a>(
    cx: &mut Cx<'m, 'a>,
    s: &[&'m Inst<'a>],
    rule: &'static str,
    is_cmd: impl Fn(&Command) -> bool,
    drop: &[&str],
    skip: &[&str],
    pinned: impl Fn(&str) -> bool,
) {
    for (i, sc) in runs(s) {
        let found = sc
            .commands
            .iter()
            .filter(|c| is_cmd(c))
            .find_map(|c| unpinned(c, drop, skip, &pinned).map(|n| (c, n)));
        if let Some((c, n)) = found {
            let at = cx.shell_span(i, &c.args[n].span);
            cx.hit(rule, i).at(at);
        }
    }
}

pub(super) fn dl3008<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    each_unpinned(
        cx,
        s,
        "DL3008",
        |c| c.is("apt-get", &["install"]),
        &["t", "target-release"],
        &["install"],
        |p| p.contains('=') || p.contains('/') || p.ends_with(".deb"),
    );
}

/// A FROM as hadolint compares them: image as written, alias, platform.
type FromKey = (String, Option<String>, Option<String>);

pub(super) fn dl3009<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    // hadolint compares whole FROM instructions: a RUN is reported when its stage is the last one (or an
    // identical FROM), or when its stage's alias is used as an image name by some FROM.
    let key = |i: &Inst<'_>| -> Option<(String, Option<String>, Option<String>)> {
        let st = stage_image(cx.m, i)?;
        Some((st.image_raw.clone(), st.alias.clone(), st.platform.clone()))
    };
    let mut images: BTreeSet<String> = BTreeSet::new();
    let mut current: Option<(String, Option<String>, Option<String>)> = None;
    let mut forgets: Vec<(&'m Inst<'a>, Option<FromKey>)> = Vec::new();
    for i in s {
        match i.kw {
            Kw::From => {
                current = key(i);
                if let Some(st) = stage_image(cx.m, i) {
                    images.insert(st.image.name.clone());
                }
            }
            Kw::Run => {
                let Some(sc) = i.script() else { continue };
                let update = sc.commands.iter().any(|c| {
                    c.is("apt", &["update"]) || c.is("apt-get", &["update"]) || c.is("aptitude", &["update"])
                });
                let cleanup = sc.commands.iter().any(|c| c.is("rm", &["-rf", "/var/lib/apt/lists/*"]));
                if !update || cleanup {
                    continue;
                }
                if has_cache_mount(i, "/var/lib/apt/lists")
                    || (has_cache_mount(i, "/var/lib/apt") && has_cache_mount(i, "/var/cache/apt"))
                {
                    continue;
                }
                forgets.push((*i, current.clone()));
            }
            _ => {}
        }
    }
    for (i, from) in forgets {
        let report =
            from == current || from.as_ref().and_then(|f| f.1.as_ref()).is_some_and(|a| images.contains(a));
        if report {
            let fix = dl3009_fix(cx, i);
            cx.hit("DL3009", i).fix(fix);
        }
    }
}

/// Appends the apt lists cleanup to a shell-form RUN without heredocs.
fn dl3009_fix(cx: &Cx<'_, '_>, i: &Inst<'_>) -> Option<Fix> {
    if i.json || !i.heredocs.is_empty() {
        return None;
    }
    let (t, sc) = i.shell.as_ref()?;
    t.map.as_ref()?;
    let trimmed = t.text.trim_end();
    if trimmed.ends_with('&') || trimmed.ends_with('|') || sc.error.is_some() || trimmed.contains('#') {
        return None;
    }
    let end = t.to_source(&(trimmed.len()..trimmed.len())).or_else(|| {
        let n = trimmed.len();
        t.to_source(&(n.saturating_sub(1)..n)).map(|r| r.end..r.end)
    })?;
    let sep = if trimmed.ends_with(';') { " " } else { " && " };
    let _ = cx;
    Some(Fix::insert(end.start, format!("{sep}rm -rf /var/lib/apt/lists/*")))
}

const ARCHIVES: &[&str] = &[
    ".tar", ".Z", ".bz2", ".gz", ".lz", ".lzma", ".tZ", ".tb2", ".tbz", ".tbz2", ".tgz", ".tlz", ".tpz",
    ".txz", ".xz",
];

fn is_archive(p: &str) -> bool {
    let p = drop_quotes(p);
    ARCHIVES.iter().any(|e| p.ends_with(e))
}

fn basename(p: &str) -> &str {
    let p = drop_quotes(p);
    p.rsplit(['/', '\\']).next().unwrap_or(p)
}

/// `(sources, destination)` of COPY/ADD as hadolint splits them (quotes kept for the shell form).
pub(super) fn copy_paths<'x>(
    i: &'x Inst<'_>,
) -> Option<(&'x [kiln_dockerfile::Token], &'x kiln_dockerfile::Token)> {
    let (dest, srcs) = i.args.split_last()?;
    Some((srcs, dest))
}

pub(super) fn dl3010<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    // hadolint resets everything (reports included) at each FROM: only the last stage is reported.
    let mut archives: Vec<(&'m Inst<'a>, String)> = Vec::new();
    let mut extracted: Vec<&'m Inst<'a>> = Vec::new();
    for i in s {
        match i.kw {
            Kw::From => {
                archives.clear();
                extracted.clear();
            }
            Kw::Copy if i.copy_from().is_none() => {
                let Some((srcs, dest)) = copy_paths(i) else { continue };
                if is_archive(&dest.value) {
                    archives.push((*i, basename(&dest.value).to_owned()));
                } else {
                    for src in srcs.iter().filter(|t| is_archive(&t.value)) {
                        archives.push((*i, basename(&src.value).to_owned()));
                    }
                }
            }
            Kw::Run => {
                let Some(sc) = i.script() else { continue };
                for (copy, name) in &archives {
                    let hit = sc.commands.iter().any(|c| {
                        let tar = c.name == "tar"
                            && c.arg_texts().any(|a| {
                                a == "--extract" || a == "--get" || (a.starts_with('-') && a.contains('x'))
                            });
                        let unzip = matches!(
                            c.name.as_str(),
                            "unzip"
                                | "gunzip"
                                | "bunzip2"
                                | "unlzma"
                                | "unxz"
                                | "zgz"
                                | "uncompress"
                                | "zcat"
                                | "gzcat"
                        );
                        (tar || unzip) && c.plain_arg_texts(&[]).iter().any(|a| basename(a) == name)
                    });
                    if hit && !extracted.iter().any(|e| std::ptr::eq(*e, *copy)) {
                        extracted.push(copy);
                    }
                }
            }
            _ => {}
        }
    }
    extracted.sort_by_key(|i| i.line);
    extracted.dedup_by_key(|i| i.line);
    for i in extracted {
        cx.hit("DL3010", i);
    }
}

pub(super) fn dl3011<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    for i in s.iter().filter(|i| i.kw == Kw::Expose) {
        let bad = i.args.iter().find(|a| {
            let v = a.value.split('/').next().unwrap_or("");
            if v.starts_with('$') {
                return false;
            }
            v.split('-').any(|p| p.parse::<u64>().is_ok_and(|n| n > 65535))
        });
        if let Some(a) = bad {
            let at = Some(a.span.range());
            cx.hit("DL3011", i).at(at);
        }
    }
}

/// Reports the second and later `kw` of each stage.
fn each_repeat<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>], kw: Kw, rule: &'static str) {
    let mut seen = false;
    for i in s {
        if i.kw == Kw::From {
            seen = false;
        } else if i.kw == kw {
            if seen {
                cx.hit(rule, i);
            }
            seen = true;
        }
    }
}

pub(super) fn dl3012<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    each_repeat(cx, s, Kw::Healthcheck, "DL3012");
}

/// hadolint's `isPipInstall`.
fn is_pip_install(c: &Command) -> bool {
    let args: Vec<&str> = c.arg_texts().collect();
    (c.name.starts_with("pip") && !c.name.starts_with("pipenv") && args.contains(&"install"))
        || (c.name.starts_with("python") && args.windows(3).any(|w| w == ["-m", "pip", "install"]))
}

const PIP_VALUE_FLAGS: &[&str] = &[
    "abi",
    "b",
    "build",
    "e",
    "editable",
    "extra-index-url",
    "f",
    "find-links",
    "i",
    "index-url",
    "implementation",
    "no-binary",
    "only-binary",
    "platform",
    "prefix",
    "progress-bar",
    "proxy",
    "python",
    "python-version",
    "root",
    "root-user-action",
    "src",
    "t",
    "target",
    "trusted-host",
    "upgrade-strategy",
];

const VCS: &[&str] = &[
    "git+file",
    "git+https",
    "git+ssh",
    "git+http",
    "git+git",
    "git",
    "hg+file",
    "hg+http",
    "hg+https",
    "hg+ssh",
    "hg+static-http",
    "svn",
    "svn+svn",
    "svn+http",
    "svn+https",
    "svn+ssh",
    "bzr+http",
    "bzr+https",
    "bzr+ssh",
    "bzr+sftp",
    "bzr+ftp",
    "bzr+lp",
];

/// The arguments after the first `install` (hadolint's `stripInstallPrefix`).
fn after_install(args: Vec<usize>, c: &Command) -> Vec<usize> {
    let mut it = args.into_iter().skip_while(|&n| c.args[n].text != "install").peekable();
    while it.peek().is_some_and(|&n| c.args[n].text == "install") {
        it.next();
    }
    it.collect()
}

pub(super) fn dl3013<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    let pinned = |p: &str| {
        let vcs = VCS.iter().any(|v| p.starts_with(v));
        ["==", ">=", "<=", ">", "<", "!=", "~=", "==="].iter().any(|v| p.contains(v))
            || (vcs && p.contains('@'))
            || p.ends_with(".whl")
            || p.ends_with(".tar.gz")
            || (!vcs && p.contains('/'))
    };
    for (i, sc) in runs(s) {
        let found = sc.commands.iter().find_map(|c| {
            if !is_pip_install(c) || c.has_flag("constraint") || c.has_flag("c") {
                return None;
            }
            if c.arg_texts().any(|a| a == "--requirement" || a == "-r" || a == ".") {
                return None;
            }
            let pkgs = after_install(c.plain_args(PIP_VALUE_FLAGS), c);
            pkgs.into_iter().find(|&n| c.args[n].text != "--" && !pinned(&c.args[n].text)).map(|n| (c, n))
        });
        if let Some((c, n)) = found {
            let at = cx.shell_span(i, &c.args[n].span);
            cx.hit("DL3013", i).at(at);
        }
    }
}

pub(super) fn dl3014<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    for (i, sc) in runs(s) {
        let bad: Vec<&Command> = sc
            .commands
            .iter()
            .filter(|c| {
                c.is("apt-get", &["install"])
                    && !(c.has_any_flag(&["y", "yes", "qq", "assume-yes"])
                        || c.count_flag("q") == 2
                        || c.count_flag("quiet") == 2
                        || c.has_arg("-q=2"))
            })
            .collect();
        if let Some(&c) = bad.first() {
            let fix = insert_after_word(cx, i, &bad, "install", "-y");
            let at = cx.shell_span(i, &c.span);
            cx.hit("DL3014", i).at(at).fix(fix);
        }
    }
}

pub(super) fn dl3015<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    for (i, sc) in runs(s) {
        let bad: Vec<&Command> = sc
            .commands
            .iter()
            .filter(|c| {
                c.is("apt-get", &["install"])
                    && !(c.has_flag("no-install-recommends") || c.has_arg("APT::Install-Recommends=false"))
            })
            .collect();
        if let Some(&c) = bad.first() {
            let fix = insert_after_word(cx, i, &bad, "install", "--no-install-recommends");
            let at = cx.shell_span(i, &c.span);
            cx.hit("DL3015", i).at(at).fix(fix);
        }
    }
}

pub(super) fn dl3016<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    let pinned = |p: &str| {
        if ["git://", "git+ssh://", "git+http://", "git+https://"].iter().any(|g| p.starts_with(g)) {
            return p.contains('#');
        }
        if [".tar", ".tar.gz", ".tgz"].iter().any(|e| p.ends_with(e))
            || ["/", "./", "../", "~/"].iter().any(|d| p.starts_with(d))
        {
            return true;
        }
        let rest = if p.starts_with('@') { p.trim_start_matches(|c: char| c > '/') } else { p };
        rest.contains('@')
    };
    for (i, sc) in runs(s) {
        let found = sc.commands.iter().find_map(|c| {
            if !c.is("npm", &["install"]) {
                return None;
            }
            let plain = c.plain_args(&["loglevel", "registry"]);
            if plain.first().is_none_or(|&n| c.args[n].text != "install") {
                return None;
            }
            after_install(plain, c)
                .into_iter()
                .find(|&n| c.args[n].text != "--" && !pinned(&c.args[n].text))
                .map(|n| (c, n))
        });
        if let Some((c, n)) = found {
            let at = cx.shell_span(i, &c.args[n].span);
            cx.hit("DL3016", i).at(at);
        }
    }
}

pub(super) fn dl3018<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    each_unpinned(
        cx,
        s,
        "DL3018",
        |c| c.is("apk", &["add"]),
        &["t", "virtual", "repository", "X"],
        &["add"],
        |p| ["=", "~", ">", "<"].iter().any(|v| p.contains(v)) || p.ends_with(".apk"),
    );
}

pub(super) fn dl3019<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    for (i, sc) in runs(s) {
        if has_cache_mount(i, "/var/cache/apk") {
            continue;
        }
        let bad: Vec<&Command> =
            sc.commands.iter().filter(|c| c.is("apk", &["add"]) && !c.has_flag("no-cache")).collect();
        if let Some(&c) = bad.first() {
            let fix = insert_after_word(cx, i, &bad, "add", "--no-cache");
            let at = cx.shell_span(i, &c.span);
            cx.hit("DL3019", i).at(at).fix(fix);
        }
    }
}

pub(super) fn dl3020<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    for i in s.iter().filter(|i| i.kw == Kw::Add) {
        let Some((srcs, _)) = copy_paths(i) else { continue };
        let bad = srcs.iter().find(|t| {
            let p = drop_quotes(&t.value);
            !(is_archive(p) || p.starts_with("https://") || p.starts_with("http://"))
        });
        if let Some(t) = bad {
            let at = Some(t.span.range());
            cx.hit("DL3020", i).at(at);
        }
    }
}

pub(super) fn dl3021<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    for i in s.iter().filter(|i| i.kw == Kw::Copy) {
        let Some((srcs, dest)) = copy_paths(i) else { continue };
        if srcs.len() > 1 && !drop_quotes(&dest.value).ends_with('/') {
            let at = Some(dest.span.range());
            cx.hit("DL3021", i).at(at);
        }
    }
}

pub(super) fn dl3022<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    let mut names: BTreeSet<String> = BTreeSet::new();
    let mut count = 0usize;
    for i in s {
        match i.kw {
            Kw::From => {
                count += 1;
                if let Some(a) = stage_image(cx.m, i).and_then(|st| st.alias.clone()) {
                    names.insert(a);
                }
            }
            Kw::Copy => {
                let Some((f, v)) = i.copy_from() else { continue };
                let v = v.to_owned();
                if drop_quotes(&v).contains(':') || names.contains(&v) {
                    continue;
                }
                let digits: String = v.chars().take_while(char::is_ascii_digit).collect();
                if digits.parse::<usize>().is_ok_and(|n| n < count) {
                    continue;
                }
                let at = Some(f.span.range());
                cx.hit("DL3022", i).at(at);
            }
            _ => {}
        }
    }
}

pub(super) fn dl3023<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    let mut alias: Option<String> = None;
    let mut in_stage = false;
    for i in s {
        match i.kw {
            Kw::From => {
                in_stage = true;
                alias = stage_image(cx.m, i).and_then(|st| st.alias.clone());
            }
            Kw::Copy if in_stage => {
                let Some((f, v)) = i.copy_from() else { continue };
                if alias.as_deref() == Some(v) {
                    let at = Some(f.span.range());
                    cx.hit("DL3023", i).at(at);
                }
            }
            _ => {}
        }
    }
}

pub(super) fn dl3024<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    let mut seen = BTreeSet::new();
    for i in s.iter().filter(|i| i.kw == Kw::From) {
        let Some(a) = stage_image(cx.m, i).and_then(|st| st.alias.clone()) else { continue };
        if !seen.insert(a) {
            let at = i.args.get(2).map(|t| t.span.range());
            cx.hit("DL3024", i).at(at);
        }
    }
}

pub(super) fn dl3025<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    for i in s {
        let shell_form = match i.kw {
            Kw::Cmd | Kw::Entrypoint => !i.json,
            Kw::Healthcheck => !i.json && i.args.first().is_some_and(|a| a.value.eq_ignore_ascii_case("cmd")),
            _ => false,
        };
        if shell_form {
            cx.hit("DL3025", i);
        }
    }
}

/// language-docker's `IsString Image`: a registry when the part before the first `/` has a `.`.
fn image_of_string(s: &str) -> ImageRef {
    match s.split_once('/') {
        Some((reg, rest)) if reg.contains('.') => {
            ImageRef { registry: Some(reg.to_owned()), name: rest.to_owned(), ..ImageRef::default() }
        }
        _ => ImageRef { name: s.to_owned(), ..ImageRef::default() },
    }
}

fn match_registry(allow: &str, registry: &str) -> bool {
    if allow == "*" {
        true
    } else if let Some(suffix) = allow.strip_prefix('*') {
        registry.ends_with(suffix)
    } else if let Some(prefix) = allow.strip_suffix('*') {
        registry.starts_with(prefix)
    } else {
        registry == allow
    }
}

pub(super) fn dl3026<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    let allowed = &cx.cfg.trusted_registries;
    if allowed.is_empty() {
        return;
    }
    let registry_ok = |r: &str| allowed.iter().any(|a| match_registry(a, r));
    let image_ok = |aliases: &BTreeSet<String>, img: &ImageRef| {
        aliases.contains(&img.name)
            || match &img.registry {
                Some(r) => registry_ok(r),
                None => img.name == "scratch" || registry_ok("docker.io") || registry_ok("hub.docker.com"),
            }
    };
    let mut aliases: BTreeSet<String> = BTreeSet::new();
    for i in s {
        match i.kw {
            Kw::From => {
                let Some(st) = stage_image(cx.m, i) else { continue };
                let ok = image_ok(&aliases, &st.image);
                if let Some(a) = &st.alias {
                    aliases.insert(a.clone());
                }
                if !ok {
                    let at = i.args.first().map(|t| t.span.range());
                    cx.hit("DL3026", i).at(at);
                }
            }
            Kw::Copy => {
                let Some((f, v)) = i.copy_from() else { continue };
                if !image_ok(&aliases, &image_of_string(v)) {
                    let at = Some(f.span.range());
                    cx.hit("DL3026", i).at(at);
                }
            }
            Kw::Run => {
                let bad = i.flags.iter().filter(|f| f.name() == "mount").any(|f| {
                    let v = f.value().unwrap_or("");
                    let mut ty = "bind";
                    let mut from = None;
                    for kv in v.split(',') {
                        match kv.split_once('=') {
                            Some(("type", t)) => ty = t,
                            Some(("from", x)) => from = Some(x),
                            _ => {}
                        }
                    }
                    matches!(ty, "bind" | "cache")
                        && !image_ok(&aliases, &image_of_string(from.unwrap_or("scratch")))
                });
                if bad {
                    cx.hit("DL3026", i);
                }
            }
            _ => {}
        }
    }
}

pub(super) fn dl3027<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    each_bad_command(cx, s, "DL3027", |c| c.name == "apt");
}

pub(super) fn dl3028<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    for (i, sc) in runs(s) {
        let found = sc.commands.iter().find_map(|c| {
            if !c.is("gem", &["install", "i"])
                || c.is("gem", &["-v", "--version"])
                || c.arg_texts().any(|a| a.starts_with("--version="))
            {
                return None;
            }
            let mut n = 0;
            while n < c.args.len() {
                let t = c.args[n].text.as_str();
                if t == "--" {
                    break;
                }
                if t.starts_with('-') {
                    n += 2;
                    continue;
                }
                if t != "install" && t != "i" && !t.contains(':') {
                    return Some((c, n));
                }
                n += 1;
            }
            None
        });
        if let Some((c, n)) = found {
            let at = cx.shell_span(i, &c.args[n].span);
            cx.hit("DL3028", i).at(at);
        }
    }
}

pub(super) fn dl3029<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    for i in s.iter().filter(|i| i.kw == Kw::From) {
        let Some(f) = i.flag("platform") else { continue };
        let p = f.value().unwrap_or("");
        if !(p.contains("BUILDPLATFORM") || p.contains("TARGETPLATFORM")) {
            let at = Some(f.span.range());
            cx.hit("DL3029", i).at(at);
        }
    }
}

pub(super) fn dl3030<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    each_bad_command(cx, s, "DL3030", |c| {
        c.is("yum", &["install", "groupinstall", "localinstall"]) && !c.has_any_flag(&["y", "assumeyes"])
    });
}

/// Reports RUNs that run `install` without a later `clean` (by first command positions, as hadolint).
fn missing_clean<'m, 'a>(
    cx: &mut Cx<'m, 'a>,
    s: &[&'m Inst<'a>],
    rule: &'static str,
    install: impl Fn(&Command) -> bool,
    clean: impl Fn(&Command) -> bool,
    mount_ok: impl Fn(&Inst<'_>) -> bool,
) {
    for (i, sc) in runs(s) {
        let Some(ii) = sc.position(&install) else { continue };
        if mount_ok(i) {
            continue;
        }
        if sc.position(&clean).is_some_and(|ci| ii < ci) {
            continue;
        }
        let at = cx.shell_span(i, &sc.commands[ii].span);
        cx.hit(rule, i).at(at);
    }
}

pub(super) fn dl3032<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    missing_clean(
        cx,
        s,
        "DL3032",
        |c| c.is("yum", &["install"]),
        |c| c.is("yum", &["clean", "all"]) || c.is("rm", &["-rf", "/var/cache/yum/*"]),
        |_| false,
    );
}

/// hadolint's version check for rpm package names (`name-version`).
fn rpm_version_fixed(vars: &BTreeSet<String>, p: &str) -> bool {
    let parts: Vec<&str> = p.split('-').collect();
    if parts.len() <= 1 {
        return false;
    }
    if p.ends_with(".rpm") {
        return true;
    }
    if p.contains('$') {
        return vars.iter().any(|v| p.contains(&format!("${{{v}}}")));
    }
    let rest = &parts[1..];
    rest.iter().all(|part| part.chars().all(|c| c.is_ascii_alphanumeric() || ".~^_:+".contains(c)))
        && rest.iter().any(|part| part.starts_with(|c: char| c.is_ascii_digit()))
}

/// Tracks, per stage, the ENV names visible (inherited from a base stage) and the ARG names seen anywhere,
/// the way DL3033/DL3041 do.
struct RpmVars {
    aliases: Vec<String>,
    envs: Vec<BTreeSet<String>>,
    stage: usize,
    args: BTreeSet<String>,
}

impl RpmVars {
    fn new() -> Self {
        RpmVars { aliases: vec![String::new()], envs: vec![BTreeSet::new()], stage: 0, args: BTreeSet::new() }
    }

    fn step(&mut self, m: &Model<'_>, i: &Inst<'_>) {
        match i.kw {
            Kw::Env => {
                for (k, _) in hadolint_pairs(i, m.escape) {
                    self.envs[self.stage].insert(k);
                }
            }
            Kw::Arg => {
                for (k, _) in i.arg_defs() {
                    self.args.insert(k);
                }
            }
            Kw::From => {
                let (image, alias) =
                    stage_image(m, i).map(|st| (st.image.name.clone(), st.alias.clone())).unwrap_or_default();
                let inherit = self
                    .aliases
                    .iter()
                    .position(|a| *a == image && !a.is_empty())
                    .map(|n| self.envs[n].clone())
                    .unwrap_or_default();
                self.aliases.push(alias.unwrap_or_default());
                self.envs.push(inherit);
                self.stage = self.envs.len() - 1;
            }
            _ => {}
        }
    }

    fn vars(&self) -> BTreeSet<String> {
        self.envs[self.stage].union(&self.args).cloned().collect()
    }
}

fn rpm_versions<'m, 'a>(
    cx: &mut Cx<'m, 'a>,
    s: &[&'m Inst<'a>],
    rule: &'static str,
    names: &[&str],
    skip_with: &[&str],
) {
    let mut vars = RpmVars::new();
    for i in s {
        vars.step(cx.m, i);
        let Some(sc) = i.script().filter(|_| i.kw == Kw::Run) else { continue };
        let known = vars.vars();
        let found = sc.commands.iter().find_map(|c| {
            if !c.is_any(names, &["install"]) {
                return None;
            }
            let module = c.is_any(names, &["module"]);
            if !module && c.is_any(names, skip_with) {
                return None;
            }
            let plain = c.plain_args(&[]);
            plain
                .into_iter()
                .find(|&n| {
                    let t = c.args[n].text.as_str();
                    if t == "install" || t == "module" || t == "--" {
                        return false;
                    }
                    if module { !t.contains(':') } else { !rpm_version_fixed(&known, t) }
                })
                .map(|n| (c, n))
        });
        if let Some((c, n)) = found {
            let at = cx.shell_span(i, &c.args[n].span);
            cx.hit(rule, i).at(at);
        }
    }
}

pub(super) fn dl3033<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    rpm_versions(cx, s, "DL3033", &["yum"], &["module"]);
}

pub(super) fn dl3034<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    each_bad_command(cx, s, "DL3034", |c| {
        c.is("zypper", &["install", "in", "remove", "rm", "source-install", "si", "patch"])
            && !c.has_any_flag(&["non-interactive", "n", "no-confirm", "y"])
    });
}

pub(super) fn dl3035<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    each_bad_command(cx, s, "DL3035", |c| c.is("zypper", &["dist-upgrade", "dup"]));
}

pub(super) fn dl3036<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    missing_clean(
        cx,
        s,
        "DL3036",
        |c| c.is("zypper", &["install", "in"]),
        |c| c.is("zypper", &["clean", "cc"]),
        |i| has_cache_mount(i, "/var/cache/zypp"),
    );
}

pub(super) fn dl3037<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    each_unpinned(
        cx,
        s,
        "DL3037",
        |c| c.is("zypper", &["install", "in"]),
        &[],
        &["install", "in"],
        |p| ["=", ">", "<"].iter().any(|v| p.contains(v)) || p.ends_with(".rpm"),
    );
}

pub(super) fn dl3038<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    each_bad_command(cx, s, "DL3038", |c| {
        c.is_any(&["dnf", "microdnf"], &["install", "groupinstall", "localinstall"])
            && !c.has_any_flag(&["y", "assumeyes"])
    });
}

pub(super) fn dl3040<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    const INSTALL: &[&str] =
        &["install", "in", "upgrade", "up", "upgrade-minimal", "up-min", "reinstall", "rei"];
    for (i, sc) in runs(s) {
        if has_cache_mount(i, "/var/cache/libdnf5") || has_cache_mount(i, ".cache/libdnf5") {
            continue;
        }
        let missing = ["dnf", "microdnf"].iter().find_map(|name| {
            let ii = sc.position(|c| c.is(name, INSTALL))?;
            let ci =
                sc.position(|c| c.is(name, &["clean", "all"]) || c.is("rm", &["-rf", "/var/cache/libdnf5*"]));
            (ci.is_none_or(|ci| ii >= ci)).then_some(ii)
        });
        if let Some(ii) = missing {
            let at = cx.shell_span(i, &sc.commands[ii].span);
            cx.hit("DL3040", i).at(at);
        }
    }
}

pub(super) fn dl3041<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    rpm_versions(cx, s, "DL3041", &["dnf", "microdnf"], &["module", "group"]);
}

const TRUTHY: &[&str] = &["1", "true", "True", "TRUE", "on", "On", "ON", "yes", "Yes", "YES"];

pub(super) fn dl3042<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    // PIP_NO_CACHE_DIR set by ENV, per stage (inherited through `FROM <stage>`).
    let mut no_cache = StageFlag::default();
    for i in s {
        match i.kw {
            Kw::From => no_cache.enter(cx.m, i),
            Kw::Env => {
                let pairs = hadolint_pairs(i, cx.m.escape);
                if let Some((_, v)) = pairs.iter().find(|(k, _)| k == "PIP_NO_CACHE_DIR")
                    && TRUTHY.contains(&v.as_str())
                {
                    no_cache.set();
                }
            }
            Kw::Run => {
                let Some(sc) = i.script() else { continue };
                if no_cache.is_set() {
                    continue;
                }
                if let Some(pos) = sc.text.find("PIP_NO_CACHE_DIR=") {
                    let after = &sc.text[pos..];
                    let value = after.split_once('=').map_or("", |(_, v)| v);
                    if TRUTHY.iter().any(|t| value.starts_with(t)) {
                        continue;
                    }
                }
                if has_cache_mount(i, ".cache/pip") {
                    continue;
                }
                let bad: Vec<&Command> = sc
                    .commands
                    .iter()
                    .filter(|c| {
                        let wrapper = ["pipx", "pipenv"].iter().any(|w| {
                            c.name.contains(w)
                                || (c.name.starts_with("python")
                                    && c.args.windows(2).any(|a| a[0].text == "-m" && a[1].text == *w))
                        });
                        is_pip_install(c) && !c.has_arg("--no-cache-dir") && !wrapper
                    })
                    .collect();
                if let Some(&c) = bad.first() {
                    let fix = insert_after_word(cx, i, &bad, "install", "--no-cache-dir");
                    let at = cx.shell_span(i, &c.span);
                    cx.hit("DL3042", i).at(at).fix(fix);
                }
            }
            _ => {}
        }
    }
}

pub(super) fn dl3043<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    for i in s.iter().filter(|i| i.kw == Kw::Onbuild) {
        if let Some(c) = &i.child
            && matches!(c.kw, Kw::Onbuild | Kw::From | Kw::Maintainer)
        {
            let at = Some(c.keyword.span.range());
            cx.hit("DL3043", i).at(at);
        }
    }
}

/// Whether `$var` or `${var}` occurs in `text` (a bare `$var` must not continue as a longer name).
pub(super) fn references(text: &str, var: &str) -> bool {
    if text.contains(&format!("${{{var}}}")) {
        return true;
    }
    let bare = format!("${var}");
    let mut parts = text.split(bare.as_str());
    parts.next();
    parts.any(|rest| !rest.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_'))
}

pub(super) fn dl3044<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    let mut defined: BTreeSet<String> = BTreeSet::new();
    for i in s {
        match i.kw {
            Kw::Env => {
                let pairs = hadolint_pairs(i, cx.m.escape);
                let bad = pairs.iter().enumerate().any(|(n, (var, _))| {
                    !defined.contains(var)
                        && pairs.iter().enumerate().any(|(o, (_, v))| o != n && references(v, var))
                });
                defined.extend(pairs.into_iter().map(|(k, _)| k));
                if bad {
                    cx.hit("DL3044", i);
                }
            }
            Kw::Arg => defined.extend(i.arg_defs().into_iter().map(|(k, _)| k)),
            _ => {}
        }
    }
}

pub(super) fn dl3045<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    let mut workdir = StageFlag::default();
    for i in s {
        match i.kw {
            Kw::From => workdir.enter(cx.m, i),
            Kw::Workdir => workdir.set(),
            Kw::Copy => {
                let Some((_, dest)) = copy_paths(i) else { continue };
                if workdir.is_set() {
                    continue;
                }
                let d = drop_quotes(&dest.value);
                if d.starts_with('/') || is_windows_absolute(d) || d.starts_with('$') {
                    continue;
                }
                let at = Some(dest.span.range());
                cx.hit("DL3045", i).at(at);
            }
            _ => {}
        }
    }
}

pub(super) fn dl3046<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    each_bad_command(cx, s, "DL3046", |c| {
        c.name == "useradd"
            && !c.has_any_flag(&["l", "no-log-init"])
            && c.has_any_flag(&["u", "uid"])
            && c.flag_values("u").iter().any(|v| v.chars().count() > 5)
    });
}

pub(super) fn dl3047<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    each_bad_command(cx, s, "DL3047", |c| {
        c.name == "wget"
            && !c.has_flag("progress")
            && !(c.has_any_flag(&["q", "quiet", "o", "output-file", "a", "append-output", "no-verbose"])
                || c.has_arg("-nv"))
    });
}

pub(super) fn dl3057<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    // Stages without HEALTHCHECK; a stage is good when it or a stage built on it has one.
    struct St {
        src: String,
        name: String,
        inst: usize,
    }
    let mut stages: Vec<St> = Vec::new();
    let mut good: Vec<bool> = Vec::new();
    for (n, i) in s.iter().enumerate() {
        match i.kw {
            Kw::From => {
                let Some(st) = stage_image(cx.m, i) else { continue };
                let src = st.image.name.clone();
                let name = st.alias.clone().unwrap_or_else(|| src.clone());
                let inherits = stages.iter().zip(&good).any(|(p, g)| *g && p.name == src);
                stages.push(St { src, name, inst: n });
                good.push(inherits);
            }
            Kw::Healthcheck => {
                let Some(cur) = stages.len().checked_sub(1) else { continue };
                good[cur] = true;
                // Stages this one is built from (recursively) are good too.
                let mut frontier = vec![cur];
                while let Some(g) = frontier.pop() {
                    for (k, st) in stages.iter().enumerate() {
                        if !good[k] && st.name == stages[g].src {
                            good[k] = true;
                            frontier.push(k);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    for (st, g) in stages.iter().zip(good) {
        if !g {
            cx.hit("DL3057", s[st.inst]);
        }
    }
}

pub(super) fn dl3059<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    let flags_of = |i: &Inst<'_>| {
        let mut f: Vec<String> = i.flags.iter().map(|f| f.raw.clone()).collect();
        f.sort();
        f.dedup();
        f
    };
    let mut prev: Option<(&'m Inst<'a>, Vec<String>, usize)> = None;
    for i in s {
        if i.kw != Kw::Run {
            prev = None;
            continue;
        }
        let count = i.script().map_or(0, Script::command_count);
        let flags = flags_of(i);
        match &prev {
            Some((p, pf, pc)) if *pf == flags && count <= 2 && *pc <= 2 => {
                let fix = merge_runs(cx.m, p, i);
                cx.hit("DL3059", i).fix(fix);
            }
            _ => {}
        }
        prev = Some((*i, flags, count));
    }
}

/// Joins RUN `b` to RUN `a` (`a && \\` newline `b`) when that runs the same commands: both shell form
/// without heredocs or comments, same flags, on consecutive lines, and `a` changes no shell state (no `cd`,
/// `export`, `set`, assignments, functions…). The line count stays the same.
fn merge_runs(m: &Model<'_>, a: &Inst<'_>, b: &Inst<'_>) -> Option<Fix> {
    if a.json
        || b.json
        || !a.heredocs.is_empty()
        || !b.heredocs.is_empty()
        || a.child.is_some()
        || b.child.is_some()
    {
        return None;
    }
    let (at, asc) = a.shell.as_ref()?;
    let (bt, bsc) = b.shell.as_ref()?;
    if asc.error.is_some() || bsc.error.is_some() || at.map.is_none() || bt.map.is_none() || asc.changes_state
    {
        return None;
    }
    if at.text.contains('#') || bt.text.contains('#') {
        return None;
    }
    let a_trim = at.text.trim_end();
    if a_trim.is_empty() || a_trim.ends_with(['&', ';', '|']) || bt.text.trim().is_empty() {
        return None;
    }
    // `&&` joins commands in POSIX shells (and cmd); a SHELL like PowerShell 5 would not accept it.
    let shell = m
        .insts
        .iter()
        .filter(|i| i.span.start < a.span.start)
        .rev()
        .find(|i| matches!(i.kw, Kw::Shell | Kw::From));
    if let Some(sh) = shell.filter(|i| i.kw == Kw::Shell) {
        let first = sh.args.first().map_or("", |t| t.value.as_str());
        let name = first.rsplit('/').next().unwrap_or(first);
        if !["sh", "bash", "ash", "dash", "zsh", "ksh"].contains(&name) {
            return None;
        }
    }
    let between = m.source.get(a.span.end..b.span.start)?;
    if !between.trim().is_empty() || between.matches('\n').count() != 1 {
        return None;
    }
    let b_args = b.args.first()?;
    let a_end = at.to_source(&(0..a_trim.len()))?.end;
    Some(Fix::replace(a_end..b_args.span.start, format!(" && {}\n    ", m.escape)))
}

pub(super) fn dl3060<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    let key = |i: &Inst<'_>| {
        stage_image(cx.m, i).map(|st| (st.image_raw.clone(), st.alias.clone(), st.platform.clone()))
    };
    let mut images: BTreeSet<String> = BTreeSet::new();
    let mut current = None;
    let mut flagged: Vec<(&'m Inst<'a>, Option<FromKey>)> = Vec::new();
    for i in s {
        match i.kw {
            Kw::From => {
                current = key(i);
                if let Some(st) = stage_image(cx.m, i) {
                    images.insert(st.image.name.clone());
                }
            }
            Kw::Run => {
                let Some(sc) = i.script() else { continue };
                let install = |c: &Command| c.is("yarn", &["install"]);
                let clean = |c: &Command| c.name == "yarn" && c.has_arg("cache") && c.has_arg("clean");
                if !sc.commands.iter().any(install) {
                    continue;
                }
                let has_clean = sc.commands.iter().any(clean);
                let bad = if !has_clean {
                    !has_cache_mount(i, ".cache/yarn")
                } else {
                    matches!((sc.position(clean), sc.position(install)), (Some(c), Some(n)) if c < n)
                };
                if bad {
                    flagged.push((*i, current.clone()));
                }
            }
            _ => {}
        }
    }
    for (i, from) in flagged {
        if from == current || from.as_ref().and_then(|f| f.1.as_ref()).is_some_and(|a| images.contains(a)) {
            cx.hit("DL3060", i);
        }
    }
}

pub(super) fn dl3061<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    let mut seen_from = false;
    for i in s {
        match i.kw {
            Kw::From => seen_from = true,
            Kw::Arg => {}
            _ if !seen_from => {
                cx.hit("DL3061", i);
            }
            _ => {}
        }
    }
}

pub(super) fn dl3062<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    let ok = |p: &str| {
        p == "."
            || p.starts_with('/')
            || p.starts_with('.')
            || (p.contains('@') && !p.ends_with("@latest") && !p.ends_with("@none"))
    };
    for (i, sc) in runs(s) {
        // `go run pkg` decides when present; otherwise `go install`/`go get` packages.
        let run: Vec<(&Command, usize)> = sc
            .commands
            .iter()
            .filter(|c| c.is("go", &["run"]))
            .flat_map(|c| {
                c.plain_args(&[])
                    .into_iter()
                    .take(2)
                    .filter(|&n| c.args[n].text != "run")
                    .map(move |n| (c, n))
            })
            .collect();
        let pkgs: Vec<(&Command, usize)> = if run.is_empty() {
            sc.commands
                .iter()
                .filter(|c| c.is("go", &["install", "get"]))
                .flat_map(|c| {
                    c.plain_args(&[])
                        .into_iter()
                        .filter(|&n| !["install", "get", "tool"].contains(&c.args[n].text.as_str()))
                        .map(move |n| (c, n))
                })
                .collect()
        } else {
            run
        };
        if let Some((c, n)) = pkgs.into_iter().find(|(c, n)| !ok(&c.args[*n].text)) {
            let at = cx.shell_span(i, &c.args[n].span);
            cx.hit("DL3062", i).at(at);
        }
    }
}

pub(super) fn dl3063<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    for i in s.iter().filter(|i| i.kw == Kw::From) {
        if let Some(a) = stage_image(cx.m, i).and_then(|st| st.alias.as_deref())
            && (a == "scratch" || a == "context")
        {
            let at = i.args.get(2).map(|t| t.span.range());
            cx.hit("DL3063", i).at(at);
        }
    }
}

const SENSITIVE: &[&str] = &[
    "ACCESS_TOKEN",
    "APPLICATION_KEY",
    "APP_SECRET",
    "AUTH_TOKEN",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "BITTREX_API_KEY",
    "BITTREX_API_SECRET",
    "CF_PASSWORD",
    "CF_USERNAME",
    "CIRCLE_TOKEN",
    "CI_DEPLOY_PASSWORD",
    "CI_DEPLOY_USER",
    "DOCKERHUB_PASSWORD",
    "DOCKER_EMAIL",
    "DOCKER_PASSWORD",
    "DOCKER_USERNAME",
    "FACEBOOK_ACCESS_TOKEN",
    "FACEBOOK_APP_ID",
    "FACEBOOK_APP_SECRET",
    "FIREBASE_API_TOKEN",
    "FIREBASE_TOKEN",
    "FOSSA_API_KEY",
    "GH_ENTERPRISE_TOKEN",
    "GH_TOKEN",
    "GITHUB_ENTERPRISE_TOKEN",
    "GITHUB_TOKEN",
    "HEROKU_API_KEY",
    "HEROKU_API_USER",
    "NPM_AUTH_TOKEN",
    "NPM_TOKEN",
    "OKTA_AUTHN_GROUPID",
    "OKTA_CLIENT_ORGURL",
    "OKTA_CLIENT_TOKEN",
    "OKTA_OAUTH2_CLIENTID",
    "OKTA_OAUTH2_CLIENTSECRET",
    "OPENAI_API_KEY",
    "OS_PASSWORD",
    "OS_USERNAME",
    "POSTGRES_PASSWORD",
    "SLACK_TOKEN",
    "STRIPE_API_KEY",
    "STRIPE_DEVICE_NAME",
    "TRAVIS_OS_NAME",
    "TRAVIS_SECURE_ENV_VARS",
    "TRAVIS_SUDO",
    "VAULT_CLIENT_KEY",
    "VAULT_TOKEN",
];

/// hadolint's DL3064 test on a variable name.
pub(super) fn is_sensitive_name(name: &str) -> bool {
    const SUSPICIOUS: &[&str] =
        &["api_key", "client_key", "password", "private", "secret", "token", "username"];
    SENSITIVE.contains(&name.to_uppercase().as_str())
        || SUSPICIOUS.iter().any(|s| name.to_lowercase().contains(s))
}

pub(super) fn dl3064<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    for i in s {
        let names: Vec<String> = match i.kw {
            Kw::Arg => i.arg_defs().into_iter().map(|(k, _)| k).collect(),
            Kw::Env => hadolint_pairs(i, cx.m.escape).into_iter().map(|(k, _)| k).collect(),
            _ => continue,
        };
        if names.iter().any(|n| is_sensitive_name(n)) {
            cx.hit("DL3064", i);
        }
    }
}

pub(super) fn dl3065<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    for i in s.iter().filter(|i| i.kw == Kw::From) {
        if let Some(f) = i.flag("platform")
            && matches!(f.value(), Some("$TARGETPLATFORM" | "${TARGETPLATFORM}"))
        {
            let at = Some(f.span.range());
            cx.hit("DL3065", i).at(at);
        }
    }
}

pub(super) fn dl3066<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    let mut args: BTreeSet<String> = BTreeSet::new();
    for i in s {
        match i.kw {
            Kw::Arg => args.extend(i.arg_defs().into_iter().map(|(k, _)| k)),
            Kw::User => {
                let u = i.arg_text();
                let uid = u.split(':').next().unwrap_or("");
                if uid.chars().all(|c| c.is_ascii_digit()) {
                    continue;
                }
                if args.iter().any(|a| u.contains(&format!("${{{a}}}")) || u.contains(&format!("${a}"))) {
                    continue;
                }
                let at = i.args.first().map(|t| t.span.range());
                cx.hit("DL3066", i).at(at);
            }
            _ => {}
        }
    }
}

pub(super) fn dl3067<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    for i in s.iter().filter(|i| i.kw == Kw::Copy && i.copy_from().is_some()) {
        let Some((srcs, dest)) = copy_paths(i) else { continue };
        if srcs.iter().any(|t| drop_quotes(&t.value) == "/") && drop_quotes(&dest.value) == "/" {
            cx.hit("DL3067", i);
        }
    }
}

/// `MAINTAINER text` → `LABEL maintainer="text"` (with `"`, `\` and `$` escaped).
pub(super) fn maintainer_fix(m: &Model<'_>, i: &Inst<'_>) -> Option<Fix> {
    let arg = i.args.first()?;
    if i.span.start > arg.span.start || m.source.get(i.span.start..arg.span.end)?.contains('\n') {
        return None;
    }
    let mut v = String::new();
    for c in arg.value.chars() {
        if matches!(c, '"' | '\\' | '$') {
            v.push('\\');
        }
        v.push(c);
    }
    let kw = if i.keyword.value.chars().all(|c| c.is_ascii_lowercase()) { "label" } else { "LABEL" };
    Some(Fix::replace(i.keyword.span.start..arg.span.end, format!("{kw} maintainer=\"{v}\"")))
}

pub(super) fn dl4000<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    for i in s.iter().filter(|i| i.kw == Kw::Maintainer) {
        let fix = maintainer_fix(cx.m, i);
        cx.hit("DL4000", i).fix(fix);
    }
}

pub(super) fn dl4001<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    let mut seen: BTreeSet<&'static str> = BTreeSet::new();
    for i in s {
        match i.kw {
            Kw::From => seen.clear(),
            Kw::Run => {
                let Some(sc) = i.script() else { continue };
                let here: BTreeSet<&'static str> = sc
                    .commands
                    .iter()
                    .filter_map(|c| match c.name.as_str() {
                        "curl" => Some("curl"),
                        "wget" => Some("wget"),
                        _ => None,
                    })
                    .collect();
                seen.extend(&here);
                if !here.is_empty() && seen.len() >= 2 {
                    cx.hit("DL4001", i);
                }
            }
            _ => {}
        }
    }
}

pub(super) fn dl4003<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    each_repeat(cx, s, Kw::Cmd, "DL4003");
}

pub(super) fn dl4004<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    each_repeat(cx, s, Kw::Entrypoint, "DL4004");
}

pub(super) fn dl4005<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    each_bad_command(cx, s, "DL4005", |c| c.is("ln", &["/bin/sh"]));
}

/// Whether a script turns on `pipefail` (`set -o pipefail`, `set -euo pipefail`) before its first pipe.
fn sets_pipefail_first(sc: &Script) -> bool {
    let first_pipe = sc.pipes.first().map_or(usize::MAX, |p| p.start);
    sc.commands
        .iter()
        .any(|c| c.name == "set" && c.span.start < first_pipe && c.has_flag("o") && c.has_arg("pipefail"))
}

pub(super) fn dl4006<'m, 'a>(cx: &mut Cx<'m, 'a>, s: &[&'m Inst<'a>]) {
    let mut pipefail = false;
    for i in s {
        match i.kw {
            Kw::From => pipefail = false,
            Kw::Shell => {
                let Some(sc) = i.script() else { continue };
                pipefail = ["pwsh", "powershell", "cmd"].iter().any(|p| sc.text.starts_with(p))
                    || sc.commands.iter().any(|c| {
                        ["/bin/bash", "/bin/zsh", "/bin/ash", "bash", "zsh", "ash"].contains(&c.name.as_str())
                            && c.has_flag("o")
                            && c.has_arg("pipefail")
                    });
            }
            Kw::Run if !pipefail => {
                let Some(sc) = i.script() else { continue };
                // kiln accepts `set -o pipefail` at the start of the same RUN (hadolint does not).
                if sc.pipes.is_empty() || sets_pipefail_first(sc) {
                    continue;
                }
                let at = cx.shell_span(i, &sc.pipes[0]);
                cx.hit("DL4006", i).at(at);
            }
            _ => {}
        }
    }
}
