//! The swap record: where a reseed's datadir swap stands, on disk, so that an agent killed in
//! the middle of it (kill -9, host reboot) leaves a replica its successor can mend.
//!
//! From the moment the server is about to be stopped until the job's outcome is written into
//! its row, the joiner keeps `work-dir/<server>/swaps/job-<id>.json` (0600, in the agent's 0700
//! work directory): the claimed row, what the reseed needs to go on (datadir, GTID, primary),
//! what the server was like before (for a rollback), this server's job rows read before the
//! stop (the restored datadir brings the donor's), and the step it is at. Each step is written
//! durably *before* it is taken (`durable.rs`), so the record never claims more than was done;
//! the renames themselves are atomic and the file system tells which of them happened.
//!
//! An agent starting up finds a record left by a dead agent and resolves it (`recover.rs`);
//! the runner removes the record once the outcome is written (or kept in `pending/`).

use std::path::{Path, PathBuf};

use ferryman_jobs::Job;
use serde::{Deserialize, Serialize};

use super::preflight::Before;
use crate::durable;
use crate::Result;

/// The environment variable of the crash test hook: when set to a step's name, the agent kills
/// itself with SIGKILL right after recording that step (`SwapRecord::enter`). Tests use
/// it to kill the agent at every step boundary; it has no other use.
pub const CRASH_AT_ENV: &str = "FERRYMAN_TEST_CRASH_AT_SWAP_STEP";

/// Where a swap stands. Each step is recorded before its action begins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "step")]
pub(crate) enum Step {
    /// The server is being stopped; nothing was renamed yet.
    Stopping,
    /// The server is stopped: datadir → old, then staging → datadir.
    Swapping,
    /// Both renames done: the server is being started on the restored data.
    Starting,
    /// The server answers on the restored data: `read_only` on, this server's rows put back.
    Restoring,
    /// `RESET SLAVE ALL`, `gtid_slave_pos` = the backup's GTID, `CHANGE MASTER`.
    Pointing,
    /// Replication points at the primary and is (being) started: from here the replica may
    /// have applied transactions, so its position must never be reset to the backup's again.
    CatchingUp,
    /// Caught up: the reseed succeeded; the old datadir is being removed.
    RemovingOld {
        /// The job's result.
        summary: String,
    },
    /// The reseed failed and the old datadir is being put back.
    RollingBack {
        /// The stage that failed.
        stage: String,
        /// Why.
        cause: String,
    },
    /// Over: the outcome only waits to be written into the row.
    Finished {
        /// True for success.
        success: bool,
        /// The job's result.
        result: String,
    },
}

impl Step {
    /// The step's name, as the crash hook and messages spell it.
    pub fn name(&self) -> &'static str {
        match self {
            Step::Stopping => "stopping",
            Step::Swapping => "swapping",
            Step::Starting => "starting",
            Step::Restoring => "restoring",
            Step::Pointing => "pointing",
            Step::CatchingUp => "catching-up",
            Step::RemovingOld { .. } => "removing-old",
            Step::RollingBack { .. } => "rolling-back",
            Step::Finished { .. } => "finished",
        }
    }

    /// What the step does, for results.
    pub fn describe(&self) -> &'static str {
        match self {
            Step::Stopping => "stopping the server",
            Step::Swapping => "swapping the datadir",
            Step::Starting => "starting the server on the restored data",
            Step::Restoring => "putting this server's job rows back",
            Step::Pointing => "pointing replication at the primary",
            Step::CatchingUp => "catching up with the primary",
            Step::RemovingOld { .. } => "removing the old datadir",
            Step::RollingBack { .. } => "putting the old datadir back",
            Step::Finished { .. } => "recording the outcome",
        }
    }
}

/// The record of one swap (see the module documentation).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SwapRecord {
    /// The claimed row, as the dead agent held it (`claimed_by` names that agent).
    pub job: Job,
    /// The datadir, symbolic links resolved (it may not exist mid-swap).
    pub datadir: PathBuf,
    /// The GTID the restored data holds (for a dump, read from it after the import).
    pub gtid: String,
    /// The staging directory that becomes the datadir.
    pub staging: PathBuf,
    /// The server before the reseed.
    pub before: Before,
    /// This server's job rows, read before the stop; `None` when they could not be read (only
    /// the reseed's own row is then put back).
    pub rows: Option<Vec<Job>>,
    /// Where the swap stands.
    pub step: Step,
}

impl SwapRecord {
    /// The record's file for job `id` in `dir`.
    pub fn path(dir: &Path, id: u64) -> PathBuf {
        dir.join(format!("job-{id}.json"))
    }

    /// Records `step` durably, then (crash test hook only) dies there when asked to.
    pub fn enter(&mut self, dir: &Path, step: Step) -> Result<()> {
        self.step = step;
        durable::write_json(&Self::path(dir, self.job.id.0), self)?;
        tracing::debug!(
            job_id = self.job.id.0,
            step = self.step.name(),
            "swap step recorded"
        );
        crash_if_asked(self.step.name());
        Ok(())
    }

    /// Every record in `dir`, oldest job first; unreadable ones are reported and skipped.
    pub fn load_all(dir: &Path) -> Result<Vec<SwapRecord>> {
        let mut out = Vec::new();
        if !dir.exists() {
            return Ok(out);
        }
        for path in durable::list(dir, "job-", ".json")? {
            match durable::read_json::<SwapRecord>(&path) {
                Ok(r) => out.push(r),
                Err(e) => tracing::error!(
                    file = %path.display(),
                    error = %e,
                    "unreadable swap record of an interrupted reseed: look next to the server's \
                     datadir for `.NAME.ferryman-old-ID` and put it back by hand if the server \
                     does not run well, then remove this file"
                ),
            }
        }
        out.sort_by_key(|r| r.job.id);
        Ok(out)
    }

    /// Removes the record of job `id` from `dir` (done once its outcome is written or kept).
    pub fn remove(dir: &Path, id: u64) -> Result<()> {
        durable::remove(&Self::path(dir, id))
    }
}

/// The crash test hook (see [`CRASH_AT_ENV`]).
fn crash_if_asked(step: &str) {
    if std::env::var(CRASH_AT_ENV).is_ok_and(|v| v == step) {
        tracing::warn!(
            step,
            "{CRASH_AT_ENV}: killing this agent with SIGKILL, as asked"
        );
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    }
}
