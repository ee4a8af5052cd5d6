//! `kiln scan`, `kiln sbom` and `kiln db` end to end: a root filesystem made in the test (Debian dpkg
//! status, a Python distribution, an npm package, a leaked token) imported with `kiln import`, a
//! vulnerability database imported from OSV records rewritten from real advisories; every expected
//! finding and no false one, secrets redacted in every format, thresholds and ignores.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};

const TOKEN: &str = "ghp_0123456789abcdefghijABCDEFGHIJ012345";

fn kiln(root: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kiln"));
    cmd.arg("--root").arg(root).env_remove("KILN_ROOT").env_remove("SOURCE_DATE_EPOCH");
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    fs_err::create_dir_all(path.parent().unwrap()).unwrap();
    fs_err::write(path, text).unwrap();
}

/// Real advisory facts: DSA-5532-1 (openssl, fixed 3.0.11-1~deb12u2), GHSA-j8r2-6x86-q33q (requests
/// 2.3.0 ≤ v < 2.31.0), GHSA-35jh-r3h4-6jhm (lodash < 4.17.21), DSA-5514-1 (glibc, not installed).
fn advisories(dir: &Path) {
    let records = [
        json!({"id": "DSA-5532-1", "modified": "2023-10-25T00:00:00Z", "upstream": ["CVE-2023-5363"],
            "affected": [{"package": {"ecosystem": "Debian:12", "name": "openssl"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.0.11-1~deb12u2"}]}]}]}),
        json!({"id": "GHSA-j8r2-6x86-q33q", "modified": "2023-06-01T00:00:00Z", "aliases": ["CVE-2023-32681"],
            "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:N/A:N"}],
            "affected": [{"package": {"ecosystem": "PyPI", "name": "requests"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "2.3.0"}, {"fixed": "2.31.0"}]}]}]}),
        json!({"id": "GHSA-35jh-r3h4-6jhm", "modified": "2021-03-01T00:00:00Z", "aliases": ["CVE-2021-23337"],
            "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H"}],
            "affected": [{"package": {"ecosystem": "npm", "name": "lodash"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "4.17.21"}]}]}]}),
        json!({"id": "DSA-5514-1", "modified": "2023-10-03T00:00:00Z", "upstream": ["CVE-2023-4911"],
            "affected": [{"package": {"ecosystem": "Debian:12", "name": "glibc"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.36-9+deb12u3"}]}]}]}),
    ];
    for r in records {
        write(dir, &format!("{}.json", r["id"].as_str().unwrap()), &r.to_string());
    }
}

/// A store with image `app:1` and a database with the advisories above.
fn setup(tmp: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let rootfs = tmp.join("rootfs");
    write(
        &rootfs,
        "etc/os-release",
        "ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n",
    );
    write(
        &rootfs,
        "var/lib/dpkg/status",
        "Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl\nVersion: 3.0.11-1~deb12u1\n\n\
         Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nSource: glibc\nVersion: 2.36-9+deb12u4\n\n",
    );
    write(
        &rootfs,
        "usr/lib/python3/dist-packages/requests-2.28.1.dist-info/METADATA",
        "Name: requests\nVersion: 2.28.1\n\n",
    );
    write(&rootfs, "app/node_modules/lodash/package.json", r#"{"name": "lodash", "version": "4.17.21"}"#);
    write(&rootfs, "app/.env", &format!("GITHUB_TOKEN={TOKEN}\n"));
    let root = tmp.join("store");
    let out = run(kiln(&root).arg("import").arg(format!("dir:{}", rootfs.display())).arg("app:1"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let osv = tmp.join("osv");
    advisories(&osv);
    let out = run(kiln(&root).args(["db", "import"]).arg(&osv));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout(&out).contains("4 record(s) stored"), "{}", stdout(&out));
    (root, osv)
}

#[test]
fn scan_finds_every_expected_finding_and_no_false_one() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, _) = setup(tmp.path());
    let out = run(kiln(&root).args(["scan", "app:1", "--format", "json"]));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = stdout(&out);
    assert!(!text.contains(TOKEN), "the token leaked: {text}");
    let report: Value = serde_json::from_str(&text).unwrap();
    let mut vulns: Vec<(String, String, String)> = report["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let p = &v["package"];
            (
                v["id"].as_str().unwrap().into(),
                p["name"].as_str().unwrap().into(),
                v["fixed_version"].as_str().unwrap().into(),
            )
        })
        .collect();
    vulns.sort();
    assert_eq!(
        vulns,
        [
            ("DSA-5532-1".into(), "libssl3".into(), "3.0.11-1~deb12u2".into()),
            ("GHSA-j8r2-6x86-q33q".into(), "requests".into(), "2.31.0".into()),
        ],
        "lodash 4.17.21 and libc6 2.36-9+deb12u4 are fixed"
    );
    let requests = report["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["package"]["name"] == "requests")
        .unwrap();
    assert_eq!(requests["level"], "medium");
    assert_eq!(requests["aliases"][0], "CVE-2023-32681");
    assert_eq!(requests["package"]["origin"]["layer_index"], 0);
    assert_eq!(requests["package"]["origin"]["visible"], true);
    let secrets = report["secrets"].as_array().unwrap();
    assert_eq!(secrets.len(), 1, "{secrets:#?}");
    assert_eq!(secrets[0]["rule"], "github-token");
    assert_eq!(secrets[0]["location"]["path"], "/app/.env");
    let checks: Vec<&str> =
        report["checks"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert!(checks.contains(&"CIS-DI-0001") && checks.contains(&"CIS-DI-0010"), "{checks:?}");

    for format in ["table", "sarif"] {
        let out = run(kiln(&root).args(["scan", "app:1", "--format", format]));
        assert!(out.status.success());
        let text = stdout(&out);
        assert!(!text.contains(TOKEN), "{format}: the token leaked");
        assert!(text.contains("GHSA-j8r2-6x86-q33q") && text.contains("github-token"), "{format}: {text}");
    }
    let sarif: Value =
        serde_json::from_slice(&run(kiln(&root).args(["scan", "app:1", "--format", "sarif"])).stdout)
            .unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert_eq!(sarif["runs"][0]["results"].as_array().unwrap().len(), 2 + 1 + checks.len());
}

#[test]
fn thresholds_filters_and_ignores() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, _) = setup(tmp.path());
    // The token is high: --fail-on high exits 1, --fail-on critical does not.
    assert_eq!(run(kiln(&root).args(["scan", "app:1", "--fail-on", "high"])).status.code(), Some(1));
    assert_eq!(run(kiln(&root).args(["scan", "app:1", "--fail-on", "critical"])).status.code(), Some(0));
    // Only vulnerabilities, only medium ones: requests.
    let out = run(kiln(&root).args([
        "scan",
        "app:1",
        "--only",
        "vulns",
        "--severity",
        "medium",
        "--format",
        "json",
        "--fail-on",
        "high",
    ]));
    assert_eq!(out.status.code(), Some(0));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["vulnerabilities"].as_array().unwrap().len(), 1);
    assert!(
        report["secrets"].as_array().unwrap().is_empty() && report["checks"].as_array().unwrap().is_empty()
    );

    let table = stdout(&run(kiln(&root).args(["scan", "app:1", "--only", "vulns"])));
    assert!(
        table.contains("Vulnerabilities: 2") && !table.contains("Secrets") && !table.contains("Audit"),
        "{table}"
    );

    let ignores = tmp.path().join("ignores.yaml");
    write(
        tmp.path(),
        "ignores.yaml",
        "ignores:\n  - id: CVE-2023-32681\n    package: requests\n    reason: proxies are not used\n\
         \x20 - id: DSA-5532-1\n    reason: waiting for the point release\n    expires: 2020-01-01\n\
         \x20 - id: GHSA-0000-0000-0000\n    reason: an old one\n",
    );
    let out = run(kiln(&root)
        .args(["scan", "app:1", "--only", "vulns", "--format", "json", "--ignore-file"])
        .arg(&ignores));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> =
        report["vulnerabilities"].as_array().unwrap().iter().map(|v| v["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["DSA-5532-1"], "the expired ignore no longer applies");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("DSA-5532-1 has expired")
            && stderr.contains("GHSA-0000-0000-0000 matched no finding"),
        "{stderr}"
    );

    write(tmp.path(), "bad.yaml", "ignores:\n  - id: CVE-1\n    reason: \"\"\n");
    let out = run(kiln(&root).args(["scan", "app:1"]).arg("--ignore-file").arg(tmp.path().join("bad.yaml")));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs a reason"));
}

#[test]
fn db_status_sbom_output_and_missing_database() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, _) = setup(tmp.path());
    let status: Value =
        serde_json::from_slice(&run(kiln(&root).args(["db", "status", "--json"])).stdout).unwrap();
    assert_eq!(status["advisories"], 4);
    assert_eq!(status["by_ecosystem"]["Debian:12"], 2);

    let file = tmp.path().join("sbom.cdx.json");
    let out = run(kiln(&root).args(["sbom", "app:1", "--format", "cyclonedx", "-o"]).arg(&file));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: Value = serde_json::from_slice(&fs_err::read(&file).unwrap()).unwrap();
    assert_eq!(doc["specVersion"], "1.5");
    assert_eq!(doc["components"].as_array().unwrap().iter().filter(|c| c["type"] == "library").count(), 4);

    let other = tmp.path().join("empty-db");
    let out = run(kiln(&root).args(["scan", "app:1", "--db"]).arg(&other));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("kiln db import"));
    let out = run(kiln(&root).args(["scan", "app:1", "--only", "secrets,audit", "--db"]).arg(&other));
    assert!(out.status.success());
}

