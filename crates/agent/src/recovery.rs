//! What an agent does about the work a dead predecessor left half done on its server, before
//! it claims anything new: a reseed's datadir swap (`tasks/reseed/recover.rs` decides how it
//! ends), and the staging and import directories of reseeds that will never finish.

use ferryman_jobs::{JobsConn, Verdict};

use crate::agent::{Agent, Shutdown};
use crate::pending::create_private_dir;
use crate::progress::Progress;
use crate::reaper::Claimant;
use crate::runner::remove_scratch;
use crate::tasks::{self, SwapRecord};

impl Agent {
    /// Finishes or undoes every swap a dead agent left (see `tasks/reseed/recover.rs`), writes
    /// each outcome into its row (or keeps it in `pending/`), and removes the record. Returns
    /// how many were resolved. Runs before every pass: a record is never this agent's own
    /// running job, since jobs run one at a time and a pass starts with this.
    pub(crate) async fn recover_swaps(
        &self,
        slot: &mut Option<JobsConn>,
        shutdown: &Shutdown,
    ) -> usize {
        let dir = tasks::swaps_dir(&self.work_dir);
        let records = match tasks::interrupted_swaps(&dir) {
            Ok(records) => records,
            Err(e) => {
                tracing::error!(dir = %dir.display(), error = %e, "cannot read the swap records of interrupted reseeds: check the directory's permissions");
                return 0;
            }
        };
        let mut resolved = 0;
        for record in records {
            let id = record.job.id;
            let Some(claimant) = record.job.claimed_by.clone() else {
                tracing::error!(job_id = id.0, "a swap record without a claimant: remove it by hand once the server is checked");
                continue;
            };
            // A second agent of this server (a misconfiguration, but not a reason to break a
            // swap) may be running this one right now: only a dead agent's record is ours. The
            // record is in this host's work directory, so its agent ran here (under another
            // host name, if the host was renamed since: then it is gone too).
            let me = &self.claimant;
            let alive = Claimant::parse(&claimant)
                .is_some_and(|c| c != *me && c.host == me.host && !c.is_dead_here(me));
            if alive {
                tracing::warn!(job_id = id.0, claimed_by = %claimant, "a swap record of an agent that still runs: left to it");
                continue;
            }
            let (success, result) = self.resolve(record, shutdown).await;
            let verdict = if success {
                Verdict::Success
            } else {
                Verdict::Failure
            };
            tracing::warn!(job_id = id.0, success, %result, "interrupted reseed resolved");
            self.record(slot, id, &claimant, None, verdict, &result)
                .await;
            match tasks::forget_swap(&dir, id.0) {
                Ok(()) => resolved += 1,
                Err(e) => {
                    tracing::warn!(job_id = id.0, error = %e, "cannot remove a resolved swap record")
                }
            }
        }
        resolved
    }

    /// Resolves one record with a task context like the job had.
    async fn resolve(&self, record: SwapRecord, shutdown: &Shutdown) -> (bool, String) {
        let job = record.job.clone();
        let task = match job.parse_task() {
            Ok(task) => task,
            Err(e) => {
                return (
                    false,
                    format!("the swap record's row has no reseed task: {e}"),
                )
            }
        };
        let scratch = self.scratch_dir(job.id.0);
        if let Err(e) = create_private_dir(&scratch) {
            return (false, e.to_string());
        }
        let progress = Progress::new();
        let cancel = shutdown.interrupt.child_token();
        let ctx = self.task_ctx(&job, task, &scratch, &progress, &cancel);
        let outcome = tasks::resolve_swap(&ctx, record).await;
        remove_scratch(&scratch);
        outcome
    }
}
