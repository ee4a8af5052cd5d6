//! The typed layer: [`Instruction`] and [`Command`], built from the syntax tree with BuildKit's
//! instruction-level validation (`instructions.ParseInstruction`): known keywords, flags per instruction,
//! argument counts, stage names, HEALTHCHECK durations, SHELL's JSON form, RUN's network, security,
//! device and mount checks, and BuildKit's messages.
//!
//! Values are kept as written ([`Token`]s with spans); variables are expanded later, on demand
//! ([`crate::Dockerfile::expand`]), because their values depend on the stage being built.

use std::time::Duration;

use serde::Serialize;

use crate::error::ErrorKind;
use crate::flags::{FlagError, FlagSet, FlagType, suggest};
use crate::mount::{Device, Mount, check_mount_unexpanded};
use crate::span::Span;
use crate::syntax::{Flag, Heredoc, Node, Token, parse_heredoc_word};
use crate::words::go_quote;

/// The instruction keywords BuildKit knows, upper case.
pub const INSTRUCTIONS: &[&str] = &[
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// One instruction: its syntax (keyword, flags, arguments, heredocs, spans) and its typed meaning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Instruction {
    /// The keyword as written.
    pub keyword: Token,
    /// From the keyword to the end of the last consumed line (heredocs included).
    pub span: Span,
    /// 1-based first line.
    pub start_line: u32,
    /// 1-based last line.
    pub end_line: u32,
    /// Builder flags as written.
    pub flags: Vec<Flag>,
    /// The parser-level arguments (see [`Node::args`]).
    pub args: Vec<Token>,
    /// Whether the arguments were a JSON array.
    pub json: bool,
    /// Heredocs attached to the instruction.
    pub heredocs: Vec<Heredoc>,
    /// BuildKit's `PrevComment`: the comments since the previous instruction.
    pub comments: Vec<String>,
    /// The logical line (continuations joined).
    pub original: String,
    /// What the instruction means.
    pub command: Command,
}

impl Instruction {
    /// BuildKit's `Node.Dump()` of this instruction.
    pub fn dump(&self) -> String {
        let child = match &self.command {
            Command::Onbuild(c) => Some(c.dump()),
            _ => None,
        };
        crate::syntax::dump_instruction(&self.keyword, &self.flags, &self.args, child)
    }

    /// The keyword in upper case (`RUN`, `COPY`, …).
    pub fn name(&self) -> &'static str {
        self.command.name()
    }

    /// The first flag called `name` (without dashes).
    pub fn flag(&self, name: &str) -> Option<&Flag> {
        self.flags.iter().find(|f| f.name() == name)
    }

    /// BuildKit's text of an `ONBUILD` trigger as stored in the image config: the line without the
    /// `ONBUILD` keyword, with heredocs appended.
    pub fn onbuild_expression(&self) -> Option<String> {
        let Command::Onbuild(_) = &self.command else { return None };
        let o = self.original.trim_start_matches(char::is_whitespace);
        let rest = o.get(7..).filter(|_| o.len() >= 7 && o[..7].eq_ignore_ascii_case("onbuild")).unwrap_or(o);
        let mut s = rest.trim_start_matches(char::is_whitespace).to_owned();
        for h in &self.heredocs {
            s.push('\n');
            s.push_str(&h.content);
            s.push_str(&h.name);
        }
        Some(s)
    }
}

/// The typed meaning of an instruction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "instruction", rename_all = "UPPERCASE")]
pub enum Command {
    /// `FROM`.
    From(From),
    /// `RUN`.
    Run(Run),
    /// `CMD`.
    Cmd(Cmd),
    /// `ENTRYPOINT`.
    Entrypoint(Entrypoint),
    /// `COPY`.
    Copy(Copy),
    /// `ADD`.
    Add(Add),
    /// `ENV`.
    Env(Env),
    /// `LABEL`.
    Label(Label),
    /// `ARG`.
    Arg(Arg),
    /// `EXPOSE`.
    Expose(Expose),
    /// `USER`.
    User(User),
    /// `WORKDIR`.
    Workdir(Workdir),
    /// `VOLUME`.
    Volume(Volume),
    /// `STOPSIGNAL`.
    #[serde(rename = "STOPSIGNAL")]
    StopSignal(StopSignal),
    /// `SHELL`.
    Shell(Shell),
    /// `HEALTHCHECK`.
    Healthcheck(Healthcheck),
    /// `ONBUILD` and its trigger.
    Onbuild(Box<Instruction>),
    /// `MAINTAINER` (deprecated).
    Maintainer(Maintainer),
}

