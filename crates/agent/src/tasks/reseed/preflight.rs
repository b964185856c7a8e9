//! Step 1 of a reseed: the checks that refuse it before anything is touched.

use std::net::IpAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use ferryman_db::mysql_async::prelude::Queryable;
use ferryman_db::{topology, Connection, Endpoint, Session};

use super::{files, Plan, TaskCtx};
use crate::progress;
use crate::{Error, Result};

/// The payload grows a little when prepared, and the server needs room to start on it.
const SPACE_MARGIN_PERCENT: u64 = 10;

/// What the server was like before the reseed: what a rollback restores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Before {
    /// It accepted connections.
    pub answering: bool,
    /// Both of its replication threads ran.
    pub replicating: bool,
    /// Its `read_only`, when it answered: what the reseeded server gets back once it
    /// replicates (it stays `read_only` until then).
    #[serde(default)]
    pub read_only: Option<bool>,
}

impl Before {
    /// The state of a server whose reseed failed before its datadir was touched.
    pub fn untouched(&self) -> String {
        if self.answering {
            "the server was not touched: it runs on its old data as before".to_owned()
        } else {
            "the server was not touched (it was not running, and was left so)".to_owned()
        }
    }
}

/// Refuses the reseed when it would harm (see the module documentation of `reseed`); else says
/// what the server is like now.
pub(super) async fn check(ctx: &TaskCtx<'_>, plan: &Plan) -> Result<Before> {
    ctx.progress
        .set_phase("checking that the server may be reseeded");
    let params = &plan.params;
    if same_address(
        &ctx.server.host,
        ctx.server.port,
        &params.primary_host,
        params.primary_port,
    ) {
        return Err(refuse(
            ctx,
            format!(
                "it is the primary the job names ({}): reseeding it would replace the data \
                 every replica reads",
                plan.primary()
            ),
            "reseed a replica of that primary, never the primary itself",
        ));
    }
    on_disk(ctx, plan)?;
    match ctx.endpoint.connect(Session::Plain).await {
        Ok(conn) => {
            let checked = live(ctx, plan, conn).await?;
            Ok(checked)
        }
        Err(e) => {
            let pids = files::processes_in(&plan.datadir);
            if !pids.is_empty() {
                return Err(refuse(
                    ctx,
                    format!(
                        "the server does not answer ({e}) but process {} runs in its datadir \
                         `{}`, so whether it is a primary, or has replicas, cannot be checked",
                        list(&pids),
                        plan.datadir.display()
                    ),
                    "let it start (or stop it completely), then start the reseed again",
                ));
            }
            tracing::warn!(
                job_id = plan.job_id,
                server = %ctx.server.name,
                error = %e,
                "the server does not answer: reseeding it as a stopped server (only the job's primary address could be checked)"
            );
            Ok(Before {
                answering: false,
                replicating: false,
                read_only: None,
            })
        }
    }
}

