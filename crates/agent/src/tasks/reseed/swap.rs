//! Steps 5 to 7 of a reseed: the datadir swap, catching up, removing the old datadir, and
//! putting the old datadir back when anything fails on the way.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ferryman_db::Session;
use ferryman_jobs::{Job, JobsConn};

use super::catch_up::{self, CaughtUp};
use super::preflight::Before;
use super::{interrupted, Plan, TaskCtx};
use crate::tasks::service::{self, SETTLE};
use crate::{Error, Result};

/// What the swap and the catch-up did.
#[derive(Debug)]
pub(super) struct Done {
    /// From `service-stop` to the server answering on the restored data.
    pub restarted_in: Duration,
    /// The catch-up.
    pub caught_up: CaughtUp,
    /// Things the result should say (the old datadir could not be removed…).
    pub notes: Vec<String>,
}

/// How far the swap went: what a rollback has to undo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// The datadir was not renamed (the server may have been stopped).
    Untouched,
    /// The datadir was renamed to the old path; the staging directory is still there.
    OldAside,
    /// The restored datadir is in place, the old one next to it.
    Swapped,
}

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

/// Steps 5 to 7; on failure, puts the old datadir back and says so in the error.
pub(super) async fn swap_and_catch_up(
    ctx: &TaskCtx<'_>,
    plan: &Plan,
    before: &Before,
    staging: &Path,
) -> Result<Done> {
    // From now on the jobs table may be out of reach, then hold the donor's rows for a moment:
    // the reporter must not mistake that for a cancellation.
    let mut held = Some(ctx.progress.hold_reports().await);
    let rows = read_rows(ctx, plan).await;
    let mut place = Place::Untouched;
    let outcome: std::result::Result<(Duration, CaughtUp), (&'static str, Error)> = async {
        let restarted_in = restart(ctx, plan, staging, &mut place)
            .await
            .map_err(|e| ("restarting the server on the restored data", e))?;
        catch_up::restore_jobs(ctx, rows)
            .await
            .map_err(|e| ("putting this server's job rows back", e))?;
        held = None;
        let caught_up = catch_up::replicate(ctx, plan)
            .await
            .map_err(|e| ("catching up with the primary", e))?;
        Ok((restarted_in, caught_up))
    }
    .await;
    match outcome {
        Ok((restarted_in, caught_up)) => {
            let mut notes = Vec::new();
            ctx.progress.set_phase("removing the old datadir");
            let old = plan.old();
            if let Err(e) = remove_tree(&old).await {
                tracing::warn!(dir = %old.display(), error = %e, "cannot remove the old datadir");
                notes.push(format!(
                    "the old datadir `{}` could not be removed ({e}): remove it by hand",
                    old.display()
                ));
            }
            Ok(Done {
                restarted_in,
                caught_up,
                notes,
            })
        }
        Err((stage, cause)) => {
            tracing::warn!(job_id = plan.job_id, stage, error = %cause, "reseed failed: putting the old datadir back");
            if held.is_none() {
                held = Some(ctx.progress.hold_reports().await);
            }
            let state = roll_back(ctx, plan, before, place, staging).await;
            drop(held);
            Err(plan.error(ctx, stage, cause, state))
        }
    }
}

/// This server's job rows, read before it is stopped; `None` when it does not answer (only the
/// reseed's own row is then put back).
async fn read_rows(ctx: &TaskCtx<'_>, plan: &Plan) -> Option<Vec<Job>> {
    let read = async {
        let mut conn = JobsConn::open(ctx.endpoint, ctx.jobs_schema).await?;
        let rows = conn.all().await;
        let _ = conn.close().await;
        rows
    };
    match read.await {
        Ok(rows) => Some(rows),
        Err(e) => {
            tracing::warn!(job_id = plan.job_id, error = %e, "cannot read this server's job rows: only the reseed's own row is carried over");
            None
        }
    }
}

/// Stop, swap, start (step 5). `place` follows each rename.
async fn restart(
    ctx: &TaskCtx<'_>,
    plan: &Plan,
    staging: &Path,
    place: &mut Place,
) -> Result<Duration> {
    const LABEL: &str = "restarting: ";
    let started = Instant::now();
    service::run_command(ctx, "service-stop", &ctx.server.service_stop, LABEL).await?;
    service::wait_state(ctx, false, LABEL).await?;
    wait_datadir_free(ctx, plan, LABEL).await?;
    if ctx.cancel.is_cancelled() {
        return Err(interrupted(ctx, "restarting the server"));
    }
    ctx.progress.set_phase("restarting: swapping the datadir");
    rename(&plan.datadir, &plan.old())?;
    *place = Place::OldAside;
    rename(staging, &plan.datadir)?;
    *place = Place::Swapped;
    tracing::info!(job_id = plan.job_id, datadir = %plan.datadir.display(), old = %plan.old().display(), "datadir swapped");
    if ctx.cancel.is_cancelled() {
        return Err(interrupted(ctx, "restarting the server"));
    }
    service::run_command(ctx, "service-start", &ctx.server.service_start, LABEL).await?;
    service::wait_state(ctx, true, LABEL).await?;
    Ok(started.elapsed())
}

