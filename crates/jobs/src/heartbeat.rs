//! Agent heartbeats: `ferryman_agents`, beside the jobs table, one row per server an agent
//! works for, its `seen` time renewed every [`BEAT_EVERY`] by the agent's passes.
//!
//! An idle agent claims nothing, so the jobs table cannot tell an idle agent from a dead one;
//! this row can. The manager reads the age (`NOW() - seen`, both clocks the server's, so a
//! skewed manager clock does not matter) and says `agent-silent` when it grows past
//! `manager.agent-silent-after`. A server without a row never had a Ferryman agent (a legacy
//! donor, say) and is never called silent. Like every statement of [`JobsConn`], the writes
//! are not binary-logged: each server's row is its own.

use std::time::Duration;

use crate::conn::JobsConn;
use crate::error::hint;
use crate::table::JobsTable;
use crate::{Error, Result, Schema};

/// How often an agent renews its row (at most; a pass in between writes nothing).
pub const BEAT_EVERY: Duration = Duration::from_secs(10);

/// The table, created by [`JobsConn::ensure`] when missing.
pub(crate) const CREATE_AGENTS_TABLE: [&str; 1] = ["CREATE TABLE IF NOT EXISTS {agents} (\
     `server` VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL, \
     `claimant` VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL DEFAULT NULL, \
     `version` VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL DEFAULT NULL, \
     `started` DATETIME NULL DEFAULT NULL, \
     `seen` DATETIME NOT NULL, \
     PRIMARY KEY (`server`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"];

/// One agent's row, as the manager reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    /// The server the agent works for (its `--server`).
    pub server: String,
    /// The agent process (`host:pid`).
    pub claimant: Option<String>,
    /// The agent's version.
    pub version: Option<String>,
    /// Seconds since its last beat, by the server's clock.
    pub age_s: u64,
}

impl JobsConn {
    /// Renews `server`'s row: the agent `claimant` of `version`, running since `started_at`
    /// (seconds since the epoch).
    pub async fn beat(
        &mut self,
        server: &str,
        claimant: &str,
        version: &str,
        started_at: u64,
    ) -> Result<()> {
        self.exec(
            &[
                "INSERT INTO {agents} (`server`, `claimant`, `version`, `started`, `seen`) \
               VALUES (?, ?, ?, FROM_UNIXTIME(?), NOW()) \
               ON DUPLICATE KEY UPDATE `claimant` = VALUES(`claimant`), \
               `version` = VALUES(`version`), `started` = VALUES(`started`), `seen` = NOW()",
            ],
            (server, claimant, version, started_at),
            || format!("record the agent of `{server}` as alive"),
        )
        .await?;
        Ok(())
    }

    /// Every agent row on this server (normally one: its own agent's).
    pub async fn heartbeats(&mut self) -> Result<Vec<Heartbeat>> {
        let rows = self
            .rows(&[READ_HEARTBEATS], (), || READ_ACTION.to_owned())
            .await?;
        Ok(rows.into_iter().map(heartbeat).collect())
    }
}

/// Every agent row of `schema` on the server `server` behind `conn`, a session of any kind (a
/// read needs no `sql_log_bin = 0`): the manager reads them on the connections its monitor
/// keeps open, instead of opening a jobs session to each server every round.
pub async fn read_heartbeats(
    conn: &mut ferryman_db::mysql_async::Conn,
    schema: &Schema,
    server: &str,
) -> Result<Vec<Heartbeat>> {
    use ferryman_db::mysql_async::prelude::Queryable;
    let sql = JobsTable::new(schema.clone()).sql(&[READ_HEARTBEATS]);
    match conn.exec(sql, ()).await {
        Ok(rows) => Ok(rows.into_iter().map(heartbeat).collect()),
        Err(source) => Err(Error::Query {
            server: server.to_owned(),
            action: READ_ACTION.to_owned(),
            hint: hint(&source),
            source: Box::new(source),
        }),
    }
}

/// The read of every agent row, by server name.
const READ_HEARTBEATS: &str = "SELECT `server`, `claimant`, `version`, \
     GREATEST(TIMESTAMPDIFF(SECOND, `seen`, NOW()), 0) FROM {agents} ORDER BY `server`";
/// What [`READ_HEARTBEATS`] does, for its error.
const READ_ACTION: &str = "read the agents' heartbeats";

/// One row of [`READ_HEARTBEATS`].
type HeartbeatRow = (String, Option<String>, Option<String>, i64);

fn heartbeat((server, claimant, version, age): HeartbeatRow) -> Heartbeat {
    Heartbeat {
        server,
        claimant,
        version,
        age_s: u64::try_from(age).unwrap_or(0),
    }
}
