//! An in-process pipe between the threads of one transfer, moving whole buffers rather than bytes:
//! - push: a compressor writes blocks into a [`Tee`] that keeps every byte in a store blob and also hands
//!   it to the pipe, which a [`PipeReader`] on the upload thread turns back into the request body;
//! - pull: [`pump`] reads the download (hashing it) into the pipe, the decompressor reads from that pipe
//!   and writes into a second one, and [`PipeReader::write_to`] hands those buffers to the store blob. The
//!   three run on their own threads, so one big layer uses more than one core.
//!
//! The reader hands each drained buffer back, and the writing end fills a returned buffer rather than
//! allocating: a fresh 1 MiB allocation per block costs the kernel a zeroed huge page each time. With the
//! compressor's buffers reused too, that went from 11% of a push's samples to 1.5% (docs/registry.md has
//! the `perf` command).
//!
//! Hand-written rather than `std::io::pipe` (an OS pipe): whole blocks move through the channel without
//! being copied through the kernel in 64 KiB pieces; the reader must tell "the writer finished" (end of
//! stream) from "the writer failed" (abort the request, so the registry never sees a short body as
//! complete); and a download's own error (a [`crate::RegistryError`] inside the `io::Error`) must reach
//! the reader unchanged.

use std::io::{self, Read, Write};
use std::sync::mpsc::{Receiver, SendError, SyncSender, sync_channel};

/// One message: some bytes, the end of the stream, or the writer's failure.
enum Piece {
    /// Bytes of the stream.
    Bytes(Vec<u8>),
    /// The clean end of the stream.
    End,
    /// The writing end failed with this error (given to the reader as it is).
    Failed(io::Error),
}

/// A pipe holding up to `depth` pieces in flight.
pub(crate) fn pipe(depth: usize) -> (PipeWriter, PipeReader) {
    let (tx, rx) = sync_channel(depth);
    let (spare_tx, spare_rx) = sync_channel(depth + 2);
    (
        PipeWriter { tx, spare: spare_rx },
        PipeReader { rx, spare: spare_tx, current: Vec::new(), pos: 0, ended: false },
    )
}

/// The writing end of a [`pipe`].
pub(crate) struct PipeWriter {
    tx: SyncSender<Piece>,
    /// Buffers the reader has drained, to be filled again.
    spare: Receiver<Vec<u8>>,
}

impl PipeWriter {
    /// A buffer to fill: one the reader gave back, or a new one.
    fn buffer(&self) -> Vec<u8> {
        self.spare.try_recv().unwrap_or_default()
    }

    /// Sends `piece`; false when the reader has gone away.
    fn send(&self, piece: Piece) -> bool {
        self.tx.send(piece).is_ok()
    }

    /// Ends the stream: the reader sees a clean end. A writer dropped without this makes the reader fail.
    pub(crate) fn finish(self) {
        self.send(Piece::End);
    }

    /// Sends the next `size` bytes of `reader` (fewer only at its end), read straight into a piece.
    /// `Ok(false)` at the end of `reader`; a read error as it is; a `BrokenPipe` error when the pipe's
    /// reader has gone away. Pieces are filled whole: decompressors return a few KiB per read, and
    /// sending those one by one would cost a hand-over each (and re-zeroing the rest of the buffer).
    pub(crate) fn send_read(&self, reader: &mut impl Read, size: usize) -> io::Result<bool> {
        let mut piece = self.buffer();
        // Only a buffer's part beyond its last fill is zeroed: full pieces come back full.
        piece.resize(size, 0);
        let mut filled = 0;
        let mut failed = None;
        while filled < size {
            match reader.read(&mut piece[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        // The bytes read before an error go first.
        if filled > 0 {
            piece.truncate(filled);
            if !self.send(Piece::Bytes(piece)) {
                return Err(reader_gone());
            }
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(filled > 0),
        }
    }
}

fn reader_gone() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "the pipe's reader stopped")
}

/// Reads all of `reader` into `pipe` in pieces of `size` bytes and ends it. A read error goes to the pipe's
/// reader as it is. When the reader goes away first, the rest of `reader` is still read (and thrown away),
/// so that a hashing reader covers every byte. Returns the error the pipe's reader did not get: one from
/// that last stretch, or one that came after the reader had gone.
pub(crate) fn pump<R: Read>(reader: &mut R, pipe: PipeWriter, size: usize) -> Option<io::Error> {
    loop {
        match pipe.send_read(reader, size) {
            Ok(true) => {}
            Ok(false) => {
                pipe.finish();
                return None;
            }
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                return io::copy(reader, &mut io::sink()).err();
            }
            Err(e) => {
                return match pipe.tx.send(Piece::Failed(e)) {
                    Ok(()) => None,
                    Err(SendError(Piece::Failed(e))) => Some(e),
                    Err(_) => None,
                };
            }
        }
    }
}

