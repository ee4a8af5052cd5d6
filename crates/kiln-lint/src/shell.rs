//! A shell parser for RUN bodies: [`parse`] turns a script into the [`Script`] the shell-aware rules need —
//! every simple command (name, arguments, spans) in the order ShellCheck's AST traversal visits them, and
//! every pipe operator.
//!
//! Written here instead of using `brush-parser` (DEPENDENCIES.md's suggestion), after measuring both on the
//! 6,197 shell-form RUN bodies of a 2,055-file corpus of real Dockerfiles:
//! - hadolint decides its DL rules on ShellCheck's parse, and what it reports depends on details no
//!   general bash AST carries: argument text "simplified" the ShellCheck way (quotes removed, `$v` kept as
//!   `${v}`, `$(a b)` as `${ab}`, brace expansions dropped), the effective command behind `busybox`,
//!   `command`, `exec`, every command counted twice (as ShellCheck's `T_Redirecting` and `T_SimpleCommand`),
//!   and no commands at all when the script does not parse. Reproducing that on top of brush's AST means
//!   re-parsing every word with its expansion parser and re-deriving positions;
//! - fixes need exact byte spans of words; brush gives character indices;
//! - brush-parser parses the corpus in ~480 ms (single core) and costs ~3.5 minutes of release build
//!   (peg, bon, cached, tracing); this parser takes a fraction of that (see the crate's bench notes).
//!
//! The grammar is bash's (ShellCheck parses RUN bodies as bash): lists, `&&`/`||`, pipelines (`|`, `|&`),
//! `!`, subshells, brace groups, `if`/`while`/`until`/`for`/`select`/`case`, functions, `[[ ]]`, `(( ))`,
//! assignments and arrays, redirections with heredocs, quotes, `$'…'`, `${…}`, `$(…)`, backticks,
//! `$((…))`, process substitution, globs, extglobs and brace expansion. It is strict about structure
//! (unterminated quotes, unmatched keywords) the way ShellCheck is, so a script ShellCheck rejects yields
//! no commands here either.

use std::ops::Range;

/// A parsed script.
#[derive(Debug, Clone, Default)]
pub struct Script {
    /// The script text.
    pub text: String,
    /// Simple commands with a literal name, in ShellCheck's traversal order (each once).
    pub commands: Vec<Command>,
    /// The pipe operators (`|`, `|&`), anywhere in the script (substitutions included).
    pub pipes: Vec<Range<usize>>,
    /// Why the script did not parse (then `commands` and `pipes` are empty, as ShellCheck reports nothing).
    pub error: Option<ShellError>,
    /// Whether the script changes the shell's state for commands that would follow it (variable
    /// assignments, functions, `cd`, `export`, `set`, `source`…): appending commands to it is then not
    /// the same as running them separately.
    pub changes_state: bool,
}

impl Script {
    /// ShellCheck's number of commands (hadolint's `length presentCommands`): each named simple command
    /// counts twice, once as its redirection wrapper and once as itself.
    pub fn command_count(&self) -> usize {
        self.commands.len() * 2
    }

    /// Whether any command is called `name`.
    pub fn uses(&self, name: &str) -> bool {
        self.commands.iter().any(|c| c.name == name)
    }

    /// The index of the first command for which `f` holds.
    pub fn position(&self, f: impl Fn(&Command) -> bool) -> Option<usize> {
        self.commands.iter().position(f)
    }
}

/// A shell syntax error (the script is then treated as having no commands).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellError {
    /// What is wrong.
    pub message: String,
    /// Byte offset in the script.
    pub offset: usize,
}

/// One simple command with a literal name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The effective command name (`wget` for `busybox wget`), quotes removed.
    pub name: String,
    /// The span of the word the name came from.
    pub name_span: Range<usize>,
    /// The words after the first one (for `busybox wget -q`, `wget` and `-q`), simplified as ShellCheck does.
    pub args: Vec<Word>,
    /// From the first word to the end of the last word or redirection.
    pub span: Range<usize>,
}

/// A word of a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// The text as hadolint sees it (ShellCheck's `oversimplify` keeping variable names).
    pub text: String,
    /// The raw word in the script.
    pub span: Range<usize>,
}

/// A flag as hadolint splits arguments: `--name[=v]` gives `name`, `-abc` gives `a`, `b`, `c`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    /// The flag name without dashes (one letter for short flags).
    pub name: String,
    /// The index of the argument it came from.
    pub arg: usize,
}

impl Command {
    /// The argument texts.
    pub fn arg_texts(&self) -> impl Iterator<Item = &str> {
        self.args.iter().map(|a| a.text.as_str())
    }

    /// hadolint's `getAllFlags`.
    pub fn flags(&self) -> Vec<Flag> {
        let mut out = Vec::new();
        for (i, a) in self.args.iter().enumerate() {
            let t = a.text.as_str();
            if t == "--" || t == "-" {
                continue;
            }
            if let Some(long) = t.strip_prefix("--") {
                let name = long.split('=').next().unwrap_or(long);
                out.push(Flag { name: name.to_owned(), arg: i });
            } else if let Some(short) = t.strip_prefix('-') {
                out.extend(short.chars().map(|c| Flag { name: c.to_string(), arg: i }));
            }
        }
        out
    }

    /// Whether the command is `name` and has one of `args` as an argument (hadolint's `cmdHasArgs`).
    pub fn is(&self, name: &str, args: &[&str]) -> bool {
        self.name == name && self.args.iter().any(|a| args.contains(&a.text.as_str()))
    }

    /// Whether the command's name is one of `names` and has one of `args` (hadolint's `cmdsHaveArgs`).
    pub fn is_any(&self, names: &[&str], args: &[&str]) -> bool {
        names.contains(&self.name.as_str()) && self.args.iter().any(|a| args.contains(&a.text.as_str()))
    }

    /// Whether an argument equals `arg` exactly.
    pub fn has_arg(&self, arg: &str) -> bool {
        self.args.iter().any(|a| a.text == arg)
    }

    /// Whether flag `name` is present (hadolint's `hasFlag`).
    pub fn has_flag(&self, name: &str) -> bool {
        self.count_flag(name) > 0
    }

    /// How many times flag `name` is present (hadolint's `countFlag`).
    pub fn count_flag(&self, name: &str) -> usize {
        self.flags().iter().filter(|f| f.name == name).count()
    }

    /// Whether any of `names` is present as a flag (hadolint's `hasAnyFlag`).
    pub fn has_any_flag(&self, names: &[&str]) -> bool {
        self.flags().iter().any(|f| names.contains(&f.name.as_str()))
    }

