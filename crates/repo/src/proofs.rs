//! Proofs of recoverability: that the archived binlog between two backups really carries the
//! first to the second. A proof restores a backup (the base), replays the segments up to the
//! GTID position of a later backup (the checkpoint) and compares the rows of every table with
//! the rows recorded for the checkpoint: counted when its dump was taken, or counted in its
//! restored copy by a passed verification. Equal rows everywhere prove that stretch of the
//! chain; a difference names the tables (a write made with `sql_log_bin=0`, a transaction the
//! archive lacks, a replay that went wrong).
//!
//! [`proof_plan`] chooses the newest checkpoint with recorded rows and the newest base before
//! it whose archive reaches it; the verifier carries it out; the results are kept, newest last,
//! in `Binlogs/<cluster>/proofs.json` of the cluster's first repository ([`Proof`],
//! [`Repository::proofs`], [`Repository::record_proof`]), the newest [`KEPT`].
//!
//! The record is signed like a manifest (`{"proofs": [...], "signature": {...}}`) when the
//! repository signs: a reader with trusted keys refuses a record changed by hand (a failed
//! proof turned `ok`), and the next proof starts a new record rather than extend a forged
//! one. The first releases wrote a bare array, unsigned: read as it is by a repository that
//! checks no signatures, refused (and started again) by one that does.

use std::collections::BTreeMap;

use ferryman_binlog::GtidPos;
use serde::{Deserialize, Serialize};

use crate::layout::BINLOGS;
use crate::manifest::{Manifest, Tool};
use crate::pitr::{bases, roll_forward, Plan, Point};
use crate::repository::Repository;
use crate::segments::SegmentManifest;
use crate::signing::Signature;
use crate::storage::Key;
use crate::timestamp::Timestamp;
use crate::verification::Status;
use crate::{Error, Result};

/// How many proofs the record keeps.
pub const KEPT: usize = 50;
/// The record's file name, in `Binlogs/<cluster>/`.
const RECORD: &str = "proofs.json";

/// The record as written: the proofs, oldest first, and the signature of the rest.
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    proofs: Vec<Proof>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    signature: Option<Signature>,
}

/// One proof, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proof {
    /// `ok`: every table had the checkpoint's rows; `failed`: a table differed, or the
    /// proof could not be carried out (`detail` says which).
    pub status: Status,
    /// When it started.
    pub started_at: Timestamp,
    /// Seconds it took.
    pub seconds: f64,
    /// The backup restored.
    pub base: String,
    /// Its GTID position (replay started after it).
    pub base_gtid: String,
    /// When it ended: the proven stretch of history starts here.
    pub from: Timestamp,
    /// The later backup whose rows were compared.
    pub checkpoint: String,
    /// Its GTID position (replay stopped there, inclusive).
    pub checkpoint_gtid: String,
    /// When it ended: the proven stretch ends here.
    pub to: Timestamp,
    /// Where the checkpoint's rows come from.
    pub rows_from: String,
    /// Segments replayed.
    pub segments: usize,
    /// Tables compared.
    pub tables: usize,
    /// Rows compared (the checkpoint's).
    pub rows: u64,
    /// What was found: the differences, or why the proof could not be carried out.
    pub detail: String,
    /// Why it ran: `schedule`, `api`.
    pub trigger: String,
}

/// What a proof restores, replays and compares.
#[derive(Debug, Clone)]
pub struct ProofPlan {
    /// The restore of the base to the checkpoint's position.
    pub plan: Plan,
    /// The checkpoint.
    pub checkpoint: Manifest,
    /// Its rows per table (`db.table`).
    pub rows: BTreeMap<String, u64>,
    /// Where they come from, in words.
    pub rows_from: String,
}

/// The rows recorded for `m`, with where they come from: a dump's own counts, else those of
/// its newest verification when it passed.
pub fn recorded_rows(m: &Manifest) -> Option<(BTreeMap<String, u64>, String)> {
    if matches!(m.tool, Tool::Mysqldump | Tool::Mydumper) && !m.table_rows.is_empty() {
        return Some((
            m.table_rows.clone(),
            format!("the rows counted when dump {} was taken", m.id),
        ));
    }
    let v = m.verification.last()?;
    (v.status == Status::Ok && !v.rows.is_empty()).then(|| {
        (
            v.rows.clone(),
            format!(
                "the rows counted in backup {}'s restored copy by its verification of {}",
                m.id, v.started_at
            ),
        )
    })
}

