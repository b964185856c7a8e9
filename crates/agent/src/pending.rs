//! Outcomes that could not be written into the jobs table yet, kept on disk until they can.
//!
//! The server a job ran on may be down when the job ends: the `stop` task stops it, a
//! `restart` drops every connection, a crash may happen at any time. The outcome is then saved
//! here, durably (write, fsync, rename, fsync the directory), and recorded on a later pass, so
//! no job stays `processing` and no verdict is lost, even if the agent itself restarts.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use ferryman_jobs::{ClaimedJob, JobId, JobsConn, Verdict};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// One outcome waiting to be recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PendingOutcome {
    /// The job.
    pub job_id: u64,
    /// Who holds the claim (needed to finish it).
    pub claimant: String,
    /// True for success.
    pub success: bool,
    /// The result text.
    pub result: String,
}

/// The directory of pending outcomes of one served server.
#[derive(Debug, Clone)]
pub(crate) struct Journal {
    dir: PathBuf,
}

impl Journal {
    /// The journal in `dir` (created, mode 0700: results may quote tool output).
    pub fn open(dir: PathBuf) -> Result<Journal> {
        create_private_dir(&dir)?;
        Ok(Journal { dir })
    }

    /// Saves `outcome` durably. Returns the file's path.
    pub fn save(&self, outcome: &PendingOutcome) -> Result<PathBuf> {
        let path = self.dir.join(format!("job-{}.json", outcome.job_id));
        let tmp = self.dir.join(format!(".job-{}.json.tmp", outcome.job_id));
        let text = serde_json::to_vec_pretty(outcome).map_err(|e| Error::Io {
            action: "encode a pending outcome for",
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        let mut file = fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&tmp)
            .map_err(Error::io("create", &tmp))?;
        file.write_all(&text).map_err(Error::io("write", &tmp))?;
        file.sync_all().map_err(Error::io("sync", &tmp))?;
        drop(file);
        fs::rename(&tmp, &path).map_err(Error::io("rename into place", &path))?;
        // The rename is durable only once the directory itself is synced.
        fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(Error::io("sync directory", &self.dir))?;
        Ok(path)
    }

    /// Every saved outcome, oldest job first. Unreadable files are reported and skipped.
    pub fn load(&self) -> Result<Vec<(PathBuf, PendingOutcome)>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(Error::io("read directory", &self.dir))? {
            let path = entry
                .map_err(Error::io("read directory", &self.dir))?
                .path();
            let is_outcome = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("job-") && n.ends_with(".json"));
            if !is_outcome {
                continue;
            }
            match fs::read(&path).map_err(|e| e.to_string()).and_then(|b| {
                serde_json::from_slice::<PendingOutcome>(&b).map_err(|e| e.to_string())
            }) {
                Ok(o) => out.push((path, o)),
                Err(e) => {
                    tracing::warn!(file = %path.display(), error = %e, "unreadable pending outcome: move it away or delete it");
                }
            }
        }
        out.sort_by_key(|(_, o)| o.job_id);
        Ok(out)
    }

    /// Records every saved outcome through `conn`. Stops at the first connection error (the
    /// server is still away: try again next pass); an outcome whose claim is gone (the job
    /// was cancelled or recorded meanwhile) is dropped with a warning. Returns how many were
    /// recorded.
    pub async fn flush(&self, conn: &mut JobsConn) -> Result<usize> {
        let mut recorded = 0;
        for (path, o) in self.load()? {
            let id = JobId(o.job_id);
            let verdict = if o.success {
                Verdict::Success
            } else {
                Verdict::Failure
            };
            let res = match ClaimedJob::resume(conn, id, &o.claimant).await {
                Ok(claimed) => claimed.finish(conn, verdict, &o.result).await,
                Err(e) => Err(e),
            };
            match res {
                Ok(()) => {
                    tracing::info!(
                        job_id = o.job_id,
                        "recorded an outcome kept while the server was away"
                    );
                    recorded += 1;
                }
                Err(e) if e.is_claim_gone() => {
                    tracing::warn!(job_id = o.job_id, error = %e, "dropping a kept outcome: the job is no longer ours to finish");
                }
                Err(e) => return Err(e.into()),
            }
            if let Err(e) = fs::remove_file(&path) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    return Err(Error::Io {
                        action: "remove",
                        path,
                        source: e,
                    });
                }
            }
        }
        Ok(recorded)
    }
}

/// Creates `dir` (and parents) with mode 0700 for the last component.
pub(crate) fn create_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(Error::io("create directory", dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_survive_in_the_journal_until_removed() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(dir.path().join("pending")).unwrap();
        let a = PendingOutcome {
            job_id: 12,
            claimant: "ferryman-agent@h:1".into(),
            success: false,
            result: "stop: done".into(),
        };
        let b = PendingOutcome {
            job_id: 3,
            ..a.clone()
        };
        journal.save(&a).unwrap();
        journal.save(&b).unwrap();
        // Reopening (a restarted agent) finds both, oldest job first.
        let again = Journal::open(dir.path().join("pending")).unwrap();
        let loaded: Vec<u64> = again
            .load()
            .unwrap()
            .into_iter()
            .map(|(_, o)| o.job_id)
            .collect();
        assert_eq!(loaded, [3, 12]);
        std::fs::write(dir.path().join("pending/job-99.json"), "garbage").unwrap();
        assert_eq!(again.load().unwrap().len(), 2, "garbage is skipped");
    }
}