/// The reading end of a [`pipe`]. When the writing end goes away without finishing, reads fail.
pub(crate) struct PipeReader {
    rx: Receiver<Piece>,
    spare: SyncSender<Vec<u8>>,
    current: Vec<u8>,
    pos: usize,
    ended: bool,
}

impl PipeReader {
    /// The next piece, `None` at the clean end.
    fn next_piece(&mut self) -> io::Result<Option<Vec<u8>>> {
        if self.ended {
            return Ok(None);
        }
        match self.rx.recv() {
            Ok(Piece::Bytes(bytes)) => Ok(Some(bytes)),
            Ok(Piece::End) => {
                self.ended = true;
                Ok(None)
            }
            Ok(Piece::Failed(e)) => {
                self.ended = true;
                Err(e)
            }
            Err(_) => {
                self.ended = true;
                Err(io::Error::other("the stream's writer stopped before its end"))
            }
        }
    }

    /// Hands a drained buffer back to the writing end. A full return queue or a writer gone: the buffer is
    /// simply freed.
    fn give_back(&self, drained: Vec<u8>) {
        if drained.capacity() > 0 {
            let _ = self.spare.try_send(drained);
        }
    }

    /// Writes every remaining piece into `out` as it arrives, without copying it first; returns the number
    /// of bytes written.
    pub(crate) fn write_to(&mut self, out: &mut impl Write) -> io::Result<u64> {
        let mut total = (self.current.len() - self.pos) as u64;
        out.write_all(&self.current[self.pos..])?;
        self.pos = self.current.len();
        while let Some(piece) = self.next_piece()? {
            out.write_all(&piece)?;
            total += piece.len() as u64;
            self.give_back(piece);
        }
        Ok(total)
    }
}

