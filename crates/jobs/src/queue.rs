//! The manager's side and the reading side of the table: enqueue, read, choose, supersede,
//! cancel.

use ferryman_proto::Task;

use crate::conn::JobsConn;
use crate::job::{Job, JobId, Outcome, Token};
use crate::result_text;
use crate::schema::{PARAMS_BYTES, SERVER_CHARS, TOKEN_CHARS};
use crate::table::{CANCEL, CLOSE_FOREIGN, FIND, GET, INSERT, LIST, RUNNABLE, SUPERSEDE};
use crate::{Error, Result};

/// How many runnable rows [`JobsConn::runnable`] reads at most.
const RUNNABLE_ROWS: usize = 1000;

/// The runnable rows of the table as one statement read them ([`JobsConn::runnable`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runnable {
    rows: Vec<Job>,
    /// False when there were more rows than were read.
    complete: bool,
}

impl Runnable {
    /// The rows read, oldest first.
    pub fn rows(&self) -> &[Job] {
        &self.rows
    }

    /// Rows whose task no runner knows (a typo, a newer manager's task): they would stay
    /// undone forever, unnoticed.
    pub fn unknown_tasks(&self) -> impl Iterator<Item = &Job> {
        self.rows.iter().filter(|j| j.parse_task().is_err())
    }

    /// Whether [`JobsConn::take`] may find a job of `task`; false only when it certainly
    /// would not (as of this read). That is certain only when every runnable row was read and
    /// each names a known task: the server compares `task` by its collation (case, trailing
    /// spaces, accents), so a row with an unknown spelling might still be one of `task`'s.
    pub fn may_have(&self, task: Task) -> bool {
        !self.complete
            || self
                .rows
                .iter()
                .any(|j| j.parse_task().map_or(true, |t| t == task))
    }
}

/// Fails when `text` has more than `max` characters.
pub(crate) fn check_chars(field: &'static str, text: &str, max: usize) -> Result<()> {
    let len = text.chars().count();
    if len > max {
        return Err(Error::TooLong { field, len, max });
    }
    Ok(())
}

/// The two spellings bound in `task IN (?, ?)` (the canonical one twice when there is one).
pub(crate) fn spellings(task: Task) -> (&'static str, &'static str) {
    let s = task.spellings();
    (s[0], s.get(1).copied().unwrap_or(s[0]))
}

impl JobsConn {
    /// Adds a job for `task`: the receiver is `server:port` (`port` `None` when the task streams
    /// nothing), `token` authenticates the agent's stream, `params` carries task options. Sets
    /// `done = 0` and `start = NOW()`, like replication-manager.
    pub async fn enqueue(
        &mut self,
        task: Task,
        server: &str,
        port: Option<u16>,
        token: Option<&Token>,
        params: Option<&serde_json::Value>,
    ) -> Result<JobId> {
        check_chars("server", server, SERVER_CHARS)?;
        if let Some(t) = token {
            check_chars("token", t.expose(), TOKEN_CHARS)?;
        }
        let params = params.map(serde_json::Value::to_string);
        if let Some(p) = &params {
            if p.len() > PARAMS_BYTES {
                return Err(Error::TooLong {
                    field: "params (bytes of JSON)",
                    len: p.len(),
                    max: PARAMS_BYTES,
                });
            }
        }
        let id = self
            .insert(
                &[INSERT],
                (
                    task.as_str(),
                    port,
                    server,
                    token.map(Token::expose),
                    params,
                    self.server().to_owned(),
                ),
                || format!("enqueue a {task} job"),
            )
            .await?;
        let id = id.ok_or_else(|| Error::BadRow {
            server: self.server().to_owned(),
            table: self.table().name().to_owned(),
            column: "id",
            detail: "the insert returned no AUTO_INCREMENT id".to_owned(),
        })?;
        tracing::debug!(server = %self.server(), job_id = id, %task, "job enqueued");
        Ok(JobId(id))
    }

