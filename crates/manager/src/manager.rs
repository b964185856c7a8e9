//! [`Manager`]: start-up, the daemon's tasks, and shutdown.

use std::net::SocketAddr;
use std::sync::Arc;

use ferryman_config::{ClusterConfig, Config, ServerConfig};
use ferryman_db::Endpoint;
use ferryman_jobs::{JobStatus, JobsConn, Schema};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::events::{EventKind, Events, NewEvent, Severity};
use crate::receiver;
use crate::registry::Registry;
use crate::repositories::Repositories;
use crate::state::{self, State};
use crate::{
    agents, archiver, copies, links, notify, prover, scheduler, thresholds, Error, Result, Services,
};

/// The manager daemon.
#[derive(Debug)]
pub struct Manager {
    services: Arc<Services>,
    stream_listener: Option<TcpListener>,
    stream_addr: SocketAddr,
    /// Every event from the start on, for the notifications (so the start's own are told).
    notify_events: Option<tokio::sync::broadcast::Receiver<crate::events::Event>>,
}

impl Manager {
    /// Prepares the manager: opens the repository (removing partial leftovers of interrupted
    /// backups, quarantining other directories without a manifest),
    /// binds the stream port, makes sure every server has the jobs table, and cancels job rows
    /// an earlier manager left waiting (nobody listens for them any more).
    pub async fn start(config: Config) -> Result<Manager> {
        let config = Arc::new(config);
        let signatures = crate::signing::load_or_create(&config.manager)?;
        let repos = Repositories::open(&config, Arc::clone(&signatures)).await?;
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
        let (state, history_note) = open_history(&config.manager.monitoring_datadir);
        let events = Arc::new(Events::new(Arc::clone(&state)));
        let notify_events = events.subscribe();
        crate::signing::tell_refusals(&signatures, Arc::clone(&events));
        let registry = Registry::open(
            &config.manager.monitoring_datadir,
            Arc::clone(&state),
            Arc::clone(&events),
        )?;
        let key_file = &config.jobs.row_key_file;
        let (row_key, created) =
            ferryman_proto::RowKey::load_or_create(key_file).map_err(Error::RowKey)?;
        if created {
            tracing::info!(file = %key_file.display(), "created the key reseed rows are sealed with: copy it (mode 0600) to every agent's host, as `jobs.row-key-file`");
        }
        let services = Arc::new(Services::new(
            Arc::clone(&config),
            repos,
            registry,
            state,
            events,
            row_key,
        )?);
        if let Some(note) = history_note {
            services.events.emit(note);
        }
        prepare_servers(&config).await;
        services.topology.refresh(&config).await;
        Ok(Manager {
            services,
            stream_listener: Some(listener),
            stream_addr,
            notify_events: Some(notify_events),
        })
    }

    /// The services, for the HTTP API.
    pub fn services(&self) -> Arc<Services> {
        Arc::clone(&self.services)
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
            background.spawn(
                receiver::serve(
                    listener,
                    self.services.streams.expectations(),
                    self.services.streams.security(),
                    shutdown.clone(),
                )
                .instrument(tracing::info_span!("receiver")),
            );
        }
        {
            let services = Arc::clone(&self.services);
            let cancel = shutdown.clone();
            background.spawn(
                async move { services.topology.run(&services.config, &cancel).await }
                    .instrument(tracing::info_span!("monitor")),
            );
        }
        background.spawn(
            agents::run(Arc::clone(&self.services), shutdown.clone())
                .instrument(tracing::info_span!("agents")),
        );
        background.spawn(
            thresholds::run(Arc::clone(&self.services), shutdown.clone())
                .instrument(tracing::info_span!("thresholds")),
        );
        for cluster in &self.services.config.clusters {
            if let Some(link) = &cluster.galera_link {
                background.spawn(
                    links::run(
                        Arc::clone(&self.services),
                        cluster.clone(),
                        link.clone(),
                        shutdown.clone(),
                    )
                    .instrument(tracing::info_span!("galera-link", cluster = %cluster.name)),
                );
            }
        }
        for cluster in self.services.copies.clusters() {
            background.spawn(
                copies::run(
                    Arc::clone(&self.services),
                    cluster.to_owned(),
                    shutdown.clone(),
                )
                .instrument(tracing::info_span!("copies", cluster = %cluster)),
            );
        }
        for cluster in archiver::clusters(&self.services.config) {
            background.spawn(
                archiver::run(
                    Arc::clone(&self.services),
                    cluster.name.clone(),
                    shutdown.clone(),
                )
                .instrument(tracing::info_span!("archiver", cluster = %cluster.name)),
            );
            background.spawn(
                prover::scheduled(
                    Arc::clone(&self.services),
                    cluster.name.clone(),
                    shutdown.clone(),
                )
                .instrument(tracing::info_span!("prover", cluster = %cluster.name)),
            );
        }
        background.spawn(scheduler::supervise(
            Arc::clone(&self.services),
            shutdown.clone(),
        ));
        if let Some(events) = self.notify_events.take() {
            background.spawn(
                notify::run(Arc::clone(&self.services), events, shutdown.clone())
                    .instrument(tracing::info_span!("notifications")),
            );
        }
        background.spawn(
            prune_history(Arc::clone(&self.services), shutdown.clone())
                .instrument(tracing::info_span!("history")),
        );
        tracing::info!(stream = %self.stream_addr, "manager started");
        shutdown.cancelled().await;
        tracing::info!("manager stopping: cancelling running jobs");
        for job in self.services.registry.list() {
            self.services.registry.cancel(job.id);
        }
        self.services.verify_runs.cancel_all();
        self.services.drain().await;
        background.close();
        background.wait().await;
        let services = Arc::clone(&self.services);
        // Everything recorded is committed before the manager says it stopped.
        let _ = tokio::task::spawn_blocking(move || services.state.close()).await;
        tracing::info!("manager stopped");
        Ok(())
    }
}