/// The newest provable stretch: the newest backup with recorded rows that a strictly older
/// usable backup rolls forward to without a gap, and that base (the newest such). `Err` says
/// why there is none, in words.
pub fn proof_plan(
    backups: &[Manifest],
    segments: &[SegmentManifest],
) -> std::result::Result<ProofPlan, String> {
    let usable = bases(backups);
    let mut reasons = Vec::new();
    for (checkpoint, at) in &usable {
        let Some((rows, rows_from)) = recorded_rows(checkpoint) else {
            continue;
        };
        for (base, from) in &usable {
            let strictly_before = from != at && at.reaches(from);
            if !strictly_before {
                continue;
            }
            let coverage = roll_forward(from, segments).map_err(|e| e.to_string())?;
            if !coverage.reached.reaches(at) {
                reasons.push(format!(
                    "backup {} rolls forward only to {}, short of backup {}'s {at}",
                    base.id, coverage.reached, checkpoint.id
                ));
                break;
            }
            if let Some((gtid, server)) = coverage.foreign(at, from, segments) {
                reasons.push(format!(
                    "backup {} is of another history than backup {} (server {server} wrote sequence number {} of domain {} in the archive, not {gtid}: a failover lost transactions)",
                    checkpoint.id, base.id, gtid.seq, gtid.domain
                ));
                continue;
            }
            let used = needed(&coverage.segments, segments, at);
            return Ok(ProofPlan {
                plan: Plan {
                    backup: (*base).clone(),
                    start: from.clone(),
                    segments: used,
                    point: Point::Gtid(at.clone()),
                },
                checkpoint: (*checkpoint).clone(),
                rows,
                rows_from,
            });
        }
    }
    if reasons.is_empty() {
        reasons.push(
            "no usable backup has an older usable backup and recorded rows (a mysqldump backup, or a backup whose verification passed) to compare with"
                .to_owned(),
        );
    }
    Err(reasons.join("; "))
}

/// The segments of `coverage` up to the first that reaches `to` in every domain.
fn needed(coverage: &[usize], segments: &[SegmentManifest], to: &GtidPos) -> Vec<SegmentManifest> {
    let mut out = Vec::new();
    let mut reached = GtidPos::default();
    for &i in coverage {
        let segment = &segments[i];
        out.push(segment.clone());
        if let Ok(last) = segment.last.parse::<GtidPos>() {
            for g in last.iter() {
                if reached.get(g.domain).is_none_or(|r| r.seq < g.seq) {
                    reached.set(g);
                }
            }
        }
        if reached.reaches(to) {
            break;
        }
    }
    out
}

/// The tables whose rows differ: `db.t has 3 rows, the checkpoint 4`, a table missing on
/// either side; tables of `ignored_schemas` (the jobs table, written outside the binlog) are
/// left out. Returns the differences and the number of tables and rows compared.
pub fn compare(
    counted: &BTreeMap<String, u64>,
    recorded: &BTreeMap<String, u64>,
    ignored_schemas: &[&str],
) -> (Vec<String>, usize, u64) {
    let ignored = |key: &str| {
        ignored_schemas
            .iter()
            .any(|s| key.split_once('.').is_some_and(|(schema, _)| schema == *s))
    };
    let mut differences = Vec::new();
    let (mut tables, mut rows) = (0, 0);
    for (key, want) in recorded.iter().filter(|(k, _)| !ignored(k)) {
        tables += 1;
        rows += want;
        match counted.get(key) {
            None => differences.push(format!(
                "{key} is missing after the replay (the checkpoint has {want} rows)"
            )),
            Some(got) if got != want => differences.push(format!(
                "{key} has {got} rows after the replay, the checkpoint {want}"
            )),
            Some(_) => {}
        }
    }
    for key in counted.keys().filter(|k| !ignored(k)) {
        if !recorded.contains_key(key) {
            differences.push(format!(
                "{key} exists after the replay but not in the checkpoint"
            ));
        }
    }
    (differences, tables, rows)
}

