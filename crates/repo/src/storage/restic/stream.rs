//! The blocking writer and reader of one restic object: `restic backup --stdin` fed from the
//! ingest's (or copy's) blocking thread, and `restic dump` read from a verification's or a
//! reseed's. Both hold the storage's shared lock while they run, so that no `forget` of this
//! process runs under them.

use std::io::{self, Read, Write};
use std::sync::Arc;

use ferryman_exec::Running;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{ChildStdin, ChildStdout};
use tokio::runtime::Handle;
use tokio::sync::OwnedRwLockReadGuard;

use super::snapshots::Inner;
use crate::storage::ObjectWriter;
use crate::{Error, Result};

/// `restic backup --stdin`: the object becomes a snapshot when its stdin is closed and restic
/// exits 0 ([`ObjectWriter::commit`]). Dropped without commit, restic is killed before its
/// stdin closes, so no snapshot is made (the data it stored is unreferenced: `prune` drops it).
pub(super) struct ResticWriter {
    // Declared (so dropped) before `stdin`: the kill reaches restic before end-of-file does.
    running: Option<Running>,
    stdin: Option<ChildStdin>,
    /// Bytes not yet handed to restic: written in [`BUF`] pieces, so that small writes (and
    /// writes from async code, which cannot block) only fill memory.
    buf: Vec<u8>,
    inner: Arc<Inner>,
    handle: Handle,
    what: String,
    _shared: OwnedRwLockReadGuard<()>,
}

/// How much a writer gathers before handing it to restic.
const BUF: usize = 1 << 20;

impl ResticWriter {
    pub(super) fn new(
        inner: Arc<Inner>,
        mut running: Running,
        what: String,
        shared: OwnedRwLockReadGuard<()>,
    ) -> ResticWriter {
        let stdin = running.take_stdin();
        ResticWriter {
            running: Some(running),
            stdin,
            buf: Vec::with_capacity(BUF),
            inner,
            handle: Handle::current(),
            what,
            _shared: shared,
        }
    }

    /// The error for a failed write: what restic said, when it said something.
    fn failed(&mut self, e: io::Error) -> io::Error {
        let stderr = match &self.running {
            Some(running) => self.handle.block_on(running.stderr_so_far()),
            None => String::new(),
        };
        if stderr.trim().is_empty() {
            return e;
        }
        io::Error::other(self.inner.cli.error("store", &self.what, &stderr))
    }
}

impl ResticWriter {
    /// Hands what is gathered to restic (blocking).
    fn drain(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let Some(stdin) = self.stdin.as_mut() else {
            return Err(io::Error::other("restic's stdin is closed"));
        };
        let written = self.handle.block_on(stdin.write_all(&self.buf));
        self.buf.clear();
        written.map_err(|e| self.failed(e))
    }
}

impl Write for ResticWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.buf.len() + buf.len() > BUF {
            self.drain()?;
        }
        if buf.len() >= BUF {
            let Some(stdin) = self.stdin.as_mut() else {
                return Err(io::Error::other("restic's stdin is closed"));
            };
            return match self.handle.block_on(stdin.write_all(buf)) {
                Ok(()) => Ok(buf.len()),
                Err(e) => Err(self.failed(e)),
            };
        }
        self.buf.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        // Only `commit` hands the last bytes over; flushing here would block callers that
        // flush from async code.
        Ok(())
    }
}

impl ObjectWriter for ResticWriter {
    fn commit(mut self: Box<Self>) -> Result<()> {
        self.drain()
            .map_err(|e| Error::from_io(e, "write", self.what.clone()))?;
        drop(self.stdin.take());
        let Some(running) = self.running.take() else {
            return Err(Error::Worker {
                detail: "restic writer committed twice".to_owned(),
            });
        };
        let finished = self.handle.block_on(running.wait());
        self.inner.changed();
        let finished =
            finished.map_err(|e| self.inner.cli.error("store", &self.what, &e.to_string()))?;
        match self.inner.cli.judge("store", &self.what, &finished) {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

/// `restic dump`: the object's bytes; a restic failure is a read error at the end (carrying
/// the [`Error::Restic`]), never a silent end-of-file.
pub(super) struct ResticReader {
    running: Option<Running>,
    stdout: Option<ChildStdout>,
    inner: Arc<Inner>,
    handle: Handle,
    what: String,
    _shared: OwnedRwLockReadGuard<()>,
}

impl ResticReader {
    pub(super) fn new(
        inner: Arc<Inner>,
        mut running: Running,
        what: String,
        shared: OwnedRwLockReadGuard<()>,
    ) -> ResticReader {
        let stdout = running.take_stdout();
        ResticReader {
            running: Some(running),
            stdout,
            inner,
            handle: Handle::current(),
            what,
            _shared: shared,
        }
    }
}

impl Read for ResticReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(stdout) = self.stdout.as_mut() else {
            return Ok(0);
        };
        let n = self.handle.block_on(stdout.read(buf))?;
        if n > 0 || buf.is_empty() {
            return Ok(n);
        }
        self.stdout = None;
        let Some(running) = self.running.take() else {
            return Ok(0);
        };
        let finished = self
            .handle
            .block_on(running.wait())
            .map_err(io::Error::other)?;
        match self.inner.cli.judge("read", &self.what, &finished) {
            Some(error) => Err(io::Error::other(error)),
            None => Ok(0),
        }
    }
}
