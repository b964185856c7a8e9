//! Events: what a DBA must hear about (a verification that failed, one that passed), kept for
//! the API (`GET /api/v1/events`) and published to subscribers (the notification work will
//! send them by mail and webhook).
//!
//! The newest 1000 are listed from memory; every event is also recorded in the history
//! (`state.rs`), whose newest events a restarted manager lists first and whose ids it
//! continues, and logged.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use ferryman_repo::Timestamp;
use serde::Serialize;
use tokio::sync::broadcast;

use crate::registry::{JobRecord, JobState};
use crate::state::State;

/// How many events are remembered.
const KEEP: usize = 1000;
/// How many events a slow subscriber may fall behind before it misses some.
const CHANNEL: usize = 256;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// A backup job failed (not one cancelled by a user).
    BackupFailed,
    /// A backup job stored a backup (notified only to routes that ask for `info`).
    BackupSucceeded,
    /// No good backup of a kind arrived within its schedule and `backup-missing-grace`: the
    /// alarm for a scheduler that silently stopped.
    BackupMissing,
    /// A reseed or flashback of a server failed (its old data is in place, see the job).
    ReseedFailed,
    /// A reseed or flashback of a server succeeded.
    ReseedSucceeded,
    /// An agent stopped taking its server's jobs (its heartbeat is stale).
    AgentSilent,
    /// A silent agent takes jobs again.
    AgentBack,
    /// A backup failed its verification.
    VerificationFailed,
    /// A backup passed its verification.
    VerificationPassed,
    /// More than one server of a cluster replicates from no one: no backup is taken.
    TopologySplit,
    /// A backup could not be copied to another repository of its cluster.
    CopyFailed,
    /// The binlog archiver cannot follow or store the cluster's binary log: the recovery
    /// point falls behind until it can (said once, until it resumes).
    ArchiveFailed,
    /// The binlog archiver follows again after failing.
    ArchiveResumed,
    /// The binlog archiver follows another server (the monitor saw a new primary).
    ArchiveSourceChanged,
    /// Transactions the archive will never have: the primary purged them before they were
    /// archived. No point inside the gap can be recovered.
    ArchiveGap,
    /// The primary has another history than the archive (a failover lost transactions the
    /// archive has): the archive goes on with the primary's, and the two are never mixed.
    ArchiveDiverged,
    /// A proof of recoverability failed: the archive does not carry one backup to a later
    /// one (rows differ), or could not be replayed.
    ProofFailed,
    /// A proof of recoverability passed.
    ProofPassed,
    /// The manager's history cannot be used (damaged, of a newer release): jobs, events and
    /// runs are not kept across restarts until it is moved aside.
    HistoryUnavailable,
    /// The manager's history file was missing and a new one was begun.
    HistoryLost,
    /// A Galera link keeper recorded a change of its link (new replica, failover, a failure).
    LinkEvent,
    /// The configuration was reloaded (SIGHUP): what applied, what waits for a restart.
    ConfigReloaded,
    /// A reload found a configuration that does not load: the running one is kept.
    ConfigReloadFailed,
    /// A local repository's file system has less free space than `manager.storage-free-alert`.
    StorageAlmostFull,
    /// A repository's file system has room again.
    StorageOk,
    /// The binlog archive is further behind the primary than `binlog-archive-rpo-alert`.
    RpoOverThreshold,
    /// The recovery point lag is back under its threshold.
    RpoOk,
    /// One of the manager's certificates expires within 30 days, has expired, or cannot be
    /// read.
    CertificateExpiring,
    /// The certificate's file holds one valid for longer again.
    CertificateRenewed,
    /// A backup's manifest is unsigned, signed by an untrusted key or changed after signing:
    /// nothing of the backup is used (told once per backup while the manager runs).
    ManifestUntrusted,
}

