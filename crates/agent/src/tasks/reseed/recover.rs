//! Finishing or undoing a swap that an agent left when it died (see `record.rs`).
//!
//! # What is decided, by the step the record was at
//! - `stopping`, `swapping`: the restored data never ran. Undo: the old datadir is put back
//!   (wherever the renames stood) and the server started on it when it ran before; the job
//!   fails, saying the agent died and the old data is back.
//! - `starting`, `restoring`, `pointing`, `catching-up`: the restored datadir is in place.
//!   Finish from that step: the server is started if it does not run, made `read_only`, this
//!   server's rows are put back (if that step was not passed), replication is pointed at the
//!   primary (if `START SLAVE` was never issued: a replica that may have applied transactions is
//!   never reset to the backup's GTID again) and must catch up within `catch-up-timeout`. Any
//!   failure undoes the swap as above.
//! - `removing-old`: the reseed had succeeded; the old datadir is removed (never put back: it
//!   may be half deleted).
//! - `rolling-back`: the rollback is carried on, and the job fails with the first failure.
//! - `finished`: only the outcome is left to write.
//!
//! The runner then writes the outcome into the row (`claimed_by` still names the dead agent,
//! whose claim is resumed) or keeps it in `pending/`, and removes the record.

use std::path::{Path, PathBuf};

use ferryman_proto::ReseedParams;

use super::record::{Step, SwapRecord};
use super::rollback::{self, Place};
use super::{swap, Plan, TaskCtx};
use crate::{Error, Result};

/// Where the swap records of the server served from `work_dir` are kept.
pub(crate) fn swaps_dir(work_dir: &Path) -> PathBuf {
    work_dir.join("swaps")
}

/// The records of swaps in `dir` that nobody finished; resolve each with [`resolve_swap`].
pub(crate) fn interrupted_swaps(dir: &Path) -> Result<Vec<SwapRecord>> {
    SwapRecord::load_all(dir)
}

/// Removes the record of job `id` once its outcome is written into the row (or kept).
pub(crate) fn forget_swap(dir: &Path, id: u64) -> Result<()> {
    SwapRecord::remove(dir, id)
}

/// Resolves `record` (see the module documentation) on the server of `ctx` (whose `job` is
/// the record's row). Returns whether the reseed counts as a success, and the job's result.
pub(crate) async fn resolve_swap(ctx: &TaskCtx<'_>, record: SwapRecord) -> (bool, String) {
    let step = record.step.clone();
    tracing::warn!(
        job_id = record.job.id.0,
        step = step.name(),
        claimed_by = record.job.claimed_by.as_deref().unwrap_or("?"),
        "found a reseed swap an agent did not finish: resolving it"
    );
    let plan = match Plan::resume(ctx, &record) {
        Ok(plan) => plan,
        Err(e) => return (false, e.to_string()),
    };
    let died = format!(
        "the agent running this reseed stopped (killed?) while {}",
        step.describe()
    );
    let mut record = record;
    match step {
        Step::Finished { success, result } => (success, result),
        Step::RemovingOld { summary } => {
            let result = swap::finish(ctx, &plan, &mut record, summary).await;
            (
                true,
                format!("{result}; {died}, and the agent that found it finished the job"),
            )
        }
        Step::RollingBack { stage, cause } => {
            let place = Place::on_disk(&plan);
            let state =
                rollback::roll_back(ctx, &plan, &record.before, place, &record.staging).await;
            let error = Error::Reseed {
                server: ctx.server.name.clone(),
                task: plan.task,
                stage: stage.into(),
                cause: Box::new(Error::Recovered {
                    what: format!("{cause}; then {died}"),
                }),
                state,
            };
            (false, error.to_string())
        }
        Step::Stopping | Step::Swapping => {
            let error = swap::fail(
                ctx,
                &plan,
                &mut record,
                step.describe(),
                Error::Recovered {
                    what: format!(
                        "{died}, before the restored data ever ran: the agent that found it \
                         put the old datadir back; start the reseed again"
                    ),
                },
            )
            .await;
            (false, error.to_string())
        }
        Step::Starting | Step::Restoring | Step::Pointing | Step::CatchingUp => {
            match swap::forward(ctx, &plan, &mut record, None).await {
                Ok(caught_up) => {
                    let summary = format!(
                        "{task}: restored data swapped in; replicating from {primary} from GTID \
                         {gtid}, lag {lag} s; {died}, and the agent that found it finished the \
                         swap",
                        task = plan.task,
                        primary = plan.primary(),
                        gtid = plan.gtid,
                        lag = caught_up.lag,
                    );
                    (true, swap::finish(ctx, &plan, &mut record, summary).await)
                }
                Err((stage, cause)) => {
                    let cause = Error::Recovered {
                        what: format!("{died}; finishing the swap failed: {cause}"),
                    };
                    let error = swap::fail(ctx, &plan, &mut record, stage, cause).await;
                    (false, error.to_string())
                }
            }
        }
    }
}

impl Plan {
    /// The plan of the reseed a swap record describes (nothing is read from the server, whose
    /// datadir may be mid-rename).
    fn resume(ctx: &TaskCtx<'_>, record: &SwapRecord) -> Result<Plan> {
        let job = &record.job;
        let bad = |problem: String| Error::ReseedRow {
            job_id: job.id.0,
            task: ctx.task,
            problem,
        };
        let params = job
            .params
            .as_deref()
            .map(ReseedParams::from_json)
            .transpose()
            .map_err(|e| bad(format!("its recorded params do not parse ({e})")))?
            .ok_or_else(|| bad("its swap record has no params".to_owned()))?;
        let token = job
            .token
            .as_ref()
            .ok_or_else(|| bad("its swap record has no token".to_owned()))?
            .stream_token()
            .map_err(|source| Error::BadToken {
                job_id: job.id.0,
                source,
            })?;
        Ok(Plan {
            job_id: job.id.0,
            task: ctx.task,
            params,
            gtid: record.gtid.clone(),
            port: job
                .port
                .and_then(|p| u16::try_from(p).ok())
                .unwrap_or_default(),
            token,
            datadir: record.datadir.clone(),
        })
    }
}
