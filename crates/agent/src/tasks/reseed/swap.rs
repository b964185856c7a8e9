//! Steps 5 to 7 of a reseed: the datadir swap, catching up, removing the old datadir, and
//! putting the old datadir back when anything fails on the way. Every step is written into
//! the swap record (`record.rs`) before it is taken, so that an agent killed anywhere here
//! leaves its successor enough to finish or undo it (`recover.rs`).
//!
//! # Steps (as recorded)
//! `stopping` (service-stop, until no process runs in the datadir) · `swapping` (datadir →
//! old, staging → datadir) · `starting` (service-start, until it answers) · `restoring`
//! (`read_only` on, this server's job rows back) · `pointing` (`RESET SLAVE ALL`,
//! `gtid_slave_pos`, `CHANGE MASTER`) · `catching-up` (`START SLAVE`, wait; then `read_only`
//! as before; skipped when the row says `hold`: the server stays read-only at the point, its
//! replication pointed but stopped) · `removing-old` · `finished`; on failure `rolling-back`
//! · `finished`.

use std::path::Path;
use std::time::{Duration, Instant};

use super::catch_up::{self, CaughtUp};
use super::files::{processes_in, remove_tree, rename, wait_datadir_free};
use super::preflight::Before;
use super::record::{Step, SwapRecord};
use super::rollback::{self, answers, Place};
use super::{interrupted, Plan, TaskCtx};
use crate::progress;
use crate::tasks::service;
use crate::{Error, Result};

/// The stage of a failure to write the swap record.
const RECORDING: &str = "recording the swap";

/// What the swap and the catch-up did.
#[derive(Debug)]
pub(super) struct Done {
    /// From `service-stop` to the server answering on the restored data.
    pub restarted_in: Duration,
    /// The catch-up.
    pub caught_up: CaughtUp,
}

/// Steps 5 to 7 for a staging directory ready to be swapped in; `restored` says how it was
/// built (for the result). On failure, puts the old datadir back and says so in the error.
pub(super) async fn swap_and_catch_up(
    ctx: &TaskCtx<'_>,
    plan: &Plan,
    before: &Before,
    staging: &Path,
    restored: &str,
) -> Result<String> {
    // From now on the jobs table may be out of reach, then hold the donor's rows for a moment:
    // the reporter must not mistake that for a cancellation.
    let held = ctx.progress.hold_reports().await;
    let mut record = SwapRecord {
        job: ctx.job.clone(),
        datadir: plan.datadir.clone(),
        gtid: plan.gtid.clone(),
        staging: staging.to_owned(),
        before: *before,
        rows: crate::tasks::job_rows::read(ctx).await,
        step: Step::Stopping,
    };
    // Nothing was touched yet: a record that cannot be written fails the reseed here.
    if let Err(e) = record.enter(ctx.swaps, Step::Stopping) {
        super::files::remove_quietly(staging).await;
        return Err(plan.error(ctx, RECORDING, e, before.untouched()));
    }
    let started = Instant::now();
    let outcome = async {
        stop_and_swap(ctx, plan, &mut record)
            .await
            .map_err(|e| ("restarting the server on the restored data", e))?;
        forward(ctx, plan, &mut record, Some(held)).await
    }
    .await;
    match outcome {
        Ok(caught_up) => {
            let done = Done {
                restarted_in: started.elapsed().saturating_sub(caught_up.took),
                caught_up,
            };
            Ok(finish(ctx, plan, &mut record, plan.summary(restored, &done)).await)
        }
        Err((stage, cause)) => Err(fail(ctx, plan, &mut record, stage, cause).await),
    }
}

/// The steps from the restored datadir in place (`starting`) to caught up, from the record's
/// step on: the normal path after the renames, and the path of an agent finishing a swap its
/// predecessor left (`recover.rs`). Every step is safe to repeat from its start.
pub(super) async fn forward(
    ctx: &TaskCtx<'_>,
    plan: &Plan,
    record: &mut SwapRecord,
    held: Option<progress::ReportsHeld<'_>>,
) -> std::result::Result<CaughtUp, (&'static str, Error)> {
    const LABEL: &str = "restarting: ";
    let from = record.step.clone();
    let at_or_before = |step: &Step| order(&from) <= order(step);
    let starting = async {
        if !answers(ctx).await {
            if processes_in(&plan.datadir).is_empty() {
                service::run_command(
                    &ctx.node(),
                    "service-start",
                    &ctx.server.service_start,
                    LABEL,
                )
                .await?;
            }
            service::wait_state(&ctx.node(), true, LABEL).await?;
        }
        // Whatever the step, a server on restored data that does not replicate yet must
        // not take writes (a server restarted meanwhile reads read_only from its my.cnf).
        catch_up::hold_writes(ctx, true).await
    };
    starting
        .await
        .map_err(|e| ("restarting the server on the restored data", e))?;
    if at_or_before(&Step::Restoring) {
        record
            .enter(ctx.swaps, Step::Restoring)
            .map_err(|e| (RECORDING, e))?;
        crate::tasks::job_rows::put_back(ctx, record.rows.clone())
            .await
            .map_err(|e| ("putting this server's job rows back", e))?;
    }
    // The rows are back: the reporter may write again (and sees the claim).
    drop(held);
    if at_or_before(&Step::Pointing) {
        record
            .enter(ctx.swaps, Step::Pointing)
            .map_err(|e| (RECORDING, e))?;
        catch_up::point(ctx, plan)
            .await
            .map_err(|e| ("pointing replication at the primary", e))?;
    }
    if plan.params.hold {
        // Held at the payload's point: replication stays stopped and the server read-only
        // (writes there would diverge from the primary) until the DBA starts it.
        return Ok(CaughtUp {
            lag: 0,
            took: Duration::ZERO,
        });
    }
    record
        .enter(ctx.swaps, Step::CatchingUp)
        .map_err(|e| (RECORDING, e))?;
    let caught_up = catch_up::replicate(ctx, plan)
        .await
        .map_err(|e| ("catching up with the primary", e))?;
    // Caught up: the server takes its read_only of before back (kept on when unknown).
    if record.before.read_only == Some(false) {
        catch_up::hold_writes(ctx, false)
            .await
            .map_err(|e| ("catching up with the primary", e))?;
    }
    Ok(caught_up)
}

