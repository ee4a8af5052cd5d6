//! RPM packages: the rpm database in its SQLite form (`rpmdb.sqlite`, rpm ≥ 4.16: Fedora 33+, RHEL 9,
//! read with `rusqlite`) and its Berkeley DB form (`Packages`, a BDB hash database: RHEL ≤ 8, CentOS,
//! Amazon Linux 2). Both store one rpm header blob per package. SUSE's NDB format (`Packages.db`) is not
//! read: it is reported as a warning naming the file.
//!
//! No crate reads BDB hash files or rpm header blobs without linking librpm/libdb, so both are parsed
//! here: the header blob is `il`, `dl` (big-endian counts), `il` 16-byte index entries (tag, type, offset,
//! count) and `dl` bytes of data; the BDB reader walks every hash page and follows overflow chains, which
//! is all a read of every value needs (no hashing, no buckets).

use std::io::Write;

use crate::catalog::Found;
use crate::model::Ecosystem;

const FOUND_BY: &str = "rpm-db";

const TAG_NAME: u32 = 1000;
const TAG_VERSION: u32 = 1001;
const TAG_RELEASE: u32 = 1002;
const TAG_EPOCH: u32 = 1003;
const TAG_LICENSE: u32 = 1014;
const TAG_ARCH: u32 = 1022;
const TAG_SOURCERPM: u32 = 1044;

const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_I18NSTRING: u32 = 9;

/// Parses an `rpmdb.sqlite` file (written to a private temp file: SQLite reads files, not buffers).
pub(crate) fn parse_sqlite(bytes: &[u8]) -> Result<Vec<Found>, String> {
    let mut tmp = tempfile::NamedTempFile::new().map_err(|e| format!("creating a temp file: {e}"))?;
    tmp.write_all(bytes).map_err(|e| format!("writing a temp file: {e}"))?;
    let conn = rusqlite::Connection::open_with_flags(
        tmp.path(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| format!("not an SQLite database: {e}"))?;
    let mut stmt =
        conn.prepare("SELECT hnum, blob FROM Packages").map_err(|e| format!("no Packages table: {e}"))?;
    let rows = stmt
        .query_map([], |row| Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?)))
        .map_err(|e| format!("reading Packages: {e}"))?;
    let mut out = Vec::new();
    for row in rows {
        let (hnum, blob) = row.map_err(|e| format!("reading Packages: {e}"))?;
        if let Some(found) = parse_header(&blob).map_err(|e| format!("package {hnum}: {e}"))? {
            out.push(found);
        }
    }
    Ok(out)
}

/// Parses a Berkeley DB hash `Packages` file.
pub(crate) fn parse_bdb(bytes: &[u8]) -> Result<Vec<Found>, String> {
    let mut out = Vec::new();
    for (i, blob) in bdb_values(bytes)?.iter().enumerate() {
        if let Some(found) = parse_header(blob).map_err(|e| format!("value {i}: {e}"))? {
            out.push(found);
        }
    }
    Ok(out)
}

/// NDB (`Packages.db`) is not supported.
pub(crate) fn parse_ndb(_bytes: &[u8]) -> Result<Vec<Found>, String> {
    Err("the NDB rpm database format (SUSE) is not supported; its packages are not reported".into())
}

