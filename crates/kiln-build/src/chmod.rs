//! `COPY --chmod`: an octal mode (at most `7777`) or a symbolic one (`u+x,g-w,o=r`, chmod(1) syntax as
//! BuildKit's `dchapes-mode` reads it: `a` is implied when no `ugoa` is given, and the umask is not
//! consulted; `X` adds execute for directories and for files already executable by someone).
//!
//! Written here: the grammar is a dozen lines and no maintained crate parses chmod(1) symbolic modes
//! without also touching files.

use crate::error::BuildError;

/// A parsed `--chmod` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Chmod {
    /// An absolute mode.
    Octal(u32),
    /// Clauses applied to each file's current mode.
    Symbolic(Vec<Clause>),
}

/// One `who op perms` clause (with several ops per clause flattened).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Clause {
    who: u32,
    op: char,
    perms: Perms,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Perms {
    /// `rwxXst` letters.
    Bits { bits: u32, big_x: bool },
    /// Copy from `u`, `g` or `o`.
    Copy(char),
}

const WHO_U: u32 = 0o4700;
const WHO_G: u32 = 0o2070;
const WHO_O: u32 = 0o1007;

fn invalid(value: &str) -> BuildError {
    BuildError::Invalid(format!(
        "invalid chmod parameter: '{value}'. it should be octal string and between 0 and 07777, or a symbolic mode"
    ))
}

impl Chmod {
    /// Parses `--chmod`'s value.
    pub(crate) fn parse(value: &str) -> Result<Chmod, BuildError> {
        if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
            let n = u32::from_str_radix(value, 8).map_err(|_| invalid(value))?;
            if n > 0o7777 {
                return Err(invalid(value));
            }
            return Ok(Chmod::Octal(n));
        }
        let mut clauses = Vec::new();
        for part in value.split(',') {
            let who_len = part.find(|c| !"ugoa".contains(c)).unwrap_or(part.len());
            let mut who = 0;
            for c in part[..who_len].chars() {
                who |= match c {
                    'u' => WHO_U,
                    'g' => WHO_G,
                    'o' => WHO_O,
                    _ => WHO_U | WHO_G | WHO_O,
                };
            }
            if who == 0 {
                who = WHO_U | WHO_G | WHO_O;
            }
            let mut rest = &part[who_len..];
            if rest.is_empty() {
                return Err(invalid(value));
            }
            while let Some(op) = rest.chars().next() {
                if !"+-=".contains(op) {
                    return Err(invalid(value));
                }
                rest = &rest[1..];
                let end = rest.find(['+', '-', '=']).unwrap_or(rest.len());
                let letters = &rest[..end];
                rest = &rest[end..];
                let perms = match letters {
                    "u" | "g" | "o" => Perms::Copy(letters.chars().next().unwrap_or('u')),
                    _ => {
                        let mut bits = 0;
                        let mut big_x = false;
                        for c in letters.chars() {
                            bits |= match c {
                                'r' => 0o444,
                                'w' => 0o222,
                                'x' => 0o111,
                                'X' => {
                                    big_x = true;
                                    0
                                }
                                's' => 0o6000,
                                't' => 0o1000,
                                _ => return Err(invalid(value)),
                            };
                        }
                        Perms::Bits { bits, big_x }
                    }
                };
                clauses.push(Clause { who, op, perms });
            }
        }
        Ok(Chmod::Symbolic(clauses))
    }

    /// The new permission bits of a file with mode `mode` (`is_dir` for `X`).
    pub(crate) fn apply(&self, mode: u32, is_dir: bool) -> u32 {
        let clauses = match self {
            Chmod::Octal(n) => return *n,
            Chmod::Symbolic(c) => c,
        };
        let mut m = mode & 0o7777;
        for c in clauses {
            let mask = match &c.perms {
                Perms::Bits { bits, big_x } => {
                    let x = if *big_x && (is_dir || m & 0o111 != 0) { 0o111 } else { 0 };
                    (bits | x) & c.who
                }
                Perms::Copy(from) => {
                    let src = match from {
                        'u' => (m >> 6) & 7,
                        'g' => (m >> 3) & 7,
                        _ => m & 7,
                    };
                    (src << 6 | src << 3 | src) & c.who & 0o777
                }
            };
            m = match c.op {
                '+' => m | mask,
                '-' => m & !mask,
                _ => (m & !(c.who & 0o777)) | mask,
            };
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octal_and_symbolic() {
        assert_eq!(Chmod::parse("755").unwrap().apply(0o600, false), 0o755);
        assert_eq!(Chmod::parse("0644").unwrap().apply(0o777, true), 0o644);
        assert!(Chmod::parse("17777").is_err());
        assert!(Chmod::parse("u+q").is_err());
        assert_eq!(Chmod::parse("u+x").unwrap().apply(0o644, false), 0o744);
        assert_eq!(Chmod::parse("go-w").unwrap().apply(0o666, false), 0o644);
        assert_eq!(Chmod::parse("a=r,u+w").unwrap().apply(0o777, false), 0o644);
        assert_eq!(Chmod::parse("+x").unwrap().apply(0o600, false), 0o711);
        assert_eq!(Chmod::parse("a+X").unwrap().apply(0o644, true), 0o755);
        assert_eq!(Chmod::parse("a+X").unwrap().apply(0o644, false), 0o644);
        assert_eq!(Chmod::parse("g=u").unwrap().apply(0o740, false), 0o770);
        assert_eq!(Chmod::parse("u+s").unwrap().apply(0o755, false), 0o4755);
    }
}
