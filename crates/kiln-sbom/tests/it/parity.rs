//! SBOM parity with syft: for every image `bench/scan-vs-syft.sh` compared, kiln catalogs the files it
//! recorded (`NAME.records.tar.gz`: the package records of the image) and must report exactly syft's
//! (name, version, type) set (`NAME.syft.tsv`), except the differences explained in
//! `NAME.explained.tsv` (`only-syft|only-kiln<TAB>name<TAB>version<TAB>type<TAB>why`).

use std::collections::BTreeSet;
use std::io::Read;

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
        let sbom = catalog(&img.source, &CatalogOptions::default()).unwrap();
        let kiln: BTreeSet<Row> = sbom
            .visible_packages()
            .filter(|p| p.ecosystem != kiln_sbom::Ecosystem::Binary)
            .map(|p| (p.name.clone(), p.version.clone(), p.ecosystem.syft_type().to_owned()))
            .collect();
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