impl Command {
    /// The keyword in upper case.
    pub fn name(&self) -> &'static str {
        match self {
            Command::From(_) => "FROM",
            Command::Run(_) => "RUN",
            Command::Cmd(_) => "CMD",
            Command::Entrypoint(_) => "ENTRYPOINT",
            Command::Copy(_) => "COPY",
            Command::Add(_) => "ADD",
            Command::Env(_) => "ENV",
            Command::Label(_) => "LABEL",
            Command::Arg(_) => "ARG",
            Command::Expose(_) => "EXPOSE",
            Command::User(_) => "USER",
            Command::Workdir(_) => "WORKDIR",
            Command::Volume(_) => "VOLUME",
            Command::StopSignal(_) => "STOPSIGNAL",
            Command::Shell(_) => "SHELL",
            Command::Healthcheck(_) => "HEALTHCHECK",
            Command::Onbuild(_) => "ONBUILD",
            Command::Maintainer(_) => "MAINTAINER",
        }
    }
}

/// A command line in exec or shell form, as BuildKit decides it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "form", content = "value", rename_all = "lowercase")]
pub enum CommandLine {
    /// JSON (exec) form: the arguments as written.
    Exec(Vec<String>),
    /// Shell form: the text, run as `SHELL + [text]`. A heredoc RUN keeps its line here (`<<EOF …`) with
    /// the bodies in [`Run::files`]. An instruction with no arguments at all is `Shell("")`, for which
    /// BuildKit runs the shell alone.
    Shell(String),
}

impl CommandLine {
    /// The argv BuildKit produces with `shell` (the stage's `SHELL`, `["/bin/sh", "-c"]` by default).
    pub fn with_shell(&self, shell: &[String]) -> Vec<String> {
        match self {
            CommandLine::Exec(args) => args.clone(),
            CommandLine::Shell(s) if s.is_empty() => shell.to_vec(),
            CommandLine::Shell(s) => shell.iter().cloned().chain([s.clone()]).collect(),
        }
    }

    fn from_args(args: &[Token], json: bool) -> CommandLine {
        if json {
            CommandLine::Exec(args.iter().map(|a| a.value.clone()).collect())
        } else {
            CommandLine::Shell(args.iter().map(|a| a.value.as_str()).collect::<Vec<_>>().join(" "))
        }
    }
}

/// `FROM [--platform=P] image [AS name]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct From {
    /// The image (or stage) reference, unexpanded.
    pub image: Token,
    /// `--platform`, unexpanded.
    pub platform: Option<Token>,
    /// `AS name`: the name lower-cased, with the token as written.
    pub stage: Option<StageName>,
}

/// The name of a build stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StageName {
    /// Lower-cased (stage names are case-insensitive).
    pub name: String,
    /// As written.
    pub token: Token,
    /// The `AS` keyword as written.
    pub as_keyword: Token,
}

/// `RUN`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Run {
    /// The command.
    pub command: CommandLine,
    /// Heredoc bodies of the instruction (BuildKit's `ShellInlineFile`s).
    pub files: Vec<InlineFile>,
    /// `--mount` values.
    pub mounts: Vec<RunMount>,
    /// `--network` (default `default`).
    pub network: Network,
    /// `--security` (default `sandbox`).
    pub security: Security,
    /// `--device` values.
    pub devices: Vec<Device>,
}

/// What BuildKit runs for a RUN with heredocs (its `dispatchRun`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunScript {
    /// No heredoc: run [`Run::command`].
    Plain,
    /// `RUN <<EOF` whose body starts with `#!`: the body becomes an executable file `name` that is run.
    Shebang {
        /// The file name (the heredoc name).
        name: String,
        /// The file content (chomped if `<<-`).
        data: String,
    },
    /// `RUN <<EOF` alone: the (chomped) body is the shell command.
    Body(String),
    /// Anything else: the line plus each `\n` body and terminator, handed to the shell.
    Script(String),
}

