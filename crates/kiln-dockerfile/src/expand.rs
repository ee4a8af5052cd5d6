//! Variable expansion of one instruction the way BuildKit's dispatcher does it ([`Expanded`]): only in
//! the instructions and flags BuildKit expands, with the caller's environment.
//!
//! Expanded (with the Dockerfile's escape token): ENV and LABEL keys and values; ADD/COPY sources,
//! destination, `--chown`, `--chmod` and ADD's `--checksum`; heredoc sources of ADD/COPY whose delimiter
//! is unquoted (with `\` as escape and quotes left alone); WORKDIR; USER; VOLUME; STOPSIGNAL; the values of
//! every `RUN --mount` option; ARG default values; FROM's image and `--platform`; EXPOSE (expanded and
//! split into words). Not expanded: RUN/CMD/ENTRYPOINT/SHELL/HEALTHCHECK (the shell does it), ONBUILD,
//! MAINTAINER, `--from` of COPY (BuildKit rejects a variable there), `--exclude`, `--network`,
//! `--security`, `--device`, `--link`, `--parents`, `--keep-git-dir`, `--unpack`.

use std::collections::BTreeSet;

use crate::error::ErrorKind;
use crate::instruction::{Command, KeyValue, RunMount};
use crate::mount::Mount;
use crate::shell::{Env, Lexer, ShellError};
use crate::span::Span;
use crate::syntax::Token;

/// An instruction's command after expansion, and the variables the expansion looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expanded {
    /// The command with its values expanded (spans still point at the unexpanded text). For RUN every
    /// [`RunMount::mount`] is set.
    pub command: Command,
    /// Variables referenced and set.
    pub matched: BTreeSet<String>,
    /// Variables referenced but unset (BuildKit's `UndefinedVar` input).
    pub unmatched: BTreeSet<String>,
}

/// An expansion failure and where it happened.
pub(crate) struct ExpandFailure {
    pub(crate) kind: ErrorKind,
    pub(crate) help: Option<String>,
    pub(crate) span: Span,
}

struct Expander<'a> {
    lex: Lexer,
    env: &'a dyn Env,
    matched: BTreeSet<String>,
    unmatched: BTreeSet<String>,
}

fn shell_failure(e: ShellError, span: Span) -> ExpandFailure {
    ExpandFailure { kind: ErrorKind::Expansion(Box::new(e)), help: None, span }
}

impl Expander<'_> {
    fn word_with(&mut self, lex: Lexer, value: &str, span: Span) -> Result<String, ExpandFailure> {
        let r = lex.process_word(value, self.env).map_err(|e| shell_failure(e, span))?;
        self.matched.extend(r.matched);
        self.unmatched.extend(r.unmatched);
        Ok(r.value)
    }

    fn token(&mut self, t: &Token) -> Result<Token, ExpandFailure> {
        Ok(Token { value: self.word_with(self.lex, &t.value, t.span)?, span: t.span })
    }

    fn opt(&mut self, t: &Option<Token>) -> Result<Option<Token>, ExpandFailure> {
        t.as_ref().map(|t| self.token(t)).transpose()
    }

    fn tokens(&mut self, ts: &[Token]) -> Result<Vec<Token>, ExpandFailure> {
        ts.iter().map(|t| self.token(t)).collect()
    }

    fn pairs(&mut self, kvs: &[KeyValue]) -> Result<Vec<KeyValue>, ExpandFailure> {
        kvs.iter()
            .map(|kv| {
                Ok(KeyValue { key: self.token(&kv.key)?, value: self.token(&kv.value)?, legacy: kv.legacy })
            })
            .collect()
    }

    fn contents(
        &mut self,
        contents: &[crate::instruction::SourceContent],
        span: Span,
    ) -> Result<Vec<crate::instruction::SourceContent>, ExpandFailure> {
        let mut raw = Lexer::new('\\');
        raw.skip_process_quotes = true;
        let mut out = contents.to_vec();
        for c in &mut out {
            if c.expand {
                c.data = self.word_with(raw, &c.data, span)?;
            }
        }
        Ok(out)
    }

    fn mounts(&mut self, mounts: &[RunMount]) -> Result<Vec<RunMount>, ExpandFailure> {
        let mut out = Vec::with_capacity(mounts.len());
        for m in mounts {
            let span = m.spec.span;
            let mut failure = None;
            let parsed = Mount::parse(&m.spec.value, &mut |w| {
                let r = self.lex.process_word(w, self.env);
                match r {
                    Ok(r) => {
                        self.matched.extend(r.matched);
                        self.unmatched.extend(r.unmatched);
                        Ok(r.value)
                    }
                    Err(e) => {
                        failure = Some(e.clone());
                        Err(e)
                    }
                }
            });
            let mount = match (parsed, failure) {
                (Ok(mount), _) => mount,
                (Err(_), Some(e)) => return Err(shell_failure(e, span)),
                (Err(e), None) => {
                    return Err(ExpandFailure {
                        kind: ErrorKind::Instruction(e.message),
                        help: e.help,
                        span,
                    });
                }
            };
            out.push(RunMount { spec: m.spec.clone(), mount: Some(mount) });
        }
        Ok(out)
    }
}

