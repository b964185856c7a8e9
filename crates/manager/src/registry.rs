//! The manager's own jobs: what it dispatched, where each stands, and how to cancel one.
//!
//! A manager job wraps one row in a node's jobs table (the node job) and what the manager does
//! around it (waiting for the stream, storing the backup). The newest are kept in memory for
//! the API, and every job is recorded in the history (`state.rs`): when it starts, when its
//! state changes, and at most every [`SAVE_EVERY`] while its phase or byte count moves. After
//! a restart the list starts from the history; jobs that were running are recorded as
//! interrupted (their agents fail the node jobs: the stream is gone). The id counter
//! (`registry/ids.rs`) makes sure an id once shown (`jobs show 4`) never names another job.

mod ids;

pub(crate) use ids::write_durably;
pub use ids::FILE as IDS_FILE;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use ferryman_proto::Task;
use serde::Serialize;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::events::Events;
use crate::state::State;

/// Where a manager job stands.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum JobState {
    /// Created, the node job not yet inserted.
    Queued,
    /// The node job is inserted; waiting for an agent to take it (and stream).
    Waiting,
    /// Data is arriving.
    Receiving,
    /// Finished well.
    Succeeded,
    /// Finished badly: see `error`.
    Failed,
    /// Cancelled by a user.
    Cancelled,
}

impl JobState {
    /// Every state.
    pub const ALL: [JobState; 6] = [
        JobState::Queued,
        JobState::Waiting,
        JobState::Receiving,
        JobState::Succeeded,
        JobState::Failed,
        JobState::Cancelled,
    ];

    /// The state as the JSON shows it and `?state=` takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Waiting => "waiting",
            JobState::Receiving => "receiving",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    /// True once the job can no longer change.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Cancelled
        )
    }
}

/// One manager job, as the API shows it.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[schema(as = Job)]
pub struct JobRecord {
    /// Manager-wide id.
    pub id: u64,
    /// Cluster.
    pub cluster: String,
    /// Server the node job runs on.
    pub server: String,
    /// The node task.
    #[schema(value_type = String, example = "mariabackup")]
    pub task: Task,
    /// The row id in the server's jobs table, once inserted.
    pub node_job_id: Option<u64>,
    /// State.
    pub state: JobState,
    /// What it is doing now, in words.
    pub phase: String,
    /// Bytes received so far (streams), or sent to the joiner (reseeds).
    pub bytes: u64,
    /// How many bytes the stream will have, when known beforehand (a reseed from a stored
    /// backup): a progress bar's end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_total: Option<u64>,
    /// The agent's (or donor's) result text, once the node job is done.
    pub node_result: Option<String>,
    /// Why the job failed.
    pub error: Option<String>,
    /// The backup it produced.
    pub backup_id: Option<String>,
    /// Why it runs: `schedule`, `api`.
    pub trigger: String,
    /// Creation time, seconds since the epoch.
    pub created_at: u64,
    /// End time, seconds since the epoch.
    pub ended_at: Option<u64>,
}

#[derive(Debug)]
struct Entry {
    record: JobRecord,
    cancel: CancellationToken,
    /// The state last written to the history, and when.
    saved: (JobState, Instant),
    /// Whether its end is an event (`Events::job_ended`); a reseed's donor's is told by its
    /// joiners'.
    tells: bool,
}

/// A running job's progress (phase, bytes) is written to the history at most this often;
/// changes of state at once.
pub const SAVE_EVERY: Duration = Duration::from_secs(5);

/// Every manager job since start (the newest 1000 finished ones are kept).
#[derive(Debug, Clone)]
pub struct Registry {
    inner: Arc<Mutex<Inner>>,
    /// How many jobs have ended: what [`Registry::wait_end`] waits on.
    ends: Arc<watch::Sender<u64>>,
    /// The history.
    state: Arc<State>,
    /// Where a job's end is told.
    events: Arc<Events>,
}

#[derive(Debug, Default)]
struct Inner {
    ids: ids::Ids,
    jobs: BTreeMap<u64, Entry>,
}

/// How many finished jobs are remembered.
const KEEP: usize = 1000;

