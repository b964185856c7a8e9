//! Verification runs: `ferryman verify --backup ID | --cluster C --latest | --all-clusters`,
//! and the scheduler's pass over backups not verified yet.
//!
//! A run is a list of items, one per backup (or, for the fleet run, one per cluster: a fresh
//! logical backup of its backup source, then its verification). Items run in the background,
//! at most `[verifier] concurrency` at a time across all runs (a test restore is as heavy as
//! the backup it restores); one backup is never verified by two items at once. Every result is
//! appended to the backup's manifest by the verifier; a failed verification emits an event.
//! Runs are kept in memory (the newest 200): the manifests are the durable record.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferryman_config::ClusterConfig;
use ferryman_repo::{BackupId, Kind, Manifest, Timestamp};
use ferryman_verify::throwaway::ThrowawayOptions;
use ferryman_verify::{Origin, Settings, Status, Verification};
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::events::{EventKind, NewEvent, Severity};
use crate::registry::JobState;
use crate::{Error, Result, Services};

/// How many finished runs are remembered.
const KEEP: usize = 200;
/// How often a fleet item looks at its backup job, and a waiting item at the busy set.
const POLL: Duration = Duration::from_millis(250);

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

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    /// Items are still running.
    Running,
    /// Every item has ended.
    Done,
}

/// One backup's verification in a run (or, in a fleet run, one cluster's backup and its
/// verification).
#[derive(Debug, Clone, Serialize)]
pub struct RunItem {
    /// The cluster.
    pub cluster: String,
    /// The source server, once known.
    pub server: Option<String>,
    /// The backup, once known.
    pub backup: Option<String>,
    /// The tool that made it.
    pub tool: Option<String>,
    /// What it is doing now, in words.
    pub phase: String,
    /// The verification's status once it ended; `None` while running or when it could not be
    /// carried out (see `error`).
    pub status: Option<Status>,
    /// The failed checks, `check: detail`.
    pub reasons: Vec<String>,
    /// The backup's raw size.
    pub raw_bytes: Option<u64>,
    /// Its stored (compressed) size.
    pub stored_bytes: Option<u64>,
    /// Raw size change against the previous good backup of the source, percent.
    pub size_change_percent: Option<f64>,
    /// Restore time, seconds (the RTO evidence).
    pub restore_seconds: Option<f64>,
    /// The whole verification, seconds.
    pub total_seconds: Option<f64>,
    /// The fleet run's backup job.
    pub backup_job: Option<u64>,
    /// Why the item could not be carried out (the backup failed, the repository failed...).
    pub error: Option<String>,
    /// True once the item ended.
    pub done: bool,
}

impl RunItem {
    fn new(cluster: &str) -> RunItem {
        RunItem {
            cluster: cluster.to_owned(),
            server: None,
            backup: None,
            tool: None,
            phase: "queued".to_owned(),
            status: None,
            reasons: Vec::new(),
            raw_bytes: None,
            stored_bytes: None,
            size_change_percent: None,
            restore_seconds: None,
            total_seconds: None,
            backup_job: None,
            error: None,
            done: false,
        }
    }

    fn for_backup(manifest: &Manifest) -> RunItem {
        let mut item = RunItem::new(&manifest.cluster);
        item.describe(manifest);
        item
    }

    fn describe(&mut self, manifest: &Manifest) {
        self.server = Some(manifest.server.clone());
        self.backup = Some(manifest.id.to_string());
        self.tool = Some(manifest.tool.as_str().to_owned());
        self.raw_bytes = Some(manifest.raw_bytes);
        self.stored_bytes = Some(manifest.stored_bytes);
    }

    /// True when the item ended with a passed verification.
    pub fn is_ok(&self) -> bool {
        self.done && self.error.is_none() && self.status == Some(Status::Ok)
    }
}

/// One verification run, as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyRun {
    /// Manager-wide id.
    pub id: u64,
    /// `api`, `schedule`, `fleet`.
    pub trigger: String,
    /// Where it stands.
    pub state: RunState,
    /// Once done: true when every item passed.
    pub ok: Option<bool>,
    /// When it started.
    pub started_at: Timestamp,
    /// When its last item ended.
    pub ended_at: Option<Timestamp>,
    /// Its items.
    pub items: Vec<RunItem>,
}

/// The manager's verification runs and what they share.
#[derive(Debug)]
pub struct VerifyRuns {
    runs: Mutex<(u64, BTreeMap<u64, VerifyRun>)>,
    /// Backups being verified now.
    busy: Mutex<HashSet<BackupId>>,
    /// `[verifier] concurrency` slots.
    slots: Semaphore,
    /// Cancelled when the manager stops: running verifications are dropped (their throwaway
    /// servers removed) and record nothing.
    cancel: CancellationToken,
}

impl VerifyRuns {
    /// Runs with `concurrency` verifications at once.
    pub fn new(concurrency: u32) -> VerifyRuns {
        VerifyRuns {
            runs: Mutex::new((0, BTreeMap::new())),
            busy: Mutex::new(HashSet::new()),
            slots: Semaphore::new(usize::try_from(concurrency.max(1)).unwrap_or(1)),
            cancel: CancellationToken::new(),
        }
    }

