//! The binlog archiver (point-in-time recovery): for each cluster with `binlog-archive = true`,
//! the manager follows the primary the monitor sees, like a replica, keeps what it receives in
//! a spool on its own disk (durable at least every `binlog-archive-flush`), and stores whole
//! segments in every repository of the cluster's `backup-repositories`.
//!
//! Why the replication protocol through the driver rather than `mariadb-binlog
//! --read-from-remote-server --raw --stop-never`: the archiver must know, event by event, where
//! each transaction ends (a segment and a resumed follow start at a whole group, never inside
//! one), must make its own durability points (`fdatasync` every flush, not when a tool's
//! buffers happen to drain), must resume from a GTID position after a failover on another
//! server (the tool resumes from a file name and offset, which mean nothing on a new primary),
//! and must see the server's refusal (a purged binlog) as a typed error. All of that is in
//! process; no password is handed to a child process.
//!
//! # Sequence
//! 1. `run`: one loop per cluster, one session at a time. A failed session is reported
//!    (logged each time, an [`EventKind::ArchiveFailed`] event once until a session follows
//!    again) and tried again after a backoff (1 s, doubling to 30 s).
//! 2. `session.rs`: the primary from the monitor's view; the spool opened (an unfinished
//!    group dropped: the server sends it again whole); a spool holding another server's
//!    binlog stored and restarted (a failover); the dump followed from the spool's position,
//!    each event appended, synced every flush, cut into a segment by size or age. A session
//!    ends when the monitor sees another primary, the server is silent, or on shutdown
//!    (synced first).
//! 3. `start.rs`: where a new spool starts (the archive's last position, else the newest
//!    backup's GTID, else the primary's binlog position now), and where the archive goes on
//!    after the primary purged what it had not archived yet (a gap, reported).
//! 4. `store.rs`: a segment stored in the first repository (required before the spool is
//!    cut), then in the others; a copy that failed is made later from the first.
//!
//! # Safety
//! - The spool is cut only after its segment is stored in the first repository; a crash in
//!   between stores the same bytes again, found stored (a segment's name is their hash).
//! - The follower resumes after the last whole group durable in the spool: a restart neither
//!   skips nor repeats a transaction, and a change of primary continues at the same GTID.
//! - Everything stored was checked twice, event by event (CRC32, lengths): on append and by
//!   the repository before it stores.

mod session;
mod start;
mod store;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use ferryman_config::{ClusterConfig, Config};
use ferryman_repo::Timestamp;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::events::{EventKind, NewEvent, Severity};
use crate::Services;

/// The spool's name in its cluster's directory.
const SPOOL: &str = "spool";
/// The first wait after a failed session; doubled after each failure.
const BACKOFF_MIN: Duration = Duration::from_secs(1);
/// The longest wait between two sessions.
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// What one cluster's archiver is doing, for `pitr status` and the API.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct ArchiveStatus {
    /// The cluster.
    pub cluster: String,
    /// The server followed (the primary), or last followed.
    pub source: Option<String>,
    /// True while a session follows the primary.
    pub following: bool,
    /// The GTID position durable in the spool: the archive holds everything up to it.
    pub position: String,
    /// When the spool was last made durable.
    pub durable_at: Option<Timestamp>,
    /// The time of the last event durable in the spool (the primary's clock).
    pub last_event_at: Option<Timestamp>,
    /// Segments stored since the manager started.
    pub segments_stored: u64,
    /// The newest segment stored.
    pub last_segment: Option<String>,
    /// Why the archiver does not follow, while it does not.
    pub error: Option<String>,
    /// True when a segment is missing from a repository other than the first (copied after
    /// the next segment).
    pub copies_pending: bool,
}

/// Every cluster's archiver status.
#[derive(Debug, Default)]
pub struct Archives {
    inner: RwLock<BTreeMap<String, ArchiveStatus>>,
}

impl Archives {
    /// The status of `cluster`'s archiver, when it runs.
    pub fn get(&self, cluster: &str) -> Option<ArchiveStatus> {
        self.inner.read().ok()?.get(cluster).cloned()
    }