impl Run {
    /// How BuildKit turns the heredocs into what the shell runs.
    pub fn script(&self) -> RunScript {
        let CommandLine::Shell(line) = &self.command else { return RunScript::Plain };
        let Some(first) = self.files.first() else { return RunScript::Plain };
        if parse_heredoc_word(line).ok().flatten().is_some() {
            let data = if first.chomp { crate::syntax::chomp(&first.data) } else { first.data.clone() };
            if data.starts_with("#!") {
                return RunScript::Shebang { name: first.name.clone(), data };
            }
            return RunScript::Body(data);
        }
        let mut s = line.clone();
        for f in &self.files {
            s.push('\n');
            s.push_str(&f.data);
            s.push_str(&f.name);
        }
        RunScript::Script(s)
    }
}

/// A heredoc body handed to a RUN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InlineFile {
    /// The heredoc name.
    pub name: String,
    /// The body, not chomped.
    pub data: String,
    /// `<<-`.
    pub chomp: bool,
}

/// A `RUN --mount` value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunMount {
    /// The value as written (after flag quote removal) and its span.
    pub spec: Token,
    /// The parsed mount: `None` after parsing (BuildKit validates mount options only when it dispatches
    /// the stage, after expansion), set by [`crate::Dockerfile::expand`]. Use [`RunMount::parse_unexpanded`]
    /// for a view without variables.
    pub mount: Option<Mount>,
}

impl RunMount {
    /// The mount parsed without expanding variables (right for values without `$`).
    pub fn parse_unexpanded(&self) -> Result<Mount, crate::MountError> {
        Mount::parse(&self.spec.value, &mut |w| Ok(w.to_owned()))
    }
}

/// `RUN --network`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    /// The build's default network.
    Default,
    /// No network.
    None,
    /// The host's network (needs an entitlement).
    Host,
}

/// `RUN --security`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// The default sandbox.
    Sandbox,
    /// Privileged (needs an entitlement).
    Insecure,
}

/// `CMD`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cmd {
    /// The command.
    pub command: CommandLine,
}

/// `ENTRYPOINT`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entrypoint {
    /// The command (`Exec([])` for `ENTRYPOINT []`, which clears it).
    pub command: CommandLine,
}

/// A COPY/ADD source given inline by a heredoc.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceContent {
    /// The file name (the heredoc name).
    pub path: String,
    /// The content (chomped if `<<-`).
    pub data: String,
    /// Whether variables in `data` are expanded (unquoted delimiter).
    pub expand: bool,
}

/// `COPY`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Copy {
    /// Source paths (not heredocs).
    pub sources: Vec<Token>,
    /// Heredoc sources.
    pub contents: Vec<SourceContent>,
    /// The destination.
    pub dest: Token,
    /// `--from`: a stage name or index, or an image.
    pub from: Option<Token>,
    /// `--chown`.
    pub chown: Option<Token>,
    /// `--chmod`.
    pub chmod: Option<Token>,
    /// `--link`.
    pub link: bool,
    /// `--parents`.
    pub parents: bool,
    /// `--exclude` patterns.
    pub excludes: Vec<Token>,
}

/// `ADD`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Add {
    /// Source paths or URLs (not heredocs).
    pub sources: Vec<Token>,
    /// Heredoc sources.
    pub contents: Vec<SourceContent>,
    /// The destination.
    pub dest: Token,
    /// `--chown`.
    pub chown: Option<Token>,
    /// `--chmod`.
    pub chmod: Option<Token>,
    /// `--link`.
    pub link: bool,
    /// `--keep-git-dir` when given.
    pub keep_git_dir: Option<bool>,
    /// `--checksum`.
    pub checksum: Option<Token>,
    /// `--unpack` when given.
    pub unpack: Option<bool>,
    /// `--exclude` patterns.
    pub excludes: Vec<Token>,
}

/// One `key=value` of ENV or LABEL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyValue {
    /// The key, unexpanded.
    pub key: Token,
    /// The value, unexpanded.
    pub value: Token,
    /// Written in the legacy `KEY value` form (no `=`).
    pub legacy: bool,
}

