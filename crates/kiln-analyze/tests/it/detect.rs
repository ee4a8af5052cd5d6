//! The detectors on an image made to hold each kind of waste, with kiln provenance in its history: every
//! finding names its bytes, its layer and the Dockerfile line.

use kiln_analyze::detect::{FindingKind, SuggestionKind};
use kiln_analyze::{Analysis, AnalyzeOptions, analyze, open_image};
use kiln_oci::Platform;
use serde_json::json;

use crate::fixture::{self, Member};

fn provenance(line: u32, created_by: &str) -> serde_json::Value {
    json!({"created_by": created_by, "comment": format!("kiln.dockerfile.v0 Dockerfile:{line}")})
}

/// Layer 0: a base with docs; 1: apt lists and a compiler; 2: a big temp file and a config;
/// 3: deletes the temp file, overwrites the config; 4: chown -R of /app; 5: a copy of an existing file.
pub(crate) fn wasteful_image(dir: &std::path::Path) -> Analysis {
    let layers = vec![
        vec![
            Member::dir("usr"),
            Member::dir("usr/share/doc/pkg"),
            Member::zeros("usr/share/doc/pkg/changelog.gz", 5000),
            Member::zeros("usr/share/man/man1/ls.1.gz", 3000),
            Member::file("bin/tool", &[7u8; 4096]),
        ],
        vec![
            Member::zeros("var/lib/apt/lists/deb.debian.org_Packages", 40_000),
            Member::zeros("var/lib/apt/lists/lock", 0),
            Member::file("usr/bin/gcc-12", &[1u8; 9000]),
            Member::file("usr/include/stdio.h", &[2u8; 800]),
        ],
        vec![
            Member::zeros("tmp/build.tar", 70_000),
            Member::file("etc/app.conf", b"v1 settings"),
            Member::file("app/bin", &[3u8; 6000]),
        ],
        vec![Member::whiteout("tmp/build.tar"), Member::file("etc/app.conf", b"v2")],
        vec![Member::file("app/bin", &[3u8; 6000]).with_mode(0o644, 1000)],
        vec![Member::file("opt/tool-copy", &[7u8; 4096])],
    ];
    let history = vec![
        json!({"created_by": "/bin/sh -c #(nop) ADD file:base in /"}),
        provenance(3, "RUN apt-get update && apt-get install -y gcc"),
        provenance(4, "RUN make"),
        provenance(5, "RUN rm /tmp/build.tar && echo v2 > /etc/app.conf"),
        provenance(6, "RUN chown -R 1000 /app"),
        provenance(7, "COPY tool /opt/tool-copy"),
    ];
    let name = fixture::oci_layout(dir, &layers, &history);
    analyze(&open_image(&name, None, &Platform::host()).unwrap(), &AnalyzeOptions::default()).unwrap()
}

fn finding(a: &Analysis, kind: FindingKind, layer: usize) -> &kiln_analyze::detect::Finding {
    a.findings
        .iter()
        .find(|f| f.kind == kind && f.layer == layer)
        .unwrap_or_else(|| panic!("no {kind:?} finding in layer {layer}: {:#?}", a.findings))
}

#[test]
fn every_kind_of_waste_is_found_with_bytes_layer_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let a = wasteful_image(tmp.path());

    let apt = finding(&a, FindingKind::PackageCache, 1);
    assert_eq!(apt.bytes, 40_000, "apt lists without the lock file");
    assert_eq!(apt.location.as_deref(), Some("Dockerfile:3"));
    assert_eq!(apt.suggestion, SuggestionKind::CacheMount);

    let gcc = a.findings.iter().filter(|f| f.kind == FindingKind::BuildToolchain && f.layer == 1);
    assert_eq!(gcc.map(|f| f.bytes).sum::<u64>(), 9800, "gcc and headers");

    let docs = finding(&a, FindingKind::Docs, 0);
    assert_eq!(docs.bytes, 8000);
    assert_eq!(docs.suggestion, SuggestionKind::SmallerBase);
    assert_eq!(docs.location, None, "the base layer has no kiln provenance");

    let deleted = finding(&a, FindingKind::DeletedLater, 2);
    assert_eq!(deleted.bytes, 70_000);
    assert_eq!(
        deleted.location.as_deref(),
        Some("Dockerfile:4"),
        "the bytes live in the layer that made them"
    );
    assert!(deleted.title.contains("Dockerfile:5"), "{}", deleted.title);
    assert_eq!(deleted.paths[0].path, "/tmp/build.tar");

    let overwritten = finding(&a, FindingKind::Overwritten, 2);
    assert_eq!(overwritten.bytes, 11);
    assert_eq!(overwritten.suggestion, SuggestionKind::MergeLayers);

    let chown = finding(&a, FindingKind::MetadataRewrite, 4);
    assert_eq!((chown.bytes, chown.files), (6000, 1));
    assert!(chown.fix.contains("chown -R"), "{}", chown.fix);
    assert_eq!(chown.suggestion, SuggestionKind::CopyChown);

    let dup = finding(&a, FindingKind::DuplicateContent, 5);
    assert_eq!(dup.bytes, 4096);
    assert!(dup.paths[0].path.contains("same as /bin/tool"), "{}", dup.paths[0].path);

    let saved = |k: SuggestionKind| a.suggestions.iter().find(|s| s.kind == k).map(|s| s.bytes_saved);
    assert_eq!(saved(SuggestionKind::CleanupSameRun), Some(70_000));
    assert_eq!(saved(SuggestionKind::CopyChown), Some(6000));
    assert_eq!(saved(SuggestionKind::MultiStage), Some(9800));
    let multi = a.suggestions.iter().find(|s| s.kind == SuggestionKind::MultiStage).unwrap();
    assert_eq!(multi.locations, vec!["Dockerfile:3".to_owned()]);
}

#[test]
fn layer_reports_count_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let a = wasteful_image(tmp.path());
    let l3 = &a.layers[3];
    assert_eq!((l3.removed.files, l3.removed.bytes), (1, 70_000));
    assert_eq!((l3.modified.files, l3.modified.bytes), (1, 11));
    assert_eq!(l3.location.as_deref(), Some("Dockerfile:5"));
    assert_eq!(a.layers[4].metadata_only.files, 1);
    assert_eq!(a.layers[2].largest[0].path, "/tmp/build.tar");
    assert_eq!(a.layers[0].command, "#(nop) ADD file:base in /");
    // The final tree: the temp file is gone, the config is v2 from layer 3.
    let entries = a.layer_entries();
    let conf = a.tree.get("etc/app.conf").unwrap();
    assert_eq!(a.tree.entry(&entries, conf).unwrap().size, 2);
    assert_eq!(a.tree.node(conf).entry.unwrap().layer, 3);
    assert!(a.tree.get("tmp/build.tar").is_none());
}