impl EventKind {
    /// Every kind.
    pub const ALL: [EventKind; 30] = [
        EventKind::BackupFailed,
        EventKind::BackupSucceeded,
        EventKind::BackupMissing,
        EventKind::ReseedFailed,
        EventKind::ReseedSucceeded,
        EventKind::AgentSilent,
        EventKind::AgentBack,
        EventKind::VerificationFailed,
        EventKind::VerificationPassed,
        EventKind::TopologySplit,
        EventKind::CopyFailed,
        EventKind::ArchiveFailed,
        EventKind::ArchiveResumed,
        EventKind::ArchiveSourceChanged,
        EventKind::ArchiveGap,
        EventKind::ArchiveDiverged,
        EventKind::ProofFailed,
        EventKind::ProofPassed,
        EventKind::HistoryUnavailable,
        EventKind::HistoryLost,
        EventKind::LinkEvent,
        EventKind::ConfigReloaded,
        EventKind::ConfigReloadFailed,
        EventKind::StorageAlmostFull,
        EventKind::StorageOk,
        EventKind::RpoOverThreshold,
        EventKind::RpoOk,
        EventKind::CertificateExpiring,
        EventKind::CertificateRenewed,
        EventKind::ManifestUntrusted,
    ];

    /// The problem this kind of event is about, and whether it opens it (`true`) or resolves
    /// it: what notifications deduplicate on (one message when a problem opens, one when it
    /// is resolved). `None`: a one-off fact, told each time.
    pub fn problem(self) -> Option<(&'static str, bool)> {
        use EventKind as K;
        Some(match self {
            K::BackupFailed => ("backup", true),
            K::BackupSucceeded => ("backup", false),
            // The same problem as a failing backup: no good backup of that kind.
            K::BackupMissing => ("backup", true),
            K::ReseedFailed => ("reseed", true),
            K::ReseedSucceeded => ("reseed", false),
            K::AgentSilent => ("agent", true),
            K::AgentBack => ("agent", false),
            K::VerificationFailed => ("verification", true),
            K::VerificationPassed => ("verification", false),
            K::ArchiveFailed => ("archive", true),
            K::ArchiveResumed => ("archive", false),
            K::ProofFailed => ("proof", true),
            K::ProofPassed => ("proof", false),
            K::TopologySplit => ("topology-split", true),
            K::CopyFailed => ("copy", true),
            K::HistoryUnavailable => ("history", true),
            K::ConfigReloadFailed => ("config", true),
            K::ConfigReloaded => ("config", false),
            K::StorageAlmostFull => ("storage", true),
            K::StorageOk => ("storage", false),
            K::RpoOverThreshold => ("rpo", true),
            K::RpoOk => ("rpo", false),
            K::CertificateExpiring => ("certificate", true),
            K::CertificateRenewed => ("certificate", false),
            K::ArchiveSourceChanged
            | K::ArchiveGap
            | K::ArchiveDiverged
            | K::HistoryLost
            | K::LinkEvent
            | K::ManifestUntrusted => return None,
        })
    }

    /// The kind as the API and the configuration spell it (`backup-failed`).
    pub fn as_str(self) -> String {
        crate::state::serde_name(&self)
    }
}

/// How much it matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// For the record.
    Info,
    /// Someone must act.
    Error,
}

/// One event (its OpenAPI schema is derived from this type: a new kind shows there too).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Event {
    /// Increasing from 1, across restarts while the history is kept.
    pub id: u64,
    /// When (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// What.
    pub kind: EventKind,
    /// How much it matters.
    pub severity: Severity,
    /// The cluster; empty for the manager's own events (its history).
    pub cluster: String,
    /// The server, when one is concerned.
    pub server: Option<String>,
    /// The backup, when one is concerned.
    pub backup: Option<String>,
    /// What within the cluster it is about when that is not the server alone (`physical`,
    /// `logical` for backups): a problem is one per kind, cluster and subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// In words, with what to do next.
    pub message: String,
}

/// The manager's events.
#[derive(Debug)]
pub struct Events {
    kept: Mutex<(u64, VecDeque<Event>)>,
    sender: broadcast::Sender<Event>,
    state: Arc<State>,
}

impl Events {
    /// The events, starting from the newest of the history.
    pub fn new(state: Arc<State>) -> Events {
        let kept: VecDeque<Event> = state.recent_events(KEEP).into_iter().rev().collect();
        let last = kept.back().map_or(0, |e| e.id);
        Events {
            kept: Mutex::new((last, kept)),
            sender: broadcast::channel(CHANNEL).0,
            state,
        }
    }
}

/// An event before it has an id and a time.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// What.
    pub kind: EventKind,
    /// How much it matters.
    pub severity: Severity,
    /// The cluster.
    pub cluster: String,
    /// The server.
    pub server: Option<String>,
    /// The backup.
    pub backup: Option<String>,
    /// What it is about, when not the server alone.
    pub subject: Option<String>,
    /// In words.
    pub message: String,
}