/// `ENV`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Env {
    /// The variables in order.
    pub vars: Vec<KeyValue>,
}

/// `LABEL`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Label {
    /// The labels in order.
    pub labels: Vec<KeyValue>,
}

/// One `name[=default]` of ARG.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArgDef {
    /// The name.
    pub key: Token,
    /// The default value, unexpanded (quotes still in it).
    pub value: Option<Token>,
}

/// `ARG`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Arg {
    /// The declarations in order.
    pub args: Vec<ArgDef>,
}

/// `EXPOSE`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Expose {
    /// Port specs as written (`80`, `8000-8010/udp`, `$PORT`), in source order.
    pub ports: Vec<Token>,
}

/// `USER`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// `user[:group]`, unexpanded.
    pub user: Token,
}

/// `WORKDIR`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Workdir {
    /// The path, unexpanded.
    pub path: Token,
}

/// `VOLUME`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Volume {
    /// The paths (trimmed), unexpanded.
    pub paths: Vec<Token>,
}

/// `STOPSIGNAL`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StopSignal {
    /// The signal, unexpanded.
    pub signal: Token,
}

/// `SHELL` (JSON form only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shell {
    /// The shell and its arguments.
    pub shell: Vec<String>,
}

/// `MAINTAINER`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Maintainer {
    /// The maintainer text.
    pub name: Token,
}

/// `HEALTHCHECK`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "UPPERCASE")]
pub enum Healthcheck {
    /// `HEALTHCHECK NONE`: disables an inherited check.
    None,
    /// `HEALTHCHECK [options] CMD …`.
    Cmd(HealthConfig),
}

/// The options of `HEALTHCHECK CMD`; a zero duration means "not set" (the runtime default applies).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthConfig {
    /// `["CMD", args…]` (exec form) or `["CMD-SHELL", command]`.
    pub test: Vec<String>,
    /// `--interval`.
    pub interval: Duration,
    /// `--timeout`.
    pub timeout: Duration,
    /// `--start-period`.
    pub start_period: Duration,
    /// `--start-interval`.
    pub start_interval: Duration,
    /// `--retries` (0 = not set).
    pub retries: i32,
}

/// An instruction-level error before it is placed in the source: message, help, where.
pub(crate) struct Invalid {
    pub(crate) kind: ErrorKind,
    pub(crate) help: Option<String>,
    pub(crate) span: Span,
}

fn invalid(message: impl Into<String>, span: Span) -> Invalid {
    Invalid { kind: ErrorKind::Instruction(message.into()), help: None, span }
}

fn flag_error(e: FlagError, flags: &[Flag]) -> Invalid {
    Invalid { kind: ErrorKind::Instruction(e.message), help: e.help, span: flags[e.index].span }
}

fn quote(s: &str) -> String {
    let mut out = String::new();
    go_quote(s, &mut out);
    out
}

/// A token for a flag's value.
fn flag_token(flags: &[Flag], (value, index): (String, usize)) -> Token {
    Token { value, span: flags[index].value_span }
}

