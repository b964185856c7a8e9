//! What an interrupted run left in the repository, dealt with at manager start:
//! [`Repository::clean_incomplete`].
//!
//! A backup directory without `manifest.json` is not a backup. What it holds says how far its
//! ingest got (`ingest.rs`): the payload is streamed into `payload.*.zst.partial` and renamed
//! to its final name only once the whole stream arrived, was accepted and the node agreed; the
//! manifest comes after. So a directory holding nothing but payloads under their temporary
//! name (or nothing at all) is provably partial and is removed. Anything else (a payload under
//! its final name, a file we do not know) may be a whole backup whose manifest was never
//! written, or something a person put there: it is moved aside to
//! `Quarantine/<cluster>/<server>/<backup-id>-q<UTC time>/`, never deleted, and logged at WARN
//! with its contents and what the DBA can do. Nothing else in Ferryman looks in `Quarantine/`.
//!
//! Log files still under their temporary name (`*.log.zst.partial`) are removed: a log is only
//! committed once its stream ended well, so a partial one is provably incomplete.

use tracing::{info, warn};

use crate::layout::{self, BackupId, QUARANTINE};
use crate::logs;
use crate::manifest::Format;
use crate::repository::Repository;
use crate::storage::local::PARTIAL_SUFFIX;
use crate::storage::{Entry, Key};
use crate::timestamp::Timestamp;
use crate::Result;

/// What [`Repository::clean_incomplete`] did.
#[derive(Debug, Default)]
pub struct Leftovers {
    /// Provably partial backup directories and log files, removed.
    pub removed: Vec<Key>,
    /// Backup directories without a manifest that held more than a partial payload, moved.
    pub quarantined: Vec<Quarantined>,
}

impl Leftovers {
    /// Nothing was left.
    pub fn is_empty(&self) -> bool {
        self.removed.is_empty() && self.quarantined.is_empty()
    }
}

/// A backup directory moved to `Quarantine/`.
#[derive(Debug)]
pub struct Quarantined {
    /// Where it was: `Backups/<cluster>/<server>/<backup-id>`.
    pub from: Key,
    /// Where it is now: `Quarantine/<cluster>/<server>/<backup-id>-q<UTC time>`.
    pub to: Key,
    /// What it holds: each file's name and size in bytes (when the storage can tell).
    pub contents: Vec<(String, Option<u64>)>,
}

impl Quarantined {
    /// `payload.sql.zst (1234 bytes), notes (? bytes)`, for messages.
    pub fn describe(&self) -> String {
        if self.contents.is_empty() {
            return "nothing".to_owned();
        }
        let files: Vec<String> = self
            .contents
            .iter()
            .map(|(name, size)| match size {
                Some(bytes) => format!("{name} ({bytes} bytes)"),
                None => format!("{name} (a directory)"),
            })
            .collect();
        files.join(", ")
    }
}

impl Repository {
    /// Deals with what a crashed manager left, except what this process is writing right now
    /// (see the module documentation): provably partial backups and logs are removed, other
    /// backup directories without a manifest are quarantined. Call it at manager start.
    pub async fn clean_incomplete(&self) -> Result<Leftovers> {
        self.leftovers(true).await
    }

    /// What [`Repository::clean_incomplete`] would remove and quarantine, changing nothing
    /// (`repo check`). The quarantine paths are those a clean-up now would choose.
    pub async fn find_incomplete(&self) -> Result<Leftovers> {
        self.leftovers(false).await
    }

    /// The leftovers, dealt with when `apply`.
    async fn leftovers(&self, apply: bool) -> Result<Leftovers> {
        let mut out = Leftovers::default();
        for (cluster, server, dir) in self.server_dirs(None, None).await? {
            for entry in self.storage().list(Some(&dir)).await? {
                let key = dir.join(&entry.name)?;
                // Only what is named like a backup: anything else was not made by us.
                let ours = BackupId::from_name(&cluster, &server, &entry.name).is_ok();
                if !entry.is_dir || !ours || self.is_in_flight(&key) {
                    continue;
                }
                let manifest = key.join(layout::MANIFEST)?;
                if self.storage().get(&manifest).await?.is_some() {
                    continue;
                }
                let inside = self.storage().list(Some(&key)).await?;
                if inside.iter().all(is_partial_payload) {
                    if apply {
                        self.storage().delete_prefix(&key).await?;
                        info!(dir = %key, "removed a partial backup (its payload never finished, no manifest)");
                    }
                    out.removed.push(key);
                } else {
                    out.quarantined.push(
                        self.quarantine(&cluster, &server, &key, &inside, apply)
                            .await?,
                    );
                }
            }
        }
        for (_, _, dir) in self.log_dirs().await? {
            for entry in self.storage().list(Some(&dir)).await? {
                let key = dir.join(&entry.name)?;
                let Some(final_name) = entry.name.strip_suffix(PARTIAL_SUFFIX) else {
                    continue;
                };
                if entry.is_dir || !logs::is_log_name(final_name) {
                    continue;
                }
                let target = dir.join(final_name)?;
                if self.is_in_flight(&target) {
                    continue;
                }
                if apply {
                    self.storage().delete(&key).await?;
                    info!(file = %key, "removed a partially received log");
                }
                out.removed.push(key);
            }
        }
        Ok(out)
    }

    /// Moves the backup directory `key` (holding `inside`) to the quarantine, and says so;
    /// without `apply`, only says where it would go.
    async fn quarantine(
        &self,
        cluster: &str,
        server: &str,
        key: &Key,
        inside: &[Entry],
        apply: bool,
    ) -> Result<Quarantined> {
        let mut contents = Vec::new();
        for entry in inside {
            let size = match entry.is_dir {
                true => None,
                false => self.storage().size(&key.join(&entry.name)?).await?,
            };
            contents.push((entry.name.clone(), size));
        }
        let name = format!("{}-q{}", key.name(), Timestamp::now().compact());
        let to = Key::new(QUARANTINE)?
            .join(cluster)?
            .join(server)?
            .join(&name)?;
        let moved = Quarantined {
            from: key.clone(),
            to,
            contents,
        };
        if !apply {
            return Ok(moved);
        }
        self.storage().rename(key, &moved.to).await?;
        let path = self
            .storage()
            .local_path(&moved.to)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| format!("{}/{}", self.location(), moved.to));
        warn!(
            dir = %moved.from,
            quarantine = %path,
            contents = %moved.describe(),
            "a backup directory without manifest.json held more than a partial payload (a run interrupted between the payload and its manifest, or files put there by hand); it was moved to the quarantine, not deleted, and is not a backup Ferryman lists, verifies, prunes or restores: inspect it (a payload decompresses with `zstd -dc`), keep what you need elsewhere, then remove it by hand (`rm -r {path}`)"
        );
        Ok(moved)
    }
}

/// A payload still under its temporary name: its stream never finished.
fn is_partial_payload(entry: &Entry) -> bool {
    let Some(name) = entry.name.strip_suffix(PARTIAL_SUFFIX) else {
        return false;
    };
    !entry.is_dir
        && [Format::Xbstream, Format::Sql, Format::Tar]
            .iter()
            .any(|f| [false, true].iter().any(|&e| name == f.payload_name_for(e)))
}
