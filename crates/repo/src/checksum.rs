//! Reading a payload back: [`Repository::payload_reader`] (decompressing, for reseeds and test
//! restores) and [`Repository::verify_checksum`], which recomputes both sha256 sums of the
//! manifest: the stored file's (catches damage at rest) and the decompressed stream's (catches
//! a payload that decompresses to something else than what was received).

use std::io::{self, BufReader, Read};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::layout::BackupId;
use crate::repository::Repository;
use crate::storage::ObjectReader;
use crate::{Error, Result};

/// Buffer size for checksum reads.
const READ_BUF: usize = 1 << 20;

/// What [`Repository::verify_checksum`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChecksumReport {
    /// The backup.
    pub id: BackupId,
    /// Bytes of the stored payload read.
    pub stored_bytes: u64,
    /// sha256 of the stored payload as read now.
    pub stored_sha256: String,
    /// True when size and sha256 of the stored payload match the manifest.
    pub stored_ok: bool,
    /// Bytes decompressed (up to the error, if any).
    pub raw_bytes: u64,
    /// sha256 of the decompressed payload, when it decompressed whole.
    pub raw_sha256: Option<String>,
    /// True when size and sha256 of the decompressed payload match the manifest.
    pub raw_ok: bool,
    /// Why decompression failed, if it did.
    pub decompress_error: Option<String>,
    /// The first bytes of the decompressed payload (up to what the caller asked to keep), for
    /// checks of what a payload must start with (a dump's header).
    #[serde(skip)]
    pub head: Vec<u8>,
    /// The last bytes of the decompressed payload (a dump's completion footer).
    #[serde(skip)]
    pub tail: Vec<u8>,
}

impl ChecksumReport {
    /// True when everything matches.
    pub fn is_ok(&self) -> bool {
        self.stored_ok && self.raw_ok
    }

    /// One line for logs and job results.
    pub fn summary(&self) -> String {
        if self.is_ok() {
            return format!(
                "backup {}: checksums match ({} bytes stored, {} raw)",
                self.id, self.stored_bytes, self.raw_bytes
            );
        }
        let mut problems = Vec::new();
        if !self.stored_ok {
            problems
                .push("the stored payload's size or sha256 differs from the manifest".to_owned());
        }
        if let Some(e) = &self.decompress_error {
            problems.push(format!("the payload does not decompress ({e})"));
        } else if !self.raw_ok {
            problems.push(
                "the decompressed payload's size or sha256 differs from the manifest".to_owned(),
            );
        }
        format!(
            "backup {}: DAMAGED: {}; do not restore it: take a new backup and delete this one",
            self.id,
            problems.join("; ")
        )
    }
}

impl Repository {
    /// A reader of backup `id`'s payload, decompressed. Its reads block: use it on a blocking
    /// thread (`spawn_blocking`), or bridge it to async code through a channel.
    pub async fn payload_reader(&self, id: &BackupId) -> Result<Box<dyn Read + Send>> {
        let manifest = self.get(id).await?;
        let object = self
            .storage()
            .open(&id.payload_key(manifest.format))
            .await?;
        let decoder = zstd::stream::read::Decoder::new(object).map_err(|source| Error::Io {
            action: "start decompressing",
            location: id.payload_key(manifest.format).to_string(),
            source,
        })?;
        Ok(Box::new(decoder))
    }

    /// Recomputes the stored and the decompressed payload's sha256 and sizes, and compares
    /// them with the manifest. A mismatch is a report, not an error: errors are for failing
    /// to read at all.
    pub async fn verify_checksum(&self, id: &BackupId) -> Result<ChecksumReport> {
        self.verify_checksum_keeping(id, 0).await
    }

    /// [`Repository::verify_checksum`], also keeping the first and the last `keep` bytes of
    /// the decompressed payload in the report (one pass for the checksum and a dump's header
    /// and footer checks).
    pub async fn verify_checksum_keeping(
        &self,
        id: &BackupId,
        keep: usize,
    ) -> Result<ChecksumReport> {
        let manifest = self.get(id).await?;
        let key = id.payload_key(manifest.format);
        let object = self.storage().open(&key).await?;
        let location = key.to_string();
        let hashed = tokio::task::spawn_blocking(move || hash_both(object, keep))
            .await
            .map_err(Error::worker)?
            .map_err(|source| Error::from_io(source, "read", location))?;
        let stored_ok = hashed.stored_sha256 == manifest.stored_sha256
            && hashed.stored_bytes == manifest.stored_bytes;
        let raw_ok = hashed.decompress_error.is_none()
            && hashed.raw_sha256.as_deref() == Some(manifest.raw_sha256.as_str())
            && hashed.raw_bytes == manifest.raw_bytes;
        Ok(ChecksumReport {
            id: id.clone(),
            stored_bytes: hashed.stored_bytes,
            stored_sha256: hashed.stored_sha256,
            stored_ok,
            raw_bytes: hashed.raw_bytes,
            raw_sha256: hashed.raw_sha256,
            raw_ok,
            decompress_error: hashed.decompress_error,
            head: hashed.head,
            tail: hashed.tail,
        })
    }
}