/// BuildKit's `ParseInstruction` on one syntax node.
pub(crate) fn parse_instruction(mut node: Node) -> Result<Instruction, Invalid> {
    let span = node.span;
    let name = node.kind.unwrap_or_default();
    let args = &node.args;
    let mut fs = FlagSet::new(&node.flags);
    let flags = &node.flags;
    let at_least_one = || invalid(format!("{name} requires at least one argument"), span);
    let exactly_one = || invalid(format!("{name} requires exactly one argument"), span);
    let parse_flags = |fs: &mut FlagSet<'_>| fs.parse().map_err(|e| flag_error(e, flags));
    let command = match name {
        "ENV" | "LABEL" => {
            parse_flags(&mut fs)?;
            if args.is_empty() {
                return Err(at_least_one());
            }
            let mut vars = Vec::new();
            for t in args.chunks(3) {
                let [k, v, sep] = t else {
                    return Err(invalid(format!("Bad input to {name}, too many arguments"), span));
                };
                if k.value.is_empty() {
                    return Err(invalid(format!("{name} names can not be blank"), span));
                }
                vars.push(KeyValue { key: k.clone(), value: v.clone(), legacy: sep.value.is_empty() });
            }
            if name == "ENV" { Command::Env(Env { vars }) } else { Command::Label(Label { labels: vars }) }
        }
        "MAINTAINER" => {
            let [m] = args.as_slice() else { return Err(exactly_one()) };
            parse_flags(&mut fs)?;
            Command::Maintainer(Maintainer { name: m.clone() })
        }
        "ADD" | "COPY" => {
            if args.len() < 2 {
                return Err(invalid(
                    format!(
                        "{name} requires at least two arguments, but only one was provided. Destination could not be determined"
                    ),
                    span,
                ));
            }
            let add = name == "ADD";
            fs.add("chown", FlagType::String);
            if !add {
                fs.add("from", FlagType::String);
            }
            fs.add("chmod", FlagType::String);
            fs.add("link", FlagType::Bool);
            if add {
                fs.add("keep-git-dir", FlagType::Bool);
                fs.add("checksum", FlagType::String);
                fs.add("unpack", FlagType::Bool);
            }
            fs.add("exclude", FlagType::Strings);
            if !add {
                fs.add("parents", FlagType::Bool);
            }
            parse_flags(&mut fs)?;
            let (sources, contents, dest) = sources_and_dest(&node, name)?;
            let opt = |n: &str| fs.string(n).map(|v| flag_token(flags, v));
            let excludes = fs.strings("exclude").into_iter().map(|v| flag_token(flags, v)).collect();
            if add {
                Command::Add(Add {
                    sources,
                    contents,
                    dest,
                    chown: opt("chown"),
                    chmod: opt("chmod"),
                    link: fs.bool("link"),
                    keep_git_dir: fs.is_used("keep-git-dir").then(|| fs.bool("keep-git-dir")),
                    checksum: opt("checksum"),
                    unpack: fs.is_used("unpack").then(|| fs.bool("unpack")),
                    excludes,
                })
            } else {
                Command::Copy(Copy {
                    sources,
                    contents,
                    dest,
                    from: opt("from"),
                    chown: opt("chown"),
                    chmod: opt("chmod"),
                    link: fs.bool("link"),
                    parents: fs.bool("parents"),
                    excludes,
                })
            }
        }
        "FROM" => {
            let stage = match args.as_slice() {
                [_, as_kw, n] if as_kw.value.eq_ignore_ascii_case("as") => {
                    let lower = n.value.to_lowercase();
                    if !valid_stage_name(&lower) {
                        return Err(invalid(
                            format!(
                                "invalid name for build stage: {}, name can't start with a number or contain symbols",
                                quote(&n.value)
                            ),
                            n.span,
                        ));
                    }
                    Some(StageName { name: lower, token: n.clone(), as_keyword: as_kw.clone() })
                }
                [_] => None,
                _ => return Err(invalid("FROM requires either one or three arguments", span)),
            };
            fs.add("platform", FlagType::String);
            parse_flags(&mut fs)?;
            Command::From(From {
                image: args[0].clone(),
                platform: fs.string("platform").map(|v| flag_token(flags, v)),
                stage,
            })
        }
        "ONBUILD" => {
            let Some(child) = &node.onbuild else { return Err(at_least_one()) };
            parse_flags(&mut fs)?;
            drop(fs);
            let trigger = child.keyword.value.trim().to_uppercase();
            match trigger.as_str() {
                "ONBUILD" => {
                    return Err(invalid(
                        "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
                        child.keyword.span,
                    ));
                }
                "MAINTAINER" | "FROM" => {
                    return Err(invalid(
                        format!("{trigger} isn't allowed as an ONBUILD trigger"),
                        child.keyword.span,
                    ));
                }
                _ => {}
            }
            let Some(mut nested) = node.onbuild.take() else { return Err(at_least_one()) };
            nested.heredocs.clone_from(&node.heredocs);
            Command::Onbuild(Box::new(parse_instruction(*nested)?))
        }
        "WORKDIR" => {
            let [p] = args.as_slice() else { return Err(exactly_one()) };
            parse_flags(&mut fs)?;
            Command::Workdir(Workdir { path: p.clone() })
        }
        "RUN" => {
            fs.add("device", FlagType::Strings);
            fs.add("mount", FlagType::Strings);
            fs.add("network", FlagType::String);
            fs.add("security", FlagType::String);
            parse_flags(&mut fs)?;
            let mut devices = Vec::new();
            for (v, i) in fs.strings("device") {
                devices.push(Device::parse(&v).map_err(|e| Invalid {
                    kind: ErrorKind::Instruction(e.message),
                    help: e.help,
                    span: flags[i].span,
                })?);
            }
            let mut mounts = Vec::new();
            for (v, i) in fs.strings("mount") {
                let err = |e: crate::mount::MountError| Invalid {
                    kind: ErrorKind::Instruction(e.message),
                    help: e.help,
                    span: flags[i].span,
                };
                check_mount_unexpanded(&v).map_err(err)?;
                mounts.push(RunMount { spec: flag_token(flags, (v, i)), mount: None });
            }
            let network = match fs.string("network") {
                None => Network::Default,
                Some((v, i)) => match v.as_str() {
                    "default" => Network::Default,
                    "none" => Network::None,
                    "host" => Network::Host,
                    _ => return Err(invalid(format!("invalid network mode {}", quote(&v)), flags[i].span)),
                },
            };
            let security = match fs.string("security") {
                None => Security::Sandbox,
                Some((v, i)) => match v.as_str() {
                    "sandbox" => Security::Sandbox,
                    "insecure" => Security::Insecure,
                    _ => return Err(invalid(format!("security {} is not valid", quote(&v)), flags[i].span)),
                },
            };
            Command::Run(Run {
                command: CommandLine::from_args(args, node.json),
                files: inline_files(&node),
                mounts,
                network,
                security,
                devices,
            })
        }
        "CMD" => {
            parse_flags(&mut fs)?;
            Command::Cmd(Cmd { command: CommandLine::from_args(args, node.json) })
        }
        "ENTRYPOINT" => {
            parse_flags(&mut fs)?;
            Command::Entrypoint(Entrypoint { command: CommandLine::from_args(args, node.json) })
        }
        "HEALTHCHECK" => Command::Healthcheck(parse_healthcheck(&node, &mut fs)?),
        "EXPOSE" => {
            if args.is_empty() {
                return Err(at_least_one());
            }
            parse_flags(&mut fs)?;
            Command::Expose(Expose { ports: args.clone() })
        }
        "USER" => {
            let [u] = args.as_slice() else { return Err(exactly_one()) };
            parse_flags(&mut fs)?;
            Command::User(User { user: u.clone() })
        }
        "VOLUME" => {
            if args.is_empty() {
                return Err(at_least_one());
            }
            parse_flags(&mut fs)?;
            let mut paths = Vec::new();
            for a in args {
                let v = a.value.trim();
                if v.is_empty() {
                    return Err(invalid("VOLUME specified can not be an empty string", a.span));
                }
                paths.push(Token { value: v.to_owned(), span: a.span });
            }
            Command::Volume(Volume { paths })
        }
        "STOPSIGNAL" => {
            // BuildKit does not look at STOPSIGNAL's flags.
            let [s] = args.as_slice() else { return Err(exactly_one()) };
            Command::StopSignal(StopSignal { signal: s.clone() })
        }
        "ARG" => {
            if args.is_empty() {
                return Err(at_least_one());
            }
            let mut defs = Vec::new();
            for a in args {
                match a.value.split_once('=') {
                    Some((k, v)) => {
                        if k.is_empty() {
                            return Err(invalid("ARG names can not be blank", a.span));
                        }
                        let s = a.span;
                        let key_span = Span { end: s.start + k.len(), ..s };
                        let val_span = Span { start: (s.start + k.len() + 1).min(s.end), ..s };
                        defs.push(ArgDef {
                            key: Token { value: k.to_owned(), span: key_span },
                            value: Some(Token { value: v.to_owned(), span: val_span }),
                        });
                    }
                    None => defs.push(ArgDef { key: a.clone(), value: None }),
                }
            }
            Command::Arg(Arg { args: defs })
        }
        "SHELL" => {
            parse_flags(&mut fs)?;
            if args.is_empty() {
                return Err(at_least_one());
            }
            if !node.json {
                return Err(invalid("SHELL requires the arguments to be in JSON form", span));
            }
            Command::Shell(Shell { shell: args.iter().map(|a| a.value.clone()).collect() })
        }
        _ => {
            return Err(Invalid {
                kind: ErrorKind::UnknownInstruction(node.keyword.value.clone()),
                help: suggest(&node.keyword.value, INSTRUCTIONS, false).map(|m| format!("did you mean {m}?")),
                span: node.keyword.span,
            });
        }
    };
    Ok(Instruction {
        keyword: node.keyword,
        span,
        start_line: node.start_line,
        end_line: node.end_line,
        flags: node.flags,
        args: node.args,
        json: node.json,
        heredocs: node.heredocs,
        comments: node.comments,
        original: node.original,
        command,
    })
}

