//! The verification runs as the API shows them, and what they share: at most `[verifier]
//! concurrency` verifications at once, and one backup verified by one item at a time.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferryman_repo::{BackupId, Manifest, Status, Timestamp};
use serde::Serialize;
use tokio::sync::{watch, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::state::State;

/// How many finished runs are remembered.
const KEEP: usize = 200;

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    /// Items are still running.
    Running,
    /// Every item has ended.
    Done,
}

/// One backup's verification in a run (or, in a fleet run, one cluster's backup and its
/// verification).
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
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
    #[schema(value_type = Option<String>, example = "ok")]
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
    pub(crate) fn new(cluster: &str) -> RunItem {
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

    pub(super) fn for_backup(manifest: &Manifest) -> RunItem {
        let mut item = RunItem::new(&manifest.cluster);
        item.describe(manifest);
        item
    }

    pub(super) fn describe(&mut self, manifest: &Manifest) {
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

/// One verification run, as the API shows it (its OpenAPI schema is derived from it).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
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
    #[schema(value_type = String, format = DateTime)]
    pub started_at: Timestamp,
    /// When its last item ended.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ended_at: Option<Timestamp>,
    /// Its items.
    #[schema(inline)]
    pub items: Vec<RunItem>,
}

/// The manager's verification runs and what they share.
#[derive(Debug)]
pub struct VerifyRuns {
    runs: Mutex<(u64, BTreeMap<u64, VerifyRun>)>,
    /// Backups being verified now.
    busy: Mutex<HashSet<BackupId>>,
    /// `[verifier] concurrency` slots.
    pub(crate) slots: Semaphore,
    /// Cancelled when the manager stops: running verifications are dropped (their throwaway
    /// servers removed) and record nothing.
    pub(crate) cancel: CancellationToken,
    /// The history every run is recorded in.
    state: Arc<State>,
    /// Bumped each time a run is done: what [`VerifyRuns::wait_done`] waits on.
    done: watch::Sender<u64>,
}

impl VerifyRuns {
    /// Runs with `concurrency` verifications at once, listing the newest runs of the history
    /// first (those a stopped manager left running recorded as interrupted).
    pub fn new(concurrency: u32, state: Arc<State>) -> VerifyRuns {
        let mut runs = BTreeMap::new();
        for mut run in state.recent_runs(KEEP) {
            if run.state == RunState::Running {
                for item in run.items.iter_mut().filter(|i| !i.done) {
                    item.done = true;
                    item.phase = "interrupted".to_owned();
                    item.error = Some("interrupted: the manager stopped during this verification (its throwaway server was removed at the next start); nothing was recorded in the backup's manifest: verify it again".to_owned());
                }
                run.state = RunState::Done;
                run.ok = Some(false);
                run.ended_at = Some(Timestamp::now());
                state.save_run(&run);
            }
            runs.insert(run.id, run);
        }
        let last = runs.keys().next_back().copied().unwrap_or(0);
        VerifyRuns {
            state,
            runs: Mutex::new((last, runs)),
            busy: Mutex::new(HashSet::new()),
            slots: Semaphore::new(usize::try_from(concurrency.max(1)).unwrap_or(1)),
            cancel: CancellationToken::new(),
            done: watch::channel(0).0,
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

    /// Run `id` once it is done, or as it is after `at_most` (what lets a client follow a run
    /// without polling faster than it wants to redraw). `None` when there is no such run.
    pub async fn wait_done(&self, id: u64, at_most: Duration) -> Option<VerifyRun> {
        crate::registry::wait_until(
            self.done.subscribe(),
            at_most,
            || self.get(id),
            |run| run.state == RunState::Done,
        )
        .await
    }

    /// Stops every running verification (manager shutdown).
    pub fn cancel_all(&self) {
        self.cancel.cancel();
    }

    fn with<T>(&self, f: impl FnOnce(&mut BTreeMap<u64, VerifyRun>) -> T) -> T {
        let mut guard = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard.1)
    }

    pub(super) fn create(&self, trigger: &str, items: Vec<RunItem>) -> VerifyRun {
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
        self.state.save_run(&run);
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

    pub(super) fn update(&self, run: u64, item: usize, f: impl FnOnce(&mut RunItem)) {
        self.with(|m| {
            let Some(r) = m.get_mut(&run) else { return };
            if let Some(i) = r.items.get_mut(item) {
                f(i);
            }
            if r.state == RunState::Running && r.items.iter().all(|i| i.done) {
                r.state = RunState::Done;
                r.ok = Some(r.items.iter().all(RunItem::is_ok));
                r.ended_at = Some(Timestamp::now());
                self.done.send_modify(|n| *n += 1);
            }
            self.state.save_run(r);
        });
    }

    /// Backups an unfinished item of some run will verify or is verifying.
    pub(crate) fn in_progress(&self) -> HashSet<String> {
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

/// A backup marked busy for as long as this lives (also when the verification is dropped).
pub(super) struct Claimed<'a> {
    runs: &'a VerifyRuns,
    id: BackupId,
}

impl<'a> Claimed<'a> {
    pub(super) fn new(runs: &'a VerifyRuns, id: &BackupId) -> Option<Claimed<'a>> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_read_that_waits_is_answered_when_the_run_is_done_or_at_its_limit() {
        let dir = tempfile::tempdir().unwrap();
        let runs = Arc::new(VerifyRuns::new(
            1,
            Arc::new(State::open(dir.path()).unwrap()),
        ));
        let run = runs.create("api", vec![RunItem::new("c"), RunItem::new("c")]);
        assert!(runs
            .wait_done(run.id + 1, Duration::from_millis(10))
            .await
            .is_none());

        // Still running at the limit: answered as it is.
        let started = std::time::Instant::now();
        let read = runs
            .wait_done(run.id, Duration::from_millis(200))
            .await
            .unwrap();
        assert_eq!(read.state, RunState::Running);
        assert!(started.elapsed() >= Duration::from_millis(200));

        // One item ends (not done yet), then the other: answered at the run's end, well
        // before the limit.
        let ends = Arc::clone(&runs);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            ends.update(run.id, 0, |i| i.done = true);
            tokio::time::sleep(Duration::from_millis(50)).await;
            ends.update(run.id, 1, |i| i.done = true);
        });
        let started = std::time::Instant::now();
        let read = runs
            .wait_done(run.id, Duration::from_secs(20))
            .await
            .unwrap();
        assert_eq!(read.state, RunState::Done);
        assert!(read.items.iter().all(|i| i.done));
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
        // Done: answered at once.
        let read = runs
            .wait_done(run.id, Duration::from_secs(20))
            .await
            .unwrap();
        assert_eq!(read.state, RunState::Done);
    }
}
