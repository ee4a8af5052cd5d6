//! kiln's numbers equal dive's on the recorded images (bench/record-dive-goldens.sh): efficiency to the
//! last bit (and to 4 decimals as `dive --ci` prints it), wasted bytes, user-wasted percent, layer sizes and
//! commands, and the inefficient-file list.

use kiln_analyze::ci::go_percent;
use kiln_analyze::{AnalyzeOptions, analyze, open_image};
use kiln_oci::Platform;
use serde_json::Value;

use crate::fixture;

/// The golden's `efficiency`, parsed exactly (serde_json's default float parsing may be 1 ulp off).
fn exact_efficiency(path: &std::path::Path) -> f64 {
    let text = fs_err::read_to_string(path).unwrap();
    let key = "\n \"efficiency\": ";
    let start = text.find(key).unwrap() + key.len();
    let end = start + text[start..].find([',', '\n']).unwrap();
    text[start..end].trim().parse().unwrap()
}

fn check(case: &str) {
    let dir = fixture::goldens().join(case);
    let golden: Value = serde_json::from_slice(&fs_err::read(dir.join("dive.json")).unwrap()).unwrap();
    let image: Value = serde_json::from_slice(&fs_err::read(dir.join("image.json")).unwrap()).unwrap();
    let layers = fixture::read_listing(&dir.join("listing.jsonl.gz"));
    let history: Vec<Value> = image["history"].as_array().unwrap().clone();
    let tmp = tempfile::tempdir().unwrap();
    let name = fixture::oci_layout(tmp.path(), &layers, &history);
    let source = open_image(&name, None, &Platform::host()).unwrap();
    let a = analyze(&source, &AnalyzeOptions::default()).unwrap();

    assert_eq!(a.efficiency, exact_efficiency(&dir.join("dive.json")), "{case}: efficiency");
    assert_eq!(
        go_percent(a.efficiency * 100.0),
        golden["ci"]["efficiency"],
        "{case}: efficiency as dive --ci prints it"
    );
    assert_eq!(a.wasted_bytes, golden["wasted_bytes"].as_u64().unwrap(), "{case}: wasted bytes");
    assert_eq!(a.wasted_bytes.to_string(), golden["ci"]["wastedBytes"], "{case}: wasted bytes (--ci)");
    assert_eq!(
        go_percent(a.user_wasted_percent),
        golden["ci"]["userWastedPercent"],
        "{case}: user wasted percent"
    );
    assert_eq!(a.size_bytes, golden["size_bytes"].as_u64().unwrap(), "{case}: size");
    let sizes: Vec<u64> = a.layers.iter().map(|l| l.size_bytes).collect();
    let want: Vec<u64> =
        golden["layers"].as_array().unwrap().iter().map(|l| l["size_bytes"].as_u64().unwrap()).collect();
    assert_eq!(sizes, want, "{case}: layer sizes");
    let commands: Vec<&str> = a.layers.iter().map(|l| l.command.as_str()).collect();
    let want: Vec<&str> =
        golden["layers"].as_array().unwrap().iter().map(|l| l["command"].as_str().unwrap()).collect();
    assert_eq!(commands, want, "{case}: layer commands");
    let mut files: Vec<(String, usize, u64)> =
        a.inefficiencies.iter().map(|i| (i.path.clone(), i.count, i.wasted_bytes)).collect();
    files.sort_by(|x, y| y.2.cmp(&x.2).then_with(|| x.0.cmp(&y.0)).then(x.1.cmp(&y.1)));
    let want: Vec<(String, usize, u64)> = golden["inefficient_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["file"].as_str().unwrap().to_owned(),
                f["count"].as_u64().unwrap() as usize,
                f["size_bytes"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(files, want, "{case}: inefficient files");
}

#[test]
fn busybox_import_matches_dive() {
    check("busybox");
}

#[test]
fn debootstrap_debian_matches_dive() {
    check("debian");
}

#[test]
fn builder_stage_with_apt_caches_matches_dive() {
    check("builder");
}

#[test]
fn final_stage_matches_dive() {
    check("final");
}

#[test]
fn deleted_overwritten_and_chowned_files_match_dive() {
    check("churn");
}

#[test]
fn dive_quirks_match_dive() {
    check("quirks");
}
