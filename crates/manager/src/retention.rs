//! Retention as the manager applies it: each cluster's own `backup-keep-*` policy, after every
//! backup and on request (`POST /api/v1/clusters/{cluster}/prune`, `ferryman backup prune`).
//!
//! What is kept, one prune at a time, and carrying on past a failed deletion are the
//! repository's ([`ferryman_repo::retention`]); this module only picks the cluster's policy.

use ferryman_config::ClusterConfig;
use ferryman_repo::RetentionPolicy;
pub use ferryman_repo::{PruneFailure, PruneReport};

use crate::{Result, Services};

/// Applies `cluster`'s retention to its backups (also those of servers since removed from the
/// configuration); with `dry_run`, only plans.
pub async fn prune(
    services: &Services,
    cluster: &ClusterConfig,
    dry_run: bool,
) -> Result<PruneReport> {
    let policy = RetentionPolicy::from(&cluster.retention);
    Ok(services
        .repo(&cluster.name)?
        .prune(&cluster.name, &policy, dry_run)
        .await?)
}

/// After a backup: applies retention, logging failures (the backup itself is good).
pub async fn after_backup(services: &Services, cluster: &ClusterConfig) {
    if let Err(e) = prune(services, cluster, false).await {
        tracing::warn!(cluster = %cluster.name, error = %e, "retention not applied after the backup; run `ferryman backup prune` once the cause is fixed");
    }
}
