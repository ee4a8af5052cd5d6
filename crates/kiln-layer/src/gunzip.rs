//! Reading a gzip layer stream: [`Gunzip`], a reader of the uncompressed bytes of one or more members.
//!
//! Members that kiln wrote ([`crate::gzip`]) carry their total size in the header. Such a member is read
//! whole (at most [`MAX_MEMBER`] bytes) and inflated by libdeflate in one call, which is faster than
//! streaming it through zlib-rs: `cargo bench -p kiln-layer --bench layer_write -- layer_read` compares
//! the two on the bench tree's layer (141 ms as kiln's gzip, 225 ms as another producer's).
//!
//! From the first member that does not look exactly like one of kiln's on (any other producer's gzip, or a
//! member that fails to inflate), the rest of the stream, from that member's first byte, goes through
//! flate2/zlib-rs's streaming multi-member decoder. So every stream decodes to the same bytes, and fails
//! with the same errors, as it would with zlib-rs alone.
//!
//! libdeflate is called through `libdeflate-sys` here rather than the safe `libdeflater` wrapper: only
//! `libdeflate_gzip_decompress_ex` reports how many input bytes the member used. A member must end exactly
//! where its size field says. Otherwise a forged size could make kiln skip bytes that other readers decode
//! as the next member, and kiln would see other layer content than Docker does.

use std::io::{self, Chain, Cursor, Read};
use std::ptr::NonNull;

use flate2::read::MultiGzDecoder;
use libdeflate_sys::{
    libdeflate_alloc_decompressor, libdeflate_decompressor, libdeflate_free_decompressor,
    libdeflate_gzip_decompress_ex, libdeflate_result_LIBDEFLATE_SUCCESS,
};

use crate::gzip::{HEADER, SIZE_AT};
use crate::read_full;

/// Largest member (compressed) and member output read whole; kiln's members hold at most 1 MiB of input.
/// Anything bigger streams.
const MAX_MEMBER: usize = 4 << 20;

/// The uncompressed bytes of a gzip stream.
pub(crate) struct Gunzip<R: Read> {
    state: State<R>,
}

enum State<R: Read> {
    /// Reading kiln's sized members.
    Members(Box<Members<R>>),
    /// Streaming everything that is left through zlib-rs.
    Stream(Box<MultiGzDecoder<Chain<Cursor<Vec<u8>>, R>>>),
    /// Only while switching from one to the other.
    Switching,
}

struct Members<R> {
    input: R,
    inflater: Inflater,
    /// The current member's compressed bytes are `member[..member_len]`. Kept at its largest length, like
    /// `out`.
    member: Vec<u8>,
    member_len: usize,
    /// Its uncompressed bytes: `out[pos..end]` are still to be read. Kept at its largest length, so that
    /// it is zero-filled only when it grows.
    out: Vec<u8>,
    pos: usize,
    end: usize,
}

/// What reading the next member gave.
enum Next {
    /// One of kiln's members, this many bytes uncompressed, is in `member`.
    Sized(usize),
    /// The stream ended after a whole member.
    End,
    /// It is not one of kiln's members (or did not inflate): stream from its first byte, held in `member`.
    Other,
}

impl<R: Read> Gunzip<R> {
    /// A reader of the members in `input`, which starts at a member's first byte.
    pub(crate) fn new(input: R) -> Self {
        let state = match Inflater::new() {
            Some(inflater) => State::Members(Box::new(Members {
                input,
                inflater,
                member: Vec::new(),
                member_len: 0,
                out: Vec::new(),
                pos: 0,
                end: 0,
            })),
            None => State::Stream(Box::new(MultiGzDecoder::new(Cursor::new(Vec::new()).chain(input)))),
        };
        Gunzip { state }
    }

    /// Hands the rest of the stream, starting with the bytes of the member being read, to zlib-rs.
    fn switch_to_stream(&mut self) {
        if let State::Members(members) = std::mem::replace(&mut self.state, State::Switching) {
            let Members { input, mut member, member_len, .. } = *members;
            member.truncate(member_len);
            self.state = State::Stream(Box::new(MultiGzDecoder::new(Cursor::new(member).chain(input))));
        }
    }
}

