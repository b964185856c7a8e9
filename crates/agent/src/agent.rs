//! [`Agent`]: the poll loop serving one database server.

use std::path::PathBuf;
use std::time::Duration;

use ferryman_config::{AgentConfig, Config, ServerConfig};
use ferryman_db::Endpoint;
use ferryman_jobs::{JobId, JobsConn, Runnable, Schema, Task, Verdict};
use tokio_util::sync::CancellationToken;

use crate::destinations::Destinations;
use crate::pending::{create_private_dir, Journal};
use crate::reaper::{self, Claimant};
use crate::tasks::JoinerSettings;
use crate::tls::AgentTls;
use crate::{Error, Result};

/// Longest pause after a failed pass (the server is down, the table missing…): short enough
/// that a server brought back (restarted, or replaced by an empty one to be reseeded) has its
/// jobs taken within seconds, long enough not to flood the log.
const MAX_BACKOFF: Duration = Duration::from_secs(15);

/// How an agent is told to stop.
///
/// `stop` ends the loop after the running job (no new claims); `interrupt` makes the running
/// job stop now, fail cleanly and be recorded as failed. A daemon cancels `stop` on the first
/// SIGTERM and `interrupt` after `agent.shutdown-grace` (or on a second signal).
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    /// No new jobs.
    pub stop: CancellationToken,
    /// Interrupt the running job.
    pub interrupt: CancellationToken,
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassReport {
    /// Jobs run, with how they ended and their result text.
    pub ran: Vec<JobDone>,
    /// Why the pass ended early (the server stopped answering…), after what is listed here.
    pub error: Option<String>,
    /// Outcomes kept from earlier passes that were recorded in this one.
    pub recorded_pending: usize,
    /// Abandoned claims of dead agents that were failed.
    pub reaped: usize,
    /// Reseed swaps left half done by a dead agent that were finished or undone.
    pub recovered_swaps: usize,
}

/// One job an agent ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobDone {
    /// The job.
    pub id: JobId,
    /// Its task.
    pub task: Task,
    /// How it ended.
    pub verdict: Verdict,
    /// The result text (as recorded, before fitting into the column).
    pub result: String,
    /// False when the outcome could not be written yet and waits in the pending journal.
    pub recorded: bool,
}

/// The agent of one database server.
#[derive(Debug)]
pub struct Agent {
    pub(crate) server: ServerConfig,
    pub(crate) endpoint: Endpoint,
    pub(crate) schema: Schema,
    pub(crate) settings: AgentConfig,
    pub(crate) claimant: Claimant,
    claimant_name: String,
    /// `work-dir/<server>`.
    pub(crate) work_dir: PathBuf,
    /// `work-dir/<server>/tool-logs`: tools' whole stderr.
    pub(crate) tool_logs: PathBuf,
    /// `work-dir/<server>/swaps`: reseed swap records.
    pub(crate) swaps: PathBuf,
    pub(crate) journal: Journal,
    /// What a reseed's joiner needs (`[agent]` joiner settings, replication credential).
    pub(crate) joiner: JoinerSettings,
    /// The receivers this agent streams to.
    pub(crate) destinations: Destinations,
    /// The agent's TLS for streams (`agent.tls-*`), `None` for plain TCP.
    pub(crate) tls: Option<AgentTls>,
    /// Held by the running job and by the API's service actions.
    pub(crate) busy: crate::busy::Busy,
    /// Set once reseed leftovers of stopped agents were looked for (once per process).
    leftovers_checked: std::sync::atomic::AtomicBool,
    /// Rows with an unknown task already reported (each is logged once).
    unknown_reported: std::sync::Mutex<std::collections::HashSet<u64>>,
}

