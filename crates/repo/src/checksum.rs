//! Reading a payload back: [`Repository::payload_reader`] (decrypting and decompressing, for
//! reseeds and test restores) and [`Repository::verify_checksum`], which recomputes both
//! sha256 sums of the manifest: the stored file's (catches damage at rest) and the
//! decompressed stream's (catches a payload that decompresses to something else than what was
//! received). The pass can hand the decompressed payload on as it goes ([`PayloadFeed`]), for a
//! verification's restore.
//!
//! The pass reads, hashes and decompresses on its thread, and hashes the decompressed bytes on
//! a second one: on a manager checking a big payload, sha256 of the raw bytes is as much work
//! as their decompression.

use std::io::{self, BufReader, Read};
use std::sync::mpsc::sync_channel;
use std::sync::Arc;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::crypt::{Encryption, Keys, MaybeDecrypt};
use crate::hashing::HashingReader;
use crate::layout::BackupId;
use crate::repository::Repository;
use crate::storage::ObjectReader;
use crate::{Error, Result};

mod feed;

pub use self::feed::{payload_feed, FeedTap, PayloadFeed};

/// Buffer size for checksum reads.
const READ_BUF: usize = 1 << 20;
/// Decompressed chunks waiting for the raw hasher, at most.
const HASH_IN_FLIGHT: usize = 4;

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
    /// Why decryption or decompression failed, if it did.
    pub decompress_error: Option<String>,
    /// True when the payload is encrypted and this repository has no identity: only the
    /// stored bytes were checked ([`Repository::verify_checksum_at_rest`]).
    pub at_rest_only: bool,
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
        self.stored_ok && (self.raw_ok || self.at_rest_only)
    }

    /// One line for logs and job results.
    pub fn summary(&self) -> String {
        if self.is_ok() && self.at_rest_only {
            return format!(
                "backup {}: the stored (encrypted) payload's checksum matches ({} bytes); not \
                 decrypted: the repository has no identity",
                self.id, self.stored_bytes
            );
        }
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
            problems.push(format!("the payload does not decrypt or decompress ({e})"));
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
    /// A reader of backup `id`'s payload, decrypted and decompressed. Its reads block: use it
    /// on a blocking thread (`spawn_blocking`), or bridge it to async code through a channel.
    /// An encrypted payload this repository has no identity for is an error here, before a
    /// byte is handed out; a damaged chunk is a read error, and nothing of it is returned.
    pub async fn payload_reader(&self, id: &BackupId) -> Result<Box<dyn Read + Send>> {
        let manifest = self.get(id).await?;
        let key = manifest.payload_key();
        self.plain_reader(&key, manifest.encryption.clone()).await
    }

    /// A reader of the stored object `key`, decrypted (when `encryption` says it is) and
    /// decompressed; its reads block. An encrypted object without its identity is an error
    /// here, before a byte is handed out.
    pub(crate) async fn plain_reader(
        &self,
        key: &crate::storage::Key,
        encryption: Option<crate::crypt::Encryption>,
    ) -> Result<Box<dyn Read + Send>> {
        let object = self.storage().open(key).await?;
        let what = format!("{key} in {}", self.location());
        let keys = self.shared_keys();
        let plain = tokio::task::spawn_blocking(move || {
            MaybeDecrypt::open(object, encryption.as_ref(), keys.as_deref(), &what)
        })
        .await
        .map_err(Error::worker)??;
        let decoder = zstd::stream::read::Decoder::new(plain).map_err(|source| Error::Io {
            action: "start decompressing",
            location: key.to_string(),
            source,
        })?;
        Ok(Box::new(decoder))
    }

    /// Recomputes the stored and the decompressed payload's sha256 and sizes, and compares
    /// them with the manifest. A mismatch is a report, not an error: errors are for failing
    /// to read at all (and for an encrypted payload without its key).
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
        self.checksums(id, keep, false, None).await
    }

    /// [`Repository::verify_checksum_keeping`], also handing the decompressed payload to
    /// `tap`'s [`PayloadFeed`] as it goes: a restore fed there reads nothing a second time.
    /// The report is whole whatever the consumer does (see [`PayloadFeed`]).
    pub async fn verify_checksum_feeding(
        &self,
        id: &BackupId,
        keep: usize,
        tap: FeedTap,
    ) -> Result<ChecksumReport> {
        self.checksums(id, keep, false, Some(tap)).await
    }

    /// [`Repository::verify_checksum`], except that an encrypted payload this repository has
    /// no identity for is checked at rest only (its stored bytes), not refused: what
    /// `repo check` does for a write-only repository.
    pub async fn verify_checksum_at_rest(&self, id: &BackupId) -> Result<ChecksumReport> {
        self.checksums(id, 0, true, None).await
    }

    async fn checksums(
        &self,
        id: &BackupId,
        keep: usize,
        at_rest: bool,
        tap: Option<FeedTap>,
    ) -> Result<ChecksumReport> {
        let manifest = self.get(id).await?;
        let key = manifest.payload_key();
        let object = self.storage().open(&key).await?;
        let what = format!("{key} in {}", self.location());
        let keys = self.shared_keys();
        let encryption = manifest.encryption.clone();
        let at_rest_only =
            at_rest && encryption.is_some() && !keys.as_deref().is_some_and(|k| k.can_decrypt());
        let hashed = tokio::task::spawn_blocking(move || {
            let decrypt = (!at_rest_only).then_some((encryption.as_ref(), keys.as_deref()));
            hash_both(object, keep, decrypt, &what, tap)
        })
        .await
        .map_err(Error::worker)??;
        let stored_ok = hashed.stored_sha256 == manifest.stored_sha256
            && hashed.stored_bytes == manifest.stored_bytes;
        let raw_ok = !at_rest_only
            && hashed.decompress_error.is_none()
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
            at_rest_only,
            head: hashed.head,
            tail: hashed.tail,
        })
    }
}

