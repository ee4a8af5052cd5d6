//! Installed Python distributions: `*.dist-info/METADATA`, `*.egg-info/PKG-INFO` and single-file
//! `*.egg-info` (core metadata, an RFC 822 header block; the body after the first blank line is the long
//! description and is not read).

use crate::catalog::Found;
use crate::model::Ecosystem;

/// The cataloger name.
const FOUND_BY: &str = "python-installed";

/// Parses core metadata into its distribution (`None` when it names no distribution, e.g. an empty file).
pub(crate) fn parse_metadata(bytes: &[u8]) -> Result<Option<Found>, String> {
    let text = String::from_utf8_lossy(bytes);
    let mut name = None;
    let mut version = None;
    let mut license = None;
    let mut expression = None;
    let mut classifiers = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            // Continuation of a folded header (multi-line License texts): only the first line is kept.
            continue;
        }
        let Some((key, value)) = line.split_once(':') else { continue };
        let value = value.trim();
        match key.to_ascii_lowercase().as_str() {
            "name" => name = Some(value.to_owned()),
            "version" => version = Some(value.to_owned()),
            "license" => license = Some(value.to_owned()),
            "license-expression" => expression = Some(value.to_owned()),
            "classifier" => {
                if let Some(l) = value.strip_prefix("License :: ") {
                    let l = l.rsplit(" :: ").next().unwrap_or(l);
                    classifiers.push(l.to_owned());
                }
            }
            _ => {}
        }
    }
    let Some(name) = name.filter(|n| !n.is_empty()) else { return Ok(None) };
    let Some(version) = version.filter(|v| !v.is_empty()) else {
        return Err(format!("distribution {name} has no Version"));
    };
    let mut found = Found::new(&name, &version, Ecosystem::Python, FOUND_BY);
    let license = license.filter(|l| !l.is_empty() && !l.eq_ignore_ascii_case("UNKNOWN") && l.len() < 100);
    found.licenses = match (expression, license) {
        (Some(e), _) if !e.is_empty() => vec![e],
        (_, Some(l)) => vec![l],
        _ => classifiers,
    };
    found.purl = Some(crate::purl::simple("pypi", None, &name, &version));
    Ok(Some(found))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn wheel_metadata() {
        let text = "Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\nLicense: Apache 2.0\n\
Classifier: License :: OSI Approved :: Apache Software License\nRequires-Dist: idna\n\n\
Name: not-a-header\n";
        let found = parse_metadata(text.as_bytes()).unwrap().unwrap();
        assert_eq!((found.name.as_str(), found.version.as_str()), ("requests", "2.31.0"));
        assert_eq!(found.licenses, ["Apache 2.0"]);
        assert_eq!(found.purl.as_deref(), Some("pkg:pypi/requests@2.31.0"));
    }

    #[test]
    fn classifier_licenses_when_no_license_field() {
        let text = "Name: six\nVersion: 1.16.0\nLicense: UNKNOWN\nClassifier: License :: OSI Approved :: MIT License\n";
        let found = parse_metadata(text.as_bytes()).unwrap().unwrap();
        assert_eq!(found.licenses, ["MIT License"]);
    }

    #[test]
    fn missing_version_is_an_error() {
        assert_eq!(parse_metadata(b"Name: x\n").unwrap_err(), "distribution x has no Version");
        assert_eq!(parse_metadata(b"").unwrap(), None);
    }
}
