//! Reseed and flashback from the manager's side: choose the payload, check the safety rails,
//! put one job row on each joiner, stream the payload to them, follow them to the end.
//!
//! The joiner's agent does the dangerous part (stop, swap the datadir, start, replicate) and
//! keeps its old data until the new one replicates. The manager's part is to never vouch for
//! a payload that is not the backup: the frames' end marker (`ferryman_proto::frames`) carries
//! the manifest's length and raw sha256, sent only when the stored payload decompressed whole
//! to that length, and the joiner restores nothing unless what it received hashes to it (one
//! hash, on the joiner, instead of one more per joiner on the manager). A `logicalmaster` dump
//! has no manifest: the manager hashes it once as it passes and sends the end marker only when
//! the primary's agent reported success. One read of the source serves every joiner of a
//! batch; a joiner that fails is dropped without stopping the others.
//!
//! Safety rails, checked before any row is written: the servers exist, none is the current
//! primary (read live, not from the monitor's cache), none is already being reseeded, the
//! backup exists, belongs to the cluster, is of the method's kind and carries a GTID position.

mod choice;

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferryman_config::{ClusterConfig, ServerConfig};
use ferryman_db::topology::{self, ServerView};
use ferryman_db::{Endpoint, Role};
use ferryman_jobs::{JobId, JobStatus, JobsConn, Outcome, Schema, Token};
use ferryman_proto::{FrameWriter, ReseedParams, StreamHeader, StreamKind, Task};
use ferryman_repo::{BackupId, Kind, Manifest, Tool};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::dispatch::{cancel_row, Watch};
use crate::registry::{JobHandle, JobState};
use crate::{Error, Result, Shared};

/// Size of one read from the stored payload.
const CHUNK: usize = 1 << 20;
/// Chunks buffered between the payload reader and the joiners.
const CHUNKS: usize = 4;
/// How often the row is read and a connection tried while the joiner gets ready.
const POLL: Duration = Duration::from_millis(300);
/// One connection attempt to a joiner.
const CONNECT_ATTEMPT: Duration = Duration::from_secs(2);

/// How a replica is rebuilt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// The newest physical backup of the cluster (or the one asked for).
    Physicalbackup,
    /// The newest logical backup of the cluster.
    Logicalbackup,
    /// A consistent dump of the current primary, piped through the manager.
    Logicalmaster,
    /// A chosen earlier backup (the server rewound).
    Flashback,
}

impl Method {
    /// The name, as the API and the CLI spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Physicalbackup => "physicalbackup",
            Method::Logicalbackup => "logicalbackup",
            Method::Logicalmaster => "logicalmaster",
            Method::Flashback => "flashback",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Method {
    type Err = Error;
    fn from_str(s: &str) -> Result<Method> {
        [
            Method::Physicalbackup,
            Method::Logicalbackup,
            Method::Logicalmaster,
            Method::Flashback,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
        .ok_or_else(|| Error::Unknown {
            what: "reseed method",
            name: s.to_owned(),
            known: "physicalbackup, logicalbackup, logicalmaster".to_owned(),
        })
    }
}

/// A reseed or flashback to start.
#[derive(Debug, Clone)]
pub struct ReseedRequest {
    /// The joiners (at least one).
    pub servers: Vec<String>,
    /// How.
    pub method: Method,
    /// The backup to restore; required for flashback, optional for `physicalbackup` (default:
    /// the newest physical backup of the cluster whose newest verification passed).
    pub backup: Option<BackupId>,
    /// Restore the named backup even though its newest verification failed.
    pub force: bool,
}

/// Servers being reseeded now (`cluster/server`), so two reseeds never share a joiner.
#[derive(Debug, Default)]
pub struct Busy(Mutex<HashSet<String>>);

impl Busy {
    /// Marks every server of `keys` busy, or none if one already is (returned).
    fn take_all(&self, keys: &[String]) -> std::result::Result<(), String> {
        let mut set = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(k) = keys.iter().find(|k| set.contains(*k)) {
            return Err(k.clone());
        }
        set.extend(keys.iter().cloned());
        Ok(())
    }

    fn release(&self, key: &str) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
    }
}

/// Receiver ports of joiners in use, per cluster: concurrent joiners on one host need their
/// own port each.
#[derive(Debug, Default)]
pub struct JoinerPorts(Mutex<HashSet<(String, u16)>>);

impl JoinerPorts {
    fn take(&self, cluster: &ClusterConfig) -> Option<u16> {
        let mut used = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let port = cluster
            .receiver_ports
            .iter()
            .copied()
            .find(|p| !used.contains(&(cluster.name.clone(), *p)))?;
        used.insert((cluster.name.clone(), port));
        Some(port)
    }

    fn give_back(&self, cluster: &str, port: u16) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(cluster.to_owned(), port));
    }
}

