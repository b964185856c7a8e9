//! Outcomes that could not be written into the jobs table yet, kept on disk until they can.
//!
//! The server a job ran on may be down when the job ends: the `stop` task stops it, a
//! `restart` drops every connection, a crash may happen at any time. The outcome is then saved
//! here, durably (write, fsync, rename, fsync the directory), and recorded on a later pass, so
//! no job stays `processing` and no verdict is lost, even if the agent itself restarts.

use std::path::PathBuf;

use ferryman_jobs::{ClaimedJob, JobId, JobsConn, Verdict};
use serde::{Deserialize, Serialize};

pub(crate) use crate::durable::create_private_dir;
use crate::{durable, Result};

/// One outcome waiting to be recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PendingOutcome {
    /// The job.
    pub job_id: u64,
    /// Who holds the claim (needed to finish it).
    pub claimant: String,
    /// True for success.
    pub success: bool,
    /// The result text.
    pub result: String,
}

/// The directory of pending outcomes of one served server.
#[derive(Debug, Clone)]
pub(crate) struct Journal {
    dir: PathBuf,
}

impl Journal {
    /// The journal in `dir` (created, mode 0700: results may quote tool output).
    pub fn open(dir: PathBuf) -> Result<Journal> {
        create_private_dir(&dir)?;
        Ok(Journal { dir })
    }

    /// Saves `outcome` durably. Returns the file's path.
    pub fn save(&self, outcome: &PendingOutcome) -> Result<PathBuf> {
        let path = self.dir.join(format!("job-{}.json", outcome.job_id));
        durable::write_json(&path, outcome)?;
        Ok(path)
    }

    /// Every saved outcome, oldest job first. Unreadable files are reported and skipped.
    pub fn load(&self) -> Result<Vec<(PathBuf, PendingOutcome)>> {
        let mut out = Vec::new();
        for path in durable::list(&self.dir, "job-", ".json")? {
            match durable::read_json::<PendingOutcome>(&path) {
                Ok(o) => out.push((path, o)),
                Err(e) => {
                    tracing::warn!(file = %path.display(), error = %e, "unreadable pending outcome: move it away or delete it");
                }
            }
        }
        out.sort_by_key(|(_, o)| o.job_id);
        Ok(out)
    }

    /// Records every saved outcome through `conn`. Stops at the first connection error (the
    /// server is still away: try again next pass); an outcome whose claim is gone (the job
    /// was cancelled or recorded meanwhile) is dropped with a warning. Returns how many were
    /// recorded.
    pub async fn flush(&self, conn: &mut JobsConn) -> Result<usize> {
        let mut recorded = 0;
        for (path, o) in self.load()? {
            let id = JobId(o.job_id);
            let verdict = if o.success {
                Verdict::Success
            } else {
                Verdict::Failure
            };
            let res = match ClaimedJob::resume(conn, id, &o.claimant).await {
                Ok(claimed) => claimed.finish(conn, verdict, &o.result).await,
                Err(e) => Err(e),
            };
            match res {
                Ok(()) => {
                    tracing::info!(
                        job_id = o.job_id,
                        "recorded an outcome kept while the server was away"
                    );
                    recorded += 1;
                }
                Err(e) if e.is_claim_gone() => {
                    tracing::warn!(job_id = o.job_id, error = %e, "dropping a kept outcome: the job is no longer ours to finish");
                }
                Err(e) => return Err(e.into()),
            }
            durable::remove(&path)?;
        }
        Ok(recorded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_survive_in_the_journal_until_removed() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(dir.path().join("pending")).unwrap();
        let a = PendingOutcome {
            job_id: 12,
            claimant: "ferryman-agent@h:1".into(),
            success: false,
            result: "stop: done".into(),
        };
        let b = PendingOutcome {
            job_id: 3,
            ..a.clone()
        };
        journal.save(&a).unwrap();
        journal.save(&b).unwrap();
        // Reopening (a restarted agent) finds both, oldest job first.
        let again = Journal::open(dir.path().join("pending")).unwrap();
        let loaded: Vec<u64> = again
            .load()
            .unwrap()
            .into_iter()
            .map(|(_, o)| o.job_id)
            .collect();
        assert_eq!(loaded, [3, 12]);
        std::fs::write(dir.path().join("pending/job-99.json"), "garbage").unwrap();
        assert_eq!(again.load().unwrap().len(), 2, "garbage is skipped");
    }
}
