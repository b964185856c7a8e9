//! Copying a stored backup from one repository to another: [`Repository::copy_from`].
//!
//! # Sequence
//! 1. The source's manifest is read; a copy already catalogued in the target is left alone
//!    (copies are idempotent: a copier that runs again after a crash finds its work done).
//! 2. The target's backup directory is registered as being written, then cleared (an earlier
//!    attempt that died leaves a directory without manifest).
//! 3. The stored payload (compressed, as it is) streams from the source to the target on a
//!    blocking thread, hashed on the way; it is committed only if its size and sha256 are the
//!    manifest's. A damaged source is therefore never copied: the error says so, and the
//!    target is left without the backup.
//! 4. The manifest is written last, as at ingest: its presence marks a complete copy.
//!
//! # Safety
//! Any failure (source unreadable or damaged, target full or unreachable, cancellation by
//! dropping the future) leaves no manifest in the target; its directory is removed, or
//! cleaned at the target's next start.

use std::io::{self, Read, Write};

use sha2::{Digest, Sha256};
use tracing::{info, warn};

use crate::layout::BackupId;
use crate::manifest::Manifest;
use crate::repository::Repository;
use crate::storage::{ObjectReader, ObjectWriter};
use crate::{Error, Result};

/// Bytes moved per read.
const BUF: usize = 1 << 20;

impl Repository {
    /// Copies backup `id` from `source` into this repository and returns its manifest (the
    /// one already there when the backup was copied before). See the module documentation.
    pub async fn copy_from(&self, source: &Repository, id: &BackupId) -> Result<Manifest> {
        let manifest = source.get(id).await?;
        if let Some(there) = self.read_manifest(id).await? {
            return Ok(there);
        }
        let dir = id.dir();
        let _in_flight = self.begin_write(&dir).ok_or_else(|| Error::AlreadyExists {
            what: format!("backup {id} (being copied)"),
            root: self.location(),
        })?;
        self.storage().delete_prefix(&dir).await?;
        match self.copy_payload(source, &manifest).await {
            Ok(()) => {
                info!(backup = %id, from = %source.location(), to = %self.location(), bytes = manifest.stored_bytes, "backup copied");
                Ok(manifest)
            }
            Err(e) => {
                if let Err(cleanup) = self.storage().delete_prefix(&dir).await {
                    warn!(backup = %id, error = %cleanup, "cannot remove the failed copy's directory; the next start removes it");
                }
                Err(e)
            }
        }
    }

    /// The payload, checked on the way, then the manifest.
    async fn copy_payload(&self, source: &Repository, manifest: &Manifest) -> Result<()> {
        let id = &manifest.id;
        let key = id.payload_key(manifest.format);
        let reader = source.storage().open(&key).await?;
        let writer = self.storage().create(&key).await?;
        let (bytes, sha256) = (manifest.stored_bytes, manifest.stored_sha256.clone());
        let from = format!("{key} in {}", source.location());
        let to = format!("{key} in {}", self.location());
        tokio::task::spawn_blocking(move || checked_copy(reader, writer, bytes, &sha256, from, to))
            .await
            .map_err(Error::worker)??;
        self.storage()
            .put(&id.manifest_key(), manifest.to_json())
            .await
    }
}

/// Streams `reader` into `writer` and commits it only if exactly `bytes` bytes with sha256
/// `sha256` went through.
fn checked_copy(
    mut reader: ObjectReader,
    mut writer: Box<dyn ObjectWriter>,
    bytes: u64,
    sha256: &str,
    from: String,
    to: String,
) -> Result<()> {
    let mut hash = Sha256::new();
    let mut copied = 0u64;
    let mut buf = vec![0u8; BUF];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::from_io(e, "read", from)),
        };
        hash.update(&buf[..n]);
        copied += n as u64;
        writer
            .write_all(&buf[..n])
            .map_err(|e| Error::from_io(e, "write", to.clone()))?;
    }
    let got = hex::encode(hash.finalize());
    if copied != bytes || got != sha256 {
        return Err(Error::DamagedCopy {
            location: from,
            detail: format!(
                "{copied} bytes with sha256 {got}, where the manifest records {bytes} bytes with \
                 sha256 {sha256}"
            ),
        });
    }
    writer.commit()
}

/// What one repository holds of a backup, checked cheaply (its manifest and its payload's
/// size; the bytes themselves are checked when read: by a copy, a restore, `repo check`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum CopyCheck {
    /// The manifest is the expected one and the payload has its size.
    Ok,
    /// No manifest: the repository does not hold the backup.
    Missing,
    /// A manifest without its payload, a payload of the wrong size, or another manifest.
    Damaged {
        /// What is wrong.
        detail: String,
    },
    /// The repository could not be read.
    Unreachable {
        /// The storage's error.
        detail: String,
    },
}

impl CopyCheck {
    /// True for a copy that can be read.
    pub fn is_ok(&self) -> bool {
        matches!(self, CopyCheck::Ok)
    }
}

impl std::fmt::Display for CopyCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CopyCheck::Ok => f.write_str("ok"),
            CopyCheck::Missing => f.write_str("missing"),
            CopyCheck::Damaged { detail } => write!(f, "damaged: {detail}"),
            CopyCheck::Unreachable { detail } => write!(f, "unreachable: {detail}"),
        }
    }
}

impl Repository {
    /// Checks this repository's copy of the backup `expected` describes: see [`CopyCheck`].
    pub async fn check_copy(&self, expected: &Manifest) -> CopyCheck {
        let id = &expected.id;
        let there = match self.read_manifest(id).await {
            Ok(Some(m)) => m,
            Ok(None) => return CopyCheck::Missing,
            Err(e) if matches!(e, Error::Manifest { .. }) => {
                return CopyCheck::Damaged {
                    detail: e.to_string(),
                }
            }
            Err(e) => {
                return CopyCheck::Unreachable {
                    detail: e.to_string(),
                }
            }
        };
        if there.stored_sha256 != expected.stored_sha256 {
            return CopyCheck::Damaged {
                detail: format!(
                    "its manifest records another payload (sha256 {}, expected {})",
                    there.stored_sha256, expected.stored_sha256
                ),
            };
        }
        match self.storage().size(&id.payload_key(there.format)).await {
            Ok(Some(size)) if size == there.stored_bytes => CopyCheck::Ok,
            Ok(Some(size)) => CopyCheck::Damaged {
                detail: format!(
                    "its payload has {size} bytes, the manifest records {}",
                    there.stored_bytes
                ),
            },
            Ok(None) => CopyCheck::Damaged {
                detail: format!("its payload {} is missing", there.payload),
            },
            Err(e) => CopyCheck::Unreachable {
                detail: e.to_string(),
            },
        }
    }
}
