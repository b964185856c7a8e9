//! `pitr status`: a cluster's recoverable windows and gaps (from its first repository), with
//! what only the running manager knows: the archiver's durable position, the recovery point
//! lag now, warnings before the primary purges what the archive lacks, and the newest proof of
//! recoverability.

use ferryman_binlog::GtidPos;
use ferryman_repo::pitr::ArchiveReport;
use ferryman_repo::proofs::Proof;
use ferryman_repo::verification::Status;
use ferryman_repo::Timestamp;
use serde::{Deserialize, Serialize};

use crate::archiver::ArchiveStatus;
use crate::prover::ProverStatus;
use crate::{Result, Services};

/// One cluster's point-in-time recovery status.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PitrStatus {
    /// The cluster.
    pub cluster: String,
    /// `binlog-archive` is on.
    pub archiving: bool,
    /// The archiver, when it runs.
    pub archiver: Option<ArchiveStatus>,
    /// The primary the monitor sees, and its `@@gtid_binlog_pos`.
    pub primary: Option<(String, String)>,
    /// How many seconds of committed transactions the archive may lack now: 0 when its
    /// durable position is at the primary's, else the age of its last durable event.
    pub rpo_lag_seconds: Option<u64>,
    /// What the repository holds.
    #[serde(flatten)]
    pub report: ArchiveReport,
    /// The newest proof of recoverability (`prover.rs`), when one was made.
    #[serde(default)]
    pub proof: Option<Proof>,
    /// A proof running now, or why none could be made.
    #[serde(default)]
    pub prover: ProverStatus,
    /// What a DBA should act on.
    pub warnings: Vec<String>,
}

/// The status of `cluster`.
pub async fn status(services: &Services, cluster: &str) -> Result<PitrStatus> {
    let config = services.cluster(cluster)?;
    // Whether a proof runs is read before the record: a proof records its result before it
    // ends, so a status that says none runs always holds the result of the one that ran. Read
    // the other way round, a proof ending between the two reads would show as ended with no
    // result (and `ferryman pitr prove --wait` would say it ended without a record).
    let prover = services.provers.status(cluster);
    let repo = services.repo(cluster)?;
    let backups = services.repos.list(Some(cluster), None).await?;
    let segments = repo.list_segments(cluster).await?;
    let report = ArchiveReport::of(&backups, &segments)?;
    let proof = newest_proof(repo, cluster).await;
    let archiver = services.archives.get(cluster);
    let primary = primary_position(services, cluster);
    let mut warnings = Vec::new();
    let rpo_lag_seconds = match (&archiver, &primary) {
        (Some(a), Some((server, at))) => {
            let lag = lag(a, at);
            if let (Some(lag), Some(error)) = (lag, &a.error) {
                if lag > 0 {
                    warnings.push(format!(
                        "the archive lacks up to {lag} s of `{server}`'s transactions and does not follow ({error}): they are lost to the archive once `{server}` purges its binlogs (expire_logs_days, binlog_expire_logs_seconds, PURGE BINARY LOGS); mend what stops the archiver first"
                    ));
                }
            }
            lag
        }
        _ => None,
    };
    if !config.binlog_archive.enabled && !segments.is_empty() {
        warnings.push(format!(
            "binlog-archive is off for `{cluster}`: the archive stopped at {}",
            report
                .archived_to
                .map_or_else(|| "its start".to_owned(), |t| t.to_string())
        ));
    }
    if !report.gaps.is_empty() {
        warnings.push(format!(
            "{} gap(s) in the archived history: no point inside one can be recovered; a backup taken after the last gap starts a whole window",
            report.gaps.len()
        ));
    }
    warnings.extend(proof_warning(&proof));
    Ok(PitrStatus {
        cluster: cluster.to_owned(),
        archiving: config.binlog_archive.enabled,
        archiver,
        primary,
        rpo_lag_seconds,
        report,
        proof,
        prover,
        warnings,
    })
}

/// The primary of `cluster` and its `gtid_binlog_pos`, as the monitor last saw them.
fn primary_position(services: &Services, cluster: &str) -> Option<(String, String)> {
    services.topology.cluster(cluster).and_then(|view| {
        let p = view.primary()?;
        Some((p.name.clone(), p.status.as_ref()?.gtid_binlog_pos.clone()))
    })
}

/// How far (seconds) the archive of `cluster` is behind its primary now, when both are known
/// (what `pitr status` shows as the recovery point lag, and `/metrics` as
/// `ferryman_pitr_recovery_point_lag_seconds`).
pub fn rpo_lag(services: &Services, cluster: &str) -> Option<u64> {
    let archiver = services.archives.get(cluster)?;
    let (_, at) = primary_position(services, cluster)?;
    lag(&archiver, &at)
}

/// The newest recorded proof of `cluster`; an unreadable record is logged and counts as none.
pub async fn newest_proof(repo: &ferryman_repo::Repository, cluster: &str) -> Option<Proof> {
    match repo.proofs(cluster).await {
        Ok(mut all) => all.pop(),
        Err(e) => {
            tracing::warn!(%cluster, error = %e, "cannot read the record of proofs");
            None
        }
    }
}

/// The warning a failed newest proof gives.
pub fn proof_warning(proof: &Option<Proof>) -> Option<String> {
    let p = proof.as_ref().filter(|p| p.status == Status::Failed)?;
    Some(format!(
        "the newest proof of recoverability ({} to {}) failed: {}",
        p.base, p.checkpoint, p.detail
    ))
}

/// 0 when the archiver's durable position is at or past `primary_pos` in every domain; else
/// the age of its last durable event (the transactions after it are younger).
fn lag(archiver: &ArchiveStatus, primary_pos: &str) -> Option<u64> {
    let ours: GtidPos = archiver.position.parse().ok()?;
    let theirs: GtidPos = primary_pos.parse().ok()?;
    let caught_up = theirs
        .iter()
        .all(|g| ours.get(g.domain).is_some_and(|o| o.seq >= g.seq));
    if caught_up {
        return Some(0);
    }
    let last = archiver.last_event_at.or(archiver.durable_at)?;
    Some(u64::try_from(Timestamp::now().unix() - last.unix()).unwrap_or(0))
}
