//! Running one claimed job: its scratch directory, the progress reporter, cancellation, and
//! recording the outcome however the server behaves meanwhile.

use std::path::Path;
use std::time::Duration;

use ferryman_jobs::{ClaimedJob, JobId, JobsConn, Task, Verdict};
use tokio_util::sync::CancellationToken;

use crate::agent::{Agent, JobDone, Shutdown};
use crate::pending::{create_private_dir, PendingOutcome};
use crate::progress::Progress;
use crate::tasks::{self, TaskCtx};

/// How often a running job's `progress` and `heartbeat` are refreshed.
const REPORT_EVERY: Duration = Duration::from_secs(3);
/// Attempts to record an outcome before keeping it on disk: at once, again at once on a new
/// session, then one second later, then two.
const RECORD_ATTEMPTS: u32 = 4;
/// How many tool logs are kept per server.
const TOOL_LOGS_KEPT: usize = 200;

impl Agent {
    /// Runs `claimed` and records its outcome. Never leaves the row `processing` on purpose:
    /// when the server cannot be reached the outcome waits in the pending journal.
    pub(crate) async fn run_job(
        &self,
        slot: &mut Option<JobsConn>,
        claimed: ClaimedJob,
        task: Task,
        shutdown: &Shutdown,
    ) -> JobDone {
        let id = claimed.id();
        tracing::info!(server = %self.server.name, job_id = id.0, %task, "job claimed");
        let progress = Progress::new();
        let cancel = shutdown.interrupt.child_token();
        let scratch = self.scratch_dir(id.0);
        let outcome = match create_private_dir(&scratch) {
            Err(e) => Err(e),
            Ok(()) => {
                let ctx = self.task_ctx(claimed.job(), task, &scratch, &progress, &cancel);
                let finished = CancellationToken::new();
                let work = async {
                    if let Some(holder) = self.busy.holder() {
                        progress.set_phase(format!("waiting for {holder} to end"));
                    }
                    let _held = self.busy.hold(format!("{task} job {}", id.0)).await;
                    let r = tasks::run(&ctx).await;
                    finished.cancel();
                    r
                };
                let report = self.report(&claimed, &progress, &finished, &cancel);
                let (r, ()) = tokio::join!(work, report);
                r
            }
        };
        remove_scratch(&scratch);
        self.prune_tool_logs();
        let (verdict, result) = match outcome {
            Ok(text) => (Verdict::Success, text),
            Err(e) if shutdown.interrupt.is_cancelled() => (
                Verdict::Failure,
                format!("the agent was shut down while the job ran: {e}"),
            ),
            Err(e) => (Verdict::Failure, e.to_string()),
        };
        match verdict {
            Verdict::Success => {
                tracing::info!(server = %self.server.name, job_id = id.0, %task, %result, "job succeeded")
            }
            Verdict::Failure => {
                tracing::warn!(server = %self.server.name, job_id = id.0, %task, %result, "job failed")
            }
        }
        let claimant = claimed.claimant().to_owned();
        let recorded = self
            .record(slot, id, &claimant, Some(claimed), verdict, &result)
            .await;
        // Written or kept: a reseed's swap record has served its purpose.
        if let Err(e) = tasks::forget_swap(&tasks::swaps_dir(&self.work_dir), id.0) {
            tracing::warn!(job_id = id.0, error = %e, "cannot remove the reseed's swap record: the next agent start resolves it again (harmless)");
        }
        JobDone {
            id,
            task,
            verdict,
            result,
            recorded,
        }
    }

    /// Refreshes the job's progress until `finished`; cancels the work when the claim is gone
    /// (the job was cancelled). Runs on its own session: the work must never wait for it, and
    /// an update may block for a while (e.g. under mariabackup's BACKUP STAGE BLOCK_COMMIT).
    async fn report(
        &self,
        claimed: &ClaimedJob,
        progress: &Progress,
        finished: &CancellationToken,
        cancel: &CancellationToken,
    ) {
        let mut conn: Option<JobsConn> = None;
        let mut warned = false;
        loop {
            tokio::select! {
                _ = finished.cancelled() => break,
                _ = tokio::time::sleep(REPORT_EVERY) => {}
            }
            // A task holding reports off (a reseed swapping datadirs) gets no report, and no
            // claim check: the row may be out of reach for a while without being gone.
            let Some(_may) = progress.may_report() else {
                conn = None;
                continue;
            };
            if conn.is_none() {
                match JobsConn::open(&self.endpoint, &self.schema).await {
                    Ok(c) => conn = Some(c),
                    Err(e) => {
                        if !warned {
                            tracing::warn!(job_id = claimed.id().0, error = %e, "cannot report progress; the job goes on");
                            warned = true;
                        }
                        continue;
                    }
                }
            }
            let Some(c) = conn.as_mut() else { continue };
            match claimed.progress(c, &progress.render()).await {
                Ok(()) => {}
                Err(e) if e.is_claim_gone() => {
                    tracing::warn!(job_id = claimed.id().0, error = %e, "the job is no longer ours (cancelled?): stopping it");
                    cancel.cancel();
                    break;
                }
                Err(e) => {
                    if !warned {
                        tracing::warn!(job_id = claimed.id().0, error = %e, "cannot report progress; the job goes on");
                        warned = true;
                    }
                    conn = None;
                }
            }
        }
        if let Some(c) = conn {
            let _ = c.close().await;
        }
    }

