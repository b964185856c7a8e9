//! Framing of reseed payloads (manager → joiner), so that a joiner can tell a whole payload
//! from a cut one before it touches its server.
//!
//! A backup stream to the manager ends well with FIN and badly with RST, and the manager then
//! also checks the payload itself (xbstream CRCs, dump footer). A joiner cannot rely on that
//! alone: when the manager's process dies, the kernel closes its sockets with FIN, and an
//! xbstream cut at a chunk boundary extracts without complaint. So the payload travels in
//! frames and ends with a trailer naming its length and sha256; [`FrameReader`] returns
//! end-of-stream only after checking both, and an error otherwise.
//!
//! # Wire format (after the stream header)
//!
//! | Field   | Encoding                                                          |
//! |---------|-------------------------------------------------------------------|
//! | frame   | `u32` big-endian length `1..=`[`MAX_FRAME`], then that many bytes |
//! | …       | as many frames as needed                                          |
//! | end     | `u32` `0`, then `u64` big-endian total payload bytes, then the    |
//! |         | 32-byte sha256 of the payload                                     |
//!
//! A sender that must give up (source unreadable, checksum mismatch) closes the connection
//! without the end marker, preferably with a reset.

use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::{Error, Result};

/// The largest frame: bounds the reader's memory and the granularity of progress.
pub const MAX_FRAME: usize = 1 << 20;

/// Writes a payload as frames, hashing it (unless the sender already knows its sha256).
#[derive(Debug)]
pub struct FrameWriter<W> {
    inner: W,
    total: u64,
    sha: Option<Sha256>,
}

impl<W: AsyncWrite + Unpin> FrameWriter<W> {
    /// Frames written to `inner` (the stream header already sent).
    pub fn new(inner: W) -> FrameWriter<W> {
        FrameWriter {
            inner,
            total: 0,
            sha: Some(Sha256::new()),
        }
    }

    /// Frames written to `inner` without hashing: the sender knows the payload's sha256 (a
    /// stored backup's, from its manifest, or one it computes once for several writers) and
    /// gives it to [`FrameWriter::finish_with`]. The reader checks the payload against it.
    pub fn unhashed(inner: W) -> FrameWriter<W> {
        FrameWriter {
            inner,
            total: 0,
            sha: None,
        }
    }

    /// Sends `data` (any length; empty sends nothing).
    pub async fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        for chunk in data.chunks(MAX_FRAME) {
            // `chunks` yields at most MAX_FRAME (2^20) bytes: the length fits a u32.
            let len = u32::try_from(chunk.len()).unwrap_or(u32::MAX);
            self.inner.write_all(&len.to_be_bytes()).await?;
            self.inner.write_all(chunk).await?;
            if let Some(sha) = self.sha.as_mut() {
                sha.update(chunk);
            }
            self.total += chunk.len() as u64;
        }
        Ok(())
    }

    /// Payload bytes sent so far.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// sha256 of the payload sent so far (`None` for an [`FrameWriter::unhashed`] writer), to
    /// compare with what the payload should be before [`FrameWriter::finish`] vouches for it.
    pub fn digest(&self) -> Option<[u8; 32]> {
        self.sha.as_ref().map(|sha| sha.clone().finalize().into())
    }

    /// Sends the end marker and a trailer with the length and sha256 of what was written,
    /// flushes; returns the writer (to shut it down). An unhashed writer must use
    /// [`FrameWriter::finish_with`].
    pub async fn finish(self) -> std::io::Result<W> {
        let Some(digest) = self.digest() else {
            return Err(std::io::Error::other(
                "an unhashed frame writer was finished without the payload's sha256",
            ));
        };
        self.finish_with(digest).await
    }

    /// Sends the end marker and a trailer with the length written and `digest` (the sha256 the
    /// payload is meant to have), flushes; returns the writer.
    pub async fn finish_with(mut self, digest: [u8; 32]) -> std::io::Result<W> {
        let mut end = [0u8; 4 + 8 + 32];
        end[4..12].copy_from_slice(&self.total.to_be_bytes());
        end[12..].copy_from_slice(&digest);
        self.inner.write_all(&end).await?;
        self.inner.flush().await?;
        Ok(self.inner)
    }

    /// The underlying writer, without an end marker (to abort).
    pub fn into_inner(self) -> W {
        self.inner
    }
}

/// Reads a framed payload, checking the trailer.
#[derive(Debug)]
pub struct FrameReader<R> {
    inner: R,
    left: usize,
    total: u64,
    sha: Sha256,
    ended: bool,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// Frames read from `inner` (positioned after the stream header).
    pub fn new(inner: R) -> FrameReader<R> {
        FrameReader {
            inner,
            left: 0,
            total: 0,
            sha: Sha256::new(),
            ended: false,
        }
    }