impl Events {
    /// Records and publishes an event; returns it.
    pub fn emit(&self, new: NewEvent) -> Event {
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        kept.0 += 1;
        let event = Event {
            id: kept.0,
            at: Timestamp::now(),
            kind: new.kind,
            severity: new.severity,
            cluster: new.cluster,
            server: new.server,
            backup: new.backup,
            subject: new.subject,
            message: new.message,
        };
        kept.1.push_back(event.clone());
        // Under the lock, so the history receives events in id order.
        self.state.save_event(&event);
        while kept.1.len() > KEEP {
            kept.1.pop_front();
        }
        drop(kept);
        match event.severity {
            Severity::Error => {
                tracing::error!(event = ?event.kind, cluster = %event.cluster, backup = ?event.backup, "{}", event.message)
            }
            Severity::Info => {
                tracing::info!(event = ?event.kind, cluster = %event.cluster, backup = ?event.backup, "{}", event.message)
            }
        }
        // No subscriber is not an error: the event is kept for the API anyway.
        let _ = self.sender.send(event.clone());
        event
    }

    /// The event of a job that ended, when it has one: a backup that failed or was stored, a
    /// reseed or flashback that failed or succeeded. Cancelled jobs (a user asked) and other
    /// tasks tell nothing beyond their job.
    pub fn job_ended(&self, job: &JobRecord) {
        use ferryman_proto::Task as T;
        let backup_kind = match job.task {
            T::Mariabackup | T::Xtrabackup => Some("physical"),
            T::Mysqldump | T::Mydumper => Some("logical"),
            _ => None,
        };
        let error = job.error.as_deref().unwrap_or("no reason given");
        let (kind, severity, subject, message) = match (job.state, backup_kind) {
            (JobState::Failed, Some(k)) => (
                EventKind::BackupFailed,
                Severity::Error,
                Some(k),
                format!(
                    "the {k} backup of `{}` from `{}` failed (job {}): {error}; earlier backups are kept: fix the cause, then `ferryman backup run --cluster {} --kind {k}`",
                    job.cluster, job.server, job.id, job.cluster
                ),
            ),
            (JobState::Succeeded, Some(k)) => (
                EventKind::BackupSucceeded,
                Severity::Info,
                Some(k),
                format!(
                    "the {k} backup {} of `{}` from `{}` is stored (job {})",
                    job.backup_id.as_deref().unwrap_or("?"),
                    job.cluster,
                    job.server,
                    job.id
                ),
            ),
            (JobState::Failed, None) if job.task.replaces_data() => (
                EventKind::ReseedFailed,
                Severity::Error,
                None,
                format!(
                    "the {} of `{}` failed (job {}): {error}",
                    job.task, job.server, job.id
                ),
            ),
            (JobState::Succeeded, None) if job.task.replaces_data() => (
                EventKind::ReseedSucceeded,
                Severity::Info,
                None,
                format!(
                    "the {} of `{}` succeeded (job {})",
                    job.task, job.server, job.id
                ),
            ),
            _ => return,
        };
        self.emit(NewEvent {
            kind,
            severity,
            cluster: job.cluster.clone(),
            server: Some(job.server.clone()),
            backup: job.backup_id.clone(),
            subject: subject.map(str::to_owned),
            message,
        });
    }

    /// The kept events with an id above `since`, oldest first.
    pub fn since(&self, since: u64) -> Vec<Event> {
        let kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        kept.1.iter().filter(|e| e.id > since).cloned().collect()
    }

    /// A receiver of every event emitted from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_numbered_kept_and_published() {
        let events = Events::new(Arc::new(State::unavailable("test")));
        let mut rx = events.subscribe();
        for n in 0..3 {
            events.emit(NewEvent {
                kind: EventKind::VerificationFailed,
                severity: Severity::Error,
                cluster: "c".into(),
                server: Some("db1".into()),
                backup: Some(format!("c/db1/{n}")),
                subject: None,
                message: "failed".into(),
            });
        }
        let all = events.since(0);
        assert_eq!(all.iter().map(|e| e.id).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(events.since(2).len(), 1);
        assert_eq!(rx.try_recv().map(|e| e.id).ok(), Some(1));
    }
}
