//! [`Manager`]: start-up and the daemon's tasks; [`Shared`]: the state they share.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use ferryman_config::{ClusterConfig, Config, ServerConfig};
use ferryman_db::Endpoint;
use ferryman_jobs::{JobStatus, JobsConn, Schema};
use ferryman_proto::Task;
use ferryman_repo::Repository;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::monitor::{self, Topology};
use crate::receiver::{self, Expectations, PortPool};
use crate::registry::Registry;
use crate::{dispatch, scheduler, Error, Result};

/// What every part of the manager uses.
#[derive(Debug)]
pub struct Shared {
    /// The configuration.
    pub config: Arc<Config>,
    /// Streams expected on the well-known port.
    pub expectations: Expectations,
    /// Legacy donor port pools, per cluster.
    pub pools: HashMap<String, PortPool>,
    /// The backup repository.
    pub repo: Repository,
    /// The manager's jobs.
    pub registry: Registry,
    /// The latest topology.
    pub topology: Topology,
    /// Running jobs, so shutdown can wait for them.
    tasks: TaskTracker,
    /// One retention run at a time (see `retention.rs`).
    pub(crate) prune_lock: tokio::sync::Mutex<()>,
    /// Servers being reseeded now.
    pub(crate) reseeding: crate::reseed::Busy,
    /// Joiner ports in use.
    pub(crate) joiner_ports: crate::reseed::JoinerPorts,
    /// Verification runs.
    pub verify_runs: crate::verification::VerifyRuns,
    /// Events for the API and notifications.
    pub events: crate::events::Events,
    /// The key reseed and flashback rows are sealed with (`jobs.row-key-file`).
    pub(crate) row_key: ferryman_proto::RowKey,
}

/// The manager daemon.
#[derive(Debug)]
pub struct Manager {
    shared: Arc<Shared>,
    stream_listener: Option<TcpListener>,
    stream_addr: SocketAddr,
}

impl Manager {
    /// Prepares the manager: opens the repository (removing partial leftovers of interrupted
    /// backups, quarantining other directories without a manifest),
    /// binds the stream port, makes sure every server has the jobs table, and cancels job rows
    /// an earlier manager left waiting (nobody listens for them any more).
    pub async fn start(config: Config) -> Result<Manager> {
        let config = Arc::new(config);
        let repo = Repository::open(&config.manager.monitoring_datadir)?;
        // Provably partial leftovers are removed; other backup directories without a manifest
        // are moved to the repository's Quarantine/ (the repository logs each at WARN).
        let leftovers = repo.clean_incomplete().await?;
        for key in &leftovers.removed {
            tracing::warn!(%key, "removed a partial backup or log left by an interrupted run");
        }
        // Throwaway servers of verifications a crashed manager left: stopped and removed.
        match ferryman_verify::throwaway::sweep(&config.verifier.work_dir) {
            Ok(swept) => {
                for dir in swept {
                    tracing::warn!(dir = %dir.display(), "removed a throwaway verification server left by an interrupted run");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot look for throwaway verification servers left by an interrupted run")
            }
        }
        let address = format!(
            "{}:{}",
            config.manager.stream_bind_address, config.manager.stream_port
        );
        let listener = TcpListener::bind(&address)
            .await
            .map_err(|source| Error::Listen {
                address: address.clone(),
                key: "manager.stream-port",
                source,
            })?;
        let stream_addr = listener.local_addr().map_err(|source| Error::Listen {
            address,
            key: "manager.stream-port",
            source,
        })?;
        let registry = Registry::open(&config.manager.monitoring_datadir)?;
        let key_file = &config.jobs.row_key_file;
        let (row_key, created) =
            ferryman_proto::RowKey::load_or_create(key_file).map_err(Error::RowKey)?;
        if created {
            tracing::info!(file = %key_file.display(), "created the key reseed rows are sealed with: copy it (mode 0600) to every agent's host, as `jobs.row-key-file`");
        }
        let pools = config
            .clusters
            .iter()
            .map(|c| (c.name.clone(), PortPool::new(&c.name, &c.sender_ports)))
            .collect();
        let shared = Arc::new(Shared {
            config: Arc::clone(&config),
            expectations: Expectations::default(),
            pools,
            repo,
            registry,
            topology: Topology::default(),
            tasks: TaskTracker::new(),
            prune_lock: tokio::sync::Mutex::new(()),
            reseeding: Default::default(),
            joiner_ports: Default::default(),
            verify_runs: crate::verification::VerifyRuns::new(config.verifier.concurrency),
            events: Default::default(),
            row_key,
        });
        for cluster in &config.clusters {
            for server in &cluster.servers {
                if let Err(e) = prepare_server(&config, cluster, server).await {
                    tracing::warn!(cluster = %cluster.name, server = %server.name, error = %e, "cannot prepare the server's jobs table; jobs to it will fail until it answers");
                }
            }
        }
        shared.topology.refresh(&config).await;
        Ok(Manager {
            shared,
            stream_listener: Some(listener),
            stream_addr,
        })
    }

    /// The state shared with the HTTP API.
    pub fn shared(&self) -> Arc<Shared> {
        Arc::clone(&self.shared)
    }

    /// Where the stream receiver listens.
    pub fn stream_addr(&self) -> SocketAddr {
        self.stream_addr
    }

    /// Runs the receiver, the topology monitor and the scheduler until `shutdown`; then
    /// cancels the running jobs and waits for them to clean up.
    pub async fn run(mut self, shutdown: CancellationToken) -> Result<()> {
        let background = TaskTracker::new();
        if let Some(listener) = self.stream_listener.take() {
            background.spawn(receiver::serve(
                listener,
                self.shared.expectations.clone(),
                shutdown.clone(),
            ));
        }
        {
            let shared = Arc::clone(&self.shared);
            let cancel = shutdown.clone();
            background.spawn(async move { shared.topology.run(&shared.config, &cancel).await });
        }
        for cluster in &self.shared.config.clusters {
            for (what, entry) in scheduler::entries(cluster) {
                background.spawn(scheduler::run_entry(
                    Arc::clone(&self.shared),
                    cluster.name.clone(),
                    what,
                    entry,
                    shutdown.clone(),
                ));
            }
        }
        tracing::info!(stream = %self.stream_addr, "manager started");
        shutdown.cancelled().await;
        tracing::info!("manager stopping: cancelling running jobs");
        for job in self.shared.registry.list() {
            self.shared.registry.cancel(job.id);
        }
        self.shared.verify_runs.cancel_all();
        self.shared.tasks.close();
        self.shared.tasks.wait().await;
        background.close();
        background.wait().await;
        tracing::info!("manager stopped");
        Ok(())
    }
}

/// Creates the jobs table if needed and cancels rows a previous manager left pending.
async fn prepare_server(
    config: &Config,
    cluster: &ClusterConfig,
    server: &ServerConfig,
) -> Result<()> {
    let endpoint = Endpoint::from_config(server, &cluster.db_servers_credential);
    let schema = Schema::new(&config.jobs.schema)?;
    let mut conn = JobsConn::open(&endpoint, &schema).await?;
    conn.ensure().await?;
    for job in conn.list(1000).await? {
        // Only rows with a token are ours; a pending one has no listener behind it any more.
        if job.token.is_some() && job.status() == JobStatus::Pending {
            conn.cancel(job.id, "the manager restarted before this job was taken; nobody waits for its stream: run it again").await?;
            tracing::info!(server = %server.name, node_job_id = job.id.0, "cancelled a job left by an earlier manager");
        }
    }
    conn.close().await?;
    Ok(())
}

impl Shared {
    /// Runs `work` as one of the manager's jobs (shutdown waits for it).
    pub(crate) fn spawn<F>(&self, work: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.tasks.spawn(work);
    }