/// The current primary of a cluster, from a live read: the one server that replicates from no
/// one, or, when several do (a replica whose replication was reset), the one the replicas
/// read from.
fn primary<'c>(cluster: &'c ClusterConfig, views: &[ServerView]) -> Result<&'c ServerConfig> {
    let answering: Vec<&ServerView> = views.iter().filter(|v| v.status.is_some()).collect();
    let primaries: Vec<&str> = answering
        .iter()
        .filter(|v| v.status.as_ref().is_some_and(|s| s.role == Role::Primary))
        .map(|v| v.name.as_str())
        .collect();
    let read_from: Vec<(String, u16)> = answering
        .iter()
        .filter_map(|v| v.status.as_ref()?.replication.as_ref())
        .map(|r| (r.master_host.clone(), r.master_port))
        .collect();
    let find = |name: &str| cluster.servers.iter().find(|s| s.name == name);
    let chosen = match primaries.as_slice() {
        [one] => find(one),
        several => several.iter().filter_map(|n| find(n)).find(|s| {
            read_from.iter().any(|(h, p)| {
                *p == s.port && (h == &s.host || h == "127.0.0.1" && s.host == "localhost")
            })
        }),
    };
    chosen.ok_or_else(|| {
        Error::Refused(format!(
            "cannot tell the primary of cluster `{}` (servers replicating from no one: {}); a \
             replica is rebuilt from and pointed at the primary: check `ferryman topology`",
            cluster.name,
            if primaries.is_empty() {
                "none answering".to_owned()
            } else {
                primaries.join(", ")
            }
        ))
    })
}

/// The joiner task for a backup tool.
fn joiner_task(tool: Tool, flashback: bool) -> Option<Task> {
    Some(match (tool, flashback) {
        (Tool::Mariabackup, false) => Task::Reseedmariabackup,
        (Tool::Mariabackup, true) => Task::Flashbackmariabackup,
        (Tool::Xtrabackup, false) => Task::Reseedxtrabackup,
        (Tool::Xtrabackup, true) => Task::Flashbackxtrabackup,
        (Tool::Mysqldump, false) => Task::Reseedmysqldump,
        (Tool::Mysqldump, true) => Task::Flashbackmysqldump,
        _ => return None,
    })
}

impl Shared {
    /// Starts a reseed (or flashback) of `request.servers` of `cluster`: one manager job per
    /// joiner, returned at once; the payload is read once for all of them.
    pub async fn start_reseed(
        self: &Arc<Self>,
        cluster: &str,
        request: ReseedRequest,
        trigger: &str,
    ) -> Result<Vec<u64>> {
        Ok(self.start_reseed_noted(cluster, request, trigger).await?.0)
    }

    /// [`Shared::start_reseed`], also returning what the DBA should know about the backup
    /// chosen (never verified, restored despite a failed verification).
    pub async fn start_reseed_noted(
        self: &Arc<Self>,
        cluster: &str,
        request: ReseedRequest,
        trigger: &str,
    ) -> Result<(Vec<u64>, Vec<String>)> {
        let c = self.cluster(cluster)?;
        if request.servers.is_empty() {
            return Err(Error::Refused(
                "no server to reseed: name at least one".to_owned(),
            ));
        }
        let mut joiners = Vec::new();
        for name in &request.servers {
            let s = Self::server(c, name)?;
            if joiners.iter().any(|j: &&ServerConfig| j.name == s.name) {
                return Err(Error::Refused(format!("server `{name}` is named twice")));
            }
            joiners.push(s);
        }
        let flashback = request.method == Method::Flashback;
        let manifest = match request.method {
            Method::Logicalmaster => {
                if let Some(id) = &request.backup {
                    return Err(Error::Refused(format!(
                        "`logicalmaster` dumps the primary now and takes no backup (got {id}); \
                         use `logicalbackup` or `physicalbackup` with --backup"
                    )));
                }
                None
            }
            _ => Some(self.reseed_backup(c, &request).await?),
        };
        let (manifest, notes) = match manifest {
            Some((m, note)) => (Some(m), note.into_iter().collect::<Vec<_>>()),
            None => (None, Vec::new()),
        };
        for note in &notes {
            tracing::warn!(cluster = %c.name, "reseed: {note}");
        }
        let (task, gtid) = match &manifest {
            Some(m) => {
                let gtid = m.gtid.clone().filter(|g| !g.is_empty()).ok_or_else(|| {
                    Error::Refused(format!(
                        "backup {} records no GTID position, so a replica restored from it \
                         could not resume replication; use another backup",
                        m.id
                    ))
                })?;
                let task = joiner_task(m.tool, flashback).ok_or_else(|| {
                    Error::Refused(format!(
                        "backup {} was made by {}, whose output a joiner cannot restore yet; \
                         use a physical (mariabackup) or a mysqldump backup",
                        m.id,
                        m.tool.as_str()
                    ))
                })?;
                (task, Some(gtid))
            }
            // The dump's GTID is read by the joiner from the dump itself.
            None => (Task::Reseedmysqldump, None),
        };

        // The primary, read live: the safety rail must not trust a cache.
        let views = topology::read_cluster(c).await;
        let primary = primary(c, &views)?;
        if let Some(j) = joiners.iter().find(|j| j.name == primary.name) {
            return Err(Error::Refused(format!(
                "`{}` is the primary of cluster `{}`: refusing to {} it (a primary is never \
                 overwritten; switch over first if it must be rebuilt)",
                j.name,
                c.name,
                if flashback { "flash back" } else { "reseed" }
            )));
        }
        let keys: Vec<String> = joiners
            .iter()
            .map(|j| format!("{}/{}", c.name, j.name))
            .collect();
        self.reseeding.take_all(&keys).map_err(|k| {
            Error::Refused(format!(
                "{k} is already being reseeded; wait for that job to end (`ferryman jobs list`)"
            ))
        })?;

        let params = ReseedParams {
            method: request.method.as_str().to_owned(),
            backup_id: manifest.as_ref().map(|m| m.id.to_string()),
            gtid,
            primary_host: primary.host.clone(),
            primary_port: primary.port,
            payload_bytes: manifest.as_ref().map(|m| m.raw_bytes),
            target: None,
            issued_at: None,
            seal: None,
        };
        let mut jobs = Vec::new();
        for j in &joiners {
            let job = self.registry.create(&c.name, &j.name, task, trigger);
            if let Some(m) = &manifest {
                let (id, size) = (m.id.to_string(), m.raw_bytes);
                job.update(|r| {
                    r.backup_id = Some(id);
                    r.bytes_total = Some(size);
                });
            }
            jobs.push(((*j).clone(), job));
        }
        let ids: Vec<u64> = jobs.iter().map(|(_, j)| j.id()).collect();
        let source = match manifest {
            Some(m) => Origin::Stored(Box::new(m)),
            None => {
                let names: Vec<&str> = joiners.iter().map(|j| j.name.as_str()).collect();
                let donor = self.registry.create(
                    &c.name,
                    &primary.name,
                    Task::Mysqldump,
                    &format!("{trigger} (logicalmaster of {})", names.join(", ")),
                );
                Origin::Primary {
                    server: Box::new(primary.clone()),
                    job: donor,
                }
            }
        };
        let shared = Arc::clone(self);
        let cluster = c.clone();
        self.spawn(async move {
            run(&shared, &cluster, task, &params, source, &jobs).await;
            for (server, _) in &jobs {
                shared
                    .reseeding
                    .release(&format!("{}/{}", cluster.name, server.name));
            }
        });
        Ok((ids, notes))
    }

