//! One node job from the manager's side, from its row to its end: the one place that inserts
//! a row into a node's jobs table and watches it.
//!
//! # The life of a node job
//! 1. [`NodeJob::enqueue`]: a session on the node's jobs table (`sql_log_bin = 0`), the table
//!    made sure of, the row inserted with its port, token and parameters; the manager's job says
//!    `waiting`.
//! 2. [`NodeJob::until`]: waiting for the event the caller knows of (the receiver's accept of
//!    the agent's stream, a connection to the joiner's listener). The event ends the wait at
//!    once; the row is only read meanwhile, at [`POLL`], to fail the wait as soon as it is
//!    vain: the row ended, nobody took it within `manager.job-claim-timeout`, a legacy donor
//!    sent nothing within `manager.stream-accept-timeout`, the runner's heartbeat stopped, or
//!    (`onpremise-ssh`) the run over SSH started with the row ended before taking it.
//! 3. To its end, in one of three ways: [`NodeJob::until_done`] (a command: the same rules),
//!    [`NodeJob::outcome`] (a stream has ended: the row must say how within [`OUTCOME_WAIT`]),
//!    [`NodeJob::follow`] (a joiner whose server restarts on restored data: the session is
//!    re-opened, and a row that is missing or not ours is "not back yet").
//! 4. [`NodeJob::cancel`] takes a row off the node's queue; [`NodeJob::close`] says goodbye.
//!
//! Every wait is `NodeJob::watch`: one loop, one interval, one reading of the row per look
//! (the row and its heartbeat's age by the node's clock, in one statement), ended at once by
//! the manager job's cancellation.
//!
//! Over 500 lines on purpose: the rules of every stage are read against the one loop that
//! applies them, and split across files they would drift apart again.

use std::future::Future;
use std::time::{Duration, Instant};

use ferryman_config::{ClusterConfig, ServerConfig};
use ferryman_db::Endpoint;
use ferryman_jobs::{Claim, Job, JobId, JobStatus, JobsConn, Schema, Token};
use ferryman_proto::Task;
use tokio::sync::watch;

use crate::onpremise::{self, Ended, Launch};
use crate::registry::{JobHandle, JobState};
use crate::{Error, Result, Services};

/// How often a watched row is read: every wait on every node job, one interval. One read by
/// primary key on the job's own node, ten times a second while the job runs: cheap for the
/// node, and what bounds how late the manager sees a claim (to connect to a joiner) or an
/// outcome (to end the job).
pub const POLL: Duration = Duration::from_millis(100);
/// A Ferryman agent refreshes its heartbeat every few seconds (a backup lock may hold the
/// update back while the tool runs); silence this long before the stream means it died.
const START_SILENCE_S: i64 = 60;
/// After a stream's end, how long the node may take to record its outcome.
pub const OUTCOME_WAIT: Duration = Duration::from_secs(120);
/// After a stream's end, a runner whose heartbeat (refreshed every 3 s, no backup lock in the
/// way any more) is this old has died: its job ends now rather than after [`OUTCOME_WAIT`].
const OUTCOME_SILENCE_S: i64 = 15;
/// How long a joiner whose stream broke has to record why (it resets the connection first,
/// then cleans up and writes its result).
const EXPLAIN_WAIT: Duration = Duration::from_secs(15);
/// How long a followed joiner's row may stay unreadable (its server stopped, restarting) before
/// the manager gives up: a server's shutdown and start may take that long.
const FOLLOW_UNREACHABLE: Duration = Duration::from_secs(30 * 60);
/// How long a followed joiner may show no sign of life while its server answers: the row gone
/// (the donor's table, rows never put back) or its heartbeat unchanged. The agent puts its rows
/// back right after the start and refreshes the heartbeat every 3 s, so this much silence
/// means it died mid-swap.
const FOLLOW_QUIET: Duration = Duration::from_secs(30);

/// The reason a cancelled job's row gives (`Error::Cancelled` says the same).
pub const CANCELLED: &str = "cancelled by request";

