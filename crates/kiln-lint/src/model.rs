//! The linter's view of a Dockerfile ([`Model`]): instructions with their syntax and spans ([`Inst`]),
//! stages, comments, the text each `RUN` hands to the shell (mapped back to the source) and its parse.
//!
//! A model is built from the typed instructions of a [`kiln_dockerfile::Dockerfile`] or, for a file that
//! BuildKit rejects (a bad flag, an instruction before `FROM`…), from the parser layer's nodes, so the
//! rest of the file is still linted, as hadolint does.

use std::ops::Range;

use kiln_dockerfile::syntax::{Node, parse_heredoc_word};
use kiln_dockerfile::{Command as Typed, Flag, Heredoc, Instruction, Span, Token};

use crate::shell::{self, Script};

/// An instruction keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kw {
    From,
    Run,
    Cmd,
    Entrypoint,
    Copy,
    Add,
    Env,
    Label,
    Arg,
    Expose,
    User,
    Workdir,
    Volume,
    StopSignal,
    Shell,
    Healthcheck,
    Onbuild,
    Maintainer,
    Unknown,
}

impl Kw {
    fn of(keyword: &str) -> Kw {
        match keyword.to_ascii_lowercase().as_str() {
            "from" => Kw::From,
            "run" => Kw::Run,
            "cmd" => Kw::Cmd,
            "entrypoint" => Kw::Entrypoint,
            "copy" => Kw::Copy,
            "add" => Kw::Add,
            "env" => Kw::Env,
            "label" => Kw::Label,
            "arg" => Kw::Arg,
            "expose" => Kw::Expose,
            "user" => Kw::User,
            "workdir" => Kw::Workdir,
            "volume" => Kw::Volume,
            "stopsignal" => Kw::StopSignal,
            "shell" => Kw::Shell,
            "healthcheck" => Kw::Healthcheck,
            "onbuild" => Kw::Onbuild,
            "maintainer" => Kw::Maintainer,
            _ => Kw::Unknown,
        }
    }
}

/// The text a shell runs for an instruction, with a map back to the source.
#[derive(Debug, Clone, Default)]
pub(crate) struct ShellText {
    pub(crate) text: String,
    /// Segments `(text offset, source offset, length)` of text copied verbatim from the source; `None`
    /// when the text could not be aligned with the source.
    pub(crate) map: Option<Vec<(usize, usize, usize)>>,
}

impl ShellText {
    /// The source range of `r` (a range of [`Self::text`]), when both ends map.
    pub(crate) fn to_source(&self, r: &Range<usize>) -> Option<Range<usize>> {
        let map = self.map.as_ref()?;
        let find = |off: usize, end: bool| {
            map.iter().find_map(|&(t, s, len)| {
                let inside = if end { off > t && off <= t + len } else { off >= t && off < t + len };
                inside.then(|| s + (off - t))
            })
        };
        let start = find(r.start, false)?;
        let end = if r.is_empty() { start } else { find(r.end, true)? };
        Some(start..end)
    }
}

/// One instruction as the rules see it.
#[derive(Debug)]
pub(crate) struct Inst<'a> {
    pub(crate) kw: Kw,
    pub(crate) keyword: &'a Token,
    pub(crate) flags: &'a [Flag],
    pub(crate) args: &'a [Token],
    pub(crate) json: bool,
    pub(crate) heredocs: &'a [Heredoc],
    /// BuildKit's `PrevComment`: comment lines (text after `#`, trimmed) since the previous instruction.
    pub(crate) comments: &'a [String],
    pub(crate) span: Span,
    pub(crate) line: u32,
    /// The trigger of an `ONBUILD`.
    pub(crate) child: Option<Box<Inst<'a>>>,
    /// The stage the instruction belongs to (`None` before the first `FROM`).
    pub(crate) stage: Option<usize>,
    /// For `RUN` and `SHELL`: the text hadolint hands to ShellCheck and its parse.
    pub(crate) shell: Option<(ShellText, Script)>,
}

