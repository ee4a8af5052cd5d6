//! The SBOM data model: [`Sbom`] (an image's OS and [`Package`]s), with where each package was found
//! ([`Location`]: layer, path, Dockerfile line) and whether it is still in the final filesystem.

use std::fmt;

use kiln_oci::{Digest, Provenance};
use serde::{Deserialize, Serialize};

/// The packaging system a package belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ecosystem {
    /// Debian packages (dpkg database).
    Deb,
    /// Alpine packages (apk database).
    Apk,
    /// RPM packages (rpm database).
    Rpm,
    /// Python distributions (PyPI), from `*.dist-info` / `*.egg-info`.
    Python,
    /// npm packages, from `package.json` files (and `package-lock.json` when asked).
    Npm,
    /// Go modules, from the build info embedded in Go binaries.
    Go,
    /// Rust crates, from cargo-auditable binaries (and `Cargo.lock` files when asked).
    Rust,
    /// Java archives (Maven coordinates from `pom.properties`, or the jar manifest).
    Java,
    /// A program identified from a binary itself (the Go toolchain a binary was built with).
    Binary,
}

impl Ecosystem {
    /// Every ecosystem, in display order.
    pub const ALL: [Ecosystem; 9] = [
        Ecosystem::Deb,
        Ecosystem::Apk,
        Ecosystem::Rpm,
        Ecosystem::Python,
        Ecosystem::Npm,
        Ecosystem::Go,
        Ecosystem::Rust,
        Ecosystem::Java,
        Ecosystem::Binary,
    ];

    /// The lowercase name (as serialized).
    pub fn as_str(self) -> &'static str {
        match self {
            Ecosystem::Deb => "deb",
            Ecosystem::Apk => "apk",
            Ecosystem::Rpm => "rpm",
            Ecosystem::Python => "python",
            Ecosystem::Npm => "npm",
            Ecosystem::Go => "go",
            Ecosystem::Rust => "rust",
            Ecosystem::Java => "java",
            Ecosystem::Binary => "binary",
        }
    }

    /// The package type syft reports for packages of this ecosystem (`deb`, `go-module`, `rust-crate`, …),
    /// used to compare with syft's output.
    pub fn syft_type(self) -> &'static str {
        match self {
            Ecosystem::Deb => "deb",
            Ecosystem::Apk => "apk",
            Ecosystem::Rpm => "rpm",
            Ecosystem::Python => "python",
            Ecosystem::Npm => "npm",
            Ecosystem::Go => "go-module",
            Ecosystem::Rust => "rust-crate",
            Ecosystem::Java => "java-archive",
            Ecosystem::Binary => "binary",
        }
    }

    /// The OSV ecosystem name of packages of this ecosystem, where OSV has one that needs no distribution
    /// suffix (`PyPI`, `npm`, `Go`, `crates.io`, `Maven`); OS packages need the release (see
    /// [`Sbom::osv_ecosystem`]).
    pub fn osv_name(self) -> Option<&'static str> {
        match self {
            Ecosystem::Python => Some("PyPI"),
            Ecosystem::Npm => Some("npm"),
            Ecosystem::Go => Some("Go"),
            Ecosystem::Rust => Some("crates.io"),
            Ecosystem::Java => Some("Maven"),
            Ecosystem::Deb | Ecosystem::Apk | Ecosystem::Rpm | Ecosystem::Binary => None,
        }
    }
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One place a package was found: a file (or directory, for distroless dpkg and dist-info) in one layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    /// Index of the layer in the image, base first.
    pub layer_index: usize,
    /// That layer's DiffID.
    pub layer_diff_id: Digest,
    /// Absolute path of the file that records the package (`/var/lib/dpkg/status`, a binary, …).
    pub path: String,
    /// The Dockerfile instruction that made the layer, when the image was built by kiln.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
}

