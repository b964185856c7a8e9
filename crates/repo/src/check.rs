//! [`Repository::check`]: the repository checked as a whole (`ferryman repo check`, like
//! pgBackRest's `verify` or restic's `check`), without the manager.
//!
//! Every manifest must parse and have its payload with the recorded size; with a
//! [`ReadData`] other than `None`, every payload (or one subset of them) is read back whole and
//! its stored and decompressed sha256 compared with the manifest (an encrypted payload
//! without the identity to decrypt it: its stored sha256 only). Leftovers of interrupted runs (directories without manifest, partial objects) are
//! listed as [`Repository::clean_incomplete`] would treat them; `repair` (the caller makes
//! sure no manager is writing) removes or quarantines them.

use serde::Serialize;

use crate::copy::CopyCheck;
use crate::layout::BackupId;
use crate::leftovers::Leftovers;
use crate::manifest::Manifest;
use crate::repository::Repository;
use crate::Result;

/// Which payloads [`Repository::check`] reads back whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadData {
    /// None: manifests and sizes only.
    None,
    /// Every payload.
    All,
    /// Subset `n` of `m` (1-based, as restic's `--read-data-subset n/m`): the backups whose
    /// id hashes to `n - 1` modulo `m`. The subsets of one `m` split the backups between them
    /// whatever their number, and a backup stays in its subset, so running `1/m` to `m/m` in
    /// turn (one per day from cron) reads the whole repository once per `m` runs.
    Subset {
        /// Which subset, 1 to `m`.
        n: u32,
        /// How many subsets.
        m: u32,
    },
}

impl ReadData {
    /// Whether the payload of `id` is read.
    pub fn reads(&self, id: &BackupId) -> bool {
        match *self {
            ReadData::None => false,
            ReadData::All => true,
            ReadData::Subset { n, m } => {
                crc32fast::hash(id.to_string().as_bytes()) % m.max(1) == n.saturating_sub(1)
            }
        }
    }
}

/// What [`Repository::check`] found.
#[derive(Debug, Default, Serialize)]
pub struct CheckReport {
    /// The repository's location.
    pub location: String,
    /// Backups (manifests) checked.
    pub backups: usize,
    /// Payloads read back whole.
    pub read_backups: usize,
    /// Stored bytes read back.
    pub read_bytes: u64,
    /// Of the payloads read, those encrypted for keys this repository has no identity of:
    /// their stored bytes were checked, not what they decrypt to.
    pub at_rest_only: usize,
    /// Backups that are not whole, each with what is wrong.
    pub problems: Vec<Problem>,
    /// Partial objects (removed with `repair`, otherwise to be removed).
    pub partial: Vec<String>,
    /// Directories without manifest that hold more than a partial payload (quarantined with
    /// `repair`), with their contents.
    pub unfinished: Vec<String>,
    /// Whether the leftovers were dealt with.
    pub repaired: bool,
    /// The backend's own check, when it has one.
    pub native: Option<NativeCheck>,
}

/// What a backend's own check found (see [`crate::Storage::check_native`]).
#[derive(Debug, Clone, Serialize)]
pub struct NativeCheck {
    /// The check that ran, e.g. `restic check`.
    pub tool: String,
    /// Whether it passed.
    pub ok: bool,
    /// Its last words: the verdict, or the errors.
    pub summary: String,
}

/// One backup that is not whole.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// The backup.
    pub backup: BackupId,
    /// What is wrong, and what to do.
    pub detail: String,
}

impl CheckReport {
    /// True when nothing is wrong (leftovers that were repaired do not count).
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
            && self.native.as_ref().is_none_or(|n| n.ok)
            && (self.repaired || (self.partial.is_empty() && self.unfinished.is_empty()))
    }
}

impl Repository {
    /// Every readable manifest; an unreadable one is a problem of the report (the listing
    /// leaves it out).
    async fn manifests(&self, report: &mut CheckReport) -> Result<Vec<Manifest>> {
        let mut out = Vec::new();
        for (cluster, server, dir) in self.server_dirs(None, None).await? {
            for entry in self.storage().list(Some(&dir)).await? {
                let Ok(id) = BackupId::from_name(&cluster, &server, &entry.name) else {
                    continue;
                };
                match self.read_manifest(&id).await {
                    Ok(Some(manifest)) => out.push(manifest),
                    Ok(None) => continue, // a leftover, if anything: see find_incomplete
                    Err(e) => report.problems.push(Problem {
                        backup: id,
                        detail: e.to_string(),
                    }),
                }
                report.backups += 1;
            }
        }
        Ok(out)
    }

    /// Checks every backup (reading back the payloads `read_data` names) and lists the
    /// leftovers, dealing with them when `repair`. Only storage failures are errors; what is
    /// wrong with the backups is the report.
    pub async fn check(&self, read_data: ReadData, repair: bool) -> Result<CheckReport> {
        let mut report = CheckReport {
            location: self.location(),
            ..CheckReport::default()
        };
        for manifest in self.manifests(&mut report).await? {
            let id = manifest.id.clone();
            match self.check_copy(&manifest).await {
                CopyCheck::Ok => {}
                CopyCheck::Unreachable { detail } => {
                    return Err(crate::Error::Worker {
                        detail: format!("the repository stopped answering: {detail}"),
                    })
                }
                other => {
                    report.problems.push(Problem {
                        backup: id,
                        detail: format!(
                            "{other}; restore it from another repository's copy, or delete it"
                        ),
                    });
                    continue;
                }
            }
            if read_data.reads(&id) {
                let checked = self.verify_checksum_at_rest(&id).await?;
                report.read_backups += 1;
                report.at_rest_only += usize::from(checked.at_rest_only);
                report.read_bytes += checked.stored_bytes;
                if !checked.is_ok() {
                    report.problems.push(Problem {
                        backup: id,
                        detail: checked.summary(),
                    });
                }
            }
        }
        report.native = self.storage().check_native(read_data).await?;
        let leftovers: Leftovers = if repair {
            report.repaired = true;
            self.clean_incomplete().await?
        } else {
            self.find_incomplete().await?
        };
        report.partial = leftovers.removed.iter().map(ToString::to_string).collect();
        report.unfinished = leftovers
            .quarantined
            .iter()
            .map(|q| format!("{} ({}) -> {}", q.from, q.describe(), q.to))
            .collect();
        Ok(report)
    }
}
