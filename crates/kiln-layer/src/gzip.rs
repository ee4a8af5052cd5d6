//! Parallel, reproducible gzip for layer blobs: [`gzip`].
//!
//! The input is cut into fixed 1 MiB blocks, compressed on all cores by libdeflate and written in order.
//! Each block becomes one or more complete gzip members (RFC 1952 allows a file to be a series of members,
//! and every OCI client reads them as one stream: Go's `compress/gzip` and `pgzip`, pigz, zlib's `gzread`,
//! Python, and kiln's own reader; eStargz layers rely on the same property).
//!
//! Within a block, 16 KiB segments whose bytes look random (Shannon entropy of the byte histogram above
//! [`STORE_ENTROPY_BITS`]: compressed archives such as jars, wheels and `.gz` files, encrypted or random
//! data) are written as stored deflate blocks without running the compressor, which would spend much of a
//! layer's compression time to gain nothing on them. Each run of random segments and each run of the
//! others is its own member. Data that deflate would make bigger is stored too.
//!
//! Every decision depends only on the block's bytes and the level, so the output is a pure function of the
//! input and the level: identical for any thread count, on any machine. Headers have no name and mtime 0.
//!
//! Each member's header carries the member's total size in an extra field ([`SIZE_SUBFIELD`], as BGZF
//! does with its `BC` field), which every gzip reader skips. kiln's reader ([`crate::gunzip`]) uses it to
//! read a whole member and inflate it with libdeflate in one call instead of streaming it through zlib-rs.
//!
//! Why libdeflate (the `libdeflater` crate) rather than flate2/zlib-rs: at the same or better ratio it
//! needs 30 to 40% less CPU on layer data. The tar of a Debian rootfs (332 MB) in 1 MiB blocks on one core,
//! timed by a throwaway program when the switch was made: zlib-rs level 5 (kiln's earlier default) 127.8 MB
//! in 3.5 s, libdeflate level 4 126.4 MB in 2.3 s, level 5 124.1 MB in 2.5 s. To compare whole exports,
//! run `bench/layer-export.sh` with a build of `a6cd134` (zlib-rs) and one of this code. It only compresses whole buffers into final blocks, which is why each block is its
//! own member rather than a sync-flushed piece of one member. Not `gzp`: it always deflates every block
//! (5–10x slower on the incompressible half of typical layers).

use std::collections::BTreeMap;
use std::io::{self, Read, Write};

use libdeflater::{CompressionLvl, Compressor};

use crate::LayerError;

/// Size of an independently compressed block.
const BLOCK: usize = 1 << 20;

/// The unit in which a block is judged random or not: small enough to find the random files between the
/// text files of a layer, big enough for a steady estimate (random data measures about 7.99 bits per byte).
const SEGMENT: usize = 16 << 10;

/// Byte entropy (bits per byte, at most 8) above which a segment is stored rather than deflated. Text and
/// binaries sit well below 7.5; gzip/zstd/xz output and random data are above 7.99.
const STORE_ENTROPY_BITS: f64 = 7.95;

/// Largest payload of one stored deflate block.
const STORED_MAX: usize = 65_535;

/// The extra subfield (RFC 1952 2.3.1.1) that holds a member's total size, header and trailer included, as
/// a 4-byte little-endian number: `KS` for "kiln size".
const SIZE_SUBFIELD: [u8; 2] = *b"KS";

/// gzip member header: magic, deflate, FEXTRA, mtime 0, no extra flags, OS "unknown", then the extra field
/// (8 bytes) holding the [`SIZE_SUBFIELD`] (4 bytes of data), whose value [`Encoder::member`] fills in.
pub(crate) const HEADER: [u8; 20] =
    [0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 0xff, 8, 0, SIZE_SUBFIELD[0], SIZE_SUBFIELD[1], 4, 0, 0, 0, 0, 0];

/// Where in [`HEADER`] the member size goes.
pub(crate) const SIZE_AT: usize = 16;

/// Compresses `input` into gzip members written to `out`, using `threads` workers (0 = all cores).
pub(crate) fn gzip<R: Read, W: Write>(
    mut input: R,
    mut out: W,
    level: u32,
    threads: usize,
) -> Result<W, LayerError> {
    let threads = match threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let mut write_members = |members: &[u8], out: &mut W| {
        out.write_all(members).map_err(|source| LayerError::Output { what: "compressed layer", source })
    };
    if threads == 1 {
        let mut encoder = Encoder::new(level)?;
        let (mut block, mut members) = (Vec::new(), Vec::new());
        let mut first = true;
        loop {
            read_block(&mut input, &mut block)?;
            // An empty input still makes one (empty) member: a gzip file has at least one.
            if block.is_empty() && !first {
                break;
            }
            first = false;
            encoder.block(&block, &mut members);
            write_members(&members, &mut out)?;
        }
    } else {
        parallel(&mut input, &mut out, level, threads, &mut write_members)?;
    }
    Ok(out)
}