    /// Every run, newest first.
    pub fn list(&self) -> Vec<VerifyRun> {
        self.with(|m| m.values().rev().cloned().collect())
    }

    /// One run.
    pub fn get(&self, id: u64) -> Option<VerifyRun> {
        self.with(|m| m.get(&id).cloned())
    }

    /// Stops every running verification (manager shutdown).
    pub fn cancel_all(&self) {
        self.cancel.cancel();
    }

    fn with<T>(&self, f: impl FnOnce(&mut BTreeMap<u64, VerifyRun>) -> T) -> T {
        let mut guard = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard.1)
    }

    fn create(&self, trigger: &str, items: Vec<RunItem>) -> VerifyRun {
        let mut guard = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        guard.0 += 1;
        let run = VerifyRun {
            id: guard.0,
            trigger: trigger.to_owned(),
            state: RunState::Running,
            ok: None,
            started_at: Timestamp::now(),
            ended_at: None,
            items,
        };
        guard.1.insert(run.id, run.clone());
        while guard.1.len() > KEEP {
            let oldest_done = guard
                .1
                .iter()
                .find(|(_, r)| r.state == RunState::Done)
                .map(|(id, _)| *id);
            match oldest_done {
                Some(id) => {
                    guard.1.remove(&id);
                }
                None => break,
            }
        }
        run
    }

    fn update(&self, run: u64, item: usize, f: impl FnOnce(&mut RunItem)) {
        self.with(|m| {
            let Some(r) = m.get_mut(&run) else { return };
            if let Some(i) = r.items.get_mut(item) {
                f(i);
            }
            if r.state == RunState::Running && r.items.iter().all(|i| i.done) {
                r.state = RunState::Done;
                r.ok = Some(r.items.iter().all(RunItem::is_ok));
                r.ended_at = Some(Timestamp::now());
            }
        });
    }

    /// Backups an unfinished item of some run will verify or is verifying.
    fn in_progress(&self) -> HashSet<String> {
        self.with(|m| {
            m.values()
                .flat_map(|r| r.items.iter())
                .filter(|i| !i.done)
                .filter_map(|i| i.backup.clone())
                .collect()
        })
    }

    /// Marks `id` busy; false if it already was.
    fn claim(&self, id: &BackupId) -> bool {
        self.busy
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.clone())
    }

    fn release(&self, id: &BackupId) {
        self.busy
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }
}

