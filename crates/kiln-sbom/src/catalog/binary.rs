//! Executables: Go modules from the build info the Go linker embeds, and Rust crates from the dependency
//! list cargo-auditable embeds (`.dep-v0`, read with the `auditable-info` crate).
//!
//! Go build info (`runtime/debug.BuildInfo`) lives in the `.go.buildinfo` section (ELF, PE) or
//! `__go_buildinfo` (Mach-O); for binaries without section headers, the first writable segment is
//! searched for its 16-byte-aligned magic, as `debug/buildinfo` does. The section starts with a 32-byte
//! header: `\xff Go buildinf:`, pointer size, flags. Go 1.18+ sets flag bit 2 and stores the Go version
//! and the module info inline as varint-prefixed strings; older binaries store two pointers to Go string
//! headers, which are resolved through the segment table (both are read). The module info is the text of
//! `go version -m`: `path`, `mod`, `dep` and `=>` (replacement) lines, framed by 16-byte sentinels.
//!
//! Packages reported, as syft does: the main module (version `(devel)` unless the build recorded one),
//! each dependency (its replacement when replaced), and `stdlib` at the Go version the binary was built
//! with. Parsing uses the `object` crate; the formats themselves are small enough that reading them here
//! is simpler than any crate (none parses Go build info from bytes).

use object::{Object, ObjectSection, ObjectSegment};

use crate::CatalogOptions;
use crate::catalog::Found;
use crate::model::Ecosystem;

const GO_FOUND_BY: &str = "go-binary";
const RUST_FOUND_BY: &str = "rust-auditable-binary";
const GO_MAGIC: &[u8] = b"\xff Go buildinf:";
/// Largest decompressed cargo-auditable JSON accepted (auditable-info's default limit).
const MAX_AUDIT_JSON: usize = 8 << 20;

/// True when `head` starts like an ELF, PE or Mach-O file.
pub(crate) fn is_executable_format(head: &[u8]) -> bool {
    head.starts_with(b"\x7fELF")
        || head.starts_with(b"MZ")
        || [
            [0xfe, 0xed, 0xfa, 0xce],
            [0xfe, 0xed, 0xfa, 0xcf],
            [0xce, 0xfa, 0xed, 0xfe],
            [0xcf, 0xfa, 0xed, 0xfe],
        ]
        .iter()
        .any(|m| head.starts_with(m))
}

/// The Go modules and Rust crates recorded in one executable (empty for other binaries).
pub(crate) fn parse(_path: &str, bytes: &[u8], opts: &CatalogOptions) -> Result<Vec<Found>, String> {
    let Ok(file) = object::File::parse(bytes) else {
        // Not a well-formed object file (a data file with an ELF-like start, a truncated binary): nothing
        // to report, and nothing worth a warning.
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    if opts.enabled(Ecosystem::Go)
        && let Some(info) = go_build_info(&file)?
    {
        out.extend(go_packages(&info));
    }
    if opts.enabled(Ecosystem::Rust) && file.section_by_name(".dep-v0").is_some() {
        out.extend(rust_packages(bytes)?);
    }
    Ok(out)
}

/// The Go version and module info text of a Go binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GoBuildInfo {
    pub(crate) go_version: String,
    pub(crate) modinfo: String,
}