    /// The row with this id.
    pub async fn get(&mut self, id: JobId) -> Result<Job> {
        self.jobs(GET, (id.0,), || format!("read job {id}"))
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| Error::NotFound {
                server: self.server().to_owned(),
                table: self.table().name().to_owned(),
                job_id: id,
            })
    }

    /// The newest `limit` rows, newest first.
    pub async fn list(&mut self, limit: u32) -> Result<Vec<Job>> {
        self.jobs(LIST, (limit,), || "list jobs".to_owned()).await
    }

    /// The runnable rows (undone, not being run), oldest first, in one statement: what an agent
    /// reads before taking jobs, so that an idle pass costs one query instead of one per task.
    pub async fn runnable(&mut self) -> Result<Runnable> {
        let rows = self
            .jobs(RUNNABLE, (self.server().to_owned(), RUNNABLE_ROWS), || {
                "list runnable jobs".to_owned()
            })
            .await?;
        let complete = rows.len() < RUNNABLE_ROWS;
        Ok(Runnable { rows, complete })
    }

    /// The job to run for `task`, by the reference donor script's rule: the newest row (any
    /// accepted spelling of the task) with `done = 0` and `result` NULL or not `processing`.
    pub async fn find(&mut self, task: Task) -> Result<Option<Job>> {
        let (a, b) = spellings(task);
        Ok(self
            .jobs(FIND, (a, b, self.server().to_owned()), || {
                format!("look for a {task} job to run")
            })
            .await?
            .into_iter()
            .next())
    }

    /// Marks the older runnable rows of `task` done, as superseded by `chosen` (the newest one,
    /// which is the one to run). Returns how many rows were superseded.
    ///
    /// Deviation from the reference donor script (which marks every other undone row of the
    /// task done, `id <> chosen`): rows being run (`result = 'processing'`) are left alone, as a
    /// running job is not finished, and so are rows newer than `chosen`, which were enqueued
    /// after it was chosen and are new work.
    pub async fn supersede(&mut self, task: Task, chosen: JobId) -> Result<u64> {
        let (a, b) = spellings(task);
        let result = format!("superseded by job {chosen}");
        let n = self
            .exec(
                &[SUPERSEDE],
                (
                    Outcome::Superseded.as_str(),
                    result,
                    a,
                    b,
                    chosen.0,
                    self.server().to_owned(),
                ),
                || format!("supersede {task} jobs older than job {chosen}"),
            )
            .await?;
        if n > 0 {
            tracing::info!(server = %self.server(), %task, job_id = chosen.0, superseded = n, "older jobs superseded");
        }
        Ok(n)
    }

    /// Cancels an undone job, claimed or not, with `reason` as its result (fitted like every
    /// result). Returns false when the job was already done. Its runner, if any, learns it when
    /// it next reports progress or finishes ([`Error::Cancelled`]).
    pub async fn cancel(&mut self, id: JobId, reason: &str) -> Result<bool> {
        let reason = result_text::fit(reason.as_bytes());
        let n = self
            .exec(
                &[CANCEL],
                (Outcome::Cancelled.as_str(), reason, id.0),
                || format!("cancel job {id}"),
            )
            .await?;
        if n == 0 {
            // Tell "already done" from "no such row".
            self.get(id).await?;
        }
        Ok(n == 1)
    }

    /// Closes (as cancelled) the undone rows written for another server: a Galera SST copies
    /// the donor's datadir, jobs table included, so the joiner's table may hold the donor's
    /// pending rows, which no runner here takes (see `for_this_node!`) and which must not look
    /// pending forever. Returns how many were closed.
    pub async fn close_foreign(&mut self) -> Result<u64> {
        let me = self.server().to_owned();
        let result = format!(
            "written for another server, not `{me}`: its table came here with a copy of that \
             server's data (a Galera SST); not run here"
        );
        self.exec(
            &[CLOSE_FOREIGN],
            (Outcome::Cancelled.as_str(), result, me),
            || "close the rows written for other servers".to_owned(),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: u64, task: &str) -> Job {
        Job {
            id: JobId(id),
            task: Some(task.to_owned()),
            ..Job::default()
        }
    }

    #[test]
    fn only_a_complete_read_of_known_tasks_rules_a_task_out() {
        let read = |rows, complete| Runnable { rows, complete };
        let known = read(vec![row(1, "mysqldump"), row(2, "errorlog")], true);
        assert!(known.may_have(Task::Mysqldump));
        assert!(known.may_have(Task::Error));
        assert!(!known.may_have(Task::Mariabackup));
        assert_eq!(known.unknown_tasks().count(), 0);
        // `MariaBackup ` is `mariabackup` by the server's collation.
        let unknown = read(vec![row(1, "mysqldump"), row(2, "MariaBackup ")], true);
        assert!(unknown.may_have(Task::Mariabackup));
        assert_eq!(
            unknown.unknown_tasks().map(|j| j.id).collect::<Vec<_>>(),
            [JobId(2)]
        );
        let cut = read(vec![row(1, "mysqldump")], false);
        assert!(cut.may_have(Task::Mariabackup));
        assert!(read(Vec::new(), true).rows().is_empty());
        assert!(!read(Vec::new(), true).may_have(Task::Stop));
    }
}