/// `^[a-z][a-z0-9-_.]*$`.
fn valid_stage_name(s: &str) -> bool {
    let mut b = s.bytes();
    b.next().is_some_and(|c| c.is_ascii_lowercase())
        && b.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'-' | b'_' | b'.'))
}

fn inline_files(node: &Node) -> Vec<InlineFile> {
    node.heredocs
        .iter()
        .map(|h| InlineFile { name: h.name.clone(), data: h.content.clone(), chomp: h.chomp })
        .collect()
}

type SourcesAndDest = (Vec<Token>, Vec<SourceContent>, Token);

/// BuildKit's `parseSourcesAndDest`: heredoc sources become contents.
fn sources_and_dest(node: &Node, name: &str) -> Result<SourcesAndDest, Invalid> {
    let (dest, srcs) = node.args.split_last().ok_or_else(|| invalid("missing destination", node.span))?;
    if parse_heredoc_word(&dest.value).ok().flatten().is_some() {
        return Err(invalid(format!("{name} cannot accept a heredoc as a destination"), dest.span));
    }
    let mut sources = Vec::new();
    let mut contents = Vec::new();
    for s in srcs {
        match parse_heredoc_word(&s.value).ok().flatten() {
            Some(h) => {
                let doc = node.heredocs.iter().rev().find(|d| d.name == h.name);
                let data = doc.map(|d| d.content.clone()).unwrap_or_default();
                let data = if h.chomp { crate::syntax::chomp(&data) } else { data };
                contents.push(SourceContent { path: h.name, data, expand: h.expand });
            }
            None => sources.push(s.clone()),
        }
    }
    Ok((sources, contents, dest.clone()))
}