impl Inst<'_> {
    /// The arguments joined with spaces (the logical line after flags, for one-argument instructions).
    pub(crate) fn arg_text(&self) -> String {
        self.args.iter().map(|a| a.value.as_str()).collect::<Vec<_>>().join(" ")
    }

    /// The first flag called `name`.
    pub(crate) fn flag(&self, name: &str) -> Option<&Flag> {
        self.flags.iter().find(|f| f.name() == name)
    }

    /// `COPY --from=value`: the flag and its value (a `--from` without `=value` is no flag to hadolint's
    /// parser, and an error to BuildKit's).
    pub(crate) fn copy_from(&self) -> Option<(&Flag, &str)> {
        let f = self.flag("from")?;
        f.value().map(|v| (f, v))
    }

    /// The parsed shell script of a `RUN` (empty for other instructions).
    pub(crate) fn script(&self) -> Option<&Script> {
        self.shell.as_ref().map(|(_, s)| s)
    }

    /// The span of the instruction's first line (for carets).
    pub(crate) fn head_span(&self, source: &str) -> Span {
        let end = source[self.span.start..].find('\n').map_or(self.span.end, |i| self.span.start + i);
        let end = end.min(self.span.end).max(self.span.start);
        let end = if source[..end].ends_with('\r') { end - 1 } else { end };
        Span { end, ..self.span }
    }

    /// `key`, `value`, legacy triples of ENV/LABEL.
    pub(crate) fn pairs(&self) -> impl Iterator<Item = (&Token, &Token, bool)> {
        self.args.chunks(3).filter_map(|c| match c {
            [k, v, sep] => Some((k, v, sep.value.is_empty())),
            _ => None,
        })
    }

    /// ARG declarations: `(name, default)`.
    pub(crate) fn arg_defs(&self) -> Vec<(String, Option<String>)> {
        self.args
            .iter()
            .map(|a| match a.value.split_once('=') {
                Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
                None => (a.value.clone(), None),
            })
            .collect()
    }
}

/// A base image reference split the way hadolint's parser (language-docker) splits it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ImageRef {
    pub(crate) registry: Option<String>,
    pub(crate) name: String,
    pub(crate) tag: Option<String>,
    pub(crate) digest: Option<String>,
}

impl ImageRef {
    /// Splits `s`: a registry is the part before the first `/` when it contains a `.`; `${…}` is opaque.
    pub(crate) fn parse(s: &str) -> ImageRef {
        // Byte positions of separators outside `${…}`.
        let mut seps = Vec::new();
        let b = s.as_bytes();
        let mut depth = 0usize;
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'$' if b.get(i + 1) == Some(&b'{') => {
                    depth += 1;
                    i += 1;
                }
                b'{' if depth > 0 => depth += 1,
                b'}' if depth > 0 => depth -= 1,
                c @ (b'.' | b'/' | b':' | b'@') if depth == 0 => seps.push((i, c)),
                _ => {}
            }
            i += 1;
        }
        let mut rest_start = 0;
        let mut registry = None;
        let first_dot = seps.iter().find(|(_, c)| *c == b'.').map(|(i, _)| *i);
        let first_slash = seps.iter().find(|(_, c)| *c == b'/').map(|(i, _)| *i);
        if let (Some(d), Some(sl)) = (first_dot, first_slash)
            && d > 0
            && d + 1 < sl
            && !s[..d].contains([':', '@'])
        {
            registry = Some(s[..sl].to_owned());
            rest_start = sl + 1;
        }
        let after: Vec<(usize, u8)> = seps.into_iter().filter(|(i, _)| *i >= rest_start).collect();
        let name_end = after.iter().find(|(_, c)| *c == b':' || *c == b'@').map_or(s.len(), |(i, _)| *i);
        let name = s[rest_start..name_end].to_owned();
        let mut tag = None;
        let mut digest = None;
        let mut pos = name_end;
        if s[pos..].starts_with(':') {
            let end = after
                .iter()
                .find(|(i, c)| *i > pos && (*c == b':' || *c == b'@'))
                .map_or(s.len(), |(i, _)| *i);
            tag = Some(s[pos + 1..end].to_owned());
            pos = end;
        }
        if s[pos..].starts_with('@') {
            digest = Some(s[pos + 1..].to_owned());
        }
        ImageRef { registry, name, tag, digest }
    }
}

