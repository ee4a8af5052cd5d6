//! Reading layers: [`visit`] streams every member of a (possibly compressed) layer tar once, decoded into an
//! [`Entry`] plus a reader of its content.
//!
//! Parsing is `tar-core`'s sans-IO parser rather than the `tar` crate's `Archive`: it resolves PAX and GNU
//! long names/links, xattrs (`SCHILY.xattr.*`), GNU sparse (`S`) and PAX sparse 0.0, 0.1 and 1.0, and it
//! enforces limits on hostile input (1 MiB of extension headers per member, 4096-byte paths, 10,000 sparse
//! regions) where `tar` reads PAX headers of any declared size into memory and supports only GNU sparse.
//! This module owns the buffering around it: one header chain is buffered at a time, member data is
//! streamed straight from the decompressor to the consumer.
//!
//! Every member path is normalized (`./a//b/` → `a/b`); a path or hardlink target that climbs out of the
//! root with `..` is rejected, naming the member. Whiteouts (`.wh.name`, `.wh..wh..opq`) are decoded into
//! [`EntryKind::Whiteout`] / [`EntryKind::OpaqueDir`]; aufs metadata (`.wh..wh.*`) is skipped. Sparse files
//! are expanded for visitors (holes read as zeros); [`crate::apply`] gets the regions and writes holes.
//! `LIBARCHIVE.xattr.*` records are not read.
//!
//! [`visit_layer`] (and [`crate::apply`]) hash the uncompressed stream into its DiffID. SHA-256 is the
//! slowest step of reading an uncompressed layer (~2 GB/s with SHA-NI, several times the cost of parsing),
//! and it cannot be split within one stream, so past the first [`BACKGROUND_HASH_AFTER`] bytes it runs on a
//! thread of its own, fed copies of the bytes as they are read ([`LayerDigest`]): the reader parses chunk
//! N+1 while the hasher digests chunk N. [`visit`] does not hash at all: its callers discard the DiffID.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};
use kiln_oci::Sha256Writer;
use tar_core::parse::{Limits, ParseEvent, ParsedEntry, Parser};
use tar_core::{EntryType, HEADER_SIZE, SparseEntry};

use crate::compress::decompress;
use crate::{Compression, Entry, EntryKind, LayerError, LayerInfo, OPAQUE_WHITEOUT, WHITEOUT_PREFIX};

/// Longest path accepted (Linux `PATH_MAX`).
const MAX_PATH: u32 = 4096;
/// The most bytes one header chain (extension headers, sparse maps) may occupy in the buffer.
const MAX_HEADER_CHAIN: usize = 4 << 20;
/// How much is read from the stream at a time.
const READ_CHUNK: usize = 128 * 1024;
/// Bytes hashed on the reading thread before hashing moves to a thread of its own: below this a thread
/// costs more than it saves (a spawn is ~30 µs, 4 MiB is ~2 ms of SHA-256).
const BACKGROUND_HASH_AFTER: u64 = 4 << 20;
/// Chunks queued for the hashing thread (each one read, 128–256 KiB in practice). The hasher is the slower
/// side, so a short queue keeps it busy; a longer one would only hold more memory.
const HASH_QUEUE: usize = 4;
/// The aufs metadata prefix (`.wh..wh.plnk`, `.wh..wh.aufs`), skipped like Docker does.
const AUFS_META_PREFIX: &[u8] = b".wh..wh.";

/// A decoded member, with the exact bytes of its names for [`crate::apply`].
pub(crate) struct Member {
    /// The public view.
    pub(crate) entry: Entry,
    /// The normalized path as bytes (the deleted path for whiteouts, the dir for opaque markers).
    pub(crate) path: Vec<u8>,
    /// Symlink target (raw) or hardlink target (normalized), as bytes.
    pub(crate) link: Vec<u8>,
    /// The member's path as stored, for messages.
    pub(crate) display: String,
    /// For a sparse file, its validated data regions (the content reader then yields only the stored
    /// data unless the reader was asked to expand holes).
    pub(crate) sparse: Option<Vec<SparseEntry>>,
}

