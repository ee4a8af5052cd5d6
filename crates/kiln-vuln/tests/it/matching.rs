//! Matching installed packages against the fixture database: every expected finding and no false one,
//! plus OSV's range semantics (`last_affected`, `limit`, `versions`, unsorted events) on small records.

use kiln_vuln::matching::affects;
use kiln_vuln::osv::Advisory;
use kiln_vuln::{Installed, MatchOptions, Origin, Severity};
use serde_json::json;

use crate::osvdb;

fn pkg(ecosystem: &str, name: &str, version: &str) -> Installed {
    Installed {
        name: name.to_owned(),
        version: version.to_owned(),
        ecosystem: Some(ecosystem.to_owned()),
        osv_name: name.to_owned(),
        match_version: version.to_owned(),
        purl: None,
        origin: Origin { visible: true, ..Origin::default() },
    }
}

/// A Debian binary package built from `source`.
fn deb(name: &str, version: &str, source: &str) -> Installed {
    Installed { osv_name: source.to_owned(), ..pkg("Debian:12", name, version) }
}

#[test]
fn affected_and_fixed_versions_per_ecosystem() {
    let tmp = tempfile::tempdir().unwrap();
    let (db, _) = osvdb::build(tmp.path());
    let packages = vec![
        deb("libssl3", "3.0.11-1~deb12u1", "openssl"),
        deb("openssl", "3.0.11-1~deb12u1", "openssl"),
        deb("libc6", "2.36-9+deb12u1", "glibc"),
        pkg("PyPI", "requests", "2.28.1"),
        pkg("npm", "lodash", "4.17.15"),
        pkg("Go", "golang.org/x/net", "v0.10.0"),
        pkg("Go", "stdlib", "go1.21.1"),
        pkg("Alpine:v3.18", "openssl", "3.1.3-r0"),
        Installed {
            osv_name: "org.apache.logging.log4j:log4j-core".into(),
            ..pkg("Maven", "log4j-core", "2.14.1")
        },
        // Fixed or never affected versions: no finding.
        deb("libssl3", "3.0.11-1~deb12u2", "openssl"),
        deb("libc6", "2.36-9+deb12u3", "glibc"),
        pkg("PyPI", "requests", "2.31.0"),
        pkg("PyPI", "requests", "2.2.1"),
        pkg("npm", "lodash", "4.17.21"),
        pkg("Go", "golang.org/x/crypto", "v0.17.0"),
        pkg("Go", "stdlib", "go1.21.3"),
        pkg("Alpine:v3.18", "openssl", "3.1.4-r0"),
        pkg("Alpine:v3.19", "openssl", "3.1.3-r0"),
        Installed {
            osv_name: "org.apache.logging.log4j:log4j-core".into(),
            ..pkg("Maven", "log4j-core", "2.12.2")
        },
        Installed {
            osv_name: "org.apache.logging.log4j:log4j-core".into(),
            ..pkg("Maven", "log4j-core", "2.0-beta8")
        },
        Installed { ecosystem: None, ..pkg("x", "busybox", "1.36.1") },
    ];
    let report = db.match_packages(&packages, &MatchOptions::default()).unwrap();
    let got: Vec<(String, String, String, Option<String>)> = report
        .findings
        .iter()
        .map(|f| (f.package.name.clone(), f.package.version.clone(), f.id.clone(), f.fixed_version.clone()))
        .collect();
    let s = |x: &str| x.to_owned();
    let mut want = vec![
        (s("libssl3"), s("3.0.11-1~deb12u1"), s("DSA-5532-1"), Some(s("3.0.11-1~deb12u2"))),
        (s("openssl"), s("3.0.11-1~deb12u1"), s("DSA-5532-1"), Some(s("3.0.11-1~deb12u2"))),
        (s("libc6"), s("2.36-9+deb12u1"), s("DSA-5514-1"), Some(s("2.36-9+deb12u3"))),
        (s("libc6"), s("2.36-9+deb12u1"), s("DEBIAN-CVE-2010-4756"), None),
        // Never fixed: every version is affected.
        (s("libc6"), s("2.36-9+deb12u3"), s("DEBIAN-CVE-2010-4756"), None),
        (s("requests"), s("2.28.1"), s("GHSA-j8r2-6x86-q33q"), Some(s("2.31.0"))),
        (s("lodash"), s("4.17.15"), s("GHSA-35jh-r3h4-6jhm"), Some(s("4.17.21"))),
        (s("lodash"), s("4.17.15"), s("GHSA-p6mc-m468-83gw"), Some(s("4.17.19"))),
        (s("golang.org/x/net"), s("v0.10.0"), s("GO-2023-2102"), Some(s("0.17.0"))),
        (s("stdlib"), s("go1.21.1"), s("GO-2023-2102"), Some(s("1.21.3"))),
        (s("openssl"), s("3.1.3-r0"), s("CVE-2023-5363"), Some(s("3.1.4-r0"))),
        (s("log4j-core"), s("2.14.1"), s("GHSA-jfh8-c2jp-5v3q"), Some(s("2.15.0"))),
    ];
    let mut got_sorted = got.clone();
    got_sorted.sort();
    want.sort();
    assert_eq!(got_sorted, want, "findings: {got:#?}");
    assert_eq!(report.packages_without_ecosystem, 1);
    assert!(report.unparsable.is_empty(), "{:?}", report.unparsable);

    // The DSA and DEBIAN-CVE records of CVE-2023-5363 became one finding with the CVE as alias and the
    // DEBIAN-CVE record's CVSS severity (7.5, high).
    let openssl = report.findings.iter().find(|f| f.package.name == "libssl3").unwrap();
    assert_eq!(openssl.aliases, ["CVE-2023-5363", "DEBIAN-CVE-2023-5363"]);
    assert_eq!(openssl.id, "DSA-5532-1");
    assert_eq!(openssl.severity, Severity::High);
    // Severity from CVSS vectors, from the database's word, or unknown; findings sorted most severe first.
    let by_id = |id: &str| report.findings.iter().find(|f| f.id == id).unwrap();
    assert_eq!(by_id("GHSA-jfh8-c2jp-5v3q").severity, Severity::Critical);
    assert_eq!(by_id("GHSA-jfh8-c2jp-5v3q").cvss.as_ref().unwrap().score, 10.0);
    assert_eq!(by_id("GHSA-j8r2-6x86-q33q").severity, Severity::Medium);
    assert_eq!(by_id("GHSA-j8r2-6x86-q33q").aliases, ["CVE-2023-32681", "PYSEC-2023-74"]);
    assert_eq!(by_id("DSA-5514-1").severity, Severity::High);
    assert_eq!(by_id("DEBIAN-CVE-2010-4756").severity, Severity::Low);
    assert_eq!(by_id("DEBIAN-CVE-2010-4756").severity_source, "database");
    assert_eq!(by_id("GO-2023-2102").severity, Severity::Unknown);
    assert_eq!(report.findings[0].severity, Severity::Critical);

    // --ignore-unfixed drops the finding that has no fix.
    let fixed_only =
        db.match_packages(&packages, &MatchOptions { ignore_unfixed: true, ..Default::default() }).unwrap();
    assert_eq!(fixed_only.findings.len(), report.findings.len() - 2);
    assert!(fixed_only.findings.iter().all(|f| f.fixed_version.is_some()));
}