    /// The indices of the arguments that remain after hadolint's `dropFlagArg names`: the value argument
    /// following each of those flags (when not written inline with `=`) is removed.
    pub fn without_flag_values(&self, names: &[&str]) -> Vec<usize> {
        let flags = self.flags();
        let mut drop = Vec::new();
        for f in &flags {
            if names.contains(&f.name.as_str()) && !self.args[f.arg].text.contains('=') {
                // hadolint's `getValueId`: the smallest argument index after the flag's (whatever it is).
                if f.arg + 1 < self.args.len() {
                    drop.push(f.arg + 1);
                }
            }
        }
        (0..self.args.len()).filter(|i| !drop.contains(i)).collect()
    }

    /// hadolint's `getArgsNoFlags` after `dropFlagArg names`: argument indices that are not flags.
    pub fn plain_args(&self, drop_values_of: &[&str]) -> Vec<usize> {
        let flags = self.flags();
        self.without_flag_values(drop_values_of)
            .into_iter()
            .filter(|i| !flags.iter().any(|f| f.arg == *i))
            .collect()
    }

    /// hadolint's `getArgsNoFlags` texts after `dropFlagArg names`.
    pub fn plain_arg_texts(&self, drop_values_of: &[&str]) -> Vec<&str> {
        self.plain_args(drop_values_of).into_iter().map(|i| self.args[i].text.as_str()).collect()
    }

    /// hadolint's `getFlagArg`: the arguments that follow flag `name`.
    pub fn flag_values(&self, name: &str) -> Vec<&str> {
        self.flags()
            .iter()
            .filter(|f| f.name == name && f.arg + 1 < self.args.len())
            .map(|f| self.args[f.arg + 1].text.as_str())
            .collect()
    }
}

/// Parses `text` as a bash script.
pub fn parse(text: &str) -> Script {
    let mut p = Parser {
        s: text.as_bytes(),
        pos: 0,
        heredocs: Vec::new(),
        out: Vec::new(),
        pipes: Vec::new(),
        state: false,
    };
    let result = p.list(&[]).and_then(|()| {
        p.finish_line()?;
        if p.pos < p.s.len() { Err(p.err("unexpected token")) } else { Ok(()) }
    });
    match result {
        Ok(()) => {
            let changes_state = p.state || p.out.iter().any(|c| STATEFUL.contains(&c.name.as_str()));
            Script { text: text.to_owned(), commands: p.out, pipes: p.pipes, error: None, changes_state }
        }
        Err(e) => Script {
            text: text.to_owned(),
            commands: Vec::new(),
            pipes: Vec::new(),
            error: Some(e),
            changes_state: true,
        },
    }
}

type Res<T> = Result<T, ShellError>;

/// Builtins whose effect outlasts the command.
const STATEFUL: &[&str] = &[
    "cd", "pushd", "popd", "export", "unset", "set", "shopt", "source", ".", "alias", "unalias", "umask",
    "ulimit", "exec", "trap", "readonly", "declare", "typeset", "local", "hash", "eval", "exit", "return",
    "shift", "enable", "builtin", "command", "wait", "read", "getopts", "let",
];

/// A heredoc whose body starts after the current line.
struct PendingHeredoc {
    delimiter: String,
    strip_tabs: bool,
    expand: bool,
}

/// A word while it is being read: the simplified text, whether it is a plain literal, and the commands
/// found inside it (visited after the command that holds the word).
#[derive(Default)]
struct WordBuf {
    text: String,
    literal: bool,
    nested: Vec<Command>,
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
    heredocs: Vec<PendingHeredoc>,
    out: Vec<Command>,
    pipes: Vec<Range<usize>>,
    /// Whether an assignment-only command or a function definition was seen.
    state: bool,
}

const KEYWORDS_END: &[&str] = &["then", "elif", "else", "fi", "do", "done", "esac", "}", "in"];

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t' || b == b'\r'
}

/// Characters that end an unquoted word.
fn is_word_end(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b';' | b'&' | b'|' | b'<' | b'>' | b'(' | b')')
}

fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl<'a> Parser<'a> {
    fn err(&self, message: &str) -> ShellError {
        ShellError { message: message.to_owned(), offset: self.pos }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn peek_at(&self, n: usize) -> Option<u8> {
        self.s.get(self.pos + n).copied()
    }

    fn starts_with(&self, t: &str) -> bool {
        self.s[self.pos..].starts_with(t.as_bytes())
    }

    fn text(&self, r: Range<usize>) -> &'a str {
        // Ranges are cut at ASCII syntax characters, so they are char boundaries.
        std::str::from_utf8(&self.s[r]).unwrap_or("")
    }

    /// Skips blanks, line continuations and a comment (not the newline).
    fn blanks(&mut self) {
        loop {
            match self.peek() {
                Some(b) if is_blank(b) => self.pos += 1,
                Some(b'\\') if self.peek_at(1) == Some(b'\n') => self.pos += 2,
                Some(b'#') => {
                    while self.peek().is_some_and(|b| b != b'\n') {
                        self.pos += 1;
                    }
                }
                _ => return,
            }
        }
    }

    /// Skips blanks, comments and newlines (reading pending heredoc bodies at each newline).
    fn linebreaks(&mut self) -> Res<()> {
        loop {
            self.blanks();
            if self.peek() == Some(b'\n') {
                self.pos += 1;
                self.heredoc_bodies()?;
            } else {
                return Ok(());
            }
        }
    }

    /// At the end of the script, heredocs still pending have no body.
    fn finish_line(&mut self) -> Res<()> {
        if self.heredocs.is_empty() { Ok(()) } else { Err(self.err("here-document without its end token")) }
    }

    /// The next unquoted word if it is a plain literal followed by a delimiter (for keyword checks).
    fn peek_keyword(&self) -> Option<&'a str> {
        let start = self.pos;
        let mut end = start;
        while end < self.s.len() && !is_word_end(self.s[end]) {
            if matches!(self.s[end], b'"' | b'\'' | b'\\' | b'$' | b'`') {
                return None;
            }
            end += 1;
        }
        (end > start).then(|| self.text(start..end))
    }

    fn at_stop(&self, stops: &[&str]) -> bool {
        match self.peek() {
            None => true,
            Some(b')') => stops.contains(&")"),
            Some(b';') if self.peek_at(1) == Some(b';') || self.peek_at(1) == Some(b'&') => {
                stops.contains(&";;")
            }
            _ => self.peek_keyword().is_some_and(|k| stops.contains(&k)),
        }
    }

    /// A compound list up to one of `stops` (keywords, `)` or `;;`) or the end.
    fn list(&mut self, stops: &[&str]) -> Res<()> {
        loop {
            self.linebreaks()?;
            if self.at_stop(stops) {
                return Ok(());
            }
            if let Some(k) = self.peek_keyword()
                && KEYWORDS_END.contains(&k)
            {
                return Err(self.err(&format!("unexpected keyword '{k}'")));
            }
            self.and_or()?;
            self.blanks();
            match self.peek() {
                Some(b';') if self.peek_at(1) != Some(b';') && self.peek_at(1) != Some(b'&') => self.pos += 1,
                Some(b'&') if self.peek_at(1) != Some(b'&') && self.peek_at(1) != Some(b'>') => self.pos += 1,
                Some(b'\n') | None => {}
                _ if self.at_stop(stops) => return Ok(()),
                _ => return Err(self.err("unexpected token")),
            }
        }
    }

    fn and_or(&mut self) -> Res<()> {
        self.pipeline()?;
        loop {
            self.blanks();
            if self.starts_with("&&") || self.starts_with("||") {
                self.pos += 2;
                self.linebreaks()?;
                self.pipeline()?;
            } else {
                return Ok(());
            }
        }
    }

    fn pipeline(&mut self) -> Res<()> {
        self.blanks();
        while self.peek() == Some(b'!') && self.peek_at(1).is_none_or(|b| is_blank(b) || b == b'\n') {
            self.pos += 1;
            self.blanks();
        }
        self.command()?;
        loop {
            self.blanks();
            if self.peek() == Some(b'|') && self.peek_at(1) != Some(b'|') {
                let start = self.pos;
                self.pos += if self.peek_at(1) == Some(b'&') { 2 } else { 1 };
                self.pipes.push(start..self.pos);
                self.linebreaks()?;
                self.command()?;
            } else {
                return Ok(());
            }
        }
    }

    fn expect_keyword(&mut self, k: &str) -> Res<()> {
        self.linebreaks()?;
        if self.peek_keyword() == Some(k) {
            self.pos += k.len();
            Ok(())
        } else {
            Err(self.err(&format!("expected '{k}'")))
        }
    }

    fn command(&mut self) -> Res<()> {
        self.blanks();
        match self.peek() {
            None => return Err(self.err("expected a command")),
            Some(b'(') if self.peek_at(1) == Some(b'(') => {
                self.pos += 2;
                self.skip_arithmetic()?;
                return self.redirections();
            }
            Some(b'(') => {
                self.pos += 1;
                self.list(&[")"])?;
                if self.peek() != Some(b')') {
                    return Err(self.err("expected ')'"));
                }
                self.pos += 1;
                return self.redirections();
            }
            _ => {}
        }
        let kw = self.peek_keyword();
        match kw {
            Some("{") => {
                self.pos += 1;
                self.list(&["}"])?;
                self.expect_keyword("}")?;
                self.redirections()
            }
            Some(k @ ("[[" | "[")) => {
                // ShellCheck parses both as a condition (`T_Condition`), not as a command.
                self.pos += k.len();
                self.condition(if k == "[" { "]" } else { "]]" })?;
                self.redirections()
            }
            Some("if") => {
                self.pos += 2;
                self.list(&["then"])?;
                self.expect_keyword("then")?;
                self.list(&["elif", "else", "fi"])?;
                loop {
                    match self.peek_keyword() {
                        Some("elif") => {
                            self.pos += 4;
                            self.list(&["then"])?;
                            self.expect_keyword("then")?;
                            self.list(&["elif", "else", "fi"])?;
                        }
                        Some("else") => {
                            self.pos += 4;
                            self.list(&["fi"])?;
                        }
                        _ => break,
                    }
                }
                self.expect_keyword("fi")?;
                self.redirections()
            }
            Some(k @ ("while" | "until")) => {
                self.pos += k.len();
                self.list(&["do"])?;
                self.do_group()
            }
            Some(k @ ("for" | "select")) => {
                self.pos += k.len();
                self.blanks();
                if self.starts_with("((") {
                    self.pos += 2;
                    self.skip_arithmetic()?;
                } else {
                    let start = self.pos;
                    while self.peek().is_some_and(|b| !is_word_end(b)) {
                        self.pos += 1;
                    }
                    if self.pos == start {
                        return Err(self.err("expected a loop variable"));
                    }
                    self.linebreaks()?;
                    if self.peek_keyword() == Some("in") {
                        self.pos += 2;
                        self.words_until_separator()?;
                    }
                }
                self.blanks();
                if self.peek() == Some(b';') {
                    self.pos += 1;
                }
                self.linebreaks()?;
                if self.peek() == Some(b'{') {
                    // bash also accepts `for x in a; { …; }`.
                    return self.command();
                }
                self.do_group()
            }
            Some("case") => {
                self.pos += 4;
                self.blanks();
                let w = self.word()?;
                self.emit_nested(w.nested);
                self.expect_keyword("in")?;
                self.case_items()?;
                self.redirections()
            }
            Some("function") => {
                self.state = true;
                self.pos += 8;
                self.blanks();
                while self.peek().is_some_and(|b| !is_word_end(b)) {
                    self.pos += 1;
                }
                self.blanks();
                if self.starts_with("()") {
                    self.pos += 2;
                }
                self.linebreaks()?;
                self.command()
            }
            Some(k) if KEYWORDS_END.contains(&k) => Err(self.err(&format!("unexpected keyword '{k}'"))),
            _ => self.simple_command(),
        }
    }

    fn do_group(&mut self) -> Res<()> {
        self.expect_keyword("do")?;
        self.list(&["done"])?;
        self.expect_keyword("done")?;
        self.redirections()
    }

    /// `in` words of `for`, up to `;`, newline or `do`.
    fn words_until_separator(&mut self) -> Res<()> {
        loop {
            self.blanks();
            match self.peek() {
                None | Some(b';' | b'\n') => return Ok(()),
                _ if self.peek_keyword() == Some("do") => return Ok(()),
                Some(b) if is_word_end(b) => return Err(self.err("unexpected token in word list")),
                _ => {
                    let w = self.word()?;
                    self.emit_nested(w.nested);
                }
            }
        }
    }

    fn case_items(&mut self) -> Res<()> {
        loop {
            self.linebreaks()?;
            if self.peek_keyword() == Some("esac") {
                self.pos += 4;
                return Ok(());
            }
            if self.peek().is_none() {
                return Err(self.err("expected 'esac'"));
            }
            if self.peek() == Some(b'(') {
                self.pos += 1;
            }
            // Patterns: words separated by `|`, ended by `)`.
            loop {
                self.blanks();
                match self.peek() {
                    Some(b')') => {
                        self.pos += 1;
                        break;
                    }
                    Some(b'|') => self.pos += 1,
                    None | Some(b'\n' | b';') => return Err(self.err("expected ')' after a case pattern")),
                    _ => {
                        let w = self.word()?;
                        self.emit_nested(w.nested);
                    }
                }
            }
            self.list(&[";;", "esac"])?;
            self.blanks();
            if self.starts_with(";;&") {
                self.pos += 3;
            } else if self.starts_with(";;") || self.starts_with(";&") {
                self.pos += 2;
            }
        }
    }

    /// `[[ … ]]` or `[ … ]`: words up to `close` (operators inside are part of the condition).
    fn condition(&mut self, close: &str) -> Res<()> {
        loop {
            self.linebreaks()?;
            match self.peek() {
                None => return Err(self.err(&format!("expected '{close}'"))),
                _ if self.peek_keyword() == Some(close) => {
                    self.pos += close.len();
                    return Ok(());
                }
                Some(b'&' | b'|' | b'(' | b')' | b'<' | b'>' | b';') => self.pos += 1,
                _ => {
                    let w = self.word()?;
                    self.emit_nested(w.nested);
                }
            }
        }
    }

    /// Skips the body of `((…))` / `$((…))` after the opening parentheses.
    fn skip_arithmetic(&mut self) -> Res<()> {
        let mut depth = 0usize;
        loop {
            match self.peek() {
                None => return Err(self.err("unterminated arithmetic expression")),
                Some(b'(') => depth += 1,
                Some(b')') if depth == 0 => {
                    if self.peek_at(1) == Some(b')') {
                        self.pos += 2;
                        return Ok(());
                    }
                    return Err(self.err("expected '))'"));
                }
                Some(b')') => depth -= 1,
                _ => {}
            }
            self.pos += 1;
        }
    }

    /// Redirections after a compound command.
    fn redirections(&mut self) -> Res<()> {
        loop {
            self.blanks();
            let nested = match self.redirection()? {
                Some(n) => n,
                None => return Ok(()),
            };
            self.emit_nested(nested);
        }
    }

    fn emit_nested(&mut self, nested: Vec<Command>) {
        self.out.extend(nested);
    }

    /// A redirection at the current position, if there is one: its target's nested commands.
    fn redirection(&mut self) -> Res<Option<Vec<Command>>> {
        let start = self.pos;
        let mut p = self.pos;
        while p < self.s.len() && self.s[p].is_ascii_digit() {
            p += 1;
        }
        if p == start && self.s.get(p) == Some(&b'{') {
            // `{fd}>file`
            let mut q = p + 1;
            while q < self.s.len() && is_name_char(self.s[q]) {
                q += 1;
            }
            if self.s.get(q) == Some(&b'}') && matches!(self.s.get(q + 1), Some(b'<' | b'>')) {
                p = q + 1;
            }
        }
        let rest = &self.s[p..];
        let op: &[u8] =
            [&b"<<<"[..], b"<<-", b"&>>", b"<<", b">>", b"<&", b">&", b"<>", b">|", b"&>", b"<", b">"]
                .into_iter()
                .find(|op| rest.starts_with(op))
                .unwrap_or(&[]);
        if op.is_empty() || (p > start && op.starts_with(b"&")) {
            return Ok(None);
        }
        // `<(` and `>(` are process substitutions (words), not redirections.
        if matches!(op, b"<" | b">") && rest.get(1) == Some(&b'(') {
            return Ok(None);
        }
        self.pos = p + op.len();
        self.blanks();
        if op == b"<<" || op == b"<<-" {
            let w = self.heredoc_delimiter()?;
            self.heredocs.push(PendingHeredoc { delimiter: w.0, strip_tabs: op == b"<<-", expand: w.1 });
            return Ok(Some(Vec::new()));
        }
        if self.peek().is_none_or(|b| is_word_end(b) && b != b'(' && b != b'<' && b != b'>') {
            return Err(self.err("expected a redirection target"));
        }
        let w = self.word()?;
        Ok(Some(w.nested))
    }

    /// A heredoc delimiter word: its unquoted text and whether the body is expanded (no quotes).
    fn heredoc_delimiter(&mut self) -> Res<(String, bool)> {
        let mut out = String::new();
        let mut expand = true;
        let start = self.pos;
        while let Some(b) = self.peek() {
            if is_word_end(b) {
                break;
            }
            match b {
                b'\'' | b'"' => {
                    expand = false;
                    self.pos += 1;
                    let q = b;
                    let s = self.pos;
                    while self.peek().is_some_and(|c| c != q) {
                        self.pos += 1;
                    }
                    if self.peek().is_none() {
                        return Err(self.err("unterminated quote in heredoc delimiter"));
                    }
                    out.push_str(self.text(s..self.pos));
                    self.pos += 1;
                }
                b'\\' => {
                    expand = false;
                    self.pos += 1;
                    if let Some(c) = self.peek() {
                        out.push(c as char);
                        self.pos += 1;
                    }
                }
                _ => {
                    let s = self.pos;
                    self.pos += 1;
                    while self.peek().is_some_and(|c| (c & 0xC0) == 0x80) {
                        self.pos += 1;
                    }
                    out.push_str(self.text(s..self.pos));
                }
            }
        }
        if self.pos == start {
            return Err(self.err("expected a heredoc delimiter"));
        }
        Ok((out, expand))
    }

    /// Reads the bodies of pending heredocs, starting at the beginning of a line.
    fn heredoc_bodies(&mut self) -> Res<()> {
        let pending = std::mem::take(&mut self.heredocs);
        for h in pending {
            let body_start = self.pos;
            let mut body_end = None;
            while self.pos < self.s.len() {
                let line_start = self.pos;
                let line_end = self.s[self.pos..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(self.s.len(), |i| self.pos + i);
                let mut line = self.text(line_start..line_end);
                if h.strip_tabs {
                    line = line.trim_start_matches('\t');
                }
                self.pos = (line_end + 1).min(self.s.len());
                if line.trim_end_matches('\r') == h.delimiter {
                    body_end = Some(line_start);
                    break;
                }
            }
            let Some(end) = body_end else {
                return Err(ShellError {
                    message: format!("here-document '{}' is not terminated", h.delimiter),
                    offset: body_start,
                });
            };
            if h.expand {
                // Substitutions in an unquoted body run: their commands count.
                let mut sub = Parser {
                    s: &self.s[..end],
                    pos: body_start,
                    heredocs: Vec::new(),
                    out: Vec::new(),
                    pipes: Vec::new(),
                    state: false,
                };
                let mut buf = WordBuf::default();
                while sub.pos < end {
                    sub.dquoted_piece(&mut buf, None)?;
                }
                self.out.extend(buf.nested);
                self.pipes.extend(sub.pipes);
            }
        }
        Ok(())
    }

    fn simple_command(&mut self) -> Res<()> {
        let start = self.pos;
        let mut end = self.pos;
        let mut nested_redirs: Vec<Command> = Vec::new();
        let mut nested_assigns: Vec<Command> = Vec::new();
        let mut words: Vec<(WordBuf, Range<usize>)> = Vec::new();
        let mut is_time = false;
        loop {
            self.blanks();
            let Some(b) = self.peek() else { break };
            if let Some(n) = self.redirection()? {
                nested_redirs.extend(n);
                end = self.pos;
                continue;
            }
            if matches!(b, b';' | b'&' | b'|' | b'\n' | b')') {
                break;
            }
            if b == b'(' {
                // `name() compound` defines a function.
                if words.len() == 1 && self.starts_with("()") {
                    self.state = true;
                    self.pos += 2;
                    self.linebreaks()?;
                    return self.command();
                }
                if words.len() == 1 && self.peek_at(1) == Some(b')') {
                    return Err(self.err("unexpected '('"));
                }
                if words.is_empty() {
                    return Err(self.err("unexpected '('"));
                }
                return Err(self.err("unexpected '(' in a command"));
            }
            if words.is_empty()
                && let Some(n) = self.assignment()?
            {
                nested_assigns.extend(n);
                end = self.pos;
                continue;
            }
            if words.is_empty() && self.peek_keyword() == Some("time") {
                is_time = true;
            }
            let ws = self.pos;
            let w = self.word()?;
            words.push((w, ws..self.pos));
            end = self.pos;
            if is_time {
                break;
            }
        }
        if words.is_empty() && nested_assigns.is_empty() && nested_redirs.is_empty() && start == end {
            return Err(self.err("expected a command"));
        }
        if words.is_empty() && start != end {
            // Assignments (or redirections) alone change the shell.
            self.state = true;
        }
        let declaration = words.first().is_some_and(|(w, _)| {
            w.literal && matches!(w.text.as_str(), "declare" | "export" | "local" | "readonly" | "typeset")
        });
        let mut nested_words = Vec::new();
        let mut args = Vec::new();
        let mut first: Option<(WordBuf, Range<usize>)> = None;
        for (i, (w, span)) in words.into_iter().enumerate() {
            nested_words.extend(std::mem::take(&mut { w.nested }));
            if i == 0 {
                first = Some((WordBuf { text: w.text, literal: w.literal, nested: Vec::new() }, span));
            } else {
                let raw = self.text(span.clone());
                let text = if declaration && is_assignment_word(raw) { String::new() } else { w.text };
                args.push(Word { text, span });
            }
        }
        let mut this = None;
        if let Some((w, span)) = first.filter(|(w, _)| w.literal) {
            let (name, name_span) = effective_name(&w.text, &span, &args);
            if let Some(name) = name {
                this = Some(Command { name, name_span, args, span: start..end });
            }
        }
        let time_cmd = is_time.then(|| this.take()).flatten();
        if is_time {
            // `time pipeline`: the timed pipeline follows as its own commands.
            let mut t = time_cmd;
            self.blanks();
            let before = self.out.len();
            if self.peek().is_some_and(|b| !matches!(b, b';' | b'&' | b'\n' | b')')) {
                self.pipeline_after_time()?;
            }
            let inner: Vec<Command> = self.out.drain(before..).collect();
            if let Some(t) = &mut t {
                t.span.end = self.pos;
                if let Some(c) = inner.first() {
                    let joined: String = std::iter::once(c.name.clone())
                        .chain(c.args.iter().map(|a| a.text.clone()))
                        .collect();
                    t.args.push(Word { text: joined, span: c.span.clone() });
                }
            }
            self.out.extend(t);
            self.out.extend(inner);
            return Ok(());
        }
        self.out.extend(this);
        self.out.extend(nested_redirs);
        self.out.extend(nested_assigns);
        self.out.extend(nested_words);
        Ok(())
    }

    fn pipeline_after_time(&mut self) -> Res<()> {
        while self.peek() == Some(b'-') {
            let _ = self.word()?;
            self.blanks();
        }
        self.pipeline()
    }

    /// An assignment word (`NAME=…`, `NAME+=…`, `NAME[i]=…`, arrays) at the current position.
    fn assignment(&mut self) -> Res<Option<Vec<Command>>> {
        let start = self.pos;
        if !self.peek().is_some_and(is_name_start) {
            return Ok(None);
        }
        let mut p = self.pos;
        while p < self.s.len() && is_name_char(self.s[p]) {
            p += 1;
        }
        if self.s.get(p) == Some(&b'[') {
            let mut depth = 0;
            while p < self.s.len() {
                match self.s[p] {
                    b'[' => depth += 1,
                    b']' => {
                        depth -= 1;
                        if depth == 0 {
                            p += 1;
                            break;
                        }
                    }
                    b'\n' => return Ok(None),
                    _ => {}
                }
                p += 1;
            }
        }
        if self.s.get(p) == Some(&b'+') {
            p += 1;
        }
        if self.s.get(p) != Some(&b'=') {
            return Ok(None);
        }
        self.pos = p + 1;
        if self.peek() == Some(b'(') {
            self.pos += 1;
            let mut nested = Vec::new();
            loop {
                self.linebreaks()?;
                match self.peek() {
                    None => {
                        self.pos = start;
                        return Err(self.err("unterminated array"));
                    }
                    Some(b')') => {
                        self.pos += 1;
                        return Ok(Some(nested));
                    }
                    _ => nested.extend(self.word()?.nested),
                }
            }
        }
        if self.peek().is_none_or(is_word_end) {
            return Ok(Some(Vec::new()));
        }
        Ok(Some(self.word()?.nested))
    }

    /// An unquoted word.
    fn word(&mut self) -> Res<WordBuf> {
        let mut w = WordBuf { literal: true, ..WordBuf::default() };
        let start = self.pos;
        while let Some(b) = self.peek() {
            match b {
                b'<' | b'>' if self.pos == start && self.peek_at(1) == Some(b'(') => {
                    // Process substitution.
                    self.pos += 2;
                    self.substitution_list(&mut w)?;
                    w.literal = false;
                }
                b'(' if self.pos > start
                    && matches!(self.s[self.pos - 1], b'@' | b'?' | b'*' | b'+' | b'!') =>
                {
                    // Extglob `@(a|b)`: dropped by ShellCheck's simplification.
                    w.text.pop();
                    self.skip_parens()?;
                    w.literal = false;
                }
                _ if is_word_end(b) => break,
                b'\\' => {
                    self.pos += 1;
                    match self.peek() {
                        Some(b'\n') => self.pos += 1,
                        Some(_) => self.push_char(&mut w.text),
                        None => w.text.push('\\'),
                    }
                }
                b'\'' => {
                    self.pos += 1;
                    let s = self.pos;
                    while self.peek().is_some_and(|c| c != b'\'') {
                        self.pos += 1;
                    }
                    if self.peek().is_none() {
                        self.pos = s - 1;
                        return Err(self.err("unterminated single quote"));
                    }
                    w.text.push_str(self.text(s..self.pos));
                    self.pos += 1;
                }
                b'"' => {
                    let open = self.pos;
                    self.pos += 1;
                    loop {
                        match self.peek() {
                            None => {
                                self.pos = open;
                                return Err(self.err("unterminated double quote"));
                            }
                            Some(b'"') => {
                                self.pos += 1;
                                break;
                            }
                            _ => self.dquoted_piece(&mut w, Some(b'"'))?,
                        }
                    }
                }
                b'$' | b'`' => self.dollar_or_backtick(&mut w)?,
                b'*' | b'?' => {
                    w.text.push(b as char);
                    w.literal = false;
                    self.pos += 1;
                }
                b'[' => {
                    if let Some(end) = self.glob_class_end() {
                        w.text.push_str(self.text(self.pos..end));
                        w.literal = false;
                        self.pos = end;
                    } else {
                        w.text.push('[');
                        self.pos += 1;
                    }
                }
                b'{' => {
                    if let Some(end) = self.brace_expansion_end() {
                        self.brace_expansion(&mut w, end)?;
                        w.literal = false;
                    } else {
                        w.text.push('{');
                        self.pos += 1;
                    }
                }
                _ => self.push_char(&mut w.text),
            }
        }
        if self.pos == start {
            return Err(self.err("expected a word"));
        }
        Ok(w)
    }

    /// Copies one (possibly multi-byte) character.
    fn push_char(&mut self, out: &mut String) {
        let s = self.pos;
        self.pos += 1;
        while self.peek().is_some_and(|c| (c & 0xC0) == 0x80) {
            self.pos += 1;
        }
        out.push_str(self.text(s..self.pos));
    }

    /// One piece of double-quoted text (or of an unquoted heredoc body when `close` is `None`).
    fn dquoted_piece(&mut self, w: &mut WordBuf, close: Option<u8>) -> Res<()> {
        match self.peek() {
            Some(b'\\') => {
                self.pos += 1;
                match self.peek() {
                    Some(b'\n') => self.pos += 1,
                    Some(c @ (b'$' | b'`' | b'"' | b'\\')) if close.is_some() || c != b'"' => {
                        w.text.push(c as char);
                        self.pos += 1;
                    }
                    _ => w.text.push('\\'),
                }
            }
            Some(b'$') if self.peek_at(1) == Some(b'\'') => {
                // Inside double quotes `$'` is literal.
                w.text.push('$');
                self.pos += 1;
            }
            Some(b'$' | b'`') => self.dollar_or_backtick(w)?,
            Some(_) => self.push_char(&mut w.text),
            None => {}
        }
        Ok(())
    }

    /// `$…` or a backtick substitution.
    fn dollar_or_backtick(&mut self, w: &mut WordBuf) -> Res<()> {
        if self.peek() == Some(b'`') {
            let open = self.pos;
            self.pos += 1;
            let s = self.pos;
            loop {
                match self.peek() {
                    None => {
                        self.pos = open;
                        return Err(self.err("unterminated backtick"));
                    }
                    Some(b'\\') => self.pos += 2,
                    Some(b'`') => break,
                    Some(_) => self.pos += 1,
                }
            }
            let inner_end = self.pos.min(self.s.len());
            self.pos = inner_end + 1;
            // The inner text with `\` escapes of `$`, backtick and `\` removed (spans stay approximate).
            let mut inner = Vec::with_capacity(inner_end - s);
            let mut i = s;
            while i < inner_end {
                if self.s[i] == b'\\' && matches!(self.s.get(i + 1), Some(b'$' | b'`' | b'\\')) {
                    i += 1;
                }
                inner.push(self.s[i]);
                i += 1;
            }
            let mut pad = vec![b' '; s];
            pad.extend_from_slice(&inner);
            let mut sub = Parser {
                s: &pad,
                pos: s,
                heredocs: Vec::new(),
                out: Vec::new(),
                pipes: Vec::new(),
                state: false,
            };
            sub.list(&[])?;
            sub.finish_line()?;
            w.nested.extend(sub.out);
            self.pipes.extend(sub.pipes);
            w.text.push_str("${VAR}");
            w.literal = false;
            return Ok(());
        }
        // At `$`.
        match self.peek_at(1) {
            Some(b'\'') => {
                self.pos += 2;
                let s = self.pos;
                loop {
                    match self.peek() {
                        None => {
                            self.pos = s - 2;
                            return Err(self.err("unterminated $'…' string"));
                        }
                        Some(b'\\') => self.pos += 2,
                        Some(b'\'') => break,
                        Some(_) => self.pos += 1,
                    }
                }
                let raw = self.text(s..self.pos.min(self.s.len())).to_owned();
                self.pos += 1;
                if w.literal {
                    w.text.push_str(&decode_ansi_c(&raw));
                } else {
                    w.text.push_str(&raw);
                }
            }
            Some(b'"') => {
                // `$"…"`: ShellCheck's simplification drops it, but its substitutions still run.
                self.pos += 2;
                let mut tmp = WordBuf::default();
                loop {
                    match self.peek() {
                        None => return Err(self.err("unterminated $\"…\" string")),
                        Some(b'"') => {
                            self.pos += 1;
                            break;
                        }
                        _ => self.dquoted_piece(&mut tmp, Some(b'"'))?,
                    }
                }
                w.nested.extend(tmp.nested);
                w.literal = false;
            }
            Some(b'(') if self.peek_at(2) == Some(b'(') => {
                self.pos += 3;
                self.skip_arithmetic()?;
                w.text.push_str("${VAR}");
                w.literal = false;
            }
            Some(b'(') => {
                self.pos += 2;
                let mut sub = WordBuf::default();
                let first = self.out.len();
                self.substitution_list(&mut sub)?;
                // ShellCheck simplifies `$(a b)` to `${ab}`: the words of single-command pipelines,
                // concatenated (anything more complex contributes nothing).
                let inner = &sub.nested[..];
                let _ = first;
                w.text.push_str("${");
                w.text.push_str(&sub.text);
                w.text.push('}');
                w.nested.extend(inner.iter().cloned());
                w.literal = false;
            }
            Some(b'{') => {
                self.pos += 2;
                w.text.push_str("${");
                let mut depth = 0usize;
                loop {
                    match self.peek() {
                        None => return Err(self.err("unterminated ${…}")),
                        Some(b'}') if depth == 0 => {
                            self.pos += 1;
                            break;
                        }
                        Some(b'}') => {
                            depth -= 1;
                            w.text.push('}');
                            self.pos += 1;
                        }
                        Some(b'{') => {
                            depth += 1;
                            w.text.push('{');
                            self.pos += 1;
                        }
                        Some(b'\'') => {
                            self.pos += 1;
                            let s = self.pos;
                            while self.peek().is_some_and(|c| c != b'\'') {
                                self.pos += 1;
                            }
                            if self.peek().is_none() {
                                return Err(self.err("unterminated single quote"));
                            }
                            w.text.push_str(self.text(s..self.pos));
                            self.pos += 1;
                        }
                        Some(b'"') => {
                            self.pos += 1;
                            loop {
                                match self.peek() {
                                    None => return Err(self.err("unterminated double quote")),
                                    Some(b'"') => {
                                        self.pos += 1;
                                        break;
                                    }
                                    _ => self.dquoted_piece(w, Some(b'"'))?,
                                }
                            }
                        }
                        Some(b'$' | b'`') => self.dollar_or_backtick(w)?,
                        Some(b'\\') => {
                            self.pos += 1;
                            if self.peek().is_some() {
                                self.push_char(&mut w.text);
                            }
                        }
                        Some(_) => self.push_char(&mut w.text),
                    }
                }
                w.text.push('}');
                w.literal = false;
            }
            Some(c) if is_name_start(c) => {
                self.pos += 1;
                let s = self.pos;
                while self.peek().is_some_and(is_name_char) {
                    self.pos += 1;
                }
                w.text.push_str("${");
                w.text.push_str(self.text(s..self.pos));
                w.text.push('}');
                w.literal = false;
            }
            Some(c) if c.is_ascii_digit() || matches!(c, b'@' | b'*' | b'#' | b'?' | b'$' | b'!' | b'-') => {
                self.pos += 2;
                w.text.push_str("${");
                w.text.push(c as char);
                w.text.push('}');
                w.literal = false;
            }
            _ => {
                w.text.push('$');
                self.pos += 1;
            }
        }
        Ok(())
    }

    /// The list inside `$(…)` or `<(…)` (after the opening parenthesis, through the closing one). `w`
    /// receives the nested commands and, in `text`, ShellCheck's simplification of the list.
    fn substitution_list(&mut self, w: &mut WordBuf) -> Res<()> {
        let open = self.pos;
        let saved_heredocs = std::mem::take(&mut self.heredocs);
        let first = self.out.len();
        let pipes_before = self.pipes.len();
        let r = self.list(&[")"]);
        let pending = std::mem::replace(&mut self.heredocs, saved_heredocs);
        r?;
        if !pending.is_empty() {
            return Err(self.err("here-document inside a substitution is not terminated"));
        }
        if self.peek() != Some(b')') {
            self.pos = open;
            return Err(self.err("unterminated $(…)"));
        }
        let close = self.pos;
        self.pos += 1;
        let cmds: Vec<Command> = self.out.drain(first..).collect();
        let simple = self.pipes.len() == pipes_before
            && !self.text(open..close).contains("&&")
            && !self.text(open..close).contains("||");
        if simple {
            for c in cmds.iter().filter(|c| c.span.start >= open && c.span.end <= close) {
                if is_top_level(&cmds, c) {
                    w.text
                        .push_str(self.text(c.name_span.clone()).trim_matches(|ch| ch == '"' || ch == '\''));
                    for a in &c.args {
                        w.text.push_str(&a.text);
                    }
                }
            }
        }
        w.nested.extend(cmds);
        Ok(())
    }

    fn skip_parens(&mut self) -> Res<()> {
        let open = self.pos;
        let mut depth = 0usize;
        loop {
            match self.peek() {
                None => {
                    self.pos = open;
                    return Err(self.err("unterminated extglob"));
                }
                Some(b'(') => depth += 1,
                Some(b')') => {
                    depth -= 1;
                    if depth == 0 {
                        self.pos += 1;
                        return Ok(());
                    }
                }
                Some(b'\\') => self.pos += 1,
                _ => {}
            }
            self.pos += 1;
        }
    }

    /// The end of a `[…]` glob class at the current position, if it is one (no blanks inside).
    fn glob_class_end(&self) -> Option<usize> {
        let mut p = self.pos + 1;
        if matches!(self.s.get(p), Some(b'!' | b'^')) {
            p += 1;
        }
        if self.s.get(p) == Some(&b']') {
            p += 1;
        }
        while p < self.s.len() {
            match self.s[p] {
                b']' => return (p > self.pos + 1).then_some(p + 1),
                b if is_word_end(b) => return None,
                b'\'' | b'"' | b'$' | b'`' | b'\\' => return None,
                _ => p += 1,
            }
        }
        None
    }

    /// The end of a brace expansion (`{a,b}`, `{1..3}`) at the current position, if it is one.
    fn brace_expansion_end(&self) -> Option<usize> {
        let mut depth = 0usize;
        let mut p = self.pos;
        let mut seen = false;
        while p < self.s.len() {
            match self.s[p] {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        return seen.then_some(p + 1);
                    }
                }
                b',' if depth == 1 => seen = true,
                b'.' if depth == 1 && self.s.get(p + 1) == Some(&b'.') => seen = true,
                b'\\' => p += 1,
                b'\'' | b'"' => {
                    let q = self.s[p];
                    p += 1;
                    while p < self.s.len() && self.s[p] != q {
                        p += 1;
                    }
                }
                b'$' if self.s.get(p + 1) == Some(&b'{') => return None,
                b if is_word_end(b) => return None,
                _ => {}
            }
            p += 1;
        }
        None
    }

    /// A brace expansion: dropped from the simplified text, but substitutions inside still count.
    fn brace_expansion(&mut self, w: &mut WordBuf, end: usize) -> Res<()> {
        self.pos += 1;
        let mut tmp = WordBuf::default();
        while self.pos < end - 1 {
            match self.peek() {
                Some(b'$' | b'`') => self.dollar_or_backtick(&mut tmp)?,
                Some(b'\\') => self.pos += 2,
                Some(q @ (b'\'' | b'"')) => {
                    self.pos += 1;
                    while self.peek().is_some_and(|c| c != q) {
                        self.pos += 1;
                    }
                    self.pos += 1;
                }
                _ => self.pos += 1,
            }
        }
        self.pos = end;
        w.nested.extend(tmp.nested);
        Ok(())
    }
}