/// The history in `dir`, or none (with the error event that says how to get it back); and the
/// event for a history that was lost: [`state::BEGUN`] says a history was begun here, and
/// the file is gone. A manager of a release without a history (`next-job-id` but no marker) is
/// an upgrade: its history simply begins.
fn open_history(dir: &std::path::Path) -> (Arc<State>, Option<NewEvent>) {
    let existed = dir.join(state::FILE).exists();
    let marker = dir.join(state::BEGUN);
    let begun = marker.exists();
    if !existed && !begun && dir.join(crate::registry::IDS_FILE).exists() {
        tracing::info!(dir = %dir.display(), "the manager's history begins with this start: the manager that ran here before kept none (an older release)");
    }
    if !begun {
        let text = format!(
            "The manager's history ({}) was begun here at {}. While this file exists, a missing {} is a history lost (event history-lost), not a new installation.\n",
            state::FILE,
            ferryman_repo::Timestamp::now().rfc3339(),
            state::FILE
        );
        if let Err(e) = crate::registry::write_durably(&marker, text.as_bytes()) {
            tracing::warn!(file = %marker.display(), error = %e, "cannot write the history's marker: a history deleted later would not be told as lost");
        }
    }
    let ran_before = begun;
    let note = |severity, kind, message: String| NewEvent {
        kind,
        severity,
        cluster: String::new(),
        server: None,
        backup: None,
        subject: None,
        message,
    };
    match State::open(dir) {
        Ok(state) if !existed && ran_before => (
            Arc::new(state),
            Some(note(
                Severity::Error,
                EventKind::HistoryLost,
                format!(
                    "{}: the manager's history was missing (deleted or moved?) and a new, empty one was created: jobs, events and verification runs before this start are not listed; backups are not affected (their manifests are their catalogue)",
                    dir.join(state::FILE).display()
                ),
            )),
        ),
        Ok(state) => (Arc::new(state), None),
        Err(e) => (
            Arc::new(State::unavailable(e.to_string())),
            Some(note(
                Severity::Error,
                EventKind::HistoryUnavailable,
                e.to_string(),
            )),
        ),
    }
}

/// Forgets history older than `manager.history-retention`, at start and every hour.
async fn prune_history(services: Arc<Services>, shutdown: CancellationToken) {
    let keep = services.config.manager.history_retention;
    loop {
        services.state.prune(keep);
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(std::time::Duration::from_secs(3600)) => {}
        }
    }
}

/// Servers prepared at once at start: a fleet of a thousand servers, some of them down (each
/// waiting for its connect timeout), must not hold the manager's start for minutes.
const PREPARE_CONCURRENCY: usize = 16;

/// [`prepare_server`] for every server of the fleet, [`PREPARE_CONCURRENCY`] at once. A server
/// that cannot be prepared is logged and skipped: jobs to it fail until it answers.
async fn prepare_servers(config: &Config) {
    use futures_util::StreamExt;
    let each = config.clusters.iter().flat_map(|cluster| {
        cluster.servers.iter().map(move |server| async move {
            if let Err(e) = prepare_server(cluster, server).await {
                tracing::warn!(cluster = %cluster.name, server = %server.name, error = %e, "cannot prepare the server's jobs table; jobs to it will fail until it answers");
            }
        })
    });
    futures_util::stream::iter(each)
        .buffer_unordered(PREPARE_CONCURRENCY)
        .for_each(|()| async {})
        .await;
}

/// Creates the jobs table if needed and cancels rows a previous manager left pending.
async fn prepare_server(cluster: &ClusterConfig, server: &ServerConfig) -> Result<()> {
    let endpoint = Endpoint::from_config(server, &cluster.db_servers_credential);
    let schema = Schema::new(&cluster.jobs_schema)?;
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