struct Hashed {
    stored_bytes: u64,
    stored_sha256: String,
    raw_bytes: u64,
    raw_sha256: Option<String>,
    decompress_error: Option<String>,
    head: Vec<u8>,
    tail: Vec<u8>,
}

/// Hashes the stored bytes as they are read, and the decompressed bytes as they come out.
/// Reading errors of the object are errors; decompression errors are findings. Keeps the first
/// and last `keep` decompressed bytes.
fn hash_both(object: ObjectReader, keep: usize) -> io::Result<Hashed> {
    let tee = HashingReader {
        inner: object,
        sha: Sha256::new(),
        bytes: 0,
        error: None,
    };
    let mut decoder =
        zstd::stream::read::Decoder::with_buffer(BufReader::with_capacity(READ_BUF, tee))?;
    let mut raw_sha = Sha256::new();
    let mut raw_bytes = 0u64;
    let mut buf = vec![0u8; READ_BUF];
    let mut decompress_error = None;
    let mut head = Vec::with_capacity(keep.min(READ_BUF));
    let mut tail = TailKeeper::new(keep);
    loop {
        match decoder.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let chunk = &buf[..n];
                raw_sha.update(chunk);
                raw_bytes += n as u64;
                let room = keep - head.len();
                head.extend_from_slice(&chunk[..room.min(n)]);
                tail.push(chunk);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                decompress_error = Some(e.to_string());
                break;
            }
        }
    }
    let mut rest = decoder.finish();
    // A storage read error surfaced through the decoder is an I/O error, not damage.
    if let Some(e) = rest.get_mut().error.take() {
        return Err(e);
    }
    // Hash whatever the decoder did not consume (trailing bytes, or all after an error).
    io::copy(&mut rest, &mut io::sink())?;
    let tee = rest.into_inner();
    Ok(Hashed {
        stored_bytes: tee.bytes,
        stored_sha256: hex::encode(tee.sha.finalize()),
        raw_bytes,
        raw_sha256: decompress_error
            .is_none()
            .then(|| hex::encode(raw_sha.finalize())),
        decompress_error,
        head,
        tail: tail.into_bytes(),
    })
}

/// The last `keep` bytes of a stream, without holding more than twice that.
struct TailKeeper {
    keep: usize,
    bytes: Vec<u8>,
}

impl TailKeeper {
    fn new(keep: usize) -> TailKeeper {
        TailKeeper {
            keep,
            bytes: Vec::new(),
        }
    }

    fn push(&mut self, chunk: &[u8]) {
        if self.keep == 0 {
            return;
        }
        if chunk.len() >= self.keep {
            self.bytes.clear();
            self.bytes
                .extend_from_slice(&chunk[chunk.len() - self.keep..]);
            return;
        }
        self.bytes.extend_from_slice(chunk);
        // Trim only once the buffer has doubled: amortised O(1) per byte.
        if self.bytes.len() >= 2 * self.keep {
            let cut = self.bytes.len() - self.keep;
            self.bytes.drain(..cut);
        }
    }

    fn into_bytes(mut self) -> Vec<u8> {
        if self.bytes.len() > self.keep {
            let cut = self.bytes.len() - self.keep;
            self.bytes.drain(..cut);
        }
        self.bytes
    }
}

/// Counts and hashes what is read through it; remembers a read error.
struct HashingReader {
    inner: ObjectReader,
    sha: Sha256,
    bytes: u64,
    error: Option<io::Error>,
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

#[cfg(test)]
mod tests {
    use super::TailKeeper;

    #[test]
    fn the_tail_keeper_keeps_exactly_the_last_bytes_whatever_the_chunking() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        for keep in [0, 1, 7, 100, 4096, 20_000] {
            for chunk in [1, 3, 64, 1000, 10_000] {
                let mut t = TailKeeper::new(keep);
                for c in data.chunks(chunk) {
                    t.push(c);
                }
                let want = &data[data.len().saturating_sub(keep)..];
                assert_eq!(t.into_bytes(), want, "keep {keep}, chunk {chunk}");
            }
        }
    }
}