/// One block's buffers on their way through the workers: the input block, and the gzip members made of it.
struct Job {
    index: usize,
    block: Vec<u8>,
    members: Vec<u8>,
}

/// Reads blocks on the caller's thread (the reader need not be `Send`), encodes them on `threads` workers
/// and hands them back in order. At most `2 * threads` blocks are in flight. Buffers go round and are
/// reused: a fresh 1 MiB allocation per block costs the kernel a zeroed huge page each time.
fn parallel<R: Read, W: Write>(
    input: &mut R,
    out: &mut W,
    level: u32,
    threads: usize,
    write_members: &mut impl FnMut(&[u8], &mut W) -> Result<(), LayerError>,
) -> Result<(), LayerError> {
    let (work_tx, work_rx) = crossbeam_channel::bounded::<Job>(threads * 2);
    let (done_tx, done_rx) = crossbeam_channel::unbounded::<Job>();
    let encoders = (0..threads).map(|_| Encoder::new(level)).collect::<Result<Vec<_>, _>>()?;
    std::thread::scope(|scope| {
        for mut encoder in encoders {
            let work_rx = work_rx.clone();
            let done_tx = done_tx.clone();
            scope.spawn(move || {
                for mut job in work_rx {
                    encoder.block(&job.block, &mut job.members);
                    if done_tx.send(job).is_err() {
                        return;
                    }
                }
            });
        }
        drop(done_tx);
        drop(work_rx);

        let mut spare: Vec<Job> = Vec::new();
        let mut pending: BTreeMap<usize, Job> = BTreeMap::new();
        let mut written = 0usize;
        let mut drain = |blocking: bool, sent: usize, spare: &mut Vec<Job>| -> Result<(), LayerError> {
            loop {
                let received =
                    if blocking && written < sent { done_rx.recv().ok() } else { done_rx.try_recv().ok() };
                let Some(job) = received else { return Ok(()) };
                pending.insert(job.index, job);
                while let Some(job) = pending.remove(&written) {
                    write_members(&job.members, out)?;
                    spare.push(job);
                    written += 1;
                }
                if blocking && written == sent {
                    return Ok(());
                }
            }
        };

        let mut sent = 0usize;
        loop {
            let mut job = spare.pop().unwrap_or(Job { index: 0, block: Vec::new(), members: Vec::new() });
            read_block(input, &mut job.block)?;
            if job.block.is_empty() && sent > 0 {
                break;
            }
            job.index = sent;
            // A send fails only if every worker is gone, which happens only after a panic.
            if work_tx.send(job).is_err() {
                return Err(workers_stopped());
            }
            sent += 1;
            drain(false, sent, &mut spare)?;
        }
        drop(work_tx);
        drain(true, sent, &mut spare)?;
        if written < sent {
            return Err(workers_stopped());
        }
        Ok(())
    })
}

fn workers_stopped() -> LayerError {
    LayerError::Output { what: "compressed layer", source: io::Error::other("gzip workers stopped") }
}

/// Reads up to one block into `block` (replacing its content); empty means the input is exhausted.
fn read_block<R: Read>(input: &mut R, block: &mut Vec<u8>) -> Result<(), LayerError> {
    block.clear();
    block.reserve(BLOCK);
    input
        .take(BLOCK as u64)
        .read_to_end(block)
        .map_err(|source| LayerError::Stream { context: "to compress it", source })?;
    Ok(())
}

/// One worker's compressor: libdeflate's state is reused across blocks (it is large at high levels).
struct Encoder {
    /// `None` at level 0, where everything is stored.
    compressor: Option<Compressor>,
}

impl Encoder {
    fn new(level: u32) -> Result<Self, LayerError> {
        if level == 0 {
            return Ok(Self { compressor: None });
        }
        let level = CompressionLvl::new(level as i32)
            .map_err(|_| LayerError::Options { reason: format!("gzip level {level} is out of range") })?;
        Ok(Self { compressor: Some(Compressor::new(level)) })
    }