/// Where the node's agent sends the job's stream, when it has one.
#[derive(Debug, Default)]
pub struct Route<'a> {
    /// The receiving port: the manager's stream port, a legacy port, or a joiner's port.
    pub port: Option<u16>,
    /// The token that authenticates the stream.
    pub token: Option<&'a Token>,
    /// The task's parameters (`params` column).
    pub params: Option<&'a serde_json::Value>,
}

/// A node job being watched: its row, the session that reads it, and the manager's job that
/// reports it.
pub struct NodeJob {
    id: JobId,
    task: Task,
    server: String,
    legacy: bool,
    /// `None` between a lost session and its re-opening (a followed joiner restarting).
    conn: Option<JobsConn>,
    endpoint: Endpoint,
    schema: Schema,
    job: JobHandle,
    /// The row's token, to tell our row from another with the same id (a joiner's table holds
    /// the donor's rows for a moment after the restore).
    token: Option<String>,
    claim_timeout: Duration,
    accept_timeout: Duration,
    enqueued: Instant,
    /// Set once the row is seen taken by a runner.
    taken: watch::Sender<bool>,
    /// The run over SSH started for this row (`onpremise-ssh`).
    ssh: Option<Launch>,
}

impl std::fmt::Debug for NodeJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeJob")
            .field("id", &self.id)
            .field("task", &self.task)
            .field("server", &self.server)
            .finish()
    }
}

/// What a wait watches for, besides the caller's event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Before the event: the row must not end, must be taken in time, its runner must live.
    Starting,
    /// A command: as [`Stage::Starting`], until the row is done.
    Running,
    /// A stream has ended: the row must be done within [`OUTCOME_WAIT`], its runner alive.
    Ending,
    /// A joiner's stream broke: its row may say why within [`EXPLAIN_WAIT`].
    Explaining,
    /// A joiner across its server's restart, until its row is done.
    Following,
}

/// What ended a wait.
enum Seen<T> {
    /// The caller's event.
    Event(T),
    /// The row is done.
    Done(Box<Job>),
    /// [`Stage::Explaining`] ran out of time, or the row could not be read.
    Nothing,
}

/// The signs of life of a followed joiner.
struct Pulse {
    /// The last time the row was read.
    seen_at: Instant,
    /// The last time the heartbeat changed or the server was down (restarting).
    alive_at: Instant,
    heartbeat: Option<String>,
}

impl NodeJob {
    /// Opens a session on `server`'s jobs table, makes sure of the table, inserts the row and
    /// says so in `job`.
    pub async fn enqueue(
        services: &Services,
        job: &JobHandle,
        cluster: &ClusterConfig,
        server: &ServerConfig,
        task: Task,
        route: Route<'_>,
    ) -> Result<NodeJob> {
        let manager = &services.config.manager;
        let endpoint = Endpoint::from_config(server, &cluster.db_servers_credential);
        let schema = Schema::new(&cluster.jobs_schema)?;
        let mut conn = JobsConn::open(&endpoint, &schema).await?;
        let inserted = async {
            conn.ensure().await?;
            conn.enqueue(
                task,
                &manager.monitoring_address,
                route.port,
                route.token,
                route.params,
            )
            .await
        }
        .await;
        let id = match inserted {
            Ok(id) => id,
            Err(e) => {
                // A session dropped without a goodbye is an `Aborted connection` in the log.
                let _ = conn.close().await;
                return Err(e.into());
            }
        };
        job.update(|r| {
            r.node_job_id = Some(id.0);
            r.state = JobState::Waiting;
            r.phase = format!("waiting for the agent on {} to take job {id}", server.name);
        });
        tracing::Span::current().record("node_job_id", id.0);
        tracing::info!(server = %server.name, %task, node_job_id = id.0, port = route.port, "job enqueued");
        let ssh = server
            .onpremise_ssh
            .as_ref()
            .map(|ssh| onpremise::launch(services, job, cluster, server, ssh, task, id.0));
        Ok(NodeJob {
            ssh,
            id,
            task,
            server: server.name.clone(),
            legacy: server.legacy_donor,
            conn: Some(conn),
            endpoint,
            schema,
            job: job.clone(),
            token: route.token.map(|t| t.expose().to_owned()),
            claim_timeout: manager.job_claim_timeout,
            accept_timeout: manager.stream_accept_timeout,
            enqueued: Instant::now(),
            taken: watch::channel(false).0,
        })
    }

