//! The ends of a mysqldump stream, kept as it passes: its footer says whether the dump is
//! whole, its head and tail hold the coordinates.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

/// What mysqldump writes as its last line (followed by the date unless `--skip-dump-date`).
pub(super) const FOOTER: &str = "-- Dump completed";
/// How much of a dump's beginning is kept: the `CHANGE MASTER` comment is within the first
/// 2 KiB (mariadb-dump 10.11), well before any table.
pub(super) const HEAD_KEEP: usize = 16 * 1024;
/// How much of a dump's end is kept: the footer, and before it (with `--gtid`) the deferred
/// `SET GLOBAL gtid_slave_pos` comment, about 600 bytes from the end; room for long GTID lists.
pub(super) const TAIL_KEEP: usize = 8 * 1024;

/// Passes a stream through unchanged, keeping its first [`HEAD_KEEP`] and last [`TAIL_KEEP`]
/// bytes: bounded memory, whatever the dump's size.
#[derive(Debug)]
pub(super) struct HeadTail<R> {
    inner: R,
    /// The first [`HEAD_KEEP`] bytes.
    pub(super) head: Vec<u8>,
    /// At least the last [`TAIL_KEEP`] bytes (all of them when fewer passed).
    pub(super) tail: Vec<u8>,
}

impl<R> HeadTail<R> {
    pub(super) fn new(inner: R) -> Self {
        HeadTail {
            inner,
            head: Vec::with_capacity(HEAD_KEEP),
            tail: Vec::with_capacity(2 * TAIL_KEEP),
        }
    }

    pub(super) fn record(&mut self, chunk: &[u8]) {
        let room = HEAD_KEEP - self.head.len();
        self.head.extend_from_slice(&chunk[..room.min(chunk.len())]);
        let chunk = &chunk[chunk.len().saturating_sub(TAIL_KEEP)..];
        self.tail.extend_from_slice(chunk);
        // Trim only once twice the size is reached: the copy stays amortised O(1) per byte.
        if self.tail.len() >= 2 * TAIL_KEEP {
            self.tail.drain(..self.tail.len() - TAIL_KEEP);
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for HeadTail<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        this.record(&buf.filled()[before..]);
        Poll::Ready(Ok(()))
    }
}

/// True when the last non-empty line is mysqldump's `-- Dump completed [on DATE]`.
pub(crate) fn ends_with_footer(tail: &[u8]) -> bool {
    String::from_utf8_lossy(tail)
        .trim_end()
        .lines()
        .next_back()
        .is_some_and(|line| line.starts_with(FOOTER))
}