fn parse_healthcheck(node: &Node, fs: &mut FlagSet<'_>) -> Result<Healthcheck, Invalid> {
    let flags = &node.flags;
    let Some((typ, rest)) = node.args.split_first() else {
        return Err(invalid("HEALTHCHECK requires at least one argument", node.span));
    };
    let t = typ.value.to_uppercase();
    if t == "NONE" {
        if !rest.is_empty() {
            return Err(invalid("HEALTHCHECK NONE takes no arguments", node.span));
        }
        return Ok(Healthcheck::None);
    }
    for n in ["interval", "timeout", "start-period", "start-interval", "retries"] {
        fs.add(n, FlagType::String);
    }
    fs.parse().map_err(|e| flag_error(e, flags))?;
    if t != "CMD" {
        return Err(invalid(format!("Unknown type {} in HEALTHCHECK (try CMD)", quote(&t)), typ.span));
    }
    let cmd: Vec<String> = if rest.is_empty() {
        Vec::new()
    } else if node.json {
        rest.iter().map(|a| a.value.clone()).collect()
    } else {
        vec![rest.iter().map(|a| a.value.as_str()).collect::<Vec<_>>().join(" ")]
    };
    if cmd.is_empty() {
        return Err(invalid("Missing command after HEALTHCHECK CMD", node.span));
    }
    let test_type = if node.json { "CMD" } else { "CMD-SHELL" };
    let mut test = vec![test_type.to_owned()];
    test.extend(cmd);
    let interval = |n: &str| -> Result<Duration, Invalid> {
        let Some((v, i)) = fs.string(n) else { return Ok(Duration::ZERO) };
        opt_interval(n, &v).map_err(|m| invalid(m, flags[i].span))
    };
    let config = HealthConfig {
        test,
        interval: interval("interval")?,
        timeout: interval("timeout")?,
        start_period: interval("start-period")?,
        start_interval: interval("start-interval")?,
        retries: match fs.string("retries") {
            None => 0,
            Some((v, i)) => {
                let r = go_parse_i32(&v).map_err(|m| invalid(m, flags[i].span))?;
                if r < 0 {
                    return Err(invalid(format!("--retries cannot be negative ({r})"), flags[i].span));
                }
                r
            }
        },
    };
    Ok(Healthcheck::Cmd(config))
}

