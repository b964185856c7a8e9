//! The streaming pipeline shared by backups and logs: an async reader feeds a bounded queue of
//! 256 KiB buffers; one blocking thread hashes the raw bytes (sha256), shows them to an
//! inspector (xbstream parser, dump footer check), compresses them with zstd (its own worker
//! threads), encrypts them with age when the repository has keys ([`crate::crypt`]), hashes
//! the stored bytes, and writes them to a storage [`ObjectWriter`].
//!
//! Memory is bounded whatever the stream's size: at most [`QUEUE`] queued buffers, one being
//! read, one being compressed, plus zstd's job buffers. A slow disk slows the reader down
//! (backpressure to the sender) instead of filling memory.
//!
//! A stream compressed on the node ([`Wire::Blocks`], `blocks.rs` reads it) gives zstd frames
//! along with raw bytes: each frame is decompressed for the hash and the inspector, then
//! stored as it came; the raw bytes around them are compressed here, in frames of their own.
//!
//! Nothing is published unless the whole stream arrived, the inspector accepted it, and the
//! compressed object was committed; any failure drops the writer, which discards the object.

use std::io::{self, Write};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

mod blocks;

use crate::crypt::{Keys, MaybeEncrypt};
use crate::error::is_storage_full;
use crate::hashing::HashingWriter;
use crate::inspect::{Findings, Inspector, Refusal};
use crate::storage::{Key, ObjectWriter, Storage};
use crate::{Error, Result};

/// Size of one buffer between the reader and the compressor.
pub const CHUNK: usize = 256 * 1024;
/// Buffers queued between the reader and the compressor.
pub const QUEUE: usize = 8;

/// zstd settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compression {
    /// The zstd level, 1 to 19 (3 is zstd's default: fast, and about as good as gzip -6).
    pub level: i32,
    /// zstd worker threads; 0 compresses on the pipeline's own thread.
    pub threads: u32,
}

impl Default for Compression {
    fn default() -> Self {
        Compression {
            level: 3,
            threads: 2,
        }
    }
}

impl Compression {
    /// Refuses settings zstd would silently clamp.
    pub fn check(&self) -> Result<()> {
        if !(1..=19).contains(&self.level) {
            return Err(Error::InvalidRequest {
                detail: format!("zstd level {} is not between 1 and 19", self.level),
            });
        }
        if self.threads > 64 {
            return Err(Error::InvalidRequest {
                detail: format!("{} zstd threads is more than 64", self.threads),
            });
        }
        Ok(())
    }
}

/// How a payload arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Wire {
    /// The raw stream.
    #[default]
    Plain,
    /// Compressed blocks from the node ([`ferryman_proto::blocks`]).
    Blocks,
}

/// What the pipeline stored.
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    pub raw_bytes: u64,
    pub stored_bytes: u64,
    pub raw_sha256: String,
    pub stored_sha256: String,
    pub findings: Findings,
    /// Raw bytes that arrived compressed by the node (stored as they came).
    pub node_compressed: u64,
}

/// One message to the compressor thread. A closed queue without `End` means "abandon".
enum Msg {
    /// Raw bytes, to compress.
    Data(Vec<u8>),
    /// zstd frames from the node that decompress to `raw_len` bytes, to store as they are.
    Frame {
        raw_len: usize,
        bytes: Vec<u8>,
    },
    End,
}

/// Why the compressor thread stopped early.
enum ThreadError {
    /// The reader gave up (read error, cancellation): nothing to report from here.
    Abandoned,
    /// Writing the compressed bytes failed.
    Write(io::Error),
    /// The inspector refused the stream.
    Refused(Refusal),
    /// A node's zstd block does not decompress to what it says (raw offset, detail).
    BadBlock(u64, String),
    /// Committing the object failed.
    Commit(Error),
}

/// Why the reading side stopped early.
enum ReadStop {
    Failed(io::Error),
    /// A block header out of bounds (a stream in blocks).
    Bad(String),
    Cancelled,
    /// The compressor thread stopped; its result says why.
    CompressorGone,
}