/// Streams every entry of a (possibly compressed) layer once; the closure gets each entry and a reader of
/// its content (empty for anything but [`EntryKind::File`]). Content the closure does not read is skipped.
///
/// The stream is read to its end (a truncated or corrupt compressed trailer is an error) but not hashed:
/// use [`visit_layer`] to check the layer against its DiffID.
pub fn visit<R: Read>(
    reader: R,
    mut f: impl FnMut(&Entry, &mut dyn Read) -> Result<(), LayerError>,
) -> Result<(), LayerError> {
    let (_, mut plain) = decompress(reader)?;
    read_stream(&mut plain, true, &mut |member, content| f(&member.entry, content))
}

/// Like [`visit`], and also returns the layer's DiffID and uncompressed size, hashed on the way (the whole
/// decompressed stream is read, so a truncated or corrupt compressed trailer is an error).
pub fn visit_layer<R: Read>(
    reader: R,
    mut f: impl FnMut(&Entry, &mut dyn Read) -> Result<(), LayerError>,
) -> Result<LayerInfo, LayerError> {
    read_members(reader, true, &mut |member, content| f(&member.entry, content)).map(|(_, info)| info)
}

/// The engine of [`visit_layer`] and [`crate::apply`]: decodes each member and hands it to `f` with its
/// content, and hashes the uncompressed stream into the DiffID. With `expand_sparse`, sparse files read
/// with their holes as zeros; otherwise the reader yields the stored regions back to back and
/// [`Member::sparse`] says where they go.
pub(crate) fn read_members<R: Read>(
    reader: R,
    expand_sparse: bool,
    f: &mut dyn FnMut(&Member, &mut dyn Read) -> Result<(), LayerError>,
) -> Result<(Compression, LayerInfo), LayerError> {
    let (compression, plain) = decompress(reader)?;
    let mut digest = LayerDigest::new(plain);
    read_stream(&mut digest, expand_sparse, f)?;
    Ok((compression, digest.finish()?))
}

/// Decodes every member of the uncompressed tar `plain` and hands it to `f`, then reads `plain` to its end.
fn read_stream(
    plain: &mut dyn Read,
    expand_sparse: bool,
    f: &mut dyn FnMut(&Member, &mut dyn Read) -> Result<(), LayerError>,
) -> Result<(), LayerError> {
    let mut stream = Stream::new(plain);
    let mut parser = Parser::new(Limits { max_path_len: Some(MAX_PATH), ..Limits::default() });
    let mut previous: Option<String> = None;
    loop {
        let offset = stream.offset;
        let event = parser.parse(stream.available());
        let header_err =
            |stream: &Stream<'_>, previous: &Option<String>, reason: String| LayerError::Header {
                offset,
                name: raw_name(stream.available()),
                previous: previous.clone(),
                reason,
            };
        let (consumed, decoded, sparse) = match event {
            Err(e) => return Err(header_err(&stream, &previous, e.to_string())),
            Ok(ParseEvent::NeedData { min_bytes }) => {
                // Always ask for more than is buffered: tar-core may request no more than it already has
                // (while scanning a PAX sparse 1.0 map for a newline), which would otherwise loop forever.
                let min_bytes = min_bytes.max(stream.available().len() + 1);
                if min_bytes > MAX_HEADER_CHAIN {
                    let reason = format!("header chain needs {min_bytes} bytes (limit {MAX_HEADER_CHAIN})");
                    return Err(header_err(&stream, &previous, reason));
                }
                let complete = stream.fill(min_bytes).map_err(|source| match &previous {
                    Some(member) => LayerError::MemberIo {
                        member: member.clone(),
                        action: "reading the tar header after it".into(),
                        source,
                    },
                    None => LayerError::Stream { context: "reading the first tar header", source },
                })?;
                if !complete {
                    // A stream that ends at a header boundary (or inside the zero end blocks) is accepted as
                    // the end of the archive, like Go's archive/tar and GNU tar do.
                    if stream.available().iter().all(|&b| b == 0) {
                        stream.consume(stream.available().len());
                        break;
                    }
                    let reason = format!(
                        "truncated: the stream ends {} bytes into the header",
                        stream.available().len()
                    );
                    return Err(header_err(&stream, &previous, reason));
                }
                continue;
            }
            Ok(ParseEvent::GlobalExtensions { consumed, .. }) => {
                stream.consume(consumed);
                continue;
            }
            Ok(ParseEvent::End { consumed }) => {
                stream.consume(consumed);
                break;
            }
            Ok(ParseEvent::Entry { consumed, entry }) => (consumed, decode(&entry, None), None),
            Ok(ParseEvent::SparseEntry { consumed, entry, sparse_map, real_size }) => {
                let decoded = decode(&entry, Some(real_size));
                (consumed, decoded, Some((sparse_map, real_size)))
            }
        };
        // The entry borrowed the buffer until here; its data follows the consumed header bytes.
        let (stored, data_size) = (decoded.stored_size, decoded.data_size);
        stream.consume(consumed);
        let mut member = decoded.result?;
        if let (Some(m), Some((map, real_size))) = (&mut member, sparse)
            && m.entry.kind == EntryKind::File
        {
            check_sparse_map(&map, real_size, data_size)
                .map_err(|reason| LayerError::Member { member: m.display.clone(), reason })?;
            m.sparse = Some(map);
        }
        let mut content = Content { stream: &mut stream, remaining: data_size };
        if let Some(member) = &member {
            match (&member.sparse, member.entry.kind == EntryKind::File) {
                (Some(map), true) if expand_sparse => {
                    f(
                        member,
                        &mut Sparse { data: &mut content, map, next: 0, pos: 0, size: member.entry.size },
                    )?;
                }
                (_, true) => f(member, &mut content)?,
                (_, false) => f(member, &mut io::empty())?,
            }
        }
        let name = member.as_ref().map_or_else(|| decoded.display.clone(), |m| m.display.clone());
        content.skip_rest(padding(stored)).map_err(|source| LayerError::MemberIo {
            member: name.clone(),
            action: "reading its data".into(),
            source,
        })?;
        previous = Some(name);
    }
    // Read to the end of the stream so the DiffID covers it all and compressed trailers are checked.
    io::copy(&mut stream, &mut io::sink())
        .map_err(|source| LayerError::Stream { context: "after the end of the archive", source })?;
    Ok(())
}

