//! Maven's version ordering, the semantics of `org.apache.maven.artifact.versioning.ComparableVersion`
//! (Maven 3.9), written here because no Rust crate implements it; checked against the vectors of Maven's
//! `ComparableVersionTest` in the integration tests.
//!
//! A version is parsed, case-insensitively, into a list of items: numbers, qualifier strings, and
//! sub-lists. `.` separates items of one list; `-` starts a sub-list; so does a switch between digits and
//! letters (`1.0alpha1` is `1.0-alpha-1`). Trailing "null" items (0, the empty qualifier and its aliases
//! `ga`/`final`/`release`, empty lists) are dropped from every list, so `1 = 1.0 = 1-0 = 1.ga`.
//!
//! Qualifiers rank `alpha < beta < milestone < rc = cr < snapshot < (release) < sp < unknown` (unknown
//! ones among themselves alphabetically); `a1`, `b1`, `m1` (a letter directly followed by a digit) mean
//! alpha, beta, milestone. A number ranks above a sub-list, a sub-list above a qualifier:
//! `1-sp < 1-1 < 1.1`.

use std::cmp::Ordering;

/// Known qualifiers in rank order; "" is the release itself.
const QUALIFIERS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];
/// The rank of the release ("") in [`QUALIFIERS`].
const RELEASE: usize = 5;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    /// A number, kept as its digits without leading zeros (unbounded, like Maven's BigInteger).
    Int(String),
    /// A qualifier, as its sort key (`"3"` for rc, `"7-foo"` for the unknown `foo`).
    Str(String),
    /// A sub-list.
    List(Vec<Item>),
}

/// A parsed Maven version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MavenVersion {
    items: Vec<Item>,
}

impl MavenVersion {
    /// Parses any string (Maven accepts every string as a version).
    pub fn parse(text: &str) -> MavenVersion {
        MavenVersion { items: parse(&text.trim().to_lowercase()) }
    }
}

fn int_item(digits: &str) -> Item {
    let t = digits.trim_start_matches('0');
    Item::Int(t.to_owned())
}

/// The sort key of a qualifier: its rank as a digit for known ones, `"7-<name>"` for unknown ones (so they
/// sort after all known ones, alphabetically), like Maven's `comparableQualifier`.
fn qualifier_key(q: &str, followed_by_digit: bool) -> String {
    let q = match q {
        "a" if followed_by_digit => "alpha",
        "b" if followed_by_digit => "beta",
        "m" if followed_by_digit => "milestone",
        "ga" | "final" | "release" => "",
        "cr" => "rc",
        other => other,
    };
    match QUALIFIERS.iter().position(|k| *k == q) {
        Some(i) => i.to_string(),
        None => format!("{}-{q}", QUALIFIERS.len()),
    }
}

fn parse_item(is_digit: bool, s: &str, followed_by_digit: bool) -> Item {
    if is_digit { int_item(s) } else { Item::Str(qualifier_key(s, followed_by_digit)) }
}

fn parse(v: &str) -> Vec<Item> {
    // A stack of lists under construction; each finished list is appended to its parent.
    let mut stack: Vec<Vec<Item>> = vec![Vec::new()];
    let b = v.as_bytes();
    let mut start = 0;
    let mut is_digit = false;
    let top = |stack: &mut Vec<Vec<Item>>, item: Item| {
        if let Some(list) = stack.last_mut() {
            list.push(item);
        }
    };
    for (i, &c) in b.iter().enumerate() {
        if c == b'.' || c == b'-' {
            let item =
                if i == start { Item::Int(String::new()) } else { parse_item(is_digit, &v[start..i], false) };
            top(&mut stack, item);
            start = i + 1;
            if c == b'-' {
                stack.push(Vec::new());
            }
        } else if c.is_ascii_digit() {
            if !is_digit && i > start {
                // letters → digits: the qualifier ends, a sub-list begins (`alpha1` = `alpha-1`).
                top(&mut stack, Item::Str(qualifier_key(&v[start..i], true)));
                start = i;
                stack.push(Vec::new());
            }
            is_digit = true;
        } else {
            if is_digit && i > start {
                // digits → letters: the number ends, a sub-list begins (`1a` = `1-a`).
                top(&mut stack, int_item(&v[start..i]));
                start = i;
                stack.push(Vec::new());
            }
            is_digit = false;
        }
    }
    if b.len() > start {
        top(&mut stack, parse_item(is_digit, &v[start..], false));
    }
    // Close the open lists innermost first, normalizing each.
    while stack.len() > 1 {
        let mut list = stack.pop().unwrap_or_default();
        normalize(&mut list);
        top(&mut stack, Item::List(list));
    }
    let mut root = stack.pop().unwrap_or_default();
    normalize(&mut root);
    root
}

fn is_null(item: &Item) -> bool {
    match item {
        Item::Int(d) => d.is_empty(),
        Item::Str(k) => *k == RELEASE.to_string(),
        Item::List(l) => l.is_empty(),
    }
}

/// Drops trailing null items, looking past trailing sub-lists (Maven's `ListItem.normalize`).
fn normalize(list: &mut Vec<Item>) {
    let mut i = list.len();
    while i > 0 {
        i -= 1;
        if is_null(&list[i]) {
            list.remove(i);
        } else if !matches!(list[i], Item::List(_)) {
            break;
        }
    }
}

fn cmp_int(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// `item` compared with "nothing" (the other version ran out).
fn cmp_null(item: &Item) -> Ordering {
    match item {
        Item::Int(d) => {
            if d.is_empty() {
                Ordering::Equal
            } else {
                Ordering::Greater
            }
        }
        Item::Str(k) => k.as_str().cmp(RELEASE.to_string().as_str()),
        Item::List(l) => l.iter().map(cmp_null).find(|o| *o != Ordering::Equal).unwrap_or(Ordering::Equal),
    }
}

fn cmp_item(a: &Item, b: &Item) -> Ordering {
    match (a, b) {
        (Item::Int(x), Item::Int(y)) => cmp_int(x, y),
        (Item::Int(_), _) => Ordering::Greater,
        (Item::Str(_), Item::Int(_)) => Ordering::Less,
        (Item::Str(x), Item::Str(y)) => x.cmp(y),
        (Item::Str(_), Item::List(_)) => Ordering::Less,
        (Item::List(_), Item::Int(_)) => Ordering::Less,
        (Item::List(_), Item::Str(_)) => Ordering::Greater,
        (Item::List(x), Item::List(y)) => cmp_list(x, y),
    }
}

fn cmp_list(a: &[Item], b: &[Item]) -> Ordering {
    for i in 0..a.len().max(b.len()) {
        let o = match (a.get(i), b.get(i)) {
            (Some(x), Some(y)) => cmp_item(x, y),
            (Some(x), None) => cmp_null(x),
            (None, Some(y)) => cmp_null(y).reverse(),
            (None, None) => Ordering::Equal,
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

impl Ord for MavenVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_list(&self.items, &other.items)
    }
}

impl PartialOrd for MavenVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structure() {
        let v = MavenVersion::parse("1-alpha2snapshot");
        let s = |k: &str| Item::Str(k.to_owned());
        let n = |d: &str| Item::Int(d.to_owned());
        assert_eq!(
            v.items,
            vec![n("1"), Item::List(vec![s("0"), Item::List(vec![n("2"), Item::List(vec![s("4")])])])]
        );
        assert_eq!(MavenVersion::parse("1.0.0").items, vec![n("1")]);
        assert_eq!(MavenVersion::parse("1.0alpha1"), MavenVersion::parse("1-alpha-1"));
    }
}
