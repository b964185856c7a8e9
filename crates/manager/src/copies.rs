//! Copies of each cluster's backups in the other repositories of its `backup-repositories`
//! (3-2-1: a backup that survives the loss of the manager's disk): one copier per cluster
//! that has more than one repository.
//!
//! # When a copier runs
//! At start (copies a crashed or stopped manager did not make), when woken after a backup is
//! stored or verified ([`Copies::wake`]), and every [`RETRY`] by itself (copies that failed,
//! e.g. while the target was unreachable, are retried then).
//!
//! # What one pass does ([`sync`])
//! For each further repository, in order: every backup of the cluster that the first
//! repository holds, that the copy policy allows (`backup-copy-after = "verified"`: its latest
//! verification passed), that the target lacks, and that the target's retention would keep
//! among its backups and these, is copied, oldest first
//! ([`ferryman_repo::Repository::copy_from`]: checked on the way, manifest last). Then the
//! target's retention runs over its own backups. The target's retention is the cluster's
//! `backup-keep-*` with the keys its `[repositories.NAME]` table sets (`retention.rs`), so an
//! off-site bucket may keep a month of dailies while the manager's disk keeps a week.
//!
//! # Why retention cannot make a copier loop or wipe the copies
//! The target is pruned by its policy over its own manifests, never by what the first
//! repository holds: a first repository that lost its backups (the disaster copies exist
//! for) deletes nothing elsewhere. A backup is copied only when the target's policy keeps it
//! among the target's backups and the candidates; a policy applied to a subset of backups keeps
//! every backup of the subset that it keeps in the whole set, and verification results are
//! mirrored to every copy ([`mirror_verification`]), so the target's prune keeps what was
//! copied: nothing is copied twice.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use ferryman_config::{ClusterConfig, CopyAfter};
use ferryman_repo::{plan, BackupId, Repository, Status, Verification};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::events::{EventKind, NewEvent, Severity};
use crate::{Result, Services};

/// How often a copier runs without being woken.
pub const RETRY: Duration = Duration::from_secs(600);

/// The copiers' wake-up calls, one per cluster with copies.
#[derive(Debug, Default)]
pub struct Copies {
    wake: BTreeMap<String, Arc<Notify>>,
}

impl Copies {
    /// One wake-up call per cluster whose `backup-repositories` has more than one entry.
    pub fn new(clusters: &[ClusterConfig]) -> Copies {
        let wake = clusters
            .iter()
            .filter(|c| c.backup_repositories.len() > 1)
            .map(|c| (c.name.clone(), Arc::default()))
            .collect();
        Copies { wake }
    }

    /// Asks `cluster`'s copier to run a pass now (nothing when the cluster has no copies).
    pub fn wake(&self, cluster: &str) {
        if let Some(notify) = self.wake.get(cluster) {
            notify.notify_one();
        }
    }

    /// The clusters that have copies.
    pub fn clusters(&self) -> impl Iterator<Item = &str> {
        self.wake.keys().map(String::as_str)
    }
}