/// The checks on the server itself.
async fn live(ctx: &TaskCtx<'_>, plan: &Plan, mut conn: Connection) -> Result<Before> {
    let server = &ctx.server.name;
    let sql = |action: &'static str| move |e| Error::sql(server, action, e);
    type Dirs = (
        u64,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        bool,
    );
    let row: Option<Dirs> = conn
        .query_first(
            "SELECT @@server_id, @@datadir, @@innodb_data_home_dir, \
             @@innodb_log_group_home_dir, @@innodb_undo_directory, @@read_only <> 0",
        )
        .await
        .map_err(sql("read its server_id and datadir"))?;
    let Some((server_id, datadir, data_home, log_home, undo, read_only)) = row else {
        return Err(refuse(
            ctx,
            "it returned nothing for `SELECT @@server_id, @@datadir`".to_owned(),
            "check the server",
        ));
    };
    let reported = resolve(&plan.datadir, &datadir);
    if reported != plan.datadir {
        return Err(refuse(
            ctx,
            format!(
                "the server's datadir is `{datadir}`, not `{}` as configured",
                plan.datadir.display()
            ),
            "fix `datadir` in the server's table of ferryman.toml",
        ));
    }
    for (variable, value) in [
        ("innodb_data_home_dir", data_home),
        ("innodb_log_group_home_dir", log_home),
        ("innodb_undo_directory", undo),
    ] {
        let Some(value) = value.filter(|v| !v.is_empty()) else {
            continue;
        };
        if !resolve(&plan.datadir, &value).starts_with(&plan.datadir) {
            return Err(refuse(
                ctx,
                format!(
                    "InnoDB keeps files outside the datadir ({variable} = `{value}`), and a \
                     reseed swaps the datadir as a whole: old and restored InnoDB files would \
                     be mixed"
                ),
                "reseed this server by hand",
            ));
        }
    }
    // Without PROCESS the account sees only its own sessions: no `Binlog Dump` thread would
    // ever be counted, and a primary would pass for a replica. Fail closed.
    let process: Option<u64> = conn
        .query_first(
            "SELECT COUNT(*) FROM information_schema.USER_PRIVILEGES \
             WHERE PRIVILEGE_TYPE = 'PROCESS' AND GRANTEE = CONCAT('''', \
             LEFT(CURRENT_USER(), LENGTH(CURRENT_USER()) \
             - LENGTH(SUBSTRING_INDEX(CURRENT_USER(), '@', -1)) - 1), \
             '''@''', SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')",
        )
        .await
        .map_err(sql("read whether this account may see other sessions"))?;
    if process.unwrap_or(0) == 0 {
        return Err(refuse(
            ctx,
            "this account lacks the PROCESS privilege, so it cannot see whether replicas read \
             from this server (their `Binlog Dump` threads are other accounts' sessions)"
                .to_owned(),
            "grant the account PROCESS on *.* directly, not through a role (config/grants.sql)",
        ));
    }
    let replicas: Option<u64> = conn
        .query_first(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
             WHERE COMMAND IN ('Binlog Dump', 'Binlog Dump GTID')",
        )
        .await
        .map_err(sql("count the replicas reading from it"))?;
    let replicas = replicas.unwrap_or(0);
    if replicas > 0 {
        return Err(refuse(
            ctx,
            format!(
                "{replicas} replica(s) read from it (`Binlog Dump` threads): it is a primary or \
                 an intermediate primary, whose replicas would be cut off"
            ),
            "point its replicas at another server first",
        ));
    }
    let replicating = topology::read_slave_status(ctx.endpoint, &mut conn)
        .await?
        .is_some_and(|s| s.running());
    let _ = conn.disconnect().await;
    if let Some(primary_id) = primary_server_id(ctx, plan).await {
        if primary_id == server_id {
            return Err(refuse(
                ctx,
                format!(
                    "the primary the job names ({}) answers with this server's server_id \
                     {server_id}: it is this server",
                    plan.primary()
                ),
                "reseed a replica of that primary, never the primary itself",
            ));
        }
    }
    Ok(Before {
        answering: true,
        replicating,
        read_only: Some(read_only),
    })
}

/// The `server_id` of the primary the params name, when it answers (to the agent's own
/// credential); `None` otherwise: replication will tell later whether it can be reached.
async fn primary_server_id(ctx: &TaskCtx<'_>, plan: &Plan) -> Option<u64> {
    let primary = Endpoint {
        name: plan.primary(),
        host: plan.params.primary_host.clone(),
        port: plan.params.primary_port,
        socket: None,
        user: ctx.endpoint.user.clone(),
        password: ctx.endpoint.password.clone(),
        // The primary is a server of the same cluster: its connections are secured alike.
        ssl: ctx.endpoint.ssl.clone(),
    };
    let mut conn = match primary.connect(Session::Plain).await {
        Ok(conn) => conn,
        Err(e) => {
            tracing::info!(job_id = plan.job_id, primary = %plan.primary(), error = %e, "cannot reach the primary to compare server_ids; going on");
            return None;
        }
    };
    let id: Option<u64> = conn.query_first("SELECT @@server_id").await.ok().flatten();
    let _ = conn.disconnect().await;
    id
}