/// One rpm header blob → its package (`None` for `gpg-pubkey` pseudo-packages, which syft skips too).
pub(crate) fn parse_header(blob: &[u8]) -> Result<Option<Found>, String> {
    let be32 = |at: usize| -> Result<u32, String> {
        blob.get(at..at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(|| format!("header truncated at byte {at}"))
    };
    let il = be32(0)? as usize;
    let dl = be32(4)? as usize;
    let data_start =
        8usize.checked_add(il.checked_mul(16).ok_or("index count overflows")?).ok_or("overflow")?;
    let data = blob
        .get(data_start..data_start.checked_add(dl).ok_or("overflow")?)
        .ok_or_else(|| format!("header declares {il} entries and {dl} data bytes, has {}", blob.len()))?;
    let mut name = None;
    let mut version = None;
    let mut release = None;
    let mut epoch = None;
    let mut license = None;
    let mut arch = None;
    let mut source = None;
    for i in 0..il {
        let at = 8 + i * 16;
        let (tag, ty, offset) = (be32(at)?, be32(at + 4)?, be32(at + 8)? as usize);
        let string = || -> Option<String> {
            if ty != TYPE_STRING && ty != TYPE_I18NSTRING {
                return None;
            }
            let rest = data.get(offset..)?;
            let end = memchr::memchr(0, rest)?;
            Some(String::from_utf8_lossy(&rest[..end]).into_owned())
        };
        match tag {
            TAG_NAME => name = string(),
            TAG_VERSION => version = string(),
            TAG_RELEASE => release = string(),
            TAG_LICENSE => license = string(),
            TAG_ARCH => arch = string(),
            TAG_SOURCERPM => source = string(),
            TAG_EPOCH if ty == TYPE_INT32 => {
                epoch = data.get(offset..offset + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
            }
            _ => {}
        }
    }
    let name = name.ok_or("no NAME tag")?;
    if name == "gpg-pubkey" {
        return Ok(None);
    }
    let version = version.ok_or_else(|| format!("package {name} has no VERSION tag"))?;
    let full = match (&epoch, &release) {
        (Some(e), Some(r)) => format!("{e}:{version}-{r}"),
        (None, Some(r)) => format!("{version}-{r}"),
        (Some(e), None) => format!("{e}:{version}"),
        (None, None) => version,
    };
    let mut found = Found::new(&name, &full, Ecosystem::Rpm, FOUND_BY);
    found.arch = arch;
    found.licenses = license.into_iter().collect();
    found.epoch = epoch.map(|e| e.to_string());
    if let Some(src) = source.filter(|s| !s.is_empty()) {
        // `bash-5.1.8-6.el9.src.rpm` → name `bash`, version `5.1.8-6.el9`.
        let stem = src.trim_end_matches(".rpm").trim_end_matches(".src").trim_end_matches(".nosrc");
        let mut parts = stem.rsplitn(3, '-');
        let (rel, ver, n) = (parts.next(), parts.next(), parts.next());
        if let (Some(rel), Some(ver), Some(n)) = (rel, ver, n) {
            found.source_name = Some(n.to_owned());
            found.source_version = Some(format!("{ver}-{rel}"));
        }
        found.upstream = Some(src);
    }
    Ok(Some(found))
}

// Berkeley DB on-disk constants (db_page.h).
const HASH_MAGIC: u32 = 0x0006_1561;
const P_HASH_UNSORTED: u8 = 2;
const P_HASH: u8 = 13;
const P_OVERFLOW: u8 = 7;
const H_KEYDATA: u8 = 1;
const H_OFFPAGE: u8 = 3;
const PAGE_HEADER: usize = 26;

/// Every value of a BDB hash database.
fn bdb_values(bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let magic_le = bytes.get(12..16).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    let magic_be = bytes.get(12..16).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    let big = match (magic_le, magic_be) {
        (Some(HASH_MAGIC), _) => false,
        (_, Some(HASH_MAGIC)) => true,
        _ => return Err("not a Berkeley DB hash database (bad magic)".into()),
    };
    let u32_at = |at: usize| -> Option<u32> {
        let b = bytes.get(at..at + 4)?;
        Some(if big {
            u32::from_be_bytes([b[0], b[1], b[2], b[3]])
        } else {
            u32::from_le_bytes([b[0], b[1], b[2], b[3]])
        })
    };
    let u16_at = |at: usize| -> Option<u16> {
        let b = bytes.get(at..at + 2)?;
        Some(if big { u16::from_be_bytes([b[0], b[1]]) } else { u16::from_le_bytes([b[0], b[1]]) })
    };
    let page_size = u32_at(20).ok_or("truncated metadata page")? as usize;
    if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(format!("invalid page size {page_size}"));
    }
    let last_page = u32_at(32).ok_or("truncated metadata page")? as usize;
    let pages = (bytes.len() / page_size).min(last_page + 1);
    let mut out = Vec::new();
    for pgno in 1..pages {
        let page = pgno * page_size;
        let ty = bytes[page + 25];
        if ty != P_HASH && ty != P_HASH_UNSORTED {
            continue;
        }
        let entries = u16_at(page + 20).unwrap_or(0) as usize;
        // Items are key/value pairs; values have odd indexes.
        for i in (1..entries).step_by(2) {
            let Some(offset) = u16_at(page + PAGE_HEADER + i * 2) else { break };
            let item = page + offset as usize;
            match bytes.get(item) {
                Some(&H_OFFPAGE) => {
                    let (Some(first), Some(total)) = (u32_at(item + 4), u32_at(item + 8)) else { continue };
                    out.push(read_overflow(
                        bytes,
                        page_size,
                        first as usize,
                        total as usize,
                        &u32_at,
                        &u16_at,
                    )?);
                }
                Some(&H_KEYDATA) => {
                    // An inline item ends where the previous one (lower index) starts.
                    let end = if i == 0 {
                        page_size
                    } else {
                        u16_at(page + PAGE_HEADER + (i - 1) * 2).unwrap_or(0) as usize
                    };
                    if let Some(data) = bytes.get(item + 1..page + end) {
                        out.push(data.to_vec());
                    }
                }
                _ => {}
            }
        }
    }
    Ok(out)
}

/// Reads a value stored on a chain of overflow pages.
fn read_overflow(
    bytes: &[u8],
    page_size: usize,
    mut pgno: usize,
    total: usize,
    u32_at: &dyn Fn(usize) -> Option<u32>,
    u16_at: &dyn Fn(usize) -> Option<u16>,
) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(total.min(64 << 20));
    let mut hops = 0;
    while pgno != 0 && out.len() < total {
        hops += 1;
        if hops > bytes.len() / page_size {
            return Err(format!("overflow chain from page {pgno} loops"));
        }
        let page = pgno * page_size;
        if bytes.get(page + 25) != Some(&P_OVERFLOW) {
            return Err(format!("page {pgno} is not an overflow page"));
        }
        let len = u16_at(page + 22).unwrap_or(0) as usize;
        let data = bytes
            .get(page + PAGE_HEADER..page + PAGE_HEADER + len)
            .ok_or_else(|| format!("overflow page {pgno} is truncated"))?;
        out.extend_from_slice(data);
        pgno = u32_at(page + 16).unwrap_or(0) as usize;
    }
    out.truncate(total);
    Ok(out)
}