    /// The backup a reseed restores, with a note for the DBA: the one asked for (checked to be
    /// the cluster's, and refused when its newest verification failed unless `force`), else the
    /// cluster's newest usable one of the method's kind (`reseed/choice.rs`).
    async fn reseed_backup(
        &self,
        c: &ClusterConfig,
        request: &ReseedRequest,
    ) -> Result<(Manifest, Option<String>)> {
        let (manifest, note) = match &request.backup {
            Some(id) => {
                if id.cluster() != c.name {
                    return Err(Error::Refused(format!(
                        "backup {id} belongs to cluster `{}`, not `{}`",
                        id.cluster(),
                        c.name
                    )));
                }
                let m = self.repo.get(id).await?;
                let note = choice::check_named(&m, request.force)?;
                (m, note)
            }
            None if request.method == Method::Flashback => {
                return Err(Error::Refused(
                    "a flashback needs the backup to rewind to: give its id (see `ferryman backup list`)"
                        .to_owned(),
                ))
            }
            None => {
                // Only dumps can be imported: a mydumper backup is skipped, not chosen.
                let (kind, usable): (Kind, fn(&Manifest) -> bool) = match request.method {
                    Method::Logicalbackup => (Kind::Logical, |m| m.tool == Tool::Mysqldump),
                    _ => (Kind::Physical, |_| true),
                };
                let of_kind: Vec<Manifest> = self
                    .repo
                    .list(Some(&c.name), None)
                    .await?
                    .into_iter()
                    .filter(|m| m.kind == kind && usable(m))
                    .collect();
                if of_kind.is_empty() {
                    return Err(Error::Refused(format!(
                            "cluster `{}` has no {} backup to reseed from: take one with \
                             `ferryman backup run --cluster {} --kind {}`",
                            c.name,
                            if kind == Kind::Logical {
                                "mysqldump"
                            } else {
                                "physical"
                            },
                        c.name,
                        kind.as_str()
                    )));
                }
                choice::newest_usable(&self.repo, &c.name, of_kind).await?
            }
        };
        let wanted = match request.method {
            Method::Physicalbackup => Some(Kind::Physical),
            Method::Logicalbackup => Some(Kind::Logical),
            _ => None,
        };
        if let Some(kind) = wanted.filter(|k| *k != manifest.kind) {
            return Err(Error::Refused(format!(
                "backup {} is a {} backup, and `{}` restores {} ones; use `{}`",
                manifest.id,
                manifest.kind.as_str(),
                request.method,
                kind.as_str(),
                if manifest.kind == Kind::Physical {
                    "physicalbackup"
                } else {
                    "logicalbackup"
                }
            )));
        }
        Ok((manifest, note))
    }
}

/// Where a reseed's payload comes from.
enum Origin {
    /// A stored backup, decompressed; its bytes are checked against the manifest.
    Stored(Box<Manifest>),
    /// A consistent mysqldump of the primary taken now (`logicalmaster`), through the manager
    /// and stored nowhere; `job` is the dump's own job.
    Primary {
        server: Box<ServerConfig>,
        job: JobHandle,
    },
}

