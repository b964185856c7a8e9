//! The stream sender: the agent's side of the data channel, replacing `socat -u stdio TCP:…`.
//!
//! It connects to the job's `server:port`, retrying until a deadline (the manager may open its
//! listener a moment after writing the row), opens with the Ferryman stream header when the job
//! carries a token (our manager) or sends raw bytes when it does not (replication-manager and
//! its socat listeners), speaks TLS to our manager when the agent has a certificate
//! (`agent.tls-*`, see `tls.rs`; never to a legacy listener, which cannot), copies with one fixed buffer (memory does not grow with the backup),
//! and counts what it sent. When the manager asks for it in the row (`params`), a backup is
//! compressed on the node, in blocks (`sender/blocks.rs`).

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

mod blocks;

pub use blocks::BlockSummary;

use ferryman_jobs::Job;
use ferryman_proto::blocks::{BackupParams, StreamCompression};
use ferryman_proto::{write_header, StreamHeader, StreamKind, Task};
use ferryman_tls::Conn;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::progress::{self, Progress};
use crate::tls::AgentTls;
use crate::{Error, Result};

/// The copy buffer: large enough for full-speed local streams, small enough to be irrelevant.
const BUFFER: usize = 256 * 1024;
/// First pause between connection attempts; doubled up to [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_millis(100);
/// Longest pause between connection attempts.
const RETRY_MAX: Duration = Duration::from_secs(2);
/// How long to wait, after our end-of-stream, for the receiver to close its side: a receiver
/// that closes has read everything we sent. Legacy listeners may linger; we do not fail then.
const CLOSE_WAIT: Duration = Duration::from_secs(10);

/// Where a job's stream goes, and how it opens.
#[derive(Debug, Clone)]
pub struct Receiver {
    /// `host:port`.
    address: String,
    /// The host of `address`, which the receiver's certificate must name.
    host: String,
    /// The header to send first; `None` for a raw (legacy) stream.
    header: Option<StreamHeader>,
    /// TLS for an authenticated stream; `None`: plain TCP.
    tls: Option<AgentTls>,
    /// Compression on the node, when the manager asked for it (an authenticated backup).
    compression: Option<StreamCompression>,
    /// The address to send from: the server's own, when its `host` is an address.
    source: Option<IpAddr>,
}

