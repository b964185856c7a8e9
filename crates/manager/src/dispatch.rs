//! Starting a backup, a log collection or a command, and running its node job from the
//! manager's side: expect the stream (a token on the well-known port, or a legacy port), put
//! the row on the node ([`NodeJob`]), wait for the stream, hand it to its sink (`store.rs`),
//! and reconcile with what the agent reports.
//!
//! A backup is kept only when both sides agree: the stream arrived whole and parsed (the
//! repository's checks), and the node job ended `success` (or, for a legacy donor that records
//! no outcome, `done` without an error). Anything else removes what was stored.

use std::sync::Arc;

use ferryman_config::{ClusterConfig, ServerConfig};
use ferryman_jobs::{Job, JobStatus, Outcome};
use ferryman_proto::blocks::{BackupParams, CompressionSite, StreamCompression};
use ferryman_proto::{StreamKind, Task};

use crate::events::{EventKind, NewEvent, Severity};
use crate::node_job::{NodeJob, Route};
use crate::registry::{JobHandle, JobState};
use crate::store::{self, Gate, Stored};
use crate::{monitor, receiver, Error, Result, Services};

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
            // A snapshot for a reseed streams like a backup (and is passed on, never stored).
            Task::Mariabackup
            | Task::Xtrabackup
            | Task::Mysqldump
            | Task::Mydumper
            | Task::Snapshotsend => Purpose::Backup,
            Task::Error | Task::Slowquery => Purpose::Log,
            _ => Purpose::Command,
        }
    }
}

/// Starts a backup of `cluster` with `task` (a backup tool) from `server`, or from the
/// configured/healthiest source when `None`. Returns the manager job id at once.
pub(crate) async fn start_backup(
    services: &Arc<Services>,
    cluster: &str,
    server: Option<&str>,
    task: Task,
    trigger: &str,
) -> Result<u64> {
    let c = services.cluster(cluster)?;
    let server = match server {
        Some(s) => s.to_owned(),
        None => backup_source(services, c).await?,
    };
    start_task(services, cluster, &server, task, trigger)
}

/// The server a backup of `cluster` is taken from (`monitor::backup_source`); a split
/// topology is an event as well as the error.
///
/// The monitor's view is up to [`monitor::REFRESH`] old: a replica that was restarting a moment
/// ago (a reseed ending) may show as replicating from no one. A refusal is therefore decided
/// on a fresh read, never on the cached one.
async fn backup_source(services: &Services, c: &ClusterConfig) -> Result<String> {
    if let Some(server) = services
        .topology
        .cluster(&c.name)
        .and_then(|view| monitor::backup_source(c, &view).ok())
    {
        return Ok(server);
    }
    services.topology.refresh_cluster(c).await;
    let view = services
        .topology
        .cluster(&c.name)
        .ok_or_else(|| Error::NoBackupSource {
            cluster: c.name.clone(),
            detail: "topology not read yet".to_owned(),
        })?;
    monitor::backup_source(c, &view).inspect_err(|e| {
        if matches!(e, Error::SplitTopology { .. }) {
            services.events.emit(NewEvent {
                kind: EventKind::TopologySplit,
                severity: Severity::Error,
                cluster: c.name.clone(),
                server: None,
                backup: None,
                subject: None,
                message: e.to_string(),
            });
        }
    })
}

/// Starts `task` on `server` of `cluster` in the background, in the job's span; returns the
/// manager job id. The names are checked here, once.
pub(crate) fn start_task(
    services: &Arc<Services>,
    cluster: &str,
    server: &str,
    task: Task,
    trigger: &str,
) -> Result<u64> {
    let c = services.cluster(cluster)?.clone();
    let s = Services::server(&c, server)?.clone();
    let job = services.registry.create(&c.name, &s.name, task, trigger);
    let id = job.id();
    let this = Arc::clone(services);
    services.spawn(job.span(), async move {
        match run(&this, &job, &c, &s, task).await {
            Ok(_) => tracing::info!("job succeeded"),
            Err(e) => tracing::warn!(error = %e, "job failed"),
        }
    });
    Ok(id)
}

/// Runs `task` on `server` of `cluster` to its end, updating `job`. Returns what was stored.
pub async fn run(
    services: &Services,
    job: &JobHandle,
    cluster: &ClusterConfig,
    server: &ServerConfig,
    task: Task,
) -> Result<Option<Stored>> {
    let res = run_inner(services, job, cluster, server, task).await;
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
    services: &Services,
    job: &JobHandle,
    cluster: &ClusterConfig,
    server: &ServerConfig,
    task: Task,
) -> Result<Option<Stored>> {
    let purpose = Purpose::of(task);
    if purpose == Purpose::Command {
        return command(services, job, cluster, server, task)
            .await
            .map(|()| None);
    }
    let stored = purpose == Purpose::Backup;
    // Held until the backup is stored or failed: see `slots.rs`.
    let _slot = match stored {
        true => Some(services.backup_slots.take(cluster, job).await?),
        false => None,
    };
    let gate = open_stream(services, job, cluster, server, task, stored).await?;
    let (stored, row) = match purpose {
        Purpose::Backup => store::backup(services, cluster, server, task, gate, job).await?,
        _ => store::log(services, cluster, server, task, gate, job).await?,
    };
    if let Some(row) = row {
        job.update(|r| r.node_result = row.result.clone());
    }
    Ok(Some(stored))
}