/// A build stage.
#[derive(Debug, Clone)]
pub(crate) struct Stage {
    /// Index of its FROM in [`Model::insts`].
    pub(crate) from: usize,
    /// The image as written.
    pub(crate) image_raw: String,
    /// The image split hadolint's way.
    pub(crate) image: ImageRef,
    /// The name after `AS`, as written.
    pub(crate) alias: Option<String>,
    /// `--platform` as written.
    pub(crate) platform: Option<String>,
    /// The earlier stage this one builds on (`FROM <stage>`, case-insensitive as in BuildKit).
    pub(crate) base: Option<usize>,
}

/// A comment line.
#[derive(Debug, Clone)]
pub(crate) struct CommentLine {
    pub(crate) text: String,
    pub(crate) line: u32,
    pub(crate) span: Span,
    pub(crate) in_instruction: bool,
}

/// The linter's view of one Dockerfile.
#[derive(Debug)]
pub(crate) struct Model<'a> {
    pub(crate) source: &'a str,
    pub(crate) escape: char,
    pub(crate) insts: Vec<Inst<'a>>,
    pub(crate) stages: Vec<Stage>,
    pub(crate) comments: Vec<CommentLine>,
    /// `# check=` directive value.
    pub(crate) check_directive: Option<(String, Span)>,
    /// Parser warnings (`NoEmptyContinuation`).
    pub(crate) warnings: &'a [kiln_dockerfile::Warning],
}

impl<'a> Model<'a> {
    /// From the typed instructions of a parsed Dockerfile.
    pub(crate) fn from_dockerfile(df: &'a kiln_dockerfile::Dockerfile) -> Model<'a> {
        let insts = df.instructions.iter().map(|i| inst_of_instruction(i)).collect();
        let mut m =
            Model::build(df.source(), df.escape(), insts, df.comments(), df.directives.check.as_ref());
        m.warnings = &df.warnings;
        m
    }

    /// From the parser layer (for files whose instructions BuildKit rejects).
    pub(crate) fn from_syntax(tree: &'a kiln_dockerfile::SyntaxTree) -> Model<'a> {
        let insts = tree.nodes.iter().map(|n| inst_of_node(n, &n.heredocs)).collect();
        let mut m =
            Model::build(tree.source(), tree.escape, insts, &tree.comments, tree.directives.check.as_ref());
        m.warnings = &tree.warnings;
        m
    }

    fn build(
        source: &'a str,
        escape: char,
        mut insts: Vec<Inst<'a>>,
        comments: &[kiln_dockerfile::Comment],
        check: Option<&kiln_dockerfile::Directive>,
    ) -> Model<'a> {
        let mut stages: Vec<Stage> = Vec::new();
        let mut current = None;
        for (idx, inst) in insts.iter_mut().enumerate() {
            if inst.kw == Kw::From {
                let image_raw = inst.args.first().map(|t| t.value.clone()).unwrap_or_default();
                let alias = match inst.args {
                    [_, as_kw, name] if as_kw.value.eq_ignore_ascii_case("as") => Some(name.value.clone()),
                    _ => None,
                };
                let base = stages
                    .iter()
                    .rposition(|s| s.alias.as_ref().is_some_and(|a| a.eq_ignore_ascii_case(&image_raw)));
                stages.push(Stage {
                    from: idx,
                    image: ImageRef::parse(&image_raw),
                    image_raw,
                    alias,
                    platform: inst.flag("platform").and_then(|f| f.value().map(str::to_owned)),
                    base,
                });
                current = Some(stages.len() - 1);
            }
            inst.stage = current;
            prepare_shell(inst, source, escape);
            if let Some(child) = &mut inst.child {
                child.stage = current;
                prepare_shell(child, source, escape);
            }
        }
        let idx = kiln_dockerfile::LineIndex::new(source);
        let comments = comments
            .iter()
            .map(|c| CommentLine {
                text: c.text.clone(),
                line: idx.position(source, c.span.start).0,
                span: c.span,
                in_instruction: c.in_instruction,
            })
            .collect();
        Model {
            source,
            escape,
            insts,
            stages,
            comments,
            check_directive: check.map(|d| (d.value.clone(), d.span)),
            warnings: &[],
        }
    }

    /// The index of the final stage.
    pub(crate) fn final_stage(&self) -> Option<usize> {
        self.stages.len().checked_sub(1)
    }

    /// Stages whose content ends up in the final image: the final stage and the stages it is built on.
    pub(crate) fn shipped_stages(&self) -> Vec<usize> {
        let mut out = Vec::new();
        let mut cur = self.final_stage();
        while let Some(s) = cur {
            if out.contains(&s) {
                break;
            }
            out.push(s);
            cur = self.stages[s].base;
        }
        out
    }

    /// The instructions of stage `s`.
    pub(crate) fn stage_insts(&self, s: usize) -> impl Iterator<Item = &Inst<'a>> {
        self.insts.iter().filter(move |i| i.stage == Some(s))
    }
}