/// Streams `reader` (arriving as `wire` says) into the object `key`, encrypted for `keys` when
/// given. `subject` names what is stored in errors ("backup shop/db1/20261121T025800Z-j42
/// (mariabackup from 10.0.0.5)").
#[allow(clippy::too_many_arguments)]
pub(crate) async fn store<R: AsyncRead + Unpin + Send>(
    storage: &dyn Storage,
    key: &Key,
    compression: Compression,
    keys: Option<Arc<Keys>>,
    inspector: Box<dyn Inspector>,
    wire: Wire,
    mut reader: R,
    cancel: &CancellationToken,
    subject: &str,
) -> Result<Stored> {
    compression.check()?;
    let writer = storage.create(key).await.map_err(|e| e.about(subject))?;
    let queue = match wire {
        Wire::Plain => QUEUE,
        Wire::Blocks => blocks::QUEUE_BLOCKS,
    };
    let (tx, rx) = mpsc::channel::<Msg>(queue);
    let compressor = tokio::task::spawn_blocking(move || {
        compress(Input::Queue(rx), writer, compression, keys, inspector)
    });

    let mut received: u64 = 0;
    let stop = match wire {
        Wire::Plain => read_into(&mut reader, &tx, cancel, &mut received).await,
        Wire::Blocks => blocks::read_into(&mut reader, &tx, cancel, &mut received).await,
    };
    drop(tx);
    let compressed = compressor.await.map_err(Error::worker)?;
    match (stop, compressed) {
        (Err(ReadStop::Failed(source)), _) => Err(Error::StreamBroken {
            subject: subject.to_owned(),
            bytes: received,
            source,
        }),
        (Err(ReadStop::Cancelled), _) => Err(Error::Cancelled {
            subject: subject.to_owned(),
            bytes: received,
        }),
        (Err(ReadStop::Bad(detail)), _) => Err(Error::BadBlock {
            subject: subject.to_owned(),
            offset: received,
            detail,
        }),
        (_, Ok(stored)) => Ok(stored),
        (_, Err(e)) => Err(failure(storage, key, subject, e).await),
    }
}

/// Stores `bytes`, already in memory, into the object `key` as [`store`] does with a stream,
/// without copying them into buffers; `sha256` is their hash, which the caller computed
/// already (it is not computed again).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn store_memory(
    storage: &dyn Storage,
    key: &Key,
    compression: Compression,
    keys: Option<Arc<Keys>>,
    inspector: Box<dyn Inspector>,
    bytes: Arc<Vec<u8>>,
    sha256: String,
    subject: &str,
) -> Result<Stored> {
    compression.check()?;
    let writer = storage.create(key).await.map_err(|e| e.about(subject))?;
    let input = Input::Memory { bytes, sha256 };
    let compressed =
        tokio::task::spawn_blocking(move || compress(input, writer, compression, keys, inspector))
            .await
            .map_err(Error::worker)?;
    match compressed {
        Ok(stored) => Ok(stored),
        Err(e) => Err(failure(storage, key, subject, e).await),
    }
}

/// The error of a compressor thread that stopped early.
async fn failure(storage: &dyn Storage, key: &Key, subject: &str, e: ThreadError) -> Error {
    match e {
        ThreadError::Write(e) if is_storage_full(&e) => Error::StorageFull {
            root: storage.location(),
            free: storage.free_space().await.ok().flatten(),
            what: subject.to_owned(),
        },
        ThreadError::Write(source) => {
            Error::from_io(source, "write", format!("{key} in {}", storage.location()))
        }
        ThreadError::Refused(Refusal::Corrupt { offset, detail }) => Error::Corrupt {
            subject: subject.to_owned(),
            offset,
            detail,
        },
        ThreadError::Refused(Refusal::Incomplete(detail)) => Error::Incomplete {
            subject: subject.to_owned(),
            detail,
        },
        ThreadError::BadBlock(offset, detail) => Error::BadBlock {
            subject: subject.to_owned(),
            offset,
            detail,
        },
        ThreadError::Commit(e) => e.about(subject),
        ThreadError::Abandoned => Error::Worker {
            detail: "the compressor stopped although the whole stream was sent".to_owned(),
        },
    }
}