    /// Payload bytes received so far.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Reads payload bytes into `buf`; `Ok(0)` only once the trailer arrived and matched.
    pub async fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        if self.ended || buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            let mut len = [0u8; 4];
            self.read_exact(&mut len).await?;
            let len = u32::from_be_bytes(len) as usize;
            if len == 0 {
                self.check_trailer().await?;
                self.ended = true;
                return Ok(0);
            }
            if len > MAX_FRAME {
                return Err(Error::FrameTooLarge {
                    len,
                    max: MAX_FRAME,
                });
            }
            self.left = len;
        }
        let want = self.left.min(buf.len());
        let n = self
            .inner
            .read(&mut buf[..want])
            .await
            .map_err(|e| Error::payload_io(&e))?;
        if n == 0 {
            return Err(Error::PayloadTruncated {
                received: self.total,
            });
        }
        self.sha.update(&buf[..n]);
        self.total += n as u64;
        self.left -= n;
        Ok(n)
    }

    async fn read_exact(&mut self, buf: &mut [u8]) -> Result<()> {
        match self.inner.read_exact(buf).await {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                Err(Error::PayloadTruncated {
                    received: self.total,
                })
            }
            Err(e) => Err(Error::payload_io(&e)),
        }
    }

    async fn check_trailer(&mut self) -> Result<()> {
        let mut trailer = [0u8; 8 + 32];
        self.read_exact(&mut trailer).await?;
        let mut total = [0u8; 8];
        total.copy_from_slice(&trailer[..8]);
        let sent = u64::from_be_bytes(total);
        let digest: [u8; 32] = self.sha.clone().finalize().into();
        if sent != self.total || digest[..] != trailer[8..] {
            return Err(Error::PayloadMismatch {
                sent_bytes: sent,
                received_bytes: self.total,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    async fn framed(payload: &[u8]) -> Vec<u8> {
        let mut w = FrameWriter::new(Vec::new());
        // Uneven writes, one larger than a frame.
        let (a, b) = payload.split_at(payload.len() / 3);
        w.write(a).await.unwrap();
        w.write(b).await.unwrap();
        w.finish().await.unwrap()
    }

    async fn read_all(wire: &[u8]) -> Result<Vec<u8>> {
        let mut r = FrameReader::new(wire);
        let mut out = Vec::new();
        let mut buf = vec![0u8; 70_000];
        loop {
            let n = r.read(&mut buf).await?;
            if n == 0 {
                return Ok(out);
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    fn payload() -> Vec<u8> {
        (0..(3 * MAX_FRAME + 12_345))
            .map(|i| (i * 7 % 251) as u8)
            .collect()
    }

    #[tokio::test]
    async fn a_whole_payload_reads_back() {
        let p = payload();
        let wire = framed(&p).await;
        assert_eq!(read_all(&wire).await.unwrap(), p);
        assert_eq!(read_all(&framed(b"").await).await.unwrap(), b"");
    }

    #[tokio::test]
    async fn a_cut_anywhere_is_an_error() {
        let p = payload();
        let wire = framed(&p).await;
        for cut in [0, 3, 4, 5, MAX_FRAME + 4, wire.len() - 40, wire.len() - 1] {
            let err = read_all(&wire[..cut]).await.unwrap_err();
            assert!(
                matches!(err, Error::PayloadTruncated { .. }),
                "cut at {cut}: {err}"
            );
        }
    }

    #[tokio::test]
    async fn a_flipped_byte_or_a_lying_trailer_is_an_error() {
        let p = payload();
        let mut wire = framed(&p).await;
        wire[100] ^= 1;
        let err = read_all(&wire).await.unwrap_err();
        assert!(matches!(err, Error::PayloadMismatch { .. }), "{err}");
        assert!(err.to_string().contains("sha256"), "{err}");

        let mut wire = framed(&p).await;
        let at = wire.len() - 40;
        wire[at + 7] ^= 1; // the total
        let err = read_all(&wire).await.unwrap_err();
        assert!(matches!(err, Error::PayloadMismatch { .. }), "{err}");
    }

    #[tokio::test]
    async fn an_oversized_frame_is_refused_before_reading_it() {
        let mut wire = ((MAX_FRAME + 1) as u32).to_be_bytes().to_vec();
        wire.extend_from_slice(&[0u8; 16]);
        let err = read_all(&wire).await.unwrap_err();
        assert!(matches!(err, Error::FrameTooLarge { .. }), "{err}");
    }
}