impl Repository {
    /// The proofs recorded for `cluster`, oldest first (none when never proven).
    pub async fn proofs(&self, cluster: &str) -> Result<Vec<Proof>> {
        let key = record_key(cluster)?;
        let Some(bytes) = self.storage().get(&key).await? else {
            return Ok(Vec::new());
        };
        let location = format!("{key} in {}", self.location());
        if let Some(signatures) = self.signatures() {
            signatures.check(&bytes, &location)?;
        }
        let unreadable = |e: serde_json::Error| Error::Manifest {
            location: location.clone(),
            detail: format!(
                "not a record of proofs: {e}; move it aside, the next proof starts a new one"
            ),
        };
        match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
            // The first releases' bare array (a signing repository refused it above).
            Some(b'[') => serde_json::from_slice(&bytes).map_err(unreadable),
            _ => serde_json::from_slice::<Record>(&bytes)
                .map(|r| r.proofs)
                .map_err(unreadable),
        }
    }

    /// Appends `proof` to `cluster`'s record (the newest [`KEPT`] kept), replacing the file in
    /// one write. A record that cannot be read is started again.
    pub async fn record_proof(&self, cluster: &str, proof: Proof) -> Result<()> {
        let key = record_key(cluster)?;
        let mut all = match self.proofs(cluster).await {
            Ok(all) => all,
            Err(e) => {
                tracing::warn!(error = %e, "the record of proofs is unreadable; starting a new one");
                Vec::new()
            }
        };
        all.push(proof);
        let drop = all.len().saturating_sub(KEPT);
        all.drain(..drop);
        let mut record = Record {
            proofs: all,
            signature: None,
        };
        if let Some(signer) = self.signatures().and_then(|s| s.signer()) {
            record.signature = Some(signer.signature_of(&record));
        }
        let json = serde_json::to_vec_pretty(&record).map_err(|e| Error::Worker {
            detail: format!("cannot encode the record of proofs: {e}"),
        })?;
        self.storage().put(&key, json).await
    }
}

fn record_key(cluster: &str) -> Result<Key> {
    crate::layout::check_cluster(cluster)?;
    Key::new(BINLOGS)?.join(cluster)?.join(RECORD)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
    }

    #[test]
    fn a_logical_backup_s_own_rows_are_recorded_rows() {
        for tool in [Tool::Mysqldump, Tool::Mydumper, Tool::Mariabackup] {
            let m: Manifest = serde_json::from_value(serde_json::json!({
                "format_version": 1, "id": "c/db1/20261120T010000Z-j1", "cluster": "c",
                "server": "db1", "host": "h", "kind": tool.kind(), "tool": tool,
                "tool_version": null, "format": tool.format(),
                "payload": tool.format().payload_name(), "job_id": 1,
                "started_at": "2026-11-20T01:00:00Z", "ended_at": "2026-11-20T01:00:10Z",
                "raw_bytes": 1, "stored_bytes": 1, "raw_sha256": "", "stored_sha256": "",
                "compression": {"algorithm": "zstd", "level": 1}, "gtid": "0-1-9",
                "binlog_file": null, "binlog_pos": null, "captured": {}, "extra": {},
                "table_rows": {"shop.t": 5},
            }))
            .unwrap();
            let recorded = recorded_rows(&m).map(|(rows, _)| rows);
            // A physical backup's rows are those a verification counted, never its own.
            let expected = (tool != Tool::Mariabackup).then(|| rows(&[("shop.t", 5)]));
            assert_eq!(recorded, expected, "{tool:?}");
        }
    }

    #[test]
    fn equal_rows_prove_and_every_difference_is_named() {
        let recorded = rows(&[
            ("shop.a", 3),
            ("shop.b", 0),
            ("replication_manager_schema.jobs", 9),
        ]);
        let same = rows(&[
            ("shop.a", 3),
            ("shop.b", 0),
            ("replication_manager_schema.jobs", 2),
        ]);
        let (diff, tables, total) = compare(&same, &recorded, &["replication_manager_schema"]);
        assert_eq!((diff.len(), tables, total), (0, 2, 3));
        let other = rows(&[("shop.a", 2), ("shop.c", 1)]);
        let (diff, _, _) = compare(&other, &recorded, &["replication_manager_schema"]);
        assert_eq!(diff.len(), 3, "{diff:?}");
        assert!(diff[0].contains("shop.a has 2 rows"));
        assert!(diff[1].contains("shop.b is missing"));
        assert!(diff[2].contains("shop.c exists"));
    }
}
