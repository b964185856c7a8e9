//! This server's job rows carried across a change of its datadir (a reseed's swap, a
//! `zfssnapback` rollback): read before the server stops, put back once it runs on the new
//! data, whose jobs table is another's (the donor's) or an older one (the snapshot's).

use ferryman_jobs::{ClaimedJob, Job, JobsConn};

use super::TaskCtx;
use crate::Result;

/// This server's job rows, read before it is stopped; `None` when it does not answer (only
/// the running job's row is then put back).
pub(crate) async fn read(ctx: &TaskCtx<'_>) -> Option<Vec<Job>> {
    let read = async {
        let mut conn = JobsConn::open(ctx.endpoint, ctx.jobs_schema).await?;
        let rows = conn.all().await;
        let _ = conn.close().await;
        rows
    };
    match read.await {
        Ok(rows) => Some(rows),
        Err(e) => {
            tracing::warn!(job_id = ctx.job.id.0, error = %e, "cannot read this server's job rows: only the running job's row is carried over");
            None
        }
    }
}

/// Replaces the jobs table's rows with `rows` (and the running job's, always), then renews the
/// running job's heartbeat.
pub(crate) async fn put_back(ctx: &TaskCtx<'_>, rows: Option<Vec<Job>>) -> Result<()> {
    ctx.progress
        .set_phase("restarting: putting this server's job rows back");
    let mut rows = rows.unwrap_or_default();
    if !rows.iter().any(|j| j.id == ctx.job.id) {
        rows.push(ctx.job.clone());
        rows.sort_by_key(|j| j.id);
    }
    let mut conn = JobsConn::open(ctx.endpoint, ctx.jobs_schema).await?;
    conn.ensure().await?;
    conn.replace_all(&rows).await?;
    // The heartbeat put back is from before the stop: refresh it now, so that whoever watches
    // the row sees the runner alive at once rather than at the reporter's next round.
    if let Some(claimant) = ctx.job.claimed_by.as_deref() {
        ClaimedJob::resume(&mut conn, ctx.job.id, claimant)
            .await?
            .heartbeat(&mut conn)
            .await?;
    }
    let _ = conn.close().await;
    Ok(())
}