/// Whether `c` is not inside the span of another command of `cmds` (a substitution within it).
fn is_top_level(cmds: &[Command], c: &Command) -> bool {
    !cmds.iter().any(|o| {
        !std::ptr::eq(o, c) && o.span.start <= c.span.start && c.span.end <= o.span.end && o.span != c.span
    })
}

/// `NAME=…` as a raw word (for `export`/`declare`-style arguments).
fn is_assignment_word(raw: &str) -> bool {
    let b = raw.as_bytes();
    if !b.first().copied().is_some_and(is_name_start) {
        return false;
    }
    let mut i = 1;
    while i < b.len() && is_name_char(b[i]) {
        i += 1;
    }
    if b.get(i) == Some(&b'[') {
        while i < b.len() && b[i] != b']' {
            i += 1;
        }
        i += 1;
    }
    if b.get(i) == Some(&b'+') {
        i += 1;
    }
    b.get(i) == Some(&b'=')
}

/// ShellCheck's `getCommandName`: the command behind `busybox`, `builtin`, `command`, `run` and `exec`.
fn effective_name(first: &str, span: &Range<usize>, args: &[Word]) -> (Option<String>, Range<usize>) {
    match first {
        "busybox" | "builtin" | "command" | "run" => match args.first() {
            Some(a) if !a.text.starts_with('-') => (literal_of(a), a.span.clone()),
            _ => (Some(first.to_owned()), span.clone()),
        },
        "exec" => {
            // getopts "cla:": skip flags (and the value of -a), take the first operand.
            let mut i = 0;
            while let Some(a) = args.get(i) {
                let t = a.text.as_str();
                if t == "--" {
                    i += 1;
                    break;
                }
                if t.starts_with('-') && t.len() > 1 {
                    i += if t.ends_with('a') { 2 } else { 1 };
                    continue;
                }
                break;
            }
            match args.get(i) {
                Some(a) => (literal_of(a), a.span.clone()),
                None => (Some(first.to_owned()), span.clone()),
            }
        }
        _ => (Some(first.to_owned()), span.clone()),
    }
}