    /// The members holding `block`, written over `out`. The block is looked at in [`SEGMENT`]s: a run of
    /// segments that look random becomes a stored member, a run of the others a deflated one, so the random
    /// files between text files of a layer cost no compression time.
    fn block(&mut self, block: &[u8], out: &mut Vec<u8>) {
        out.clear();
        if self.compressor.is_none() || block.len() <= SEGMENT {
            let random = self.compressor.is_none() || entropy_bits(block) > STORE_ENTROPY_BITS;
            self.member(block, random, out);
            return;
        }
        let mut run_start = 0;
        let mut run_random = entropy_bits(&block[..SEGMENT]) > STORE_ENTROPY_BITS;
        // A short last segment stays with the run before it.
        for start in (SEGMENT..=block.len() - SEGMENT).step_by(SEGMENT) {
            let random = entropy_bits(&block[start..start + SEGMENT]) > STORE_ENTROPY_BITS;
            if random != run_random {
                self.member(&block[run_start..start], run_random, out);
                (run_start, run_random) = (start, random);
            }
        }
        self.member(&block[run_start..], run_random, out);
    }

    /// Appends one gzip member holding `data`: stored when `random`, else deflated unless that would be
    /// bigger than storing.
    fn member(&mut self, data: &[u8], random: bool, out: &mut Vec<u8>) {
        let stored_len = stored_len(data.len());
        let start = out.len();
        out.reserve(HEADER.len() + stored_len + 8);
        out.extend_from_slice(&HEADER);
        let body = start + HEADER.len();
        let deflated = match &mut self.compressor {
            Some(compressor) if !random => {
                // Room for exactly the stored size: libdeflate returns an error when its output would not
                // fit, and then the data is stored (never bigger than storing).
                out.resize(body + stored_len, 0);
                match compressor.deflate_compress(data, &mut out[body..]) {
                    Ok(n) if n < stored_len => {
                        out.truncate(body + n);
                        true
                    }
                    _ => {
                        out.truncate(body);
                        false
                    }
                }
            }
            _ => false,
        };
        if !deflated {
            push_stored(data, out);
        }
        out.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
        // ISIZE is the member's input size modulo 2^32 (RFC 1952); a block is far smaller, and so is the
        // member.
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        let size = (out.len() - start) as u32;
        out[start + SIZE_AT..start + SIZE_AT + 4].copy_from_slice(&size.to_le_bytes());
    }
}

/// Size of `len` bytes as final stored deflate blocks (5 bytes of framing per 64 KiB piece, at least one).
fn stored_len(len: usize) -> usize {
    len + len.div_ceil(STORED_MAX).max(1) * 5
}

