//! The stream sender: the agent's side of the data channel, replacing `socat -u stdio TCP:…`.
//!
//! It connects to the job's `server:port`, retrying until a deadline (the manager may open its
//! listener a moment after writing the row), opens with the Ferryman stream header when the job
//! carries a token (our manager) or sends raw bytes when it does not (replication-manager and
//! its socat listeners), speaks TLS to our manager when the agent has a certificate
//! (`agent.tls-*`, see `tls.rs`; never to a legacy listener, which cannot), copies with one fixed buffer (memory does not grow with the backup),
//! and counts what it sent.

use std::time::{Duration, Instant};

use ferryman_jobs::Job;
use ferryman_proto::{write_header, StreamHeader, StreamKind, Task};
use ferryman_tls::Conn;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
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
        Ok(Receiver {
            address: ferryman_proto::address::join(server, port),
            host: server.to_owned(),
            header,
            tls: None,
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
        }
    }

    /// The stream in TLS with `tls` when it is given and the stream is authenticated (a raw
    /// stream goes to a legacy listener, which speaks no TLS).
    pub fn over(mut self, tls: Option<AgentTls>) -> Receiver {
        self.tls = tls.filter(|_| self.header.is_some());
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
                r = tokio::time::timeout_at(deadline.into(), TcpStream::connect(&self.address)) => r,
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
        Ok(Stream {
            tcp,
            address: self.address.clone(),
            sent: 0,
            started: Instant::now(),
        })
    }
}

/// An open stream to a receiver.
#[derive(Debug)]
pub struct Stream {
    tcp: Conn,
    address: String,
    sent: u64,
    started: Instant,
}

/// What a finished stream carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// Where it went.
    pub address: String,
    /// Payload bytes (the header not counted).
    pub bytes: u64,
    /// From connection to end-of-stream.
    pub elapsed: Duration,
}

