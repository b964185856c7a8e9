//! A reseed's payload on its way to the joiners: chunks from a producer (the stored backup
//! decompressed on a thread of its own, the primary's live dump, or a copy rolled forward on
//! the manager), and what the payload must match before the end marker vouches for it.

use bytes::Bytes;
use ferryman_repo::Manifest;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use tracing::Instrument;

use crate::{Error, Result, Services};

/// Size of one read from the stored payload.
const CHUNK: usize = 1 << 20;
/// Chunks buffered between the payload reader and the joiners.
pub(super) const CHUNKS: usize = 4;

/// A payload on its way to the joiners: chunks from a producer task, and what it must match.
pub(super) struct Payload {
    pub(super) chunks: mpsc::Receiver<std::io::Result<Bytes>>,
    pub(super) producer: tokio::task::JoinHandle<()>,
    /// Its length, when known (progress).
    pub(super) expected: Option<u64>,
    /// What it is, and what it is checked against before the end marker goes out.
    pub(super) check: Check,
}

/// What a live payload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Live {
    /// `logicalmaster`: a mysqldump of the primary.
    Dump,
    /// `snapshot`: a tar of a donor's consistent snapshot.
    Snapshot,
}

impl Live {
    /// The payload from `source`, for messages.
    pub(super) fn describe(self, source: &str) -> String {
        match self {
            Live::Dump => format!("the dump of the primary `{source}`"),
            Live::Snapshot => format!("the snapshot of `{source}`"),
        }
    }

    /// What else to try, after a `; `.
    pub(super) fn instead(self) -> &'static str {
        match self {
            Live::Dump => ", or use `logicalbackup`",
            Live::Snapshot => ", its agent's log, or use `physicalbackup`",
        }
    }

    /// The donor's task.
    pub(super) fn task(self) -> ferryman_proto::Task {
        match self {
            Live::Dump => ferryman_proto::Task::Mysqldump,
            Live::Snapshot => ferryman_proto::Task::Snapshotsend,
        }
    }
}

pub(super) enum Check {
    /// A stored backup: length and sha256 must equal the manifest's.
    Manifest(Box<Manifest>),
    /// A live stream from `source`'s agent (`logicalmaster`: the primary's dump; `snapshot`:
    /// a donor's snapshot): the gate ends it only when that agent reported success (its tool
    /// exited 0, the dump ended with its footer, the snapshot was whole).
    Live { source: String, what: Live },
    /// A copy rolled forward to `point` on the manager (`point.rs`): its producer ends it
    /// only when `mariabackup --backup` completed.
    Copy { point: String },
}

impl Payload {
    /// The stored backup, decompressed on a thread of its own.
    pub(super) async fn stored(services: &Services, manifest: Manifest) -> Result<Payload> {
        let (repo, note) = services.repos.source_for(&manifest).await?;
        if let Some(note) = note {
            tracing::info!("reseed: {note}");
        }
        let mut reader = repo.payload_reader(&manifest.id).await?;
        let (tx, chunks) = mpsc::channel::<std::io::Result<Bytes>>(CHUNKS);
        // Awaited by `send`, which the reseed's tracked task runs.
        let span = tracing::Span::current();
        let producer = tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            loop {
                let mut buf = vec![0u8; CHUNK];
                let n = match read_full(&mut *reader, &mut buf) {
                    Ok(n) => n,
                    Err(e) => {
                        let _ = tx.blocking_send(Err(e));
                        return;
                    }
                };
                if n == 0 {
                    return;
                }
                buf.truncate(n);
                if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                    return;
                }
            }
        });
        Ok(Payload {
            chunks,
            producer,
            expected: Some(manifest.raw_bytes),
            check: Check::Manifest(Box::new(manifest)),
        })
    }

    /// A stream arriving from `source`'s agent through the gate.
    pub(super) fn live<R>(source: &str, what: Live, mut reader: R) -> Payload
    where
        R: tokio::io::AsyncRead + Unpin + Send + 'static,
    {
        let (tx, chunks) = mpsc::channel::<std::io::Result<Bytes>>(CHUNKS);
        let producer = tokio::spawn(
            async move {
                forward(&mut reader, &tx).await;
            }
            // Awaited by `send`, which the reseed's tracked task runs.
            .instrument(tracing::Span::current()),
        );
        Payload {
            chunks,
            producer,
            expected: None,
            check: Check::Live {
                source: source.to_owned(),
                what,
            },
        }
    }
}

