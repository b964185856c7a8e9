//! Removing a server directory and whatever still runs in it: after a failed start, when its
//! owner is dropped, and for the leftovers of an owner that crashed ([`sweep()`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use ferryman_exec::process;

use crate::process::{processes_in, read_pid_file, runs_in};
use crate::{Error, Layout, Result};

/// Kills (SIGKILL) `pid`, when it is a process of `dir`, and every other process working in
/// the directory, then removes the directory. Blocking. Returns what could not be done.
pub fn kill_and_remove(dir: &Path, pid: Option<u32>) -> Vec<String> {
    let mut problems = Vec::new();
    let mut pids: Vec<u32> = pid.into_iter().filter(|&p| runs_in(p, dir)).collect();
    for other in processes_in(dir) {
        if !pids.contains(&other) {
            pids.push(other);
        }
    }
    for pid in pids {
        tracing::debug!(pid, dir = %dir.display(), "killing a process of a server directory");
        if let Err(e) = process::kill_now(pid) {
            problems.push(format!("process {pid}: {e}"));
        }
    }
    if let Err(e) = remove_dir(dir) {
        problems.push(format!("cannot remove the directory: {e}"));
    }
    problems
}

/// Removes `dir` and everything in it; gone already is fine. Retried a few times: a tool
/// killed an instant ago may still create a file while the tree is walked.
pub fn remove_dir(dir: &Path) -> std::io::Result<()> {
    let mut last = None;
    for attempt in 0..5u64 {
        match std::fs::remove_dir_all(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => last = Some(e),
        }
        std::thread::sleep(Duration::from_millis(50 * (attempt + 1)));
    }
    match last {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// What is left of a server directory after its removal: a process working in it, the
/// directory itself. Empty when nothing is.
pub fn leftovers(dir: &Path, pid: Option<u32>) -> Vec<String> {
    let mut pids: Vec<u32> = pid
        .into_iter()
        .chain(processes_in(dir))
        .filter(|&p| runs_in(p, dir))
        .collect();
    pids.sort_unstable();
    pids.dedup();
    let mut left: Vec<String> = pids
        .into_iter()
        .map(|p| format!("process {p} still runs (`kill -9 {p}`)"))
        .collect();
    if std::fs::symlink_metadata(dir).is_ok() {
        left.push("the directory still exists".to_owned());
    }
    left
}

/// [`kill_and_remove`], then [`leftovers`]: [`Error::Leftover`] naming what is left and why.
pub fn remove(dir: &Path, pid: Option<u32>) -> Result<()> {
    let problems = kill_and_remove(dir, pid);
    let left = leftovers(dir, pid);
    if left.is_empty() {
        return Ok(());
    }
    Err(Error::Leftover {
        dir: dir.to_owned(),
        reason: problems
            .into_iter()
            .chain(left)
            .collect::<Vec<_>>()
            .join("; "),
    })
}

/// Removes every server directory under `work_dir` whose name starts with `prefix`, after
/// killing its server and any tool still working in it, and returns the removed paths.
/// `layout` gives the files of such a directory (where its pid file is). Only for a work
/// directory whose owner has no server running: a live server's directory cannot be told
/// from a leftover.
///
/// A server is signalled only when its command line names a path inside its directory, so a
/// pid file naming a PID since recycled by an unrelated process harms nothing. A missing
/// `work_dir` has nothing to sweep; a symlink is never followed. Every leftover is tried; the
/// first that could not be removed is then the error.
pub fn sweep(
    work_dir: &Path,
    prefix: &str,
    layout: impl Fn(PathBuf) -> Layout,
) -> Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(work_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::on_path("list", work_dir, e)),
    };
    let mut removed = Vec::new();
    let mut failed: Option<Error> = None;
    for entry in entries {
        let entry = entry.map_err(|e| Error::on_path("list", work_dir, e))?;
        let is_ours = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(prefix));
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if !(is_ours && is_dir) {
            continue;
        }
        match sweep_one(&layout(entry.path())) {
            Ok(()) => removed.push(entry.path()),
            Err(e) => {
                tracing::warn!(dir = %entry.path().display(), error = %e, "cannot remove a leftover server directory");
                failed.get_or_insert(e);
            }
        }
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(removed),
    }
}

fn sweep_one(layout: &Layout) -> Result<()> {
    let dir = layout.root();
    let pid = read_pid_file(&layout.pid_file());
    if let Some(pid) = pid {
        if runs_in(pid, dir) {
            tracing::info!(pid, dir = %dir.display(), "killing the server of a leftover directory");
        } else {
            tracing::debug!(pid, dir = %dir.display(), "the pid file names no process of this directory: nothing to stop");
        }
    }
    remove(dir, pid)?;
    tracing::info!(dir = %dir.display(), "removed a leftover server directory");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_removes_prefixed_directories_only() {
        let work = tempfile::tempdir().unwrap();
        let ours = work.path().join("tw-a-1-1");
        std::fs::create_dir_all(ours.join("data")).unwrap();
        // A pid file naming this very process: never signalled.
        std::fs::write(ours.join("pid"), format!("{}\n", std::process::id())).unwrap();
        let other = work.path().join("keep");
        std::fs::create_dir_all(&other).unwrap();
        std::fs::write(work.path().join("tw-file"), "").unwrap();
        let removed = sweep(work.path(), "tw-", |root| {
            let pid = root.join("pid");
            Layout::new(root).with_pid_file(pid)
        })
        .unwrap();
        assert_eq!(removed, std::slice::from_ref(&ours));
        assert!(!ours.exists() && other.exists());
        assert_eq!(
            sweep(&work.path().join("missing"), "tw-", Layout::new).unwrap(),
            Vec::<PathBuf>::new()
        );
    }
}
