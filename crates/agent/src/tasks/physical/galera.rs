//! A physical backup of a Galera node: `--galera-info` (the tool writes the node's cluster
//! UUID and seqno into `xtrabackup_galera_info`, which the manager records in the manifest),
//! and, with the cluster's `backup-galera-desync`, the node desynced while the backup runs.
//!
//! # Safety
//! `wsrep_desync` is global and outlives the session that set it: a node left desynced never
//! rejoins flow control and silently lags. So the desync is marked durably first (a file
//! `desynced` in the agent's directory naming the agent), undone on every path of the job,
//! and a marked desync whose agent died is undone by the next agent before its first pass
//! ([`resync_left_desynced`]). A node that was desynced before the job (by a DBA) is left as
//! it was: the manager does not choose such a node, and an agent never undoes what it did
//! not do.

use std::path::{Path, PathBuf};

use ferryman_db::mysql_async::Conn;
use ferryman_db::{wsrep, Connection, Endpoint, Session};

use super::TaskCtx;
use crate::durable;
use crate::reaper::Claimant;
use crate::{Error, Result};

/// The mark of a desync in progress, in the agent's directory for its server.
const MARK: &str = "desynced.json";

/// What the mark holds: the agent that desynced the node.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Mark {
    /// `ferryman-agent@HOST:PID`.
    desynced_by: String,
}

/// What a backup does on a Galera node.
pub(super) struct GaleraBackup {
    /// The session that desynced the node (kept open to resync it), when it did.
    desynced: Option<Connection>,
    /// A note for the job's result.
    pub(super) note: String,
}

impl GaleraBackup {
    /// `None` when the server is not a Galera node. Otherwise checks the node can give a
    /// backup (in the Primary component) and desyncs it when configured.
    pub(super) async fn begin(ctx: &TaskCtx<'_>) -> Result<Option<GaleraBackup>> {
        let mut conn = ctx.endpoint.connect(Session::Plain).await?;
        let Some(status) = wsrep::read(ctx.endpoint, &mut conn).await? else {
            return Ok(None);
        };
        if status.cluster_status != "Primary" {
            return Err(Error::Unsuitable {
                server: ctx.server.name.clone(),
                problem: format!("the Galera node is {}", status.describe()),
                next_step: "a node outside the Primary component holds data the cluster may have \
                            moved past: back up a node of the Primary component (the manager picks \
                            one by itself unless `db-servers-backup-hosts` names this one)"
                    .to_owned(),
            });
        }
        if !ctx.server.galera_desync || status.desync {
            let note = if status.desync {
                "Galera node already desynced (left so)"
            } else {
                "Galera node"
            };
            return Ok(Some(GaleraBackup {
                desynced: None,
                note: format!("{note}, seqno {} at the start", status.last_committed),
            }));
        }
        let mark = mark_path(ctx.work_dir);
        durable::write_json(
            &mark,
            &Mark {
                desynced_by: Claimant::me().to_string(),
            },
        )?;
        if let Err(e) = wsrep::set_desync(ctx.endpoint, &mut conn, true).await {
            let _ = std::fs::remove_file(&mark);
            return Err(e.into());
        }
        tracing::info!(server = %ctx.server.name, "Galera node desynced for the backup");
        Ok(Some(GaleraBackup {
            desynced: Some(conn),
            note: format!(
                "Galera node desynced during the backup, seqno {} at the start",
                status.last_committed
            ),
        }))
    }

    /// Syncs the node again when this backup desynced it (whatever became of the backup).
    pub(super) async fn end(self, ctx: &TaskCtx<'_>) -> Result<()> {
        let Some(mut conn) = self.desynced else {
            return Ok(());
        };
        resync(ctx.endpoint, Some(&mut conn), ctx.work_dir).await
    }
}

/// Where the mark is kept.
fn mark_path(work_dir: &Path) -> PathBuf {
    work_dir.join(MARK)
}

/// Sets `wsrep_desync = OFF` (on `conn`, or a new session) and removes the mark.
async fn resync(endpoint: &Endpoint, conn: Option<&mut Conn>, work_dir: &Path) -> Result<()> {
    match conn {
        Some(conn) => wsrep::set_desync(endpoint, conn, false).await?,
        None => {
            let mut conn = endpoint.connect(Session::Plain).await?;
            wsrep::set_desync(endpoint, &mut conn, false).await?;
        }
    }
    let mark = mark_path(work_dir);
    durable::remove(&mark)?;
    tracing::info!(server = %endpoint.name, "Galera node synced again after its backup");
    Ok(())
}

/// Undoes a desync a dead agent left on this node (see the module's safety section). A mark
/// naming an agent that still runs on this host is left to it. Returns whether a desync was
/// undone; a failure (the server down) is logged, and the next pass tries again.
pub(crate) async fn resync_left_desynced(endpoint: &Endpoint, work_dir: &Path) -> bool {
    let mark = mark_path(work_dir);
    if !mark.exists() {
        return false;
    }
    let by = match durable::read_json::<Mark>(&mark) {
        Ok(m) => m.desynced_by,
        // A mark changed by hand: the desync is undone all the same.
        Err(_) => String::new(),
    };
    let me = Claimant::me();
    let alive =
        Claimant::parse(&by).is_some_and(|c| c != me && c.host == me.host && !c.is_dead_here(&me));
    if alive {
        return false;
    }
    match resync(endpoint, None, work_dir).await {
        Ok(()) => {
            tracing::warn!(server = %endpoint.name, left_by = %by, "a Galera node left desynced by an interrupted backup was synced again");
            true
        }
        Err(e) => {
            tracing::warn!(server = %endpoint.name, error = %e, "a Galera node is still desynced by an interrupted backup and cannot be synced now: the next pass tries again");
            false
        }
    }
}