/// The literal value of an argument word, if it has no expansions or globs.
fn literal_of(w: &Word) -> Option<String> {
    (!w.text.contains("${") && !w.text.contains(['*', '?'])).then(|| w.text.clone())
}

/// Decodes bash `$'…'` escapes (enough for command names).
fn decode_ansi_c(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut it = raw.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('a') => out.push('\u{7}'),
            Some('b') => out.push('\u{8}'),
            Some('e' | 'E') => out.push('\u{1b}'),
            Some('f') => out.push('\u{c}'),
            Some('v') => out.push('\u{b}'),
            Some(o) => out.push(o),
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(s: &str) -> Vec<String> {
        let p = parse(s);
        assert!(p.error.is_none(), "{s}: {:?}", p.error);
        p.commands.iter().map(|c| c.name.clone()).collect()
    }

    fn args(s: &str) -> Vec<Vec<String>> {
        parse(s).commands.iter().map(|c| c.args.iter().map(|a| a.text.clone()).collect()).collect()
    }

    #[test]
    fn lists_and_pipelines() {
        assert_eq!(names("a && b || c; d & e\nf"), ["a", "b", "c", "d", "e", "f"]);
        assert_eq!(parse("a | b |& c").pipes.len(), 2);
        assert!(parse("a || b").pipes.is_empty());
        assert_eq!(names("! a | b"), ["a", "b"]);
        assert_eq!(
            names("set -e; apt-get update && \\\n  apt-get install -y x"),
            ["set", "apt-get", "apt-get"]
        );
    }

    #[test]
    fn compound_commands() {
        assert_eq!(names("if [ -f x ]; then a; elif b; then c; else d; fi"), ["a", "b", "c", "d"]);
        assert_eq!(names("[ -d /x ] && echo $(y) || test -f z"), ["echo", "y", "test"]);
        assert_eq!(names("for i in 1 2 $(seq 3); do echo $i; done"), ["seq", "echo"]);
        assert_eq!(names("while read l; do x; done < f"), ["read", "x"]);
        assert_eq!(names("case $x in a|b) one;; *) two;; esac"), ["one", "two"]);
        assert_eq!(names("(cd /x && make) ; { a; b; }"), ["cd", "make", "a", "b"]);
        assert_eq!(names("f() { g; }; function h { i; }"), ["g", "i"]);
        assert_eq!(names("[[ -n $(x) && $y == z ]] && w"), ["x", "w"]);
        assert_eq!(names("for ((i=0;i<3;i++)); do a; done; (( x++ ))"), ["a"]);
        assert!(parse("case a in x) y;;").error.is_some());
    }

    #[test]
    fn words_are_simplified_like_shellcheck() {
        assert_eq!(
            args(r#"a "b c" 'd' e\ f $G ${H:-i} $(j k) `l` $((1+2)) x{1,2} /p/*"#)[0],
            ["b c", "d", "e f", "${G}", "${H:-i}", "${jk}", "${VAR}", "${VAR}", "x", "/p/*"]
        );
        assert_eq!(args("echo \"$1\" $@ x=$y")[0], ["${1}", "${@}", "x=${y}"]);
        assert_eq!(args("export A=1 B")[0], ["", "B"]);
        assert_eq!(args("apt-get install foo=1.0")[0], ["install", "foo=1.0"]);
    }

    #[test]
    fn nested_commands_follow_their_parent() {
        assert_eq!(names("a $(b $(c)) `d`"), ["a", "b", "c", "d"]);
        assert_eq!(names("X=$(y) z"), ["z", "y"]);
        assert_eq!(names("cat <(a) > $(b)"), ["cat", "b", "a"]);
        assert_eq!(names("x=1"), Vec::<String>::new());
        assert_eq!(parse("echo $(a | b)").pipes.len(), 1);
    }

    #[test]
    fn effective_command_names() {
        assert_eq!(
            names("busybox wget x; command -v y; command z; exec -a n q"),
            ["wget", "command", "z", "q"]
        );
        assert_eq!(args("busybox wget -q x")[0], ["wget", "-q", "x"]);
        assert_eq!(names("\"$CMD\" x; ./configure"), ["./configure"]);
        assert_eq!(names("time make -j2"), ["time", "make"]);
    }

    #[test]
    fn heredocs_and_comments() {
        assert_eq!(names("cat <<EOF > /f\nnot a command $(x)\nEOF\ny"), ["cat", "x", "y"]);
        assert_eq!(names("cat <<'EOF'\n$(x)\nEOF\n"), ["cat"]);
        assert_eq!(names("cat <<-EOF\n\tbody\n\tEOF\nz"), ["cat", "z"]);
        assert_eq!(names("a # b && c\nd"), ["a", "d"]);
        assert!(parse("cat <<EOF\nbody").error.is_some());
    }

    #[test]
    fn errors_yield_no_commands() {
        for bad in ["echo \"x", "echo 'x", "if a; then b", "a &&", "fi", "echo $(x", "a | ", "done"] {
            let p = parse(bad);
            assert!(p.error.is_some(), "{bad}");
            assert!(p.commands.is_empty());
        }
    }

    #[test]
    fn flags_like_hadolint() {
        let c = &parse("apt-get -qq --no-install-recommends install -t stretch foo bar=1 -- baz").commands[0];
        let f: Vec<_> = c.flags().into_iter().map(|f| f.name).collect();
        assert_eq!(f, ["q", "q", "no-install-recommends", "t"]);
        // As hadolint: `--` is not a flag, so it stays among the plain arguments.
        assert_eq!(c.plain_arg_texts(&["t"]), ["install", "foo", "bar=1", "--", "baz"]);
        assert_eq!(c.count_flag("q"), 2);
        assert_eq!(parse("useradd -u 123456 x").commands[0].flag_values("u"), ["123456"]);
    }

    #[test]
    fn spans_point_into_the_text() {
        let s = "  apt-get install -y  curl";
        let c = &parse(s).commands[0];
        assert_eq!(&s[c.name_span.clone()], "apt-get");
        assert_eq!(&s[c.args[2].span.clone()], "curl");
        assert_eq!(&s[c.span.clone()], "apt-get install -y  curl");
    }
}