impl Receiver {
    /// The receiver named by `job`'s `server` and `port` columns; with a header when the row
    /// carries a token.
    pub fn of_job(job: &Job, task: Task, kind: StreamKind) -> Result<Receiver> {
        let server = job.server.as_deref().map(str::trim).unwrap_or_default();
        let port = job
            .port
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p != 0);
        let (false, Some(port)) = (server.is_empty(), port) else {
            return Err(Error::NoReceiver {
                job_id: job.id.0,
                task,
                server: job.server.clone().unwrap_or_else(|| "NULL".to_owned()),
                port: job
                    .port
                    .map(|p| p.to_string())
                    .unwrap_or_else(|| "NULL".to_owned()),
            });
        };
        let header = match &job.token {
            None => None,
            Some(token) => {
                let token = token.stream_token().map_err(|source| Error::BadToken {
                    job_id: job.id.0,
                    source,
                })?;
                Some(StreamHeader::new(kind, job.id.0, token))
            }
        };
        // Only our manager's backups can arrive in blocks; a legacy listener takes raw bytes.
        let compression = match (kind, &header) {
            (StreamKind::Backup, Some(_)) => {
                let params = job.params_json()?;
                BackupParams::from_json(params.as_ref())
                    .map_err(|e| Error::BadParams {
                        job_id: job.id.0,
                        detail: e.to_string(),
                    })?
                    .stream_compression
            }
            _ => None,
        };
        Ok(Receiver {
            address: ferryman_proto::address::join(server, port),
            host: server.to_owned(),
            header: header.map(|h| match compression {
                Some(_) => h.in_blocks(),
                None => h,
            }),
            tls: None,
            compression,
            source: None,
        })
    }

    /// A raw stream to `address` (`host:port`), as a legacy donor sends.
    pub fn raw(address: impl Into<String>) -> Receiver {
        let address = address.into();
        Receiver {
            host: address.clone(),
            address,
            header: None,
            tls: None,
            compression: None,
            source: None,
        }
    }

    /// The stream in TLS with `tls` when it is given and the stream is authenticated (a raw
    /// stream goes to a legacy listener, which speaks no TLS).
    pub fn over(mut self, tls: Option<AgentTls>) -> Receiver {
        self.tls = tls.filter(|_| self.header.is_some());
        self
    }

    /// The stream sent from `host` (the served server's configured `host`) when it is an
    /// address of this machine. The manager takes a stream only from the job's server's
    /// addresses; on a host with several addresses the kernel would otherwise pick the source
    /// by its routes, which may not be the one the configuration names. A name, or an address
    /// this machine does not have, leaves the choice to the kernel as before.
    pub fn from_host(mut self, host: &str) -> Receiver {
        self.source = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .ok()
            .filter(|ip| !ip.is_unspecified());
        self
    }

    /// `host:port`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// True when the stream opens with the Ferryman header.
    pub fn authenticated(&self) -> bool {
        self.header.is_some()
    }

    /// One connection attempt: from the server's own address when there is one (see
    /// [`Receiver::from_host`]) and this machine has it, else from the kernel's choice.
    async fn open_tcp(&self) -> std::io::Result<TcpStream> {
        if let Some(source) = self.source {
            for to in tokio::net::lookup_host(&self.address).await? {
                if to.is_ipv4() != source.is_ipv4() {
                    continue;
                }
                let socket = match to {
                    SocketAddr::V4(_) => TcpSocket::new_v4()?,
                    SocketAddr::V6(_) => TcpSocket::new_v6()?,
                };
                match socket.bind(SocketAddr::new(source, 0)) {
                    Ok(()) => return socket.connect(to).await,
                    Err(e) => {
                        // Not an address of this machine: the kernel chooses, as without it.
                        tracing::debug!(%source, error = %e, "cannot send from the server's address");
                        break;
                    }
                }
            }
        }
        TcpStream::connect(&self.address).await
    }

    /// Connects, retrying until `timeout` has passed, then sends the header if there is one.
    pub async fn connect(
        &self,
        timeout: Duration,
        cancel: &CancellationToken,
        progress: &Progress,
    ) -> Result<Stream> {
        let started = Instant::now();
        let deadline = started + timeout;
        let mut pause = RETRY_FIRST;
        progress.set_phase(format!("connecting to {}", self.address));
        let tcp = loop {
            let attempt = tokio::select! {
                r = tokio::time::timeout_at(deadline.into(), self.open_tcp()) => r,
                _ = cancel.cancelled() => return Err(interrupted(started, "cancelled while connecting")),
            };
            let err = match attempt {
                Ok(Ok(tcp)) => break tcp,
                Ok(Err(e)) => e,
                Err(_) => std::io::Error::new(std::io::ErrorKind::TimedOut, "connection timed out"),
            };
            if Instant::now() + pause >= deadline {
                return Err(Error::Connect {
                    address: self.address.clone(),
                    seconds: timeout.as_secs(),
                    source: err,
                });
            }
            tracing::debug!(address = %self.address, error = %err, "receiver not reachable yet, retrying");
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = cancel.cancelled() => return Err(interrupted(started, "cancelled while connecting")),
            }
            pause = (pause * 2).min(RETRY_MAX);
        };
        // Small writes (the header, a log's tail) must not wait for Nagle.
        let _ = tcp.set_nodelay(true);
        let mut tcp = match &self.tls {
            None => Conn::Plain(tcp),
            Some(tls) => {
                let handshake =
                    tokio::time::timeout_at(deadline.into(), tls.connect(tcp, &self.host));
                match handshake.await {
                    Ok(Ok(conn)) => conn,
                    Ok(Err(e)) => {
                        return Err(Error::Handshake {
                            address: self.address.clone(),
                            detail: e.to_string(),
                        })
                    }
                    Err(_) => {
                        return Err(Error::Handshake {
                            address: self.address.clone(),
                            detail: format!("no handshake within {} s", timeout.as_secs()),
                        })
                    }
                }
            }
        };
        if let Some(header) = &self.header {
            write_header(&mut tcp, header)
                .await
                .map_err(|e| Error::SendFailed {
                    address: self.address.clone(),
                    sent: "the stream header".to_owned(),
                    source: std::io::Error::other(e.to_string()),
                })?;
        }
        tracing::debug!(address = %self.address, authenticated = self.header.is_some(), tls = tcp.is_tls(), "stream connected");
        progress.set_phase(format!("streaming to {}", self.address));
        let out = match self.compression {
            None => Out::Direct(tcp),
            Some(settings) => Out::Blocks(Box::new(blocks::Blocks::start(tcp, settings))),
        };
        Ok(Stream {
            out,
            address: self.address.clone(),
            sent: 0,
            started: Instant::now(),
        })
    }
}

/// Where a stream's bytes go.
enum Out {
    /// Straight to the socket.
    Direct(Conn),
    /// Cut into blocks, compressed, written by a task of their own.
    Blocks(Box<blocks::Blocks>),
}

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Out::Direct(tcp) => f.debug_tuple("Direct").field(tcp).finish(),
            Out::Blocks(_) => f.write_str("Blocks"),
        }
    }
}

