//! Debian packages: the dpkg status database (`var/lib/dpkg/status`, or distroless's one-file-per-package
//! `var/lib/dpkg/status.d/*`), and the license names of `usr/share/doc/<package>/copyright` files.
//!
//! A status file is a sequence of RFC 822-style paragraphs. Like syft, only packages whose `Status` says
//! `installed` are reported (a removed package leaves a `deinstall ok config-files` paragraph behind); a
//! paragraph with no `Status` (some distroless files) counts as installed. `Source: name (version)` is kept:
//! OSV's Debian advisories are keyed by source package.

use crate::catalog::Found;
use crate::model::Ecosystem;

/// The cataloger name.
const FOUND_BY: &str = "dpkg-db";

/// Parses a dpkg status file (or one `status.d` file) into its installed packages.
pub(crate) fn parse_status(bytes: &[u8]) -> Result<Vec<Found>, String> {
    let text = String::from_utf8_lossy(bytes);
    let mut out = Vec::new();
    for (n, paragraph) in paragraphs(&text) {
        let field = |name: &str| field(paragraph, name);
        let Some(name) = field("Package") else {
            // A paragraph with fields but no Package: not a status file (e.g. an md5sums file).
            if paragraph.lines().any(|l| l.contains(':')) {
                continue;
            }
            return Err(format!("line {n}: paragraph without a Package field"));
        };
        if let Some(status) = field("Status")
            && status.split_whitespace().nth(2) != Some("installed")
        {
            continue;
        }
        let Some(version) = field("Version") else {
            return Err(format!("line {n}: package {name} has no Version"));
        };
        let mut found = Found::new(&name, &version, Ecosystem::Deb, FOUND_BY);
        found.arch = field("Architecture");
        if let Some(source) = field("Source") {
            match source.split_once(' ') {
                Some((src, rest)) => {
                    found.source_name = Some(src.to_owned());
                    let v = rest.trim().trim_start_matches('(').trim_end_matches(')').trim();
                    if !v.is_empty() {
                        found.source_version = Some(v.to_owned());
                    }
                }
                None => found.source_name = Some(source),
            }
        }
        out.push(found);
    }
    Ok(out)
}

/// Splits a control file into paragraphs, with the 1-based line each starts on.
fn paragraphs(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start: Option<(usize, usize)> = None;
    let mut offset = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let blank = line.trim().is_empty();
        match (blank, start) {
            (false, None) => start = Some((i + 1, offset)),
            (true, Some((n, s))) => {
                out.push((n, &text[s..offset]));
                start = None;
            }
            _ => {}
        }
        offset += line.len();
    }
    if let Some((n, s)) = start {
        out.push((n, &text[s..]));
    }
    out
}

/// The value of a single-line field (`Name: value`), trimmed; continuation lines are not part of it.
fn field(paragraph: &str, name: &str) -> Option<String> {
    paragraph.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (!line.starts_with([' ', '\t']) && key.eq_ignore_ascii_case(name)).then(|| value.trim().to_owned())
    })
}

/// License names in a Debian copyright file: every `License: X` line (machine-readable copyright format)
/// and every `/usr/share/common-licenses/X` reference, sorted and deduplicated. Summaries combining
/// licenses (`GPL-2 or Artistic`) are skipped: their parts have their own `License:` paragraphs.
pub(crate) fn parse_copyright(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let mut found: Vec<String> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("License:") {
            // The first word after the header, unless the header holds a multi-license summary.
            let value = rest.trim();
            if !(value.contains(" or ") || value.contains(" and ")) {
                let first = rest.split_whitespace().next().filter(|_| rest.starts_with(' '));
                push_license(&mut found, first.unwrap_or(""));
            }
        }
        let mut rest = line;
        while let Some(at) = rest.find("/usr/share/common-licenses/") {
            rest = &rest[at + "/usr/share/common-licenses/".len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
                .unwrap_or(rest.len());
            push_license(&mut found, &rest[..end]);
            rest = &rest[end..];
        }
    }
    found.sort();
    found.dedup();
    found
}

fn push_license(found: &mut Vec<String>, candidate: &str) {
    let candidate = candidate.trim().trim_end_matches('.');
    if !candidate.is_empty() && !candidate.eq_ignore_ascii_case("none") {
        found.push(candidate.to_owned());
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const STATUS: &str = "\
Package: libc6
Status: install ok installed
Architecture: amd64
Source: glibc
Version: 2.36-9+deb12u4
Description: GNU C Library
 continuation: with a colon

Package: bsdutils
Status: install ok installed
Architecture: amd64
Source: util-linux (2.38.1-5+deb12u3)
Version: 1:2.38.1-5+deb12u3

Package: oldpkg
Status: deinstall ok config-files
Version: 1.0

Package: zlib1g
Version: 1:1.2.13.dfsg-1
Architecture: amd64
";

    #[test]
    fn installed_packages_with_sources() {
        let found = parse_status(STATUS.as_bytes()).unwrap();
        let names: Vec<_> = found.iter().map(|f| (f.name.as_str(), f.version.as_str())).collect();
        assert_eq!(
            names,
            [("libc6", "2.36-9+deb12u4"), ("bsdutils", "1:2.38.1-5+deb12u3"), ("zlib1g", "1:1.2.13.dfsg-1")]
        );
        assert_eq!(found[0].source_name.as_deref(), Some("glibc"));
        assert_eq!(found[0].source_version, None);
        assert_eq!(found[1].source_name.as_deref(), Some("util-linux"));
        assert_eq!(found[1].source_version.as_deref(), Some("2.38.1-5+deb12u3"));
        assert_eq!(found[0].arch.as_deref(), Some("amd64"));
    }

    #[test]
    fn a_package_without_version_names_its_line() {
        let err = parse_status(b"Package: a\nVersion: 1\n\n\nPackage: b\nStatus: install ok installed\n")
            .unwrap_err();
        assert_eq!(err, "line 5: package b has no Version");
    }

    #[test]
    fn copyright_licenses() {
        let text = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\
Files: *\nLicense: GPL-2+\n\nFiles: lib/*\nLicense: LGPL-2.1 or GPL-3\n\nLicense: LGPL-2.1\n \
On Debian systems, see /usr/share/common-licenses/LGPL-2.1.\n\nLicense: none\n";
        assert_eq!(parse_copyright(text.as_bytes()), ["GPL-2+", "LGPL-2.1"]);
    }
}