impl Sent {
    /// `1.20 GiB to 10.0.0.5:4001 in 30s (40.10 MiB/s)`.
    pub fn describe(&self) -> String {
        let t = progress::throughput(self.bytes, self.elapsed);
        match t.split_once(" in ") {
            Some((size, rest)) => format!("{size} to {} in {rest}", self.address),
            None => format!("{t} to {}", self.address),
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
            let write = self.tcp.write_all(&buf[..n]);
            tokio::select! {
                r = write => r.map_err(|source| self.send_failed(source))?,
                _ = cancel.cancelled() => return Err(interrupted(self.started, &format!("cancelled after sending {}", progress::bytes(self.sent)))),
            }
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
    pub async fn finish(mut self) -> Result<Sent> {
        self.tcp
            .flush()
            .await
            .map_err(|source| self.send_failed(source))?;
        self.tcp
            .shutdown()
            .await
            .map_err(|source| self.send_failed(source))?;
        let elapsed = self.started.elapsed();
        let mut sink = [0u8; 512];
        let closed = tokio::time::timeout(CLOSE_WAIT, async {
            loop {
                match self.tcp.read(&mut sink).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => continue,
                }
            }
        })
        .await;
        if closed.is_err() {
            tracing::debug!(address = %self.address, "receiver did not close its side after end-of-stream");
        }
        Ok(Sent {
            address: self.address,
            bytes: self.sent,
            elapsed,
        })
    }

    /// Ends the stream with a reset instead of an end-of-file, so the receiver cannot mistake
    /// a failed backup for a complete one.
    pub fn abort(self) {
        tracing::debug!(address = %self.address, sent = self.sent, "stream aborted");
        self.tcp.reset();
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
mod tests {
    use super::*;
    use ferryman_jobs::{JobId, Token};
    use ferryman_proto::{read_start, StreamStart};
    use tokio::net::TcpListener;

    fn job(server: Option<&str>, port: Option<i32>, token: Option<Token>) -> Job {
        Job {
            id: JobId(7),
            task: Some("mariabackup".into()),
            port,
            server: server.map(str::to_owned),
            token,
            ..Job::default()
        }
    }

    #[test]
    fn a_job_without_receiver_is_refused_with_its_columns() {
        for (server, port) in [
            (None, Some(4000)),
            (Some(""), Some(4000)),
            (Some("h"), None),
            (Some("h"), Some(0)),
            (Some("h"), Some(70000)),
        ] {
            let err = Receiver::of_job(
                &job(server, port, None),
                Task::Mariabackup,
                StreamKind::Backup,
            )
            .unwrap_err()
            .to_string();
            assert!(
                err.contains("job 7 (mariabackup) names no receiver"),
                "{err}"
            );
        }
        let r = Receiver::of_job(
            &job(Some("::1"), Some(5), None),
            Task::Error,
            StreamKind::Log,
        )
        .unwrap();
        assert_eq!(r.address(), "[::1]:5");
    }

    #[test]
    fn a_garbage_token_is_refused() {
        let err = Receiver::of_job(
            &job(Some("h"), Some(1), Some(Token::new("nope"))),
            Task::Mariabackup,
            StreamKind::Backup,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("not a Ferryman stream token"), "{err}");
    }

    #[tokio::test]
    async fn raw_and_authenticated_streams_arrive_whole() {
        let payload: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        let token = Token::generate().unwrap();
        for with_token in [false, true] {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let accept = tokio::spawn(async move {
                let (mut sock, _) = listener.accept().await.unwrap();
                let start = read_start(&mut sock).await.unwrap();
                let mut rest = Vec::new();
                sock.read_to_end(&mut rest).await.unwrap();
                (start, rest)
            });
            let j = job(
                Some("127.0.0.1"),
                Some(i32::from(port)),
                with_token.then(|| token.clone()),
            );
            let receiver = Receiver::of_job(&j, Task::Mariabackup, StreamKind::Backup).unwrap();
            assert_eq!(receiver.authenticated(), with_token);
            let progress = Progress::new();
            let cancel = CancellationToken::new();
            let mut stream = receiver
                .connect(Duration::from_secs(5), &cancel, &progress)
                .await
                .unwrap();
            let mut src = &payload[..];
            stream
                .send(&mut src, "test data", &progress, &cancel)
                .await
                .unwrap();
            let sent = stream.finish().await.unwrap();
            assert_eq!(sent.bytes, payload.len() as u64);
            assert_eq!(progress.bytes(), payload.len() as u64);
            let (start, rest) = accept.await.unwrap();
            let mut received = Vec::new();
            match start {
                StreamStart::Ferryman(h) => {
                    assert!(with_token);
                    assert_eq!(h.job_id, 7);
                    assert!(h.token.ct_eq(&token.stream_token().unwrap()));
                }
                StreamStart::Raw { prefix } => {
                    assert!(!with_token);
                    received.extend_from_slice(&prefix);
                }
            }
            received.extend_from_slice(&rest);
            assert_eq!(received, payload);
        }
    }

    #[tokio::test]
    async fn connect_retries_until_the_listener_appears() {
        // Take a free port, release it, start listening on it a moment later.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let late = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(600)).await;
            let l = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
            let (mut s, _) = l.accept().await.unwrap();
            let mut all = Vec::new();
            s.read_to_end(&mut all).await.unwrap();
            all
        });
        let cancel = CancellationToken::new();
        let progress = Progress::new();
        let mut stream = Receiver::raw(format!("127.0.0.1:{port}"))
            .connect(Duration::from_secs(10), &cancel, &progress)
            .await
            .unwrap();
        stream
            .send(&mut &b"hello"[..], "x", &progress, &cancel)
            .await
            .unwrap();
        stream.finish().await.unwrap();
        assert_eq!(late.await.unwrap(), b"hello");
    }

    #[tokio::test]
    async fn connect_gives_up_at_the_deadline_with_the_address() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let started = Instant::now();
        let err = Receiver::raw(format!("127.0.0.1:{port}"))
            .connect(
                Duration::from_secs(1),
                &CancellationToken::new(),
                &Progress::new(),
            )
            .await
            .unwrap_err()
            .to_string();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(
            err.contains(&format!(
                "cannot connect to the receiver at 127.0.0.1:{port} within 1 s"
            )),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_receiver_that_dies_fails_the_send_with_the_bytes_sent() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 100_000];
            let _ = s.read_exact(&mut buf).await;
            // Dropped: the connection is reset while the sender still writes.
        });
        let cancel = CancellationToken::new();
        let progress = Progress::new();
        let mut stream = Receiver::raw(address.clone())
            .connect(Duration::from_secs(5), &cancel, &progress)
            .await
            .unwrap();
        let mut endless = tokio::io::repeat(7);
        let err = stream
            .send(&mut endless, "zeros", &progress, &cancel)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!(
                "the receiver at {address} stopped taking the stream after"
            )),
            "{err}"
        );
    }
}
