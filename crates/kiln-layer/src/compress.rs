//! The compression wrapping of layer blobs: [`decompress`] sniffs gzip/zstd by magic bytes, [`compress`]
//! produces reproducible gzip (parallel) or zstd, [`diff_id`] hashes the uncompressed stream.
//!
//! gzip is kiln's own parallel block compressor ([`crate::gzip`]): output that depends only on the input and
//! the level, never on the thread count. zstd uses libzstd's multithreaded mode with at least one worker:
//! every worker count ≥ 1 gives the same frames (0 workers would differ).

use std::io::{self, Read, Write};

use kiln_oci::{Compression, Digest, Sha256Reader, Sha256Writer};

use crate::{LayerError, LayerInfo};

/// kiln's default gzip level (libdeflate's levels, see [`crate::gzip`]). On a Debian rootfs its output is
/// 3.1% smaller than `buildah push`'s gzip (and smaller than kiln's earlier zlib-rs level 5, at about 40% less
/// CPU); on the text-heavy bench tree it is 0.5% bigger. Level 4 saves another 0.5% for 7 to 15% more time,
/// level 5 2.3% on Debian for about 20% more. `bench/layer-export.sh` prints every level's time and size
/// (table in docs/images.md).
const GZIP_DEFAULT_LEVEL: i32 = 3;
/// zstd's default level.
const ZSTD_DEFAULT_LEVEL: i32 = 3;
/// Copy buffer size for streaming.
const COPY_BUF: usize = 1 << 20;

/// How to compress a layer blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompressOptions {
    /// gzip (the default), zstd, or none.
    pub compression: Compression,
    /// Compression level: gzip 0–9 (default 3), zstd 1–22 or negative fast levels (default 3).
    pub level: Option<i32>,
    /// Compressor threads; 0 means all cores.
    pub threads: usize,
}

impl Default for CompressOptions {
    fn default() -> Self {
        Self { compression: Compression::Gzip, level: None, threads: 0 }
    }
}

/// The digest and size of a blob as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    /// sha256 of the bytes written.
    pub digest: Digest,
    /// Number of bytes written.
    pub size: u64,
}

/// Sniffs the compression of a layer stream from its magic bytes (gzip `1f 8b`, zstd `28 b5 2f fd`, else a
/// plain tar) and returns a reader of the uncompressed tar. Media types are never trusted for this.
///
/// Concatenated gzip members and zstd frames are read as one stream; kiln's own gzip members are inflated
/// whole by libdeflate (`gunzip.rs`). xz and bzip2 are recognized and refused with a clear error.
pub fn decompress<'a, R: Read + 'a>(mut reader: R) -> Result<(Compression, Box<dyn Read + 'a>), LayerError> {
    let mut magic = [0u8; 6];
    let n = crate::read_full(&mut reader, &mut magic)
        .map_err(|source| LayerError::Stream { context: "at its start", source })?;
    let head = &magic[..n];
    let chained = io::Cursor::new(head.to_vec()).chain(reader);
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok((Compression::Gzip, Box::new(crate::gunzip::Gunzip::new(chained))))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        let decoder = zstd::stream::read::Decoder::new(chained)
            .map_err(|source| LayerError::Stream { context: "starting zstd decompression", source })?;
        Ok((Compression::Zstd, Box::new(decoder)))
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Err(LayerError::UnsupportedCompression { format: "xz" })
    } else if head.starts_with(b"BZh") {
        Err(LayerError::UnsupportedCompression { format: "bzip2" })
    } else {
        Ok((Compression::None, Box::new(chained)))
    }
}

/// The DiffID (sha256 of the uncompressed tar) and uncompressed size of a possibly compressed layer.
pub fn diff_id<R: Read>(reader: R) -> Result<LayerInfo, LayerError> {
    let (_, plain) = decompress(reader)?;
    let mut hashing = Sha256Reader::new(plain);
    let mut buf = vec![0u8; COPY_BUF];
    loop {
        match hashing.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(source) => return Err(LayerError::Stream { context: "while hashing it", source }),
        }
    }
    let (_, diff_id, size) = hashing.finish();
    Ok(LayerInfo { diff_id, size })
}

/// Compresses a plain tar stream into `out`, returning the digest and size of the bytes written.
///
/// The output is a pure function of the input, the compression and the level (not of `threads`).
pub fn compress<R: Read, W: Write>(input: R, out: W, opts: &CompressOptions) -> Result<BlobInfo, LayerError> {
    let threads = match opts.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let out = Sha256Writer::new(out);
    let out = match opts.compression {
        Compression::None => {
            if let Some(level) = opts.level {
                return Err(LayerError::Options {
                    reason: format!("level {level} given without compression"),
                });
            }
            let mut out = out;
            copy_stream(input, &mut out)?;
            out
        }
        Compression::Gzip => {
            let level = level_in(opts.level, GZIP_DEFAULT_LEVEL, 0..=9, "gzip")?;
            crate::gzip::gzip(input, out, level.unsigned_abs(), threads)?
        }
        Compression::Zstd => {
            let range = zstd::compression_level_range();
            zstd(input, out, level_in(opts.level, ZSTD_DEFAULT_LEVEL, range, "zstd")?, threads)?
        }
    };
    let (mut inner, digest, size) = out.finish();
    inner.flush().map_err(|source| LayerError::Output { what: "compressed layer", source })?;
    Ok(BlobInfo { digest, size })
}

