//! kiln's offline vulnerability matcher: an [OSV](https://ossf.github.io/osv-schema/) database on disk and
//! the rules that decide whether an installed package version is affected by an advisory.
//!
//! - [`version`] orders versions the way each ecosystem does (dpkg, apk, PEP 440, semver with npm's and
//!   Go's quirks, Maven's `ComparableVersion`);
//! - more modules (the OSV model, the database, CVSS scoring, matching) build on it.

pub mod version;

pub use version::{Scheme, Version, VersionError};