/// Expands `command` with `env`; `escape` is the Dockerfile's escape token.
pub(crate) fn expand_command(
    command: &Command,
    instruction_span: Span,
    escape: char,
    env: &dyn Env,
) -> Result<Expanded, ExpandFailure> {
    let mut x =
        Expander { lex: Lexer::new(escape), env, matched: BTreeSet::new(), unmatched: BTreeSet::new() };
    let command = match command {
        Command::Env(e) => {
            let mut e = e.clone();
            e.vars = x.pairs(&e.vars)?;
            Command::Env(e)
        }
        Command::Label(l) => {
            let mut l = l.clone();
            l.labels = x.pairs(&l.labels)?;
            Command::Label(l)
        }
        Command::Add(a) => {
            let mut a = a.clone();
            a.chown = x.opt(&a.chown)?;
            a.chmod = x.opt(&a.chmod)?;
            a.checksum = x.opt(&a.checksum)?;
            a.sources = x.tokens(&a.sources)?;
            a.dest = x.token(&a.dest)?;
            a.contents = x.contents(&a.contents, instruction_span)?;
            Command::Add(a)
        }
        Command::Copy(c) => {
            let mut c = c.clone();
            if let Some(from) = &c.from {
                // BuildKit: expanding --from with an empty environment must leave it unchanged.
                let unchanged = x.lex.process_word(&from.value, &crate::shell::EmptyEnv).map(|r| r.value);
                if unchanged.as_deref() != Ok(from.value.as_str()) {
                    return Err(ExpandFailure {
                        kind: ErrorKind::Instruction("variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround".into()),
                        help: None,
                        span: from.span,
                    });
                }
            }
            c.chown = x.opt(&c.chown)?;
            c.chmod = x.opt(&c.chmod)?;
            c.sources = x.tokens(&c.sources)?;
            c.dest = x.token(&c.dest)?;
            c.contents = x.contents(&c.contents, instruction_span)?;
            Command::Copy(c)
        }
        Command::Workdir(w) => Command::Workdir(crate::instruction::Workdir { path: x.token(&w.path)? }),
        Command::User(u) => Command::User(crate::instruction::User { user: x.token(&u.user)? }),
        Command::Volume(v) => Command::Volume(crate::instruction::Volume { paths: x.tokens(&v.paths)? }),
        Command::StopSignal(s) => {
            Command::StopSignal(crate::instruction::StopSignal { signal: x.token(&s.signal)? })
        }
        Command::Run(r) => {
            let mut r = r.clone();
            r.mounts = x.mounts(&r.mounts)?;
            Command::Run(r)
        }
        Command::Arg(a) => {
            let mut a = a.clone();
            for d in &mut a.args {
                d.value = x.opt(&d.value)?;
            }
            Command::Arg(a)
        }
        Command::From(f) => {
            let mut f = f.clone();
            f.image = x.token(&f.image)?;
            if f.image.value.is_empty() {
                return Err(ExpandFailure {
                    kind: ErrorKind::Instruction(format!(
                        "base name ({}) should not be blank",
                        image_of(command)
                    )),
                    help: None,
                    span: f.image.span,
                });
            }
            f.platform = x.opt(&f.platform)?;
            Command::From(f)
        }
        Command::Expose(e) => {
            let mut ports = Vec::new();
            for p in &e.ports {
                let words = x.lex.process_words(&p.value, env).map_err(|err| shell_failure(err, p.span))?;
                ports.extend(words.into_iter().map(|w| Token { value: w, span: p.span }));
            }
            Command::Expose(crate::instruction::Expose { ports })
        }
        other => other.clone(),
    };
    Ok(Expanded { command, matched: x.matched, unmatched: x.unmatched })
}

