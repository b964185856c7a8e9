//! One item of a run, start to end: waiting for a slot, the fleet run's fresh logical backup,
//! the verifier, and the event its result emits.

use std::sync::Arc;
use std::time::Duration;

use ferryman_config::ClusterConfig;
use ferryman_repo::{BackupId, Manifest, Status, Verification};
use ferryman_verify::throwaway::ThrowawayOptions;
use ferryman_verify::{Origin, Settings};

use super::runs::{Claimed, RunItem, VerifyRun};
use crate::events::{EventKind, NewEvent, Severity};
use crate::registry::JobState;
use crate::{Error, Result, Services};

/// How often a fleet item looks at its backup job, and a waiting item at the busy set.
const POLL: Duration = Duration::from_millis(250);

pub(super) fn launch(
    shared: &Arc<Services>,
    trigger: &str,
    items: Vec<RunItem>,
    fleet: bool,
) -> VerifyRun {
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
    // The first repository's copy, or the next good one when it is missing or damaged.
    let expected = shared.repos.get(&id).await?;
    let (repo, note) = shared.repos.source_for(&expected).await?;
    if let Some(note) = &note {
        tracing::warn!("verification: {note}");
        phase(&format!("verifying ({note})"));
    }
    let verified = ferryman_verify::verify(repo, &id, &settings(shared, cluster), &origin)
        .await
        .map_err(|e| Error::Verify(Box::new(e)))?;
    let v = &verified.verification;
    crate::copies::mirror_verification(shared, cluster, repo, &id, v).await;
    shared.copies.wake(&cluster.name);
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
                return shared.repos.get(&backup.parse()?).await;
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
        subject: None,
        message,
    });
}