/// `cluster`'s copier: a pass at start, then one per wake-up or [`RETRY`], until `cancel`.
pub async fn run(services: Arc<Services>, cluster: String, cancel: CancellationToken) {
    let Some(notify) = services.copies.wake.get(&cluster).cloned() else {
        return;
    };
    loop {
        if let Some(config) = services.config.cluster(&cluster) {
            if let Err(e) = sync(&services, config, &cancel).await {
                warn!(error = %e, "copies: the pass stopped; retrying in {} s", RETRY.as_secs());
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = notify.notified() => {}
            _ = tokio::time::sleep(RETRY) => {}
        }
    }
}

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CopyReport {
    /// `(repository, backup)` copied.
    pub copied: Vec<(String, BackupId)>,
    /// `(repository, backup, error)` that failed.
    pub failed: Vec<(String, BackupId, String)>,
}

/// One pass over `cluster`: see the module documentation.
pub async fn sync(
    services: &Services,
    cluster: &ClusterConfig,
    cancel: &CancellationToken,
) -> Result<CopyReport> {
    let mut report = CopyReport::default();
    let Some((first, others)) = cluster.backup_repositories.split_first() else {
        return Ok(report);
    };
    let source = services.repos.named(first)?;
    let mut backups = source.list(Some(&cluster.name), None).await?;
    backups.retain(|m| may_travel(cluster.backup_copy_after, m));
    for name in others {
        let target = services.repos.named(name)?;
        let policy = crate::retention::policy(services, cluster, name);
        let there = match target.list(Some(&cluster.name), None).await {
            Ok(list) => list,
            Err(e) => {
                failed(services, cluster, name, None, &e.to_string(), &mut report);
                continue;
            }
        };
        let present: HashSet<BackupId> = there.iter().map(|m| m.id.clone()).collect();
        let mut union = there;
        union.extend(backups.iter().filter(|m| !present.contains(&m.id)).cloned());
        let kept: HashSet<BackupId> = plan(&policy, &union)
            .keep
            .into_iter()
            .map(|k| k.id)
            .collect();
        // Oldest first: a pass cut short leaves the newest for the next.
        let wanted = backups
            .iter()
            .rev()
            .filter(|m| kept.contains(&m.id) && !present.contains(&m.id));
        for m in wanted {
            let copied = tokio::select! {
                _ = cancel.cancelled() => return Ok(report),
                copied = target.copy_from(source, &m.id) => copied,
            };
            match copied {
                Ok(_) => report.copied.push((name.clone(), m.id.clone())),
                Err(e) => failed(
                    services,
                    cluster,
                    name,
                    Some(&m.id),
                    &e.to_string(),
                    &mut report,
                ),
            }
        }
        match target.prune(&cluster.name, &policy, false).await {
            Ok(pruned) if !pruned.delete.is_empty() => {
                info!(repository = %name, deleted = pruned.delete.len(), "copies: retention applied")
            }
            Ok(_) => {}
            Err(e) => warn!(repository = %name, error = %e, "copies: cannot apply retention"),
        }
    }
    Ok(report)
}

/// Whether backup `m` may be copied under `policy`.
fn may_travel(policy: CopyAfter, m: &ferryman_repo::Manifest) -> bool {
    match policy {
        CopyAfter::Stored => true,
        CopyAfter::Verified => Verification::latest_of(m).is_some_and(|v| v.status == Status::Ok),
    }
}

/// Records a failed copy: an event (someone must act if it lasts), and the report.
fn failed(
    services: &Services,
    cluster: &ClusterConfig,
    repository: &str,
    backup: Option<&BackupId>,
    error: &str,
    report: &mut CopyReport,
) {
    let what = match backup {
        Some(id) => format!("backup {id} was not copied to repository `{repository}`"),
        None => format!("no backup can be copied to repository `{repository}`"),
    };
    services.events.emit(NewEvent {
        kind: EventKind::CopyFailed,
        severity: Severity::Error,
        cluster: cluster.name.clone(),
        server: backup.map(|id| id.server().to_owned()),
        backup: backup.map(ToString::to_string),
        subject: None,
        message: format!(
            "{what}: {error}; the copy is retried every {} minutes and at the next backup",
            RETRY.as_secs() / 60
        ),
    });
    if let Some(id) = backup {
        report
            .failed
            .push((repository.to_owned(), id.clone(), error.to_owned()));
    }
}

/// Appends `verification` of backup `id` to its copies in `cluster`'s repositories other than
/// `verified` (which has it already), so that every repository's retention sees the same
/// results. A copy that is missing or cannot be updated is logged: it keeps its older
/// results, which only makes its retention keep more.
pub async fn mirror_verification(
    services: &Services,
    cluster: &ClusterConfig,
    verified: &Repository,
    id: &BackupId,
    verification: &Verification,
) {
    for name in &cluster.backup_repositories {
        let Ok(repo) = services.repos.named(name) else {
            continue;
        };
        if repo.location() == verified.location() {
            continue;
        }
        if let Err(e) = append_if_present(repo, id, verification).await {
            warn!(repository = %name, backup = %id, error = %e, "cannot record the verification in the copy");
        }
    }
}

async fn append_if_present(
    repo: &Repository,
    id: &BackupId,
    verification: &Verification,
) -> ferryman_repo::Result<()> {
    match repo.append_verification(id, verification.clone()).await {
        Err(e) if e.is_not_found() => Ok(()),
        other => other.map(|_| ()),
    }
}
