//! Writing an [`Sbom`]: CycloneDX 1.5 JSON ([`cyclonedx`]), SPDX 2.3 JSON ([`spdx`]), kiln's own JSON
//! (the [`Sbom`] as serde writes it) and a table for people ([`table`]).
//!
//! The standard formats are written with serde from structs shaped like their JSON schemas (which the
//! tests validate against): the `cyclonedx-bom` crate's model is built for round-tripping whole documents
//! and its 1.5 support trails the schema, and no maintained crate writes SPDX 2.3 JSON.

pub mod cyclonedx;
pub mod spdx;
pub mod table;

use std::io::Write;

use sha2::Digest as _;
use time::OffsetDateTime;

use crate::SbomError;
use crate::model::{Package, Sbom};

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// CycloneDX 1.5 JSON.
    CycloneDx,
    /// SPDX 2.3 JSON.
    Spdx,
    /// kiln's JSON: the [`Sbom`] with every field.
    Json,
    /// A table: name, version, type, layer.
    Table,
}

impl Format {
    /// The format's name as the CLI spells it.
    pub fn name(self) -> &'static str {
        match self {
            Format::CycloneDx => "cyclonedx",
            Format::Spdx => "spdx",
            Format::Json => "json",
            Format::Table => "table",
        }
    }
}

/// How to write.
#[derive(Debug, Clone)]
pub struct OutputOptions {
    /// Include packages no longer present in the final filesystem (found only in lower layers), like
    /// syft's `--scope all-layers`. The kiln JSON always has them (see [`Package::visible`]).
    pub all_layers: bool,
    /// The document's creation time (CycloneDX `metadata.timestamp`, SPDX `created`); with
    /// `SOURCE_DATE_EPOCH` the CLI passes that, so the same image gives the same document.
    pub timestamp: OffsetDateTime,
    /// The tool version recorded as the document's creator.
    pub tool_version: String,
}

impl Default for OutputOptions {
    fn default() -> Self {
        OutputOptions {
            all_layers: false,
            timestamp: OffsetDateTime::now_utc(),
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }
}

impl OutputOptions {
    /// The packages this output shows.
    pub(crate) fn packages<'a>(&self, sbom: &'a Sbom) -> impl Iterator<Item = &'a Package> {
        let all = self.all_layers;
        sbom.packages.iter().filter(move |p| all || p.visible)
    }

    /// RFC 3339 timestamp, whole seconds, UTC.
    pub(crate) fn timestamp(&self) -> String {
        let t =
            self.timestamp.replace_nanosecond(0).unwrap_or(self.timestamp).to_offset(time::UtcOffset::UTC);
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
    }
}

/// Writes `sbom` as `format` to `out`.
pub fn write(
    sbom: &Sbom,
    format: Format,
    opts: &OutputOptions,
    out: &mut dyn Write,
) -> Result<(), SbomError> {
    let serialize = |value: &dyn erased::Json, out: &mut dyn Write| -> Result<(), SbomError> {
        value.write_pretty(out).map_err(|source| SbomError::Serialize { format: format.name(), source })?;
        out.write_all(b"\n").map_err(|source| SbomError::Write { format: format.name(), source })
    };
    match format {
        Format::CycloneDx => serialize(&cyclonedx::document(sbom, opts), out),
        Format::Spdx => serialize(&spdx::document(sbom, opts), out),
        Format::Json => serialize(sbom, out),
        Format::Table => out
            .write_all(table::render(sbom, opts).as_bytes())
            .map_err(|source| SbomError::Write { format: format.name(), source }),
    }
}

/// Object-safe pretty JSON writing, so `write` serializes any of its documents through one path.
mod erased {
    use std::io::Write;

    pub(super) trait Json {
        fn write_pretty(&self, out: &mut dyn Write) -> Result<(), serde_json::Error>;
    }

    impl<T: serde::Serialize> Json for T {
        fn write_pretty(&self, out: &mut dyn Write) -> Result<(), serde_json::Error> {
            serde_json::to_writer_pretty(out, self)
        }
    }
}

/// A stable short identifier of a package within a document (its identity hashed): the same package
/// gets the same id in every run, so documents diff cleanly.
pub(crate) fn package_id(p: &Package) -> String {
    let first = p.locations.first().map_or("", |l| l.path.as_str());
    let mut h = sha2::Sha256::new();
    for part in [p.ecosystem.as_str(), p.namespace.as_deref().unwrap_or(""), &p.name, &p.version, first] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    hex16(&h.finalize())
}

/// A version-5-shaped UUID derived from `seed` (CycloneDX serial numbers, SPDX namespaces).
pub(crate) fn uuid_from(seed: &str) -> String {
    let d = sha2::Sha256::digest(seed.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

fn hex16(bytes: &[u8]) -> String {
    bytes.iter().take(8).map(|x| format!("{x:02x}")).collect()
}

/// An SPDX license identifier that is exactly `name` (current, not deprecated), if any.
pub(crate) fn spdx_id(name: &str) -> Option<&'static str> {
    ::spdx::license_id(name).filter(|l| l.name == name && !l.is_deprecated()).map(|l| l.name)
}

/// True when `text` is a valid SPDX license expression with current identifiers.
pub(crate) fn is_spdx_expression(text: &str) -> bool {
    ::spdx::Expression::parse(text).is_ok_and(|e| {
        e.requirements().all(|r| match &r.req.license {
            ::spdx::LicenseItem::Spdx { id, .. } => !id.is_deprecated(),
            ::spdx::LicenseItem::Other { .. } => false,
        })
    })
}
