//! The manager's own jobs: what it dispatched, where each stands, and how to cancel one.
//!
//! A manager job wraps one row in a node's jobs table (the node job) and what the manager does
//! around it (waiting for the stream, storing the backup). Kept in memory: after a restart the
//! repository (manifests) and the nodes' tables are the record; jobs that were running are
//! failed on the nodes by their agents (the stream is gone) and their leftovers cleaned. Only
//! the id counter outlives the manager (`registry/ids.rs`): an id once shown (`jobs show 4`)
//! never names another job.

mod ids;

pub use ids::FILE as IDS_FILE;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use ferryman_proto::Task;
use serde::Serialize;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Where a manager job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
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
    /// True once the job can no longer change.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Cancelled
        )
    }
}

/// One manager job, as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
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
}

/// Every manager job since start (the newest 1000 finished ones are kept).
#[derive(Debug, Clone)]
pub struct Registry {
    inner: Arc<Mutex<Inner>>,
    /// How many jobs have ended: what [`Registry::wait_end`] waits on.
    ends: Arc<watch::Sender<u64>>,
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
    /// An empty registry whose ids continue after every id given by a manager that kept its
    /// counter in `dir` (`monitoring-datadir`).
    pub fn open(dir: &Path) -> crate::Result<Registry> {
        Ok(Registry {
            inner: Arc::new(Mutex::new(Inner {
                ids: ids::Ids::open(dir)?,
                jobs: BTreeMap::new(),
            })),
            ends: Arc::new(watch::channel(0).0),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// A new job.
    pub fn create(&self, cluster: &str, server: &str, task: Task, trigger: &str) -> JobHandle {
        let cancel = CancellationToken::new();
        let mut guard = self.lock();
        let id = guard.ids.next();
        guard.jobs.insert(
            id,
            Entry {
                record: JobRecord {
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
                },
                cancel: cancel.clone(),
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

    /// One job.
    pub fn get(&self, id: u64) -> Option<JobRecord> {
        self.with(|m| m.get(&id).map(|e| e.record.clone()))
    }

    /// Job `id` once it has ended, or as it is after `at_most` (what lets a client follow a
    /// job without polling faster than it wants to redraw). `None` when there is no such job.
    pub async fn wait_end(&self, id: u64, at_most: Duration) -> Option<JobRecord> {
        let mut ends = self.ends.subscribe();
        let deadline = tokio::time::sleep(at_most);
        tokio::pin!(deadline);
        loop {
            let record = self.get(id)?;
            if record.state.is_final() {
                return Some(record);
            }
            tokio::select! {
                changed = ends.changed() => if changed.is_err() { return self.get(id) },
                _ = &mut deadline => return self.get(id),
            }
        }
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

    /// Updates the record.
    pub fn update(&self, f: impl FnOnce(&mut JobRecord)) {
        self.registry.with(|m| {
            if let Some(e) = m.get_mut(&self.id) {
                f(&mut e.record);
            }
        });
    }

    /// Sets the phase text.
    pub fn phase(&self, phase: impl Into<String>) {
        let phase = phase.into();
        self.update(|r| r.phase = phase);
    }

    /// Ends the job.
    pub fn finish(&self, state: JobState, error: Option<String>) {
        self.update(|r| {
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