fn go_build_info(file: &object::File<'_>) -> Result<Option<GoBuildInfo>, String> {
    let section = file.section_by_name(".go.buildinfo").or_else(|| file.section_by_name("__go_buildinfo"));
    let data: &[u8] = match section {
        Some(s) => s.data().map_err(|e| format!("reading the Go build info section: {e}"))?,
        None => match writable_segment_with_magic(file) {
            Some(d) => d,
            None => return Ok(None),
        },
    };
    let Some(at) = (0..data.len()).step_by(16).find(|&i| data[i..].starts_with(GO_MAGIC)) else {
        return Ok(None);
    };
    let header = &data[at..];
    if header.len() < 32 {
        return Err("Go build info header is truncated".into());
    }
    let ptr_size = header[14] as usize;
    let flags = header[15];
    let (go_version, modinfo) = if flags & 2 != 0 {
        let (vers, rest) = read_varint_string(&header[32..])?;
        let (modinfo, _) = read_varint_string(rest)?;
        (vers, modinfo)
    } else {
        if ptr_size != 4 && ptr_size != 8 {
            return Err(format!("Go build info has pointer size {ptr_size}"));
        }
        let big_endian = flags & 1 != 0;
        let read_ptr = |b: &[u8]| -> u64 {
            let b = &b[..ptr_size];
            match (ptr_size, big_endian) {
                (4, false) => u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                (4, true) => u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
                (_, false) => u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
                (_, true) => u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
            }
        };
        let read_go_string = |addr: u64| -> Option<String> {
            let hdr = read_memory(file, addr, 2 * ptr_size as u64)?;
            let (ptr, len) = (read_ptr(hdr), read_ptr(&hdr[ptr_size..]));
            if len > 1 << 20 {
                return None;
            }
            read_memory(file, ptr, len).map(|b| String::from_utf8_lossy(b).into_owned())
        };
        let vers = read_go_string(read_ptr(&header[16..])).unwrap_or_default();
        let modinfo = read_go_string(read_ptr(&header[16 + ptr_size..])).unwrap_or_default();
        (vers.into_bytes(), modinfo.into_bytes())
    };
    let go_version = String::from_utf8_lossy(&go_version).into_owned();
    let mut modinfo = String::from_utf8_lossy(&modinfo).into_owned();
    // Strip the 16-byte sentinels around the module info (present since Go 1.13).
    if modinfo.len() >= 33 && modinfo.as_bytes()[modinfo.len() - 17] == b'\n' {
        modinfo = String::from_utf8_lossy(&modinfo.as_bytes()[16..modinfo.len() - 16]).into_owned();
    }
    if go_version.is_empty() {
        return Ok(None);
    }
    Ok(Some(GoBuildInfo { go_version, modinfo }))
}

/// The first writable segment holding the build-info magic (binaries without section headers).
fn writable_segment_with_magic<'a>(file: &'a object::File<'_>) -> Option<&'a [u8]> {
    for segment in file.segments() {
        let Ok(data) = segment.data() else { continue };
        if memchr::memmem::find(data, GO_MAGIC).is_some() {
            return Some(data);
        }
    }
    None
}

/// `len` bytes at virtual address `addr`, from the segment that maps it.
fn read_memory<'a>(file: &'a object::File<'_>, addr: u64, len: u64) -> Option<&'a [u8]> {
    file.segments().find_map(|s| s.data_range(addr, len).ok().flatten())
}

/// Reads a uvarint-length-prefixed string; returns it and the rest.
fn read_varint_string(bytes: &[u8]) -> Result<(Vec<u8>, &[u8]), String> {
    let mut len: u64 = 0;
    let mut shift = 0;
    let mut i = 0;
    loop {
        let b = *bytes.get(i).ok_or("Go build info string length is truncated")?;
        len |= u64::from(b & 0x7f) << shift;
        i += 1;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 63 {
            return Err("Go build info string length overflows".into());
        }
    }
    let end = i
        .checked_add(len as usize)
        .filter(|&e| e <= bytes.len())
        .ok_or("Go build info string is truncated")?;
    Ok((bytes[i..end].to_vec(), &bytes[end..]))
}

/// The packages of a Go binary's build info.
pub(crate) fn go_packages(info: &GoBuildInfo) -> Vec<Found> {
    let mut out: Vec<Found> = Vec::new();
    let mut main: Option<Found> = None;
    let mut settings: Vec<(String, String)> = Vec::new();
    for line in info.modinfo.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        match fields.as_slice() {
            ["mod", path, version, ..] => main = Some(go_module(path, version)),
            ["dep", path, version, ..] => out.push(go_module(path, version)),
            ["=>", path, version, ..] => {
                // Replaces the module on the line before.
                if let Some(last) = out.last_mut() {
                    *last = go_module(path, version);
                } else if let Some(m) = main.as_mut() {
                    *m = go_module(path, version);
                }
            }
            ["build", setting] => {
                if let Some((k, v)) = setting.split_once('=') {
                    settings.push((k.to_owned(), v.to_owned()));
                }
            }
            _ => {}
        }
    }
    if let Some(mut m) = main {
        if m.version.is_empty() {
            m.version = "(devel)".to_owned();
        }
        out.insert(0, m);
    }
    out.retain(|f| !f.name.is_empty() && !f.version.is_empty());
    let go_version = info.go_version.split_whitespace().next().unwrap_or(&info.go_version);
    let stdlib_version = go_version.strip_prefix("go").unwrap_or(go_version);
    let mut stdlib = Found::new("stdlib", go_version, Ecosystem::Go, GO_FOUND_BY);
    stdlib.purl = Some(crate::purl::simple("golang", None, "stdlib", stdlib_version));
    stdlib.licenses = vec!["BSD-3-Clause".to_owned()];
    out.push(stdlib);
    out
}