impl Agent {
    /// The agent for server `server` of `config`. Creates its work directory
    /// (`agent.work-dir/<server>`, mode 0700).
    pub fn new(config: &Config, server: &str) -> Result<Agent> {
        let (cluster, server_config) = config
            .clusters
            .iter()
            .find_map(|c| c.servers.iter().find(|s| s.name == server).map(|s| (c, s)))
            .ok_or_else(|| Error::UnknownServer {
                server: server.to_owned(),
                known: config
                    .clusters
                    .iter()
                    .flat_map(|c| c.servers.iter().map(|s| s.name.as_str()))
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let schema = Schema::new(&cluster.jobs_schema)?;
        let work_dir = config.agent.work_dir.join(&server_config.name);
        create_private_dir(&work_dir)?;
        for sub in ["jobs", "tool-logs", "swaps"] {
            create_private_dir(&work_dir.join(sub))?;
        }
        let journal = Journal::open(work_dir.join("pending"))?;
        let claimant = Claimant::me();
        Ok(Agent {
            endpoint: Endpoint::from_config(server_config, &cluster.db_servers_credential),
            server: server_config.clone(),
            schema,
            settings: config.agent.clone(),
            claimant_name: claimant.to_string(),
            claimant,
            tool_logs: work_dir.join("tool-logs"),
            swaps: crate::tasks::swaps_dir(&work_dir),
            work_dir,
            journal,
            joiner: JoinerSettings::of(config, cluster),
            destinations: Destinations::of(config, cluster),
            tls: AgentTls::of(config)?,
            unknown_reported: Default::default(),
            leftovers_checked: Default::default(),
            busy: Default::default(),
        })
    }

    /// The name this agent writes into `claimed_by` (`ferryman-agent@HOST:PID`).
    pub fn claimant(&self) -> &str {
        &self.claimant_name
    }

    /// The served server's name.
    pub fn server(&self) -> &str {
        &self.server.name
    }

    /// Runs passes every `agent.poll-interval` until `shutdown.stop`, its heartbeat beside
    /// them. A failed pass (server down, table missing) is logged and retried with a growing
    /// pause.
    ///
    /// With `agent-api-port`, the HTTP API is served beside them (bound first: a port in use
    /// or a missing token stops the agent at start).
    pub async fn run(&self, shutdown: &Shutdown) -> Result<()> {
        let api = crate::api::bind(self).await?;
        tracing::info!(server = %self.server.name, claimant = %self.claimant_name, tasks = self.settings.tasks.len(), "agent started");
        self.clean_scratch();
        let passes_ended = CancellationToken::new();
        let serve_api = async {
            if let Some(api) = api {
                crate::api::serve(api, &self.server.name, passes_ended.clone()).await;
            }
        };
        let ((), ran, ()) = tokio::join!(
            crate::heartbeat::beat_until(self, &passes_ended),
            async {
                let ran = self.passes(shutdown).await;
                passes_ended.cancel();
                ran
            },
            serve_api
        );
        tracing::info!(server = %self.server.name, "agent stopped");
        ran
    }

    /// The passes of [`Agent::run`].
    async fn passes(&self, shutdown: &Shutdown) -> Result<()> {
        let mut conn: Option<JobsConn> = None;
        let mut backoff = self.settings.poll_interval;
        while !shutdown.stop.is_cancelled() {
            let mut report = PassReport::default();
            let pause = match self.pass_on(&mut conn, shutdown, &mut report).await {
                Ok(()) => {
                    if report.ran.is_empty() {
                        backoff = self.settings.poll_interval;
                        self.settings.poll_interval
                    } else {
                        // Work was found: look again at once, more may be waiting.
                        backoff = self.settings.poll_interval;
                        Duration::ZERO
                    }
                }
                Err(e) => {
                    conn = None;
                    tracing::warn!(server = %self.server.name, error = %e, retry_in_s = backoff.as_secs_f64(), "pass failed");
                    let pause = backoff;
                    backoff = (backoff * 2).min(MAX_BACKOFF.max(self.settings.poll_interval));
                    pause
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = shutdown.stop.cancelled() => {}
            }
        }
        if let Some(c) = conn {
            let _ = c.close().await;
        }
        Ok(())
    }

    /// One pass, on a connection of its own (for `--once`). A pass that ends early says why
    /// in [`PassReport::error`], after the jobs it did run.
    pub async fn once(&self, shutdown: &Shutdown) -> PassReport {
        self.clean_scratch();
        let mut conn = None;
        let mut report = PassReport::default();
        if let Err(e) = self.pass_on(&mut conn, shutdown, &mut report).await {
            report.error = Some(e.to_string());
        } else if !report
            .ran
            .iter()
            .any(|j| j.task == Task::Stop && j.verdict == Verdict::Success)
        {
            // A crontab-run agent beats once per pass: `manager.agent-silent-after` must
            // exceed the crontab's period.
            let beat = crate::heartbeat::beat(self, &mut conn, crate::heartbeat::now_s()).await;
            if let Err(e) = beat {
                tracing::info!(server = %self.server.name, error = %e, "cannot record this agent's heartbeat: the manager will call it silent");
            }
        }
        if let Some(c) = conn {
            let _ = c.close().await;
        }
        report
    }

    /// A pass: record kept outcomes, fail abandoned claims, then for every configured task
    /// take the job to run (if any) and run it.
    async fn pass_on(
        &self,
        slot: &mut Option<JobsConn>,
        shutdown: &Shutdown,
        report: &mut PassReport,
    ) -> Result<()> {
        // Before anything needs the server: a swap may have left it stopped.
        report.recovered_swaps = self.recover_swaps(slot, shutdown).await;
        // A Galera node a dead agent's backup left desynced is synced again before new work.
        crate::tasks::resync_left_desynced(&self.endpoint, &self.work_dir).await;
        let conn = self.conn(slot).await?;
        report.recorded_pending = self.journal.flush(conn).await?;
        report.reaped =
            reaper::reap(conn, &self.claimant, self.settings.stale_claim_timeout).await?;
        // Which tasks have a runnable row, in one statement: `take` (a find, a supersede and a
        // claim) runs only for those, so an idle pass is a few statements whatever the number
        // of configured tasks, and a short `agent.poll-interval` stays cheap.
        let mut runnable = Some(self.runnable(conn).await);
        if !self
            .leftovers_checked
            .swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            crate::tasks::remove_unused_reseed_dirs(&self.server, conn, &self.swaps).await;
        }
        for &task in &self.settings.tasks {
            if shutdown.stop.is_cancelled() {
                break;
            }
            let conn = self.conn(slot).await?;
            // Read again after a job ran: rows enqueued meanwhile are taken in this pass.
            let seen = match runnable.take() {
                Some(seen) => seen,
                None => self.runnable(conn).await,
            };
            let may_have = seen.as_ref().is_none_or(|r| r.may_have(task));
            runnable = Some(seen);
            if !may_have {
                continue;
            }
            let Some(claimed) = conn.take(task, &self.claimant_name).await? else {
                continue;
            };
            runnable = None;
            let done = self.run_job(slot, claimed, task, shutdown).await;
            let stopped = task == Task::Stop && done.verdict == Verdict::Success;
            report.ran.push(done);
            if stopped {
                // The server was stopped on request: its jobs table is out of reach until it
                // is started again, which is no error.
                break;
            }
        }
        Ok(())
    }

    /// The runnable rows (`None` when they cannot be read: then every task is tried, as
    /// `take` would fail on its own if the table were out of reach). Logs once, at WARN, each
    /// runnable row whose task no runner knows: it would otherwise wait forever without anyone
    /// noticing.
    async fn runnable(&self, conn: &mut JobsConn) -> Option<Runnable> {
        let runnable = match conn.runnable().await {
            Ok(runnable) => runnable,
            Err(e) => {
                tracing::debug!(server = %self.server.name, error = %e, "cannot list the runnable rows");
                return None;
            }
        };
        let mut reported = self
            .unknown_reported
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for row in runnable.unknown_tasks() {
            if reported.insert(row.id.0) {
                tracing::warn!(
                    server = %self.server.name,
                    job_id = row.id.0,
                    task = row.task.as_deref().unwrap_or("NULL"),
                    known = %ferryman_jobs::Task::names().join(", "),
                    "a job row names a task no agent knows: it is left undone; correct its task or cancel it (UPDATE ... SET done = 1)"
                );
            }
        }
        drop(reported);
        Some(runnable)
    }

    /// The jobs session, opened (and the table ensured) when there is none.
    pub(crate) async fn conn<'s>(
        &self,
        slot: &'s mut Option<JobsConn>,
    ) -> Result<&'s mut JobsConn> {
        if slot.is_none() {
            let mut conn = JobsConn::open(&self.endpoint, &self.schema).await?;
            // The manager creates the table; creating it here too lets an agent work on a
            // server the manager has not visited yet. Without the privilege, use what exists.
            if let Err(e) = conn.ensure().await {
                tracing::warn!(server = %self.server.name, error = %e, "cannot create or upgrade the jobs table; using it as it is");
            }
            // Rows another server's agent was to run, copied here with that server's data (a
            // Galera SST, which happens while the server was away: hence at each new session).
            match conn.close_foreign().await {
                Ok(0) => {}
                Ok(n) => {
                    tracing::warn!(server = %self.server.name, closed = n, "pending rows written for another server were found in this server's jobs table (copied with its data by a Galera SST?) and closed without running them")
                }
                Err(e) => {
                    tracing::debug!(server = %self.server.name, error = %e, "cannot close the rows written for other servers")
                }
            }
            *slot = Some(conn);
        }
        slot.as_mut().ok_or_else(|| Error::Unsuitable {
            server: self.server.name.clone(),
            problem: "no jobs session".to_owned(),
            next_step: "retry".to_owned(),
        })
    }

    /// Removes scratch directories left by agents of this server that are no longer running
    /// (`jobs/<id>-<pid>`).
    fn clean_scratch(&self) {
        let jobs = self.work_dir.join("jobs");
        let Ok(entries) = std::fs::read_dir(&jobs) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(pid) = name
                .to_str()
                .and_then(|n| n.rsplit_once('-'))
                .and_then(|(_, pid)| pid.parse::<u32>().ok())
            else {
                continue;
            };
            if pid != std::process::id() && !ferryman_exec::process::is_running(pid) {
                let path = entry.path();
                match std::fs::remove_dir_all(&path) {
                    Ok(()) => {
                        tracing::info!(dir = %path.display(), "removed the scratch directory of a stopped agent")
                    }
                    Err(e) => {
                        tracing::warn!(dir = %path.display(), error = %e, "cannot remove a stale scratch directory")
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