/// Starts a run; returns it as it stands (items queued). Errors when there is nothing to
/// verify (an unknown backup, a cluster without backups).
pub async fn start(shared: &Arc<Services>, target: Target, trigger: &str) -> Result<VerifyRun> {
    let (items, fleet) = match &target {
        Target::Backup(id) => (
            vec![RunItem::for_backup(&shared.repo.get(id).await?)],
            false,
        ),
        Target::Latest(cluster) => {
            shared.cluster(cluster)?;
            let backups = shared.repo.list(Some(cluster), None).await?;
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
    let backups = shared.repo.list(Some(cluster), None).await?;
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

fn launch(shared: &Arc<Services>, trigger: &str, items: Vec<RunItem>, fleet: bool) -> VerifyRun {
    let run = shared.verify_runs.create(trigger, items);
    tracing::info!(
        run = run.id,
        items = run.items.len(),
        trigger,
        "verification run started"
    );
    for (index, item) in run.items.iter().enumerate() {
        let shared = Arc::clone(shared);
        let item = item.clone();
        let run_id = run.id;
        let trigger = trigger.to_owned();
        let span = tracing::info_span!("verification", run = run_id, item = index);
        shared.clone().spawn(span, async move {
            let runs = &shared.verify_runs;
            let cancel = runs.cancel.clone();
            let work = run_item(&shared, run_id, index, item, fleet, &trigger);
            tokio::select! {
                () = work => {}
                () = cancel.cancelled() => {
                    runs.update(run_id, index, |i| {
                        i.error = Some("the manager stopped before this verification ended; nothing was recorded: run it again".to_owned());
                        i.phase = "cancelled".to_owned();
                        i.done = true;
                    });
                }
            }
        });
    }
    run
}

/// One item, start to end; always marks it done.
async fn run_item(
    shared: &Arc<Services>,
    run: u64,
    index: usize,
    item: RunItem,
    fleet: bool,
    trigger: &str,
) {
    let runs = &shared.verify_runs;
    let result = item_work(shared, run, index, item, fleet, trigger).await;
    runs.update(run, index, |i| {
        if let Err(e) = result {
            i.error = Some(e.to_string());
            i.phase = "failed".to_owned();
        } else {
            i.phase = "done".to_owned();
        }
        i.done = true;
    });
}

async fn item_work(
    shared: &Arc<Services>,
    run: u64,
    index: usize,
    item: RunItem,
    fleet: bool,
    trigger: &str,
) -> Result<()> {
    let runs = &shared.verify_runs;
    let phase = |text: &str| runs.update(run, index, |i| i.phase = text.to_owned());
    phase("waiting for a verification slot (verifier concurrency)");
    let _slot = runs
        .slots
        .acquire()
        .await
        .map_err(|_| Error::NothingToVerify {
            detail: "the manager is stopping".to_owned(),
        })?;
    let cluster = shared.cluster(&item.cluster)?;
    let id: BackupId = if fleet {
        phase("taking a fresh logical backup");
        let manifest = fresh_backup(shared, run, index, cluster).await?;
        runs.update(run, index, |i| i.describe(&manifest));
        manifest.id
    } else {
        let backup = item.backup.as_deref().unwrap_or_default();
        backup.parse().map_err(Error::Repo)?
    };
    let _busy = loop {
        if let Some(claimed) = Claimed::new(runs, &id) {
            break claimed;
        }
        phase("waiting: another run is verifying this backup");
        tokio::time::sleep(POLL).await;
    };
    phase("verifying");
    let origin = Origin {
        trigger: trigger.to_owned(),
        run_id: Some(run),
    };
    let verified = ferryman_verify::verify(&shared.repo, &id, &settings(shared, cluster), &origin)
        .await
        .map_err(|e| Error::Verify(Box::new(e)))?;
    let v = &verified.verification;
    runs.update(run, index, |i| {
        i.status = Some(v.status);
        i.reasons = v
            .failures()
            .map(|c| format!("{}: {}", c.name, c.detail))
            .collect();
        i.size_change_percent = v.size_change_percent;
        i.restore_seconds = v.restore_seconds;
        i.total_seconds = Some(v.total_seconds);
    });
    emit(shared, &verified.manifest, v);
    Ok(())
}

/// A backup marked busy for as long as this lives (also when the verification is dropped).
struct Claimed<'a> {
    runs: &'a VerifyRuns,
    id: BackupId,
}

impl<'a> Claimed<'a> {
    fn new(runs: &'a VerifyRuns, id: &BackupId) -> Option<Claimed<'a>> {
        runs.claim(id).then(|| Claimed {
            runs,
            id: id.clone(),
        })
    }
}

impl Drop for Claimed<'_> {
    fn drop(&mut self) {
        self.runs.release(&self.id);
    }
}

/// A fresh logical backup of the cluster's backup source, waited for.
async fn fresh_backup(
    shared: &Arc<Services>,
    run: u64,
    index: usize,
    cluster: &ClusterConfig,
) -> Result<Manifest> {
    let job = shared
        .start_backup(&cluster.name, None, cluster.backup_logical_type, "verify")
        .await?;
    shared
        .verify_runs
        .update(run, index, |i| i.backup_job = Some(job));
    loop {
        let Some(record) = shared.registry.get(job) else {
            return Err(Error::NothingToVerify {
                detail: format!("backup job {job} vanished from the registry"),
            });
        };
        shared.verify_runs.update(run, index, |i| {
            i.server = Some(record.server.clone());
            i.phase = format!("backing up: {}", record.phase);
        });
        match record.state {
            JobState::Succeeded => {
                let backup = record.backup_id.unwrap_or_default();
                return Ok(shared.repo.get(&backup.parse()?).await?);
            }
            JobState::Failed | JobState::Cancelled => {
                return Err(Error::NothingToVerify {
                    detail: format!(
                        "the fresh logical backup (job {job}) did not succeed: {}; see `ferryman jobs show {job}`",
                        record.error.unwrap_or_else(|| "cancelled".to_owned())
                    ),
                });
            }
            _ => tokio::time::sleep(POLL).await,
        }
    }
}

/// The verifier's settings for a backup of `cluster`.
pub fn settings(shared: &Services, cluster: &ClusterConfig) -> Settings {
    let v = &shared.config.verifier;
    Settings {
        throwaway: ThrowawayOptions {
            work_dir: v.work_dir.clone(),
            buffer_pool_mib: v.buffer_pool_mib,
            start_timeout: v.start_timeout,
        },
        size_change_percent: v.size_change_percent,
        check_tables: v.check_tables,
        restore_timeout: v.restore_timeout,
        expected_databases: cluster.verify.expected_databases.clone(),
        nonempty_tables: cluster
            .verify
            .nonempty_tables
            .iter()
            .map(|t| (t.database.clone(), t.table.clone()))
            .collect(),
    }
}

fn emit(shared: &Services, manifest: &Manifest, v: &Verification) {
    let (kind, severity, message) = match v.status {
        Status::Ok => (
            EventKind::VerificationPassed,
            Severity::Info,
            format!(
                "backup {} verified: restored in {:.1} s",
                manifest.id,
                v.restore_seconds.unwrap_or_default()
            ),
        ),
        Status::Failed => (
            EventKind::VerificationFailed,
            Severity::Error,
            format!(
                "backup {} FAILED verification: {}; do not rely on it: `ferryman backup show {}` has every check",
                manifest.id,
                v.summary(),
                manifest.id
            ),
        ),
    };
    shared.events.emit(NewEvent {
        kind,
        severity,
        cluster: manifest.cluster.clone(),
        server: Some(manifest.server.clone()),
        backup: Some(manifest.id.to_string()),
        message,
    });
}