/// A joiner connected and ready for the payload.
struct Joiner<'a> {
    server: &'a ServerConfig,
    job: &'a JobHandle,
    node_id: JobId,
    conn: JobsConn,
    /// To re-open `conn` after the joiner's server restarted.
    endpoint: Endpoint,
    schema: Schema,
    /// The row's token, to tell our row from the donor's restored one with the same id.
    token: Token,
    /// Until the end marker is sent.
    writer: Option<FrameWriter<TcpStream>>,
}

impl Joiner<'_> {
    /// Resets the stream, takes the row off the node's queue, fails the job.
    async fn drop_with(mut self, task: Task, e: &Error) {
        if let Some(w) = self.writer.take() {
            abort(w.into_inner());
        }
        cancel_row(&mut self.conn, self.node_id, &e.to_string()).await;
        fail(self.job, &self.server.name, task, e);
    }
}

/// The whole reseed: joiners ready, payload streamed once to all, each followed to its end.
async fn run(
    shared: &Shared,
    cluster: &ClusterConfig,
    task: Task,
    params: &ReseedParams,
    origin: Origin,
    jobs: &[(ServerConfig, JobHandle)],
) {
    let ready = futures_util::future::join_all(
        jobs.iter()
            .map(|(server, job)| prepare(shared, cluster, server, job, task, params)),
    )
    .await;
    let mut joiners: Vec<Joiner<'_>> = Vec::new();
    let mut ports = Vec::new();
    for ((server, job), r) in jobs.iter().zip(ready) {
        match r {
            Ok((joiner, port)) => {
                ports.push(port);
                joiners.push(joiner);
            }
            Err((e, port)) => {
                if let Some(p) = port {
                    ports.push(p);
                }
                fail(job, &server.name, task, &e);
            }
        }
    }
    match origin {
        Origin::Stored(manifest) => {
            if !joiners.is_empty() {
                let payload = Payload::stored(shared, *manifest).await;
                stream_and_follow(payload, task, joiners).await;
            }
        }
        Origin::Primary { server, job } => {
            dump_primary(shared, cluster, &server, &job, task, joiners).await;
        }
    }
    for p in ports {
        shared.joiner_ports.give_back(&cluster.name, p);
    }
}

/// Sends `payload` to the joiners, then follows each to its end.
async fn stream_and_follow(payload: Result<Payload>, task: Task, mut joiners: Vec<Joiner<'_>>) {
    let sent = match payload {
        Ok(payload) => send(payload, task, &mut joiners).await,
        Err(e) => Err(e),
    };
    if let Err(e) = sent {
        for j in joiners.drain(..) {
            j.drop_with(task, &e).await;
        }
    }
    let follow = joiners.into_iter().map(|j| follow(j, task));
    futures_util::future::join_all(follow).await;
}

/// `logicalmaster`: once the joiners listen, a mysqldump job on the primary streams to the
/// manager, which passes it on to every joiner as it comes. The dump's own job (`donor`)
/// ends with the stream: succeeded when the primary's agent reported success and every byte
/// was passed on.
async fn dump_primary(
    shared: &Shared,
    cluster: &ClusterConfig,
    primary: &ServerConfig,
    donor: &JobHandle,
    task: Task,
    joiners: Vec<Joiner<'_>>,
) {
    if joiners.is_empty() {
        donor.finish(
            JobState::Cancelled,
            Some("no joiner was ready, so the primary was not dumped".to_owned()),
        );
        return;
    }
    if primary.legacy_donor {
        let e = Error::Refused(format!(
            "the primary `{}` is a legacy donor, whose script cannot dump it; use \
             `logicalbackup` or `physicalbackup`",
            primary.name
        ));
        donor.finish(JobState::Failed, Some(e.to_string()));
        stream_and_follow(Err(e), task, joiners).await;
        return;
    }
    let gate = match crate::dispatch::open_stream(shared, donor, cluster, primary, Task::Mysqldump)
        .await
    {
        Ok(gate) => gate,
        Err(e) => {
            let e = Error::Reseed {
                server: primary.name.clone(),
                detail: format!(
                    "the dump of the primary did not start ({e}); nothing was restored: check \
                     the agent on `{}`, or use `logicalbackup`",
                    primary.name
                ),
            };
            donor.finish(JobState::Failed, Some(e.to_string()));
            stream_and_follow(Err(e), task, joiners).await;
            return;
        }
    };
    let (reader, verdict) = gate.open(donor.clone());
    let payload = Payload::live(&primary.name, reader);
    let streamed = stream_and_follow_donor(payload, task, joiners, donor).await;
    let row = verdict.await.ok().and_then(|v| v.ok());
    if let Some(row) = &row {
        let result = row.result.clone();
        donor.update(|r| r.node_result = result);
    }
    match streamed {
        Ok(()) => donor.finish(JobState::Succeeded, None),
        Err(why) => donor.finish(JobState::Failed, Some(why)),
    }
}

