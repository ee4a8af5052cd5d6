//! SPDX 2.3 JSON: the image as the described package (`primaryPackagePurpose: CONTAINER`), the
//! distribution as an `OPERATING_SYSTEM` package, each package with its purl as an external reference,
//! `CONTAINS` relationships from the image, and licenses as an SPDX expression in `licenseDeclared`
//! (values that are not SPDX identifiers become `LicenseRef-…` with their text in
//! `hasExtractedLicensingInfos`).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::format::{OutputOptions, is_spdx_expression, package_id, uuid_from};
use crate::model::{Ecosystem, Package, Sbom};

/// An SPDX document (the fields kiln writes).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Document {
    spdx_version: &'static str,
    data_license: &'static str,
    #[serde(rename = "SPDXID")]
    spdx_id: &'static str,
    name: String,
    document_namespace: String,
    creation_info: CreationInfo,
    packages: Vec<SpdxPackage>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    has_extracted_licensing_infos: Vec<ExtractedLicense>,
    relationships: Vec<Relationship>,
}

#[derive(Debug, Serialize)]
struct CreationInfo {
    created: String,
    creators: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SpdxPackage {
    name: String,
    #[serde(rename = "SPDXID")]
    spdx_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_info: Option<String>,
    download_location: &'static str,
    files_analyzed: bool,
    license_concluded: &'static str,
    license_declared: String,
    copyright_text: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_info: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    external_refs: Vec<ExternalRef>,
    primary_package_purpose: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ExternalRef {
    reference_category: &'static str,
    reference_type: &'static str,
    reference_locator: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ExtractedLicense {
    license_id: String,
    extracted_text: String,
    name: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Relationship {
    spdx_element_id: String,
    relationship_type: &'static str,
    related_spdx_element: String,
}

const NOASSERTION: &str = "NOASSERTION";
const IMAGE_ID: &str = "SPDXRef-Image";

/// The SPDX document for `sbom`.
pub fn document(sbom: &Sbom, opts: &OutputOptions) -> Document {
    let timestamp = opts.timestamp();
    let image = &sbom.image;
    let mut extracted: BTreeMap<String, String> = BTreeMap::new();
    let mut packages = vec![SpdxPackage {
        name: image.name.clone(),
        spdx_id: IMAGE_ID.to_owned(),
        version_info: Some(image.config_digest.to_string()),
        download_location: NOASSERTION,
        files_analyzed: false,
        license_concluded: NOASSERTION,
        license_declared: NOASSERTION.to_owned(),
        copyright_text: NOASSERTION,
        source_info: None,
        comment: Some(format!("platform {}", image.platform)),
        external_refs: Vec::new(),
        primary_package_purpose: "CONTAINER",
    }];
    let mut relationships = vec![Relationship {
        spdx_element_id: "SPDXRef-DOCUMENT".into(),
        relationship_type: "DESCRIBES",
        related_spdx_element: IMAGE_ID.into(),
    }];
    if let Some(os) = &sbom.os {
        let id = format!("SPDXRef-OperatingSystem-{}", sanitize(&os.id));
        packages.push(SpdxPackage {
            name: os.id.clone(),
            spdx_id: id.clone(),
            version_info: os.version_id.clone(),
            download_location: NOASSERTION,
            files_analyzed: false,
            license_concluded: NOASSERTION,
            license_declared: NOASSERTION.to_owned(),
            copyright_text: NOASSERTION,
            source_info: None,
            comment: os.pretty_name.clone(),
            external_refs: Vec::new(),
            primary_package_purpose: "OPERATING_SYSTEM",
        });
        relationships.push(contains(id));
    }
    for p in opts.packages(sbom) {
        let id = format!("SPDXRef-Package-{}-{}", p.ecosystem.as_str(), package_id(p));
        packages.push(package(p, &id, &mut extracted));
        relationships.push(contains(id));
    }
    Document {
        spdx_version: "SPDX-2.3",
        data_license: "CC0-1.0",
        spdx_id: "SPDXRef-DOCUMENT",
        name: image.name.clone(),
        document_namespace: format!(
            "https://kiln.invalid/spdx/{}-{}",
            sanitize(&image.name),
            uuid_from(&format!("{}\0{timestamp}", image.config_digest))
        ),
        creation_info: CreationInfo {
            created: timestamp,
            creators: vec![format!("Tool: kiln-{}", opts.tool_version)],
        },
        packages,
        has_extracted_licensing_infos: extracted
            .into_iter()
            .map(|(license_id, text)| ExtractedLicense {
                license_id,
                extracted_text: text.clone(),
                name: text,
            })
            .collect(),
        relationships,
    }
}

fn contains(id: String) -> Relationship {
    Relationship { spdx_element_id: IMAGE_ID.into(), relationship_type: "CONTAINS", related_spdx_element: id }
}

fn package(p: &Package, id: &str, extracted: &mut BTreeMap<String, String>) -> SpdxPackage {
    let source_info = p.locations.first().map(|l| {
        let mut s = format!("found by kiln {} in layer {} at {}", p.found_by, l.layer_index, l.path);
        if let Some(pv) = &l.provenance {
            s.push_str(&format!(" (Dockerfile {})", pv.location()));
        }
        if !p.visible {
            s.push_str("; deleted from the final filesystem");
        }
        s
    });
    let comment = match (&p.source_name, &p.source_version) {
        (Some(n), Some(v)) => Some(format!("source package {n} {v}")),
        (Some(n), None) => Some(format!("source package {n}")),
        _ => None,
    };
    SpdxPackage {
        name: p.name.clone(),
        spdx_id: id.to_owned(),
        version_info: Some(p.version.clone()),
        download_location: NOASSERTION,
        files_analyzed: false,
        license_concluded: NOASSERTION,
        license_declared: license_expression(&p.licenses, extracted),
        copyright_text: NOASSERTION,
        source_info,
        comment,
        external_refs: vec![ExternalRef {
            reference_category: "PACKAGE-MANAGER",
            reference_type: "purl",
            reference_locator: p.purl.clone(),
        }],
        primary_package_purpose: match p.ecosystem {
            Ecosystem::Go | Ecosystem::Rust | Ecosystem::Binary => "APPLICATION",
            _ => "LIBRARY",
        },
    }
}

/// The licenses joined with `AND`, each an SPDX expression or a `LicenseRef-` registered in `extracted`.
fn license_expression(values: &[String], extracted: &mut BTreeMap<String, String>) -> String {
    match values {
        [] => return NOASSERTION.to_owned(),
        [one] if is_spdx_expression(one) => return one.clone(),
        _ => {}
    }
    let terms: Vec<String> = values
        .iter()
        .map(|v| {
            if is_spdx_expression(v) {
                if v.contains(' ') { format!("({v})") } else { v.clone() }
            } else {
                let id = format!("LicenseRef-{}", sanitize(v));
                extracted.entry(id.clone()).or_insert_with(|| v.clone());
                id
            }
        })
        .collect();
    terms.join(" AND ")
}

/// Letters, digits, `.` and `-` (what SPDX identifiers allow); anything else becomes `-`.
fn sanitize(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '-' }).collect()
}