    pub(crate) fn cluster(&self, name: &str) -> Result<&ClusterConfig> {
        self.config.cluster(name).ok_or_else(|| Error::Unknown {
            what: "cluster",
            name: name.to_owned(),
            known: self
                .config
                .clusters
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
    }

    pub(crate) fn server<'c>(cluster: &'c ClusterConfig, name: &str) -> Result<&'c ServerConfig> {
        cluster
            .servers
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| Error::Unknown {
                what: "server",
                name: name.to_owned(),
                known: cluster
                    .servers
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
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
        let c = self.cluster(cluster)?;
        let server = match server {
            Some(s) => Self::server(c, s)?.name.clone(),
            None => {
                let view = match self.topology.cluster(cluster) {
                    Some(v) => v,
                    None => {
                        self.topology.refresh(&self.config).await;
                        self.topology
                            .cluster(cluster)
                            .ok_or_else(|| Error::NoBackupSource {
                                cluster: cluster.to_owned(),
                                detail: "topology not read yet".to_owned(),
                            })?
                    }
                };
                monitor::backup_source(c, &view).inspect_err(|e| {
                    if matches!(e, Error::SplitTopology { .. }) {
                        self.events.emit(crate::events::NewEvent {
                            kind: crate::events::EventKind::TopologySplit,
                            severity: crate::events::Severity::Error,
                            cluster: cluster.to_owned(),
                            server: None,
                            backup: None,
                            message: e.to_string(),
                        });
                    }
                })?
            }
        };
        self.start_task(cluster, &server, task, trigger)
    }

    /// Starts `task` on `server` of `cluster` in the background; returns the manager job id.
    pub fn start_task(
        self: &Arc<Self>,
        cluster: &str,
        server: &str,
        task: Task,
        trigger: &str,
    ) -> Result<u64> {
        let c = self.cluster(cluster)?;
        Self::server(c, server)?;
        let job = self.registry.create(cluster, server, task, trigger);
        let id = job.id();
        let shared = Arc::clone(self);
        let cluster = cluster.to_owned();
        let server = server.to_owned();
        self.tasks.spawn(async move {
            let Ok(c) = shared.cluster(&cluster) else {
                return;
            };
            let Ok(s) = Self::server(c, &server) else {
                return;
            };
            match dispatch::run(&shared, &job, c, s, task).await {
                Ok(_) => tracing::info!(job_id = id, %cluster, %server, %task, "job succeeded"),
                Err(e) => {
                    tracing::warn!(job_id = id, %cluster, %server, %task, error = %e, "job failed")
                }
            }
        });
        Ok(id)
    }
}
