//! An in-process pipe for streamed uploads: a compressor on one thread writes blocks into a [`Tee`] that
//! keeps every byte in a store blob and also hands it to a bounded channel, which a [`PipeReader`] on the
//! upload thread turns back into a byte stream for the request body.
//!
//! The reader hands each drained buffer back, and the tee fills a returned buffer rather than allocating:
//! a fresh 1 MiB allocation per block costs the kernel a zeroed huge page each time. With the compressor's
//! buffers reused too, that went from 11% of a push's samples to 1.5% (docs/registry.md has the `perf`
//! command).
//!
//! Hand-written rather than `std::io::pipe` (an OS pipe): the compressor already writes whole 1 MiB blocks,
//! which move through the channel without being copied through the kernel in 64 KiB pieces; and the
//! reader must tell "the compressor finished" (end of body) from "the compressor failed" (abort the
//! request, so the registry never sees a short body as complete).

use std::io::{self, Read, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// Blocks in flight between the compressor and the upload (each up to a compressed 1 MiB block).
const DEPTH: usize = 4;

/// One message: some bytes, or the end of the stream.
enum Piece {
    /// Bytes of the stream.
    Bytes(Vec<u8>),
    /// The clean end of the stream.
    End,
}

/// A pipe: the writing end goes into a [`Tee`], the reading end is a request body.
pub(crate) fn pipe() -> (PipeWriter, PipeReader) {
    let (tx, rx) = sync_channel(DEPTH);
    let (spare_tx, spare_rx) = sync_channel(DEPTH + 2);
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

/// The reading end of a [`pipe`]. When the writing end goes away without [`Tee::finish`], reads fail.
pub(crate) struct PipeReader {
    rx: Receiver<Piece>,
    spare: SyncSender<Vec<u8>>,
    current: Vec<u8>,
    pos: usize,
    ended: bool,
}

impl Read for PipeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.current.len() {
            if self.ended {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Piece::Bytes(bytes)) => {
                    let drained = std::mem::replace(&mut self.current, bytes);
                    self.pos = 0;
                    // A full return queue or a writer gone: the buffer is simply freed.
                    if drained.capacity() > 0 {
                        let _ = self.spare.try_send(drained);
                    }
                }
                Ok(Piece::End) => self.ended = true,
                Err(_) => {
                    return Err(io::Error::other("the layer's compression stopped before its end"));
                }
            }
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
        if let Some(pipe) = &self.pipe {
            let _ = pipe.tx.send(Piece::End);
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
            let mut piece = pipe.spare.try_recv().unwrap_or_default();
            piece.clear();
            piece.extend_from_slice(buf);
            if pipe.tx.send(Piece::Bytes(piece)).is_err() {
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
        let (tx, mut reader) = pipe();
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
        let (tx, mut reader) = pipe();
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
        let (tx, reader) = pipe();
        drop(reader);
        let mut tee = Tee::new(Vec::new(), Some(tx));
        tee.write_all(b"still ").unwrap();
        tee.write_all(b"kept").unwrap();
        assert_eq!(tee.finish(), b"still kept");
    }

    #[test]
    fn drained_buffers_go_back_to_the_writer() {
        let (tx, mut reader) = pipe();
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
}