/// The checks that need only the file system.
fn on_disk(ctx: &TaskCtx<'_>, plan: &Plan) -> Result<()> {
    let datadir = &plan.datadir;
    let parent = plan.parent();
    let meta = std::fs::metadata(datadir).map_err(Error::io("read", datadir))?;
    if !meta.is_dir() {
        return Err(refuse(
            ctx,
            format!("its datadir `{}` is not a directory", datadir.display()),
            "fix `datadir` in the server's table of ferryman.toml",
        ));
    }
    let parent_meta = std::fs::metadata(parent).map_err(Error::io("read", parent))?;
    if parent_meta.dev() != meta.dev() {
        return Err(refuse(
            ctx,
            format!(
                "its datadir `{}` is a mount point: a reseed prepares the backup next to it, \
                 on the same file system, and swaps the two by renaming",
                datadir.display()
            ),
            "mount the file system one level up and make the datadir a directory in it (e.g. \
             mount /srv/db, datadir /srv/db/mysql), or reseed by hand",
        ));
    }
    let prefix = plan.old_prefix();
    let entries = std::fs::read_dir(parent).map_err(Error::io("list", parent))?;
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let old = entry.path();
            let datadir = plan.datadir.display();
            return Err(refuse(
                ctx,
                format!(
                    "an earlier reseed left an old datadir at `{}`, and no agent has a record of                      that swap to finish or undo it",
                    old.display()
                ),
                &format!(
                    "if the server runs well on its current data and replicates, remove the old                      one (`rm -rf {old}`); to go back to it instead: stop the server, `mv                      {datadir} {datadir}.failed`, `mv {old} {datadir}`, start the server and                      check its replication; then start the reseed again",
                    old = old.display()
                ),
            ));
        }
    }
    if let Some(bytes) = plan.params.payload_bytes {
        let need = bytes + bytes / 100 * SPACE_MARGIN_PERCENT;
        let stat = nix::sys::statvfs::statvfs(parent)
            .map_err(|e| Error::io("read the free space of", parent)(e.into()))?;
        let free = stat.blocks_available().saturating_mul(stat.fragment_size());
        if free < need {
            return Err(refuse(
                ctx,
                format!(
                    "the file system of `{}` has {} free, and the backup needs about {} (a \
                     payload of {}) next to the current datadir, which stays until the \
                     reseed succeeded",
                    parent.display(),
                    progress::bytes(free),
                    progress::bytes(need),
                    progress::bytes(bytes)
                ),
                "free space on it, then start the reseed again",
            ));
        }
    }
    Ok(())
}

/// `value` (absolute, or relative to the datadir) with symbolic links resolved when it exists.
fn resolve(datadir: &Path, value: &str) -> PathBuf {
    let path = datadir.join(value.trim());
    std::fs::canonicalize(&path).unwrap_or(path)
}

/// Whether two `host:port` name the same server: same port, and the same host (ignoring case)
/// or both the loopback.
pub(super) fn same_address(a_host: &str, a_port: u16, b_host: &str, b_port: u16) -> bool {
    let loopback = |h: &str| {
        h.eq_ignore_ascii_case("localhost")
            || h.trim_matches(['[', ']'])
                .parse::<IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    };
    a_port == b_port
        && (a_host.trim().eq_ignore_ascii_case(b_host.trim())
            || (loopback(a_host) && loopback(b_host)))
}

fn refuse(ctx: &TaskCtx<'_>, problem: String, next_step: &str) -> Error {
    Error::Unsuitable {
        server: ctx.server.name.clone(),
        problem: format!("refusing to reseed it: {problem}; nothing was changed"),
        next_step: next_step.to_owned(),
    }
}

fn list(pids: &[u32]) -> String {
    pids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