/// [`stream_and_follow`] for a live dump: the donor's job learns whether its stream was
/// passed on whole (before the joiners are followed, which takes minutes).
async fn stream_and_follow_donor(
    payload: Payload,
    task: Task,
    mut joiners: Vec<Joiner<'_>>,
    donor: &JobHandle,
) -> std::result::Result<(), String> {
    let sent = send(payload, task, &mut joiners).await;
    let outcome = match &sent {
        Ok(()) if joiners.is_empty() => {
            Err("every joiner failed, so the dump was abandoned".to_owned())
        }
        Ok(()) => Ok(()),
        Err(e) => Err(e.to_string()),
    };
    match &outcome {
        Ok(()) => donor.phase("dump passed on to every joiner"),
        Err(why) => donor.phase(why.clone()),
    }
    if let Err(e) = sent {
        for j in joiners.drain(..) {
            j.drop_with(task, &e).await;
        }
    }
    let follow = joiners.into_iter().map(|j| follow(j, task));
    futures_util::future::join_all(follow).await;
    outcome
}

fn fail(job: &JobHandle, server: &str, task: Task, e: &Error) {
    let state = if matches!(e, Error::Cancelled) {
        JobState::Cancelled
    } else {
        JobState::Failed
    };
    tracing::warn!(job_id = job.id(), %server, %task, error = %e, "reseed job failed");
    job.finish(state, Some(e.to_string()));
}

/// Resets the connection: the joiner must see an error, never a clean end.
fn abort(stream: TcpStream) {
    // Deprecated because a non-zero linger blocks the dropping thread; zero does not block.
    #[allow(deprecated)]
    let linger = stream.set_linger(Some(Duration::ZERO));
    if let Err(e) = linger {
        tracing::debug!(error = %e, "cannot set SO_LINGER before aborting a reseed stream");
    }
    drop(stream);
}

/// Writes the joiner's row, waits for its agent to listen, connects and sends the header.
/// Errors carry the port taken, to give back.
async fn prepare<'a>(
    shared: &Shared,
    cluster: &ClusterConfig,
    server: &'a ServerConfig,
    job: &'a JobHandle,
    task: Task,
    params: &ReseedParams,
) -> std::result::Result<(Joiner<'a>, u16), (Error, Option<u16>)> {
    let Some(port) = shared.joiner_ports.take(cluster) else {
        return Err((
            Error::Refused(format!(
                "every port of cluster `{}`'s scheduler-db-servers-receiver-ports ({}) is used by \
                 a running reseed; wait for it, or list more ports",
                cluster.name,
                cluster
                    .receiver_ports
                    .iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            )),
            None,
        ));
    };
    connect_joiner(shared, cluster, server, job, task, params, port)
        .await
        .map(|j| (j, port))
        .map_err(|e| (e, Some(port)))
}

async fn connect_joiner<'a>(
    shared: &Shared,
    cluster: &ClusterConfig,
    server: &'a ServerConfig,
    job: &'a JobHandle,
    task: Task,
    params: &ReseedParams,
    port: u16,
) -> Result<Joiner<'a>> {
    let manager = &shared.config.manager;
    let endpoint = Endpoint::from_config(server, &cluster.db_servers_credential);
    let schema = Schema::new(&shared.config.jobs.schema)?;
    let mut conn = JobsConn::open(&endpoint, &schema).await?;
    conn.ensure().await?;
    let token = Token::generate()?;
    // Sealed for this joiner: its agent restores nothing from a row the manager did not write.
    let mut params = params.clone();
    params.target = Some(server.name.clone());
    params.issued_at = Some(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default(),
    );
    params.seal = Some(shared.row_key.seal(task, port, token.expose(), &params));
    let params_json = serde_json::to_value(&params).map_err(|e| Error::Reseed {
        server: server.name.clone(),
        detail: format!("cannot encode the job's parameters: {e}"),
    })?;
    let node_id = conn
        .enqueue(
            task,
            &manager.monitoring_address,
            Some(port),
            Some(&token),
            Some(&params_json),
        )
        .await?;
    job.update(|r| {
        r.node_job_id = Some(node_id.0);
        r.state = JobState::Waiting;
        r.phase = format!(
            "waiting for the agent on {} to take job {node_id}",
            server.name
        );
    });
    tracing::info!(cluster = %cluster.name, server = %server.name, %task, node_job_id = node_id.0, port, "reseed job enqueued");
    let watch = Watch {
        server: &server.name,
        task,
        node_id,
        legacy: false,
        claim_timeout: manager.job_claim_timeout,
        accept_timeout: manager.stream_accept_timeout,
        started: Instant::now(),
    };
    let address = format!("{}:{port}", server.host);
    let stream = loop {
        tokio::select! {
            _ = job.cancelled().cancelled() => {
                cancel_row(&mut conn, node_id, "cancelled by request").await;
                return Err(Error::Cancelled);
            }
            _ = tokio::time::sleep(POLL) => {}
        }
        let row = conn.get(node_id).await?;
        if let Some(p) = &row.progress {
            job.phase(p.clone());
        }
        watch.check_waiting(&mut conn).await?;
        // Claimed: the agent listens once it has checked the server (phase "Waiting backup.").
        if !matches!(row.status(), JobStatus::Running { .. }) {
            continue;
        }
        match tokio::time::timeout(CONNECT_ATTEMPT, TcpStream::connect(&address)).await {
            Ok(Ok(stream)) => break stream,
            Ok(Err(e)) => tracing::debug!(%address, error = %e, "joiner not listening yet"),
            Err(_) => tracing::debug!(%address, "joiner connection attempt timed out"),
        }
    };
    let mut stream = stream;
    let _ = stream.set_nodelay(true);
    let header = StreamHeader::new(StreamKind::Reseed, node_id.0, token.stream_token()?);
    ferryman_proto::write_header(&mut stream, &header)
        .await
        .map_err(|e| Error::Reseed {
            server: server.name.clone(),
            detail: format!("cannot send the stream header to {address}: {e}"),
        })?;
    job.update(|r| {
        r.state = JobState::Receiving;
        r.phase = format!("streaming to {address}");
    });
    Ok(Joiner {
        server,
        job,
        node_id,
        conn,
        endpoint,
        schema,
        token,
        writer: Some(FrameWriter::unhashed(stream)),
    })
}

