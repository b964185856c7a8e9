//! The HTTP API's accept loop: at most `http-max-connections` connections at once (one more is
//! answered 503 and closed at once), each under the header and idle limits of `conn.rs`,
//! served by hyper's HTTP/1 connection with the axum router (over TLS when the manager has a
//! certificate: the handshake must end within the header limit); accept errors (out of file
//! descriptors) back off instead of spinning; shutdown stops accepting, lets requests in
//! flight finish and closes idle connections.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::conn::{Timeouts, Watch, Watched};

/// What a connection beyond the limit gets before it is closed (`Content-Length` checked by a
/// test).
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n\
Connection: close\r\nRetry-After: 1\r\nContent-Length: 75\r\n\r\n\
{\"error\": \"too many HTTP API connections are open: try again in a moment\"}\n";

/// The first wait after a failed accept; it doubles up to [`BACKOFF_MAX`].
const BACKOFF_MIN: Duration = Duration::from_millis(10);
/// The longest wait between accepts that fail.
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// A listener's connection limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    timeouts: Timeouts,
    max_connections: usize,
    /// The configuration key that raises `max_connections`, for the log line at the limit.
    key: &'static str,
}

impl Limits {
    /// At most `max_connections` open at once (`key` is the setting that says so); a request's
    /// headers due within `header_read`, a silent client closed after `idle`.
    pub fn new(
        header_read: Duration,
        idle: Duration,
        max_connections: usize,
        key: &'static str,
    ) -> Limits {
        Limits {
            timeouts: Timeouts { header_read, idle },
            max_connections,
            key,
        }
    }
}

/// Accepts and serves connections until `shutdown`, then waits for the open ones to end.
pub async fn run(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    tls: Option<TlsAcceptor>,
    shutdown: CancellationToken,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let connections = TaskTracker::new();
    let mut refusals = Refusals::default();
    let mut backoff = Duration::ZERO;
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(a) => {
                backoff = Duration::ZERO;
                a
            }
            // The client gave up before we took it: nothing is wrong with the listener.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionAborted => continue,
            Err(e) => {
                // Out of file descriptors or memory: the pending connection stays queued, so
                // retrying at once would spin; wait for connections to close.
                backoff = (backoff * 2).clamp(BACKOFF_MIN, BACKOFF_MAX);
                tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "cannot accept an HTTP API connection");
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(backoff) => continue,
                }
            }
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            refusals.refuse(stream, &limits);
            continue;
        };
        refusals.end();
        connections.spawn(
            serve(
                stream,
                peer,
                app.clone(),
                limits.timeouts,
                tls.clone(),
                permit,
                shutdown.clone(),
            )
            .instrument(tracing::info_span!("http", %peer)),
        );
    }
    drop(listener);
    connections.close();
    connections.wait().await;
}

/// One connection, until it ends or times out; on `shutdown` the request in flight finishes
/// and the connection closes.
async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    timeouts: Timeouts,
    tls: Option<TlsAcceptor>,
    _permit: OwnedSemaphorePermit,
    shutdown: CancellationToken,
) {
    // Responses are small and whole: send them without waiting for more.
    let _ = stream.set_nodelay(true);
    let watch = Watch::new(timeouts);
    let watched = Watched::new(stream, Arc::clone(&watch));
    let Some(tls) = tls else {
        return http(TokioIo::new(watched), peer, app, watch, shutdown).await;
    };
    // A client that does not finish its handshake in time is one that sends no headers.
    match tokio::time::timeout(timeouts.header_read, tls.accept(watched)).await {
        Ok(Ok(stream)) => http(TokioIo::new(stream), peer, app, watch, shutdown).await,
        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake refused"),
        Err(_) => tracing::debug!(%peer, "TLS handshake not finished in time"),
    }
}

/// HTTP/1 on one connection (plain or TLS).
async fn http<I>(
    io: I,
    peer: SocketAddr,
    app: Router,
    watch: Arc<Watch>,
    shutdown: CancellationToken,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let router = TowerToHyperService::new(app);
    let service = hyper::service::service_fn(move |request| {
        let guard = watch.request();
        let call = hyper::service::Service::call(&router, request);
        async move {
            let response = call.await;
            drop(guard);
            response
        }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(io, service);
    tokio::pin!(connection);
    let mut stopping = false;
    let result = loop {
        tokio::select! {
            result = connection.as_mut() => break result,
            _ = shutdown.cancelled(), if !stopping => {
                stopping = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    };
    if let Err(e) = result {
        // Timeouts, resets and garbage are the client's business; at debug level so that a
        // flood does not flood the log.
        tracing::debug!(%peer, error = %e, "HTTP API connection ended");
    }
}

/// Connections refused at the limit, logged once when refusing starts and once when it ends
/// (a flood must not become a flood of log lines).
#[derive(Debug, Default)]
struct Refusals {
    since: Option<Instant>,
    count: u64,
}

impl Refusals {
    fn refuse(&mut self, stream: TcpStream, limits: &Limits) {
        if self.since.is_none() {
            self.since = Some(Instant::now());
            tracing::warn!(
                limit = limits.max_connections,
                "HTTP API connection limit reached: new connections are answered 503 and closed until some close; raise `{}` if this is no attack",
                limits.key
            );
        }
        self.count += 1;
        // A fresh socket's send buffer is empty: the write does not block, and a partial one
        // is as good as none before closing.
        let _ = stream.try_write(BUSY);
        drop(stream);
    }

    fn end(&mut self) {
        if let Some(since) = self.since.take() {
            tracing::warn!(
                refused = self.count,
                seconds = since.elapsed().as_secs(),
                "HTTP API accepts connections again"
            );
            self.count = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_busy_answer_is_whole() {
        let text = std::str::from_utf8(BUSY).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(length, body.len());
        assert!(serde_json::from_str::<serde_json::Value>(body).is_ok());
    }
}
