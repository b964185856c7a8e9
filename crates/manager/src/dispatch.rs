//! Running one node job from the manager's side: insert the row (with a per-job token, or a
//! legacy port), wait for an agent to take it and for its stream, hand the stream to its sink
//! (backup, log), and reconcile with what the agent reports.
//!
//! A backup is kept only when both sides agree: the stream arrived whole and parsed (the
//! repository's checks), and the node job ended `success` (or, for a legacy donor that records
//! no outcome, `done` without an error). Anything else removes what was stored.

use std::time::{Duration, Instant};

use ferryman_config::{ClusterConfig, ServerConfig};
use ferryman_db::Endpoint;
use ferryman_jobs::{Job, JobId, JobStatus, JobsConn, Outcome, Schema, Token};
use ferryman_proto::{StreamKind, Task};

use crate::receiver::{self, Arrival};
use crate::registry::{JobHandle, JobState};
use crate::store::{self, Stored};

use crate::{Error, Result, Shared};

/// How often the node's row is read while waiting.
const POLL: Duration = Duration::from_millis(500);
/// A Ferryman agent refreshes its heartbeat every few seconds; silence this long means it died.
const HEARTBEAT_STALE_S: i64 = 60;

/// What a node job is for: where its stream goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A backup stored in the repository.
    Backup,
    /// A log stored under `<cluster>/<server>/`.
    Log,
    /// No stream (optimize, service commands).
    Command,
}

impl Purpose {
    /// The purpose of `task`.
    pub fn of(task: Task) -> Purpose {
        match task {
            Task::Mariabackup | Task::Xtrabackup | Task::Mysqldump | Task::Mydumper => {
                Purpose::Backup
            }
            Task::Error | Task::Slowquery => Purpose::Log,
            _ => Purpose::Command,
        }
    }
}

/// Runs `task` on `server` of `cluster` to its end, updating `job`. Returns what was stored.
pub async fn run(
    shared: &Shared,
    job: &JobHandle,
    cluster: &ClusterConfig,
    server: &ServerConfig,
    task: Task,
) -> Result<Option<Stored>> {
    let res = run_inner(shared, job, cluster, server, task).await;
    match &res {
        Ok(stored) => {
            if let Some(s) = stored {
                let id = s.id().to_owned();
                job.update(|r| r.backup_id = Some(id));
            }
            job.finish(JobState::Succeeded, None);
        }
        Err(Error::Cancelled) => {
            job.finish(JobState::Cancelled, Some("cancelled by request".to_owned()))
        }
        Err(e) => job.finish(JobState::Failed, Some(e.to_string())),
    }
    res
}

async fn run_inner(
    shared: &Shared,
    job: &JobHandle,
    cluster: &ClusterConfig,
    server: &ServerConfig,
    task: Task,
) -> Result<Option<Stored>> {
    let purpose = Purpose::of(task);
    if purpose == Purpose::Command {
        return command(shared, job, cluster, server, task)
            .await
            .map(|()| None);
    }
    let gate = open_stream(shared, job, cluster, server, task).await?;
    let (stored, row) = match purpose {
        Purpose::Backup => store::backup(shared, cluster, server, task, gate, job).await?,
        _ => store::log(shared, cluster, server, task, gate, job).await?,
    };
    if let Some(row) = row {
        job.update(|r| r.node_result = row.result.clone());
    }
    Ok(Some(stored))
}

/// A command (no stream): its row, then its outcome.
async fn command(
    shared: &Shared,
    job: &JobHandle,
    cluster: &ClusterConfig,
    server: &ServerConfig,
    task: Task,
) -> Result<()> {
    let schema = Schema::new(&shared.config.jobs.schema)?;
    let endpoint = Endpoint::from_config(server, &cluster.db_servers_credential);
    let mut conn = JobsConn::open(&endpoint, &schema).await?;
    let res = async {
        conn.ensure().await?;
        let watch = enqueue(shared, job, &mut conn, server, task, None, None).await?;
        let row = watch.until_done(&mut conn, job).await?;
        finish_command(&watch, &row)
    }
    .await;
    // A session dropped without a goodbye is an `Aborted connection` in the server's log.
    let _ = conn.close().await;
    res
}

