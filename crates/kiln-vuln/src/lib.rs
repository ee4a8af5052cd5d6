//! kiln's offline vulnerability matcher: an [OSV](https://ossf.github.io/osv-schema/) database on disk and
//! the rules that decide whether an installed package version is affected by an advisory.
//!
//! - [`version`] orders versions the way each ecosystem does (dpkg, apk, PEP 440, semver with npm's and
//!   Go's quirks, Maven's `ComparableVersion`);
//! - [`osv`] is the OSV record model, [`db`] the SQLite index that `kiln db import` fills;
//! - [`cvss`] computes base scores from CVSS v2, v3.x and v4.0 vectors, giving each finding a
//!   [`Severity`];
//! - [`matching`] applies OSV's range semantics to installed packages and yields [`Finding`]s;
//! - [`installed`] turns a kiln-sbom [`kiln_sbom::Sbom`] into the packages to match.

pub mod cvss;
pub mod db;
mod error;
pub mod matching;
pub mod osv;
mod sbom;
pub mod version;

pub use db::{DbStatus, ImportReport, VulnDb};
pub use error::VulnError;
pub use matching::{Finding, Installed, MatchOptions, MatchReport, Origin};
pub use sbom::installed;

pub use cvss::{CvssError, Severity};
pub use version::{Scheme, Version, VersionError};
