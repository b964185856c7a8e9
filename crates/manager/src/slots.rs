//! How many backups stream at once: `manager.backup-concurrency` across the fleet, and each
//! cluster's `backup-concurrency`.
//!
//! A backup takes a slot of its cluster, then one of the manager's, before its row is written,
//! and holds both until its job ends. The others wait their turn in the order they came
//! (tokio's semaphores are fair), their job's phase saying what they wait for; a cancelled job
//! leaves the queue at once. The slots are taken before the row exists so that a queued backup
//! costs nothing on its server: no claim timeout runs, no agent holds a snapshot open.
//!
//! Only stored backups take slots. Log collections are small, a reseed's payload is read once
//! for all its joiners, and a command streams nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ferryman_config::ClusterConfig;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::registry::JobHandle;
use crate::{Error, Result};

/// The manager's and each cluster's slots.
#[derive(Debug)]
pub struct BackupSlots {
    manager: Arc<Semaphore>,
    manager_limit: u32,
    /// By cluster name, made at a cluster's first backup with its `backup-concurrency`.
    clusters: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// A backup's right to stream: released when dropped (its job ended).
#[derive(Debug)]
pub struct Slot {
    _cluster: OwnedSemaphorePermit,
    _manager: OwnedSemaphorePermit,
}

impl BackupSlots {
    /// Slots for `manager_limit` backups at once (`manager.backup-concurrency`).
    pub fn new(manager_limit: u32) -> BackupSlots {
        BackupSlots {
            manager: Arc::new(Semaphore::new(manager_limit as usize)),
            manager_limit,
            clusters: Mutex::new(HashMap::new()),
        }
    }

    /// Waits for a slot of `cluster` and one of the manager's; fails only when `job` is
    /// cancelled meanwhile.
    pub async fn take(&self, cluster: &ClusterConfig, job: &JobHandle) -> Result<Slot> {
        let own = self.of_cluster(cluster);
        let limit = cluster.backup_concurrency;
        let cluster_permit = wait(own, job, || {
            format!(
                "queued: {limit} backup(s) of cluster `{}` already streaming (its \
                 backup-concurrency = {limit})",
                cluster.name
            )
        })
        .await?;
        let limit = self.manager_limit;
        let manager_permit = wait(Arc::clone(&self.manager), job, || {
            format!(
                "queued: {limit} backup(s) already streaming to this manager \
                 (manager.backup-concurrency = {limit})"
            )
        })
        .await?;
        Ok(Slot {
            _cluster: cluster_permit,
            _manager: manager_permit,
        })
    }

    /// Backups streaming now, on the whole manager.
    pub fn streaming(&self) -> usize {
        (self.manager_limit as usize).saturating_sub(self.manager.available_permits())
    }

    fn of_cluster(&self, cluster: &ClusterConfig) -> Arc<Semaphore> {
        let mut clusters = self
            .clusters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(
            clusters
                .entry(cluster.name.clone())
                .or_insert_with(|| Arc::new(Semaphore::new(cluster.backup_concurrency as usize))),
        )
    }
}

/// A permit of `slots`, at once when one is free; else the job's phase says `why` while it
/// waits.
async fn wait(
    slots: Arc<Semaphore>,
    job: &JobHandle,
    why: impl FnOnce() -> String,
) -> Result<OwnedSemaphorePermit> {
    if let Ok(permit) = Arc::clone(&slots).try_acquire_owned() {
        return Ok(permit);
    }
    job.phase(why());
    tracing::info!("backup queued for a slot");
    tokio::select! {
        permit = slots.acquire_owned() => permit.map_err(|_| Error::Cancelled),
        () = job.cancelled().cancelled() => Err(Error::Cancelled),
    }
}