    /// The row's id.
    pub fn id(&self) -> JobId {
        self.id
    }

    /// Resolves once the row has been seen taken by a runner (while a wait reads it).
    pub fn taken(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.taken.subscribe();
        async move {
            let _ = rx.wait_for(|taken| *taken).await;
        }
    }

    /// Waits for `event` while the row says the wait is not vain (see the module's step 2).
    /// `event` resolving to `None` (its source shut down) ends the job as cancelled.
    pub async fn until<T>(&mut self, event: impl Future<Output = Option<T>>) -> Result<T> {
        match self.watch(Stage::Starting, event).await? {
            Seen::Event(v) => Ok(v),
            Seen::Done(row) => Err(self.failed(
                row.result
                    .unwrap_or_else(|| "ended without sending its stream".to_owned()),
            )),
            Seen::Nothing => Err(Error::Cancelled),
        }
    }

    /// Waits until the row of a command is done, mirroring its progress; then returns it.
    pub async fn until_done(&mut self) -> Result<Job> {
        self.row_at_end(Stage::Running).await
    }

    /// After the stream ended: the row once done, or why its outcome will not come.
    pub async fn outcome(&mut self) -> Result<Job> {
        self.row_at_end(Stage::Ending).await
    }

    /// Follows a joiner that has its payload until its row is done, across its restart.
    pub async fn follow(&mut self) -> Result<Job> {
        self.row_at_end(Stage::Following).await
    }

    /// Why a joiner's stream broke: the node's own words when it records them soon (its
    /// extractor refused the data, its disk is full), else `e`.
    pub async fn explain(&mut self, e: Error) -> Error {
        if matches!(e, Error::Cancelled) {
            return e;
        }
        match self
            .watch(Stage::Explaining, std::future::pending::<Option<()>>())
            .await
        {
            Ok(Seen::Done(row)) => self.failed(row.result.unwrap_or_default()),
            _ => e,
        }
    }

