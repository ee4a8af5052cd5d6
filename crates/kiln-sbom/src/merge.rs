//! The merge step: replays the per-layer scans in layer order, as an overlay filesystem would stack them,
//! to tell which package records survive in the final filesystem, and turns every record into a
//! [`Package`] with its locations (first = the layer that introduced it) and purl.
//!
//! A package's identity is (ecosystem, namespace, name, version, path of the file recording it): the same
//! `libc6 2.36-9` in a status file rewritten by three layers is one package with three locations; the same
//! npm package under two `node_modules` trees is two packages, as in syft. A record is visible when the
//! last layer that touched its path (write, whiteout, opaque parent, or a non-directory replacing a parent)
//! left it holding that package.

use std::collections::{BTreeMap, HashMap};

use crate::catalog::{FileFinding, Finding, Found, LayerScan, Removal};
use crate::model::{Ecosystem, ImageSummary, Location, OsRelease, Package, Sbom};

type Key = (Ecosystem, Option<String>, String, String, String);

fn key(found: &Found, path: &str) -> Key {
    (found.ecosystem, found.namespace.clone(), found.name.clone(), found.version.clone(), path.to_owned())
}

/// Removes `path` itself (unless `children_only`) and everything below it from `state`.
fn remove_tree<V>(state: &mut BTreeMap<String, V>, path: &str, children_only: bool) {
    if state.is_empty() {
        return;
    }
    if path.is_empty() {
        state.clear();
        return;
    }
    if !children_only {
        state.remove(path);
    }
    let prefix = format!("{path}/");
    let doomed: Vec<String> = state
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .map(|(k, _)| k.clone())
        .collect();
    for k in doomed {
        state.remove(&k);
    }
}

/// Builds the SBOM from the layers' scans (in layer order).
pub(crate) fn merge(image: ImageSummary, scans: Vec<LayerScan<'_>>) -> Sbom {
    // Every cataloged file of every layer, in layer order, and the final filesystem's view of them.
    let mut all: Vec<(usize, FileFinding)> = Vec::new();
    let mut state: BTreeMap<String, usize> = BTreeMap::new();
    let mut warnings = Vec::new();
    for scan in scans {
        let layer = scan.layer.index;
        for removal in &scan.removals {
            match removal {
                Removal::Whiteout(p) | Removal::Replaced(p) => remove_tree(&mut state, p, false),
                Removal::Opaque(p) => remove_tree(&mut state, p, true),
            }
        }
        let first_of_layer = all.len();
        for file in scan.files {
            state.insert(file.path.clone(), all.len());
            all.push((layer, file));
        }
        for (path, target) in &scan.hardlinks {
            let linked =
                all[first_of_layer..].iter().find(|(_, f)| &f.path == target).map(|(_, f)| f.finding.clone());
            if let Some(finding) = linked {
                state.insert(path.clone(), all.len());
                all.push((layer, FileFinding { path: path.clone(), finding }));
            }
        }
        warnings.extend(scan.warnings);
    }

    let os = ["etc/os-release", "usr/lib/os-release"].iter().find_map(|p| {
        let idx = state.get(*p)?;
        match &all[*idx].1.finding {
            Finding::OsRelease(os) => Some(os.clone()),
            _ => None,
        }
    });

    // Licenses from copyright files: the final filesystem's, else the latest seen.
    let mut copyright: HashMap<&str, (bool, &[String])> = HashMap::new();
    for (i, (_, file)) in all.iter().enumerate() {
        if let Finding::Copyright { package, licenses } = &file.finding {
            let visible = state.get(&file.path) == Some(&i);
            let slot = copyright.entry(package.as_str()).or_insert((visible, licenses));
            if visible || !slot.0 {
                *slot = (visible, licenses);
            }
        }
    }

    let mut visible: std::collections::HashSet<Key> = std::collections::HashSet::new();
    for idx in state.values() {
        let file = &all[*idx].1;
        if let Finding::Packages(found) = &file.finding {
            visible.extend(found.iter().map(|f| key(f, &file.path)));
        }
    }

    let mut packages: Vec<Package> = Vec::new();
    let mut index: HashMap<Key, usize> = HashMap::new();
    for (layer, file) in &all {
        let Finding::Packages(found) = &file.finding else { continue };
        let layer_summary = &image.layers[*layer];
        for f in found {
            let k = key(f, &file.path);
            let location = Location {
                layer_index: *layer,
                layer_diff_id: layer_summary.diff_id.clone(),
                path: format!("/{}", file.path),
                provenance: layer_summary.provenance.clone(),
            };
            match index.get(&k) {
                Some(&i) => {
                    let p: &mut Package = &mut packages[i];
                    if !p.locations.iter().any(|l| l.layer_index == *layer && l.path == location.path) {
                        p.locations.push(location);
                    }
                }
                None => {
                    let is_visible = visible.contains(&k);
                    index.insert(k, packages.len());
                    packages.push(package(f, location, is_visible, os.as_ref(), &copyright));
                }
            }
        }
    }
    packages.sort_by(|a, b| {
        (&a.name, &a.version, a.ecosystem, a.locations[0].layer_index, &a.locations[0].path).cmp(&(
            &b.name,
            &b.version,
            b.ecosystem,
            b.locations[0].layer_index,
            &b.locations[0].path,
        ))
    });
    Sbom { image, os, packages, warnings }
}

fn package(
    f: &Found,
    location: Location,
    visible: bool,
    os: Option<&OsRelease>,
    copyright: &HashMap<&str, (bool, &[String])>,
) -> Package {
    let purl = match &f.purl {
        Some(p) => p.clone(),
        None => crate::purl::os_package(f, os),
    };
    let mut licenses = f.licenses.clone();
    if f.ecosystem == Ecosystem::Deb
        && licenses.is_empty()
        && let Some((_, l)) = copyright.get(f.name.as_str())
    {
        licenses = l.to_vec();
    }
    Package {
        name: f.name.clone(),
        version: f.version.clone(),
        ecosystem: f.ecosystem,
        namespace: f.namespace.clone(),
        purl,
        licenses,
        source_name: f.source_name.clone(),
        source_version: f.source_version.clone(),
        arch: f.arch.clone(),
        found_by: f.found_by.to_owned(),
        locations: vec![location],
        visible,
    }
}
