//! Java archives (`.jar`, `.war`, `.ear`, and the other zip-based extensions syft reads): Maven coordinates
//! from every `META-INF/maven/<group>/<artifact>/pom.properties`, and the archive's own identity from
//! `META-INF/MANIFEST.MF` and its file name when no pom.properties describes it. Archives nested inside
//! (`WEB-INF/lib/*.jar`, `BOOT-INF/lib/*.jar`) are read in memory, up to [`MAX_DEPTH`] levels.

use std::io::{Cursor, Read};

use crate::CatalogOptions;
use crate::catalog::Found;
use crate::model::Ecosystem;

const FOUND_BY: &str = "java-archive";
/// How deep archives nested in archives are read.
const MAX_DEPTH: usize = 4;
/// Largest member (nested archive, manifest) read into memory.
const MAX_MEMBER: u64 = 256 << 20;

/// True for the file names of Java archives.
pub(crate) fn is_archive_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    ["jar", "war", "ear", "par", "sar", "nar", "jpi", "hpi", "kar", "lpkg"]
        .iter()
        .any(|ext| lower.strip_suffix(ext).is_some_and(|stem| stem.ends_with('.') && stem.len() > 1))
}

/// The packages in one archive (and the archives nested in it).
pub(crate) fn parse_archive(path: &str, bytes: &[u8], opts: &CatalogOptions) -> Result<Vec<Found>, String> {
    let mut out = Vec::new();
    parse_level(path, bytes, opts, 0, &mut out)?;
    Ok(out)
}

#[derive(Debug, Default)]
struct Pom {
    group: String,
    artifact: String,
    version: String,
}

fn parse_level(
    path: &str,
    bytes: &[u8],
    opts: &CatalogOptions,
    depth: usize,
    out: &mut Vec<Found>,
) -> Result<(), String> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| format!("not a readable zip: {e}"))?;
    let mut poms = Vec::new();
    let mut manifest = String::new();
    let mut nested: Vec<(String, Vec<u8>)> = Vec::new();
    for i in 0..zip.len() {
        let mut member = zip.by_index(i).map_err(|e| format!("zip member {i}: {e}"))?;
        if member.is_dir() {
            continue;
        }
        let name = String::from_utf8_lossy(member.name_raw()).into_owned();
        let read = |member: &mut zip::read::ZipFile<'_, Cursor<&[u8]>>| -> Result<Vec<u8>, String> {
            let mut buf = Vec::new();
            member.take(MAX_MEMBER).read_to_end(&mut buf).map_err(|e| format!("zip member {name}: {e}"))?;
            Ok(buf)
        };
        if name.starts_with("META-INF/maven/") && name.ends_with("/pom.properties") {
            poms.push(parse_pom_properties(&String::from_utf8_lossy(&read(&mut member)?)));
        } else if name.eq_ignore_ascii_case("META-INF/MANIFEST.MF") {
            manifest = String::from_utf8_lossy(&read(&mut member)?).into_owned();
        } else if opts.nested_archives
            && depth + 1 < MAX_DEPTH
            && is_archive_name(name.rsplit('/').next().unwrap_or(&name))
        {
            nested.push((name.clone(), read(&mut member)?));
        }
    }
    let file_name = path.rsplit(['/', ':']).next().unwrap_or(path);
    let (file_artifact, file_version) = split_file_name(file_name);
    let manifest = parse_manifest(&manifest);
    let licenses: Vec<String> = manifest.license.clone().into_iter().collect();
    let mut main_described = false;
    for pom in &poms {
        if pom.artifact.is_empty() || pom.version.is_empty() {
            continue;
        }
        main_described |= pom.artifact == file_artifact;
        let mut found = maven(&pom.group, &pom.artifact, &pom.version);
        if pom.artifact == file_artifact {
            found.licenses = licenses.clone();
        }
        out.push(found);
    }
    if !main_described {
        let name =
            manifest.name.clone().filter(|n| !n.contains(' ')).unwrap_or_else(|| file_artifact.to_owned());
        let version = manifest.version.clone().or_else(|| file_version.map(str::to_owned));
        if let Some(version) = version.filter(|v| !v.is_empty())
            && !name.is_empty()
        {
            let group = manifest.group.clone().unwrap_or_default();
            let mut found = maven(&group, &name, &version);
            found.licenses = licenses;
            out.push(found);
        }
    }
    for (name, data) in nested {
        let inner = format!("{path}:{name}");
        // A corrupt nested archive loses only its own packages.
        let _ = parse_level(&inner, &data, opts, depth + 1, out);
    }
    Ok(())
}

