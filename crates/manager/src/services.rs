//! [`Services`]: what the manager's parts are given, each part's state owned by its module.
//!
//! The daemon's tasks, the HTTP API and the jobs share one `Arc<Services>`. Nothing here is a
//! lock or a registry of its own: the stream receiver's expectations live in `receiver.rs`,
//! the reseeds' busy servers and joiner ports in `reseed/`, one retention run at a time in
//! `retention.rs`, the verification runs in `verification.rs`. What is here is the entry to
//! each operation (a backup, a task, a reseed) and the one tracker every job is spawned on, so
//! shutdown waits for them all.

use std::future::Future;
use std::sync::Arc;

use ferryman_config::{ClusterConfig, Config, ServerConfig};
use ferryman_proto::Task;
use ferryman_repo::Repository;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::agents::Agents;
use crate::archiver::Archives;
use crate::copies::Copies;
use crate::events::Events;
use crate::links::Links;
use crate::monitor::Topology;
use crate::prover::Provers;
use crate::receiver::Streams;
use crate::registry::Registry;
use crate::reload::Live;
use crate::repositories::Repositories;
use crate::reseed::{ReseedRequest, Reseeds};
use crate::state::State;
use crate::verification::VerifyRuns;
use crate::{dispatch, reseed, Error, Result};

/// The manager's parts, as every job, the scheduler and the API see them.
#[derive(Debug)]
pub struct Services {
    /// The configuration the manager started with.
    pub config: Arc<Config>,
    /// The configuration as reloaded: the schedules and notifications follow it (`reload.rs`).
    pub live: Live,
    /// The backup repositories, and which one holds each cluster's backups.
    pub repos: Repositories,
    /// The copiers' wake-up calls (`copies.rs`).
    pub copies: Copies,
    /// The manager's jobs.
    pub registry: Registry,
    /// The latest topology.
    pub topology: Topology,
    /// The agents' heartbeats as last read (`agents.rs`).
    pub agents: Agents,
    /// The Galera links' states as last read (`links.rs`).
    pub links: Links,
    /// Events for the API and notifications.
    pub events: Arc<Events>,
    /// The history kept across restarts (`state.rs`).
    pub state: Arc<State>,
    /// Verification runs.
    pub verify_runs: VerifyRuns,
    /// The binlog archivers' status (`archiver.rs`).
    pub archives: Archives,
    /// Proofs of recoverability running (`prover.rs`).
    pub provers: Provers,
    /// Where agents' streams are expected (`receiver.rs`).
    pub(crate) streams: Streams,
    /// How many backups stream at once (`slots.rs`).
    pub backup_slots: crate::slots::BackupSlots,
    /// Reseeds running: busy joiners, joiner ports (`reseed/`).
    pub(crate) reseeds: Reseeds,
    /// The key reseed and flashback rows are sealed with (`jobs.row-key-file`).
    pub(crate) row_key: ferryman_proto::RowKey,
    /// Every job spawned, so shutdown can wait for them.
    tasks: TaskTracker,
    /// Cancelled when shutdown starts waiting for the jobs: what outlives its job (a run over
    /// SSH finishing, `onpremise.rs`) stops then.
    pub(crate) stopping: tokio_util::sync::CancellationToken,
}

impl Services {
    /// The services over an opened repository and registry.
    pub(crate) fn new(
        config: Arc<Config>,
        repos: Repositories,
        registry: Registry,
        state: Arc<State>,
        events: Arc<Events>,
        row_key: ferryman_proto::RowKey,
    ) -> Result<Services> {
        Ok(Services {
            streams: Streams::new(&config)?,
            backup_slots: crate::slots::BackupSlots::new(config.manager.backup_concurrency),
            verify_runs: VerifyRuns::new(config.verifier.concurrency, Arc::clone(&state)),
            events,
            state,
            archives: Archives::default(),
            provers: Provers::default(),
            copies: Copies::new(&config.clusters),
            live: Live::new(Arc::clone(&config)),
            config,
            repos,
            registry,
            topology: Topology::default(),
            agents: Agents::default(),
            links: Links::default(),
            reseeds: Reseeds::default(),
            row_key,
            tasks: TaskTracker::new(),
            stopping: tokio_util::sync::CancellationToken::new(),
        })
    }

    /// Runs `work` in `span` as one of the manager's jobs: shutdown waits for it.
    pub(crate) fn spawn<F>(&self, span: tracing::Span, work: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.tasks.spawn(work.instrument(span));
    }

    /// Stops taking jobs and waits for the running ones (cancelled by the caller first).
    pub(crate) async fn drain(&self) {
        self.stopping.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }

    /// How what the manager stores is compressed (`manager.backup-compression-*`).
    pub(crate) fn compression(&self) -> ferryman_repo::Compression {
        ferryman_repo::Compression {
            level: self.config.manager.backup_compression_level,
            threads: self.config.manager.backup_compression_threads,
        }
    }

    /// The repository that stores `cluster`'s backups (see `repositories.rs`).
    pub fn repo(&self, cluster: &str) -> Result<&Repository> {
        self.repos.of_cluster(cluster)
    }

    /// The configured cluster `name`, or the error that lists the known ones.
    pub(crate) fn cluster(&self, name: &str) -> Result<&ClusterConfig> {
        self.config.cluster(name).ok_or_else(|| Error::Unknown {
            what: "cluster",
            name: name.to_owned(),
            known: names(self.config.clusters.iter().map(|c| c.name.as_str())),
        })
    }

    /// Server `name` of `cluster`, or the error that lists the known ones.
    pub(crate) fn server<'c>(cluster: &'c ClusterConfig, name: &str) -> Result<&'c ServerConfig> {
        cluster
            .servers
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| Error::Unknown {
                what: "server",
                name: name.to_owned(),
                known: names(cluster.servers.iter().map(|s| s.name.as_str())),
            })
    }

    /// Starts a backup of `cluster` with `task` (a backup tool) from `server`, or from the
    /// configured/healthiest source when `None`. Returns the manager job id at once.
    pub async fn start_backup(
        self: &Arc<Self>,
        cluster: &str,
        server: Option<&str>,
        task: Task,
        trigger: &str,
    ) -> Result<u64> {
        dispatch::start_backup(self, cluster, server, task, trigger).await
    }

    /// Starts `task` on `server` of `cluster` in the background; returns the manager job id.
    pub fn start_task(
        self: &Arc<Self>,
        cluster: &str,
        server: &str,
        task: Task,
        trigger: &str,
    ) -> Result<u64> {
        dispatch::start_task(self, cluster, server, task, trigger)
    }

    /// Starts a reseed (or flashback) of `request.servers` of `cluster`: one manager job per
    /// joiner, returned at once; the payload is read once for all of them.
    pub async fn start_reseed(
        self: &Arc<Self>,
        cluster: &str,
        request: ReseedRequest,
        trigger: &str,
    ) -> Result<Vec<u64>> {
        Ok(reseed::start(self, cluster, request, trigger).await?.0)
    }

    /// [`Services::start_reseed`], also returning what the DBA should know about the backup
    /// chosen (never verified, restored despite a failed verification).
    pub async fn start_reseed_noted(
        self: &Arc<Self>,
        cluster: &str,
        request: ReseedRequest,
        trigger: &str,
    ) -> Result<(Vec<u64>, Vec<String>)> {
        reseed::start(self, cluster, request, trigger).await
    }
}

/// `a, b, c`, for errors that list what exists.
fn names<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names.collect::<Vec<_>>().join(", ")
}
