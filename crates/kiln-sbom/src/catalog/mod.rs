//! The catalogers, and [`LayerScan`]: the [`LayerVisitor`] that routes each entry of one layer to the
//! cataloger for its path (dpkg, apk, rpm, Python, npm, os-release, copyright files) or its content
//! (ELF/PE/Mach-O binaries for Go and Rust build info, zip archives for Java), recording what each file
//! holds plus the layer's deletions, for the merge step.
//!
//! Each cataloger module is a pure function from a file's path and bytes to the packages it records
//! ([`Found`]), so it is tested on synthetic bytes without any image. Which paths are cataloged follows
//! syft's image catalogers (globs anchored anywhere in the tree, like syft's `**/`).

pub(crate) mod apk;
pub(crate) mod binary;
pub(crate) mod dpkg;
pub(crate) mod java;
pub(crate) mod npm;
pub(crate) mod os_release;
pub(crate) mod python;
pub(crate) mod rpm;
pub(crate) mod rust;

use kiln_layer::{Entry, EntryKind};

use crate::model::{Ecosystem, OsRelease};
use crate::walk::{Content, LayerRef, LayerVisitor, Want};
use crate::{CatalogOptions, SbomError, Warning};

/// A package as one file records it, before the merge gives it locations and a purl that needs the OS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) ecosystem: Ecosystem,
    /// Maven groupId.
    pub(crate) namespace: Option<String>,
    pub(crate) licenses: Vec<String>,
    pub(crate) source_name: Option<String>,
    pub(crate) source_version: Option<String>,
    pub(crate) arch: Option<String>,
    pub(crate) found_by: &'static str,
    /// The purl, when it does not depend on the distribution (language packages).
    pub(crate) purl: Option<String>,
    /// rpm epoch: a purl qualifier, and the purl's version goes without it.
    pub(crate) epoch: Option<String>,
    /// The purl's `upstream` qualifier when it is not `source_name[@source_version]` (rpm: the source
    /// RPM's file name).
    pub(crate) upstream: Option<String>,
}

impl Found {
    /// A package with only the identity fields set.
    pub(crate) fn new(name: &str, version: &str, ecosystem: Ecosystem, found_by: &'static str) -> Found {
        Found {
            name: name.to_owned(),
            version: version.to_owned(),
            ecosystem,
            namespace: None,
            licenses: Vec::new(),
            source_name: None,
            source_version: None,
            arch: None,
            found_by,
            purl: None,
            epoch: None,
            upstream: None,
        }
    }
}

/// What one file contributes to the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Finding {
    /// Packages it records.
    Packages(Vec<Found>),
    /// An os-release file.
    OsRelease(OsRelease),
    /// A Debian copyright file: licenses of the package named by its directory.
    Copyright { package: String, licenses: Vec<String> },
}

/// A cataloged file of one layer.
#[derive(Debug, Clone)]
pub(crate) struct FileFinding {
    /// Normalized path without leading `/`.
    pub(crate) path: String,
    pub(crate) finding: Finding,
}

/// What a layer removes from the layers below it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Removal {
    /// A whiteout: the path and everything under it.
    Whiteout(String),
    /// An opaque directory: everything under it.
    Opaque(String),
    /// A non-directory entry: whatever lower layers had under it as a directory.
    Replaced(String),
}

/// Which cataloger a path belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    OsRelease,
    DpkgStatus,
    DpkgCopyright,
    Apk,
    RpmSqlite,
    RpmBdb,
    RpmNdb,
    PythonMetadata,
    NpmPackageJson,
    NpmLock,
    CargoLock,
    JavaArchive,
}

/// Upper bound for package-database and manifest files (a larger one is reported, not read).
const MAX_DB_FILE: u64 = 512 << 20;

