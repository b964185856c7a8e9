//! Compression on the node: the stream cut into blocks ([`ferryman_proto::blocks`]), each
//! compressed into a zstd frame on a blocking thread, or sent raw, and written to the socket
//! in order by a task of its own while the next blocks are read and compressed.
//!
//! # How `auto` decides, block by block
//! Two rates are measured as the stream goes: the compressors' (raw bytes per second, all
//! threads together) and the link's (bytes written per second of writing: the network or the
//! receiver, whichever is slower). The link is timed over windows of [`LINK_WINDOW`] bytes,
//! not block by block: a write that lands in the socket's free buffer takes no time and the
//! next one waits for the whole buffer, so single blocks say little. While the compressors outrun the link, every block is
//! compressed: it costs no time and saves wire and storage. When the link is faster, a block
//! is compressed only if a compressor is free, and sent raw otherwise, so the link never
//! waits for the CPU; the manager compresses the raw ones. `node` compresses every block.
//!
//! # Memory
//! At most `threads` blocks being compressed, `threads + 1` queued for the socket, and one
//! being filled: a few blocks of [`BLOCK`] bytes whatever the backup's size.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferryman_proto::blocks::{BlockHeader, BlockKind, CompressionSite, StreamCompression, BLOCK};
use ferryman_tls::Conn;
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// How many written bytes make one sample of the link's rate.
const LINK_WINDOW: u64 = 16 << 20;

/// A block ready for the socket: its header and bytes.
struct Block {
    header: BlockHeader,
    bytes: Vec<u8>,
}

/// A block on its way to the socket, in stream order.
enum Pending {
    Ready(Block),
    Compressing(JoinHandle<io::Result<Block>>),
}

/// The rates `auto` decides by, in nanoseconds per MiB (0: not measured yet), smoothed.
#[derive(Debug, Default)]
struct Rates {
    /// One compressor thread's time per raw MiB.
    zstd: AtomicU64,
    /// The socket's time per written MiB.
    link: AtomicU64,
}

impl Rates {
    fn record(cell: &AtomicU64, bytes: usize, took: Duration) {
        if bytes == 0 {
            return;
        }
        let sample = (took.as_nanos() as f64 * (1 << 20) as f64 / bytes as f64) as u64;
        let old = cell.load(Ordering::Relaxed);
        // An exponential average over the last few blocks: quick to follow a change of
        // link, steady over one slow write.
        let new = if old == 0 {
            sample.max(1)
        } else {
            ((old * 3 + sample) / 4).max(1)
        };
        cell.store(new, Ordering::Relaxed);
    }

    /// Whether `threads` compressors take raw bytes faster than the link takes blocks, or
    /// nothing is known yet (then compress: the first blocks measure).
    fn compressors_outrun_link(&self, threads: u32) -> bool {
        let zstd = self.zstd.load(Ordering::Relaxed);
        let link = self.link.load(Ordering::Relaxed);
        zstd == 0 || link == 0 || zstd / u64::from(threads.max(1)) <= link
    }

    fn mib_per_s(ns_per_mib: u64) -> f64 {
        if ns_per_mib == 0 {
            0.0
        } else {
            1e9 / ns_per_mib as f64
        }
    }
}

/// What the blocks of a stream were.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BlockSummary {
    /// Raw bytes read from the source.
    pub raw: u64,
    /// Raw bytes sent compressed.
    pub compressed_raw: u64,
    /// Bytes written to the socket (headers included).
    pub wire: u64,
    /// The compressors' last measured rate, all threads together, MiB/s.
    pub zstd_mib_s: f64,
    /// The link's rate over the whole stream (bytes written per second spent writing), MiB/s.
    pub link_mib_s: f64,
    /// The zstd level.
    pub level: i32,
    /// Compressor threads.
    pub threads: u32,
    /// `auto` or `node`.
    pub site: Option<CompressionSite>,
}

impl BlockSummary {
    /// "zstd 1 on the node (auto, 2 threads): 97 % of the raw bytes, 2.3 GiB sent as 0.9 GiB;
    /// link 112 MiB/s, compressors 410 MiB/s".
    pub fn describe(&self) -> String {
        let share = if self.raw == 0 {
            100.0
        } else {
            self.compressed_raw as f64 * 100.0 / self.raw as f64
        };
        format!(
            "zstd {} on the node ({}, {} threads): {share:.0} % of the raw bytes, {} sent as {}; link {:.0} MiB/s, compressors {:.0} MiB/s",
            self.level,
            self.site.map(|s| s.as_str()).unwrap_or("node"),
            self.threads,
            crate::progress::bytes(self.raw),
            crate::progress::bytes(self.wire),
            self.link_mib_s,
            self.zstd_mib_s,
        )
    }
}