/// Inserts the row and says so in `job`; returns how to watch it.
async fn enqueue<'a>(
    shared: &Shared,
    job: &JobHandle,
    conn: &mut JobsConn,
    server: &'a ServerConfig,
    task: Task,
    port: Option<u16>,
    token: Option<&Token>,
) -> Result<Watch<'a>> {
    let manager = &shared.config.manager;
    let node_id = conn
        .enqueue(task, &manager.monitoring_address, port, token, None)
        .await?;
    job.update(|r| {
        r.node_job_id = Some(node_id.0);
        r.state = JobState::Waiting;
        r.phase = format!(
            "waiting for the agent on {} to take job {node_id}",
            server.name
        );
    });
    tracing::info!(server = %server.name, %task, node_job_id = node_id.0, "job enqueued");
    Ok(Watch {
        server: &server.name,
        task,
        node_id,
        legacy: server.legacy_donor,
        claim_timeout: manager.job_claim_timeout,
        accept_timeout: manager.stream_accept_timeout,
        started: Instant::now(),
    })
}

/// Runs a streaming `task` on `server` until its stream arrives: inserts the row (listening
/// first, with a token or on a legacy port), waits for an agent to take it and connect, and
/// returns the stream gated on the node's verdict (see `store`).
pub(crate) async fn open_stream(
    shared: &Shared,
    job: &JobHandle,
    cluster: &ClusterConfig,
    server: &ServerConfig,
    task: Task,
) -> Result<store::Gate> {
    let endpoint = Endpoint::from_config(server, &cluster.db_servers_credential);
    let schema = Schema::new(&shared.config.jobs.schema)?;
    let mut conn = JobsConn::open(&endpoint, &schema).await?;
    match wait_stream(shared, job, cluster, server, task, &mut conn).await {
        // The watching session goes on as the gate's: it reads the node's verdict.
        Ok((stream, prefix, node_id)) => Ok(store::Gate {
            stream,
            prefix,
            conn,
            node_id,
        }),
        Err(e) => {
            // A session dropped without a goodbye is an `Aborted connection` in the server's log.
            let _ = conn.close().await;
            Err(e)
        }
    }
}

/// [`open_stream`] on the watching session `conn`: the stream, the bytes read from it, and
/// the node job's id.
async fn wait_stream(
    shared: &Shared,
    job: &JobHandle,
    cluster: &ClusterConfig,
    server: &ServerConfig,
    task: Task,
    conn: &mut JobsConn,
) -> Result<(tokio::net::TcpStream, Vec<u8>, JobId)> {
    let manager = &shared.config.manager;
    conn.ensure().await?;

    // Listen before inserting the row: no agent may connect before we wait for it.
    let from = receiver::addresses(&server.host).await?;
    let kind = match Purpose::of(task) {
        Purpose::Log => StreamKind::Log,
        _ => StreamKind::Backup,
    };
    let mut legacy = None;
    let mut waiting = None;
    let (port, token) = if server.legacy_donor {
        let pool = shared
            .pools
            .get(&cluster.name)
            .ok_or_else(|| Error::NoLegacyPort {
                cluster: cluster.name.clone(),
            })?;
        let port = pool
            .take(&manager.stream_bind_address, from.clone())
            .await?;
        let p = port.port();
        legacy = Some(port);
        (p, None)
    } else {
        let token = Token::generate()?;
        waiting = Some(
            shared
                .expectations
                .expect(kind, token.stream_token()?, from),
        );
        (manager.stream_port, Some(token))
    };
    let watch = enqueue(shared, job, conn, server, task, Some(port), token.as_ref()).await?;
    let node_id = watch.node_id;
    if let Some(w) = &waiting {
        w.set_job_id(node_id.0);
    }

    // Wait for the stream, watching the row: the agent may fail before connecting.
    let arrival = {
        let cancel = job.cancelled().clone();
        let arrive = async {
            match (&mut legacy, &mut waiting) {
                (Some(port), _) => port.accept(&cancel).await,
                (None, Some(w)) => w.arrival().await,
                _ => None,
            }
        };
        tokio::pin!(arrive);
        loop {
            tokio::select! {
                a = &mut arrive => match a {
                    Some(a) => break a,
                    None => {
                        cancel_row(conn, node_id, "cancelled by request").await;
                        return Err(Error::Cancelled);
                    }
                },
                _ = cancel.cancelled() => {
                    cancel_row(conn, node_id, "cancelled by request").await;
                    return Err(Error::Cancelled);
                }
                _ = tokio::time::sleep(POLL) => watch.check_waiting(conn).await?,
            }
        }
    };
    drop(waiting);
    drop(legacy);
    job.update(|r| {
        r.state = JobState::Receiving;
        r.phase = format!("receiving from {}", arrival.peer);
    });
    tracing::info!(server = %server.name, node_job_id = node_id.0, peer = %arrival.peer, "stream arrived");

    let Arrival { stream, prefix, .. } = arrival;
    Ok((stream, prefix, node_id))
}