    /// Every running archiver's status.
    pub fn all(&self) -> Vec<ArchiveStatus> {
        self.inner
            .read()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    fn update(&self, cluster: &str, change: impl FnOnce(&mut ArchiveStatus)) {
        if let Ok(mut map) = self.inner.write() {
            let status = map
                .entry(cluster.to_owned())
                .or_insert_with(|| ArchiveStatus {
                    cluster: cluster.to_owned(),
                    ..ArchiveStatus::default()
                });
            change(status);
        }
    }
}

/// The clusters whose binlog is archived.
pub(crate) fn clusters(config: &Config) -> impl Iterator<Item = &ClusterConfig> {
    config.clusters.iter().filter(|c| c.binlog_archive.enabled)
}

/// `<monitoring-datadir>/BinlogSpool/<cluster>`: the cluster's spool.
fn spool_dir(config: &Config, cluster: &str) -> PathBuf {
    config
        .manager
        .monitoring_datadir
        .join(ferryman_repo::layout::BINLOG_SPOOL)
        .join(cluster)
}

/// How often the archiver looks whether the monitor has read its cluster yet, at start.
const FIRST_LOOK: Duration = Duration::from_millis(50);

/// Archives `cluster`'s binlog until `cancel`.
pub(crate) async fn run(services: Arc<Services>, cluster: String, cancel: CancellationToken) {
    let mut backoff = BACKOFF_MIN;
    let mut failing = false;
    let archives = &services.archives;
    archives.update(&cluster, |_| {});
    if let Err(e) = store::copy_missing(&services, &cluster).await {
        tracing::warn!(error = %e, "cannot bring the other repositories' segments up to date; trying again after the next segment");
    }
    // The monitor's first read of the cluster, which tells the primary: not having it yet at
    // start is no failure to report.
    while services.topology.cluster(&cluster).is_none() {
        tokio::select! {
            _ = tokio::time::sleep(FIRST_LOOK) => {}
            _ = cancel.cancelled() => return,
        }
    }
    while !cancel.is_cancelled() {
        let result = session::follow(&services, &cluster, &cancel, &mut || {
            if std::mem::take(&mut failing) {
                emit(
                    &services,
                    &cluster,
                    EventKind::ArchiveResumed,
                    Severity::Info,
                    "the binlog archiver follows the primary again".to_owned(),
                );
            }
        })
        .await;
        archives.update(&cluster, |s| s.following = false);
        match result {
            Ok(()) => backoff = BACKOFF_MIN,
            Err(e) => {
                let message = e.to_string();
                tracing::warn!(error = %message, "the binlog archiver stopped following");
                archives.update(&cluster, |s| s.error = Some(message.clone()));
                if !failing {
                    failing = true;
                    emit(
                        &services,
                        &cluster,
                        EventKind::ArchiveFailed,
                        Severity::Error,
                        message,
                    );
                }
                wait(&services, &cluster, backoff, &cancel).await;
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
}

/// Waits `backoff` before the next session, less when the monitor sees a primary other than
/// the one that failed (a failover: the archive goes on from the new one at once).
async fn wait(services: &Services, cluster: &str, backoff: Duration, cancel: &CancellationToken) {
    let tried = services.archives.get(cluster).and_then(|s| s.source);
    let until = tokio::time::Instant::now() + backoff;
    while tokio::time::Instant::now() < until {
        tokio::select! {
            _ = tokio::time::sleep(BACKOFF_MIN) => {}
            _ = cancel.cancelled() => return,
        }
        let primary = services
            .topology
            .cluster(cluster)
            .and_then(|view| view.primary().map(|p| p.name.clone()));
        if primary.is_some() && primary != tried {
            return;
        }
    }
}

/// Records and publishes an archiver event of `cluster`.
fn emit(services: &Services, cluster: &str, kind: EventKind, severity: Severity, message: String) {
    services.events.emit(NewEvent {
        kind,
        severity,
        cluster: cluster.to_owned(),
        server: services.archives.get(cluster).and_then(|s| s.source),
        backup: None,
        subject: None,
        message,
    });
}

/// Why an archiver session ended in failure. Each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The monitor sees no single primary.
    #[error("no primary to archive the binlog of: {detail}; the archiver follows again once the monitor sees one")]
    NoPrimary {
        /// What the monitor sees.
        detail: String,
    },
    /// The primary cannot continue from the archive's position, and not because it purged
    /// binlogs (a new primary that lacks archived transactions, a diverged history).
    #[error("`{server}` cannot continue the archive from GTID position {position}: {reason}; the archive waits rather than record another history: make a server that has these transactions the primary (if `{server}` writes past them, its history diverged and the archive goes on with it by itself)")]
    Diverged {
        /// The primary.
        server: String,
        /// The archive's position.
        position: String,
        /// The server's reason.
        reason: String,
    },
    /// The server ended the dump or went silent.
    #[error("`{server}` {what}; following again from the last whole transaction")]
    Lost {
        /// The primary.
        server: String,
        /// What happened.
        what: String,
    },
    /// The server refused or failed.
    #[error(transparent)]
    Db(#[from] ferryman_db::Error),
    /// The spool on the manager's disk failed.
    #[error(
        "the binlog spool: {0}; check the manager's disk (space, permissions, the kernel log)"
    )]
    Spool(#[from] ferryman_binlog::Error),
    /// Storing a segment failed.
    #[error("storing a binlog segment: {0}")]
    Repo(#[from] ferryman_repo::Error),
    /// Something of the manager's own.
    #[error(transparent)]
    Manager(#[from] crate::Error),
    /// A task of the archiver failed.
    #[error("{0}; this is a bug: report it with the manager's log")]
    Worker(String),
}
