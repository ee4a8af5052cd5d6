//! Alpine packages: the apk database `lib/apk/db/installed`, paragraphs of one-letter fields (`P:` name,
//! `V:` version, `A:` arch, `L:` license, `o:` origin, the source package).

use crate::catalog::Found;
use crate::model::Ecosystem;

/// The cataloger name.
const FOUND_BY: &str = "apk-db";

/// Parses an apk `installed` database.
pub(crate) fn parse_installed(bytes: &[u8]) -> Result<Vec<Found>, String> {
    let text = String::from_utf8_lossy(bytes);
    let mut out = Vec::new();
    let mut current: Option<(usize, Found)> = None;
    let finish = |current: Option<(usize, Found)>, out: &mut Vec<Found>| -> Result<(), String> {
        if let Some((line, found)) = current {
            if found.name.is_empty() {
                return Err(format!("line {line}: package without a P: (name) field"));
            }
            if found.version.is_empty() {
                return Err(format!("line {line}: package {} has no V: (version) field", found.name));
            }
            out.push(found);
        }
        Ok(())
    };
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            finish(current.take(), &mut out)?;
            continue;
        }
        let Some((key, value)) = line.split_once(':') else { continue };
        let (_, found) = current.get_or_insert_with(|| (i + 1, Found::new("", "", Ecosystem::Apk, FOUND_BY)));
        match key {
            "P" => found.name = value.to_owned(),
            "V" => found.version = value.to_owned(),
            "A" => found.arch = Some(value.to_owned()),
            "L" if !value.is_empty() => found.licenses = vec![value.to_owned()],
            "o" if !value.is_empty() => found.source_name = Some(value.to_owned()),
            _ => {}
        }
    }
    finish(current, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn two_packages() {
        let db = "C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\nL:MIT\no:musl\n\nP:libssl3\nV:3.1.4-r5\nA:x86_64\n\
L:Apache-2.0\no:openssl\nR:libssl.so.3\n\n";
        let found = parse_installed(db.as_bytes()).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!((found[1].name.as_str(), found[1].version.as_str()), ("libssl3", "3.1.4-r5"));
        assert_eq!(found[1].source_name.as_deref(), Some("openssl"));
        assert_eq!(found[1].licenses, ["Apache-2.0"]);
        assert_eq!(found[0].arch.as_deref(), Some("x86_64"));
    }

    #[test]
    fn missing_version_is_an_error_naming_the_line() {
        let err = parse_installed(b"P:musl\nV:1\n\nC:x\nP:zlib\n").unwrap_err();
        assert_eq!(err, "line 4: package zlib has no V: (version) field");
    }
}
