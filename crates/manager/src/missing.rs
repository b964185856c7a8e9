//! The alarm for a scheduler that silently stopped: a `backup-missing` event when no good
//! backup of a scheduled kind arrived in time.
//!
//! For each cluster's active physical and logical backup entry: from the newest good backup of
//! that kind (stored, and its newest verification not failed), or from the manager's start when
//! that is later (a manager that was down gives its scheduler a chance first), the next
//! occurrence of the entry's cron is when a backup should have started; `backup-missing-grace`
//! later (the time a backup may take) without a newer good backup, the event is emitted, once
//! per missed occurrence. Notifications treat it as the same problem as a failed backup of that
//! kind: the next good backup resolves both.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ferryman_config::ClusterConfig;
use ferryman_repo::{Kind, Verification};
use tokio_util::sync::CancellationToken;

use crate::events::{EventKind, NewEvent, Severity};
use crate::scheduler::{entries, Scheduled};
use crate::Services;

/// Watches the scheduled backups of `config` (a cluster as the live configuration has it)
/// until `shutdown`.
pub async fn run(services: Arc<Services>, config: ClusterConfig, shutdown: CancellationToken) {
    let cluster = config.name.clone();
    let watched: Vec<_> = entries(&config)
        .into_iter()
        .filter_map(|(what, entry)| match what {
            Scheduled::PhysicalBackup => Some((Kind::Physical, entry)),
            Scheduled::LogicalBackup => Some((Kind::Logical, entry)),
            _ => None,
        })
        .collect();
    if watched.is_empty() {
        return;
    }
    let grace = config.backup_missing_grace;
    let every = (grace / 4).clamp(Duration::from_secs(1), Duration::from_secs(60));
    // The occurrence a good backup was due by, counted from `from`, and when it is missing.
    let due_after = |entry: &ferryman_config::ScheduleEntry, from: DateTime<Utc>| {
        let due = entry.schedule().find_next_occurrence(&from, false).ok()?;
        Some((
            due,
            due + chrono::Duration::from_std(grace).unwrap_or_default(),
        ))
    };
    // Per kind: the time counted from: the manager's start, then the newest good backup seen,
    // then each alarm (so it is said once per missed occurrence).
    let mut since: Vec<DateTime<Utc>> = vec![Utc::now(); watched.len()];
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.cancelled() => return,
        }
        // Nothing can be missing before the deadline counted from `since`: the repository is
        // listed only once one has passed.
        let now = Utc::now();
        let overdue: Vec<usize> = (0..watched.len())
            .filter(|&i| due_after(&watched[i].1, since[i]).is_some_and(|(_, d)| now > d))
            .collect();
        if overdue.is_empty() {
            continue;
        }
        let backups = match services.repo(&cluster) {
            Ok(repo) => match repo.list(Some(&cluster), None).await {
                Ok(list) => list,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot list the backups to see whether one is missing");
                    continue;
                }
            },
            Err(_) => return,
        };
        for i in overdue {
            let (kind, entry) = &watched[i];
            let newest = backups
                .iter()
                .filter(|m| m.kind == *kind)
                .filter(|m| {
                    Verification::latest_of(m).is_none_or(|v| v.status == ferryman_repo::Status::Ok)
                })
                .map(|m| m.ended_at.to_system_time())
                .max()
                .map(DateTime::<Utc>::from);
            if let Some(n) = newest {
                since[i] = since[i].max(n);
            }
            let Some((due, deadline)) = due_after(entry, since[i]) else {
                continue;
            };
            if now <= deadline {
                continue;
            }
            since[i] = now;
            let kind_name = crate::fleet::kind_name(*kind);
            let last = newest.map_or_else(
                || "none since the manager started".to_owned(),
                |n| format!("the newest good one ended {}", n.to_rfc3339()),
            );
            services.events.emit(NewEvent {
                kind: EventKind::BackupMissing,
                severity: Severity::Error,
                cluster: cluster.clone(),
                server: None,
                backup: None,
                subject: Some(kind_name.to_owned()),
                message: format!(
                    "no good {kind_name} backup of `{cluster}` since the one scheduled at {} (`{}`), {} later ({last}): is the scheduler running and are backups failing? see `ferryman jobs list --cluster {cluster}`",
                    due.to_rfc3339(),
                    entry.cron,
                    humantime::format_duration(grace),
                ),
            });
        }
    }
}
