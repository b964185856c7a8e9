//! Claiming a job atomically, and what only the holder of a claim may do: report progress and
//! finish it.

use ferryman_proto::Task;

use crate::conn::JobsConn;
use crate::error::is_incorrect_string;
use crate::job::{Job, JobId, Outcome, Verdict};
use crate::queue::check_chars;
use crate::result_text::{self, RESULT_CHARS};
use crate::schema::CLAIMANT_CHARS;
use crate::table::{CLAIM, CLAIMED, FINISH, HEARTBEAT, OBSERVE, PROGRESS};
use crate::{Error, Result};
use ferryman_db::mysql_async::Row;

/// How many rows [`JobsConn::take`] tries before deciding others are taking them all.
const TAKE_ATTEMPTS: usize = 16;

impl JobsConn {
    /// Claims job `id` for `claimant`: one conditional `UPDATE` that sets
    /// `result = 'processing'` only if the row is still undone and not being run, so of any
    /// number of concurrent claimers exactly one changes the row. Returns `None` when someone
    /// else has it (or it is done).
    ///
    /// `claimant` names the runner in `claimed_by`; make it unique per running agent (e.g.
    /// `agent@db1:4242`), since progress and finish check it.
    pub async fn claim(&mut self, id: JobId, claimant: &str) -> Result<Option<ClaimedJob>> {
        check_chars("claimant", claimant, CLAIMANT_CHARS)?;
        let changed = self
            .exec(&[CLAIM], (claimant, id.0), || format!("claim job {id}"))
            .await?;
        if changed != 1 {
            return Ok(None);
        }
        let job = self.get(id).await?;
        tracing::debug!(server = %self.server(), job_id = id.0, claimant, "job claimed");
        Ok(Some(ClaimedJob {
            job,
            claimant: claimant.to_owned(),
        }))
    }

    /// Finds the job to run for `task`, supersedes the older ones and claims it; when another
    /// runner wins the claim, looks again. `None` when there is nothing to run.
    pub async fn take(&mut self, task: Task, claimant: &str) -> Result<Option<ClaimedJob>> {
        check_chars("claimant", claimant, CLAIMANT_CHARS)?;
        for _ in 0..TAKE_ATTEMPTS {
            let Some(job) = self.find(task).await? else {
                return Ok(None);
            };
            match self.supersede(task, job.id).await {
                Ok(_) => {}
                Err(e) if e.is_lock_conflict() => continue,
                Err(e) => return Err(e),
            }
            match self.claim(job.id, claimant).await {
                Ok(Some(claimed)) => return Ok(Some(claimed)),
                Ok(None) => {
                    tracing::debug!(server = %self.server(), job_id = job.id.0, "claim lost to another runner");
                }
                Err(e) if e.is_lock_conflict() => {}
                Err(e) => return Err(e),
            }
        }
        tracing::debug!(server = %self.server(), %task, "every job found was taken by another runner");
        Ok(None)
    }
}

/// A job some Ferryman runner holds, as [`JobsConn::claimed`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The row.
    pub job: Job,
    /// Seconds since the runner's last heartbeat, by the server's clock (`None` without one).
    pub heartbeat_age_s: Option<i64>,
}

impl JobsConn {
    /// Every undone job being run by a Ferryman runner (`claimed_by` set), oldest first: what a
    /// runner looks at to find claims abandoned by a runner that died. Rows run by legacy donor
    /// scripts (no `claimed_by`) are not listed.
    pub async fn claimed(&mut self) -> Result<Vec<Claim>> {
        let rows: Vec<Row> = self
            .rows(&[CLAIMED], (), || "list claimed jobs".to_owned())
            .await?;
        rows.into_iter()
            .map(|mut row| {
                let age = row.take::<Option<i64>, _>(14).flatten();
                Ok(Claim {
                    job: Job::from_row(row, self.bad_row())?,
                    heartbeat_age_s: age,
                })
            })
            .collect()
    }

    /// Job `id` with its heartbeat's age by the server's clock, in one statement: what a
    /// watcher reads at each look (the age is `None` without a heartbeat; whether a runner
    /// holds the row is the row's own `claimed_by` and `result`).
    pub async fn observe(&mut self, id: JobId) -> Result<Claim> {
        let rows: Vec<Row> = self
            .rows(&[OBSERVE], (id.0,), || format!("read job {id}"))
            .await?;
        let Some(mut row) = rows.into_iter().next() else {
            return Err(Error::NotFound {
                server: self.server().to_owned(),
                table: self.table().name().to_owned(),
                job_id: id,
            });
        };
        let age = row.take::<Option<i64>, _>(14).flatten();
        Ok(Claim {
            job: Job::from_row(row, self.bad_row())?,
            heartbeat_age_s: age,
        })
    }

    /// The claim on job `id`, when a Ferryman runner holds it: how a watcher reads the
    /// runner's heartbeat age (by the server's clock, immune to skew with the watcher's).
    pub async fn claim_of(&mut self, id: JobId) -> Result<Option<Claim>> {
        Ok(self.claimed().await?.into_iter().find(|c| c.job.id == id))
    }
}

/// A job this runner holds: the only value through which progress is reported and the job is
/// finished. The row says `result = 'processing'` and `claimed_by = claimant` until then.
#[derive(Debug)]
#[must_use = "a claimed job stays `processing` until it is finished"]
pub struct ClaimedJob {
    job: Job,
    claimant: String,
}

