//! Handing a received stream to the repository, gated on the node's verdict.
//!
//! The repository writes a backup's manifest when its stream ends well; but a stream that ends
//! well is not yet a good backup: the agent may still report that its tool failed. So the
//! reader given to the repository is a gate: when the socket reaches end-of-file, the gate
//! closes our side (the agent, waiting for that, goes on to record its outcome), waits for the
//! node's row to be done, and only then returns end-of-file — or an error when the node says
//! the job failed, which makes the repository discard everything. A manifest therefore exists
//! only for a backup both sides call good. A stream that breaks waits for the node's outcome
//! too: the agent breaks it when its tool fails, and its row says why.

use bytes::Bytes;
use ferryman_config::{ClusterConfig, ServerConfig};
use ferryman_jobs::Job;
use ferryman_proto::Task;
use ferryman_repo::{BackupMeta, Coordinates, LogKind, LogMeta, Manifest, Timestamp, Tool};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio_util::io::StreamReader;
use tracing::Instrument;

use crate::dispatch::good;
use crate::node_job::{NodeJob, CANCELLED};
use crate::registry::JobHandle;
use crate::{Error, Result, Services};

/// Buffers between the socket and the repository (memory stays bounded).
const CHUNKS: usize = 8;
/// Size of one read from the socket.
const CHUNK: usize = 256 * 1024;
/// What was stored.
#[derive(Debug, Clone)]
pub enum Stored {
    /// A backup, with its manifest.
    Backup(Box<Manifest>),
    /// A log file, by key.
    Log(String),
}

impl Stored {
    /// The backup id or the log's key.
    pub fn id(&self) -> String {
        match self {
            Stored::Backup(m) => m.id.to_string(),
            Stored::Log(k) => k.clone(),
        }
    }
}

/// The repository's tool for a backup task.
pub fn tool(task: Task) -> Option<Tool> {
    Some(match task {
        Task::Mariabackup => Tool::Mariabackup,
        Task::Xtrabackup => Tool::Xtrabackup,
        Task::Mysqldump => Tool::Mysqldump,
        Task::Mydumper => Tool::Mydumper,
        _ => return None,
    })
}

/// A stream plus the means to learn the node's verdict.
#[derive(Debug)]
pub struct Gate {
    /// The connection (payload after `prefix`).
    pub stream: ferryman_tls::Conn,
    /// Payload bytes already read.
    pub prefix: Vec<u8>,
    /// The node job that sends it.
    pub node: NodeJob,
    /// The payload is in blocks compressed on the node (only a backup may be).
    pub blocks: bool,
    /// How the stream is slowed down for replication (`backup-throttle-*`), if at all.
    pub throttle: Option<crate::throttle::Throttle>,
}

pub(crate) type Chunk = std::io::Result<Bytes>;

impl Gate {
    /// Starts pumping: returns the gated reader and, once the gate has decided, the node's row
    /// (or why it could not be read).
    pub(crate) fn open(
        self,
        job: JobHandle,
    ) -> (
        StreamReader<tokio_stream_shim::Receiver, Bytes>,
        oneshot::Receiver<std::result::Result<Job, String>>,
    ) {
        let (tx, rx) = mpsc::channel::<Chunk>(CHUNKS);
        let (done_tx, done_rx) = oneshot::channel();
        // Not tracked on its own: it ends when the socket or the repository does, and the
        // job that reads it is tracked.
        tokio::spawn(pump(self, tx, done_tx, job).instrument(tracing::Span::current()));
        (StreamReader::new(tokio_stream_shim::Receiver(rx)), done_rx)
    }
}