/// The blocks of one stream: the block being filled, the compressors, the socket's task.
pub(super) struct Blocks {
    settings: StreamCompression,
    current: Vec<u8>,
    tx: Option<mpsc::Sender<Pending>>,
    writer: Option<JoinHandle<io::Result<Written>>>,
    stop: CancellationToken,
    compressors: Arc<Semaphore>,
    rates: Arc<Rates>,
    raw: u64,
    compressed_raw: u64,
}

impl Blocks {
    /// Blocks written to `conn` (the header already sent) by a task of their own.
    pub(super) fn start(conn: Conn, settings: StreamCompression) -> Blocks {
        let threads = settings.threads.max(1);
        let (tx, rx) = mpsc::channel(threads as usize + 1);
        let rates = Arc::new(Rates::default());
        let stop = CancellationToken::new();
        // In the job's span; joined by `finish`, stopped by `abort` or a drop.
        let writer = tokio::spawn(
            write_in_order(conn, rx, Arc::clone(&rates), stop.clone())
                .instrument(tracing::Span::current()),
        );
        Blocks {
            settings,
            current: Vec::with_capacity(BLOCK),
            tx: Some(tx),
            writer: Some(writer),
            stop,
            compressors: Arc::new(Semaphore::new(threads as usize)),
            rates,
            raw: 0,
            compressed_raw: 0,
        }
    }

    /// Takes `data` (any length): full blocks go on their way. An error is the socket's
    /// (the writer stopped), or a compressor's.
    pub(super) async fn push(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let take = (BLOCK - self.current.len()).min(data.len());
            self.current.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.current.len() == BLOCK {
                let block = std::mem::replace(&mut self.current, Vec::with_capacity(BLOCK));
                self.dispatch(block).await?;
            }
        }
        Ok(())
    }

    /// Sends the last partial block, waits for every block to be written, and gives the
    /// connection back (for its end-of-file) with what the blocks were.
    pub(super) async fn finish(mut self) -> io::Result<(Conn, BlockSummary)> {
        if !self.current.is_empty() {
            let block = std::mem::take(&mut self.current);
            self.dispatch(block).await?;
        }
        self.tx = None;
        let written = self.join_writer().await?;
        let link_mib_s = if written.writing.is_zero() {
            0.0
        } else {
            written.wire as f64 / written.writing.as_secs_f64() / f64::from(1 << 20)
        };
        let summary = BlockSummary {
            raw: self.raw,
            compressed_raw: self.compressed_raw,
            wire: written.wire,
            zstd_mib_s: Rates::mib_per_s(self.rates.zstd.load(Ordering::Relaxed))
                * f64::from(self.settings.threads.max(1)),
            link_mib_s,
            level: self.settings.level,
            threads: self.settings.threads,
            site: Some(self.settings.site),
        };
        Ok((written.conn, summary))
    }

    /// Stops: the writer resets the connection (the receiver must not take a cut stream for a
    /// whole one), compressions in flight are dropped.
    pub(super) fn abort(mut self) {
        self.tx = None;
        self.stop.cancel();
    }

    async fn dispatch(&mut self, raw: Vec<u8>) -> io::Result<()> {
        let len = raw.len();
        let permit = match self.settings.site {
            CompressionSite::Auto if !self.rates.compressors_outrun_link(self.settings.threads) => {
                Arc::clone(&self.compressors).try_acquire_owned().ok()
            }
            _ => Some(
                Arc::clone(&self.compressors)
                    .acquire_owned()
                    .await
                    .map_err(|_| io::Error::other("the compressors were closed"))?,
            ),
        };
        let pending = match permit {
            None => Pending::Ready(Block {
                header: BlockHeader {
                    kind: BlockKind::Raw,
                    raw_len: len as u32,
                    len: len as u32,
                },
                bytes: raw,
            }),
            Some(permit) => {
                self.compressed_raw += len as u64;
                let level = self.settings.level;
                let rates = Arc::clone(&self.rates);
                Pending::Compressing(tokio::task::spawn_blocking(move || {
                    let started = Instant::now();
                    let block = compress(&raw, level);
                    Rates::record(&rates.zstd, raw.len(), started.elapsed());
                    drop(permit);
                    block
                }))
            }
        };
        self.raw += len as u64;
        let sent = match &self.tx {
            Some(tx) => tx.send(pending).await.is_ok(),
            None => false,
        };
        if sent {
            return Ok(());
        }
        // The writer stopped: its error says why.
        self.tx = None;
        match self.join_writer().await {
            Err(e) => Err(e),
            Ok(_) => Err(io::Error::other("the stream's writer stopped early")),
        }
    }

    async fn join_writer(&mut self) -> io::Result<Written> {
        let Some(writer) = self.writer.take() else {
            return Err(io::Error::other("the stream's writer already stopped"));
        };
        writer
            .await
            .map_err(|e| io::Error::other(format!("the stream's writer failed: {e}")))?
    }
}

