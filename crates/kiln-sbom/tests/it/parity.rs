//! SBOM parity with syft: for every image `bench/scan-vs-syft.sh` compared, kiln catalogs the files it
//! recorded (`NAME.records.tar.gz`: the package records of the image) and must report exactly syft's
//! (name, version, type) set (`NAME.syft.tsv`), except the differences explained in
//! `NAME.explained.tsv` (`only-syft|only-kiln<TAB>name<TAB>version<TAB>type<TAB>why`).
//!
//! The Go case commits no binary: the test builds `tests/data/go-hello` (one vendored dependency) with the
//! `go` toolchain, exactly as `bench/record-go-golden.sh` did when it recorded syft's set
//! (`go-hello.syft.tsv`), and catalogs it from a one-layer image.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;
use std::process::Command;

use kiln_sbom::{CatalogOptions, catalog};

use crate::fixture::{Layer, image};

type Row = (String, String, String);

fn rows(text: &str) -> BTreeSet<Row> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0].to_owned(), f[1].to_owned(), f[2].to_owned())
        })
        .collect()
}

/// kiln's (name, version, syft type) set for an image, binary-detector matches left out (syft's set
/// holds only the ecosystems kiln catalogs).
fn kiln_rows(img: &crate::fixture::Image) -> BTreeSet<Row> {
    let sbom = catalog(&img.source, &CatalogOptions::default()).unwrap();
    sbom.visible_packages()
        .filter(|p| p.ecosystem != kiln_sbom::Ecosystem::Binary)
        .map(|p| (p.name.clone(), p.version.clone(), p.ecosystem.syft_type().to_owned()))
        .collect()
}

/// Builds `tests/data/go-hello` into `out` with the flags and environment of `bench/record-go-golden.sh`
/// (keep the two in step): reproducible build info, no network, no VCS stamp, no cgo.
fn build_go_hello(out: &Path) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/go-hello");
    let mut cmd = Command::new("go");
    cmd.current_dir(&src)
        .args(["build", "-trimpath", "-buildvcs=false", "-mod=vendor", "-ldflags=-s -w", "-o"])
        .arg(out)
        .arg(".")
        .env_remove("GOFLAGS")
        .envs([("CGO_ENABLED", "0"), ("GOOS", "linux"), ("GOARCH", "amd64")])
        .envs([("GOPROXY", "off"), ("GOWORK", "off"), ("GO111MODULE", "on")]);
    // `go` needs a build cache; give it one when the environment names no home for the default.
    let cache = tempfile::tempdir().unwrap();
    if std::env::var_os("GOCACHE").is_none()
        && std::env::var_os("HOME").is_none()
        && std::env::var_os("XDG_CACHE_HOME").is_none()
    {
        cmd.env("GOCACHE", cache.path());
    }
    let output = cmd.output().unwrap();
    assert!(
        output.status.success(),
        "go build in {} failed: {}",
        src.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn go_binary_same_packages_as_syft() {
    kiln_test::skip_unless!(
        kiln_test::which("go").is_some(),
        "the go toolchain is not installed (golang-go)"
    );
    let golden = kiln_test::workspace_root().join("bench/scan-goldens/go-hello.syft.tsv");
    let expected = rows(&fs_err::read_to_string(&golden).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("go-hello");
    build_go_hello(&bin);
    let img = image(&[Layer {
        files: vec![("usr/local/bin/go-hello".to_owned(), Some(fs_err::read(&bin).unwrap()))],
        line: Some(3),
    }]);
    let kiln = kiln_rows(&img);
    // The stdlib row is the toolchain's version: a different `go` than the recording's is no parity bug.
    let recorded = expected.iter().find(|r| r.0 == "stdlib").map(|r| r.1.as_str());
    let version = Command::new("go").args(["env", "GOVERSION"]).output().unwrap();
    let built = String::from_utf8_lossy(&version.stdout).trim().to_owned();
    assert_eq!(
        Some(built.as_str()),
        recorded,
        "the test's go toolchain is {built} but {} was recorded with {}: install the same golang-go as the \
         recording or re-record with bench/record-go-golden.sh",
        golden.display(),
        recorded.unwrap_or("no stdlib row"),
    );
    let missing: Vec<_> = expected.difference(&kiln).collect();
    let extra: Vec<_> = kiln.difference(&expected).collect();
    assert!(missing.is_empty() && extra.is_empty(), "go-hello: missing {missing:#?}\nextra {extra:#?}");
    assert_eq!(expected.len(), 3, "{}: main module, greet and stdlib", golden.display());
}

#[test]
fn same_packages_as_syft() {
    let dir = kiln_test::workspace_root().join("bench/scan-goldens");
    let mut checked = 0;
    let entries = fs_err::read_dir(&dir).map(|d| d.collect::<Vec<_>>()).unwrap_or_default();
    for entry in &entries {
        let path = entry.as_ref().unwrap().path();
        let Some(name) =
            path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".records.tar.gz"))
        else {
            continue;
        };
        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(fs_err::File::open(&path).unwrap()).read_to_end(&mut tar).unwrap();
        let files: Vec<(String, Vec<u8>)> = tar::Archive::new(tar.as_slice())
            .entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let p = e.path().unwrap().to_string_lossy().into_owned();
                let mut data = Vec::new();
                e.read_to_end(&mut data).unwrap();
                (p, data)
            })
            .collect();
        let files = files.into_iter().map(|(p, d)| (p, Some(d))).collect();
        let img = image(&[Layer { files, line: None }]);
        let kiln = kiln_rows(&img);
        let mut expected = rows(&fs_err::read_to_string(dir.join(format!("{name}.syft.tsv"))).unwrap());
        if let Ok(text) = fs_err::read_to_string(dir.join(format!("{name}.explained.tsv"))) {
            for line in text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
                let f: Vec<&str> = line.split('\t').collect();
                let row = (f[1].to_owned(), f[2].to_owned(), f[3].to_owned());
                match f[0] {
                    "only-syft" => assert!(expected.remove(&row), "{name}: {row:?} is not in syft's set"),
                    _ => assert!(expected.insert(row.clone()), "{name}: {row:?} is already in syft's set"),
                }
            }
        }
        let missing: Vec<_> = expected.difference(&kiln).collect();
        let extra: Vec<_> = kiln.difference(&expected).collect();
        assert!(missing.is_empty() && extra.is_empty(), "{name}: missing {missing:#?}\nextra {extra:#?}");
        assert!(!kiln.is_empty(), "{name}: no packages");
        checked += 1;
    }
    let goldens = entries.len();
    assert!(goldens == 0 || checked >= 3, "{checked} goldens checked");
    if checked == 0 {
        eprintln!("skipped: no goldens in {} (run bench/scan-vs-syft.sh)", dir.display());
    }
}
