//! `Cargo.lock` files (read with the `cargo-lock` crate): every locked package, workspace members
//! included, like syft's directory cataloger. Off unless lockfiles are asked for.

use std::str::FromStr;

use crate::catalog::Found;
use crate::model::Ecosystem;

const FOUND_BY: &str = "rust-cargo-lock";

/// Parses a `Cargo.lock` (any of its format versions).
pub(crate) fn parse_cargo_lock(bytes: &[u8]) -> Result<Vec<Found>, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    let lock = cargo_lock::Lockfile::from_str(text).map_err(|e| e.to_string())?;
    Ok(lock
        .packages
        .iter()
        .map(|p| {
            let (name, version) = (p.name.as_str(), p.version.to_string());
            let mut found = Found::new(name, &version, Ecosystem::Rust, FOUND_BY);
            found.purl = Some(crate::purl::simple("cargo", None, name, &version));
            found
        })
        .collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn lockfile_v3() {
        let lock = "version = 3\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\ndependencies = [\"serde\"]\n\n\
[[package]]\nname = \"serde\"\nversion = \"1.0.190\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n\
checksum = \"91d3c334ca1ee894a2c6f6ad698fe8c435b76d504b13d436f0685d648d6d96f7\"\n";
        let found = parse_cargo_lock(lock.as_bytes()).unwrap();
        let ids: Vec<_> = found.iter().map(|f| f.purl.clone().unwrap()).collect();
        assert_eq!(ids, ["pkg:cargo/app@0.1.0", "pkg:cargo/serde@1.0.190"]);
        assert!(parse_cargo_lock(b"[[package]]\nname = 1\n").is_err());
    }
}