/// A command (no stream): its row, then its outcome.
async fn command(
    services: &Services,
    job: &JobHandle,
    cluster: &ClusterConfig,
    server: &ServerConfig,
    task: Task,
) -> Result<()> {
    let mut node = NodeJob::enqueue(services, job, cluster, server, task, Route::default()).await?;
    // A restart and a rollback take the server away for a while: followed across it, as a
    // reseed's joiner is.
    let res = match task {
        Task::Restart | Task::Zfssnapback => node.follow().await,
        _ => node.until_done().await,
    };
    let res = res.and_then(|row| match good(&row) {
        true => {
            // The node's words (what was rolled back to, how long the restart took).
            job.update(|r| r.node_result = row.result.clone());
            Ok(())
        }
        false => Err(node.failed(row.result.unwrap_or_default())),
    });
    node.close().await;
    res
}

/// Runs a streaming `task` on `server` until its stream arrives: expects the stream first
/// (no agent may connect before the manager listens for it), inserts the row, waits for the
/// stream while watching the row, and returns the stream gated on the node's verdict. A
/// backup to be `stored` may be compressed on the node (the cluster's
/// `backup-stream-compression`); one passed on (a reseed's) never is.
pub(crate) async fn open_stream(
    services: &Services,
    job: &JobHandle,
    cluster: &ClusterConfig,
    server: &ServerConfig,
    task: Task,
    stored: bool,
) -> Result<Gate> {
    let manager = &services.config.manager;
    let from = receiver::addresses(&server.host).await?;
    let kind = match Purpose::of(task) {
        Purpose::Log => StreamKind::Log,
        _ => StreamKind::Backup,
    };
    let (mut incoming, token) = if server.legacy_donor {
        let incoming = services
            .streams
            .expect_legacy(&cluster.name, &manager.stream_bind_address, from)
            .await?;
        (incoming, None)
    } else {
        let peer = receiver::Peer {
            host: server.host.clone(),
            addresses: from,
        };
        let (incoming, token) = services.streams.expect_token(kind, peer)?;
        (incoming, Some(token))
    };
    let params = node_compression(services, cluster, server, stored);
    let route = Route {
        port: Some(incoming.port(manager.stream_port)),
        token: token.as_ref(),
        params: params.as_ref(),
    };
    let mut node = NodeJob::enqueue(services, job, cluster, server, task, route).await?;
    incoming.set_job_id(node.id().0);
    let cancel = job.cancelled().clone();
    let arrival = match node.until(incoming.arrival(&cancel)).await {
        Ok(arrival) => arrival,
        Err(e) => {
            node.close().await;
            return Err(match incoming.refusal() {
                Some(why) => Error::StreamRefused {
                    server: server.name.clone(),
                    reason: why,
                    then: e.to_string(),
                },
                None => e,
            });
        }
    };
    drop(incoming);
    if arrival.blocks && params.is_none() {
        node.close().await;
        return Err(Error::StreamRefused {
            server: server.name.clone(),
            reason: "the agent sent compressed blocks, which this job did not ask for".to_owned(),
            then: "run the same Ferryman version on the manager and the agents".to_owned(),
        });
    }
    job.update(|r| {
        r.state = JobState::Receiving;
        r.phase = format!("receiving from {}", arrival.peer);
    });
    tracing::info!(peer = %arrival.peer, "stream arrived");
    Ok(Gate {
        stream: arrival.stream,
        prefix: arrival.prefix,
        node,
        blocks: arrival.blocks,
        throttle: crate::throttle::Throttle::for_source(&services.topology, cluster, server),
    })
}

/// The row's `params` asking the agent to compress a backup to be stored, unless the
/// cluster leaves compression to the manager or the server is a legacy donor (whose script
/// knows no parameters).
fn node_compression(
    services: &Services,
    cluster: &ClusterConfig,
    server: &ServerConfig,
    stored: bool,
) -> Option<serde_json::Value> {
    let setting = cluster.stream_compression;
    if !stored || server.legacy_donor || setting.site == CompressionSite::Manager {
        return None;
    }
    let params = BackupParams {
        stream_compression: Some(StreamCompression {
            site: setting.site,
            level: services.config.manager.backup_compression_level,
            threads: setting.threads,
        }),
    };
    serde_json::to_value(params).ok()
}

/// Success, or done by a legacy donor (which records no outcome; the stream checks decide).
pub(crate) fn good(row: &Job) -> bool {
    matches!(
        row.status(),
        JobStatus::Done(Outcome::Success) | JobStatus::DoneUnknown
    )
}