pub(crate) fn finish_command(watch: &Watch<'_>, row: &Job) -> Result<()> {
    match row.status() {
        JobStatus::Done(Outcome::Success) | JobStatus::DoneUnknown => Ok(()),
        _ => Err(Error::NodeFailed {
            server: watch.server.to_owned(),
            node_job_id: watch.node_id.0,
            task: watch.task,
            result: row.result.clone().unwrap_or_default(),
        }),
    }
}

pub(crate) async fn cancel_row(conn: &mut JobsConn, id: JobId, reason: &str) {
    if let Err(e) = conn.cancel(id, reason).await {
        tracing::warn!(node_job_id = id.0, error = %e, "cannot cancel the node job");
    }
}

/// Watching a node job's row.
pub(crate) struct Watch<'a> {
    pub(crate) server: &'a str,
    pub(crate) task: Task,
    pub(crate) node_id: JobId,
    pub(crate) legacy: bool,
    pub(crate) claim_timeout: Duration,
    pub(crate) accept_timeout: Duration,
    pub(crate) started: Instant,
}

impl Watch<'_> {
    /// While waiting for the stream: fails when the node job ended, nobody took it in time,
    /// a legacy donor did not connect in time, or the agent went silent.
    pub(crate) async fn check_waiting(&self, conn: &mut JobsConn) -> Result<()> {
        let row = conn.get(self.node_id).await?;
        match row.status() {
            JobStatus::Done(_) | JobStatus::DoneUnknown => Err(Error::NodeFailed {
                server: self.server.to_owned(),
                node_job_id: self.node_id.0,
                task: self.task,
                result: row
                    .result
                    .unwrap_or_else(|| "ended without sending its stream".to_owned()),
            }),
            JobStatus::Pending if self.started.elapsed() > self.claim_timeout => {
                cancel_row(conn, self.node_id, "no agent took this job in time").await;
                Err(Error::NotClaimed {
                    server: self.server.to_owned(),
                    node_job_id: self.node_id.0,
                    task: self.task,
                    seconds: self.claim_timeout.as_secs(),
                })
            }
            // A legacy donor gets replication-manager's fixed window; a Ferryman agent is
            // watched through its heartbeat instead (mydumper connects only after dumping).
            _ if self.legacy && self.started.elapsed() > self.accept_timeout => {
                cancel_row(conn, self.node_id, "no stream arrived in time").await;
                Err(Error::NoStream {
                    server: self.server.to_owned(),
                    node_job_id: self.node_id.0,
                    task: self.task,
                    seconds: self.accept_timeout.as_secs(),
                })
            }
            JobStatus::Running {
                claimed_by: Some(_),
            } => self.check_heartbeat(conn).await,
            _ => Ok(()),
        }
    }

    async fn check_heartbeat(&self, conn: &mut JobsConn) -> Result<()> {
        if let Some(c) = conn.claim_of(self.node_id).await? {
            if let Some(age) = c.heartbeat_age_s {
                if age > HEARTBEAT_STALE_S {
                    return Err(Error::AgentSilent {
                        server: self.server.to_owned(),
                        node_job_id: self.node_id.0,
                        task: self.task,
                        detail: format!("no heartbeat for {age} s"),
                    });
                }
            }
        }
        Ok(())
    }

    /// Waits until the row is done (commands): claim timeout and heartbeat apply.
    pub(crate) async fn until_done(&self, conn: &mut JobsConn, job: &JobHandle) -> Result<Job> {
        loop {
            tokio::select! {
                _ = job.cancelled().cancelled() => {
                    cancel_row(conn, self.node_id, "cancelled by request").await;
                    return Err(Error::Cancelled);
                }
                _ = tokio::time::sleep(POLL) => {}
            }
            let row = conn.get(self.node_id).await?;
            if row.done {
                return Ok(row);
            }
            if let Some(p) = &row.progress {
                job.phase(p.clone());
            }
            self.check_waiting(conn).await?;
        }
    }
}
