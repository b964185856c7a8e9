//! Putting the old datadir back when a reseed fails after the server was stopped (or when an
//! agent finds a swap its predecessor did not finish), and starting the server on it.

use std::path::Path;

use ferryman_db::Session;

use super::files::{processes_in, remove_noting, rename, wait_datadir_free};
use super::preflight::Before;
use super::{Plan, TaskCtx};
use crate::tasks::service;
use crate::{Error, Result};

/// How far a swap went: what a rollback has to undo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Place {
    /// The datadir was not renamed (the server may have been stopped).
    Untouched,
    /// The datadir was renamed to the old path; the staging directory is still there.
    OldAside,
    /// The restored datadir is in place, the old one next to it.
    Swapped,
}

impl Place {
    /// Where a swap stands, read from the file system: the renames are atomic, and the old
    /// path exists only once the datadir was moved there (an agent that died mid-swap).
    pub fn on_disk(plan: &Plan) -> Place {
        match (plan.old().exists(), plan.datadir.exists()) {
            (false, _) => Place::Untouched,
            (true, false) => Place::OldAside,
            (true, true) => Place::Swapped,
        }
    }
}

/// Puts the old datadir back and starts the server on it when it ran before. Returns the
/// state the server was left in, for the error; never fails: a failure is described, with the
/// commands to finish by hand.
pub(super) async fn roll_back(
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
                service::run_command(&ctx.node(), "service-start", &ctx.server.service_start, LABEL)
                    .await?;
                service::wait_state(&ctx.node(), true, LABEL).await?;
                let replication = resume_replication(ctx, before).await;
                return Ok(format!(
                    "the datadir was not touched and the server was started again on it{replication}"
                ));
            }
            return Ok(before.untouched());
        }
        // Stopped also when it does not answer but runs (still starting, or hanging).
        if answers(ctx).await || !processes_in(&plan.datadir).is_empty() {
            service::run_command(&ctx.node(), "service-stop", &ctx.server.service_stop, LABEL).await?;
            service::wait_state(&ctx.node(), false, LABEL).await?;
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
        service::run_command(&ctx.node(), "service-start", &ctx.server.service_start, LABEL).await?;
        service::wait_state(&ctx.node(), true, LABEL).await?;
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
pub(super) async fn answers(ctx: &TaskCtx<'_>) -> bool {
    match ctx.endpoint.connect(Session::Plain).await {
        Ok(conn) => {
            let _ = conn.disconnect().await;
            true
        }
        Err(_) => false,
    }
}
