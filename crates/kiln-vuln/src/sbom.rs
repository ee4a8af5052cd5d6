//! From an SBOM to the packages to match: [`installed`] gives each cataloged package its OSV ecosystem
//! (`Debian:12` from the image's os-release, `PyPI`, `npm`, …), the name OSV advisories use (the Debian
//! source package, Maven's `group:artifact`) and the version to compare (the source package's version
//! when dpkg records a different one), with the layer, path and Dockerfile line that introduced it.

use kiln_sbom::{Ecosystem, Sbom};

use crate::{Installed, Origin};

/// Every package of `sbom` (deleted ones included: [`Origin::visible`] says which), ready for
/// [`crate::VulnDb::match_packages`].
pub fn installed(sbom: &Sbom) -> Vec<Installed> {
    sbom.packages
        .iter()
        .map(|p| {
            let first = p.introduced_in();
            let match_version = match (p.ecosystem, &p.source_version) {
                (Ecosystem::Deb, Some(v)) => v.clone(),
                _ => p.version.clone(),
            };
            Installed {
                name: match &p.namespace {
                    Some(group) => format!("{group}:{}", p.name),
                    None => p.name.clone(),
                },
                version: p.version.clone(),
                ecosystem: sbom.osv_ecosystem(p),
                osv_name: p.osv_name(),
                match_version,
                purl: Some(p.purl.clone()),
                origin: Origin {
                    layer_index: first.map(|l| l.layer_index),
                    layer_diff_id: first.map(|l| l.layer_diff_id.to_string()),
                    path: first.map(|l| l.path.clone()),
                    dockerfile_line: first.and_then(|l| l.provenance.as_ref()).map(|pv| pv.location()),
                    visible: p.visible,
                },
            }
        })
        .collect()
}
