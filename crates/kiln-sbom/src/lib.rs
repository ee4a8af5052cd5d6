//! kiln's software bill of materials: [`catalog`] reads an image's layers once and returns its [`Sbom`],
//! the packages installed in it (dpkg, apk, rpm, Python, npm, Go and Rust binaries, Java archives) with
//! the layer, path and Dockerfile line each was found at, their licenses and package URLs, and whether each
//! is still present in the final filesystem.
//!
//! The pipeline:
//! 1. [`ImageSource`] opens an image from the store or any transport (`oci:`, `docker-archive:`, …);
//! 2. [`walk::walk_image`] reads every layer once, in parallel, feeding each entry to a
//!    [`walk::LayerVisitor`] (here the catalogers' router; other scanners can share the pass);
//! 3. the merge step replays the layers in order, applying whiteouts, opaque directories and replaced
//!    files, to tell which packages the final filesystem still has and which layer introduced each;
//! 4. [`format`](mod@format) writes CycloneDX 1.5 JSON, SPDX 2.3 JSON, kiln's JSON or a table.
//!
//! Which packages are reported follows syft's image catalogers, so kiln's SBOM of an image lists the same
//! (name, version, type) set as `syft <image>`; differences are documented in `bench/sbom-parity.md`.

mod catalog;
mod error;
pub mod format;
mod image;
mod merge;
mod model;
mod purl;
pub mod walk;

pub use error::SbomError;
pub use image::ImageSource;
pub use model::{Ecosystem, ImageSummary, LayerSummary, Location, OsRelease, Package, Sbom};

use serde::{Deserialize, Serialize};

/// What to catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogOptions {
    /// The ecosystems to catalog (all by default).
    pub ecosystems: Vec<Ecosystem>,
    /// Also read lockfiles (`package-lock.json`, `Cargo.lock`): declared dependencies, which syft reads
    /// only when scanning directories. Off by default, like syft for images.
    pub lockfiles: bool,
    /// Read os-release (needed for OS packages' purls).
    pub os_release: bool,
    /// Executables larger than this are not inspected for Go/Rust build info (reported as a warning).
    pub max_binary_size: u64,
    /// Look inside archives nested in Java archives (`WEB-INF/lib/*.jar`, Spring Boot `BOOT-INF/lib`).
    pub nested_archives: bool,
}

impl Default for CatalogOptions {
    fn default() -> Self {
        CatalogOptions {
            ecosystems: Ecosystem::ALL.to_vec(),
            lockfiles: false,
            os_release: true,
            max_binary_size: 1 << 30,
            nested_archives: true,
        }
    }
}

impl CatalogOptions {
    /// True when `ecosystem` is cataloged.
    pub fn enabled(&self, ecosystem: Ecosystem) -> bool {
        self.ecosystems.contains(&ecosystem)
    }
}

/// A file that looked like a package record but could not be read (the rest of the image was cataloged).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// The layer holding the file.
    pub layer_index: usize,
    /// Its absolute path.
    pub path: String,
    /// What is wrong (with the line, for text formats).
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "layer {}: {}: {}", self.layer_index, self.path, self.message)
    }
}

/// Catalogs the packages of `image`: one pass over its layers (each layer read once through
/// `kiln_layer::visit`), merged as the final filesystem shows them. Malformed package records become
/// [`Sbom::warnings`]; only unreadable layers fail.
pub fn catalog(image: &ImageSource, opts: &CatalogOptions) -> Result<Sbom, SbomError> {
    let scans = walk::walk_image(image, |layer| catalog::LayerScan::new(layer.clone(), opts))?;
    let summary = image.summary();
    Ok(merge::merge(summary, scans))
}

/// Catalogs `image` like [`catalog`] while feeding the same pass to another scanner: `make` builds its
/// visitor for each layer (layers are walked in parallel), and the visitors come back in layer order with
/// the SBOM. `kiln scan` uses it to read each layer once for packages, secrets and audit facts.
pub fn catalog_with<V, F>(
    image: &ImageSource,
    opts: &CatalogOptions,
    make: F,
) -> Result<(Sbom, Vec<V>), SbomError>
where
    V: walk::LayerVisitor + Send,
    F: Fn(&walk::LayerRef) -> V + Sync,
{
    let pairs =
        walk::walk_image(image, |layer| Pair(catalog::LayerScan::new(layer.clone(), opts), make(layer)))?;
    let (scans, others): (Vec<_>, Vec<_>) = pairs.into_iter().map(|Pair(a, b)| (a, b)).unzip();
    Ok((merge::merge(image.summary(), scans), others))
}

/// The cataloger and another visitor, fed together.
struct Pair<A, B>(A, B);

impl<A: walk::LayerVisitor, B: walk::LayerVisitor> walk::LayerVisitor for Pair<A, B> {
    fn wants(&mut self, entry: &kiln_layer::Entry, head: &[u8]) -> walk::Want {
        self.0.wants(entry, head).max(self.1.wants(entry, head))
    }

    fn visit(&mut self, entry: &kiln_layer::Entry, content: walk::Content<'_>) -> Result<(), SbomError> {
        self.0.visit(entry, content)?;
        self.1.visit(entry, content)
    }
}
