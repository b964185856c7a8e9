//! The decompressed payload handed from the checksum pass to a restore, so that a verification
//! reads and decompresses the stored payload once instead of twice
//! ([`crate::Repository::verify_checksum_feeding`]).
//!
//! The pass owns the reading: it sends each decompressed chunk to the feed as it hashes it,
//! and waits when the consumer is [`IN_FLIGHT`] chunks behind (memory stays at a few MiB
//! whatever the payload's size; a slow restore slows the pass down). A consumer that stops
//! reading (a tool that exited, a restore that gave up) drops its [`PayloadFeed`]; the pass
//! then goes on hashing alone, so that its report is whole whatever the restore did.
//!
//! What the consumer reads is what was stored, damaged or not: a restore fed here is trusted
//! only once the pass's report says the checksums match (the verifier's rule).

use std::io::{self, Read};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;

/// Chunks between the pass and the consumer, at most.
const IN_FLIGHT: usize = 4;

/// One message of the pass to the consumer.
enum Fed {
    Chunk(Arc<Vec<u8>>),
    /// The payload decompressed whole: end of file.
    End,
    /// Decompression failed here: the consumer's read fails with this.
    Failed(String),
}

/// The pass's end of a feed. Dropped before the payload's end, the consumer's next read fails:
/// it must never take a cut payload for a whole one.
pub struct FeedTap {
    tx: Option<SyncSender<Fed>>,
}

/// The consumer's end: the decompressed payload, as a blocking [`Read`] (use it on a blocking
/// thread). Its reads fail when the payload does not decompress or the pass stopped early.
pub struct PayloadFeed {
    rx: Receiver<Fed>,
    chunk: Arc<Vec<u8>>,
    at: usize,
    ended: bool,
}

/// A new feed: give the tap to [`crate::Repository::verify_checksum_feeding`] and the reader to
/// the restore.
pub fn payload_feed() -> (FeedTap, PayloadFeed) {
    let (tx, rx) = sync_channel(IN_FLIGHT);
    (
        FeedTap { tx: Some(tx) },
        PayloadFeed {
            rx,
            chunk: Arc::new(Vec::new()),
            at: 0,
            ended: false,
        },
    )
}

impl FeedTap {
    /// Hands `chunk` on, waiting while the consumer is behind; once the consumer is gone,
    /// does nothing.
    pub(crate) fn send(&mut self, chunk: &Arc<Vec<u8>>) {
        if let Some(tx) = &self.tx {
            if tx.send(Fed::Chunk(Arc::clone(chunk))).is_err() {
                self.tx = None;
            }
        }
    }

    /// The consumer's reads fail with `reason` from here on.
    pub(crate) fn fail(&mut self, reason: &str) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(Fed::Failed(reason.to_owned()));
        }
    }

    /// The payload ended whole: the consumer reads its end of file.
    pub(crate) fn end(&mut self) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(Fed::End);
        }
    }
}

impl Read for PayloadFeed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.at < self.chunk.len() {
                let n = buf.len().min(self.chunk.len() - self.at);
                buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
                self.at += n;
                return Ok(n);
            }
            if self.ended || buf.is_empty() {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Fed::Chunk(chunk)) => {
                    self.chunk = chunk;
                    self.at = 0;
                }
                Ok(Fed::End) => {
                    self.ended = true;
                    return Ok(0);
                }
                Ok(Fed::Failed(reason)) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("the payload does not decompress: {reason}"),
                    ))
                }
                Err(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the payload's checksum pass stopped before its end (its check says why)",
                    ))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(bytes: &[u8]) -> Arc<Vec<u8>> {
        Arc::new(bytes.to_vec())
    }

    #[test]
    fn the_consumer_reads_every_chunk_then_the_end() {
        let (mut tap, mut feed) = payload_feed();
        let pass = std::thread::spawn(move || {
            for part in [&b"abc"[..], b"", b"defgh"] {
                tap.send(&chunk(part));
            }
            tap.end();
        });
        let mut got = Vec::new();
        feed.read_to_end(&mut got).unwrap();
        pass.join().unwrap();
        assert_eq!(got, b"abcdefgh");
        assert_eq!(feed.read(&mut [0u8; 4]).unwrap(), 0, "stays at its end");
    }

    #[test]
    fn a_failure_or_a_tap_dropped_before_the_end_is_a_read_error_not_an_end() {
        let (mut tap, mut feed) = payload_feed();
        tap.send(&chunk(b"abc"));
        tap.fail("frame 2 is damaged");
        let mut got = Vec::new();
        let e = feed.read_to_end(&mut got).unwrap_err();
        assert_eq!(got, b"abc");
        assert!(e.to_string().contains("frame 2 is damaged"), "{e}");

        let (mut tap, mut feed) = payload_feed();
        tap.send(&chunk(b"abc"));
        drop(tap);
        let e = feed.read_to_end(&mut Vec::new()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "{e}");
    }

    #[test]
    fn the_pass_goes_on_alone_once_the_consumer_is_gone() {
        let (mut tap, feed) = payload_feed();
        drop(feed);
        // More chunks than the channel holds: none of these may block.
        for _ in 0..IN_FLIGHT * 4 {
            tap.send(&chunk(b"abc"));
        }
        tap.end();
    }
}