/// Reads the whole stream into the queue, in full buffers (fewer hand-offs than the reader's
/// natural 16–64 KiB reads), then sends `End`.
async fn read_into<R: AsyncRead + Unpin>(
    reader: &mut R,
    tx: &mpsc::Sender<Msg>,
    cancel: &CancellationToken,
    received: &mut u64,
) -> std::result::Result<(), ReadStop> {
    loop {
        let mut buf = Vec::with_capacity(CHUNK);
        let mut eof = false;
        while buf.len() < CHUNK {
            let n = tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(ReadStop::Cancelled),
                n = reader.read_buf(&mut buf) => n.map_err(ReadStop::Failed)?,
            };
            if n == 0 {
                eof = true;
                break;
            }
            *received += n as u64;
        }
        for msg in [
            (!buf.is_empty()).then_some(Msg::Data(buf)),
            eof.then_some(Msg::End),
        ]
        .into_iter()
        .flatten()
        {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(ReadStop::Cancelled),
                sent = tx.send(msg) => sent.map_err(|_| ReadStop::CompressorGone)?,
            }
        }
        if eof {
            return Ok(());
        }
    }
}

/// Where the compressor thread takes the raw bytes from.
enum Input {
    /// Buffers from the reading side, until `End`.
    Queue(mpsc::Receiver<Msg>),
    /// Bytes in memory, with their sha256.
    Memory { bytes: Arc<Vec<u8>>, sha256: String },
}

/// The compressor thread: hash, inspect, compress, hash, write; commit only after the whole
/// input (`End` from a queue).
fn compress(
    input: Input,
    writer: Box<dyn ObjectWriter>,
    compression: Compression,
    keys: Option<Arc<Keys>>,
    mut inspector: Box<dyn Inspector>,
) -> std::result::Result<Stored, ThreadError> {
    let stored = HashingWriter::new(writer);
    let sink = MaybeEncrypt::new(stored, keys.as_deref()).map_err(ThreadError::Write)?;
    let mut out = Frames::new(sink, compression);
    // The raw bytes' hash: computed here from a queue, given with bytes in memory.
    let (mut raw_sha, known_sha) = match &input {
        Input::Memory { sha256, .. } => (None, Some(sha256.clone())),
        Input::Queue(_) => (Some(Sha256::new()), None),
    };
    let mut raw_bytes = 0u64;
    let mut node_compressed = 0u64;
    let mut see = |buf: &[u8]| -> std::result::Result<(), ThreadError> {
        if let Some(sha) = raw_sha.as_mut() {
            sha.update(buf);
        }
        inspector.feed(buf).map_err(ThreadError::Refused)
    };
    let mut decompressor = None;
    match input {
        Input::Queue(mut rx) => loop {
            match rx.blocking_recv() {
                Some(Msg::Data(buf)) => {
                    see(&buf)?;
                    raw_bytes += buf.len() as u64;
                    out.raw(&buf).map_err(ThreadError::Write)?;
                }
                Some(Msg::Frame { raw_len, bytes }) => {
                    let offset = raw_bytes;
                    let raw = decompress(&mut decompressor, &bytes, raw_len)
                        .map_err(|detail| ThreadError::BadBlock(offset, detail))?;
                    see(&raw)?;
                    raw_bytes += raw.len() as u64;
                    node_compressed += raw.len() as u64;
                    out.frame(&bytes).map_err(ThreadError::Write)?;
                }
                Some(Msg::End) => break,
                None => return Err(ThreadError::Abandoned),
            }
        },
        Input::Memory { bytes, .. } => {
            for chunk in bytes.chunks(CHUNK) {
                see(chunk)?;
                raw_bytes += chunk.len() as u64;
                out.raw(chunk).map_err(ThreadError::Write)?;
            }
        }
    }
    // Judge the stream before publishing anything.
    let findings = inspector.finish().map_err(ThreadError::Refused)?;
    let sink = out.finish().map_err(ThreadError::Write)?;
    let (stored_bytes, stored_sha256) = sink
        .finish()
        .map_err(ThreadError::Write)?
        .commit()
        .map_err(ThreadError::Commit)?;
    Ok(Stored {
        raw_bytes,
        stored_bytes,
        raw_sha256: known_sha
            .or_else(|| raw_sha.map(|sha| hex::encode(sha.finalize())))
            .unwrap_or_default(),
        stored_sha256,
        findings,
        node_compressed,
    })
}