fn kind_of(path: &str, opts: &CatalogOptions) -> Option<Kind> {
    let name = path.rsplit('/').next().unwrap_or(path);
    let parent = path.rsplit_once('/').map_or("", |(p, _)| p);
    let parent_name = parent.rsplit('/').next().unwrap_or(parent);
    if (path == "etc/os-release" || path == "usr/lib/os-release") && opts.os_release {
        return Some(Kind::OsRelease);
    }
    if opts.enabled(Ecosystem::Deb) {
        if ends_with_path(path, "var/lib/dpkg/status")
            || (ends_with_path(parent, "var/lib/dpkg/status.d") && !name.ends_with(".md5sums"))
        {
            return Some(Kind::DpkgStatus);
        }
        if name == "copyright" && parent.rsplit_once('/').map(|p| p.0) == Some("usr/share/doc") {
            return Some(Kind::DpkgCopyright);
        }
    }
    if opts.enabled(Ecosystem::Apk) && ends_with_path(path, "lib/apk/db/installed") {
        return Some(Kind::Apk);
    }
    if opts.enabled(Ecosystem::Rpm) && (parent_name == "rpm") {
        match name {
            "rpmdb.sqlite" => return Some(Kind::RpmSqlite),
            "Packages" => return Some(Kind::RpmBdb),
            "Packages.db" => return Some(Kind::RpmNdb),
            _ => {}
        }
    }
    if opts.enabled(Ecosystem::Python)
        && ((name == "METADATA" && parent_name.ends_with(".dist-info"))
            || (name == "PKG-INFO" && parent_name.ends_with(".egg-info"))
            || (name.ends_with(".egg-info") && !name.starts_with('.')))
    {
        return Some(Kind::PythonMetadata);
    }
    if opts.enabled(Ecosystem::Npm) {
        if name == "package.json" {
            return Some(Kind::NpmPackageJson);
        }
        if opts.lockfiles && name == "package-lock.json" {
            return Some(Kind::NpmLock);
        }
    }
    if opts.enabled(Ecosystem::Rust) && opts.lockfiles && name == "Cargo.lock" {
        return Some(Kind::CargoLock);
    }
    if opts.enabled(Ecosystem::Java) && java::is_archive_name(name) {
        return Some(Kind::JavaArchive);
    }
    None
}

/// True when `path` is `suffix` or ends with `/suffix`.
fn ends_with_path(path: &str, suffix: &str) -> bool {
    path.strip_suffix(suffix).is_some_and(|rest| rest.is_empty() || rest.ends_with('/'))
}

/// The [`LayerVisitor`] of the SBOM: catalogs one layer.
pub(crate) struct LayerScan<'o> {
    pub(crate) layer: LayerRef,
    opts: &'o CatalogOptions,
    pub(crate) files: Vec<FileFinding>,
    pub(crate) removals: Vec<Removal>,
    /// Hard links `(path, target)`: the link records whatever its target records.
    pub(crate) hardlinks: Vec<(String, String)>,
    pub(crate) warnings: Vec<Warning>,
    /// The kind decided by `wants` for the current entry (a binary or archive by its magic).
    current: Option<(String, Option<Kind>, bool)>,
}

impl<'o> LayerScan<'o> {
    pub(crate) fn new(layer: LayerRef, opts: &'o CatalogOptions) -> Self {
        LayerScan {
            layer,
            opts,
            files: Vec::new(),
            removals: Vec::new(),
            hardlinks: Vec::new(),
            warnings: Vec::new(),
            current: None,
        }
    }

    fn classify(&self, entry: &Entry, head: &[u8]) -> (Option<Kind>, bool) {
        let kind = kind_of(&entry.path, self.opts);
        let binary = kind.is_none()
            && (self.opts.enabled(Ecosystem::Go) || self.opts.enabled(Ecosystem::Rust))
            && binary::is_executable_format(head);
        (kind, binary)
    }

    fn warn(&mut self, path: &str, message: String) {
        self.warnings.push(Warning { layer_index: self.layer.index, path: format!("/{path}"), message });
    }

    fn record(&mut self, path: &str, finding: Finding) {
        self.files.push(FileFinding { path: path.to_owned(), finding });
    }