/// A payload on its way to the joiners: chunks from a producer task, and what it must match.
struct Payload {
    chunks: mpsc::Receiver<std::io::Result<Bytes>>,
    producer: tokio::task::JoinHandle<()>,
    /// Its length, when known (progress).
    expected: Option<u64>,
    /// What it is, and what it is checked against before the end marker goes out.
    check: Check,
}

enum Check {
    /// A stored backup: length and sha256 must equal the manifest's.
    Manifest(Box<Manifest>),
    /// A live dump of `primary`: the gate ends it only when the primary's agent reported
    /// success (its tool exited 0 and the dump ended with its footer).
    Dump { primary: String },
}

impl Payload {
    /// The stored backup, decompressed on a thread of its own.
    async fn stored(shared: &Shared, manifest: Manifest) -> Result<Payload> {
        let mut reader = shared.repo.payload_reader(&manifest.id).await?;
        let (tx, chunks) = mpsc::channel::<std::io::Result<Bytes>>(CHUNKS);
        let producer = tokio::task::spawn_blocking(move || loop {
            let mut buf = vec![0u8; CHUNK];
            let n = match read_full(&mut *reader, &mut buf) {
                Ok(n) => n,
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            };
            if n == 0 {
                return;
            }
            buf.truncate(n);
            if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                return;
            }
        });
        Ok(Payload {
            chunks,
            producer,
            expected: Some(manifest.raw_bytes),
            check: Check::Manifest(Box::new(manifest)),
        })
    }

    /// A dump arriving from the primary's agent through the gate.
    fn live<R>(primary: &str, mut reader: R) -> Payload
    where
        R: tokio::io::AsyncRead + Unpin + Send + 'static,
    {
        let (tx, chunks) = mpsc::channel::<std::io::Result<Bytes>>(CHUNKS);
        let producer = tokio::spawn(async move {
            loop {
                let mut buf = vec![0u8; CHUNK];
                let n = match reader.read(&mut buf).await {
                    Ok(n) => n,
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                };
                if n == 0 {
                    return;
                }
                buf.truncate(n);
                if tx.send(Ok(Bytes::from(buf))).await.is_err() {
                    return;
                }
            }
        });
        Payload {
            chunks,
            producer,
            expected: None,
            check: Check::Dump {
                primary: primary.to_owned(),
            },
        }
    }
}

impl Check {
    /// The error of a payload that could not be read to its end.
    fn unreadable(&self, e: std::io::Error) -> Error {
        match self {
            Check::Manifest(m) => Error::Refused(format!(
                "cannot read backup {}: {e}; its payload is damaged or unreadable: nothing was \
                 restored; pick another backup with --backup",
                m.id
            )),
            Check::Dump { primary } => Error::Reseed {
                server: primary.clone(),
                detail: format!(
                    "the dump of the primary failed: {e}; nothing was restored: see the \
                     primary's job in `ferryman jobs list`, or use `logicalbackup`"
                ),
            },
        }
    }

    /// The sha256 the end marker vouches for, once the whole payload was read: a stored
    /// backup's is its manifest's (the joiner checks what it received against it, so the
    /// manager need not hash the payload), a dump's is the one computed while passing it on.
    fn trailer_digest(&self, total: u64, sha: Option<Sha256>) -> Result<[u8; 32]> {
        match self {
            Check::Manifest(m) => {
                if total != m.raw_bytes {
                    return Err(Error::Refused(format!(
                        "backup {} does not verify: its payload is {total} bytes, the manifest \
                         says {}; nothing was restored; pick another backup with --backup",
                        m.id, m.raw_bytes
                    )));
                }
                let mut digest = [0u8; 32];
                hex::decode_to_slice(&m.raw_sha256, &mut digest).map_err(|e| {
                    Error::Refused(format!(
                        "backup {}'s manifest holds no valid sha256 (`{}`: {e}); nothing was \
                         restored; pick another backup with --backup",
                        m.id, m.raw_sha256
                    ))
                })?;
                Ok(digest)
            }
            Check::Dump { .. } => Ok(sha.unwrap_or_default().finalize().into()),
        }
    }
}