/// A reader that hashes (sha256) and counts everything read through it: on the reading thread for the
/// first [`BACKGROUND_HASH_AFTER`] bytes, then on a hashing thread that gets a copy of each read (the copy
/// costs a few percent of what the hash does). Chunks go through a bounded queue in order, so the digest is
/// the one of the stream; their buffers come back for reuse.
struct LayerDigest<R> {
    inner: R,
    state: Hashing,
}

enum Hashing {
    /// Hashing on the reading thread.
    Inline(Sha256Writer<io::Sink>),
    /// Hashing on its own thread, which returns the hasher when `chunks` closes (`None` only if the hasher
    /// never reached it, which [`LayerDigest::go_background`] rules out).
    Background {
        chunks: Sender<Vec<u8>>,
        spare: Receiver<Vec<u8>>,
        thread: JoinHandle<Option<Sha256Writer<io::Sink>>>,
    },
}

impl<R: Read> LayerDigest<R> {
    fn new(inner: R) -> Self {
        Self { inner, state: Hashing::Inline(Sha256Writer::new(io::sink())) }
    }

    /// Moves the hasher to its own thread; it stays inline when no thread can be started.
    fn go_background(&mut self) {
        let placeholder = Hashing::Inline(Sha256Writer::new(io::sink()));
        let Hashing::Inline(hasher) = std::mem::replace(&mut self.state, placeholder) else {
            return;
        };
        let (chunks, queued) = crossbeam_channel::bounded::<Vec<u8>>(HASH_QUEUE);
        let (returned, spare) = crossbeam_channel::bounded::<Vec<u8>>(HASH_QUEUE);
        // The hasher is handed over after the spawn, so a failed spawn keeps it here.
        let (handover, handed) = crossbeam_channel::bounded::<Sha256Writer<io::Sink>>(1);
        let spawned = std::thread::Builder::new().name("kiln-layer-sha256".into()).spawn(move || {
            let mut hasher = handed.recv().ok()?;
            for chunk in queued {
                // Writing to a sink through the hasher cannot fail.
                let _ = hasher.write_all(&chunk);
                let _ = returned.try_send(chunk);
            }
            Some(hasher)
        });
        self.state = match spawned {
            Ok(thread) => match handover.send(hasher) {
                Ok(()) => Hashing::Background { chunks, spare, thread },
                Err(back) => Hashing::Inline(back.into_inner()),
            },
            Err(_) => Hashing::Inline(hasher),
        };
    }