impl Drop for Blocks {
    fn drop(&mut self) {
        // Dropped without finish (an error, a cancelled job): nothing more may be sent.
        if self.writer.is_some() {
            self.stop.cancel();
        }
    }
}

/// One block compressed into a zstd frame with its checksum, by this thread's compressor.
fn compress(raw: &[u8], level: i32) -> io::Result<Block> {
    thread_local! {
        static COMPRESSOR: std::cell::RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> =
            const { std::cell::RefCell::new(None) };
    }
    COMPRESSOR.with(|cell| {
        let mut cell = cell.borrow_mut();
        if cell.as_ref().map(|(l, _)| *l) != Some(level) {
            let mut c = zstd::bulk::Compressor::new(level)?;
            c.set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(true))?;
            *cell = Some((level, c));
        }
        let Some((_, c)) = cell.as_mut() else {
            return Err(io::Error::other("no zstd compressor"));
        };
        let bytes = c.compress(raw)?;
        Ok(Block {
            header: BlockHeader {
                kind: BlockKind::Zstd,
                raw_len: raw.len() as u32,
                len: bytes.len() as u32,
            },
            bytes,
        })
    })
}

/// What the socket's task wrote.
struct Written {
    conn: Conn,
    /// Bytes written (headers included).
    wire: u64,
    /// Time spent in writes (not waiting for blocks).
    writing: Duration,
}

/// The socket's task: blocks in stream order, the writes timed (the link's rate, sampled every
/// [`LINK_WINDOW`] bytes). Returns the connection and what was written; on `stop`, resets the
/// connection.
async fn write_in_order(
    mut conn: Conn,
    mut rx: mpsc::Receiver<Pending>,
    rates: Arc<Rates>,
    stop: CancellationToken,
) -> io::Result<Written> {
    let mut wire = 0u64;
    let mut writing = Duration::ZERO;
    let (mut window_bytes, mut window_time) = (0u64, Duration::ZERO);
    loop {
        let next = tokio::select! {
            biased;
            _ = stop.cancelled() => None,
            p = rx.recv() => match p {
                Some(p) => Some(p),
                None => return Ok(Written { conn, wire, writing }),
            },
        };
        let Some(next) = next else {
            conn.reset();
            return Err(io::Error::other("the stream was aborted"));
        };
        let block = match next {
            Pending::Ready(b) => b,
            Pending::Compressing(handle) => {
                let joined = tokio::select! {
                    biased;
                    _ = stop.cancelled() => {
                        conn.reset();
                        return Err(io::Error::other("the stream was aborted"));
                    }
                    j = handle => j,
                };
                joined.map_err(|e| io::Error::other(format!("a compressor failed: {e}")))??
            }
        };
        let started = Instant::now();
        let write = async {
            conn.write_all(&block.header.encode()).await?;
            conn.write_all(&block.bytes).await
        };
        tokio::select! {
            biased;
            _ = stop.cancelled() => {
                conn.reset();
                return Err(io::Error::other("the stream was aborted"));
            }
            r = write => r?,
        }
        let took = started.elapsed();
        let written = (block.bytes.len() + ferryman_proto::blocks::BLOCK_HEADER_LEN) as u64;
        wire += written;
        writing += took;
        window_bytes += written;
        window_time += took;
        if window_bytes >= LINK_WINDOW {
            Rates::record(&rates.link, window_bytes as usize, window_time);
            (window_bytes, window_time) = (0, Duration::ZERO);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_compresses_while_the_compressors_outrun_the_link() {
        let r = Rates::default();
        assert!(r.compressors_outrun_link(2), "nothing measured: compress");
        // One thread: 10 ms per MiB (100 MiB/s); link 8 ms per MiB (125 MiB/s).
        r.zstd.store(10_000_000, Ordering::Relaxed);
        r.link.store(8_000_000, Ordering::Relaxed);
        assert!(!r.compressors_outrun_link(1));
        assert!(r.compressors_outrun_link(2), "two threads: 200 MiB/s");
        Rates::record(&r.link, 1 << 20, Duration::from_millis(40));
        assert_eq!(r.link.load(Ordering::Relaxed), 16_000_000);
        assert!(r.compressors_outrun_link(1));
    }

    #[test]
    fn a_block_compresses_into_one_checked_frame() {
        let raw: Vec<u8> = (0..BLOCK).map(|i| (i % 251) as u8).collect();
        let block = compress(&raw, 1).unwrap();
        assert_eq!(block.header.kind, BlockKind::Zstd);
        assert_eq!(block.header.raw_len as usize, raw.len());
        assert!(block.bytes.len() < raw.len() / 10);
        let back = zstd::bulk::decompress(&block.bytes, raw.len()).unwrap();
        assert_eq!(back, raw);
        let decoded = BlockHeader::decode(&block.header.encode()).unwrap();
        assert_eq!(decoded, block.header);
    }
}