    /// Writes the outcome of job `id` claimed by `claimant` (`held` when this agent holds the
    /// claim); reconnects and retries a few times, then keeps it in the pending journal for a
    /// later pass. Returns true when it was written now.
    pub(crate) async fn record(
        &self,
        slot: &mut Option<JobsConn>,
        id: JobId,
        claimant: &str,
        held: Option<ClaimedJob>,
        verdict: Verdict,
        result: &str,
    ) -> bool {
        let mut held = held;
        for attempt in 0..RECORD_ATTEMPTS {
            // The first retry is at once, on a new session: the one kept in `slot` is often
            // dead because the server restarted under the job (a reseed's swap, a restart
            // task), and waiting would only delay the outcome the manager waits for.
            if attempt > 1 {
                tokio::time::sleep(Duration::from_secs(u64::from(attempt - 1))).await;
            }
            let res = match self.conn(slot).await {
                Err(e) => Err(e),
                Ok(conn) => {
                    let claim = match held.take() {
                        Some(c) => Ok(c),
                        None => ClaimedJob::resume(conn, id, claimant).await,
                    };
                    match claim {
                        Ok(c) => c.finish(conn, verdict, result).await,
                        Err(e) => Err(e),
                    }
                    .map_err(crate::Error::from)
                }
            };
            match res {
                Ok(()) => return true,
                Err(crate::Error::Jobs(e)) if e.is_claim_gone() => {
                    tracing::warn!(job_id = id.0, error = %e, "outcome not recorded: the job is no longer ours");
                    return true;
                }
                Err(e) => {
                    tracing::debug!(job_id = id.0, attempt, error = %e, "cannot record the outcome yet");
                    *slot = None;
                }
            }
        }
        let pending = PendingOutcome {
            job_id: id.0,
            claimant: claimant.to_owned(),
            success: verdict == Verdict::Success,
            result: result.to_owned(),
        };
        match self.journal.save(&pending) {
            Ok(path) => tracing::warn!(
                job_id = id.0,
                file = %path.display(),
                "the server does not answer: the outcome is kept and will be recorded when it does"
            ),
            Err(e) => tracing::error!(
                job_id = id.0,
                error = %e,
                "cannot record the outcome nor keep it: the job stays `processing` until the stale-claim reaper fails it"
            ),
        }
        false
    }

    /// A job's private scratch directory: `work-dir/<server>/jobs/<id>-<pid>` (the PID tells a
    /// live agent's from a dead one's).
    pub(crate) fn scratch_dir(&self, id: u64) -> std::path::PathBuf {
        self.work_dir
            .join("jobs")
            .join(format!("{id}-{}", std::process::id()))
    }

    /// What a task of `job` is given.
    pub(crate) fn task_ctx<'a>(
        &'a self,
        job: &'a ferryman_jobs::Job,
        task: Task,
        scratch: &'a Path,
        progress: &'a Progress,
        cancel: &'a CancellationToken,
    ) -> TaskCtx<'a> {
        TaskCtx {
            job,
            task,
            server: &self.server,
            endpoint: &self.endpoint,
            scratch,
            tool_logs: &self.tool_logs,
            swaps: &self.swaps,
            work_dir: &self.work_dir,
            destinations: &self.destinations,
            tls: self.tls.as_ref(),
            progress,
            cancel,
            connect_timeout: self.settings.connect_timeout,
            jobs_schema: &self.schema,
            joiner: &self.joiner,
        }
    }

    /// Keeps the newest [`TOOL_LOGS_KEPT`] tool logs.
    fn prune_tool_logs(&self) {
        prune(&self.tool_logs, TOOL_LOGS_KEPT);
    }
}

/// Removes a job's scratch directory (a missing one is fine).
pub(crate) fn remove_scratch(scratch: &Path) {
    if let Err(e) = std::fs::remove_dir_all(scratch) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(dir = %scratch.display(), error = %e, "cannot remove the job's scratch directory");
        }
    }
}

fn prune(dir: &Path, keep: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<(std::time::SystemTime, std::path::PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let modified = e.metadata().ok()?.modified().ok()?;
            Some((modified, e.path()))
        })
        .collect();
    if files.len() <= keep {
        return;
    }
    files.sort();
    for (_, path) in &files[..files.len() - keep] {
        let _ = std::fs::remove_file(path);
    }
}
