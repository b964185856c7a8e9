//! The agent's heartbeat: its row in `ferryman_agents` renewed every
//! [`BEAT_EVERY`](ferryman_jobs::heartbeat::BEAT_EVERY), on a session of its own, so a backup
//! that runs for hours does not make its agent look dead (see `ferryman_jobs::heartbeat`).

use std::time::SystemTime;

use ferryman_jobs::heartbeat::BEAT_EVERY;
use ferryman_jobs::JobsConn;
use tokio_util::sync::CancellationToken;

use crate::Agent;

/// Beats until `done`. A failed beat (server down, no privilege on the table) is logged once,
/// at INFO (a server that is down is already a warning of the passes, and a server stopped on
/// request is none), until one succeeds again; the session is opened again at the next beat.
pub(crate) async fn beat_until(agent: &Agent, done: &CancellationToken) {
    let started_at = now_s();
    let mut conn: Option<JobsConn> = None;
    let mut failing = false;
    loop {
        match beat(agent, &mut conn, started_at).await {
            Ok(()) => {
                if failing {
                    tracing::info!(server = %agent.server(), "heartbeat recorded again");
                }
                failing = false;
            }
            Err(e) => {
                conn = None;
                if !failing {
                    tracing::info!(server = %agent.server(), error = %e, "cannot record this agent's heartbeat: the manager will call it silent although it runs; the next try is in {} s", BEAT_EVERY.as_secs());
                }
                failing = true;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(BEAT_EVERY) => {}
            _ = done.cancelled() => break,
        }
    }
    if let Some(conn) = conn {
        let _ = conn.close().await;
    }
}

/// When this agent started, as its row says.
pub(crate) fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// One beat (also the `--once` pass's, after the pass, on its session).
pub(crate) async fn beat(
    agent: &Agent,
    slot: &mut Option<JobsConn>,
    started_at: u64,
) -> ferryman_jobs::Result<()> {
    if slot.is_none() {
        let mut conn = JobsConn::open(&agent.endpoint, &agent.schema).await?;
        // The table may not be there yet (a server the manager has not visited, racing the
        // first pass): the pass's own `ensure` would log the failure, not this one.
        let _ = conn.ensure().await;
        *slot = Some(conn);
    }
    let Some(conn) = slot.as_mut() else {
        return Ok(());
    };
    conn.beat(
        agent.server(),
        agent.claimant(),
        env!("CARGO_PKG_VERSION"),
        started_at,
    )
    .await
}
