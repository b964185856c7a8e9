//! Retention as the manager applies it: each cluster's own `backup-keep-*` policy, with the
//! keys a repository sets for itself replacing the cluster's for the backups stored there
//! ([`policy`]), after every backup and on request (`POST /api/v1/clusters/{cluster}/prune`,
//! `ferryman backup prune`); the copies' repositories are pruned by their copier
//! (`copies.rs`).
//!
//! What is kept, one prune at a time, and carrying on past a failed deletion are the
//! repository's ([`ferryman_repo::retention`]); this module only picks the policy.

use ferryman_config::ClusterConfig;
use ferryman_repo::RetentionPolicy;
pub use ferryman_repo::{PruneFailure, PruneReport};

use crate::{Result, Services};

/// The policy of `cluster`'s backups stored in `repository`: the cluster's `backup-keep-*`,
/// each key the repository's table sets replacing the cluster's.
pub fn policy(services: &Services, cluster: &ClusterConfig, repository: &str) -> RetentionPolicy {
    let merged = match services.config.repositories.get(repository) {
        Some(r) => r.retention.apply(&cluster.retention),
        None => cluster.retention,
    };
    RetentionPolicy::from(&merged)
}

/// Applies `cluster`'s retention to its backups in the repository that stores them (also
/// those of servers since removed from the configuration); with `dry_run`, only plans.
pub async fn prune(
    services: &Services,
    cluster: &ClusterConfig,
    dry_run: bool,
) -> Result<PruneReport> {
    let first = services
        .repos
        .name_of_cluster(&cluster.name)
        .unwrap_or(ferryman_config::defaults::LOCAL_REPOSITORY);
    let policy = policy(services, cluster, first);
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
