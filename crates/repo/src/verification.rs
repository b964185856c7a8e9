//! [`Verification`]: one verification's result as the verifier appends it to the backup's
//! manifest ([`Manifest::verification`]), with every check and its outcome.
//!
//! The types live here, not in the verifier, because the manifest holds them and retention
//! reads them (the newest verified backup of each source is kept whatever the policy).
//!
//! Reading is lenient so that an older manager can still read a repository a newer verifier
//! wrote: unknown fields of a result are ignored, and a result that does not parse at all
//! (a status this version does not know...) is left out of the manifest as read (it never
//! counts as a pass), instead of making the whole backup unreadable.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::manifest::Manifest;
use crate::timestamp::Timestamp;

/// Passed or failed: a verification passes only when every check that ran passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Every check passed: the backup restores and holds what it should.
    Ok,
    /// At least one check failed (or the verification could not be carried out).
    Failed,
}

impl Status {
    /// `ok` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Failed => "failed",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It ran and passed.
    Passed,
    /// It ran and failed: the backup is not good.
    Failed,
    /// It did not run, for the reason in the detail (not applicable, or an earlier check
    /// failed). A skipped check never makes a verification pass on its own.
    Skipped,
}

/// The checks, by their stable names (used in reports, the API and scripts).
pub mod names {
    /// The payload exists and is not empty.
    pub const PAYLOAD: &str = "payload";
    /// The stored and decompressed payloads' sizes and sha256 equal the manifest's.
    pub const CHECKSUM: &str = "checksum";
    /// A dump starts with mysqldump's header (MariaDB or MySQL wording).
    pub const DUMP_HEADER: &str = "dump-header";
    /// A dump ends with `-- Dump completed`.
    pub const DUMP_FOOTER: &str = "dump-footer";
    /// The size change against the previous good backup of the same source is within the
    /// threshold.
    pub const SIZE_CHANGE: &str = "size-change";
    /// The test restore: import, or extract + prepare + start.
    pub const RESTORE: &str = "restore";
    /// Every expected database exists in the restored copy.
    pub const DATABASES: &str = "databases";
    /// Every watched table exists and has at least one row.
    pub const NONEMPTY_TABLES: &str = "nonempty-tables";
    /// Rows per table equal those recorded at backup time (or a reference at the same GTID).
    pub const ROW_COUNTS: &str = "row-counts";
    /// `CHECK TABLE` reports no error on any table.
    pub const CHECK_TABLE: &str = "check-table";
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// Its name (see [`names`]).
    pub name: String,
    /// What it found.
    pub outcome: Outcome,
    /// In words: what was compared, what differed, or why it was skipped.
    pub detail: String,
    /// How long it took, seconds.
    #[serde(default)]
    pub seconds: f64,
}

impl Check {
    /// A passed check.
    pub fn passed(name: &str, detail: impl Into<String>) -> Check {
        Check::new(name, Outcome::Passed, detail)
    }

    /// A failed check.
    pub fn failed(name: &str, detail: impl Into<String>) -> Check {
        Check::new(name, Outcome::Failed, detail)
    }

    /// A skipped check.
    pub fn skipped(name: &str, detail: impl Into<String>) -> Check {
        Check::new(name, Outcome::Skipped, detail)
    }

    fn new(name: &str, outcome: Outcome, detail: impl Into<String>) -> Check {
        Check {
            name: name.to_owned(),
            outcome,
            detail: detail.into(),
            seconds: 0.0,
        }
    }

    /// The same check with its duration.
    pub fn took(mut self, seconds: f64) -> Check {
        self.seconds = round_ms(seconds);
        self
    }
}

/// One verification of one backup, as appended to its manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    /// Ok only when every check that ran passed and the restore was carried out.
    pub status: Status,
    /// When it started (UTC).
    pub started_at: Timestamp,
    /// When it ended (UTC).
    pub ended_at: Timestamp,
    /// Every check, in the order they ran.
    pub checks: Vec<Check>,
    /// From the first byte read to a restored server answering: the restore time (RTO
    /// evidence). `None` when no restore was carried out.
    #[serde(default)]
    pub restore_seconds: Option<f64>,
    /// The whole verification, seconds.
    pub total_seconds: f64,
    /// The raw size change against the previous good backup of the same source, percent
    /// (negative: smaller), when there was one.
    #[serde(default)]
    pub size_change_percent: Option<f64>,
    /// The previous good backup the size was compared with.
    #[serde(default)]
    pub size_baseline: Option<String>,
    /// The version of the server the backup was restored on.
    #[serde(default)]
    pub restored_with: Option<String>,
    /// Rows per table counted in the restored copy (`db.table` → rows).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rows: BTreeMap<String, u64>,
    /// Why it ran: `api`, `schedule`, `fleet`.
    pub trigger: String,
    /// The verification run it was part of.
    #[serde(default)]
    pub run_id: Option<u64>,
}

impl Verification {
    /// The checks that failed.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.outcome == Outcome::Failed)
    }

    /// One line: `ok` or `failed: check: detail; check: detail`.
    pub fn summary(&self) -> String {
        match self.status {
            Status::Ok => "ok".to_owned(),
            Status::Failed => {
                let reasons: Vec<String> = self
                    .failures()
                    .map(|c| format!("{}: {}", c.name, c.detail))
                    .collect();
                format!("failed: {}", reasons.join("; "))
            }
        }
    }

    /// Every verification recorded in `manifest` that this version can read, oldest first.
    pub fn all_of(manifest: &Manifest) -> &[Verification] {
        &manifest.verification
    }

    /// The newest verification recorded in `manifest`.
    pub fn latest_of(manifest: &Manifest) -> Option<Verification> {
        manifest.verification.last().cloned()
    }

    /// True when the newest verification of `manifest` passed.
    pub fn is_verified(manifest: &Manifest) -> bool {
        manifest
            .verification
            .last()
            .is_some_and(|v| v.status == Status::Ok)
    }
}

/// Writes `Manifest::verification` as the manifests written before the results were typed
/// (each result a JSON object with its keys sorted): rewriting an older manifest to append a
/// result changes nothing else in it, and the API shows results as it always has.
pub(crate) fn serialize_sorted<S: Serializer>(
    results: &[Verification],
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    let values = results
        .iter()
        .map(serde_json::to_value)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(serde::ser::Error::custom)?;
    values.serialize(serializer)
}

/// Reads `Manifest::verification`: every result this version can parse, in order; the others
/// are left out (see the module documentation).
pub(crate) fn deserialize_readable<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<Vec<Verification>, D::Error> {
    let values = Vec::<serde_json::Value>::deserialize(deserializer)?;
    Ok(values
        .into_iter()
        .filter_map(|v| serde_json::from_value(v).ok())
        .collect())
}

/// Seconds rounded to milliseconds, for readable JSON.
pub fn round_ms(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}