impl ClaimedJob {
    /// Takes back a claim this runner still holds (after a reconnection, or a restart that kept
    /// the claimant name). Fails when the row is no longer undone, `processing` and ours.
    pub async fn resume(conn: &mut JobsConn, id: JobId, claimant: &str) -> Result<ClaimedJob> {
        let job = conn.get(id).await?;
        if held_by(&job, claimant) {
            Ok(ClaimedJob {
                job,
                claimant: claimant.to_owned(),
            })
        } else {
            Err(gone(conn, job, claimant))
        }
    }

    /// The job's id.
    pub fn id(&self) -> JobId {
        self.job.id
    }

    /// The row as read right after it was claimed (task, receiver, token, params).
    pub fn job(&self) -> &Job {
        &self.job
    }

    /// The task to run.
    pub fn task(&self) -> Result<Task> {
        self.job.parse_task()
    }

    /// Who holds the claim.
    pub fn claimant(&self) -> &str {
        &self.claimant
    }

    /// Records `text` (its tail, fitted to the column) as the job's progress and refreshes the
    /// heartbeat. Fails when the claim is gone (cancelled, done, re-claimed): stop the work.
    pub async fn progress(&self, conn: &mut JobsConn, text: &str) -> Result<()> {
        let text = result_text::fit_tail(text, RESULT_CHARS);
        let id = self.job.id;
        let action = || format!("record the progress of job {id}");
        let changed = conn
            .exec(&[PROGRESS], (&text, id.0, &self.claimant), action)
            .await?;
        self.check_held(conn, changed).await
    }

    /// Refreshes the heartbeat, so that the manager sees the runner alive.
    pub async fn heartbeat(&self, conn: &mut JobsConn) -> Result<()> {
        let id = self.job.id;
        let changed = conn
            .exec(&[HEARTBEAT], (id.0, &self.claimant), || {
                format!("refresh the heartbeat of job {id}")
            })
            .await?;
        self.check_held(conn, changed).await
    }

    /// Ends the job: `done = 1`, `end = NOW()`, `outcome` from `verdict`, and as `result` the
    /// tail of `output` fitted to `VARCHAR(1000)` (a leading `…` marks a cut; invalid UTF-8 is
    /// replaced). Only if the row is still undone and claimed by us: otherwise it fails with
    /// [`Error::Cancelled`], [`Error::AlreadyDone`] or [`Error::ClaimLost`] and records nothing.
    ///
    /// On a connection error the claim is kept: reconnect, [`ClaimedJob::resume`], finish again.
    pub async fn finish(
        self,
        conn: &mut JobsConn,
        verdict: Verdict,
        output: impl AsRef<[u8]>,
    ) -> Result<()> {
        let result = result_text::fit(output.as_ref());
        let outcome = Outcome::from(verdict).as_str();
        let id = self.job.id;
        let action = || format!("record the end of job {id}");
        let changed = match conn
            .exec(&[FINISH], (outcome, &result, id.0, &self.claimant), action)
            .await
        {
            // A legacy table whose `result` is latin1 cannot hold every character: record the
            // outcome with the text made ASCII rather than leave the job `processing` forever.
            Err(Error::Query { source, .. }) if is_incorrect_string(&source) => {
                let ascii = result_text::ascii_only(&result);
                conn.exec(
                    &[FINISH],
                    (outcome, ascii.as_ref(), id.0, &self.claimant),
                    action,
                )
                .await?
            }
            other => other?,
        };
        if changed == 1 {
            tracing::debug!(server = %conn.server(), job_id = id.0, %outcome, "job finished");
            return Ok(());
        }
        let job = conn.get(id).await?;
        Err(gone(conn, job, &self.claimant))
    }

    /// An update that changed no row either found nothing to change (same values in the same
    /// second: the driver reports changed rows, not matched ones) or lost the claim.
    async fn check_held(&self, conn: &mut JobsConn, changed: u64) -> Result<()> {
        if changed == 1 {
            return Ok(());
        }
        let job = conn.get(self.job.id).await?;
        if held_by(&job, &self.claimant) {
            Ok(())
        } else {
            Err(gone(conn, job, &self.claimant))
        }
    }
}

fn held_by(job: &Job, claimant: &str) -> bool {
    !job.done && job.is_processing() && job.claimed_by.as_deref() == Some(claimant)
}

/// Why `job` is not held by `claimant` any more.
fn gone(conn: &JobsConn, job: Job, claimant: &str) -> Error {
    let server = conn.server().to_owned();
    let claimant = claimant.to_owned();
    if !job.done {
        return Error::ClaimLost {
            server,
            job_id: job.id,
            claimant,
            claimed_by: job.claimed_by,
            result: job.result,
        };
    }
    let result = job.result.unwrap_or_default();
    match job.outcome {
        Some(o) if Outcome::parse(&o) == Some(Outcome::Cancelled) => Error::Cancelled {
            server,
            job_id: job.id,
            claimant,
            result,
        },
        outcome => Error::AlreadyDone {
            server,
            job_id: job.id,
            claimant,
            outcome: outcome.unwrap_or_else(|| "NULL".to_owned()),
            result,
        },
    }
}
