//! Staging and import directories of reseeds that will never finish: an agent killed (or a
//! host rebooted) while a payload was arriving leaves `.<name>.ferryman-reseed-<id>` (and,
//! for a dump, `.<name>.ferryman-import-<id>` with its private server) next to the datadir,
//! sometimes gigabytes, forever.
//!
//! An agent starting up removes those it can prove are its own and unused: named after this
//! server's datadir, with no swap record (a swap in progress is `recover.rs`'s), no job row
//! being run by a live agent, and no process in them but an import server of that very job
//! (stopped first). An old datadir (`-old-`) is never removed here: it may be the only copy.

use std::path::{Path, PathBuf};

use ferryman_config::ServerConfig;
use ferryman_exec::process;
use ferryman_jobs::{JobId, JobStatus, JobsConn};

use super::files::{processes_in, remove_tree};
use super::record::SwapRecord;
use crate::reaper::Claimant;

/// The kinds of leftover removed, by the word in their names.
const KINDS: [&str; 3] = ["reseed", "import", "failed"];

/// Removes the unused reseed leftovers next to `server`'s datadir; returns what was removed.
pub(crate) async fn remove_unused(
    server: &ServerConfig,
    conn: &mut JobsConn,
    swaps: &Path,
) -> Vec<PathBuf> {
    let Some(datadir) = server
        .datadir
        .as_ref()
        .and_then(|d| std::fs::canonicalize(d).ok())
    else {
        return Vec::new();
    };
    let (Some(parent), Some(name)) = (datadir.parent(), datadir.file_name()) else {
        return Vec::new();
    };
    let name = name.to_string_lossy();
    let Ok(entries) = std::fs::read_dir(parent) else {
        return Vec::new();
    };
    let me = Claimant::me();
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(id) = KINDS.iter().find_map(|kind| {
            file.strip_prefix(&format!(".{name}.ferryman-{kind}-"))
                .and_then(|id| id.parse::<u64>().ok())
        }) else {
            continue;
        };
        let path = entry.path();
        if SwapRecord::path(swaps, id).exists() {
            continue;
        }
        if let Some(by) = running_elsewhere(conn, id, &me).await {
            tracing::info!(dir = %path.display(), job_id = id, claimed_by = %by, "a reseed directory of a job another agent runs: left alone");
            continue;
        }
        if !stop_import_server(&path, parent, &name, id) {
            continue;
        }
        let bytes = size_of(&path);
        match remove_tree(&path).await {
            Ok(()) => {
                tracing::warn!(dir = %path.display(), job_id = id, bytes, "removed a reseed directory left by an agent that stopped before the reseed ended");
                removed.push(path);
            }
            Err(e) => {
                tracing::warn!(dir = %path.display(), error = %e, "cannot remove a reseed directory left by a stopped agent: remove it by hand")
            }
        }
    }
    removed
}

/// The claimant of job `id` when it is being run by an agent that is alive (or that cannot be
/// known to be dead).
async fn running_elsewhere(conn: &mut JobsConn, id: u64, me: &Claimant) -> Option<String> {
    let row = conn.get(JobId(id)).await.ok()?;
    let JobStatus::Running {
        claimed_by: Some(by),
    } = row.status()
    else {
        return None;
    };
    match Claimant::parse(&by) {
        Some(c) if c == *me => None,
        Some(c) if c.is_dead_here(me) => None,
        _ => Some(by),
    }
}

/// Stops the import server of job `id` still running on `dir` (a `mariadbd` whose command line
/// names this job's staging directory); true when no process is left in `dir`.
fn stop_import_server(dir: &Path, parent: &Path, name: &str, id: u64) -> bool {
    let staging = parent
        .join(format!(".{name}.ferryman-reseed-{id}"))
        .display()
        .to_string();
    let mut pids = processes_in(dir);
    pids.extend(naming(dir));
    pids.sort_unstable();
    pids.dedup();
    for pid in pids {
        if !process::cmdline(pid).contains(&staging) {
            tracing::warn!(dir = %dir.display(), pid, "a process other than an import server uses a reseed directory: left alone");
            return false;
        }
        tracing::warn!(
            pid,
            job_id = id,
            "stopping the import server of a reseed whose agent stopped"
        );
        if let Err(e) = process::kill_now(pid) {
            tracing::warn!(pid, error = %e, "cannot stop a leftover import server");
            return false;
        }
    }
    true
}

/// Processes whose command line names `dir`.
fn naming(dir: &Path) -> Vec<u32> {
    let text = dir.display().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let me = std::process::id();
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != me && process::cmdline(*pid).contains(&text))
        .collect()
}

/// Bytes under `dir` (for the log line).
fn size_of(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_owned()];
    while let Some(p) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if meta.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&p) {
                stack.extend(entries.flatten().map(|e| e.path()));
            }
        } else {
            total += meta.len();
        }
    }
    total
}
