//! CycloneDX 1.5 JSON: the image as `metadata.component` (a container), the distribution as an
//! `operating-system` component, each package as a `library` component with its purl, licenses (SPDX ids
//! where the value is one, names otherwise, or one SPDX expression) and kiln properties for where it was
//! found (`kiln:location:N:layerIndex`, `…:layerID`, `…:path`, `…:dockerfile`).

use serde::Serialize;

use crate::format::{OutputOptions, is_spdx_expression, package_id, spdx_id, uuid_from};
use crate::model::{Package, Sbom};

/// A CycloneDX BOM (the fields kiln writes).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Bom {
    #[serde(rename = "$schema")]
    schema: &'static str,
    bom_format: &'static str,
    spec_version: &'static str,
    serial_number: String,
    version: u32,
    metadata: Metadata,
    components: Vec<Component>,
}

#[derive(Debug, Serialize)]
struct Metadata {
    timestamp: String,
    tools: Tools,
    component: Component,
}

#[derive(Debug, Serialize)]
struct Tools {
    components: Vec<Component>,
}

#[derive(Debug, Serialize, Default)]
struct Component {
    #[serde(rename = "bom-ref", skip_serializing_if = "Option::is_none")]
    bom_ref: Option<String>,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<String>,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    licenses: Vec<LicenseChoice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    purl: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    properties: Vec<Property>,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
enum LicenseChoice {
    License { license: License },
    Expression { expression: String },
}

#[derive(Debug, Serialize)]
struct License {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
}

#[derive(Debug, Serialize)]
struct Property {
    name: String,
    value: String,
}

fn prop(name: impl Into<String>, value: impl Into<String>) -> Property {
    Property { name: name.into(), value: value.into() }
}

/// The CycloneDX document for `sbom`.
pub fn document(sbom: &Sbom, opts: &OutputOptions) -> Bom {
    let timestamp = opts.timestamp();
    let mut components: Vec<Component> = opts.packages(sbom).map(component).collect();
    if let Some(os) = &sbom.os {
        components.push(Component {
            bom_ref: Some(format!("os:{}", os.id)),
            kind: "operating-system",
            name: os.id.clone(),
            version: os.version_id.clone(),
            description: os.pretty_name.clone(),
            ..Component::default()
        });
    }
    let image = &sbom.image;
    Bom {
        schema: "http://cyclonedx.org/schema/bom-1.5.schema.json",
        bom_format: "CycloneDX",
        spec_version: "1.5",
        serial_number: format!("urn:uuid:{}", uuid_from(&format!("{}\0{timestamp}", image.config_digest))),
        version: 1,
        metadata: Metadata {
            timestamp,
            tools: Tools {
                components: vec![Component {
                    kind: "application",
                    name: "kiln".into(),
                    version: Some(opts.tool_version.clone()),
                    ..Component::default()
                }],
            },
            component: Component {
                bom_ref: Some(image.config_digest.to_string()),
                kind: "container",
                name: image.name.clone(),
                version: Some(image.config_digest.to_string()),
                properties: image
                    .digest
                    .iter()
                    .map(|d| prop("kiln:image:manifestDigest", d.to_string()))
                    .chain(std::iter::once(prop("kiln:image:platform", image.platform.clone())))
                    .collect(),
                ..Component::default()
            },
        },
        components,
    }
}

fn component(p: &Package) -> Component {
    let mut properties = vec![
        prop("kiln:package:type", p.ecosystem.as_str()),
        prop("kiln:package:foundBy", p.found_by.clone()),
        prop("kiln:package:visible", p.visible.to_string()),
    ];
    if let Some(s) = &p.source_name {
        properties.push(prop("kiln:package:sourceName", s.clone()));
    }
    if let Some(s) = &p.source_version {
        properties.push(prop("kiln:package:sourceVersion", s.clone()));
    }
    if let Some(a) = &p.arch {
        properties.push(prop("kiln:package:arch", a.clone()));
    }
    for (i, l) in p.locations.iter().enumerate() {
        properties.push(prop(format!("kiln:location:{i}:layerIndex"), l.layer_index.to_string()));
        properties.push(prop(format!("kiln:location:{i}:layerID"), l.layer_diff_id.to_string()));
        properties.push(prop(format!("kiln:location:{i}:path"), l.path.clone()));
        if let Some(pv) = &l.provenance {
            properties.push(prop(format!("kiln:location:{i}:dockerfile"), pv.location()));
        }
    }
    Component {
        bom_ref: Some(format!("pkg:{}", package_id(p))),
        kind: "library",
        group: p.namespace.clone(),
        name: p.name.clone(),
        version: Some(p.version.clone()),
        description: None,
        licenses: licenses(&p.licenses),
        purl: Some(p.purl.clone()),
        properties,
    }
}

/// CycloneDX allows either license objects or exactly one expression.
fn licenses(values: &[String]) -> Vec<LicenseChoice> {
    if let [one] = values
        && spdx_id(one).is_none()
        && is_spdx_expression(one)
    {
        return vec![LicenseChoice::Expression { expression: one.clone() }];
    }
    values
        .iter()
        .map(|v| {
            let license = match spdx_id(v) {
                Some(id) => License { id: Some(id), name: None },
                None => License { id: None, name: Some(v.clone()) },
            };
            LicenseChoice::License { license }
        })
        .collect()
}