    /// The DiffID and size of everything read.
    fn finish(self) -> Result<LayerInfo, LayerError> {
        let hasher = match self.state {
            Hashing::Inline(hasher) => hasher,
            Hashing::Background { chunks, thread, .. } => {
                drop(chunks);
                thread.join().ok().flatten().ok_or_else(|| LayerError::Stream {
                    context: "while hashing it",
                    source: io::Error::other("the hashing thread failed"),
                })?
            }
        };
        let (_, diff_id, size) = hasher.finish();
        Ok(LayerInfo { diff_id, size })
    }
}

impl<R: Read> Read for LayerDigest<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        match &mut self.state {
            Hashing::Inline(hasher) => {
                hasher.write_all(&buf[..n])?;
                if hasher.len() >= BACKGROUND_HASH_AFTER {
                    self.go_background();
                }
            }
            Hashing::Background { chunks, spare, .. } => {
                let mut chunk = spare.try_recv().unwrap_or_default();
                chunk.clear();
                chunk.extend_from_slice(&buf[..n]);
                chunks.send(chunk).map_err(|_| io::Error::other("the hashing thread stopped"))?;
            }
        }
        Ok(n)
    }
}

/// Bytes of zero padding after `size` bytes of member data.
fn padding(size: u64) -> u64 {
    (HEADER_SIZE as u64 - size % HEADER_SIZE as u64) % HEADER_SIZE as u64
}