    fn catalog_file(&mut self, entry: &Entry, kind: Option<Kind>, binary: bool, content: Content<'_>) {
        let path = entry.path.as_str();
        if !content.complete {
            let what = if binary { "binary" } else { "package database" };
            self.warn(path, format!("{what} of {} bytes is over the size limit; not read", entry.size));
            return;
        }
        let bytes = content.bytes;
        if binary {
            match binary::parse(path, bytes, self.opts) {
                Ok(found) if !found.is_empty() => self.record(path, Finding::Packages(found)),
                Ok(_) => {}
                Err(e) => self.warn(path, e),
            }
            return;
        }
        let Some(kind) = kind else { return };
        let parsed: Result<Finding, String> = match kind {
            Kind::OsRelease => Ok(Finding::OsRelease(os_release::parse(bytes))),
            Kind::DpkgStatus => dpkg::parse_status(bytes).map(Finding::Packages),
            Kind::DpkgCopyright => {
                let package = path.rsplit('/').nth(1).unwrap_or_default().to_owned();
                Ok(Finding::Copyright { package, licenses: dpkg::parse_copyright(bytes) })
            }
            Kind::Apk => apk::parse_installed(bytes).map(Finding::Packages),
            Kind::RpmSqlite => rpm::parse_sqlite(bytes).map(Finding::Packages),
            Kind::RpmBdb => rpm::parse_bdb(bytes).map(Finding::Packages),
            Kind::RpmNdb => rpm::parse_ndb(bytes).map(Finding::Packages),
            Kind::PythonMetadata => {
                python::parse_metadata(bytes).map(|p| Finding::Packages(p.into_iter().collect()))
            }
            Kind::NpmPackageJson => {
                npm::parse_package_json(bytes).map(|p| Finding::Packages(p.into_iter().collect()))
            }
            Kind::NpmLock => npm::parse_package_lock(bytes).map(Finding::Packages),
            Kind::CargoLock => rust::parse_cargo_lock(bytes).map(Finding::Packages),
            Kind::JavaArchive => java::parse_archive(path, bytes, self.opts).map(Finding::Packages),
        };
        match parsed {
            Ok(Finding::Packages(p)) if p.is_empty() => {
                // Recorded all the same: an emptied database hides the packages of the one below.
                self.record(path, Finding::Packages(p));
            }
            Ok(finding) => self.record(path, finding),
            Err(e) => {
                self.warn(path, e);
                self.record(path, Finding::Packages(Vec::new()));
            }
        }
    }
}

impl LayerVisitor for LayerScan<'_> {
    fn wants(&mut self, entry: &Entry, head: &[u8]) -> Want {
        let (kind, binary) = self.classify(entry, head);
        self.current = Some((entry.path.clone(), kind, binary));
        match (kind, binary) {
            (Some(_), _) => Want::UpTo(MAX_DB_FILE),
            (None, true) => Want::UpTo(self.opts.max_binary_size),
            (None, false) => Want::Head,
        }
    }

    fn visit(&mut self, entry: &Entry, content: Content<'_>) -> Result<(), SbomError> {
        match &entry.kind {
            EntryKind::Whiteout => self.removals.push(Removal::Whiteout(entry.path.clone())),
            EntryKind::OpaqueDir => self.removals.push(Removal::Opaque(entry.path.clone())),
            EntryKind::Dir => {}
            EntryKind::Hardlink { target } => {
                self.removals.push(Removal::Replaced(entry.path.clone()));
                self.hardlinks.push((entry.path.clone(), target.clone()));
            }
            EntryKind::File => {
                self.removals.push(Removal::Replaced(entry.path.clone()));
                let (kind, binary) = match self.current.take() {
                    Some((path, kind, binary)) if path == entry.path => (kind, binary),
                    _ => self.classify(entry, content.bytes),
                };
                if kind.is_some() || binary {
                    self.catalog_file(entry, kind, binary, content);
                }
            }
            _ => self.removals.push(Removal::Replaced(entry.path.clone())),
        }
        Ok(())
    }
}
