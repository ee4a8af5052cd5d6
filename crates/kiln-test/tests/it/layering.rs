//! Enforces DESIGN.md's crate table: every kiln-to-kiln dependency edge must be an allowed one.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// The allowed normal (non-dev) dependencies between kiln crates, from DESIGN.md's table, plus the
/// departures recorded in the issue notes (kiln-context → kiln-dockerfile for the `.dockerignore` matcher,
/// and → kiln-oci for `Digest`, the type of its checksums; kiln-store → kiln-layer, as import/export
/// decompress, hash and compress layers and snapshots unpack them; kiln-registry → kiln-layer, as a pull
/// decompresses layers while streaming them into the store and a push compresses them (parallel gzip);
/// kiln-build → kiln-dockerfile, as the plan's steps are kiln-dockerfile `Instruction`s the engine
/// dispatches on).
const ALLOWED: &[(&str, &[&str])] = &[
    ("kiln-fs", &[]),
    ("kiln-oci", &[]),
    ("kiln-dockerfile", &[]),
    ("kiln-lint", &["dockerfile"]),
    ("kiln-plan", &["dockerfile", "oci"]),
    ("kiln-context", &["fs", "dockerfile", "oci"]),
    ("kiln-layer", &["oci", "fs"]),
    ("kiln-store", &["oci", "fs", "layer"]),
    ("kiln-registry", &["store", "oci", "layer"]),
    ("kiln-sandbox", &["fs"]),
    ("kiln-build", &["plan", "dockerfile", "context", "layer", "store", "sandbox", "oci", "fs"]),
    ("kiln-analyze", &["layer", "store", "oci"]),
    ("kiln-sbom", &["layer", "store", "oci"]),
    ("kiln-vuln", &["sbom"]),
    ("kiln-audit", &["layer", "store", "oci"]),
    ("kiln-test", &[]),
];

fn workspace_edges() -> BTreeMap<String, BTreeSet<(String, bool)>> {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(kiln_test::workspace_root())
        .output()
        .expect("cargo metadata runs");
    assert!(out.status.success(), "cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr));
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON");
    let mut edges = BTreeMap::new();
    for package in meta["packages"].as_array().expect("packages array") {
        let name = package["name"].as_str().expect("package name").to_owned();
        let deps = package["dependencies"]
            .as_array()
            .expect("dependencies array")
            .iter()
            .filter_map(|d| {
                let dep = d["name"].as_str()?;
                let is_dev = d["kind"].as_str() == Some("dev");
                dep.starts_with("kiln-").then(|| (dep.to_owned(), is_dev))
            })
            .collect();
        edges.insert(name, deps);
    }
    edges
}

#[test]
fn kiln_crates_depend_only_on_what_design_md_allows() {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut violations = Vec::new();
    for (crate_name, deps) in workspace_edges() {
        for (dep, is_dev) in deps {
            if dep == "kiln-test" {
                if !is_dev {
                    violations.push(format!("{crate_name} → kiln-test must be a dev-dependency"));
                }
                continue;
            }
            if is_dev {
                continue;
            }
            if crate_name == "kiln-cli" {
                continue; // the binary may wire any crate
            }
            let Some(ok) = allowed.get(crate_name.as_str()) else {
                violations.push(format!("{crate_name} is not in DESIGN.md's crate table"));
                continue;
            };
            if !ok.contains(&dep.trim_start_matches("kiln-")) {
                violations.push(format!("{crate_name} → {dep} is not allowed by DESIGN.md"));
            }
        }
    }
    assert!(violations.is_empty(), "layering violations:\n{}", violations.join("\n"));
}

#[test]
fn the_table_itself_has_no_cycles() {
    // A dependency table with a cycle would make the check above meaningless.
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    fn visit<'a>(
        node: &'a str,
        allowed: &BTreeMap<&'a str, &'a [&'a str]>,
        stack: &mut Vec<&'a str>,
    ) -> Result<(), String> {
        if stack.contains(&node) {
            return Err(format!("cycle: {} → {node}", stack.join(" → ")));
        }
        stack.push(node);
        for dep in allowed.get(node).copied().unwrap_or_default() {
            let full = format!("kiln-{dep}");
            let key = allowed.keys().find(|k| **k == full).copied().expect("dependency is in the table");
            visit(key, allowed, stack)?;
        }
        stack.pop();
        Ok(())
    }
    for name in allowed.keys() {
        visit(name, &allowed, &mut Vec::new()).unwrap();
    }
}
