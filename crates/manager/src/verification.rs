//! Verification runs: `ferryman verify --backup ID | --cluster C --latest | --all-clusters`,
//! and the scheduler's pass over backups not verified yet.
//!
//! A run is a list of items, one per backup (or, for the fleet run, one per cluster: a fresh
//! logical backup of its backup source, then its verification). Items run in the background,
//! at most `[verifier] concurrency` at a time across all runs (a test restore is as heavy as
//! the backup it restores); one backup is never verified by two items at once. Every result is
//! appended to the backup's manifest by the verifier; a failed verification emits an event.
//! The newest 200 runs are listed from memory; every run is recorded in the history
//! (`state.rs`), and each result in the backup's manifest, its durable record.
//!
//! # Layout
//! - `verification.rs`: what to verify ([`Target`]), starting a run ([`start`]) and the
//!   scheduler's pass ([`verify_new`]).
//! - `verification/runs.rs`: the runs as the API shows them ([`VerifyRun`], [`RunItem`]) and
//!   what they share ([`VerifyRuns`]: the concurrency slots, the backups being verified).
//! - `verification/item.rs`: one item start to end (the fleet run's fresh backup, the
//!   verifier, the event), and the verifier's [`settings`] for a cluster.

mod item;
mod runs;

use std::sync::Arc;

use ferryman_repo::{BackupId, Kind};

use item::launch;
pub use item::settings;
pub use runs::{RunItem, RunState, VerifyRun, VerifyRuns};

use crate::{Error, Result, Services};

/// What to verify.
#[derive(Debug, Clone)]
pub enum Target {
    /// One backup.
    Backup(BackupId),
    /// The newest backup of each kind (physical, logical) of a cluster.
    Latest(String),
    /// A fresh logical backup of every cluster's backup source, each then verified.
    Fleet,
}

/// Starts a run; returns it as it stands (items queued). Errors when there is nothing to
/// verify (an unknown backup, a cluster without backups).
pub async fn start(shared: &Arc<Services>, target: Target, trigger: &str) -> Result<VerifyRun> {
    let (items, fleet) = match &target {
        Target::Backup(id) => (
            vec![RunItem::for_backup(&shared.repos.get(id).await?)],
            false,
        ),
        Target::Latest(cluster) => {
            shared.cluster(cluster)?;
            let backups = shared.repo(cluster)?.list(Some(cluster), None).await?;
            let newest: Vec<RunItem> = [Kind::Physical, Kind::Logical]
                .iter()
                .filter_map(|k| backups.iter().find(|m| m.kind == *k))
                .map(RunItem::for_backup)
                .collect();
            if newest.is_empty() {
                return Err(Error::NothingToVerify {
                    detail: format!(
                        "cluster `{cluster}` has no backups; take one with `ferryman backup run --cluster {cluster} --kind logical`"
                    ),
                });
            }
            (newest, false)
        }
        Target::Fleet => {
            if shared.config.clusters.is_empty() {
                return Err(Error::NothingToVerify {
                    detail: "no cluster is configured".to_owned(),
                });
            }
            let items = shared
                .config
                .clusters
                .iter()
                .map(|c| RunItem::new(&c.name))
                .collect();
            (items, true)
        }
    };
    Ok(launch(shared, trigger, items, fleet))
}

/// The scheduler's pass: verifies every backup of `cluster` that has no verification result
/// and is not being verified. Returns the run, or `None` when there was nothing new.
pub async fn verify_new(shared: &Arc<Services>, cluster: &str) -> Result<Option<VerifyRun>> {
    shared.cluster(cluster)?;
    let backups = shared.repo(cluster)?.list(Some(cluster), None).await?;
    let pending = shared.verify_runs.in_progress();
    let items: Vec<RunItem> = backups
        .iter()
        .filter(|m| m.verification.is_empty() && !pending.contains(&m.id.to_string()))
        .map(RunItem::for_backup)
        .collect();
    if items.is_empty() {
        return Ok(None);
    }
    Ok(Some(launch(shared, "schedule", items, false)))
}
