//! Retention as the manager applies it: each cluster's own `backup-keep-*` policy, after every
//! backup and on request (`POST /api/v1/clusters/{cluster}/prune`, `ferryman backup prune`).
//!
//! One prune at a time: two overlapping runs would plan on the same listing and the second
//! would fail deleting what the first already removed. A failed deletion does not stop the
//! others; it is reported with the backup it concerns (the backup stays whole: the repository
//! removes the manifest first, so a half-deleted backup is no longer listed as one).

use ferryman_config::{ClusterConfig, RetentionConfig};
use ferryman_repo::{BackupId, Kept, RetentionPolicy};
use serde::Serialize;

use crate::{Result, Services};

/// What a prune did, or with `dry_run` would do.
#[derive(Debug, Clone, Serialize)]
pub struct PruneReport {
    /// The cluster.
    pub cluster: String,
    /// Whether nothing was deleted on purpose.
    pub dry_run: bool,
    /// The policy applied.
    pub policy: RetentionPolicy,
    /// Kept backups, each with every reason.
    pub keep: Vec<Kept>,
    /// Backups deleted (with `dry_run`: that would be deleted).
    pub delete: Vec<BackupId>,
    /// Deletions that failed, with the reason; those backups are still listed.
    pub failed: Vec<PruneFailure>,
}

/// A backup the prune could not delete.
#[derive(Debug, Clone, Serialize)]
pub struct PruneFailure {
    /// The backup.
    pub id: BackupId,
    /// Why.
    pub error: String,
}

/// The repository's policy for a cluster's configuration.
pub fn policy(config: &RetentionConfig) -> RetentionPolicy {
    RetentionPolicy {
        keep_last: config.keep_last,
        keep_hourly: config.keep_hourly,
        keep_daily: config.keep_daily,
        keep_weekly: config.keep_weekly,
        keep_monthly: config.keep_monthly,
        keep_yearly: config.keep_yearly,
    }
}

/// Applies `cluster`'s retention to its backups (also those of servers since removed from the
/// configuration); with `dry_run`, only plans.
pub async fn prune(
    shared: &Services,
    cluster: &ClusterConfig,
    dry_run: bool,
) -> Result<PruneReport> {
    let _one_at_a_time = shared.prune_lock.lock().await;
    let policy = policy(&cluster.retention);
    let backups = shared.repo.list(Some(&cluster.name), None).await?;
    // Besides the newest of each group (always kept), the newest *verified* backup of each
    // source: the newest one may be the one that failed its verification.
    let protected = crate::verification::protected(&backups);
    let plan = ferryman_repo::plan(&policy, &backups, &protected);
    let mut report = PruneReport {
        cluster: cluster.name.clone(),
        dry_run,
        policy,
        keep: plan.keep,
        delete: Vec::new(),
        failed: Vec::new(),
    };
    if dry_run {
        report.delete = plan.delete;
        return Ok(report);
    }
    for id in plan.delete {
        match shared.repo.delete(&id).await {
            Ok(()) => {
                tracing::info!(backup = %id, "deleted by retention");
                report.delete.push(id);
            }
            Err(e) => {
                tracing::warn!(backup = %id, error = %e, "retention: cannot delete");
                report.failed.push(PruneFailure {
                    id,
                    error: e.to_string(),
                });
            }
        }
    }
    Ok(report)
}

/// After a backup: applies retention, logging failures (the backup itself is good).
pub async fn after_backup(shared: &Services, cluster: &ClusterConfig) {
    if let Err(e) = prune(shared, cluster, false).await {
        tracing::warn!(cluster = %cluster.name, error = %e, "retention not applied after the backup; run `ferryman backup prune` once the cause is fixed");
    }
}