    /// Takes the row off the node's queue with `reason` (a row already done is left as is).
    pub async fn cancel(&mut self, reason: &str) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        if let Err(e) = conn.cancel(self.id, reason).await {
            tracing::warn!(node_job_id = self.id.0, error = %e, "cannot cancel the node job");
        }
    }

    /// The row as it is now (`None` when it cannot be read).
    pub async fn row(&mut self) -> Option<Job> {
        match self.conn.as_mut()?.get(self.id).await {
            Ok(row) => Some(row),
            Err(e) => {
                tracing::warn!(node_job_id = self.id.0, error = %e, "cannot read the node job");
                None
            }
        }
    }

    /// Ends the session with a goodbye (a dropped one is an `Aborted connection` in the
    /// server's log).
    pub async fn close(mut self) {
        if let Some(conn) = self.conn.take() {
            let _ = conn.close().await;
        }
    }

    /// The error of a row that ended badly, in the node's words.
    pub fn failed(&self, result: String) -> Error {
        Error::NodeFailed {
            server: self.server.clone(),
            node_job_id: self.id.0,
            task: self.task,
            result,
        }
    }

    async fn row_at_end(&mut self, stage: Stage) -> Result<Job> {
        match self
            .watch(stage, std::future::pending::<Option<()>>())
            .await?
        {
            Seen::Done(row) => Ok(*row),
            _ => Err(Error::Cancelled),
        }
    }

    /// The one waiting loop: `event` or the row's end, whichever comes first, the row read
    /// every [`POLL`] and judged by `stage`'s rules; the manager job's cancellation cancels
    /// the row and ends the wait at once.
    async fn watch<T>(
        &mut self,
        stage: Stage,
        event: impl Future<Output = Option<T>>,
    ) -> Result<Seen<T>> {
        let started = Instant::now();
        let mut pulse = Pulse {
            seen_at: started,
            alive_at: started,
            heartbeat: None,
        };
        let mut looks = tokio::time::interval(POLL);
        looks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let cancel = self.job.cancelled().clone();
        tokio::pin!(event);
        loop {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => {
                    self.cancel(CANCELLED).await;
                    return Err(Error::Cancelled);
                }
                happened = &mut event => match happened {
                    Some(v) => return Ok(Seen::Event(v)),
                    None => {
                        self.cancel(CANCELLED).await;
                        return Err(Error::Cancelled);
                    }
                },
                _ = looks.tick() => {}
            }
            if let Some(seen) = self.look(stage, started, &mut pulse).await? {
                return Ok(seen);
            }
        }
    }

    /// One look at the row under `stage`'s rules: `Some` ends the wait.
    async fn look<T>(
        &mut self,
        stage: Stage,
        started: Instant,
        pulse: &mut Pulse,
    ) -> Result<Option<Seen<T>>> {
        // Before the row is read: a run seen ended and a row read after it still pending was
        // never taken by that run.
        let ssh_ended = self.ssh.as_ref().and_then(Launch::ended);
        // Only a followed joiner's session is ever lost: it is re-opened here.
        let read = match self.conn.as_mut() {
            Some(conn) => conn.observe(self.id).await,
            None => match JobsConn::open(&self.endpoint, &self.schema).await {
                Ok(conn) => self.conn.insert(conn).observe(self.id).await,
                Err(e) => Err(e),
            },
        };
        match stage {
            Stage::Starting | Stage::Running => {
                let Claim {
                    job: row,
                    heartbeat_age_s,
                } = read?;
                if row.done {
                    return Ok(Some(Seen::Done(Box::new(row))));
                }
                self.mirror(&row);
                self.judge_ssh(&row, ssh_ended).await?;
                self.judge_start(&row, heartbeat_age_s).await?;
                Ok(None)
            }
            Stage::Ending => {
                let Claim {
                    job: row,
                    heartbeat_age_s,
                } = read.map_err(|e| Error::NoOutcome {
                    detail: format!("cannot read the node job's outcome: {e}"),
                })?;
                if row.done {
                    return Ok(Some(Seen::Done(Box::new(row))));
                }
                if let Some(age) =
                    heartbeat_age_s.filter(|a| *a > OUTCOME_SILENCE_S && row.claimed_by.is_some())
                {
                    return Err(Error::NoOutcome {
                        detail: format!(
                            "the stream ended but the node's agent ({}) has not reported for \
                             {age} s and recorded no outcome: it probably died; its restart \
                             fails the row, and nothing of this stream is kept",
                            row.claimed_by.as_deref().unwrap_or("?")
                        ),
                    });
                }
                if started.elapsed() > OUTCOME_WAIT {
                    return Err(Error::NoOutcome {
                        detail: format!(
                            "the stream ended but the node did not record an outcome within {} s",
                            OUTCOME_WAIT.as_secs()
                        ),
                    });
                }
                Ok(None)
            }
            Stage::Explaining => match read {
                Ok(c) if c.job.done => Ok(Some(Seen::Done(Box::new(c.job)))),
                Ok(_) if started.elapsed() < EXPLAIN_WAIT => Ok(None),
                _ => Ok(Some(Seen::Nothing)),
            },
            Stage::Following => self
                .judge_follow(read.map_err(|e| e.to_string()), pulse)
                .map(|r| r.map(|row| Seen::Done(Box::new(row)))),
        }
    }

    /// Before the stream (and for commands): fails when nobody took the row in time, a legacy
    /// donor did not connect in time, or the runner went silent.
    async fn judge_start(&mut self, row: &Job, heartbeat_age_s: Option<i64>) -> Result<()> {
        let waited = self.enqueued.elapsed();
        match row.status() {
            JobStatus::Pending if waited > self.claim_timeout => {
                self.cancel("no agent took this job in time").await;
                Err(Error::NotClaimed {
                    server: self.server.clone(),
                    node_job_id: self.id.0,
                    task: self.task,
                    seconds: self.claim_timeout.as_secs(),
                })
            }
            // A legacy donor gets replication-manager's fixed window; a Ferryman agent is
            // watched through its heartbeat instead (mydumper connects only after dumping).
            _ if self.legacy && waited > self.accept_timeout => {
                self.cancel("no stream arrived in time").await;
                Err(Error::NoStream {
                    server: self.server.clone(),
                    node_job_id: self.id.0,
                    task: self.task,
                    seconds: self.accept_timeout.as_secs(),
                })
            }
            JobStatus::Running {
                claimed_by: Some(_),
            } => {
                self.taken.send_replace(true);
                match heartbeat_age_s.filter(|age| *age > START_SILENCE_S) {
                    Some(age) => Err(Error::AgentSilent {
                        server: self.server.clone(),
                        node_job_id: self.id.0,
                        task: self.task,
                        detail: format!("no heartbeat for {age} s"),
                    }),
                    None => Ok(()),
                }
            }
            JobStatus::Running { .. } => {
                self.taken.send_replace(true);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// `onpremise-ssh`: a run over SSH that ended while the row is still pending will not take
    /// it: a failed run (a refused host key or login, no route, no such command) fails the
    /// job now with ssh's words; a Ferryman agent that exited with 0 without taking it too (a
    /// legacy donor script may leave a task for later: its accept timeout applies).
    async fn judge_ssh(&mut self, row: &Job, ended: Option<Ended>) -> Result<()> {
        if row.status() != JobStatus::Pending {
            return Ok(());
        }
        let detail = match ended {
            Some(Ended::Failed(why)) => why,
            Some(Ended::Succeeded) if !self.legacy => format!(
                "the agent ran over SSH and exited without taking the job: check that                  `agent.tasks` on the host includes `{}` and that its configuration names this                  server (`onpremise-ssh-agent-command`)",
                self.task
            ),
            _ => return Ok(()),
        };
        self.cancel("the run over ssh did not take this job").await;
        Err(Error::OnPremiseSsh {
            server: self.server.clone(),
            node_job_id: self.id.0,
            task: self.task,
            detail,
        })
    }

    /// A followed joiner: its row once done; a lost session is re-opened at the next look, a
    /// row that is missing or not ours is "not back yet", and only silence fails.
    fn judge_follow(
        &mut self,
        read: std::result::Result<Claim, String>,
        pulse: &mut Pulse,
    ) -> Result<Option<Job>> {
        let ours = match read {
            Ok(c) if c.job.token.as_ref().map(|t| t.expose()) == self.token.as_deref() => {
                let row = c.job;
                pulse.seen_at = Instant::now();
                if row.done {
                    return Ok(Some(row));
                }
                self.mirror(&row);
                if row.heartbeat != pulse.heartbeat {
                    pulse.heartbeat = row.heartbeat.clone();
                    pulse.alive_at = Instant::now();
                }
                true
            }
            // The donor's table, restored with the backup, until the agent puts ours back.
            Ok(_) => false,
            Err(e) => {
                tracing::debug!(server = %self.server, error = %e, "joiner's row not readable (restarting?)");
                self.conn = None;
                pulse.alive_at = Instant::now();
                self.job
                    .phase("the joiner's server restarts on the restored data");
                if pulse.seen_at.elapsed() > FOLLOW_UNREACHABLE {
                    return Err(self.silent(format!(
                        "its jobs row could not be read for {} min; the agent puts the old data \
                         back itself if the restore failed: check the server and the agent's log",
                        FOLLOW_UNREACHABLE.as_secs() / 60
                    )));
                }
                return Ok(None);
            }
        };
        if pulse.alive_at.elapsed() > FOLLOW_QUIET {
            let quiet = pulse.alive_at.elapsed().as_secs();
            let detail = if ours {
                format!("its heartbeat has not changed for {quiet} s: the agent died or hangs")
            } else {
                format!(
                    "its server answers, but its jobs row has been missing for {quiet} s (the \
                     restored data holds the donor's rows) and nobody reports: the agent died \
                     during the datadir swap"
                )
            };
            return Err(self.silent(format!(
                "{detail}; restart `ferryman agent --server {server}`: before anything else it \
                 finishes or undoes the swap it finds in its work directory (`swaps/`) and \
                 records which in the node's row",
                server = self.server
            )));
        }
        Ok(None)
    }

    fn silent(&self, detail: String) -> Error {
        Error::AgentSilent {
            server: self.server.clone(),
            node_job_id: self.id.0,
            task: self.task,
            detail,
        }
    }

    /// The node's progress becomes the job's phase.
    fn mirror(&self, row: &Job) {
        if let Some(p) = &row.progress {
            self.job.phase(p.clone());
        }
    }
}
