//! Builder-flag validation ([`FlagSet`], BuildKit's `BFlags`) and the "did you mean …?" suggestions
//! ([`suggest`], BuildKit's `util/suggest`).

use crate::syntax::Flag;

/// How a flag takes its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlagType {
    /// `--link`, `--link=true|false`.
    Bool,
    /// `--from=x`, at most once.
    String,
    /// `--exclude=x`, repeatable.
    Strings,
}

/// The value a flag got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FlagValue {
    Bool(bool),
    String(String),
    Strings(Vec<String>),
}

/// A flag error: the message and the index of the offending flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FlagError {
    pub(crate) message: String,
    pub(crate) help: Option<String>,
    pub(crate) index: usize,
}

/// The flags an instruction accepts and, after [`FlagSet::parse`], what each was given.
pub(crate) struct FlagSet<'a> {
    defs: Vec<(&'static str, FlagType)>,
    used: Vec<(&'static str, FlagValue, usize)>,
    flags: &'a [Flag],
}

impl<'a> FlagSet<'a> {
    pub(crate) fn new(flags: &'a [Flag]) -> Self {
        FlagSet { defs: Vec::new(), used: Vec::new(), flags }
    }

    pub(crate) fn add(&mut self, name: &'static str, ty: FlagType) {
        self.defs.push((name, ty));
    }

    /// BuildKit's `BFlags.Parse`, with its messages.
    pub(crate) fn parse(&mut self) -> Result<(), FlagError> {
        for (index, f) in self.flags.iter().enumerate() {
            let err = |message: String| FlagError { message, help: None, index };
            let a = f.raw.as_str();
            if a == "--" {
                return Ok(());
            }
            if !a.starts_with("--") {
                return Err(err(format!("arg should start with -- : {a}")));
            }
            let (flag_name, value) = match a.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (a, None),
            };
            let arg = &flag_name[2..];
            let Some(&(name, ty)) = self.defs.iter().find(|(n, _)| *n == arg) else {
                let names: Vec<&str> = self.defs.iter().map(|(n, _)| *n).collect();
                return Err(FlagError {
                    message: format!("unknown flag: {flag_name}"),
                    help: suggest(arg, &names, true).map(|m| format!("did you mean {m}?")),
                    index,
                });
            };
            let previous = self.used.iter().position(|(n, _, _)| *n == name);
            if previous.is_some() && ty != FlagType::Strings {
                return Err(err(format!("duplicate flag specified: {flag_name}")));
            }
            let v = match ty {
                FlagType::Bool => {
                    if value == Some("") {
                        return Err(err(format!("missing a value on flag: {flag_name}")));
                    }
                    match value.map(str::to_lowercase).as_deref() {
                        None | Some("true") => FlagValue::Bool(true),
                        Some("false") => FlagValue::Bool(false),
                        Some(_) => {
                            return Err(err(format!(
                                "expecting boolean value for flag {flag_name}, not: {}",
                                value.unwrap_or_default()
                            )));
                        }
                    }
                }
                FlagType::String | FlagType::Strings => {
                    let Some(v) = value else {
                        return Err(err(format!("missing a value on flag: {flag_name}")));
                    };
                    if ty == FlagType::String {
                        FlagValue::String(v.to_owned())
                    } else {
                        FlagValue::Strings(vec![v.to_owned()])
                    }
                }
            };
            match (previous, v) {
                (Some(p), FlagValue::Strings(mut more)) => {
                    if let FlagValue::Strings(all) = &mut self.used[p].1 {
                        all.append(&mut more);
                    }
                }
                (_, v) => self.used.push((name, v, index)),
            }
        }
        Ok(())
    }

    /// Index of the flag word that set `name` (the first one for repeatable flags).
    pub(crate) fn index(&self, name: &str) -> Option<usize> {
        self.used.iter().find(|(n, _, _)| *n == name).map(|(_, _, i)| *i)
    }

    pub(crate) fn is_used(&self, name: &str) -> bool {
        self.index(name).is_some()
    }

    pub(crate) fn bool(&self, name: &str) -> bool {
        self.used.iter().any(|(n, v, _)| *n == name && *v == FlagValue::Bool(true))
    }

    /// The flag as a token-like pair: value and the index of its flag word.
    pub(crate) fn string(&self, name: &str) -> Option<(String, usize)> {
        self.used.iter().find(|(n, _, _)| *n == name).and_then(|(_, v, i)| match v {
            FlagValue::String(s) => Some((s.clone(), *i)),
            _ => None,
        })
    }

    /// Values of a repeatable flag with the index of each flag word, in order.
    pub(crate) fn strings(&self, name: &str) -> Vec<(String, usize)> {
        self.flags
            .iter()
            .enumerate()
            .filter_map(|(i, f)| {
                let (n, v) = f.raw.split_once('=')?;
                (n.strip_prefix("--") == Some(name)).then(|| (v.to_owned(), i))
            })
            .collect()
    }
}

/// BuildKit's `suggest.Search`: the closest option with a Levenshtein distance below 3 (ties go to the
/// first option; BuildKit iterates a Go map, so its tie-break is random). `None` on an exact match.
pub fn suggest(value: &str, options: &[&str], case_sensitive: bool) -> Option<String> {
    let val = if case_sensitive { value.to_owned() } else { value.to_lowercase() };
    let mut best: Option<String> = None;
    let mut min = 3;
    for opt in options {
        let o = if case_sensitive { (*opt).to_owned() } else { opt.to_lowercase() };
        if o == val {
            return None;
        }
        let d = levenshtein(&val, &o);
        if d < min {
            min = d;
            best = Some(if case_sensitive {
                o
            } else if value == value.to_lowercase() {
                o.to_lowercase()
            } else if value == value.to_uppercase() {
                o.to_uppercase()
            } else {
                o
            });
        }
    }
    best
}

fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_follow_buildkit() {
        let names = ["ENTRYPOINT", "RUN", "COPY"];
        assert_eq!(suggest("FNTRYPOINT", &names, false).as_deref(), Some("ENTRYPOINT"));
        assert_eq!(suggest("cpy", &names, false).as_deref(), Some("copy"));
        assert_eq!(suggest("Cpy", &names, false).as_deref(), Some("copy"));
        assert_eq!(suggest("xyzzy", &names, false), None);
        assert_eq!(suggest("frm", &["from", "chown"], true).as_deref(), Some("from"));
        assert_eq!(levenshtein("kitten", "sitting"), 3);
    }
}
