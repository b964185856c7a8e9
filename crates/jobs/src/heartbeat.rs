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
use crate::Result;

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
        let rows: Vec<(String, Option<String>, Option<String>, i64)> = self
            .rows(
                &["SELECT `server`, `claimant`, `version`, \
                   GREATEST(TIMESTAMPDIFF(SECOND, `seen`, NOW()), 0) FROM {agents} \
                   ORDER BY `server`"],
                (),
                || "read the agents' heartbeats".to_owned(),
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|(server, claimant, version, age)| Heartbeat {
                server,
                claimant,
                version,
                age_s: u64::try_from(age).unwrap_or(0),
            })
            .collect())
    }
}