fn inst_of_instruction(i: &Instruction) -> Inst<'_> {
    let child = match &i.command {
        Typed::Onbuild(c) => Some(Box::new(inst_of_instruction(c))),
        _ => None,
    };
    Inst {
        kw: Kw::of(&i.keyword.value),
        keyword: &i.keyword,
        flags: &i.flags,
        args: &i.args,
        json: i.json,
        heredocs: &i.heredocs,
        comments: &i.comments,
        span: i.span,
        line: i.start_line,
        child,
        stage: None,
        shell: None,
    }
}

fn inst_of_node<'a>(n: &'a Node, heredocs: &'a [Heredoc]) -> Inst<'a> {
    Inst {
        kw: Kw::of(&n.keyword.value),
        keyword: &n.keyword,
        flags: &n.flags,
        args: &n.args,
        json: n.json,
        heredocs,
        comments: &n.comments,
        span: n.span,
        line: n.start_line,
        child: n.onbuild.as_ref().map(|c| Box::new(inst_of_node(c, heredocs))),
        stage: None,
        shell: None,
    }
}

/// Computes the shell text of a RUN (what runs) or SHELL (its arguments) and parses it.
fn prepare_shell(inst: &mut Inst<'_>, source: &str, escape: char) {
    let text = match inst.kw {
        Kw::Run => run_text(inst, source, escape),
        Kw::Shell => Some(ShellText { text: inst.arg_text(), map: None }),
        _ => None,
    };
    if let Some(t) = text {
        let script = shell::parse(&t.text);
        inst.shell = Some((t, script));
    }
}

/// The script a RUN hands to the shell, as BuildKit builds it (heredocs included). Exec-form arguments
/// are joined with spaces, as hadolint does before handing them to ShellCheck.
fn run_text(inst: &Inst<'_>, source: &str, escape: char) -> Option<ShellText> {
    if inst.json {
        return Some(ShellText { text: inst.arg_text(), map: None });
    }
    let line_tok = inst.args.first()?;
    let line = &line_tok.value;
    let line_text = logical_text(line_tok, source, escape);
    let Some(first) = inst.heredocs.first() else { return Some(line_text) };
    if parse_heredoc_word(line).ok().flatten().is_some() {
        // `RUN <<EOF`: the body is the script (a non-shell shebang body is not shell).
        let body =
            if first.chomp { kiln_dockerfile::syntax::chomp(&first.content) } else { first.content.clone() };
        if let Some(shebang) = body.lines().next().filter(|l| l.starts_with("#!"))
            && !is_shell_shebang(shebang)
        {
            return Some(ShellText::default());
        }
        let map = (!first.chomp).then(|| vec![(0, first.body.start, first.content.len())]);
        return Some(ShellText { text: body, map });
    }
    let mut text = line_text.text;
    let mut map = line_text.map;
    for h in inst.heredocs {
        text.push('\n');
        if let Some(m) = &mut map {
            m.push((text.len(), h.body.start, h.content.len()));
        }
        text.push_str(&h.content);
        text.push_str(&h.name);
    }
    Some(ShellText { text, map })
}

