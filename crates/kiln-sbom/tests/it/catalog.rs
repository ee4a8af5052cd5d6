//! What the catalogers find in a layered image: packages with their source package, licenses, purls,
//! the layer and Dockerfile line that introduced them, and whether a later layer deleted them.

use kiln_sbom::{CatalogOptions, Ecosystem, catalog};

use crate::fixture::mixed;

#[test]
fn layered_image_packages() {
    let img = mixed();
    let sbom = catalog(&img.source, &CatalogOptions::default()).unwrap();
    assert!(sbom.warnings.is_empty(), "{:?}", sbom.warnings);
    assert_eq!(sbom.os.as_ref().unwrap().id, "debian");
    let all: Vec<(&str, &str, &str, bool)> = sbom
        .packages
        .iter()
        .map(|p| (p.name.as_str(), p.version.as_str(), p.ecosystem.syft_type(), p.visible))
        .collect();
    let mut expected = vec![
        ("@babel/core", "7.22.5", "npm", true),
        ("app", "1.0.0", "npm", true),
        ("base-files", "12.4+deb12u5", "deb", true),
        ("libssl3", "3.0.11-1~deb12u1", "deb", true),
        ("lodash", "4.17.20", "npm", true),
        ("requests", "2.28.1", "python", false),
        ("six", "1.16.0", "python", true),
    ];
    let mut got = all.clone();
    got.sort();
    expected.sort();
    assert_eq!(got, expected, "deinstalled dpkg records are not packages");

    let ssl = sbom.packages.iter().find(|p| p.name == "libssl3").unwrap();
    assert_eq!(ssl.source_name.as_deref(), Some("openssl"));
    assert_eq!(ssl.osv_name(), "openssl");
    assert_eq!(sbom.osv_ecosystem(ssl).as_deref(), Some("Debian:12"));
    assert!(ssl.purl.starts_with("pkg:deb/debian/libssl3@3.0.11-1~deb12u1?"), "{}", ssl.purl);
    assert!(ssl.purl.contains("distro=debian-12"), "{}", ssl.purl);
    assert_eq!(ssl.locations[0].path, "/var/lib/dpkg/status");

    let lodash = sbom.packages.iter().find(|p| p.name == "lodash").unwrap();
    assert_eq!(lodash.ecosystem, Ecosystem::Npm);
    assert_eq!(lodash.purl, "pkg:npm/lodash@4.17.20");
    assert_eq!(lodash.licenses, ["MIT"]);
    let at = lodash.introduced_in().unwrap();
    assert_eq!(at.layer_index, 1);
    assert_eq!(at.provenance.as_ref().unwrap().location(), "Dockerfile:5");
    let babel = sbom.packages.iter().find(|p| p.name == "@babel/core").unwrap();
    assert_eq!(babel.purl, "pkg:npm/%40babel/core@7.22.5");

    let requests = sbom.packages.iter().find(|p| p.name == "requests").unwrap();
    assert_eq!(requests.introduced_in().unwrap().layer_index, 0);
    assert_eq!(requests.purl, "pkg:pypi/requests@2.28.1");
    assert_eq!(sbom.visible_packages().count(), 6);
}

#[test]
fn ecosystems_can_be_left_out() {
    let img = mixed();
    let opts = CatalogOptions { ecosystems: vec![Ecosystem::Deb], ..CatalogOptions::default() };
    let sbom = catalog(&img.source, &opts).unwrap();
    assert!(sbom.packages.iter().all(|p| p.ecosystem == Ecosystem::Deb));
    assert_eq!(sbom.packages.len(), 2);
}