/// An open stream to a receiver.
#[derive(Debug)]
pub struct Stream {
    out: Out,
    address: String,
    sent: u64,
    started: Instant,
}

/// What a finished stream carried.
#[derive(Debug, Clone, PartialEq)]
pub struct Sent {
    /// Where it went.
    pub address: String,
    /// Payload bytes (the header not counted).
    pub bytes: u64,
    /// From connection to end-of-stream.
    pub elapsed: Duration,
    /// What the blocks were, for a stream compressed on the node.
    pub blocks: Option<BlockSummary>,
}

impl Sent {
    /// `1.20 GiB to 10.0.0.5:4001 in 30s (40.10 MiB/s)`.
    pub fn describe(&self) -> String {
        let t = progress::throughput(self.bytes, self.elapsed);
        let sent = match t.split_once(" in ") {
            Some((size, rest)) => format!("{size} to {} in {rest}", self.address),
            None => format!("{t} to {}", self.address),
        };
        match &self.blocks {
            Some(b) => format!("{sent}; {}", b.describe()),
            None => sent,
        }
    }
}

impl Stream {
    /// Copies everything `reader` yields (until its end) into the stream. `what` names the
    /// source in errors ("mariabackup's output"). Returns the bytes copied by this call.
    pub async fn send<R: AsyncRead + Unpin>(
        &mut self,
        reader: &mut R,
        what: &str,
        progress: &Progress,
        cancel: &CancellationToken,
    ) -> Result<u64> {
        let mut buf = vec![0u8; BUFFER];
        let mut copied = 0u64;
        loop {
            let n = tokio::select! {
                r = reader.read(&mut buf) => r.map_err(|source| Error::Read { what: what.to_owned(), source })?,
                _ = cancel.cancelled() => return Err(interrupted(self.started, &format!("cancelled after sending {}", progress::bytes(self.sent)))),
            };
            if n == 0 {
                return Ok(copied);
            }
            let written = match &mut self.out {
                Out::Direct(tcp) => {
                    tokio::select! {
                        r = tcp.write_all(&buf[..n]) => r,
                        _ = cancel.cancelled() => return Err(interrupted(self.started, &format!("cancelled after sending {}", progress::bytes(self.sent)))),
                    }
                }
                Out::Blocks(blocks) => {
                    tokio::select! {
                        r = blocks.push(&buf[..n]) => r,
                        _ = cancel.cancelled() => return Err(interrupted(self.started, &format!("cancelled after sending {}", progress::bytes(self.sent)))),
                    }
                }
            };
            written.map_err(|source| self.send_failed(source))?;
            self.sent += n as u64;
            copied += n as u64;
            progress.add_bytes(n as u64);
        }
    }

    /// `host:port` of the receiver.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Payload bytes sent so far.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Ends the stream: flushes, sends end-of-file, and waits a little for the receiver to
    /// close its side (which tells us it read everything).
    pub async fn finish(self) -> Result<Sent> {
        let Stream {
            out,
            address,
            sent,
            started,
        } = self;
        let failed = |source| Error::SendFailed {
            address: address.clone(),
            sent: progress::bytes(sent),
            source,
        };
        let (mut tcp, blocks) = match out {
            Out::Direct(tcp) => (tcp, None),
            Out::Blocks(b) => {
                let (tcp, summary) = b.finish().await.map_err(failed)?;
                (tcp, Some(summary))
            }
        };
        tcp.flush().await.map_err(failed)?;
        tcp.shutdown().await.map_err(failed)?;
        let elapsed = started.elapsed();
        let mut sink = [0u8; 512];
        let closed = tokio::time::timeout(CLOSE_WAIT, async {
            loop {
                match tcp.read(&mut sink).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => continue,
                }
            }
        })
        .await;
        if closed.is_err() {
            tracing::debug!(address = %address, "receiver did not close its side after end-of-stream");
        }
        Ok(Sent {
            address,
            bytes: sent,
            elapsed,
            blocks,
        })
    }

    /// Ends the stream with a reset instead of an end-of-file, so the receiver cannot mistake
    /// a failed backup for a complete one.
    pub fn abort(self) {
        tracing::debug!(address = %self.address, sent = self.sent, "stream aborted");
        match self.out {
            Out::Direct(tcp) => tcp.reset(),
            Out::Blocks(blocks) => blocks.abort(),
        }
    }

    fn send_failed(&self, source: std::io::Error) -> Error {
        Error::SendFailed {
            address: self.address.clone(),
            sent: progress::bytes(self.sent),
            source,
        }
    }
}

fn interrupted(started: Instant, reason: &str) -> Error {
    Error::Interrupted {
        elapsed: progress::seconds(started.elapsed()),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests;