fn advisory(affected: serde_json::Value) -> Advisory {
    serde_json::from_value(json!({"id": "TEST-1", "affected": [affected]})).unwrap()
}

fn hit(a: &Advisory, eco: &str, name: &str, v: &str) -> Option<Option<String>> {
    let (hit, problems) = affects(a, eco, name, v);
    assert!(problems.is_empty(), "{problems:?}");
    hit.map(|h| h.fixed)
}

#[test]
fn osv_range_semantics() {
    // last_affected includes its version; later ones are not affected.
    let a = advisory(json!({"package": {"ecosystem": "PyPI", "name": "p"},
        "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "1.0"}, {"last_affected": "1.4"}]}]}));
    assert_eq!(hit(&a, "PyPI", "p", "1.4"), Some(None));
    assert_eq!(hit(&a, "PyPI", "p", "1.4.1"), None);
    assert_eq!(hit(&a, "PyPI", "p", "0.9"), None);

    // Events are evaluated in version order whatever order the record lists them in.
    let a = advisory(json!({"package": {"ecosystem": "npm", "name": "p"},
        "ranges": [{"type": "SEMVER", "events": [
            {"fixed": "2.5.0"}, {"introduced": "2.0.0"}, {"fixed": "1.2.0"}, {"introduced": "0"}]}]}));
    assert_eq!(hit(&a, "npm", "p", "1.1.9"), Some(Some("1.2.0".into())));
    assert_eq!(hit(&a, "npm", "p", "1.5.0"), None);
    assert_eq!(hit(&a, "npm", "p", "2.4.0-beta.1"), Some(Some("2.5.0".into())));
    assert_eq!(hit(&a, "npm", "p", "2.5.0"), None);

    // A limit bounds the range from above.
    let a = advisory(json!({"package": {"ecosystem": "crates.io", "name": "c"},
        "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"limit": "1.0.0"}]}]}));
    assert_eq!(hit(&a, "crates.io", "c", "0.9.0"), Some(None));
    assert_eq!(hit(&a, "crates.io", "c", "1.0.0"), None);

    // Explicit versions match under the ecosystem's equality; GIT ranges are not evaluated.
    let a = advisory(json!({"package": {"ecosystem": "PyPI", "name": "Foo.Bar"}, "versions": ["1.0"],
        "ranges": [{"type": "GIT", "repo": "https://example.invalid/x", "events": [{"introduced": "0"}]}]}));
    assert_eq!(hit(&a, "PyPI", "foo_bar", "1.0.0"), Some(None));
    assert_eq!(hit(&a, "PyPI", "foo-bar", "1.1"), None);

    // Other ecosystems or names never match; an unparsable installed version is reported, not matched.
    assert_eq!(hit(&a, "npm", "foo-bar", "1.0"), None);
    let a = advisory(json!({"package": {"ecosystem": "Go", "name": "m"},
        "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.2.0"}]}]}));
    let (h, problems) = affects(&a, "Go", "m", "(devel)");
    assert!(h.is_none());
    assert_eq!(problems.len(), 1, "{problems:?}");
}
