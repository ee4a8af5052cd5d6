//! Version ordering per ecosystem. The central type is [`Version`]: a version string parsed under one
//! [`Scheme`], ordered the way that ecosystem's own tools order it.
//!
//! | scheme | used by (OSV ecosystems) | implementation |
//! |---|---|---|
//! | [`Scheme::Dpkg`] | `Debian`, `Ubuntu` | the `debversion` crate (epochs, `~`, revisions) |
//! | [`Scheme::Apk`] | `Alpine`, `Wolfi`, `Chainguard` | [`apk`], written here (no crate exists), checked against apk-tools' vectors |
//! | [`Scheme::Pep440`] | `PyPI` | the `pep440_rs` crate (uv's) |
//! | [`Scheme::Semver`] | `crates.io`, OSV `SEMVER` ranges | the `semver` crate, build metadata ignored |
//! | [`Scheme::Npm`] | `npm` | [`semver_like`]: npm's loose spellings (`v1.2.3`, `=1.2.3`) |
//! | [`Scheme::Go`] | `Go` | [`semver_like`]: the `v` prefix, `+incompatible`, `go1.21rc2` toolchain versions; pseudo-versions order as the prereleases they are |
//! | [`Scheme::Maven`] | `Maven` | [`maven`], Maven's `ComparableVersion` written here |
//! | [`Scheme::Rpm`] | `Red Hat`, `Rocky Linux`, `AlmaLinux`, `openSUSE`, `SUSE`, `Mageia` | [`rpm`], `rpmvercmp` written here |
//!
//! Two versions compare only under the same scheme; [`Version::compare`] returns `None` otherwise.

pub mod apk;
pub mod maven;
pub mod rpm;
pub mod semver_like;

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// A version string that its scheme rejects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{scheme} version {version:?}: {reason}")]
pub struct VersionError {
    /// The scheme it was parsed under.
    pub scheme: Scheme,
    /// The rejected text.
    pub version: String,
    /// Why.
    pub reason: String,
}

/// A version-ordering scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scheme {
    /// Debian's dpkg (`[epoch:]upstream[-revision]`, `~` sorts before everything).
    Dpkg,
    /// Alpine's apk (`1.2.3_rc1-r0`).
    Apk,
    /// Python's PEP 440.
    Pep440,
    /// Semantic Versioning 2.0 (crates.io, OSV `SEMVER` ranges).
    Semver,
    /// npm's semver dialect.
    Npm,
    /// Go module versions.
    Go,
    /// Maven's `ComparableVersion`.
    Maven,
    /// RPM's `rpmvercmp` with epoch and release.
    Rpm,
}

impl Scheme {
    /// The scheme an OSV ecosystem orders versions by (`Debian:12` → dpkg), or `None` for ecosystems whose
    /// versions cannot be ordered here (their advisories still match through explicit `versions` lists).
    pub fn for_ecosystem(ecosystem: &str) -> Option<Scheme> {
        let base = ecosystem.split(':').next().unwrap_or(ecosystem);
        Some(match base {
            "Debian" | "Ubuntu" => Scheme::Dpkg,
            "Alpine" | "Wolfi" | "Chainguard" | "Alpaquita" | "BellSoft Hardened Containers" => Scheme::Apk,
            "PyPI" => Scheme::Pep440,
            "crates.io" | "Hex" | "Pub" => Scheme::Semver,
            "npm" => Scheme::Npm,
            "Go" => Scheme::Go,
            "Maven" => Scheme::Maven,
            "Red Hat" | "Rocky Linux" | "AlmaLinux" | "openSUSE" | "SUSE" | "Mageia" | "openEuler" => {
                Scheme::Rpm
            }
            _ => return None,
        })
    }

    /// Parses `text` under this scheme.
    pub fn parse(self, text: &str) -> Result<Version, VersionError> {
        let err = |reason: String| VersionError { scheme: self, version: text.to_owned(), reason };
        let inner = match self {
            Scheme::Dpkg => Inner::Dpkg(
                debversion::Version::from_str(text.trim())
                    .or_else(|_| debversion::Version::parse_lenient(text.trim()))
                    .map_err(|e| err(e.to_string()))?,
            ),
            Scheme::Apk => Inner::Apk(apk::ApkVersion::parse(text).map_err(err)?),
            Scheme::Pep440 => {
                Inner::Pep440(pep440_rs::Version::from_str(text.trim()).map_err(|e| err(e.to_string()))?)
            }
            Scheme::Semver => Inner::Semver(semver_like::parse_semver(text).map_err(err)?),
            Scheme::Npm => Inner::Semver(semver_like::parse_npm(text).map_err(err)?),
            Scheme::Go => Inner::Semver(semver_like::parse_go(text).map_err(err)?),
            Scheme::Maven => Inner::Maven(maven::MavenVersion::parse(text)),
            Scheme::Rpm => Inner::Rpm(rpm::RpmVersion::parse(text).map_err(err)?),
        };
        Ok(Version { scheme: self, text: text.to_owned(), inner })
    }

    /// Compares two version strings under this scheme.
    pub fn compare(self, a: &str, b: &str) -> Result<Ordering, VersionError> {
        let a = self.parse(a)?;
        let b = self.parse(b)?;
        // Both were parsed under `self`, so they are comparable.
        Ok(a.compare(&b).unwrap_or(Ordering::Equal))
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scheme::Dpkg => "dpkg",
            Scheme::Apk => "apk",
            Scheme::Pep440 => "PEP 440",
            Scheme::Semver => "semver",
            Scheme::Npm => "npm",
            Scheme::Go => "Go",
            Scheme::Maven => "Maven",
            Scheme::Rpm => "RPM",
        })
    }
}

/// A version parsed under a [`Scheme`].
#[derive(Debug, Clone)]
pub struct Version {
    scheme: Scheme,
    text: String,
    inner: Inner,
}

#[derive(Debug, Clone)]
enum Inner {
    Dpkg(debversion::Version),
    Apk(apk::ApkVersion),
    Pep440(pep440_rs::Version),
    Semver(semver::Version),
    Maven(maven::MavenVersion),
    Rpm(rpm::RpmVersion),
}

impl Version {
    /// The scheme it was parsed under.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The text it was parsed from.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Orders two versions of the same scheme; `None` when the schemes differ.
    pub fn compare(&self, other: &Version) -> Option<Ordering> {
        Some(match (&self.inner, &other.inner) {
            (Inner::Dpkg(a), Inner::Dpkg(b)) => a.cmp(b),
            (Inner::Apk(a), Inner::Apk(b)) => a.cmp(b),
            (Inner::Pep440(a), Inner::Pep440(b)) => a.cmp(b),
            (Inner::Semver(a), Inner::Semver(b)) => semver_like::precedence(a, b),
            (Inner::Maven(a), Inner::Maven(b)) => a.cmp(b),
            (Inner::Rpm(a), Inner::Rpm(b)) => a.cmp(b),
            _ => return None,
        })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}