/// The raw name field of the header at the start of `buf`, for error messages.
fn raw_name(buf: &[u8]) -> String {
    let field = &buf[..buf.len().min(100)];
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

/// The outcome of decoding one parsed header.
struct Decoded {
    /// The member, `None` for entries that are skipped (aufs metadata), or why it was rejected.
    result: Result<Option<Member>, LayerError>,
    /// The path as stored, for messages.
    display: String,
    /// Bytes of data stored after the header (before padding).
    stored_size: u64,
    /// Bytes of data to hand out (the stored size; sparse expansion happens on top).
    data_size: u64,
}

fn decode(parsed: &ParsedEntry<'_>, sparse_size: Option<u64>) -> Decoded {
    let display = String::from_utf8_lossy(&parsed.path).into_owned();
    let result = decode_member(parsed, sparse_size, &display);
    Decoded { result, display, stored_size: parsed.size, data_size: parsed.size }
}

fn decode_member(
    parsed: &ParsedEntry<'_>,
    sparse_size: Option<u64>,
    display: &str,
) -> Result<Option<Member>, LayerError> {
    let reject = |reason: String| LayerError::Member { member: display.to_owned(), reason };
    let raw: &[u8] = &parsed.path;
    if raw.contains(&0) {
        return Err(reject("the path contains a NUL byte".into()));
    }
    let path = normalize(raw).map_err(|r| reject(r.into()))?;
    let name = path.rsplit(|&b| b == b'/').next().unwrap_or(&path);
    if path.split(|&b| b == b'/').any(|c| c.starts_with(AUFS_META_PREFIX) && c != OPAQUE_WHITEOUT.as_bytes())
    {
        return Ok(None);
    }
    let link_bytes = || -> Result<Vec<u8>, LayerError> {
        let link = parsed.link_target.as_deref().unwrap_or_default();
        if link.is_empty() {
            return Err(reject("link member without a link target".into()));
        }
        if link.contains(&0) {
            return Err(reject("the link target contains a NUL byte".into()));
        }
        Ok(link.to_vec())
    };
    let ends_with_slash = raw.ends_with(b"/");
    let mut link = Vec::new();
    let (path, kind) = if name == OPAQUE_WHITEOUT.as_bytes() {
        (parent(&path).to_vec(), EntryKind::OpaqueDir)
    } else if let Some(deleted) = name.strip_prefix(WHITEOUT_PREFIX.as_bytes()) {
        if deleted.is_empty() || deleted == b"." || deleted == b".." {
            return Err(reject(format!("whiteout of {:?} is not allowed", String::from_utf8_lossy(deleted))));
        }
        (join(parent(&path), deleted), EntryKind::Whiteout)
    } else {
        let kind = match parsed.entry_type {
            EntryType::Regular | EntryType::Continuous if ends_with_slash => EntryKind::Dir,
            EntryType::Regular | EntryType::Continuous | EntryType::GnuSparse => EntryKind::File,
            EntryType::Directory | EntryType::Other(b'D') => EntryKind::Dir,
            EntryType::Symlink => {
                link = link_bytes()?;
                EntryKind::Symlink { target: String::from_utf8_lossy(&link).into_owned() }
            }
            EntryType::Link => {
                link = normalize(&link_bytes()?).map_err(|r| reject(format!("hardlink target {r}")))?;
                if link.is_empty() {
                    return Err(reject("hardlink to the layer root".into()));
                }
                EntryKind::Hardlink { target: String::from_utf8_lossy(&link).into_owned() }
            }
            EntryType::Char => EntryKind::CharDevice {
                major: parsed.dev_major.unwrap_or(0),
                minor: parsed.dev_minor.unwrap_or(0),
            },
            EntryType::Block => EntryKind::BlockDevice {
                major: parsed.dev_major.unwrap_or(0),
                minor: parsed.dev_minor.unwrap_or(0),
            },
            EntryType::Fifo => EntryKind::Fifo,
            // A GNU volume label is not a file.
            EntryType::Other(b'V') => return Ok(None),
            other => {
                return Err(reject(format!("unsupported tar entry type {:?}", char::from(other.to_byte()))));
            }
        };
        (path, kind)
    };
    if path.is_empty() && !matches!(kind, EntryKind::Dir | EntryKind::OpaqueDir) {
        return Err(reject("the member names the layer root but is not a directory".into()));
    }
    // u32::MAX is chown's "leave unchanged", never a real id.
    let id = |v: u64, what: &str| {
        u32::try_from(v)
            .ok()
            .filter(|&v| v != u32::MAX)
            .ok_or_else(|| reject(format!("{what} {v} is out of range")))
    };
    let uid = id(parsed.uid, "uid")?;
    let gid = id(parsed.gid, "gid")?;
    let mtime =
        i64::try_from(parsed.mtime).map_err(|_| reject(format!("mtime {} is out of range", parsed.mtime)))?;
    let mut xattrs = BTreeMap::new();
    for (key, value) in &parsed.xattrs {
        let key = String::from_utf8(key.to_vec()).map_err(|_| reject("an xattr name is not UTF-8".into()))?;
        xattrs.insert(key, value.to_vec());
    }
    let size = match kind {
        EntryKind::File => sparse_size.unwrap_or(parsed.size),
        _ => 0,
    };
    let entry = Entry {
        path: String::from_utf8_lossy(&path).into_owned(),
        kind,
        mode: parsed.mode & 0o7777,
        uid,
        gid,
        size,
        mtime,
        xattrs,
    };
    Ok(Some(Member { entry, path, link, display: display.to_owned(), sparse: None }))
}

/// Normalizes a member path: drops empty and `.` components and a leading `/`, resolves `..` lexically,
/// and refuses a `..` that would climb above the root.
pub(crate) fn normalize(raw: &[u8]) -> Result<Vec<u8>, &'static str> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for comp in raw.split(|&b| b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => {
                if parts.pop().is_none() {
                    return Err("leaves the layer root with `..`");
                }
            }
            c => parts.push(c),
        }
    }
    Ok(parts.join(&b'/'))
}

/// The parent of a normalized path (empty for top-level names).
pub(crate) fn parent(path: &[u8]) -> &[u8] {
    path.iter().rposition(|&b| b == b'/').map_or(&[][..], |i| &path[..i])
}