#[derive(Default)]
struct Hashed {
    stored_bytes: u64,
    stored_sha256: String,
    raw_bytes: u64,
    raw_sha256: Option<String>,
    decompress_error: Option<String>,
    head: Vec<u8>,
    tail: Vec<u8>,
}

/// The decryption to apply: `None` hashes the stored bytes only; otherwise the manifest's
/// encryption and the repository's keys.
type Decrypt<'a> = Option<(Option<&'a Encryption>, Option<&'a Keys>)>;

/// Hashes the stored bytes as they are read, and the decrypted, decompressed bytes as they
/// come out. Reading errors of the object are errors, and so is a key that does not open
/// it; damage (a chunk that does not decrypt, a frame that does not decompress) is a finding.
/// Keeps the first and last `keep` decompressed bytes; hands them to `tap` when given.
fn hash_both(
    object: ObjectReader,
    keep: usize,
    decrypt: Decrypt<'_>,
    what: &str,
    mut tap: Option<FeedTap>,
) -> Result<Hashed> {
    let mut tee = HashingReader::new(object);
    let mut found = Hashed::default();
    if let Some((encryption, keys)) = decrypt {
        let buffered = BufReader::with_capacity(READ_BUF, &mut tee);
        match MaybeDecrypt::open(buffered, encryption, keys, what) {
            Ok(plain) => decompress(plain, keep, &mut found, tap.as_mut()),
            Err(e @ (Error::WrongKey { .. } | Error::NoIdentity { .. })) => return Err(e),
            Err(e) => found.decompress_error = Some(e.to_string()),
        }
        if let Some(tap) = tap.as_mut() {
            match &found.decompress_error {
                Some(e) => tap.fail(e),
                None => tap.end(),
            }
        }
    }
    // A storage read error surfaced through the decoder is an I/O error, not damage.
    if let Some(e) = tee.error.take() {
        return Err(Error::from_io(e, "read", what.to_owned()));
    }
    // Hash whatever the decoder did not consume (trailing bytes, or all after an error).
    io::copy(&mut tee, &mut io::sink()).map_err(|e| Error::from_io(e, "read", what.to_owned()))?;
    (found.stored_bytes, found.stored_sha256) = tee.finish();
    Ok(found)
}