/// Appends `block` as stored deflate blocks, the last one final.
fn push_stored(block: &[u8], out: &mut Vec<u8>) {
    if block.is_empty() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    let mut chunks = block.chunks(STORED_MAX).peekable();
    while let Some(chunk) = chunks.next() {
        let len = chunk.len() as u16;
        out.push(u8::from(chunks.peek().is_none()));
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
}

/// Shannon entropy of the byte distribution, in bits per byte.
fn entropy_bits(block: &[u8]) -> f64 {
    if block.is_empty() {
        return 0.0;
    }
    // Four tables, so that runs of one byte value do not serialize on one counter (about 2x faster).
    let mut counts = [[0u32; 256]; 4];
    let mut quads = block.chunks_exact(4);
    for quad in &mut quads {
        for (table, &b) in counts.iter_mut().zip(quad) {
            table[b as usize] += 1;
        }
    }
    for &b in quads.remainder() {
        counts[0][b as usize] += 1;
    }
    let n = block.len() as f64;
    (0..256)
        .map(|i| counts.iter().map(|table| table[i]).sum::<u32>())
        .filter(|&c| c > 0)
        .map(|c| c as f64 / n)
        .map(|p| -p * p.log2())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    fn gunzip(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(data).read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn round_trips_mixed_data_of_any_size() {
        let text: Vec<u8> =
            b"layer text compresses well\n".iter().cycle().take(3 * BLOCK + 17).copied().collect();
        let mut mixed = random(BLOCK + 5, 7);
        mixed.extend_from_slice(&text);
        mixed.extend(random(200_000, 9));
        for data in [Vec::new(), b"x".to_vec(), random(STORED_MAX, 3), random(BLOCK, 5), text.clone(), mixed]
        {
            for threads in [1, 3] {
                let gz = gzip(&data[..], Vec::new(), 6, threads).unwrap();
                assert_eq!(gunzip(&gz), data, "len {} threads {threads}", data.len());
            }
        }
    }

    #[test]
    fn output_does_not_depend_on_thread_count() {
        let mut data = random(2 * BLOCK, 11);
        data.extend(b"abc".iter().cycle().take(2 * BLOCK + 3));
        let one = gzip(&data[..], Vec::new(), 6, 1).unwrap();
        for threads in [2, 4, 0] {
            assert_eq!(gzip(&data[..], Vec::new(), 6, threads).unwrap(), one, "threads {threads}");
        }
    }

    #[test]
    fn random_blocks_are_stored_and_text_is_deflated() {
        let data = random(BLOCK, 13);
        let gz = gzip(&data[..], Vec::new(), 6, 1).unwrap();
        // Stored: payload plus 5 bytes per 64 KiB piece, one member's header and trailer.
        assert_eq!(gz.len(), data.len() + data.len().div_ceil(STORED_MAX) * 5 + HEADER.len() + 8);
        assert_eq!(gunzip(&gz), data);
        let text: Vec<u8> = b"0123456789".iter().cycle().take(BLOCK).copied().collect();
        assert!(gzip(&text[..], Vec::new(), 6, 1).unwrap().len() < 10_000);
        assert!(entropy_bits(&data) > STORE_ENTROPY_BITS && entropy_bits(&text) < 4.0);
    }

    #[test]
    fn level_zero_stores_everything() {
        let text: Vec<u8> = b"ab".iter().cycle().take(100_000).copied().collect();
        let gz = gzip(&text[..], Vec::new(), 0, 2).unwrap();
        assert!(gz.len() > text.len());
        assert_eq!(gunzip(&gz), text);
    }

    #[test]
    fn each_block_is_a_complete_member() {
        let text: Vec<u8> =
            b"members of one gzip file\n".iter().cycle().take(2 * BLOCK + 100).copied().collect();
        let gz = gzip(&text[..], Vec::new(), 5, 2).unwrap();
        // A single-member reader stops after the first block; the whole file reads back as the input.
        let mut first = Vec::new();
        flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut first).unwrap();
        assert_eq!(first, text[..BLOCK]);
        assert_eq!(gunzip(&gz), text);
        let members = gz.windows(SIZE_AT).filter(|w| *w == &HEADER[..SIZE_AT]).count();
        assert!(members >= 3, "{members} headers found");
        // The first member's header holds its size: the next member starts right after it.
        let size = u32::from_le_bytes(gz[SIZE_AT..SIZE_AT + 4].try_into().unwrap()) as usize;
        assert_eq!(gz[size..size + SIZE_AT], HEADER[..SIZE_AT]);
        // The ISIZE of the last member is its own block's size.
        assert_eq!(gz[gz.len() - 4..], 100u32.to_le_bytes());
    }

    #[test]
    fn empty_input_is_one_empty_member() {
        for threads in [1, 2] {
            let gz = gzip(&b""[..], Vec::new(), 5, threads).unwrap();
            assert_eq!(gz.len(), HEADER.len() + 5 + 8);
            assert_eq!(gz[SIZE_AT..SIZE_AT + 4], (gz.len() as u32).to_le_bytes());
            assert!(gunzip(&gz).is_empty());
        }
    }

    #[test]
    fn entropy_counts_every_byte() {
        let all: Vec<u8> = (0..=255u8).cycle().take(256 * 7).collect();
        assert!((entropy_bits(&all) - 8.0).abs() < 1e-9);
        // Two values, one of them only in the tail that is not a multiple of four.
        assert!((entropy_bits(b"aaaab") - 0.721_928_094_887_362_3).abs() < 1e-9);
        assert_eq!(entropy_bits(b"zzzzzzz"), 0.0);
    }

    #[test]
    fn random_runs_inside_a_block_are_stored_and_the_text_around_them_deflated() {
        let text: Vec<u8> = b"text between binaries\n".iter().cycle().take(200_000).copied().collect();
        let mut mixed = text.clone();
        mixed.extend(random(300_000, 17));
        mixed.extend_from_slice(&text);
        let gz = gzip(&mixed[..], Vec::new(), 4, 1).unwrap();
        assert_eq!(gunzip(&gz), mixed);
        // The random 300,000 bytes cost at most their size, stored, plus framing; the text almost nothing.
        assert!(
            gz.len() < 300_000 + 300_000 / STORED_MAX * 5 + 3 * (5 + HEADER.len() + 8) + 4_000,
            "{} bytes",
            gz.len()
        );
        // Three runs, three members: the first one ends at the segment boundary next to the end of the text
        // (a segment holding both text and random bytes goes with the text).
        let mut first = Vec::new();
        flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut first).unwrap();
        assert_eq!(first.len() % SEGMENT, 0);
        assert!(first.len().abs_diff(text.len()) < SEGMENT, "{}", first.len());
    }
}