#[test]
fn built_image_build_arg_leak_is_found_and_mounted_secret_is_not_in_the_image() {
    kiln_test::skip_unless!(
        kiln_test::is_root() && Path::new("/bin/busybox").exists(),
        "builds need root and busybox-static"
    );
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let rootfs = tmp.path().join("rootfs");
    fs_err::create_dir_all(&rootfs).unwrap();
    kiln_test::busybox_rootfs(&rootfs).unwrap();
    assert!(
        run(kiln(&root).arg("import").arg(format!("dir:{}", rootfs.display())).arg("busybox"))
            .status
            .success()
    );
    let mounted = "sk_live_abcdefghijklmnopqrstuvwx0123";
    write(tmp.path(), "secret.txt", &format!("STRIPE={mounted}\n"));
    write(
        tmp.path(),
        "ctx/Dockerfile",
        "FROM busybox\nRUN --mount=type=secret,id=stripe cp /run/secrets/stripe /tmp/copy && rm /tmp/copy\n\
         ARG GITHUB_TOKEN\nRUN echo building > /built\n",
    );
    let out = run(kiln(&root)
        .args(["build", "-t", "leaky:1", "--build-arg", &format!("GITHUB_TOKEN={TOKEN}"), "--secret"])
        .arg(format!("id=stripe,src={}", tmp.path().join("secret.txt").display()))
        .arg(tmp.path().join("ctx")));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run(kiln(&root).args([
        "scan",
        "leaky:1",
        "--only",
        "secrets",
        "--format",
        "json",
        "--fail-on",
        "high",
    ]));
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let text = stdout(&out);
    assert!(!text.contains(TOKEN) && !text.contains(mounted), "{text}");
    let report: Value = serde_json::from_str(&text).unwrap();
    let found: Vec<(&str, &str)> = report["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["rule"].as_str().unwrap(), s["location"]["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(found, [("github-token", "history")], "the mounted secret is in no layer");
    // The history entry holding it: the RUN after the ARG (line 4) lists build args as `|1 GITHUB_TOKEN=…`,
    // as BuildKit's does; the `ARG GITHUB_TOKEN` entry itself never records the value.
    assert_eq!(report["secrets"][0]["location"]["dockerfile_line"], "Dockerfile:4");
    let sbom = run(kiln(&root).args(["sbom", "leaky:1", "--format", "json"]));
    assert!(sbom.status.success());
    assert!(!stdout(&sbom).contains(TOKEN), "the SBOM's layer history is redacted too");
}
