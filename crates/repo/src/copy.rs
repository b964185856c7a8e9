//! Copying a stored backup from one repository to another: [`Repository::copy_from`].
//!
//! # Sequence
//! 1. The source's manifest is read; a copy already catalogued in the target is left alone
//!    (copies are idempotent: a copier that runs again after a crash finds its work done).
//! 2. The target's backup directory is registered as being written, then cleared (an earlier
//!    attempt that died leaves a directory without manifest).
//! 3. The stored payload streams from the source to the target on a blocking thread, hashed
//!    on the way; it is committed only if its size and sha256 are the manifest's. A damaged
//!    source is therefore never copied: the error says so, and the target is left without
//!    the backup. When the repositories' encryption differs (one encrypted and not the other,
//!    or other recipients), the payload is decrypted with the source's identity and encrypted
//!    for the target's recipients on the way (age refuses a changed chunk before it is
//!    written); otherwise it is copied byte for byte.
//! 4. The manifest is written last, as at ingest: its presence marks a complete copy. A
//!    re-encrypted copy's manifest records its own payload (name, size, sha256, encryption);
//!    the raw stream's size and sha256 are the backup's, whatever the repository.
//!
//! # Safety
//! Any failure (source unreadable or damaged, target full or unreachable, cancellation by
//! dropping the future) leaves no manifest in the target; its directory is removed, or
//! cleaned at the target's next start.

use std::io::{self, BufReader, Read, Write};
use std::sync::Arc;

use tracing::{info, warn};

use crate::crypt::{Encryption, Keys, MaybeDecrypt, MaybeEncrypt};
use crate::hashing::{HashingReader, HashingWriter};
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
            Ok(copied) => {
                info!(backup = %id, from = %source.location(), to = %self.location(), bytes = copied.stored_bytes, reencrypted = copied.stored_sha256 != manifest.stored_sha256, "backup copied");
                Ok(copied)
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
    async fn copy_payload(&self, source: &Repository, manifest: &Manifest) -> Result<Manifest> {
        let wanted = self.keys().map(Keys::encryption);
        let as_is = match (&manifest.encryption, &wanted) {
            (None, None) => true,
            (Some(have), Some(want)) => have.same_as(want),
            _ => false,
        };
        let mut copied = manifest.clone();
        if !as_is {
            copied.payload = manifest.format.payload_name_for(wanted.is_some());
            copied.format_version = Manifest::format_version_for(wanted.as_ref());
            copied.encryption = wanted;
        }
        let (from_key, to_key) = (manifest.payload_key(), copied.payload_key());
        let reader = source.storage().open(&from_key).await?;
        let writer = self.storage().create(&to_key).await?;
        let expected = (manifest.stored_bytes, manifest.stored_sha256.clone());
        let from = format!("{from_key} in {}", source.location());
        let to = format!("{to_key} in {}", self.location());
        let recode = (!as_is).then(|| Recode {
            encryption: manifest.encryption.clone(),
            source_keys: source.shared_keys(),
            target_keys: self.shared_keys(),
        });
        let (bytes, sha256) = tokio::task::spawn_blocking(move || {
            checked_copy(reader, writer, recode, expected, from, to)
        })
        .await
        .map_err(Error::worker)??;
        copied.stored_bytes = bytes;
        copied.stored_sha256 = sha256;
        // Signed by this repository's key: the copy's payload may be re-encrypted.
        self.put_manifest(&mut copied).await?;
        Ok(copied)
    }
}

/// How to re-encode a payload whose encryption differs between the repositories.
struct Recode {
    /// The source payload's encryption (from its manifest).
    encryption: Option<Encryption>,
    /// The source repository's keys, to decrypt it.
    source_keys: Option<Arc<Keys>>,
    /// The target repository's keys, to encrypt it (`None`: stored plain).
    target_keys: Option<Arc<Keys>>,
}