/// Puts the old datadir back and starts the server on it when it ran before. Returns the
/// state the server was left in, for the error; never fails: a failure is described, with the
/// commands to finish by hand.
async fn roll_back(
    ctx: &TaskCtx<'_>,
    plan: &Plan,
    before: &Before,
    place: Place,
    staging: &Path,
) -> String {
    const LABEL: &str = "rolling back: ";
    let mut notes: Vec<String> = Vec::new();
    let res: Result<String> = async {
        if place == Place::Untouched {
            remove_noting(staging, &mut notes).await;
            if before.answering && !answers(ctx).await {
                service::run_command(ctx, "service-start", &ctx.server.service_start, LABEL)
                    .await?;
                service::wait_state(ctx, true, LABEL).await?;
                let replication = resume_replication(ctx, before).await;
                return Ok(format!(
                    "the datadir was not touched and the server was started again on it{replication}"
                ));
            }
            return Ok(before.untouched());
        }
        // Stopped also when it does not answer but runs (still starting, or hanging).
        if answers(ctx).await || !processes_in(&plan.datadir).is_empty() {
            service::run_command(ctx, "service-stop", &ctx.server.service_stop, LABEL).await?;
            service::wait_state(ctx, false, LABEL).await?;
        }
        wait_datadir_free(ctx, plan, LABEL).await?;
        ctx.progress.set_phase("rolling back: putting the old datadir back");
        if place == Place::Swapped {
            rename(&plan.datadir, &plan.failed_dir())?;
        }
        rename(&plan.old(), &plan.datadir)?;
        tracing::info!(job_id = plan.job_id, datadir = %plan.datadir.display(), "old datadir put back");
        remove_noting(&plan.failed_dir(), &mut notes).await;
        remove_noting(staging, &mut notes).await;
        if !before.answering {
            return Ok(format!(
                "the old data is back in `{}`; the server was not running before the reseed \
                 and was left stopped",
                plan.datadir.display()
            ));
        }
        service::run_command(ctx, "service-start", &ctx.server.service_start, LABEL).await?;
        service::wait_state(ctx, true, LABEL).await?;
        let replication = resume_replication(ctx, before).await;
        Ok(format!(
            "the old data is back in `{}` and the server was started on it, with its old \
             replication settings{replication}",
            plan.datadir.display()
        ))
    }
    .await;
    let notes: String = notes.iter().map(|n| format!("; {n}")).collect();
    match res {
        Ok(state) => format!("{state}{notes}"),
        Err(e) => {
            tracing::error!(job_id = plan.job_id, error = %e, old = %plan.old().display(), "putting the old datadir back failed: a DBA must finish by hand");
            by_hand(plan, place, &e, &notes)
        }
    }
}

/// What a DBA must do when the rollback failed.
fn by_hand(plan: &Plan, place: Place, e: &Error, notes: &str) -> String {
    let datadir = plan.datadir.display();
    let old = plan.old();
    let failed = plan.failed_dir();
    if old.exists() {
        format!(
            "putting the old data back failed too ({e}){notes}: the old datadir is `{}`; to put \
             it back by hand: stop the server, `mv {datadir} {}` (if it exists), `mv {} \
             {datadir}`, start the server and check its replication",
            old.display(),
            failed.display(),
            old.display()
        )
    } else {
        format!(
            "the old data is back in `{datadir}`{}, but starting the server on it failed \
             ({e}){notes}; start it by hand and read its error log",
            if place == Place::Untouched {
                " (it was never moved)"
            } else {
                ""
            }
        )
    }
}

/// Makes a replica that replicated before the reseed replicate again when it does not (a
/// server with `skip-slave-start`); returns a note for the state text.
async fn resume_replication(ctx: &TaskCtx<'_>, before: &Before) -> String {
    if !before.replicating {
        return String::new();
    }
    let res: Result<bool> = async {
        let mut conn = ctx.sql().await?;
        let status = ferryman_db::topology::read_slave_status(ctx.endpoint, &mut conn).await?;
        let restarted = match status {
            Some(s) if !s.running() => {
                ferryman_db::replication::start(ctx.endpoint, &mut conn).await?;
                true
            }
            _ => false,
        };
        let _ = conn.disconnect().await;
        Ok(restarted)
    }
    .await;
    match res {
        Ok(true) => " (replication started again)".to_owned(),
        Ok(false) => String::new(),
        Err(e) => format!(" (but replication could not be started again: {e})"),
    }
}

/// Whether the server accepts connections now.
async fn answers(ctx: &TaskCtx<'_>) -> bool {
    match ctx.endpoint.connect(Session::Plain).await {
        Ok(conn) => {
            let _ = conn.disconnect().await;
            true
        }
        Err(_) => false,
    }
}

/// Waits until no process runs in the datadir any more: a server that stopped answering may
/// still be writing (InnoDB shutdown), and a datadir must never be renamed under it.
async fn wait_datadir_free(ctx: &TaskCtx<'_>, plan: &Plan, label: &str) -> Result<()> {
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
fn rename(from: &Path, to: &Path) -> Result<()> {
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
async fn remove_noting(path: &Path, notes: &mut Vec<String>) {
    if let Err(e) = remove_tree(path).await {
        notes.push(format!(
            "`{}` could not be removed ({e}): remove it by hand",
            path.display()
        ));
    }
}
