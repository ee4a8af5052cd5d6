//! A vulnerability test database written from real advisory facts (IDs, packages, affected and fixed
//! versions, CVSS vectors as published), rewritten by hand as minimal OSV records; and the checks that
//! import, status and lookups work on it.

use std::path::{Path, PathBuf};

use kiln_vuln::VulnDb;
use serde_json::{Value, json};

/// Debian, PyPI, npm, Go, Alpine and Maven records, plus one withdrawn record.
pub(crate) fn records() -> Vec<Value> {
    vec![
        // DSA-5532-1: openssl in bookworm, CVE-2023-5363 (incorrect cipher key/IV length processing).
        json!({
            "id": "DSA-5532-1", "modified": "2023-10-25T00:00:00Z", "upstream": ["CVE-2023-5363"],
            "summary": "openssl - security update",
            "affected": [{
                "package": {"ecosystem": "Debian:12", "name": "openssl"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.0.11-1~deb12u2"}]}]
            }]
        }),
        // The same CVE as Debian's per-CVE record (merged with the DSA into one finding).
        json!({
            "id": "DEBIAN-CVE-2023-5363", "modified": "2024-01-10T00:00:00Z", "upstream": ["CVE-2023-5363"],
            "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}],
            "affected": [{
                "package": {"ecosystem": "Debian:12", "name": "openssl"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.0.11-1~deb12u2"}]}]
            }, {
                "package": {"ecosystem": "Debian:11", "name": "openssl"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]
            }]
        }),
        // DSA-5514-1: glibc "Looney Tunables", CVE-2023-4911, fixed in 2.36-9+deb12u3.
        json!({
            "id": "DSA-5514-1", "modified": "2023-10-03T00:00:00Z", "upstream": ["CVE-2023-4911"],
            "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"}],
            "affected": [{
                "package": {"ecosystem": "Debian:12", "name": "glibc"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.36-9+deb12u3"}]}]
            }]
        }),
        // CVE-2010-4756 (glob() resource exhaustion): Debian marks it unimportant and never fixes it.
        json!({
            "id": "DEBIAN-CVE-2010-4756", "modified": "2024-01-01T00:00:00Z", "upstream": ["CVE-2010-4756"],
            "affected": [{
                "package": {"ecosystem": "Debian:12", "name": "glibc"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}],
                "ecosystem_specific": {"urgency": "unimportant"}
            }]
        }),
        // GHSA-j8r2-6x86-q33q: requests leaks Proxy-Authorization on redirects, 2.3.0 <= v < 2.31.0.
        json!({
            "id": "GHSA-j8r2-6x86-q33q", "modified": "2023-06-01T00:00:00Z",
            "aliases": ["CVE-2023-32681", "PYSEC-2023-74"],
            "summary": "Unintended leak of Proxy-Authorization header in requests",
            "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:N/A:N"}],
            "affected": [{
                "package": {"ecosystem": "PyPI", "name": "requests", "purl": "pkg:pypi/requests"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "2.3.0"}, {"fixed": "2.31.0"}]}]
            }],
            "database_specific": {"severity": "MODERATE"}
        }),
        // GHSA-35jh-r3h4-6jhm: lodash command injection via template, < 4.17.21.
        json!({
            "id": "GHSA-35jh-r3h4-6jhm", "modified": "2021-03-01T00:00:00Z", "aliases": ["CVE-2021-23337"],
            "summary": "Command Injection in lodash",
            "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H"}],
            "affected": [{
                "package": {"ecosystem": "npm", "name": "lodash"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "4.17.21"}]}]
            }]
        }),
        // GHSA-p6mc-m468-83gw: lodash prototype pollution in zipObjectDeep, 3.7.0 <= v < 4.17.19.
        json!({
            "id": "GHSA-p6mc-m468-83gw", "modified": "2020-07-15T00:00:00Z", "aliases": ["CVE-2020-8203"],
            "summary": "Prototype Pollution in lodash",
            "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:H/A:H"}],
            "affected": [{
                "package": {"ecosystem": "npm", "name": "lodash"},
                "ranges": [{"type": "SEMVER", "events": [{"introduced": "3.7.0"}, {"fixed": "4.17.19"}]}]
            }]
        }),
        // GO-2023-2102: HTTP/2 rapid reset in golang.org/x/net, fixed in 0.17.0.
        json!({
            "id": "GO-2023-2102", "modified": "2023-10-11T00:00:00Z",
            "aliases": ["CVE-2023-39325", "GHSA-4374-p667-p6c8"],
            "summary": "HTTP/2 rapid reset can cause excessive work in net/http",
            "affected": [{
                "package": {"ecosystem": "Go", "name": "golang.org/x/net"},
                "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "0.17.0"}]}]
            }, {
                "package": {"ecosystem": "Go", "name": "stdlib"},
                "ranges": [{"type": "SEMVER", "events": [
                    {"introduced": "0"}, {"fixed": "1.20.10"}, {"introduced": "1.21.0-0"}, {"fixed": "1.21.3"}]}]
            }]
        }),
        // GO-2023-2402: Terrapin (SSH prefix truncation) in golang.org/x/crypto, fixed in 0.17.0.
        json!({
            "id": "GO-2023-2402", "modified": "2023-12-18T00:00:00Z",
            "aliases": ["CVE-2023-48795", "GHSA-45x7-px36-x8w8"],
            "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:H/A:N"}],
            "affected": [{
                "package": {"ecosystem": "Go", "name": "golang.org/x/crypto"},
                "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "0.17.0"}]}]
            }]
        }),
        // Alpine 3.18's openssl fix of CVE-2023-5363, in 3.1.4-r0.
        json!({
            "id": "CVE-2023-5363", "modified": "2023-11-01T00:00:00Z",
            "affected": [{
                "package": {"ecosystem": "Alpine:v3.18", "name": "openssl"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.1.4-r0"}]}]
            }]
        }),
        // GHSA-jfh8-c2jp-5v3q: Log4Shell, three affected ranges of log4j-core.
        json!({
            "id": "GHSA-jfh8-c2jp-5v3q", "modified": "2021-12-20T00:00:00Z", "aliases": ["CVE-2021-44228"],
            "summary": "Remote code injection in Log4j",
            "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H"}],
            "affected": [{
                "package": {"ecosystem": "Maven", "name": "org.apache.logging.log4j:log4j-core"},
                "ranges": [{"type": "ECOSYSTEM", "events": [
                    {"introduced": "2.13.0"}, {"fixed": "2.15.0"},
                    {"introduced": "2.4"}, {"fixed": "2.12.2"},
                    {"introduced": "2.0-beta9"}, {"fixed": "2.3.1"}]}]
            }]
        }),
        // A withdrawn record must never match.
        json!({
            "id": "GHSA-wwww-wwww-wwww", "modified": "2022-01-01T00:00:00Z", "withdrawn": "2022-02-01T00:00:00Z",
            "affected": [{
                "package": {"ecosystem": "PyPI", "name": "requests"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]
            }]
        }),
    ]
}

