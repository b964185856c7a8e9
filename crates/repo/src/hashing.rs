//! Counting and hashing (sha256) what goes through a reader or a writer: the stored bytes of a
//! payload as the pipeline writes them, as a check or a copy reads them back.

use std::io::{self, Read, Write};

use sha2::{Digest, Sha256};

use crate::storage::{ObjectReader, ObjectWriter};
use crate::Result;

/// Counts and hashes what is written through it to a storage object.
pub(crate) struct HashingWriter {
    inner: Box<dyn ObjectWriter>,
    sha: Sha256,
    bytes: u64,
}

impl HashingWriter {
    pub(crate) fn new(inner: Box<dyn ObjectWriter>) -> HashingWriter {
        HashingWriter {
            inner,
            sha: Sha256::new(),
            bytes: 0,
        }
    }

    /// Commits the object; returns its size and sha256 (hex).
    pub(crate) fn commit(self) -> Result<(u64, String)> {
        self.inner.commit()?;
        Ok((self.bytes, hex::encode(self.sha.finalize())))
    }
}

impl Write for HashingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Counts and hashes what is read through it from a storage object; remembers a read error,
/// so that a reader stacked on it (a decoder) that turns it into its own error does not hide
/// that the storage failed.
pub(crate) struct HashingReader {
    inner: ObjectReader,
    sha: Sha256,
    bytes: u64,
    /// The storage's read error, if one happened.
    pub(crate) error: Option<io::Error>,
}

impl HashingReader {
    pub(crate) fn new(inner: ObjectReader) -> HashingReader {
        HashingReader {
            inner,
            sha: Sha256::new(),
            bytes: 0,
            error: None,
        }
    }

    /// The bytes read and their sha256 (hex).
    pub(crate) fn finish(self) -> (u64, String) {
        (self.bytes, hex::encode(self.sha.finalize()))
    }
}

impl Read for HashingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.sha.update(&buf[..n]);
                self.bytes += n as u64;
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => {
                let report = io::Error::new(e.kind(), e.to_string());
                self.error = Some(e);
                Err(report)
            }
        }
    }
}