/// Where a step comes in the forward path.
fn order(step: &Step) -> u8 {
    match step {
        Step::Stopping => 0,
        Step::Swapping => 1,
        Step::Starting => 2,
        Step::Restoring => 3,
        Step::Pointing => 4,
        Step::CatchingUp => 5,
        Step::RemovingOld { .. } | Step::RollingBack { .. } | Step::Finished { .. } => 6,
    }
}

/// The reseed succeeded: removes the old datadir (a failure to is noted, it fails nothing),
/// records the outcome as finished and returns the job's result.
pub(super) async fn finish(
    ctx: &TaskCtx<'_>,
    plan: &Plan,
    record: &mut SwapRecord,
    summary: String,
) -> String {
    ctx.progress.set_phase("removing the old datadir");
    if let Err(e) = record.enter(
        ctx.swaps,
        Step::RemovingOld {
            summary: summary.clone(),
        },
    ) {
        tracing::warn!(job_id = plan.job_id, error = %e, "cannot record the swap's last step; removing the old datadir anyway");
    }
    let old = plan.old();
    let mut result = summary;
    let started = Instant::now();
    match remove_tree(&old).await {
        Ok(()) => result.push_str(&format!(
            "; old datadir removed in {}",
            progress::seconds(started.elapsed())
        )),
        Err(e) => {
            tracing::warn!(dir = %old.display(), error = %e, "cannot remove the old datadir");
            result.push_str(&format!(
                "; the old datadir `{}` could not be removed ({e}): remove it by hand",
                old.display()
            ));
        }
    }
    finished(ctx, record, true, &result);
    result
}

/// The reseed failed at `stage`: puts the old datadir back, records the outcome as finished
/// and returns the job's error.
pub(super) async fn fail(
    ctx: &TaskCtx<'_>,
    plan: &Plan,
    record: &mut SwapRecord,
    stage: &'static str,
    cause: Error,
) -> Error {
    tracing::warn!(job_id = plan.job_id, stage, error = %cause, "reseed failed: putting the old datadir back");
    let held = ctx.progress.hold_reports().await;
    if let Err(e) = record.enter(
        ctx.swaps,
        Step::RollingBack {
            stage: stage.to_owned(),
            cause: cause.to_string(),
        },
    ) {
        tracing::warn!(job_id = plan.job_id, error = %e, "cannot record the rollback; rolling back anyway");
    }
    let place = Place::on_disk(plan);
    let state = rollback::roll_back(ctx, plan, &record.before, place, &record.staging).await;
    drop(held);
    let error = plan.error(ctx, stage, cause, state);
    finished(ctx, record, false, &error.to_string());
    error
}

/// Records the outcome in the swap record, for an agent that would die before the runner
/// writes it into the row.
fn finished(ctx: &TaskCtx<'_>, record: &mut SwapRecord, success: bool, result: &str) {
    let step = Step::Finished {
        success,
        result: result.to_owned(),
    };
    if let Err(e) = record.enter(ctx.swaps, step) {
        tracing::warn!(job_id = record.job.id.0, error = %e, "cannot record the swap's outcome (the runner records it in the row)");
    }
}

/// Stop and swap (step 5 up to the start), each recorded before it is taken.
async fn stop_and_swap(ctx: &TaskCtx<'_>, plan: &Plan, record: &mut SwapRecord) -> Result<()> {
    const LABEL: &str = "restarting: ";
    service::run_command(&ctx.node(), "service-stop", &ctx.server.service_stop, LABEL).await?;
    service::wait_state(&ctx.node(), false, LABEL).await?;
    wait_datadir_free(ctx, plan, LABEL).await?;
    if ctx.cancel.is_cancelled() {
        return Err(interrupted(ctx, "restarting the server"));
    }
    record.enter(ctx.swaps, Step::Swapping)?;
    ctx.progress.set_phase("restarting: swapping the datadir");
    rename(&plan.datadir, &plan.old())?;
    rename(&record.staging, &plan.datadir)?;
    tracing::info!(job_id = plan.job_id, datadir = %plan.datadir.display(), old = %plan.old().display(), "datadir swapped");
    record.enter(ctx.swaps, Step::Starting)?;
    if ctx.cancel.is_cancelled() {
        return Err(interrupted(ctx, "restarting the server"));
    }
    Ok(())
}