fn level_in(
    level: Option<i32>,
    default: i32,
    range: std::ops::RangeInclusive<i32>,
    name: &str,
) -> Result<i32, LayerError> {
    let level = level.unwrap_or(default);
    if range.contains(&level) {
        Ok(level)
    } else {
        Err(LayerError::Options {
            reason: format!("{name} level {level} is outside {}..={}", range.start(), range.end()),
        })
    }
}

fn zstd<R: Read, W: Write>(
    input: R,
    out: Sha256Writer<W>,
    level: i32,
    threads: usize,
) -> Result<Sha256Writer<W>, LayerError> {
    let out_err = |source| LayerError::Output { what: "compressed layer", source };
    let mut encoder = zstd::stream::write::Encoder::new(out, level).map_err(out_err)?;
    // At least one worker: libzstd's output is identical for every worker count >= 1.
    let workers = u32::try_from(threads.max(1)).unwrap_or(u32::MAX);
    encoder.multithread(workers).map_err(out_err)?;
    copy_stream(input, &mut encoder)?;
    encoder.finish().map_err(out_err)
}

fn copy_stream<R: Read, W: Write>(mut input: R, out: &mut W) -> Result<(), LayerError> {
    let mut buf = vec![0u8; COPY_BUF];
    loop {
        let n = read_input(&mut input, &mut buf)?;
        if n == 0 {
            return Ok(());
        }
        out.write_all(&buf[..n]).map_err(|source| LayerError::Output { what: "compressed layer", source })?;
    }
}

fn read_input<R: Read>(input: &mut R, buf: &mut [u8]) -> Result<usize, LayerError> {
    loop {
        match input.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            r => return r.map_err(|source| LayerError::Stream { context: "to compress it", source }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        (0..3_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 % 17 + b'a').collect()
    }

    #[test]
    fn gzip_is_identical_for_any_thread_count_and_decompresses() {
        let data = sample();
        let mut one = Vec::new();
        let mut three = Vec::new();
        let a = compress(&data[..], &mut one, &CompressOptions { threads: 1, ..Default::default() }).unwrap();
        let b =
            compress(&data[..], &mut three, &CompressOptions { threads: 3, ..Default::default() }).unwrap();
        assert_eq!(a, b);
        assert_eq!(one, three);
        assert_eq!(a.size, one.len() as u64);
        assert_eq!(a.digest, Digest::sha256_of(&one));
        // No name, mtime 0, the extra field with the member's size.
        assert_eq!(&one[..8], &[0x1f, 0x8b, 8, 4, 0, 0, 0, 0]);
        let (kind, mut plain) = decompress(&one[..]).unwrap();
        assert_eq!(kind, Compression::Gzip);
        let mut back = Vec::new();
        plain.read_to_end(&mut back).unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn zstd_is_identical_for_any_worker_count_and_decompresses() {
        let data = sample();
        let opts = |threads| CompressOptions { compression: Compression::Zstd, level: Some(5), threads };
        let mut one = Vec::new();
        let mut two = Vec::new();
        let a = compress(&data[..], &mut one, &opts(1)).unwrap();
        let b = compress(&data[..], &mut two, &opts(2)).unwrap();
        assert_eq!(a, b);
        let info = diff_id(&one[..]).unwrap();
        assert_eq!(info, LayerInfo { diff_id: Digest::sha256_of(&data), size: data.len() as u64 });
    }

    #[test]
    fn plain_streams_pass_through() {
        let (kind, mut r) = decompress(&b"hello"[..]).unwrap();
        assert_eq!(kind, Compression::None);
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!(s, "hello");
        let (kind, mut r) = decompress(&b""[..]).unwrap();
        assert_eq!(kind, Compression::None);
        assert_eq!(r.read(&mut [0; 4]).unwrap(), 0);
    }

    #[test]
    fn bad_levels_and_unsupported_formats_are_errors() {
        let opts = CompressOptions { level: Some(12), ..Default::default() };
        let err = compress(&b"x"[..], Vec::new(), &opts).unwrap_err();
        assert!(err.to_string().contains("gzip level 12"), "{err}");
        let err = decompress(&[0xfd, b'7', b'z', b'X', b'Z', 0, 1][..]).err().unwrap();
        assert!(err.to_string().contains("xz"), "{err}");
    }

    #[test]
    fn truncated_gzip_is_an_error() {
        let mut gz = Vec::new();
        compress(&sample()[..], &mut gz, &CompressOptions::default()).unwrap();
        gz.truncate(gz.len() / 2);
        let err = diff_id(&gz[..]).unwrap_err();
        assert!(matches!(err, LayerError::Stream { .. }), "{err}");
    }
}
