//! ADD's archive extraction: a local source file that is a tar archive (plain, gzip, zstd, bzip2 or xz,
//! detected from its content as Docker does, never from its name) is extracted into the destination
//! instead of being copied. Extraction goes through kiln-layer's safe `apply` (no member escapes the
//! destination); owners come from the archive unless `--chown` is given.

use std::io::{Read, Seek};
use std::path::Path;

use crate::copy::read_head;
use crate::error::BuildError;

/// A readable, uncompressed tar stream.
pub(crate) type TarStream = Box<dyn Read>;

/// Whether a 512-byte block is a tar header (its checksum matches, as Go's `archive/tar` checks).
fn is_tar_header(block: &[u8]) -> bool {
    if block.len() < 512 || block.iter().all(|b| *b == 0) {
        return false;
    }
    let field = &block[148..156];
    let text: String = field.iter().take_while(|b| **b != 0 && **b != b' ').map(|b| *b as char).collect();
    let Ok(stored) = u32::from_str_radix(text.trim(), 8) else { return false };
    let sum: u32 =
        block.iter().enumerate().map(|(i, b)| if (148..156).contains(&i) { 32 } else { u32::from(*b) }).sum();
    sum == stored
}

fn decompressor(file: std::fs::File, head: &[u8]) -> std::io::Result<Box<dyn Read>> {
    let reader = std::io::BufReader::with_capacity(1 << 20, file);
    Ok(if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::MultiGzDecoder::new(reader))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(zstd::stream::read::Decoder::with_buffer(reader)?)
    } else if head.starts_with(b"BZh") {
        Box::new(bzip2::read::MultiBzDecoder::new(reader))
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Box::new(liblzma::read::XzDecoder::new_multi_decoder(reader))
    } else {
        Box::new(reader)
    })
}

/// The uncompressed tar stream of `path` when it is a tar archive, else `None` (copy it as a file).
pub(crate) fn open(path: &Path) -> Result<Option<TarStream>, BuildError> {
    let mut file = std::fs::File::open(path).map_err(BuildError::io("opening", path))?;
    let magic = read_head(&mut file, 6).map_err(BuildError::io("reading", path))?;
    file.rewind().map_err(BuildError::io("reading", path))?;
    let Ok(mut stream) = decompressor(file, &magic) else { return Ok(None) };
    let Ok(head) = read_head(&mut stream, 512) else { return Ok(None) };
    if !is_tar_header(&head) {
        return Ok(None);
    }
    Ok(Some(Box::new(std::io::Cursor::new(head).chain(stream))))
}

/// Extracts `tar` into the directory `dir`.
pub(crate) fn extract(tar: TarStream, dir: &Path, source: &Path) -> Result<(), BuildError> {
    // The archive's own owners are kept even with `ADD --chown` (BuildKit applies `--chown` only to the
    // destination directories it creates, which the caller does).
    let options =
        kiln_layer::ApplyOptions { whiteouts: kiln_layer::WhiteoutMode::Delete, preserve_owners: true };
    kiln_layer::apply(tar, dir, &options)
        .map_err(BuildError::layer(format!("extracting {}", source.display())))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_tar_headers() {
        let mut block = vec![0u8; 512];
        block[..4].copy_from_slice(b"file");
        block[156] = b'0';
        let sum: u32 = block.iter().map(|b| u32::from(*b)).sum::<u32>() + 8 * 32;
        let field = format!("{sum:06o}\0 ");
        block[148..156].copy_from_slice(field.as_bytes());
        assert!(is_tar_header(&block));
        block[0] = b'g';
        assert!(!is_tar_header(&block));
        assert!(!is_tar_header(&[0u8; 512]));
        assert!(!is_tar_header(b"short"));
    }
}