fn image_of(c: &Command) -> String {
    match c {
        Command::From(f) => f.image.value.clone(),
        _ => String::new(),
    }
}

/// BuildKit's EXPOSE port parsing (`[ip:][hostPort:]port[-end][/proto]`) into `port/proto` entries.
pub fn parse_port(raw: &str) -> Result<Vec<String>, String> {
    let parts: Vec<&str> = raw.split(':').collect();
    let (ip, host_port, container) = match parts.as_slice() {
        [c] => (String::new(), "", *c),
        [h, c] => (String::new(), *h, *c),
        [ip, h, c] => ((*ip).to_owned(), *h, *c),
        _ => {
            let n = parts.len();
            (parts[..n - 2].join(":"), parts[n - 2], parts[n - 1])
        }
    };
    let (port, proto) = container.split_once('/').unwrap_or((container, ""));
    let wrap = |e: &str| format!("invalid port: {}: {e}", quote(raw));
    if port.is_empty() {
        return Err(wrap("no port specified"));
    }
    let proto = match proto.to_lowercase().as_str() {
        "" => "tcp".to_owned(),
        "tcp" | "udp" | "sctp" => proto.to_lowercase(),
        _ => return Err(wrap(&format!("invalid proto: {proto}"))),
    };
    let ip = match ip.strip_prefix('[') {
        Some(v6) => v6.strip_suffix(']').ok_or_else(|| format!("invalid IP address {ip}"))?.to_owned(),
        None => ip,
    };
    if !ip.is_empty() && ip.parse::<std::net::IpAddr>().is_err() {
        return Err(format!("invalid IP address: {ip}"));
    }
    let (start, end) = port_range(port).map_err(|_| format!("invalid containerPort: {port}"))?;
    if !host_port.is_empty() {
        let (hs, he) = port_range(host_port).map_err(|_| format!("invalid hostPort: {host_port}"))?;
        if end - start != he - hs && end != start {
            return Err(format!(
                "invalid ranges specified for container and host Ports: {port} and {host_port}"
            ));
        }
    }
    Ok((start..=end).map(|p| format!("{p}/{proto}")).collect())
}

fn port_range(s: &str) -> Result<(u32, u32), ()> {
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    };
    let num = |v: &str| -> Result<u32, ()> {
        let digits = v.strip_prefix(['+', '-']).unwrap_or(v);
        if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
            return Err(());
        }
        let n: i64 = v.parse().map_err(|_| ())?;
        u32::try_from(n).ok().filter(|n| *n <= 65535).ok_or(())
    };
    let start = num(a)?;
    match b {
        Some(b) if b != a => {
            let end = num(b)?;
            if end < start { Err(()) } else { Ok((start, end)) }
        }
        _ => Ok((start, start)),
    }
}

fn quote(s: &str) -> String {
    let mut out = String::new();
    crate::words::go_quote(s, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports() {
        assert_eq!(parse_port("80").unwrap(), ["80/tcp"]);
        assert_eq!(parse_port("53/UDP").unwrap(), ["53/udp"]);
        assert_eq!(parse_port("7000-7002/sctp").unwrap(), ["7000/sctp", "7001/sctp", "7002/sctp"]);
        assert_eq!(parse_port("127.0.0.1:8080:80").unwrap(), ["80/tcp"]);
        assert_eq!(parse_port("80/xyz").unwrap_err(), "invalid port: \"80/xyz\": invalid proto: xyz");
        assert_eq!(parse_port("70000").unwrap_err(), "invalid containerPort: 70000");
        assert_eq!(parse_port("90-80").unwrap_err(), "invalid containerPort: 90-80");
        assert_eq!(parse_port("/tcp").unwrap_err(), "invalid port: \"/tcp\": no port specified");
        assert!(parse_port("1.2.3:80").is_err());
    }
}