/// Decompresses `plain` to its end or its first error, hashing it into `found` (on a thread
/// of its own) and handing it to `tap` (which the caller tells how it ended).
fn decompress(plain: impl Read, keep: usize, found: &mut Hashed, mut tap: Option<&mut FeedTap>) {
    let mut decoder = match zstd::stream::read::Decoder::new(plain) {
        Ok(decoder) => decoder,
        Err(e) => {
            found.decompress_error = Some(e.to_string());
            return;
        }
    };
    let (tx, rx) = sync_channel::<Arc<Vec<u8>>>(HASH_IN_FLIGHT);
    let hashed = std::thread::scope(|scope| {
        let hasher = scope.spawn(move || hash_raw(rx, keep));
        let mut pool = Chunks::default();
        loop {
            let mut buf = pool.free();
            let (n, error) = fill(&mut decoder, &mut buf);
            // Bytes read before an error are hashed too: `raw_bytes` says how far it went.
            if n > 0 {
                buf.truncate(n);
                let chunk = pool.hand_out(buf);
                if let Some(tap) = tap.as_deref_mut() {
                    tap.send(&chunk);
                }
                if tx.send(chunk).is_err() {
                    break;
                }
            }
            if let Some(e) = error {
                found.decompress_error = Some(e.to_string());
                break;
            }
            if n == 0 {
                break;
            }
        }
        drop(tx);
        hasher.join()
    });
    match hashed {
        Ok(raw) => {
            found.raw_bytes = raw.bytes;
            found.head = raw.head;
            found.tail = raw.tail;
            if found.decompress_error.is_none() {
                found.raw_sha256 = Some(raw.sha256);
            }
        }
        Err(_) => {
            found.decompress_error =
                Some("the thread hashing the decompressed payload panicked".to_owned());
        }
    }
}

/// Reads `reader` into `buf` (resized to [`READ_BUF`]) until it is full or the stream ends;
/// the bytes read, and the error that stopped it early if one did.
fn fill(reader: &mut impl Read, buf: &mut Vec<u8>) -> (usize, Option<io::Error>) {
    buf.resize(READ_BUF, 0);
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(read) => n += read,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (n, Some(e)),
        }
    }
    (n, None)
}

/// The chunk buffers handed to the hasher and the feed, taken back once both let go of them:
/// a fresh 1 MiB buffer per chunk costs its page faults on every chunk, as much CPU as a
/// tenth of the decompression.
#[derive(Default)]
struct Chunks {
    out: Vec<Arc<Vec<u8>>>,
}

impl Chunks {
    /// At most this many buffers are kept: more than the channels and their readers hold.
    const KEPT: usize = 16;

    /// A buffer nobody else holds any more, or a new one.
    fn free(&mut self) -> Vec<u8> {
        if let Some(i) = self.out.iter().position(|c| Arc::strong_count(c) == 1) {
            if let Ok(buf) = Arc::try_unwrap(self.out.swap_remove(i)) {
                return buf;
            }
        }
        Vec::with_capacity(READ_BUF)
    }

    /// `buf` as a chunk to hand out, remembered to be taken back.
    fn hand_out(&mut self, buf: Vec<u8>) -> Arc<Vec<u8>> {
        let chunk = Arc::new(buf);
        if self.out.len() < Self::KEPT {
            self.out.push(Arc::clone(&chunk));
        }
        chunk
    }
}

/// What [`hash_raw`] found.
struct RawHashed {
    bytes: u64,
    sha256: String,
    head: Vec<u8>,
    tail: Vec<u8>,
}

/// Hashes the chunks from `rx` until it closes, keeping the first and last `keep` bytes.
fn hash_raw(rx: std::sync::mpsc::Receiver<Arc<Vec<u8>>>, keep: usize) -> RawHashed {
    let mut sha = Sha256::new();
    let mut bytes = 0u64;
    let mut head = Vec::with_capacity(keep.min(READ_BUF));
    let mut tail = TailKeeper::new(keep);
    for chunk in rx {
        sha.update(&chunk[..]);
        bytes += chunk.len() as u64;
        let room = keep - head.len();
        head.extend_from_slice(&chunk[..room.min(chunk.len())]);
        tail.push(&chunk);
    }
    RawHashed {
        bytes,
        sha256: hex::encode(sha.finalize()),
        head,
        tail: tail.into_bytes(),
    }
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