fn go_module(path: &str, version: &str) -> Found {
    let mut found = Found::new(path, version, Ecosystem::Go, GO_FOUND_BY);
    let (namespace, name) = path.rsplit_once('/').map_or((None, path), |(ns, n)| (Some(ns), n));
    let purl_version = if version == "(devel)" { "" } else { version };
    found.purl = Some(crate::purl::simple("golang", namespace, name, purl_version));
    found
}

/// The parts of cargo-auditable's JSON that name packages.
#[derive(serde::Deserialize)]
struct AuditData {
    packages: Vec<AuditPackage>,
}

#[derive(serde::Deserialize)]
struct AuditPackage {
    name: String,
    version: String,
    #[serde(default)]
    kind: Option<String>,
}

/// The runtime crates of a cargo-auditable binary (build-only dependencies are not in it, as in syft).
fn rust_packages(bytes: &[u8]) -> Result<Vec<Found>, String> {
    let json = auditable_info::json_from_slice(bytes, MAX_AUDIT_JSON)
        .map_err(|e| format!("reading the cargo-auditable dependency list: {e}"))?;
    let data: AuditData = serde_json::from_str(&json)
        .map_err(|e| format!("cargo-auditable dependency list is not valid: {e}"))?;
    Ok(data
        .packages
        .iter()
        .filter(|p| p.kind.as_deref().is_none_or(|k| k == "runtime"))
        .map(|p| {
            let mut found = Found::new(&p.name, &p.version, Ecosystem::Rust, RUST_FOUND_BY);
            found.purl = Some(crate::purl::simple("cargo", None, &p.name, &p.version));
            found
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_modinfo_with_replacement_and_devel_main() {
        let info = GoBuildInfo {
            go_version: "go1.21.5".into(),
            modinfo: "path\texample.com/app\nmod\texample.com/app\t(devel)\t\n\
dep\tgithub.com/spf13/cobra\tv1.8.0\th1:abc=\n\
dep\tgolang.org/x/text\tv0.3.7\th1:def=\n=>\tgolang.org/x/text\tv0.3.8\th1:ghi=\n\
build\t-compiler=gc\nbuild\tGOOS=linux\n"
                .into(),
        };
        let found = go_packages(&info);
        let ids: Vec<_> = found.iter().map(|f| format!("{} {}", f.name, f.version)).collect();
        assert_eq!(
            ids,
            [
                "example.com/app (devel)",
                "github.com/spf13/cobra v1.8.0",
                "golang.org/x/text v0.3.8",
                "stdlib go1.21.5"
            ]
        );
        assert_eq!(found[1].purl.as_deref(), Some("pkg:golang/github.com/spf13/cobra@v1.8.0"));
        assert_eq!(found[0].purl.as_deref(), Some("pkg:golang/example.com/app"));
        assert_eq!(found[3].purl.as_deref(), Some("pkg:golang/stdlib@1.21.5"));
    }

    #[test]
    fn varint_strings() {
        let mut data = vec![3u8];
        data.extend_from_slice(b"abc");
        data.push(0x80);
        data.push(0x01);
        data.extend(std::iter::repeat_n(b'x', 128));
        let (a, rest) = read_varint_string(&data).unwrap_or_default();
        assert_eq!(a, b"abc");
        let (b, rest) = read_varint_string(rest).unwrap_or_default();
        assert_eq!((b.len(), rest.len()), (128, 0));
        assert!(read_varint_string(&[5, b'a']).is_err());
    }

    #[test]
    fn sniffing() {
        assert!(is_executable_format(b"\x7fELF\x02\x01"));
        assert!(!is_executable_format(b"#!/bin/sh\n"));
    }
}