/// Streams `reader` into `writer` (decrypting and re-encrypting on the way when `recode` says)
/// and commits it only if exactly the `expected` bytes with the expected sha256 were read.
/// Returns the size and sha256 of what was written.
fn checked_copy(
    reader: ObjectReader,
    writer: Box<dyn ObjectWriter>,
    recode: Option<Recode>,
    expected: (u64, String),
    from: String,
    to: String,
) -> Result<(u64, String)> {
    let mut tee = HashingReader::new(reader);
    let target_keys = recode.as_ref().and_then(|r| r.target_keys.clone());
    let mut sink = MaybeEncrypt::new(HashingWriter::new(writer), target_keys.as_deref())
        .map_err(|e| Error::from_io(e, "write", to.clone()))?;
    let moved = match &recode {
        None => pump(&mut tee, &mut sink),
        Some(recode) => {
            let mut plain = MaybeDecrypt::open(
                BufReader::with_capacity(BUF, &mut tee),
                recode.encryption.as_ref(),
                recode.source_keys.as_deref(),
                &from,
            )?;
            pump(&mut plain, &mut sink)
        }
    };
    // The storage's read errors first; then a read error is age refusing a chunk.
    if let Some(e) = tee.error.take() {
        return Err(Error::from_io(e, "read", from));
    }
    match moved {
        Ok(()) => {}
        Err(Pumped::Read(e)) if e.kind() == io::ErrorKind::InvalidData => {
            return Err(Error::Undecryptable {
                what: from,
                detail: e.to_string(),
            })
        }
        Err(Pumped::Read(e)) => return Err(Error::from_io(e, "read", from)),
        Err(Pumped::Write(e)) => return Err(Error::from_io(e, "write", to)),
    }
    io::copy(&mut tee, &mut io::sink()).map_err(|e| Error::from_io(e, "read", from.clone()))?;
    let (read, got) = tee.finish();
    let (bytes, sha256) = expected;
    if read != bytes || got != sha256 {
        return Err(Error::DamagedCopy {
            location: from,
            detail: format!(
                "{read} bytes with sha256 {got}, where the manifest records {bytes} bytes with \
                 sha256 {sha256}"
            ),
        });
    }
    sink.finish()
        .map_err(|e| Error::from_io(e, "write", to))?
        .commit()
}

/// Which side of a [`pump`] failed.
enum Pumped {
    Read(io::Error),
    Write(io::Error),
}

/// Moves everything from `reader` to `writer`, [`BUF`] bytes at a time.
fn pump(reader: &mut impl Read, writer: &mut impl Write) -> std::result::Result<(), Pumped> {
    let mut buf = vec![0u8; BUF];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Pumped::Read(e)),
        };
        writer.write_all(&buf[..n]).map_err(Pumped::Write)?;
    }
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
    /// A whole copy that this repository cannot decrypt (no identity, or not one of the
    /// payload's recipients); only [`Repository::check_readable`] says so.
    Locked {
        /// Whom the payload is encrypted for, and what the repository has.
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
            CopyCheck::Locked { detail } => write!(f, "not readable here: {detail}"),
            CopyCheck::Unreachable { detail } => write!(f, "unreachable: {detail}"),
        }
    }
}

impl Repository {
    /// Checks this repository's copy of the backup `expected` describes: see [`CopyCheck`].
    pub async fn check_copy(&self, expected: &Manifest) -> CopyCheck {
        self.checked_copy(expected, false).await
    }

    /// [`Repository::check_copy`], and [`CopyCheck::Locked`] for a whole copy this
    /// repository has no key to decrypt: where to read a backup from.
    pub async fn check_readable(&self, expected: &Manifest) -> CopyCheck {
        self.checked_copy(expected, true).await
    }

    async fn checked_copy(&self, expected: &Manifest, for_reading: bool) -> CopyCheck {
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
        // The raw stream identifies the backup: a re-encrypted copy stores other bytes.
        if (there.raw_sha256.as_str(), there.raw_bytes)
            != (expected.raw_sha256.as_str(), expected.raw_bytes)
        {
            return CopyCheck::Damaged {
                detail: format!(
                    "its manifest records another backup (raw sha256 {}, expected {})",
                    there.raw_sha256, expected.raw_sha256
                ),
            };
        }
        match self.storage().size(&there.payload_key()).await {
            Ok(Some(size)) if size == there.stored_bytes => match &there.encryption {
                Some(encryption) if for_reading => self.lock(encryption),
                _ => CopyCheck::Ok,
            },
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

impl Repository {
    /// [`CopyCheck::Ok`] when this repository's keys open a payload encrypted as `encryption`
    /// says, [`CopyCheck::Locked`] otherwise.
    fn lock(&self, encryption: &Encryption) -> CopyCheck {
        let opens = self.keys().map(|k| k.opens(encryption));
        match opens {
            Some(Ok(())) => CopyCheck::Ok,
            Some(Err(detail)) => CopyCheck::Locked { detail },
            None => CopyCheck::Locked {
                detail: format!(
                    "encrypted for {}, and the repository has no age identity",
                    encryption.recipients.join(", ")
                ),
            },
        }
    }
}