/// Streams the payload to every joiner; sends the end marker only when the payload is whole
/// and vouched for ([`Check`]). A joiner whose connection fails (or whose job is cancelled)
/// is dropped and failed; the others go on. An error concerns every joiner left.
async fn send(payload: Payload, task: Task, joiners: &mut Vec<Joiner<'_>>) -> Result<()> {
    let Payload {
        mut chunks,
        producer,
        expected,
        check,
    } = payload;
    // One hash for every joiner, and only when no manifest gives the payload's sha256.
    let mut sha = matches!(check, Check::Dump { .. }).then(Sha256::new);
    let mut total = 0u64;
    let started = Instant::now();
    while let Some(chunk) = chunks.recv().await {
        let chunk = chunk.map_err(|e| check.unreadable(e))?;
        if let Some(sha) = sha.as_mut() {
            sha.update(&chunk);
        }
        total += chunk.len() as u64;
        let mut i = 0;
        while i < joiners.len() {
            match write_chunk(&mut joiners[i], &chunk).await {
                Ok(()) => {
                    let j = &joiners[i];
                    let sent = j.writer.as_ref().map_or(0, FrameWriter::total);
                    let rate = sent as f64 / started.elapsed().as_secs_f64().max(0.001);
                    j.job.update(|r| {
                        r.bytes = sent;
                        r.phase = match expected {
                            Some(all) => format!(
                                "streaming {} of {} MiB ({:.0} MiB/s)",
                                sent >> 20,
                                all >> 20,
                                rate / 1_048_576.0
                            ),
                            None => format!(
                                "streaming the primary's dump: {} MiB ({:.0} MiB/s)",
                                sent >> 20,
                                rate / 1_048_576.0
                            ),
                        };
                    });
                    i += 1;
                }
                Err(e) => {
                    let mut j = joiners.remove(i);
                    let reason = node_reason(&mut j, task, e).await;
                    j.drop_with(task, &reason).await;
                }
            }
        }
        if joiners.is_empty() {
            break;
        }
    }
    drop(chunks);
    let _ = producer.await;
    if joiners.is_empty() {
        return Ok(());
    }
    let digest = check.trailer_digest(total, sha)?;
    let mut i = 0;
    while i < joiners.len() {
        let j = &mut joiners[i];
        let ended = match j.writer.take() {
            Some(w) => match w.finish_with(digest).await {
                Ok(mut stream) => {
                    // Half-close: everything is sent; the joiner restores from here.
                    let _ = stream.shutdown().await;
                    Ok(())
                }
                Err(e) => Err(Error::Reseed {
                    server: j.server.name.clone(),
                    detail: format!("cannot send the end of the stream: {e}"),
                }),
            },
            None => Ok(()),
        };
        match ended {
            Ok(()) => {
                j.job.phase("payload sent; the joiner restores it");
                i += 1;
            }
            Err(e) => joiners.remove(i).drop_with(task, &e).await,
        }
    }
    Ok(())
}

/// How long a joiner whose connection broke has to record why (it resets the connection
/// first, then cleans up and writes its result).
const NODE_REASON_WAIT: Duration = Duration::from_secs(15);

/// The reason a joiner's stream broke: the node's own words when it records them soon (its
/// extractor refused the data, its disk is full), else `e`.
async fn node_reason(j: &mut Joiner<'_>, task: Task, e: Error) -> Error {
    if matches!(e, Error::Cancelled) {
        return e;
    }
    let started = Instant::now();
    while started.elapsed() < NODE_REASON_WAIT {
        match j.conn.get(j.node_id).await {
            Ok(row) if row.done => {
                return Error::NodeFailed {
                    server: j.server.name.clone(),
                    node_job_id: j.node_id.0,
                    task,
                    result: row.result.unwrap_or_default(),
                }
            }
            Ok(_) => tokio::time::sleep(POLL).await,
            Err(_) => break,
        }
    }
    e
}

/// Writes one chunk to a joiner, unless its job is cancelled first.
async fn write_chunk(j: &mut Joiner<'_>, chunk: &[u8]) -> Result<()> {
    let Some(w) = j.writer.as_mut() else {
        return Ok(());
    };
    tokio::select! {
        r = w.write(chunk) => r.map_err(|e| Error::Reseed {
            server: j.server.name.clone(),
            detail: format!(
                "the stream to the joiner broke after {} bytes: {e}; see the job's node result \
                 and the agent's log",
                w.total()
            ),
        }),
        _ = j.job.cancelled().cancelled() => Err(Error::Cancelled),
    }
}

