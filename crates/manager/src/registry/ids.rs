//! Manager job ids that are never given twice, not even across restarts: `next-job-id` in
//! `monitoring-datadir` holds the first id no manager has reserved. Ids are reserved in blocks
//! of [`BLOCK`], the file being rewritten (durably: temp file, fsync, rename, fsync of the
//! directory) once per block, not per job; a manager starting up begins after the last block
//! reserved, so the ids a crashed manager had reserved but not used are skipped, never reused.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// The counter's file name in `monitoring-datadir`.
pub const FILE: &str = "next-job-id";

/// How many ids one write of the file reserves.
pub const BLOCK: u64 = 1000;

/// The id counter.
#[derive(Debug)]
pub(crate) struct Ids {
    /// Where reservations are kept; `None`: in memory only (tests).
    path: Option<PathBuf>,
    /// The next id to give.
    next: u64,
    /// The first id not reserved.
    end: u64,
}

impl Default for Ids {
    fn default() -> Self {
        Ids {
            path: None,
            next: 1,
            end: u64::MAX,
        }
    }
}

impl Ids {
    /// The counter kept in `dir`: reserves the first block after whatever the file says.
    pub(crate) fn open(dir: &Path) -> Result<Ids> {
        let path = dir.join(FILE);
        let start = match std::fs::read_to_string(&path) {
            Ok(text) => match text.trim().parse::<u64>() {
                Ok(n) if n > 0 => n,
                _ => {
                    return Err(Error::JobIdsCorrupt {
                        content: text.chars().take(40).collect(),
                        path,
                    })
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 1,
            Err(source) => return Err(Error::JobIds { path, source }),
        };
        let end = start.saturating_add(BLOCK);
        write_durably(&path, format!("{end}\n").as_bytes()).map_err(|source| Error::JobIds {
            path: path.clone(),
            source,
        })?;
        tracing::debug!(first = start, reserved_until = end, path = %path.display(), "job ids reserved");
        Ok(Ids {
            path: Some(path),
            next: start,
            end,
        })
    }

    /// Makes sure the next id is above `id` (one the history has, when the counter's file was
    /// lost or restored from an older copy).
    pub(crate) fn skip_past(&mut self, id: u64) {
        if self.next <= id {
            self.next = id + 1;
            self.end = self.end.min(self.next);
        }
    }

    /// The next id. Reserving the next block writes the file (a few milliseconds once every
    /// [`BLOCK`] jobs, under the registry's lock). If that fails the id is given all the same
    /// (a job must not fail for its number) and the next job tries again.
    pub(crate) fn next(&mut self) -> u64 {
        if self.next >= self.end {
            let end = self.end.saturating_add(BLOCK);
            match &self.path {
                Some(path) => match write_durably(path, format!("{end}\n").as_bytes()) {
                    Ok(()) => self.end = end,
                    Err(e) => tracing::error!(
                        path = %path.display(),
                        error = %e,
                        job_id = self.next,
                        "cannot reserve job ids: a manager restarted now could give this job's id again; check that the manager may write to `manager.monitoring-datadir`"
                    ),
                },
                None => self.end = end,
            }
        }
        let id = self.next;
        self.next += 1;
        id
    }
}

/// Writes `bytes` into `path` so that a crash leaves the old content or the new, never a part
/// (temp file beside it, fsync, rename, fsync of the directory).
pub(crate) fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or(FILE);
    let tmp = dir.join(format!(".{name}.tmp"));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restart_never_gives_an_id_again() {
        let dir = tempfile::tempdir().unwrap();
        let mut ids = Ids::open(dir.path()).unwrap();
        let first: Vec<u64> = (0..BLOCK + 5).map(|_| ids.next()).collect();
        assert_eq!(first[0], 1);
        assert_eq!(*first.last().unwrap(), BLOCK + 5);
        // The second block was reserved when the first ran out.
        let text = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        assert_eq!(text, format!("{}\n", 1 + 2 * BLOCK));
        drop(ids);
        let mut again = Ids::open(dir.path()).unwrap();
        assert_eq!(again.next(), 1 + 2 * BLOCK);
    }

    #[test]
    fn a_damaged_counter_is_refused_with_the_way_out() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), "twelve\n").unwrap();
        let e = Ids::open(dir.path()).unwrap_err().to_string();
        assert!(e.contains("holds `twelve"), "{e}");
        assert!(e.contains("write into it a number above"), "{e}");
    }
}
