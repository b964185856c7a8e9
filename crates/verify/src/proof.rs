//! A proof of recoverability carried out (`ferryman_repo::proofs` says what one is): the base
//! restored on a throwaway server, the archived segments replayed to the checkpoint's GTID
//! position (as `ferryman restore --to-gtid` does), the rows of every table counted and
//! compared with the checkpoint's, the server removed.
//!
//! Never an error: what goes wrong (a segment that cannot be read, a replay that fails, rows
//! that differ) is a failed [`Proof`] whose `detail` says what and what to do.

use std::time::Instant;

use ferryman_repo::proofs::{compare, Proof, ProofPlan};
use ferryman_repo::verification::Status;
use ferryman_repo::{Repository, Timestamp};

use crate::restore::{roll_forward, Request};
use crate::throwaway::ThrowawayOptions;

/// What a proof needs besides its plan.
#[derive(Debug)]
pub struct ProofRequest<'a> {
    /// What to restore, replay and compare.
    pub plan: &'a ProofPlan,
    /// The repository the base's payload is read from.
    pub backup_repo: &'a Repository,
    /// The repositories holding segments, in the order they are tried.
    pub segment_repos: &'a [(String, Repository)],
    /// Schemas left out of the comparison besides the system ones (the jobs table's: written
    /// outside the binlog).
    pub ignored_schemas: &'a [&'a str],
    /// The throwaway server's settings.
    pub options: ThrowawayOptions,
    /// Why it runs.
    pub trigger: &'a str,
}

/// A failed proof of `plan` that has not been carried out yet: its `detail` is to be set.
pub fn not_carried_out(plan: &ProofPlan, trigger: &str) -> Proof {
    Proof {
        status: Status::Failed,
        started_at: Timestamp::now(),
        seconds: 0.0,
        base: plan.plan.backup.id.to_string(),
        base_gtid: plan.plan.start.to_string(),
        from: plan.plan.backup.ended_at,
        checkpoint: plan.checkpoint.id.to_string(),
        checkpoint_gtid: plan.checkpoint.gtid.clone().unwrap_or_default(),
        to: plan.checkpoint.ended_at,
        rows_from: plan.rows_from.clone(),
        segments: plan.plan.segments.len(),
        tables: 0,
        rows: 0,
        detail: String::new(),
        trigger: trigger.to_owned(),
    }
}

/// Carries out `req` (see the module documentation).
pub async fn prove(req: ProofRequest<'_>) -> Proof {
    let started = Instant::now();
    let plan = req.plan;
    let mut proof = not_carried_out(plan, req.trigger);
    match replay_and_count(&req).await {
        Ok(counted) => {
            // The server's own tables are not the data's: left out, as the row-count check does.
            let mut ignored = crate::postcheck::SYSTEM_SCHEMAS.to_vec();
            ignored.extend_from_slice(req.ignored_schemas);
            let (differences, tables, rows) = compare(&counted, &plan.rows, &ignored);
            proof.tables = tables;
            proof.rows = rows;
            if differences.is_empty() {
                proof.status = Status::Ok;
                proof.detail = format!(
                    "{tables} table(s), {rows} rows equal to {} after replaying {} segment(s)",
                    plan.rows_from,
                    plan.plan.segments.len()
                );
            } else {
                proof.detail = format!(
                    "{} table(s) differ: {}; the archive does not carry backup {} to backup {}: \
                     look for writes made without the binlog (sql_log_bin=0) or a gap, and \
                     keep both backups until a proof passes",
                    differences.len(),
                    differences.join("; "),
                    proof.base,
                    proof.checkpoint
                );
            }
        }
        Err(e) => {
            proof.detail = format!(
                "the proof could not be carried out: {e}; nothing is proven about this stretch of the archive"
            );
        }
    }
    proof.seconds = started.elapsed().as_secs_f64();
    proof
}

/// The base rolled forward to the checkpoint, its rows counted, the server removed.
async fn replay_and_count(
    req: &ProofRequest<'_>,
) -> crate::Result<std::collections::BTreeMap<String, u64>> {
    let plan = &req.plan.plan;
    let rolled = roll_forward(Request {
        backup: &plan.backup,
        backup_repo: req.backup_repo,
        segments: &plan.segments,
        segment_repos: req.segment_repos,
        point: Some(plan.point.clone()),
        options: req.options.clone(),
    })
    .await?;
    for note in &rolled.notes {
        tracing::warn!("proof: {note}");
    }
    let counted = crate::postcheck::table_rows(&rolled.server.endpoint()).await;
    if let Err(e) = rolled.server.remove().await {
        tracing::warn!(error = %e, "the proof's throwaway server was not removed cleanly");
    }
    counted
}