impl<R: Read> Read for Gunzip<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let members = match &mut self.state {
                State::Stream(decoder) => return decoder.read(buf),
                State::Members(members) => members,
                State::Switching => unreachable!("Gunzip is never left switching"),
            };
            if members.pos < members.end || buf.is_empty() {
                let n = buf.len().min(members.end - members.pos);
                buf[..n].copy_from_slice(&members.out[members.pos..members.pos + n]);
                members.pos += n;
                return Ok(n);
            }
            match members.next_member()? {
                Next::Sized(plain) if plain <= buf.len() && plain > 0 => {
                    // Room for the whole member: inflate straight into the caller's buffer.
                    if members.inflate(&mut buf[..plain]) {
                        return Ok(plain);
                    }
                    self.switch_to_stream();
                }
                Next::Sized(plain) => {
                    if members.out.len() < plain {
                        members.out.resize(plain, 0);
                    }
                    let mut out = std::mem::take(&mut members.out);
                    let inflated = members.inflate(&mut out[..plain]);
                    members.out = out;
                    if inflated {
                        (members.pos, members.end) = (0, plain);
                    } else {
                        self.switch_to_stream();
                    }
                }
                Next::End => return Ok(0),
                Next::Other => self.switch_to_stream(),
            }
        }
    }
}

impl<R: Read> Members<R> {
    /// Reads the next member into `member`; when it is one of kiln's, says how big it is uncompressed.
    fn next_member(&mut self) -> io::Result<Next> {
        if self.member.len() < HEADER.len() {
            self.member.resize(HEADER.len(), 0);
        }
        self.member_len = read_full(&mut self.input, &mut self.member[..HEADER.len()])?;
        if self.member_len == 0 {
            return Ok(Next::End);
        }
        if self.member_len < HEADER.len() || self.member[..SIZE_AT] != HEADER[..SIZE_AT] {
            return Ok(Next::Other);
        }
        let field = &self.member[SIZE_AT..SIZE_AT + 4];
        let size = u32::from_le_bytes([field[0], field[1], field[2], field[3]]) as usize;
        // The smallest member: the header, an empty stored block (5 bytes), CRC and ISIZE.
        if !(HEADER.len() + 5 + 8..=MAX_MEMBER).contains(&size) {
            return Ok(Next::Other);
        }
        if self.member.len() < size {
            self.member.resize(size, 0);
        }
        self.member_len += read_full(&mut self.input, &mut self.member[HEADER.len()..size])?;
        if self.member_len < size {
            // Truncated: zlib-rs reports it.
            return Ok(Next::Other);
        }
        let trailer = &self.member[size - 4..size];
        let plain = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]) as usize;
        if plain > MAX_MEMBER {
            return Ok(Next::Other);
        }
        Ok(Next::Sized(plain))
    }

    /// Inflates the member read by [`Members::next_member`] into `out`, exactly its uncompressed size.
    fn inflate(&mut self, out: &mut [u8]) -> bool {
        self.inflater.gzip_member(&self.member[..self.member_len], out)
    }
}

/// A libdeflate decompressor.
struct Inflater(NonNull<libdeflate_decompressor>);

impl Inflater {
    /// `None` when libdeflate cannot allocate one.
    fn new() -> Option<Self> {
        // SAFETY: takes no arguments; returns a new decompressor or null.
        NonNull::new(unsafe { libdeflate_alloc_decompressor() }).map(Inflater)
    }

    /// Inflates the gzip member `member` into `out`. True only when the member is valid (CRC and size
    /// checked by libdeflate), uses every byte of `member` and fills `out` exactly.
    fn gzip_member(&mut self, member: &[u8], out: &mut [u8]) -> bool {
        let (mut used_in, mut used_out) = (0usize, 0usize);
        // SAFETY: the decompressor is live and borrowed mutably (libdeflate may use it from one thread at a
        // time); libdeflate reads at most `member.len()` bytes from `member` and writes at most `out.len()`
        // bytes into `out`, both live slices, and writes the two counts through valid pointers.
        let result = unsafe {
            libdeflate_gzip_decompress_ex(
                self.0.as_ptr(),
                member.as_ptr().cast(),
                member.len(),
                out.as_mut_ptr().cast(),
                out.len(),
                &mut used_in,
                &mut used_out,
            )
        };
        result == libdeflate_result_LIBDEFLATE_SUCCESS && used_in == member.len() && used_out == out.len()
    }
}

