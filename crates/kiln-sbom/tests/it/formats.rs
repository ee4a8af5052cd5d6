//! CycloneDX 1.5 and SPDX 2.3 output validated against the published JSON schemas (unchanged copies in
//! `tests/data/schemas/`, see its README), the same document for the same image and
//! timestamp, deleted packages only with `all_layers`, and the table.

use std::path::{Path, PathBuf};

use kiln_sbom::format::{Format, OutputOptions, write};
use kiln_sbom::{CatalogOptions, Sbom, catalog};
use serde_json::Value;

use crate::fixture::mixed;

/// Resolves the schemas' `$ref`s to the files next to them (no network).
struct Files(PathBuf);

impl jsonschema::Retrieve for Files {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let path = uri.path().as_str();
        let name = path.rsplit('/').next().unwrap_or(path);
        // The CycloneDX schema refers to its siblings by their published names.
        let file = if name.contains(".SNAPSHOT.") {
            name.to_owned()
        } else {
            name.replace(".schema.json", ".SNAPSHOT.schema.json")
        };
        Ok(serde_json::from_slice(&fs_err::read(self.0.join(file))?)?)
    }
}

fn schema_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/schemas")
}

fn validate(dir: &Path, schema_file: &str, doc: &Value) {
    let schema: Value = serde_json::from_slice(&fs_err::read(dir.join(schema_file)).unwrap()).unwrap();
    let validator = jsonschema::options()
        .with_retriever(Files(dir.to_owned()))
        .should_validate_formats(true)
        .build(&schema)
        .unwrap();
    let errors: Vec<String> =
        validator.iter_errors(doc).map(|e| format!("{}: {e}", e.instance_path())).collect();
    assert!(errors.is_empty(), "{schema_file}: {errors:#?}");
}

fn render(sbom: &Sbom, format: Format, all_layers: bool) -> Vec<u8> {
    let opts = OutputOptions {
        all_layers,
        timestamp: time::OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap(),
        tool_version: "0.0.0-test".into(),
    };
    let mut out = Vec::new();
    write(sbom, format, &opts, &mut out).unwrap();
    out
}

#[test]
fn cyclonedx_validates_and_lists_visible_packages() {
    let img = mixed();
    let sbom = catalog(&img.source, &CatalogOptions::default()).unwrap();
    let bytes = render(&sbom, Format::CycloneDx, false);
    assert_eq!(bytes, render(&sbom, Format::CycloneDx, false), "same input, same document");
    let doc: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(doc["specVersion"], "1.5");
    let purls: Vec<&str> =
        doc["components"].as_array().unwrap().iter().filter_map(|c| c["purl"].as_str()).collect();
    assert!(purls.contains(&"pkg:npm/lodash@4.17.20"), "{purls:?}");
    assert!(!purls.iter().any(|p| p.starts_with("pkg:pypi/requests")), "deleted: {purls:?}");
    let all: Value = serde_json::from_slice(&render(&sbom, Format::CycloneDx, true)).unwrap();
    assert!(all["components"].as_array().unwrap().iter().any(|c| c["name"] == "requests"));
    validate(&schema_dir(), "bom-1.5.SNAPSHOT.schema.json", &doc);
    validate(&schema_dir(), "bom-1.5.SNAPSHOT.schema.json", &all);
}

#[test]
fn spdx_validates_and_relates_packages_to_the_image() {
    let img = mixed();
    let sbom = catalog(&img.source, &CatalogOptions::default()).unwrap();
    let doc: Value = serde_json::from_slice(&render(&sbom, Format::Spdx, true)).unwrap();
    assert_eq!(doc["spdxVersion"], "SPDX-2.3");
    let packages = doc["packages"].as_array().unwrap();
    // The image, the OS and 7 packages.
    assert_eq!(packages.len(), 9);
    let contains = doc["relationships"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["relationshipType"] == "CONTAINS")
        .count();
    assert_eq!(contains, 8);
    let requests = packages.iter().find(|p| p["name"] == "requests").unwrap();
    assert!(requests["sourceInfo"].as_str().unwrap().contains("deleted"), "{requests}");
    // "Apache 2.0" is not an SPDX identifier: it becomes a LicenseRef with its text.
    assert!(requests["licenseDeclared"].as_str().unwrap().starts_with("LicenseRef-"), "{requests}");
    validate(&schema_dir(), "spdx-schema-2.3.json", &doc);
}

#[test]
fn table_marks_layers_and_deletions() {
    let img = mixed();
    let sbom = catalog(&img.source, &CatalogOptions::default()).unwrap();
    let table = String::from_utf8(render(&sbom, Format::Table, true)).unwrap();
    let lodash = table.lines().find(|l| l.starts_with("lodash ")).unwrap();
    assert!(lodash.ends_with("1 (Dockerfile:5)"), "{lodash}");
    let requests = table.lines().find(|l| l.starts_with("requests ")).unwrap();
    assert!(requests.ends_with("(deleted)"), "{requests}");
    let json: Value = serde_json::from_slice(&render(&sbom, Format::Json, false)).unwrap();
    assert_eq!(json["packages"].as_array().unwrap().len(), 7, "kiln JSON keeps deleted packages");
}