/// BuildKit's `parseOptInterval`: empty or zero is unset; otherwise at least 1ms.
fn opt_interval(name: &str, v: &str) -> Result<Duration, String> {
    if v.is_empty() {
        return Ok(Duration::ZERO);
    }
    let nanos = parse_go_duration(v)?;
    if nanos == 0 {
        return Ok(Duration::ZERO);
    }
    if nanos < 1_000_000 {
        return Err(format!("Interval {} cannot be less than 1ms", quote(name)));
    }
    Ok(Duration::from_nanos(nanos.unsigned_abs()))
}

/// Go's `strconv.ParseInt(v, 10, 32)` with its messages.
fn go_parse_i32(v: &str) -> Result<i32, String> {
    let digits = v.strip_prefix(['+', '-']).unwrap_or(v);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("strconv.ParseInt: parsing {}: invalid syntax", quote(v)));
    }
    v.parse::<i32>().map_err(|_| format!("strconv.ParseInt: parsing {}: value out of range", quote(v)))
}

/// Go's `time.ParseDuration` (nanoseconds), with its messages.
pub fn parse_go_duration(s: &str) -> Result<i64, String> {
    let bad = || format!("time: invalid duration {}", quote(s));
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let int_part = &rest[..int_len];
        rest = &rest[int_len..];
        let mut frac_part = "";
        if let Some(r) = rest.strip_prefix('.') {
            let n = r.bytes().take_while(u8::is_ascii_digit).count();
            frac_part = &r[..n];
            rest = &r[n..];
        }
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(bad());
        }
        let unit_len = rest.find(|c: char| c == '.' || c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        if unit.is_empty() {
            return Err(format!("time: missing unit in duration {}", quote(s)));
        }
        let mult: u128 = match unit {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(format!("time: unknown unit {} in duration {}", quote(unit), quote(s))),
        };
        let int: u128 = if int_part.is_empty() { 0 } else { int_part.parse().map_err(|_| bad())? };
        let mut v = int.checked_mul(mult).ok_or_else(bad)?;
        if !frac_part.is_empty() {
            // Go scales the fraction digit by digit and truncates.
            let mut scale = 1u128;
            let mut f = 0u128;
            for d in frac_part.bytes().take(30) {
                f = f * 10 + u128::from(d - b'0');
                scale *= 10;
            }
            v += f * mult / scale;
        }
        total = total.checked_add(v).ok_or_else(bad)?;
        if total > i64::MAX as u128 + u128::from(neg) {
            return Err(bad());
        }
    }
    let t = i128::try_from(total).map_err(|_| bad())?;
    i64::try_from(if neg { -t } else { t }).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("1h2m3.5s"), Ok(3_723_500_000_000));
        assert_eq!(parse_go_duration("300ms"), Ok(300_000_000));
        assert_eq!(parse_go_duration("1.5us"), Ok(1_500));
        assert_eq!(parse_go_duration("2µs"), Ok(2_000));
        assert_eq!(parse_go_duration("-1s"), Ok(-1_000_000_000));
        assert_eq!(parse_go_duration("0"), Ok(0));
        assert_eq!(parse_go_duration(".5s"), Ok(500_000_000));
        assert_eq!(parse_go_duration("1"), Err("time: missing unit in duration \"1\"".into()));
        assert_eq!(parse_go_duration("1x"), Err("time: unknown unit \"x\" in duration \"1x\"".into()));
        assert_eq!(parse_go_duration("s"), Err("time: invalid duration \"s\"".into()));
        assert!(parse_go_duration("9999999999h").is_err());
    }

    #[test]
    fn stage_names() {
        assert!(valid_stage_name("build-1.x_y"));
        assert!(!valid_stage_name("1build"));
        assert!(!valid_stage_name("b@d"));
        assert!(!valid_stage_name(""));
    }
}
