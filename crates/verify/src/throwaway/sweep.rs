//! Leftovers of a verifier that stopped mid-restore (a crash, a kill -9): directories and,
//! maybe, a server still running in one.

use std::path::{Path, PathBuf};

use super::layout::{Paths, DIR_PREFIX};
use super::process;
use crate::{Error, Result};

/// Removes every throwaway directory under `work_dir` (names starting with `tw-`), after
/// killing its server and any tool still working in it, and returns the removed paths. Call
/// it before starting any throwaway server (at the manager's start): it cannot tell a live
/// verification's directory from a leftover.
///
/// A server is signalled only when its command line names the directory's defaults file, so
/// a pid file naming a PID since recycled by an unrelated process harms nothing. A missing
/// `work_dir` has nothing to sweep. Every leftover is tried; the first that could not be
/// removed is then the error.
pub fn sweep(work_dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(work_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("list", work_dir)(e)),
    };
    let mut removed = Vec::new();
    let mut failed: Option<Error> = None;
    for entry in entries {
        let entry = entry.map_err(Error::io("list", work_dir))?;
        let is_ours = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(DIR_PREFIX));
        // Never follow a symlink out of the work directory.
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if !(is_ours && is_dir) {
            continue;
        }
        let paths = Paths::new(entry.path());
        match sweep_one(&paths) {
            Ok(()) => removed.push(entry.path()),
            Err(e) => {
                tracing::warn!(dir = %entry.path().display(), error = %e, "cannot remove a leftover throwaway server");
                failed.get_or_insert(e);
            }
        }
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(removed),
    }
}

fn sweep_one(paths: &Paths) -> Result<()> {
    let dir = paths.root();
    let pid = process::read_pid_file(&paths.pid_file());
    if let Some(pid) = pid {
        if process::runs_in(pid, dir) {
            tracing::info!(pid, dir = %dir.display(), "killing the server of a leftover throwaway directory");
        } else {
            tracing::debug!(pid, dir = %dir.display(), "the pid file names no process of this directory: nothing to stop");
        }
    }
    let problems = process::kill_and_remove(dir, pid);
    let left = process::leftovers(dir, pid);
    if left.is_empty() {
        tracing::info!(dir = %dir.display(), "removed a leftover throwaway directory");
        Ok(())
    } else {
        Err(Error::Leftover {
            dir: dir.to_owned(),
            reason: problems
                .into_iter()
                .chain(left)
                .collect::<Vec<_>>()
                .join("; "),
        })
    }
}