/// Follows a joiner that has its payload until its row is done.
///
/// The joiner's server stops and starts during the swap, and for a moment holds the donor's
/// jobs table (restored with the backup) until its agent puts this server's rows back. So a
/// lost connection is re-opened, a row that is missing or carries another token is "not back
/// yet", and only a long silence fails the job; the agent itself puts the old data back if the
/// restore fails, and records that.
async fn follow(j: Joiner<'_>, task: Task) {
    let Joiner {
        server,
        job,
        node_id,
        conn,
        endpoint,
        schema,
        token,
        ..
    } = j;
    let followed = Followed {
        server,
        job,
        node_id,
        endpoint,
        schema,
        token,
    };
    let res = follow_row(&followed, conn, task).await;
    let j = followed;
    let res = res.and_then(|row| {
        let result = row.result.clone();
        j.job.update(|r| r.node_result = result);
        match row.status() {
            JobStatus::Done(Outcome::Success) => Ok(()),
            _ => Err(Error::NodeFailed {
                server: j.server.name.clone(),
                node_job_id: j.node_id.0,
                task,
                result: row.result.unwrap_or_default(),
            }),
        }
    });
    match res {
        Ok(()) => {
            tracing::info!(job_id = j.job.id(), server = %j.server.name, %task, "reseed succeeded");
            j.job.finish(JobState::Succeeded, None);
        }
        Err(e) => fail(j.job, &j.server.name, task, &e),
    }
}

/// How long the joiner's row may stay unreadable (its server stopped, restarting) before the
/// manager gives up following it: a server's shutdown and start may take that long.
const JOINER_SILENCE: Duration = Duration::from_secs(30 * 60);

/// How long the joiner may show no sign of life while its server answers: the row gone (the
/// donor's table, rows never put back) or its heartbeat unchanged. The agent puts its rows
/// back right after the start and refreshes the heartbeat every 3 s, so this much silence
/// means it died mid-swap.
const JOINER_QUIET: Duration = Duration::from_secs(30);

/// What following a joiner's row needs.
struct Followed<'a> {
    server: &'a ServerConfig,
    job: &'a JobHandle,
    node_id: JobId,
    endpoint: Endpoint,
    schema: Schema,
    token: Token,
}

async fn follow_row(j: &Followed<'_>, conn: JobsConn, task: Task) -> Result<ferryman_jobs::Job> {
    let mut conn = Some(conn);
    let mut last_seen = Instant::now();
    // The last sign of life: the heartbeat changed, or the server was down (restarting).
    let mut alive_at = Instant::now();
    let mut heartbeat: Option<String> = None;
    loop {
        tokio::select! {
            _ = j.job.cancelled().cancelled() => {
                if let Some(c) = conn.as_mut() {
                    cancel_row(c, j.node_id, "cancelled by request").await;
                }
                return Err(Error::Cancelled);
            }
            _ = tokio::time::sleep(POLL) => {}
        }
        if conn.is_none() {
            conn = JobsConn::open(&j.endpoint, &j.schema).await.ok();
        }
        let row = match conn.as_mut() {
            Some(c) => c.get(j.node_id).await.map_err(|e| e.to_string()),
            None => Err("cannot connect".to_owned()),
        };
        let ours = match row {
            Ok(row) if row.token.as_ref().map(|t| t.expose()) == Some(j.token.expose()) => {
                last_seen = Instant::now();
                if row.done {
                    return Ok(row);
                }
                if let Some(p) = &row.progress {
                    j.job.phase(p.clone());
                }
                if row.heartbeat != heartbeat {
                    heartbeat = row.heartbeat.clone();
                    alive_at = Instant::now();
                }
                true
            }
            // The donor's table, restored with the backup, until the agent puts ours back.
            Ok(_) => false,
            Err(e) => {
                tracing::debug!(server = %j.server.name, error = %e, "joiner's row not readable (restarting?)");
                conn = None;
                alive_at = Instant::now();
                j.job
                    .phase("the joiner's server restarts on the restored data");
                continue_silence(j, task, last_seen)?;
                continue;
            }
        };
        if alive_at.elapsed() > JOINER_QUIET {
            let quiet = alive_at.elapsed().as_secs();
            let detail = if ours {
                format!("its heartbeat has not changed for {quiet} s: the agent died or hangs")
            } else {
                format!(
                    "its server answers, but its jobs row has been missing for {quiet} s (the \
                     restored data holds the donor's rows) and nobody reports: the agent died \
                     during the datadir swap"
                )
            };
            return Err(Error::AgentSilent {
                server: j.server.name.clone(),
                node_job_id: j.node_id.0,
                task,
                detail: format!(
                    "{detail}; restart `ferryman agent --server {server}`: before anything else \
                     it finishes or undoes the swap it finds in its work directory (`swaps/`) \
                     and records which in the node's row",
                    server = j.server.name
                ),
            });
        }
    }
}

/// Fails when the joiner's row has been out of reach for [`JOINER_SILENCE`].
fn continue_silence(j: &Followed<'_>, task: Task, last_seen: Instant) -> Result<()> {
    if last_seen.elapsed() > JOINER_SILENCE {
        return Err(Error::AgentSilent {
            server: j.server.name.clone(),
            node_job_id: j.node_id.0,
            task,
            detail: format!(
                "its jobs row could not be read for {} min; the agent puts the old data back \
                 itself if the restore failed: check the server and the agent's log",
                JOINER_SILENCE.as_secs() / 60
            ),
        });
    }
    Ok(())
}

/// Reads until `buf` is full or the end.
fn read_full(reader: &mut dyn std::io::Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