/// One installed package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    /// Package name as its ecosystem spells it (`libc6`, `requests`, `@babel/core`,
    /// `github.com/spf13/cobra`; a Maven artifactId, with the groupId in [`Package::namespace`]).
    pub name: String,
    /// The Maven groupId of a Java package; `None` elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Version exactly as recorded (`1:2.36-9+deb12u4`, `v1.8.0`, …).
    pub version: String,
    /// Its ecosystem.
    pub ecosystem: Ecosystem,
    /// Package URL (`pkg:deb/debian/libc6@2.36-9?arch=amd64&distro=debian-12`).
    pub purl: String,
    /// Declared licenses, as recorded (SPDX identifiers or free text), deduplicated in order.
    #[serde(default)]
    pub licenses: Vec<String>,
    /// The source package (dpkg `Source:`, apk `o:`, rpm source RPM name); OSV's Debian advisories are
    /// keyed by it. `None` when it equals the binary package's name or is not recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
    /// The source package's version when it differs from [`Package::version`] (dpkg `Source: name (ver)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    /// CPU architecture, when the package database records it (`amd64`, `x86_64`, `all`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// The cataloger that found it (`dpkg-db`, `python-installed`, `go-binary`, …).
    pub found_by: String,
    /// Where it was found, by layer; the first is the layer that introduced it.
    pub locations: Vec<Location>,
    /// Whether it is still present in the final merged filesystem (false: a later layer deleted or
    /// replaced the file recording it, yet its bytes remain in the image).
    pub visible: bool,
}

impl Package {
    /// The layer that introduced the package (its first location).
    pub fn introduced_in(&self) -> Option<&Location> {
        self.locations.first()
    }

    /// The name OSV advisories use: the source package for Debian (OSV's Debian advisories are by source
    /// package), `groupId:artifactId` for Maven, the name otherwise.
    pub fn osv_name(&self) -> String {
        match (self.ecosystem, &self.source_name, &self.namespace) {
            (Ecosystem::Deb, Some(source), _) => source.clone(),
            (Ecosystem::Java, _, Some(group)) => format!("{group}:{}", self.name),
            _ => self.name.clone(),
        }
    }
}

/// The fields of `/etc/os-release` (or `/usr/lib/os-release`) that identify the distribution.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OsRelease {
    /// `ID` (`debian`, `alpine`, `rhel`, …).
    pub id: String,
    /// `VERSION_ID` (`12`, `3.19.1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// `VERSION_CODENAME` (`bookworm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_codename: Option<String>,
    /// `PRETTY_NAME`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pretty_name: Option<String>,
    /// `ID_LIKE`, split on spaces.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub id_like: Vec<String>,
}

/// One layer of the cataloged image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerSummary {
    /// DiffID.
    pub diff_id: Digest,
    /// The history entry's `created_by`, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// The Dockerfile instruction that made it, when the image was built by kiln.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
}

/// What was cataloged: the image's name and identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageSummary {
    /// The name the user gave (`debian:bookworm`, `oci:dir:tag`, …).
    pub name: String,
    /// The manifest digest, when the image has one (store images, OCI layouts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
    /// The config digest (the image ID).
    pub config_digest: Digest,
    /// `os/arch[/variant]` from the config.
    pub platform: String,
    /// The layers, base first.
    pub layers: Vec<LayerSummary>,
}

/// An image's software bill of materials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sbom {
    /// The image.
    pub image: ImageSummary,
    /// The distribution, from the final filesystem's os-release.
    pub os: Option<OsRelease>,
    /// Every package found in any layer, sorted by name, version, ecosystem, then first location;
    /// see [`Package::visible`].
    pub packages: Vec<Package>,
    /// Files that looked like package records but could not be read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<crate::Warning>,
}

impl Sbom {
    /// The packages present in the final filesystem (what syft reports with its default squashed scope).
    pub fn visible_packages(&self) -> impl Iterator<Item = &Package> {
        self.packages.iter().filter(|p| p.visible)
    }

    /// The OSV ecosystem of `package` in this image: `Debian:12`, `Alpine:v3.19`, `PyPI`, … (`None` when
    /// OSV has none, or the OS release is unknown for an OS package).
    pub fn osv_ecosystem(&self, package: &Package) -> Option<String> {
        if let Some(name) = package.ecosystem.osv_name() {
            return Some(name.to_owned());
        }
        let os = self.os.as_ref()?;
        let version = os.version_id.as_deref()?;
        match (package.ecosystem, os.id.as_str()) {
            (Ecosystem::Deb, "debian") => {
                Some(format!("Debian:{}", version.split('.').next().unwrap_or(version)))
            }
            (Ecosystem::Deb, "ubuntu") => Some(format!("Ubuntu:{version}")),
            (Ecosystem::Apk, "alpine") => {
                let minor: Vec<&str> = version.split('.').take(2).collect();
                Some(format!("Alpine:v{}", minor.join(".")))
            }
            (Ecosystem::Rpm, "rocky") => Some(format!("Rocky Linux:{version}")),
            (Ecosystem::Rpm, "almalinux") => Some(format!("AlmaLinux:{version}")),
            _ => None,
        }
    }
}