fn is_shell_shebang(line: &str) -> bool {
    ["#!/bin/sh", "#!/bin/bash", "#!/bin/ash", "#!/bin/dash", "#!/usr/bin/env sh", "#!/usr/bin/env bash"]
        .iter()
        .any(|p| line.starts_with(p))
}

/// An argument's logical text (continuation lines joined, comment and empty lines dropped, as BuildKit
/// does) with a map to the source; the map is dropped if the reconstruction differs from the parser's.
pub(crate) fn logical_text(tok: &Token, source: &str, escape: char) -> ShellText {
    let Some(raw) = source.get(tok.span.range()) else {
        return ShellText { text: tok.value.clone(), map: None };
    };
    let mut text = String::with_capacity(raw.len());
    let mut map = Vec::new();
    let mut off = tok.span.start;
    let mut first = true;
    let lines: Vec<&str> = raw.split_inclusive('\n').collect();
    for (n, l) in lines.iter().enumerate() {
        let line_start = off;
        off += l.len();
        let content = l.strip_suffix('\n').unwrap_or(l);
        let content = content.strip_suffix('\r').unwrap_or(content);
        let trimmed = content.trim_start();
        if !first && (trimmed.starts_with('#') || trimmed.trim().is_empty()) {
            continue;
        }
        first = false;
        let mut keep = content;
        if n + 1 < lines.len() {
            let t = keep.trim_end_matches([' ', '\t']);
            if let Some(stripped) = t.strip_suffix(escape) {
                keep = stripped;
            }
        }
        if !keep.is_empty() {
            map.push((text.len(), line_start, keep.len()));
            text.push_str(keep);
        }
    }
    if text == tok.value {
        ShellText { text, map: Some(map) }
    } else {
        ShellText { text: tok.value.clone(), map: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_refs_split_like_hadolint() {
        let r = ImageRef::parse("gcr.io/distroless/base:nonroot@sha256:abc");
        assert_eq!(r.registry.as_deref(), Some("gcr.io"));
        assert_eq!(r.name, "distroless/base");
        assert_eq!(r.tag.as_deref(), Some("nonroot"));
        assert_eq!(r.digest.as_deref(), Some("sha256:abc"));
        let r = ImageRef::parse("localhost:5000/foo");
        assert_eq!((r.registry, r.name.as_str(), r.tag.as_deref()), (None, "localhost", Some("5000/foo")));
        let r = ImageRef::parse("${IMG:-debian}:${TAG:-12}");
        assert_eq!((r.name.as_str(), r.tag.as_deref()), ("${IMG:-debian}", Some("${TAG:-12}")));
        assert_eq!(ImageRef::parse("ubuntu").tag, None);
    }

    #[test]
    fn logical_text_maps_to_the_source() {
        let src = "FROM a\nRUN apt-get update && \\\n    # comment\n\n    apt-get install -y curl\n";
        let df = kiln_dockerfile::parse(src).unwrap();
        let m = Model::from_dockerfile(&df);
        let (t, script) = m.insts[1].shell.as_ref().unwrap();
        assert!(t.map.is_some());
        let c = &script.commands[1];
        let r = t.to_source(&c.args[2].span).unwrap();
        assert_eq!(&src[r], "curl");
        let r = t.to_source(&c.span).unwrap();
        assert_eq!(&src[r], "apt-get install -y curl");
    }

    #[test]
    fn heredoc_runs_lint_what_runs() {
        let src = "FROM a\nRUN <<EOF\napt-get install x\nEOF\nRUN cat <<EOF > /f\nnot run\nEOF\nRUN <<EOF\n#!/usr/bin/env python3\nimport os\nEOF\n";
        let df = kiln_dockerfile::parse(src).unwrap();
        let m = Model::from_dockerfile(&df);
        let names = |i: usize| -> Vec<String> {
            m.insts[i].script().unwrap().commands.iter().map(|c| c.name.clone()).collect()
        };
        assert_eq!(names(1), ["apt-get"]);
        assert_eq!(names(2), ["cat"]);
        assert!(names(3).is_empty());
        let (t, s) = m.insts[1].shell.as_ref().unwrap();
        assert_eq!(&src[t.to_source(&s.commands[0].args[0].span).unwrap()], "install");
    }
}
