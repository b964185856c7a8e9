//! The time limits of one HTTP API connection: [`Watch`] knows where the connection stands
//! (waiting for headers, running a request, idle), [`Watched`] is its socket, which fails a read
//! or a write that waits past the limit of that stage: hyper then closes the connection.
//!
//! hyper's own `header_read_timeout` counts from the moment the server waits for a request, so
//! an idle keep-alive connection would get the header limit too, and it does not cover a request
//! whose body stalls; hence these limits, kept next to the socket.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

/// The limits of every connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeouts {
    /// From a request's first byte (the connection's opening, for its first request) to the end
    /// of its headers.
    pub(crate) header_read: Duration,
    /// Silence from the client: between requests, or while a request runs.
    pub(crate) idle: Duration,
}

/// Where a connection stands.
#[derive(Debug, Clone, Copy)]
enum Stage {
    /// A request's headers are arriving (or, on a new connection, expected) since then.
    Head { since: Instant },
    /// The service has the request (its body may still be arriving).
    Request,
    /// Between requests.
    Idle,
}

#[derive(Debug)]
struct State {
    stage: Stage,
    /// The last byte read or written.
    last_activity: Instant,
}

/// What one connection's socket and service share.
#[derive(Debug)]
pub(crate) struct Watch {
    timeouts: Timeouts,
    state: Mutex<State>,
}

impl Watch {
    /// A connection opened now: its first request's headers are due within the header limit.
    pub(crate) fn new(timeouts: Timeouts) -> Arc<Watch> {
        let now = Instant::now();
        Arc::new(Watch {
            timeouts,
            state: Mutex::new(State {
                stage: Stage::Head { since: now },
                last_activity: now,
            }),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Nothing in here can panic half-way; a poisoned lock still holds a whole state.
        match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn read(&self, bytes: usize) {
        if bytes == 0 {
            return;
        }
        let mut s = self.state();
        let now = Instant::now();
        s.last_activity = now;
        if let Stage::Idle = s.stage {
            s.stage = Stage::Head { since: now };
        }
    }

    fn wrote(&self, bytes: usize) {
        if bytes > 0 {
            self.state().last_activity = Instant::now();
        }
    }

    /// When a read or write still waiting must fail, and what was awaited.
    fn deadline(&self) -> (Instant, &'static str) {
        let s = self.state();
        match s.stage {
            Stage::Head { since } => (since + self.timeouts.header_read, "the request's headers"),
            Stage::Request | Stage::Idle => (s.last_activity + self.timeouts.idle, "a byte"),
        }
    }

    /// The service took a request; the connection is in `Request` until the guard drops (the
    /// response is handed to hyper, or the request is abandoned).
    pub(crate) fn request(self: &Arc<Self>) -> RequestGuard {
        self.state().stage = Stage::Request;
        RequestGuard(Arc::clone(self))
    }
}

/// See [`Watch::request`].
#[derive(Debug)]
pub(crate) struct RequestGuard(Arc<Watch>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let mut s = self.0.state();
        s.stage = Stage::Idle;
        s.last_activity = Instant::now();
    }
}

/// A connection's socket under its [`Watch`].
#[derive(Debug)]
pub(crate) struct Watched {
    inner: TcpStream,
    watch: Arc<Watch>,
    read_timer: Pin<Box<Sleep>>,
    write_timer: Pin<Box<Sleep>>,
}

impl Watched {
    pub(crate) fn new(inner: TcpStream, watch: Arc<Watch>) -> Watched {
        let far = Instant::now() + Duration::from_secs(3600);
        Watched {
            inner,
            watch,
            read_timer: Box::pin(tokio::time::sleep_until(far)),
            write_timer: Box::pin(tokio::time::sleep_until(far)),
        }
    }
}

/// `Pending`, or the error that ends the connection once the watch's deadline has passed.
fn expired(
    watch: &Watch,
    timer: &mut Pin<Box<Sleep>>,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    let (deadline, awaited) = watch.deadline();
    if Instant::now() < deadline {
        if timer.deadline() != deadline {
            timer.as_mut().reset(deadline);
        }
        if timer.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
    }
    Poll::Ready(Err(io::Error::new(
        io::ErrorKind::TimedOut,
        format!("waited too long for {awaited} from the client"),
    )))
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                this.watch.read(buf.filled().len() - before);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => expired(&this.watch, &mut this.read_timer, cx),
        }
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Ready(Ok(n)) => {
                this.watch.wrote(n);
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            // A client that does not read its response holds the connection like a silent one.
            Poll::Pending => expired(&this.watch, &mut this.write_timer, cx).map(|r| r.map(|()| 0)),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(Ok(n)) => {
                this.watch.wrote(n);
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => expired(&this.watch, &mut this.write_timer, cx).map(|r| r.map(|()| 0)),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