/// A handle through which the running code updates its job.
#[derive(Debug, Clone)]
pub struct JobHandle {
    id: u64,
    registry: Registry,
    cancel: CancellationToken,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Registry {
    /// The registry of a manager that keeps its id counter in `dir` (`monitoring-datadir`)
    /// and its history in `state`: the newest jobs of the history listed (those that were
    /// running recorded as interrupted), ids continuing after every id given before.
    pub fn open(dir: &Path, state: Arc<State>, events: Arc<Events>) -> crate::Result<Registry> {
        let mut ids = ids::Ids::open(dir)?;
        let mut jobs = BTreeMap::new();
        for mut record in state.recent_jobs(KEEP) {
            ids.skip_past(record.id);
            if !record.state.is_final() {
                record.error = Some(format!(
                    "interrupted: the manager stopped while this job was {}; its node job is failed by the agent (the stream is gone) and nothing partial was recorded as a backup: start it again",
                    record.phase
                ));
                record.state = JobState::Failed;
                record.phase = "failed".to_owned();
                record.ended_at = Some(now());
                state.save_job(&record);
            }
            let saved = (record.state, Instant::now());
            jobs.insert(
                record.id,
                Entry {
                    record,
                    cancel: CancellationToken::new(),
                    saved,
                    tells: false,
                },
            );
        }
        Ok(Registry {
            inner: Arc::new(Mutex::new(Inner { ids, jobs })),
            ends: Arc::new(watch::channel(0).0),
            state,
            events,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// A new job, whose end is told as an event when it is a backup, reseed or flashback.
    pub fn create(&self, cluster: &str, server: &str, task: Task, trigger: &str) -> JobHandle {
        self.create_job(cluster, server, task, trigger, true)
    }

    /// A reseed's donor job: its stream feeds joiners, whose ends tell how it went.
    pub fn create_donor(
        &self,
        cluster: &str,
        server: &str,
        task: Task,
        trigger: &str,
    ) -> JobHandle {
        self.create_job(cluster, server, task, trigger, false)
    }

    fn create_job(
        &self,
        cluster: &str,
        server: &str,
        task: Task,
        trigger: &str,
        tells: bool,
    ) -> JobHandle {
        let cancel = CancellationToken::new();
        let mut guard = self.lock();
        let id = guard.ids.next();
        let record = JobRecord {
            id,
            cluster: cluster.to_owned(),
            server: server.to_owned(),
            task,
            node_job_id: None,
            state: JobState::Queued,
            phase: "queued".to_owned(),
            bytes: 0,
            bytes_total: None,
            node_result: None,
            error: None,
            backup_id: None,
            trigger: trigger.to_owned(),
            created_at: now(),
            ended_at: None,
        };
        self.state.save_job(&record);
        guard.jobs.insert(
            id,
            Entry {
                saved: (record.state, Instant::now()),
                record,
                cancel: cancel.clone(),
                tells,
            },
        );
        // Forget the oldest finished jobs beyond KEEP.
        while guard.jobs.len() > KEEP {
            let oldest_final = guard
                .jobs
                .iter()
                .find(|(_, e)| e.record.state.is_final())
                .map(|(id, _)| *id);
            match oldest_final {
                Some(id) => {
                    guard.jobs.remove(&id);
                }
                None => break,
            }
        }
        JobHandle {
            id,
            registry: self.clone(),
            cancel,
        }
    }

    /// Every job, newest first.
    pub fn list(&self) -> Vec<JobRecord> {
        self.with(|m| m.values().rev().map(|e| e.record.clone()).collect())
    }

    /// One job: from memory, else from the history (an older one).
    pub fn get(&self, id: u64) -> Option<JobRecord> {
        self.with(|m| m.get(&id).map(|e| e.record.clone()))
            .or_else(|| self.state.job(id))
    }

    /// Job `id` once it has ended, or as it is after `at_most` (what lets a client follow a
    /// job without polling faster than it wants to redraw). `None` when there is no such job.
    pub async fn wait_end(&self, id: u64, at_most: Duration) -> Option<JobRecord> {
        wait_until(
            self.ends.subscribe(),
            at_most,
            || self.get(id),
            |record| record.state.is_final(),
        )
        .await
    }

    /// Asks a job to stop. Returns false when there is no such job or it already ended.
    pub fn cancel(&self, id: u64) -> bool {
        self.with(|m| match m.get(&id) {
            Some(e) if !e.record.state.is_final() => {
                e.cancel.cancel();
                true
            }
            _ => false,
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut BTreeMap<u64, Entry>) -> T) -> T {
        f(&mut self.lock().jobs)
    }

    /// Runs `f` on job `id`'s record and writes it to the history when `now`, when its state
    /// changed, or when `SAVE_EVERY` passed since the last write. Returns what was written,
    /// and whether the job's end is told as an event.
    fn change(
        &self,
        id: u64,
        now: bool,
        f: impl FnOnce(&mut JobRecord),
    ) -> Option<(JobRecord, bool)> {
        let saved = self.with(|m| {
            let e = m.get_mut(&id)?;
            f(&mut e.record);
            let due = now || e.record.state != e.saved.0 || e.saved.1.elapsed() >= SAVE_EVERY;
            due.then(|| {
                e.saved = (e.record.state, Instant::now());
                (e.record.clone(), e.tells)
            })
        });
        if let Some((record, _)) = &saved {
            self.state.save_job(record);
        }
        saved
    }
}

impl JobHandle {
    /// The job's id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Cancelled when a user cancels the job.
    pub fn cancelled(&self) -> &CancellationToken {
        &self.cancel
    }

    /// Updates the record (progress: written to the history at most every [`SAVE_EVERY`],
    /// unless the state changes).
    pub fn update(&self, f: impl FnOnce(&mut JobRecord)) {
        let _ = self.registry.change(self.id, false, f);
    }

    /// Sets the phase text (a step of the job: written to the history at once).
    pub fn phase(&self, phase: impl Into<String>) {
        let phase = phase.into();
        let _ = self.registry.change(self.id, true, |r| r.phase = phase);
    }

    /// Ends the job.
    pub fn finish(&self, state: JobState, error: Option<String>) {
        // The state changes: always written, and returned.
        let ended = self.registry.change(self.id, true, |r| {
            r.state = state;
            r.error = error;
            r.ended_at = Some(now());
            r.phase = match state {
                JobState::Succeeded => "done".to_owned(),
                JobState::Cancelled => "cancelled".to_owned(),
                _ => "failed".to_owned(),
            };
        });
        self.registry.ends.send_modify(|n| *n += 1);
        if let Some((record, true)) = ended {
            self.registry.events.job_ended(&record);
        }
    }

    /// The current record.
    pub fn record(&self) -> Option<JobRecord> {
        self.registry.get(self.id)
    }

    /// The span the job runs in: the manager's `job_id`, the node row's `node_job_id`
    /// (recorded once the row exists), `cluster`, `server` and `task`.
    pub fn span(&self) -> tracing::Span {
        let (cluster, server, task) = self
            .record()
            .map(|r| (r.cluster, r.server, r.task.as_str()))
            .unwrap_or_default();
        tracing::info_span!(
            "job",
            job_id = self.id,
            node_job_id = tracing::field::Empty,
            %cluster,
            %server,
            task
        )
    }
}

/// What `read` finds once `ended` says so, or as it is after `at_most`; read again each time
/// `changes` moves (subscribe before anything can end: an end between the subscription and the
/// first read is not missed). `None` when `read` finds nothing. How a client follows a job or
/// a verification run to its end without polling.
pub(crate) async fn wait_until<T>(
    mut changes: watch::Receiver<u64>,
    at_most: Duration,
    read: impl Fn() -> Option<T>,
    ended: impl Fn(&T) -> bool,
) -> Option<T> {
    let deadline = tokio::time::sleep(at_most);
    tokio::pin!(deadline);
    loop {
        let now = read()?;
        if ended(&now) {
            return Some(now);
        }
        tokio::select! {
            changed = changes.changed() => if changed.is_err() { return read() },
            _ = &mut deadline => return read(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_running_when_the_manager_stopped_is_listed_as_interrupted() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let state = Arc::new(State::open(dir.path()).expect("state"));
            let events = Arc::new(Events::new(Arc::clone(&state)));
            let registry =
                Registry::open(dir.path(), Arc::clone(&state), events).expect("registry");
            let done = registry.create("c", "db1", Task::Mysqldump, "api");
            done.finish(JobState::Succeeded, None);
            let running = registry.create("c", "db2", Task::Mariabackup, "schedule");
            running.phase("receiving");
            state.close();
        }
        let state = Arc::new(State::open(dir.path()).expect("state"));
        let events = Arc::new(Events::new(Arc::clone(&state)));
        let registry =
            Registry::open(dir.path(), Arc::clone(&state), Arc::clone(&events)).expect("registry");
        let list = registry.list();
        assert_eq!(list.len(), 2, "{list:?}");
        assert_eq!(list[1].state, JobState::Succeeded);
        assert_eq!(list[0].state, JobState::Failed);
        let error = list[0].error.as_deref().unwrap_or_default();
        assert!(error.contains("while this job was receiving"), "{error}");
        // Recorded as interrupted in the history too, and ids go on after both.
        state.flush();
        assert_eq!(
            state.job(list[0].id).map(|j| j.state),
            Some(JobState::Failed)
        );
        let next = registry.create("c", "db1", Task::Mysqldump, "api");
        assert!(next.id() > list[0].id);
    }
}