impl Read for PipeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.current.len() {
            let Some(bytes) = self.next_piece()? else { return Ok(0) };
            let drained = std::mem::replace(&mut self.current, bytes);
            self.pos = 0;
            self.give_back(drained);
        }
        let n = buf.len().min(self.current.len() - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Writes everything to `keep` and, while the reading end listens, to the pipe too. The reading end going
/// away (the upload failed) only stops the copy to the pipe: `keep` still gets every byte.
pub(crate) struct Tee<W> {
    pub(crate) keep: W,
    pipe: Option<PipeWriter>,
}

impl<W: Write> Tee<W> {
    /// A tee into `keep` and `pipe` (`None`: into `keep` only).
    pub(crate) fn new(keep: W, pipe: Option<PipeWriter>) -> Tee<W> {
        Tee { keep, pipe }
    }

    /// Ends the piped stream (the reader sees a clean end) and returns `keep`. A tee dropped without this
    /// makes the reader fail instead.
    pub(crate) fn finish(self) -> W {
        if let Some(pipe) = self.pipe {
            pipe.finish();
        }
        self.keep
    }
}

impl<W: Write> Write for Tee<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.keep.write_all(buf)?;
        if let Some(pipe) = &self.pipe
            && !buf.is_empty()
        {
            let mut piece = pipe.buffer();
            piece.clear();
            piece.extend_from_slice(buf);
            if !pipe.send(Piece::Bytes(piece)) {
                self.pipe = None;
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.keep.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reader_gets_every_byte_and_a_clean_end() {
        let (tx, mut reader) = pipe(4);
        let writer = std::thread::spawn(move || {
            let mut tee = Tee::new(Vec::new(), Some(tx));
            for i in 0..100u8 {
                tee.write_all(&vec![i; 1000 + usize::from(i)]).unwrap();
            }
            tee.finish()
        });
        let mut got = Vec::new();
        reader.read_to_end(&mut got).unwrap();
        let kept = writer.join().unwrap();
        assert_eq!(got.len(), (0..100).map(|i| 1000 + i).sum::<usize>());
        assert_eq!(got, kept);
    }

    #[test]
    fn a_tee_dropped_before_its_end_fails_the_reader() {
        let (tx, mut reader) = pipe(4);
        let mut tee = Tee::new(Vec::new(), Some(tx));
        tee.write_all(b"half a layer").unwrap();
        drop(tee);
        let mut got = Vec::new();
        let err = reader.read_to_end(&mut got).unwrap_err();
        assert!(err.to_string().contains("stopped before its end"), "{err}");
        assert_eq!(got, b"half a layer");
    }

    #[test]
    fn a_reader_that_goes_away_only_stops_the_pipe() {
        let (tx, reader) = pipe(4);
        drop(reader);
        let mut tee = Tee::new(Vec::new(), Some(tx));
        tee.write_all(b"still ").unwrap();
        tee.write_all(b"kept").unwrap();
        assert_eq!(tee.finish(), b"still kept");
    }

    #[test]
    fn drained_buffers_go_back_to_the_writer() {
        let (tx, mut reader) = pipe(4);
        let mut tee = Tee::new(Vec::new(), Some(tx));
        tee.write_all(&[1; 1000]).unwrap();
        tee.write_all(&[2; 10]).unwrap();
        let mut buf = [0u8; 1010];
        reader.read_exact(&mut buf).unwrap();
        // Moving on to the second piece handed the first one's buffer back.
        let spare = tee.pipe.as_ref().unwrap().spare.try_recv().unwrap();
        assert!(spare.capacity() >= 1000);
        assert_eq!(buf[..1000], [1; 1000]);
        assert_eq!(buf[1000..], [2; 10]);
    }

    /// A reader that gives `data` a few bytes at a time, then fails with `error` if set.
    struct Trickle {
        data: Vec<u8>,
        at: usize,
        error: Option<io::Error>,
    }

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.at == self.data.len() {
                return self.error.take().map_or(Ok(0), Err);
            }
            let n = buf.len().min(7).min(self.data.len() - self.at);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    fn trickle(len: usize, error: Option<io::Error>) -> Trickle {
        Trickle { data: (0..len).map(|i| i as u8).collect(), at: 0, error }
    }

    #[test]
    fn pump_sends_whole_pieces_and_write_to_passes_them_on() {
        let (tx, mut reader) = pipe(2);
        let mut source = trickle(1000, None);
        let (undelivered, pieces) = std::thread::scope(|scope| {
            let pumping = scope.spawn(|| pump(&mut source, tx, 300));
            let mut pieces = Vec::new();
            while let Some(piece) = reader.next_piece().unwrap() {
                pieces.push(piece);
            }
            (pumping.join().unwrap(), pieces)
        });
        assert!(undelivered.is_none());
        // Filled whole despite 7-byte reads; only the last piece is short.
        assert_eq!(pieces.iter().map(Vec::len).collect::<Vec<_>>(), [300, 300, 300, 100]);
        assert_eq!(pieces.concat(), source.data);

        let (tx, mut reader) = pipe(2);
        let mut source = trickle(1000, None);
        let mut out = Vec::new();
        std::thread::scope(|scope| {
            scope.spawn(|| pump(&mut source, tx, 64));
            assert_eq!(reader.write_to(&mut out).unwrap(), 1000);
        });
        assert_eq!(out, source.data);
    }

    #[test]
    fn pump_hands_a_read_error_to_the_reader_as_it_is() {
        let (tx, mut reader) = pipe(4);
        let mut source = trickle(100, Some(io::Error::new(io::ErrorKind::TimedOut, "the network stalled")));
        let undelivered = pump(&mut source, tx, 64);
        assert!(undelivered.is_none());
        let mut got = Vec::new();
        let err = reader.read_to_end(&mut got).unwrap_err();
        assert_eq!((err.kind(), err.to_string().as_str()), (io::ErrorKind::TimedOut, "the network stalled"));
        assert_eq!(got.len(), 100);
    }

    #[test]
    fn a_reader_that_goes_away_leaves_the_pump_reading_to_the_end() {
        let (tx, reader) = pipe(1);
        drop(reader);
        let mut source = trickle(5000, None);
        assert!(pump(&mut source, tx, 100).is_none());
        // Every byte was still read (a hashing reader covers them all).
        assert_eq!(source.at, 5000);
        // An error in that last stretch is returned, since nobody else saw it.
        let (tx, reader) = pipe(1);
        drop(reader);
        let mut source = trickle(5000, Some(io::Error::other("dropped")));
        assert_eq!(pump(&mut source, tx, 100).unwrap().to_string(), "dropped");
    }
}
