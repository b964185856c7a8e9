//! The reading side of a stream compressed on the node ([`ferryman_proto::blocks`]): block
//! headers are checked here, raw blocks go on to the compressor thread in [`CHUNK`] pieces,
//! zstd blocks whole (the thread decompresses them to check the raw bytes, then stores the
//! frames as they came).
//!
//! Memory: a zstd block is at most [`MAX_BLOCK`]'s bound, and the queue holds
//! [`QUEUE_BLOCKS`] messages, so a stream costs a few blocks whatever its size.

use ferryman_proto::blocks::{BlockHeader, BlockKind, BLOCK_HEADER_LEN};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Msg, ReadStop, CHUNK};

/// Messages queued between the reader and the compressor thread for a stream in blocks.
pub(super) const QUEUE_BLOCKS: usize = 2;

/// Reads a stream of blocks into the queue, then sends `End`. `received` counts raw bytes (a
/// zstd block counts its raw length), the unit errors report offsets in.
pub(super) async fn read_into<R: AsyncRead + Unpin>(
    reader: &mut R,
    tx: &mpsc::Sender<Msg>,
    cancel: &CancellationToken,
    received: &mut u64,
) -> Result<(), ReadStop> {
    loop {
        let mut head = [0u8; BLOCK_HEADER_LEN];
        let got = fill(reader, &mut head, cancel).await?;
        if got == 0 {
            return send(tx, Msg::End, cancel).await;
        }
        if got < BLOCK_HEADER_LEN {
            return Err(ReadStop::Failed(cut(
                "a block header",
                got,
                BLOCK_HEADER_LEN,
            )));
        }
        let header = BlockHeader::decode(&head).map_err(|e| ReadStop::Bad(e.to_string()))?;
        match header.kind {
            BlockKind::Raw => {
                let mut left = header.raw_len as usize;
                while left > 0 {
                    let mut buf = vec![0u8; left.min(CHUNK)];
                    let n = fill(reader, &mut buf, cancel).await?;
                    if n < buf.len() {
                        return Err(ReadStop::Failed(cut("a raw block", n, buf.len())));
                    }
                    left -= n;
                    *received += n as u64;
                    send(tx, Msg::Data(buf), cancel).await?;
                }
            }
            BlockKind::Zstd => {
                let mut bytes = vec![0u8; header.len as usize];
                let n = fill(reader, &mut bytes, cancel).await?;
                if n < bytes.len() {
                    return Err(ReadStop::Failed(cut("a zstd block", n, bytes.len())));
                }
                *received += u64::from(header.raw_len);
                let raw_len = header.raw_len as usize;
                send(tx, Msg::Frame { raw_len, bytes }, cancel).await?;
            }
        }
    }
}

/// Reads until `buf` is full or the stream ends; returns the bytes read.
async fn fill<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut [u8],
    cancel: &CancellationToken,
) -> Result<usize, ReadStop> {
    let mut got = 0;
    while got < buf.len() {
        let n = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(ReadStop::Cancelled),
            n = reader.read(&mut buf[got..]) => n.map_err(ReadStop::Failed)?,
        };
        if n == 0 {
            break;
        }
        got += n;
    }
    Ok(got)
}

async fn send(
    tx: &mpsc::Sender<Msg>,
    msg: Msg,
    cancel: &CancellationToken,
) -> Result<(), ReadStop> {
    tokio::select! {
        biased;
        _ = cancel.cancelled() => Err(ReadStop::Cancelled),
        sent = tx.send(msg) => sent.map_err(|_| ReadStop::CompressorGone),
    }
}

fn cut(what: &str, got: usize, expected: usize) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::UnexpectedEof,
        format!("the stream ended inside {what} ({got} of {expected} bytes)"),
    )
}
