//! The file-system side of a reseed: ownership of the restored tree, renames, removals, and
//! the processes that still run in a directory.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{Plan, TaskCtx};
use crate::tasks::service::SETTLE;
use crate::{Error, Result};

/// Gives the staging tree the datadir's owner (every entry) and mode (its top), before the
/// server is stopped: the restored files must be the server's as much as the old ones were.
pub(super) async fn give_datadir_owner(plan: &Plan, staging: &Path) -> Result<()> {
    let meta = std::fs::metadata(&plan.datadir).map_err(Error::io("read", &plan.datadir))?;
    let (uid, gid, mode) = (meta.uid(), meta.gid(), meta.mode() & 0o7777);
    let root = staging.to_owned();
    let walked = tokio::task::spawn_blocking(move || give_tree(&root, uid, gid, mode)).await;
    match walked {
        Ok(res) => res,
        Err(e) => Err(Error::Io {
            action: "change the owner of",
            path: staging.to_owned(),
            source: std::io::Error::other(e.to_string()),
        }),
    }
}

/// `lchown` every entry under `root` (not following links) to `uid:gid` where it differs;
/// `chmod` `root` to `mode`.
fn give_tree(root: &Path, uid: u32, gid: u32, mode: u32) -> Result<()> {
    let mut stack = vec![root.to_owned()];
    while let Some(path) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path).map_err(Error::io("read", &path))?;
        if meta.uid() != uid || meta.gid() != gid {
            std::os::unix::fs::lchown(&path, Some(uid), Some(gid))
                .map_err(Error::io("change the owner of", &path))?;
        }
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path).map_err(Error::io("list", &path))? {
                stack.push(entry.map_err(Error::io("list", &path))?.path());
            }
        }
    }
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(mode))
        .map_err(Error::io("change the mode of", root))
}

/// Waits until no process runs in the datadir any more: a server that stopped answering may
/// still be writing (InnoDB shutdown), and a datadir must never be renamed under it.
pub(super) async fn wait_datadir_free(ctx: &TaskCtx<'_>, plan: &Plan, label: &str) -> Result<()> {
    let started = Instant::now();
    loop {
        let pids = processes_in(&plan.datadir);
        if pids.is_empty() {
            return Ok(());
        }
        if started.elapsed() > SETTLE {
            return Err(Error::Unsuitable {
                server: ctx.server.name.clone(),
                problem: format!(
                    "process {} still runs in the datadir `{}` {} s after the server stopped \
                     answering",
                    pids.iter()
                        .map(u32::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                    plan.datadir.display(),
                    SETTLE.as_secs()
                ),
                next_step: "check what it is (`ls -l /proc/PID/cwd`) and why `service-stop` does \
                            not stop it"
                    .to_owned(),
            });
        }
        ctx.progress
            .set_phase(format!("{label}waiting for the server's process to exit"));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The processes whose working directory is `dir` or under it (`mariadbd` runs in its
/// datadir). Processes this agent may not inspect are not seen.
pub(super) fn processes_in(dir: &Path) -> Vec<u32> {
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids: Vec<u32> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != me)
        .filter(|pid| {
            std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd.starts_with(dir))
        })
        .collect();
    pids.sort_unstable();
    pids
}

/// `std::fs::rename`, with the paths in the error.
pub(super) fn rename(from: &Path, to: &Path) -> Result<()> {
    std::fs::rename(from, to).map_err(|source| Error::Io {
        action: "rename",
        path: PathBuf::from(format!("{} to {}", from.display(), to.display())),
        source,
    })
}

/// Removes a directory tree off the async runtime; a missing one is no error.
pub(super) async fn remove_tree(path: &Path) -> std::io::Result<()> {
    let path = path.to_owned();
    let removed = tokio::task::spawn_blocking(move || match std::fs::remove_dir_all(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    })
    .await;
    match removed {
        Ok(res) => res,
        Err(e) => Err(std::io::Error::other(e.to_string())),
    }
}

/// [`remove_tree`], logging a failure (used where nothing else can be done about it).
pub(super) async fn remove_quietly(path: &Path) {
    if let Err(e) = remove_tree(path).await {
        tracing::warn!(dir = %path.display(), error = %e, "cannot remove a reseed's directory: remove it by hand");
    }
}

/// [`remove_tree`], noting a failure for the result.
pub(super) async fn remove_noting(path: &Path, notes: &mut Vec<String>) {
    if let Err(e) = remove_tree(path).await {
        notes.push(format!(
            "`{}` could not be removed ({e}): remove it by hand",
            path.display()
        ));
    }
}