/// A node's zstd block decompressed, checked to be exactly `raw_len` bytes (its frames'
/// checksums are checked by zstd on the way).
fn decompress(
    decompressor: &mut Option<zstd::bulk::Decompressor<'static>>,
    bytes: &[u8],
    raw_len: usize,
) -> std::result::Result<Vec<u8>, String> {
    // The node's frames carry their content checksum, so a damaged frame cannot decode to
    // other bytes of the right length unseen.
    const MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
    const CHECKSUM_FLAG: u8 = 0x04;
    match bytes.get(..5) {
        Some(head) if head[..4] == MAGIC && head[4] & CHECKSUM_FLAG != 0 => {}
        Some(head) if head[..4] == MAGIC => {
            return Err("a zstd frame without its content checksum".to_owned())
        }
        _ => return Err("a zstd block that does not start with a zstd frame".to_owned()),
    }
    let d = match decompressor {
        Some(d) => d,
        None => decompressor.insert(
            zstd::bulk::Decompressor::new().map_err(|e| format!("no zstd decompressor ({e})"))?,
        ),
    };
    let raw = d.decompress(bytes, raw_len).map_err(|e| {
        format!(
            "a zstd block of {} bytes does not decompress: {e}",
            bytes.len()
        )
    })?;
    if raw.len() != raw_len {
        return Err(format!(
            "a zstd block says {raw_len} raw bytes and decompresses to {}",
            raw.len()
        ));
    }
    Ok(raw)
}

/// The stored stream: zstd frames, made here from raw bytes or taken whole from the node.
/// Consecutive raw bytes go into one frame, which ends when a node's frame comes.
struct Frames<W: Write> {
    /// The sink while no frame of ours is open.
    sink: Option<W>,
    /// Our open frame.
    encoder: Option<zstd::stream::write::Encoder<'static, W>>,
    compression: Compression,
    /// Whether anything was written: an empty stream is stored as one empty frame.
    written: bool,
}

impl<W: Write> Frames<W> {
    fn new(sink: W, compression: Compression) -> Frames<W> {
        Frames {
            sink: Some(sink),
            encoder: None,
            compression,
            written: false,
        }
    }

    /// Raw bytes, compressed into our open frame (opened if need be).
    fn raw(&mut self, buf: &[u8]) -> io::Result<()> {
        if self.encoder.is_none() {
            let sink = self.sink.take().ok_or_else(gone)?;
            let mut encoder = zstd::stream::write::Encoder::new(sink, self.compression.level)?;
            if self.compression.threads > 0 {
                encoder.multithread(self.compression.threads)?;
            }
            // A frame checksum lets a plain `zstd -t` spot a damaged payload without the
            // manifest.
            encoder.include_checksum(true)?;
            self.encoder = Some(encoder);
        }
        self.written = true;
        self.encoder.as_mut().ok_or_else(gone)?.write_all(buf)
    }

    /// A node's frames, stored as they are after our open frame is closed.
    fn frame(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.close()?;
        self.written = true;
        self.sink.as_mut().ok_or_else(gone)?.write_all(bytes)
    }

    /// Closes our open frame, if any.
    fn close(&mut self) -> io::Result<()> {
        if let Some(encoder) = self.encoder.take() {
            self.sink = Some(encoder.finish()?);
        }
        Ok(())
    }

    /// The sink, every frame closed.
    fn finish(mut self) -> io::Result<W> {
        if !self.written {
            self.raw(&[])?;
        }
        self.close()?;
        self.sink.take().ok_or_else(gone)
    }
}

fn gone() -> io::Error {
    io::Error::other("the payload's sink was lost between frames")
}