/// `dir/name` (or `name` when `dir` is empty).
pub(crate) fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    if dir.is_empty() {
        return name.to_vec();
    }
    let mut p = Vec::with_capacity(dir.len() + 1 + name.len());
    p.extend_from_slice(dir);
    p.push(b'/');
    p.extend_from_slice(name);
    p
}

/// A buffered view of the uncompressed tar stream: header chains are parsed from the buffer, member data
/// is read through it (or straight from the source when the buffer is empty).
struct Stream<'r> {
    inner: &'r mut dyn Read,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Offset in the uncompressed stream of `buf[start]`.
    offset: u64,
}

impl<'r> Stream<'r> {
    fn new(inner: &'r mut dyn Read) -> Self {
        Self { inner, buf: vec![0; READ_CHUNK], start: 0, end: 0, offset: 0 }
    }

    fn available(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    fn consume(&mut self, n: usize) {
        let n = n.min(self.end - self.start);
        self.start += n;
        self.offset += n as u64;
    }

    /// Buffers at least `min` bytes; false when the stream ended first.
    fn fill(&mut self, min: usize) -> io::Result<bool> {
        if self.end - self.start >= min {
            return Ok(true);
        }
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        if self.buf.len() < min {
            self.buf.resize(min.next_multiple_of(READ_CHUNK), 0);
        }
        while self.end < min {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => return Ok(false),
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }
}

impl Read for Stream<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.start == self.end {
            if out.len() >= READ_CHUNK {
                let n = self.inner.read(out)?;
                self.offset += n as u64;
                return Ok(n);
            }
            self.start = 0;
            self.end = 0;
            let n = self.inner.read(&mut self.buf)?;
            self.end = n;
        }
        let n = out.len().min(self.end - self.start);
        out[..n].copy_from_slice(&self.buf[self.start..self.start + n]);
        self.consume(n);
        Ok(n)
    }
}

/// The data of one member: exactly `remaining` bytes, an error if the stream ends before.
struct Content<'s, 'r> {
    stream: &'s mut Stream<'r>,
    remaining: u64,
}

impl Content<'_, '_> {
    /// Skips the unread data and then `padding` bytes.
    fn skip_rest(&mut self, padding: u64) -> io::Result<()> {
        self.remaining += padding;
        let mut sink = [0u8; 8192];
        let mut big = Vec::new();
        while self.remaining > 0 {
            let buf: &mut [u8] = if self.remaining > sink.len() as u64 {
                if big.is_empty() {
                    big.resize(READ_CHUNK, 0);
                }
                &mut big
            } else {
                &mut sink
            };
            if self.read(buf)? == 0 {
                break;
            }
        }
        Ok(())
    }
}

impl Read for Content<'_, '_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 || out.is_empty() {
            return Ok(0);
        }
        let want = usize::try_from(self.remaining).unwrap_or(usize::MAX).min(out.len());
        let n = self.stream.read(&mut out[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the layer stream ends with {} bytes of this member still to come", self.remaining),
            ));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// Expands a sparse member: data regions come from the stored data, holes read as zeros.
struct Sparse<'c, R> {
    data: &'c mut R,
    map: &'c [SparseEntry],
    next: usize,
    pos: u64,
    size: u64,
}

/// Checks that a sparse map's regions are in order, do not overlap, fit in the file, and account for
/// exactly the stored data.
fn check_sparse_map(map: &[SparseEntry], size: u64, stored: u64) -> Result<(), String> {
    let mut end = 0u64;
    let mut total = 0u64;
    for region in map {
        let region_end = region.offset.checked_add(region.length).ok_or("sparse region overflows")?;
        if region.offset < end || region_end > size {
            return Err(format!(
                "sparse map region {}+{} overlaps or exceeds the file size {size}",
                region.offset, region.length
            ));
        }
        end = region_end;
        total += region.length;
    }
    if total != stored {
        return Err(format!("sparse map covers {total} bytes but the member stores {stored}"));
    }
    Ok(())
}

