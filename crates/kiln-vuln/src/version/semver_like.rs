//! Semver-based schemes: plain SemVer 2.0 (crates.io, OSV `SEMVER` ranges), npm's dialect and Go module
//! versions, all parsed into `semver::Version` and ordered by SemVer precedence ([`precedence`]).
//!
//! Quirks handled here, on top of the `semver` crate:
//! - build metadata (`+incompatible`, `+build.5`) does not take part in precedence (SemVer §10; the crate's
//!   own `Ord` orders it to be total, which OSV matching must not do);
//! - npm accepts a leading `v` or `=` and surrounding spaces (node-semver's loose `clean`);
//! - Go writes `v1.2.3`; its pseudo-versions (`v0.0.0-20191109021931-daa7c04131f5`) are SemVer
//!   prereleases and order correctly as such; toolchain versions (`go1.21`, `go1.21rc2`, the `stdlib`
//!   package) become `1.21.0` / `1.21.0-rc.2`;
//! - partial versions that databases sometimes carry (`1.2`) are completed with zeros.
//!
//! npm's rule that a range only matches prereleases of its own `major.minor.patch` is a property of
//! node-semver *ranges*; OSV ranges are event lists evaluated by precedence, so it does not apply here.

use std::cmp::Ordering;

/// SemVer precedence: major, minor, patch, then prerelease (a release is greater than its prereleases);
/// build metadata is ignored.
pub fn precedence(a: &semver::Version, b: &semver::Version) -> Ordering {
    (a.major, a.minor, a.patch).cmp(&(b.major, b.minor, b.patch)).then_with(|| {
        match (a.pre.is_empty(), b.pre.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => a.pre.cmp(&b.pre),
        }
    })
}

/// Parses strict SemVer, completing `1` / `1.2` with zeros and accepting a leading `v`.
pub fn parse_semver(text: &str) -> Result<semver::Version, String> {
    let t = text.trim();
    let t = t.strip_prefix('v').unwrap_or(t);
    parse_completed(t)
}

/// Parses an npm version: node-semver's loose leading `=`/`v` and spaces.
pub fn parse_npm(text: &str) -> Result<semver::Version, String> {
    let t = text.trim().trim_start_matches(['=', 'v', ' ']);
    parse_completed(t)
}

/// Parses a Go module version (`v1.2.3`, pseudo-versions, `+incompatible`) or a Go toolchain version
/// (`go1.21.3`, `go1.21rc2`, `1.21.3`).
pub fn parse_go(text: &str) -> Result<semver::Version, String> {
    let t = text.trim();
    if let Some(toolchain) = t.strip_prefix("go") {
        return parse_toolchain(toolchain);
    }
    let t = t.strip_prefix('v').unwrap_or(t);
    parse_completed(t).or_else(|e| parse_toolchain(t).map_err(|_| e))
}

/// `1.21`, `1.21.3`, `1.21rc2`, `1.21beta1` → SemVer.
fn parse_toolchain(t: &str) -> Result<semver::Version, String> {
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (numbers, pre) = t.split_at(split);
    let mut v = parse_completed(numbers)?;
    if !pre.is_empty() {
        let kind_end = pre.find(|c: char| c.is_ascii_digit()).unwrap_or(pre.len());
        let (kind, n) = pre.split_at(kind_end);
        let spelled = if n.is_empty() { kind.to_owned() } else { format!("{kind}.{n}") };
        v.pre = semver::Prerelease::new(&spelled).map_err(|e| e.to_string())?;
    }
    Ok(v)
}

/// Parses SemVer after completing a core of one or two numbers with zeros.
fn parse_completed(t: &str) -> Result<semver::Version, String> {
    let core_end = t.find(['-', '+']).unwrap_or(t.len());
    let (core, rest) = t.split_at(core_end);
    let dots = core.matches('.').count();
    let completed = match dots {
        0 => format!("{core}.0.0{rest}"),
        1 => format!("{core}.0{rest}"),
        _ => t.to_owned(),
    };
    semver::Version::parse(&completed).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn go(s: &str) -> semver::Version {
        parse_go(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn go_quirks() {
        assert_eq!(precedence(&go("v1.2.3"), &go("1.2.3")), Ordering::Equal);
        assert_eq!(precedence(&go("v2.0.0+incompatible"), &go("v2.0.0")), Ordering::Equal);
        assert_eq!(
            precedence(&go("v0.0.0-20191109021931-daa7c04131f5"), &go("v0.0.0-20200101000000-abcdefabcdef")),
            Ordering::Less
        );
        assert_eq!(precedence(&go("v0.0.0-20191109021931-daa7c04131f5"), &go("v0.0.1")), Ordering::Less);
        assert_eq!(precedence(&go("v1.2.4-0.20191109021931-daa7c04131f5"), &go("v1.2.3")), Ordering::Greater);
        assert_eq!(precedence(&go("go1.21rc2"), &go("go1.21")), Ordering::Less);
        assert_eq!(precedence(&go("go1.21.3"), &go("1.21.3")), Ordering::Equal);
        assert_eq!(go("go1.21rc2").to_string(), "1.21.0-rc.2");
    }

    #[test]
    fn npm_loose_forms() {
        let a = parse_npm("=v1.2.3").unwrap();
        let b = parse_npm(" 1.2.3 ").unwrap();
        assert_eq!(precedence(&a, &b), Ordering::Equal);
        assert!(parse_npm("1.2.x").is_err());
    }
}