async fn pump(
    gate: Gate,
    tx: mpsc::Sender<Chunk>,
    done: oneshot::Sender<std::result::Result<Job, String>>,
    job: JobHandle,
) {
    let Gate {
        mut stream,
        prefix,
        mut node,
        blocks: _,
        mut throttle,
    } = gate;
    if !prefix.is_empty() && tx.send(Ok(Bytes::from(prefix))).await.is_err() {
        if job.cancelled().is_cancelled() {
            cancel_node_job(&mut node, &job).await;
        }
        node.close().await;
        return;
    }
    let mut total = 0u64;
    loop {
        let mut buf = vec![0u8; CHUNK];
        let read = tokio::select! {
            read = stream.read(&mut buf) => read,
            _ = job.cancelled().cancelled() => {
                cancel_node_job(&mut node, &job).await;
                node.close().await;
                return;
            }
        };
        let n = match read {
            Ok(n) => n,
            Err(e) => {
                let _ = tx
                    .send(Err(std::io::Error::new(
                        e.kind(),
                        format!("the stream broke after {total} bytes: {e}"),
                    )))
                    .await;
                // An agent breaks its stream when its tool fails: its row then says why, which
                // is what the job's error must show (bounded like any wait for an outcome).
                job.phase("stream broken; waiting for the node's reason");
                let verdict = node.outcome().await;
                if verdict.is_err() && job.cancelled().is_cancelled() {
                    cancel_node_job(&mut node, &job).await;
                }
                node.close().await;
                let _ = done.send(verdict.map_err(|_| format!("the stream broke: {e}")));
                return;
            }
        };
        if n == 0 {
            break;
        }
        buf.truncate(n);
        total += n as u64;
        job.update(|r| r.bytes = total);
        // The repository stopped reading (corrupt stream, disk full, cancelled): drop the
        // socket, which tells the agent its stream failed; a cancelled job's row says so first.
        if tx.send(Ok(Bytes::from(buf))).await.is_err() {
            if job.cancelled().is_cancelled() {
                cancel_node_job(&mut node, &job).await;
            }
            node.close().await;
            return;
        }
        // Slower reads slow the agent, and its tool, down (`throttle.rs`).
        if let Some(t) = throttle.as_mut() {
            let change = tokio::select! {
                change = t.pace(n) => change,
                _ = job.cancelled().cancelled() => None,
            };
            if let Some(change) = change {
                tracing::info!(%change, "stream pace changed");
                job.phase(change);
            }
        }
    }
    // End of stream: tell the agent we have everything, then wait for its verdict.
    let _ = stream.shutdown().await;
    job.phase("stream complete; waiting for the node's outcome");
    let verdict = node.outcome().await.map_err(|e| match e {
        Error::Cancelled => CANCELLED.to_owned(),
        e => e.to_string(),
    });
    if verdict.is_err() && job.cancelled().is_cancelled() {
        cancel_node_job(&mut node, &job).await;
    }
    node.close().await;
    match &verdict {
        Ok(row) if good(row) => drop(tx),
        Ok(row) => {
            let why = row
                .result
                .clone()
                .unwrap_or_else(|| "the node job failed".to_owned());
            let _ = tx
                .send(Err(std::io::Error::other(format!(
                    "the node reported failure: {why}"
                ))))
                .await;
        }
        Err(e) => {
            let _ = tx.send(Err(std::io::Error::other(e.clone()))).await;
        }
    }
    let _ = done.send(verdict);
}

/// Ends the node job of a cancelled manager job, before its socket closes (the agent, finding
/// its row ended, records nothing else), and keeps the row's result in the job.
async fn cancel_node_job(node: &mut NodeJob, job: &JobHandle) {
    node.cancel(CANCELLED).await;
    if let Some(row) = node.row().await {
        job.update(|r| r.node_result = row.result);
    }
}

/// Stores a backup stream; returns its manifest and the node's final row.
pub async fn backup(
    services: &Services,
    cluster: &ClusterConfig,
    server: &ServerConfig,
    task: Task,
    gate: Gate,
    job: &JobHandle,
) -> Result<(Stored, Option<Job>)> {
    let Some(tool) = tool(task) else {
        return Err(Error::Unknown {
            what: "backup task",
            name: task.to_string(),
            known: "mariabackup, xtrabackup, mysqldump, mydumper".to_owned(),
        });
    };
    let node_id = gate.node.id();
    let mut meta = BackupMeta::new(&cluster.name, &server.name, &server.host, tool, node_id.0);
    meta.compression = services.compression();
    if gate.blocks {
        meta.wire = ferryman_repo::Wire::Blocks;
    }
    meta.coordinates = Coordinates::default();
    meta.require_gtid = gtid_history(services, cluster, server, tool);
    let (reader, verdict) = gate.open(job.clone());
    let repo = services.repo(&cluster.name)?;
    let res = ferryman_repo::ingest(repo, meta, reader, job.cancelled()).await;
    let row = verdict.await.ok().and_then(|v| v.ok());
    let manifest = res.map_err(|e| node_reason(e, &row, &server.name, job))?;
    crate::retention::after_backup(services, cluster).await;
    services.copies.wake(&cluster.name);
    Ok((Stored::Backup(Box::new(manifest)), row))
}