fn maven(group: &str, artifact: &str, version: &str) -> Found {
    let mut found = Found::new(artifact, version, Ecosystem::Java, FOUND_BY);
    let namespace = if group.is_empty() { artifact } else { group };
    found.namespace = (!group.is_empty()).then(|| group.to_owned());
    found.purl = Some(crate::purl::simple("maven", Some(namespace), artifact, version));
    found
}

fn parse_pom_properties(text: &str) -> Pom {
    let mut pom = Pom::default();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let Some((k, v)) = line.split_once(['=', ':']) else { continue };
        let v = v.trim().to_owned();
        match k.trim() {
            "groupId" => pom.group = v,
            "artifactId" => pom.artifact = v,
            "version" => pom.version = v,
            _ => {}
        }
    }
    pom
}

#[derive(Debug, Default)]
struct Manifest {
    name: Option<String>,
    version: Option<String>,
    group: Option<String>,
    license: Option<String>,
}

/// The main section of a jar manifest (72-byte lines continued by a leading space).
fn parse_manifest(text: &str) -> Manifest {
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.is_empty() {
            break; // end of the main section
        }
        if let Some(cont) = line.strip_prefix(' ') {
            if let Some(last) = fields.last_mut() {
                last.1.push_str(cont);
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            fields.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let get = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| fields.iter().find(|(f, v)| f.eq_ignore_ascii_case(k) && !v.is_empty()))
            .map(|(_, v)| v.clone())
    };
    Manifest {
        name: get(&["Bundle-SymbolicName", "Implementation-Title", "Specification-Title"])
            .map(|n| n.split(';').next().unwrap_or(&n).trim().to_owned()),
        version: get(&["Implementation-Version", "Bundle-Version", "Specification-Version"]),
        group: get(&["Implementation-Vendor-Id"]),
        license: get(&["Bundle-License"]),
    }
}

/// `commons-io-2.11.0.jar` → (`commons-io`, `2.11.0`): the version starts at the last `-` before a digit.
fn split_file_name(name: &str) -> (&str, Option<&str>) {
    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
    let at = stem
        .match_indices('-')
        .filter(|(i, _)| stem[i + 1..].starts_with(|c: char| c.is_ascii_digit()))
        .map(|(i, _)| i)
        .next();
    match at {
        Some(i) => (&stem[..i], Some(&stem[i + 1..])),
        None => (stem, None),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::io::Write;

    use super::*;

    fn jar(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data) in members {
            zip.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
            zip.write_all(data).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    #[test]
    fn pom_properties_and_nested_jar() {
        let inner = jar(&[(
            "META-INF/maven/org.slf4j/slf4j-api/pom.properties",
            b"#Generated\ngroupId=org.slf4j\nartifactId=slf4j-api\nversion=2.0.9\n",
        )]);
        let outer = jar(&[
            (
                "META-INF/MANIFEST.MF",
                b"Manifest-Version: 1.0\nImplementation-Title: app\nImplementation-Version: 1.2.3\n",
            ),
            ("WEB-INF/lib/slf4j-api-2.0.9.jar", &inner),
        ]);
        let found = parse_archive("srv/app.war", &outer, &CatalogOptions::default()).unwrap();
        let purls: Vec<_> = found.iter().map(|f| f.purl.clone().unwrap()).collect();
        assert_eq!(purls, ["pkg:maven/app/app@1.2.3", "pkg:maven/org.slf4j/slf4j-api@2.0.9"]);
        assert_eq!(found[1].namespace.as_deref(), Some("org.slf4j"));
    }

    #[test]
    fn file_names() {
        assert_eq!(split_file_name("commons-io-2.11.0.jar"), ("commons-io", Some("2.11.0")));
        assert_eq!(split_file_name("app.jar"), ("app", None));
        assert!(is_archive_name("x.JAR") && !is_archive_name(".jar") && !is_archive_name("jar"));
        assert!(parse_archive("a.jar", b"not a zip", &CatalogOptions::default()).is_err());
    }
}
