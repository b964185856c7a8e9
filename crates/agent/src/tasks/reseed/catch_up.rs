//! Steps 5 (end) and 6 of a reseed, on the server running on the restored datadir: its job
//! rows put back, replication pointed at the primary from the backup's GTID, and the wait
//! until it has caught up.

use std::time::{Duration, Instant};

use ferryman_db::mysql_async::prelude::Queryable;
use ferryman_db::replication::{self, Source};
use ferryman_db::topology;

use super::{interrupted, Plan, TaskCtx};
use crate::{Error, Result};

/// Seconds between the replica's attempts to reach the primary.
const CONNECT_RETRY_S: u32 = 10;
/// How often the replication status is read while catching up (one `SHOW SLAVE STATUS` on a
/// local session: cheap, and the reseed ends as soon as the replica is served).
const POLL: Duration = Duration::from_millis(100);

/// How the catch-up ended.
#[derive(Debug, Clone, Copy)]
pub(super) struct CaughtUp {
    /// `Seconds_Behind_Master` at the end.
    pub lag: u64,
    /// From `START SLAVE` until caught up.
    pub took: Duration,
}

/// Makes the server on the restored data refuse writes (`read_only`) until it replicates:
/// clients that find it must not write rows the primary never sees.
pub(super) async fn hold_writes(ctx: &TaskCtx<'_>, on: bool) -> Result<()> {
    let mut conn = ctx.sql().await?;
    conn.exec_drop("SET GLOBAL read_only = ?", (u8::from(on),))
        .await
        .map_err(|e| {
            Error::sql(
                &ctx.server.name,
                if on {
                    "make it read-only until it replicates (SET GLOBAL read_only = 1)"
                } else {
                    "give it back its read_only setting of before the reseed"
                },
                e,
            )
        })?;
    let _ = conn.disconnect().await;
    Ok(())
}

/// Points replication at the primary from the backup's GTID (`RESET SLAVE ALL`,
/// `gtid_slave_pos`, `CHANGE MASTER`), without starting it: safe to repeat as long as
/// replication was never started on the restored data.
pub(super) async fn point(ctx: &TaskCtx<'_>, plan: &Plan) -> Result<()> {
    ctx.progress
        .set_phase("catching up: pointing replication at the primary");
    let endpoint = ctx.endpoint;
    let server = &ctx.server.name;
    let mut conn = ctx.sql().await?;
    replication::stop(endpoint, &mut conn).await?;
    // The restored datadir may come from a replica, with its relay log settings.
    conn.query_drop("RESET SLAVE ALL").await.map_err(|e| {
        Error::sql(
            server,
            "clear the replication settings (RESET SLAVE ALL)",
            e,
        )
    })?;
    conn.exec_drop("SET GLOBAL gtid_slave_pos = ?", (plan.gtid.as_str(),))
        .await
        .map_err(|e| {
            Error::sql(
                server,
                format!("set gtid_slave_pos to the backup's GTID {}", plan.gtid),
                e,
            )
        })?;
    let credential = &ctx.joiner.replication;
    replication::change_master(
        endpoint,
        &mut conn,
        &Source {
            host: &plan.params.primary_host,
            port: plan.params.primary_port,
            user: &credential.user,
            password: credential
                .password
                .as_ref()
                .map(|p| p.expose_secret())
                .unwrap_or(""),
            connect_retry_s: CONNECT_RETRY_S,
            ssl: Some(&endpoint.ssl),
            ignore_domain_ids: None,
        },
    )
    .await?;
    let _ = conn.disconnect().await;
    Ok(())
}

/// Starts replication (pointed by [`point`]) and waits until the replica has caught up (both
/// threads running, the primary sending its binary log, lag at most `catch-up-max-lag`),
/// failing early when a thread stops with an error, else after `catch-up-timeout`.
pub(super) async fn replicate(ctx: &TaskCtx<'_>, plan: &Plan) -> Result<CaughtUp> {
    let endpoint = ctx.endpoint;
    let server = &ctx.server.name;
    let mut conn = ctx.sql().await?;
    replication::start(endpoint, &mut conn).await?;
    let started = Instant::now();
    let max_lag = ctx.joiner.catch_up_max_lag.as_secs();
    let timeout = ctx.joiner.catch_up_timeout;
    let fail = |why: String, detail: String| Error::CatchUp {
        server: server.clone(),
        primary: plan.primary(),
        why,
        detail,
        gtid: plan.gtid.clone(),
    };
    loop {
        let status = topology::read_slave_status(endpoint, &mut conn).await?;
        let Some(s) = status else {
            return Err(fail(
                ": its replication settings vanished after CHANGE MASTER".to_owned(),
                "no SHOW SLAVE STATUS row".to_owned(),
            ));
        };
        let lag = s.seconds_behind_master;
        if s.receiving() && lag.is_some_and(|l| l <= max_lag) {
            let _ = conn.disconnect().await;
            return Ok(CaughtUp {
                lag: lag.unwrap_or(0),
                took: started.elapsed(),
            });
        }
        let detail = describe(&s);
        if s.sql_running == "No" && !s.last_sql_error.is_empty() {
            return Err(fail(": its SQL thread stopped".to_owned(), detail));
        }
        // `Connecting` is worth waiting for (the primary may be restarting); a stopped I/O
        // thread with an error is not (e.g. 1236: the GTID is no longer in the binary logs).
        if s.io_running == "No" && !s.last_io_error.is_empty() {
            return Err(fail(": its I/O thread stopped".to_owned(), detail));
        }
        if started.elapsed() >= timeout {
            return Err(fail(
                format!(" within {} s (`agent.catch-up-timeout`)", timeout.as_secs()),
                detail,
            ));
        }
        ctx.progress.set_phase(match lag {
            Some(l) => format!("catching up: lag {l} s"),
            None => format!(
                "catching up: I/O thread {}, SQL thread {}",
                s.io_running, s.sql_running
            ),
        });
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = ctx.cancel.cancelled() => {
                let _ = conn.disconnect().await;
                return Err(interrupted(ctx, "catching up with the primary"));
            }
        }
    }
}

/// `I/O thread Yes, SQL thread No, lag unknown, SQL error: …`.
fn describe(s: &ferryman_db::SlaveStatus) -> String {
    let mut out = format!(
        "I/O thread {}, SQL thread {}, lag {}",
        s.io_running,
        s.sql_running,
        s.seconds_behind_master
            .map(|l| format!("{l} s"))
            .unwrap_or_else(|| "unknown".to_owned())
    );
    if !s.last_io_error.is_empty() {
        out.push_str(&format!(", I/O error: {}", s.last_io_error));
    }
    if !s.last_sql_error.is_empty() {
        out.push_str(&format!(", SQL error: {}", s.last_sql_error));
    }
    out
}