/// Writes the records as files (a directory of JSON files, the Go ones in a zip archive as OSV publishes
/// them) and imports them into a database in `dir/db`.
pub(crate) fn build(dir: &Path) -> (VulnDb, PathBuf) {
    let src = dir.join("osv");
    fs_err::create_dir_all(src.join("nested")).unwrap();
    let zip_path = src.join("Go-all.zip");
    let mut zip = zip::ZipWriter::new(fs_err::File::create(&zip_path).unwrap());
    for record in records() {
        let id = record["id"].as_str().unwrap().to_owned();
        let bytes = serde_json::to_vec_pretty(&record).unwrap();
        if id.starts_with("GO-") {
            zip.start_file(format!("{id}.json"), zip::write::SimpleFileOptions::default()).unwrap();
            std::io::Write::write_all(&mut zip, &bytes).unwrap();
        } else if id.starts_with("DEBIAN") {
            fs_err::write(src.join("nested").join(format!("{id}.json")), bytes).unwrap();
        } else {
            fs_err::write(src.join(format!("{id}.json")), bytes).unwrap();
        }
    }
    zip.finish().unwrap();
    let db_dir = dir.join("db");
    let mut db = VulnDb::create(&db_dir).unwrap();
    let report = db.import(&src).unwrap();
    assert_eq!(report.stored, records().len() as u64);
    (db, db_dir)
}

#[test]
fn import_status_and_lookup() {
    let tmp = tempfile::tempdir().unwrap();
    let (db, dir) = build(tmp.path());
    let status = db.status().unwrap();
    assert_eq!(status.advisories, records().len() as u64);
    assert_eq!(status.by_ecosystem.get("Debian:12"), Some(&4));
    assert_eq!(status.by_ecosystem.get("Go"), Some(&2));
    assert_eq!(status.newest_modified.as_deref(), Some("2024-01-10T00:00:00Z"));
    assert_eq!(status.sources.len(), 1);

    // PyPI names are normalized on both sides.
    let found = db.advisories_for("PyPI", "Requests").unwrap();
    let ids: Vec<&str> = found.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["GHSA-j8r2-6x86-q33q", "GHSA-wwww-wwww-wwww"]);
    assert!(db.advisories_for("PyPI", "flask").unwrap().is_empty());

    // Re-importing the same records changes nothing; an older copy of a record does not replace it.
    drop(db);
    let mut db = VulnDb::open(&dir).unwrap();
    let again = db.import(&tmp.path().join("osv")).unwrap();
    assert_eq!((again.stored, again.unchanged), (records().len() as u64, 0));
    let mut older = records()[1].clone();
    older["modified"] = json!("2020-01-01T00:00:00Z");
    older["affected"] = json!([]);
    let older_path = tmp.path().join("older.json");
    fs_err::write(&older_path, serde_json::to_vec(&older).unwrap()).unwrap();
    let report = db.import(&older_path).unwrap();
    assert_eq!((report.stored, report.unchanged), (0, 1));
    assert_eq!(db.advisories_for("Debian:12", "openssl").unwrap().len(), 2);
}

#[test]
fn bad_input_names_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.json");
    fs_err::write(&bad, "{\"id\": \"X\", \"affected\": [}").unwrap();
    let mut db = VulnDb::create(&tmp.path().join("db")).unwrap();
    let err = db.import(&bad).unwrap_err().to_string();
    assert!(err.contains("bad.json") && err.contains("line 1"), "{err}");
    // The failed import left nothing behind.
    assert_eq!(db.status().unwrap().advisories, 0);

    let not_osv = tmp.path().join("notes.txt");
    fs_err::write(&not_osv, "hello").unwrap();
    let err = db.import(&not_osv).unwrap_err().to_string();
    assert!(err.contains("notes.txt"), "{err}");

    let missing = VulnDb::open(&tmp.path().join("nowhere")).unwrap_err().to_string();
    assert!(missing.contains("kiln db import"), "{missing}");
}