/// When the backup of `server` must record a GTID position, what the manager knows of the
/// source's GTIDs (for the refusal): a physical backup or a mysqldump of a cluster whose
/// servers write GTIDs carries one, unless its source lost its history (a replica whose
/// replication was reset). `None` when the cluster uses no GTIDs, the tool records none
/// (mydumper), or the topology was not read yet.
fn gtid_history(
    services: &Services,
    cluster: &ClusterConfig,
    server: &ServerConfig,
    tool: ferryman_repo::Tool,
) -> Option<String> {
    if tool.format() == ferryman_repo::Format::Tar {
        return None;
    }
    let view = services.topology.cluster(&cluster.name)?;
    let statuses = || view.servers.iter().filter_map(|s| s.status.as_ref());
    if !statuses().any(|st| !st.gtid_binlog_pos.trim().is_empty()) {
        return None;
    }
    let source = view
        .servers
        .iter()
        .find(|s| s.name == server.name)
        .and_then(|s| s.status.as_ref());
    Some(match source {
        Some(st) => format!(
            "gtid_binlog_pos `{}`, gtid_slave_pos `{}`",
            st.gtid_binlog_pos, st.gtid_slave_pos
        ),
        None => "unknown (it did not answer the monitor)".to_owned(),
    })
}

/// Stores a log stream.
pub async fn log(
    services: &Services,
    cluster: &ClusterConfig,
    server: &ServerConfig,
    task: Task,
    gate: Gate,
    job: &JobHandle,
) -> Result<(Stored, Option<Job>)> {
    let kind = if task == Task::Slowquery {
        LogKind::Slow
    } else {
        LogKind::Error
    };
    let meta = LogMeta {
        cluster: cluster.name.clone(),
        server: server.name.clone(),
        kind,
        job_id: gate.node.id().0,
        received_at: Timestamp::now(),
        compression: services.compression(),
    };
    let repo = services.repo(&cluster.name)?;
    let (reader, verdict) = gate.open(job.clone());
    let res = repo.ingest_log(meta, reader, job.cancelled()).await;
    let row = verdict.await.ok().and_then(|v| v.ok());
    let file = res.map_err(|e| node_reason(e, &row, &server.name, job))?;
    if let Err(e) = repo
        .rotate_logs(services.config.manager.logs_keep as usize)
        .await
    {
        tracing::warn!(error = %e, "cannot rotate collected logs");
    }
    Ok((Stored::Log(file.key.to_string()), row))
}

/// A cancelled job ends cancelled (its row too: see [`cancel_node_job`]); when the node
/// itself failed the job, its reason is the one to show.
fn node_reason(e: ferryman_repo::Error, row: &Option<Job>, server: &str, job: &JobHandle) -> Error {
    if job.cancelled().is_cancelled() {
        return Error::Cancelled;
    }
    match row {
        Some(r) if r.done && !good(r) => Error::NodeFailed {
            server: server.to_owned(),
            node_job_id: r.id.0,
            task: r.parse_task().unwrap_or(Task::Mariabackup),
            result: r.result.clone().unwrap_or_default(),
        },
        _ => Error::Repo(e),
    }
}

/// `mpsc::Receiver` as a `Stream` (without pulling in tokio-stream for one adapter).
pub mod tokio_stream_shim {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// The adapter.
    #[derive(Debug)]
    pub struct Receiver(pub tokio::sync::mpsc::Receiver<super::Chunk>);

    impl futures_util::Stream for Receiver {
        type Item = super::Chunk;
        fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            self.0.poll_recv(cx)
        }
    }
}