impl Check {
    /// The payload, for progress.
    pub(super) fn what(&self) -> String {
        match self {
            Check::Manifest(m) => format!("backup {}", m.id),
            Check::Live { source, what } => what.describe(source),
            Check::Copy { point } => format!("the copy at {point}"),
        }
    }

    /// The error of a payload that could not be read to its end.
    pub(super) fn unreadable(&self, e: std::io::Error) -> Error {
        match self {
            Check::Manifest(m) => Error::Refused(format!(
                "cannot read backup {}: {e}; its payload is damaged or unreadable: nothing was \
                 restored; pick another backup with --backup",
                m.id
            )),
            Check::Live { source, what } => Error::Reseed {
                server: source.clone(),
                detail: format!(
                    "{} failed: {e}; nothing was restored: see its job in `ferryman jobs list`{}",
                    what.describe(source),
                    what.instead()
                ),
            },
            Check::Copy { point } => Error::Refused(format!(
                "the copy at {point} could not be streamed from the manager: {e}; nothing was \
                 restored: see the manager's log, and the space of `[verifier] work-dir`"
            )),
        }
    }

    /// The sha256 the end marker vouches for, once the whole payload was read: a stored
    /// backup's is its manifest's (the joiner checks what it received against it, so the
    /// manager need not hash the payload), a dump's is the one computed while passing it on.
    pub(super) fn trailer_digest(&self, total: u64, sha: Option<Sha256>) -> Result<[u8; 32]> {
        match self {
            Check::Manifest(m) => {
                if total != m.raw_bytes {
                    return Err(Error::Refused(format!(
                        "backup {} does not verify: its payload is {total} bytes, the manifest \
                         says {}; nothing was restored; pick another backup with --backup",
                        m.id, m.raw_bytes
                    )));
                }
                let mut digest = [0u8; 32];
                hex::decode_to_slice(&m.raw_sha256, &mut digest).map_err(|e| {
                    Error::Refused(format!(
                        "backup {}'s manifest holds no valid sha256 (`{}`: {e}); nothing was \
                         restored; pick another backup with --backup",
                        m.id, m.raw_sha256
                    ))
                })?;
                Ok(digest)
            }
            Check::Live { .. } | Check::Copy { .. } => {
                Ok(sha.unwrap_or_default().finalize().into())
            }
        }
    }
}

/// How [`forward`] ended.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Forwarded {
    /// The reader's end: every chunk was passed on.
    End,
    /// A read failed; the error was passed on.
    Failed,
    /// The receiver is gone (every joiner dropped).
    Abandoned,
}

/// Passes `reader`'s bytes to `tx` in chunks until its end, a read error (passed on) or the
/// receiver's going.
pub(super) async fn forward<R>(
    reader: &mut R,
    tx: &mpsc::Sender<std::io::Result<Bytes>>,
) -> Forwarded
where
    R: tokio::io::AsyncRead + Unpin,
{
    loop {
        let mut buf = vec![0u8; CHUNK];
        let n = match reader.read(&mut buf).await {
            Ok(n) => n,
            Err(e) => {
                let _ = tx.send(Err(e)).await;
                return Forwarded::Failed;
            }
        };
        if n == 0 {
            return Forwarded::End;
        }
        buf.truncate(n);
        if tx.send(Ok(Bytes::from(buf))).await.is_err() {
            return Forwarded::Abandoned;
        }
    }
}

/// Reads until `buf` is full or the end.
pub(super) fn read_full(reader: &mut dyn std::io::Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