impl Drop for Inflater {
    fn drop(&mut self) {
        // SAFETY: allocated by libdeflate_alloc_decompressor and freed only here, once.
        unsafe { libdeflate_free_decompressor(self.0.as_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn text(n: usize) -> Vec<u8> {
        (0..n as u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 % 23 + b'a').collect()
    }

    fn kiln_gzip(data: &[u8]) -> Vec<u8> {
        crate::gzip::gzip(data, Vec::new(), 3, 2).unwrap()
    }

    fn other_gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    fn read_all(gz: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        Gunzip::new(gz).read_to_end(&mut out)?;
        Ok(out)
    }

    /// How the reader stands after reading all of `gz`: still on kiln's members, or streaming.
    fn ends_streaming(gz: &[u8]) -> bool {
        let mut reader = Gunzip::new(gz);
        io::copy(&mut reader, &mut io::sink()).unwrap();
        matches!(reader.state, State::Stream(_))
    }

    #[test]
    fn kiln_members_are_inflated_whole_and_read_in_small_pieces() {
        let data = text(3 << 20 | 12_345);
        let gz = kiln_gzip(&data);
        assert_eq!(read_all(&gz).unwrap(), data);
        assert!(!ends_streaming(&gz));
        let mut reader = Gunzip::new(&gz[..]);
        let mut back = Vec::new();
        let mut piece = [0u8; 1000];
        loop {
            let n = reader.read(&mut piece).unwrap();
            if n == 0 {
                break;
            }
            back.extend_from_slice(&piece[..n]);
        }
        assert_eq!(back, data);
        // A buffer that holds a whole member gets it inflated straight into it.
        let mut reader = Gunzip::new(&gz[..]);
        let mut block = vec![0u8; 2 << 20];
        assert_eq!(reader.read(&mut block).unwrap(), 1 << 20);
        assert_eq!(block[..1 << 20], data[..1 << 20]);
        assert!(matches!(&reader.state, State::Members(m) if m.out.is_empty()));
    }

    #[test]
    fn other_gzip_streams_from_the_first_foreign_member_on() {
        let (a, b) = (text(2 << 20), text(100_000));
        let other = other_gzip(&b);
        assert_eq!(read_all(&other).unwrap(), b);
        assert!(ends_streaming(&other));
        // kiln's members, then another producer's: both read.
        let mut mixed = kiln_gzip(&a);
        mixed.extend_from_slice(&other);
        mixed.extend_from_slice(&kiln_gzip(&b));
        assert_eq!(read_all(&mixed).unwrap(), [a.clone(), b.clone(), b.clone()].concat());
        assert!(ends_streaming(&mixed));
    }

    #[test]
    fn a_member_whose_size_field_is_wrong_reads_as_zlib_would() {
        let data = text(300_000);
        let one = kiln_gzip(&data);
        let size = |gz: &[u8]| u32::from_le_bytes(gz[SIZE_AT..SIZE_AT + 4].try_into().unwrap()) as usize;
        assert_eq!(size(&one), one.len());
        // A size covering the member and the next one: libdeflate would stop after the first member, so
        // the field is not trusted and both members are read.
        let mut two = one.clone();
        two.extend_from_slice(&one);
        two[SIZE_AT..SIZE_AT + 4].copy_from_slice(&(one.len() as u32 * 2).to_le_bytes());
        assert_eq!(read_all(&two).unwrap(), [data.clone(), data.clone()].concat());
        assert!(ends_streaming(&two));
        // Too short, or past the end of the stream: still read in full.
        for wrong in [one.len() as u32 - 1, one.len() as u32 + 1000, 1, u32::MAX] {
            let mut gz = one.clone();
            gz[SIZE_AT..SIZE_AT + 4].copy_from_slice(&wrong.to_le_bytes());
            assert_eq!(read_all(&gz).unwrap(), data, "size field {wrong}");
        }
    }

    #[test]
    fn damage_fails_as_it_does_with_zlib() {
        let data = text(200_000);
        let gz = kiln_gzip(&data);
        let zlib = |gz: &[u8]| {
            let mut out = Vec::new();
            MultiGzDecoder::new(gz).read_to_end(&mut out).map(|_| out)
        };
        // A flipped byte in the body, the CRC, the ISIZE; a truncated stream.
        for at in [HEADER.len() + 100, gz.len() - 6, gz.len() - 2] {
            let mut bad = gz.clone();
            bad[at] ^= 0x40;
            let (ours, theirs) = (read_all(&bad), zlib(&bad));
            assert!(ours.is_err() && theirs.is_err(), "byte {at}: {ours:?} / {theirs:?}");
        }
        let cut = &gz[..gz.len() - 3];
        assert_eq!(read_all(cut).unwrap_err().kind(), zlib(cut).unwrap_err().kind());
    }
}