impl<R: Read> Read for Sparse<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.pos >= self.size || out.is_empty() {
                return Ok(0);
            }
            let Some(region) = self.map.get(self.next) else {
                return Ok(zeros(out, self.size - self.pos, &mut self.pos));
            };
            if self.pos < region.offset {
                return Ok(zeros(out, region.offset - self.pos, &mut self.pos));
            }
            let region_end = region.offset + region.length;
            if self.pos >= region_end {
                self.next += 1;
                continue;
            }
            let want = usize::try_from(region_end - self.pos).unwrap_or(usize::MAX).min(out.len());
            let n = self.data.read(&mut out[..want])?;
            if n == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "sparse member data ends early"));
            }
            self.pos += n as u64;
            return Ok(n);
        }
    }
}

fn zeros(out: &mut [u8], gap: u64, pos: &mut u64) -> usize {
    let n = usize::try_from(gap).unwrap_or(usize::MAX).min(out.len());
    out[..n].fill(0);
    *pos += n as u64;
    n
}

/// Writes `data` to `w`, turning an error into one naming the member.
pub(crate) fn write_member_data(
    w: &mut dyn Write,
    member: &str,
    content: &mut dyn Read,
    buf: &mut [u8],
) -> Result<u64, LayerError> {
    let mut total = 0u64;
    loop {
        let n = match content.read(buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(source) => {
                return Err(LayerError::MemberIo {
                    member: member.to_owned(),
                    action: "reading its data".into(),
                    source,
                });
            }
        };
        w.write_all(&buf[..n]).map_err(|source| LayerError::MemberIo {
            member: member.to_owned(),
            action: "writing its data".into(),
            source,
        })?;
        total += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_cleans_and_refuses_escapes() {
        let n = |s: &str| normalize(s.as_bytes()).map(|v| String::from_utf8(v).unwrap());
        assert_eq!(n("./a//b/").unwrap(), "a/b");
        assert_eq!(n("/etc/passwd").unwrap(), "etc/passwd");
        assert_eq!(n("a/../b").unwrap(), "b");
        assert_eq!(n("./").unwrap(), "");
        assert!(n("../x").is_err());
        assert!(n("a/../../x").is_err());
    }

    #[test]
    fn diff_id_hashed_on_a_thread_is_the_streams_sha256() {
        // 9 MiB of varied bytes, read in uneven pieces: the first 4 MiB are hashed inline, the rest on the
        // hashing thread, with its buffers coming back for reuse at other lengths.
        let data: Vec<u8> = (0..9u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
        let mut digest = LayerDigest::new(&data[..]);
        let mut buf = vec![0u8; 300_007];
        let mut read = 0;
        for step in [1, 512, 4096, 65_536, 300_007].iter().cycle() {
            let n = digest.read(&mut buf[..*step]).unwrap();
            if n == 0 {
                break;
            }
            assert_eq!(buf[..n], data[read..read + n]);
            read += n;
        }
        assert!(matches!(digest.state, Hashing::Background { .. }), "hashing moved to its thread");
        let info = digest.finish().unwrap();
        assert_eq!(info.size, data.len() as u64);
        assert_eq!(info.diff_id, kiln_oci::Digest::sha256_of(&data));
        // A short stream stays inline and hashes the same way.
        let mut small = LayerDigest::new(&data[..1000]);
        io::copy(&mut small, &mut io::sink()).unwrap();
        assert!(matches!(small.state, Hashing::Inline(_)));
        assert_eq!(small.finish().unwrap().diff_id, kiln_oci::Digest::sha256_of(&data[..1000]));
    }

    #[test]
    fn sparse_expands_holes() {
        let data = b"abcdXY".to_vec();
        let map = [SparseEntry { offset: 2, length: 4 }, SparseEntry { offset: 10, length: 2 }];
        let mut src = &data[..];
        let mut out = Vec::new();
        check_sparse_map(&map, 14, 6).unwrap();
        Sparse { data: &mut src, map: &map, next: 0, pos: 0, size: 14 }.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"\0\0abcd\0\0\0\0XY\0\0");
        assert!(check_sparse_map(&map, 11, 6).is_err());
        assert!(check_sparse_map(&map, 14, 7).is_err());
        let overlapping = [SparseEntry { offset: 2, length: 4 }, SparseEntry { offset: 5, length: 2 }];
        assert!(check_sparse_map(&overlapping, 14, 6).is_err());
    }
}
