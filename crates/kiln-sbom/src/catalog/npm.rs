//! npm packages: every `package.json` with a name and a version (as syft does for images: installed
//! packages under `node_modules`, and applications' own manifests), and, when lockfiles are asked for,
//! `package-lock.json` (lockfile versions 1, 2 and 3).

use serde::Deserialize;
use serde_json::Value;

use crate::catalog::Found;
use crate::model::Ecosystem;

/// The cataloger names.
const FOUND_BY: &str = "npm-package-json";
const FOUND_BY_LOCK: &str = "npm-package-lock";

#[derive(Deserialize)]
struct PackageJson {
    #[serde(default)]
    name: Option<Value>,
    #[serde(default)]
    version: Option<Value>,
    #[serde(default)]
    license: Option<Value>,
    #[serde(default)]
    licenses: Option<Value>,
}

/// Parses a `package.json`; `None` when it has no string name and version (a workspace root, a
/// test fixture), like syft.
pub(crate) fn parse_package_json(bytes: &[u8]) -> Result<Option<Found>, String> {
    let pkg: PackageJson =
        serde_json::from_slice(strip_bom(bytes)).map_err(|e| format!("invalid JSON: {e}"))?;
    let (Some(Value::String(name)), Some(Value::String(version))) = (&pkg.name, &pkg.version) else {
        return Ok(None);
    };
    if name.is_empty() || version.is_empty() {
        return Ok(None);
    }
    let mut found = Found::new(name, version, Ecosystem::Npm, FOUND_BY);
    found.licenses = licenses(pkg.license.as_ref()).chain(licenses(pkg.licenses.as_ref())).collect();
    found.purl = Some(purl(name, version));
    Ok(Some(found))
}

/// License strings from `license` / `licenses`: a string, `{ "type": … }`, or an array of either.
fn licenses(value: Option<&Value>) -> Box<dyn Iterator<Item = String> + '_> {
    match value {
        Some(Value::String(s)) if !s.is_empty() => Box::new(std::iter::once(s.clone())),
        Some(Value::Object(o)) => {
            Box::new(o.get("type").and_then(Value::as_str).map(str::to_owned).into_iter())
        }
        Some(Value::Array(items)) => Box::new(items.iter().flat_map(|v| licenses(Some(v)))),
        _ => Box::new(std::iter::empty()),
    }
}

/// `pkg:npm/%40scope/name@version` (the scope is the purl namespace).
pub(crate) fn purl(name: &str, version: &str) -> String {
    match name.split_once('/') {
        Some((scope, rest)) if scope.starts_with('@') => {
            crate::purl::simple("npm", Some(scope), rest, version)
        }
        _ => crate::purl::simple("npm", None, name, version),
    }
}

fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes)
}

#[derive(Deserialize)]
struct Lock {
    #[serde(default, rename = "lockfileVersion")]
    lockfile_version: u32,
    #[serde(default)]
    packages: serde_json::Map<String, Value>,
    #[serde(default)]
    dependencies: serde_json::Map<String, Value>,
}

/// Parses a `package-lock.json` (v1: nested `dependencies`; v2/v3: `packages` keyed by install path).
pub(crate) fn parse_package_lock(bytes: &[u8]) -> Result<Vec<Found>, String> {
    let lock: Lock = serde_json::from_slice(strip_bom(bytes)).map_err(|e| format!("invalid JSON: {e}"))?;
    let mut out = Vec::new();
    if lock.lockfile_version >= 2 && !lock.packages.is_empty() {
        for (path, entry) in &lock.packages {
            if path.is_empty() || entry.get("link").and_then(Value::as_bool) == Some(true) {
                continue;
            }
            let name = entry
                .get("name")
                .and_then(Value::as_str)
                .or_else(|| path.rsplit_once("node_modules/").map(|(_, n)| n))
                .unwrap_or(path);
            let Some(version) = entry.get("version").and_then(Value::as_str) else { continue };
            let mut found = Found::new(name, version, Ecosystem::Npm, FOUND_BY_LOCK);
            found.licenses = licenses(entry.get("license")).collect();
            found.purl = Some(purl(name, version));
            out.push(found);
        }
    } else {
        lock_v1(&lock.dependencies, &mut out);
    }
    Ok(out)
}

fn lock_v1(deps: &serde_json::Map<String, Value>, out: &mut Vec<Found>) {
    for (name, entry) in deps {
        if let Some(version) = entry.get("version").and_then(Value::as_str)
            && !version.starts_with("file:")
        {
            let mut found = Found::new(name, version, Ecosystem::Npm, FOUND_BY_LOCK);
            found.purl = Some(purl(name, version));
            out.push(found);
        }
        if let Some(Value::Object(nested)) = entry.get("dependencies") {
            lock_v1(nested, out);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn scoped_package_json() {
        let found = parse_package_json(br#"{"name":"@babel/core","version":"7.23.0","license":"MIT"}"#)
            .unwrap()
            .unwrap();
        assert_eq!(found.purl.as_deref(), Some("pkg:npm/%40babel/core@7.23.0"));
        assert_eq!(found.licenses, ["MIT"]);
    }

    #[test]
    fn without_version_is_not_a_package() {
        assert_eq!(parse_package_json(br#"{"name":"app","private":true}"#).unwrap(), None);
        assert!(parse_package_json(b"{").unwrap_err().starts_with("invalid JSON"));
    }

    #[test]
    fn old_style_licenses() {
        let found = parse_package_json(
            br#"{"name":"a","version":"1.0.0","licenses":[{"type":"MIT"},{"type":"Apache-2.0"}]}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(found.licenses, ["MIT", "Apache-2.0"]);
    }

    #[test]
    fn lockfile_v3_and_v1() {
        let v3 = br#"{"lockfileVersion":3,"packages":{"":{"name":"app","version":"1.0.0"},
            "node_modules/left-pad":{"version":"1.3.0","license":"WTFPL"},
            "node_modules/a/node_modules/@x/y":{"version":"2.0.0"},
            "node_modules/linked":{"link":true,"resolved":"../linked"}}}"#;
        let found = parse_package_lock(v3).unwrap();
        let ids: Vec<_> = found.iter().map(|f| format!("{}@{}", f.name, f.version)).collect();
        assert_eq!(ids, ["left-pad@1.3.0", "@x/y@2.0.0"]);
        let v1 = br#"{"lockfileVersion":1,"dependencies":{"a":{"version":"1.0.0","dependencies":{"b":{"version":"2.0.0"}}}}}"#;
        let ids: Vec<_> =
            parse_package_lock(v1).unwrap().iter().map(|f| format!("{}@{}", f.name, f.version)).collect();
        assert_eq!(ids, ["a@1.0.0", "b@2.0.0"]);
    }
}
