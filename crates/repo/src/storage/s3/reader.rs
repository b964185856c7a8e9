//! [`S3Reader`]: a stored object read as a blocking stream, one ranged `GET` per window.
//!
//! Why windows rather than one `GET` of the whole object: a request's timeout and its retries
//! are bounded in time (`request-timeout`, `retry-timeout`), while reading a payload lasts as
//! long as its consumer (a restore, a joiner) takes. One window is one short request, retried
//! on its own; the next window is fetched while the current one is consumed, so the consumer
//! rarely waits. Memory: two windows.

use std::io::{self, Read};
use std::sync::Arc;

use bytes::{Buf, Bytes};
use object_store::path::Path;
use object_store::ObjectStore;
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

use super::Inner;
use crate::{Error, Result};

/// Bytes per ranged request.
const WINDOW: u64 = 8 * 1024 * 1024;

/// A blocking reader of one object; see the module documentation.
pub(super) struct S3Reader {
    inner: Arc<Inner>,
    handle: Handle,
    path: Path,
    size: u64,
    /// The window being consumed.
    current: Bytes,
    /// Where the next window starts.
    next_start: u64,
    /// The next window, being fetched.
    next: Option<JoinHandle<object_store::Result<Bytes>>>,
}

impl S3Reader {
    /// Must be called on the runtime (its handle runs the requests). Starts fetching at once.
    pub(super) fn new(inner: Arc<Inner>, path: Path, size: u64) -> Result<S3Reader> {
        let handle = Handle::try_current().map_err(|e| Error::Worker {
            detail: format!("an S3 reader was created outside the async runtime: {e}"),
        })?;
        let mut reader = S3Reader {
            inner,
            handle,
            path,
            size,
            current: Bytes::new(),
            next_start: 0,
            next: None,
        };
        reader.prefetch();
        Ok(reader)
    }

    /// Starts fetching the window at `next_start`, if any is left.
    fn prefetch(&mut self) {
        if self.next_start >= self.size {
            self.next = None;
            return;
        }
        let end = (self.next_start + WINDOW).min(self.size);
        let range = self.next_start..end;
        self.next_start = end;
        let (inner, path) = (self.inner.clone(), self.path.clone());
        self.next = Some(
            self.handle
                .spawn(async move { inner.store.get_range(&path, range).await }),
        );
    }

    /// Makes the next window current; `false` at the end of the object.
    fn advance(&mut self) -> io::Result<bool> {
        let Some(task) = self.next.take() else {
            return Ok(false);
        };
        let window = self
            .handle
            .block_on(task)
            .map_err(|e| io::Error::other(Error::worker(e)))?
            .map_err(|e| {
                io::Error::other(self.inner.error("read", &self.inner.url(&self.path), e))
            })?;
        if window.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "{} ended before its {} bytes",
                    self.inner.url(&self.path),
                    self.size
                ),
            ));
        }
        self.current = window;
        self.prefetch();
        Ok(true)
    }
}

impl Read for S3Reader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while !self.current.has_remaining() {
            if !self.advance()? {
                return Ok(0);
            }
        }
        let n = buf.len().min(self.current.remaining());
        self.current.copy_to_slice(&mut buf[..n]);
        Ok(n)
    }
}

impl Drop for S3Reader {
    fn drop(&mut self) {
        if let Some(task) = self.next.take() {
            task.abort();
        }
    }
}
