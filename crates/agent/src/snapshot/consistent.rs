//! A snapshot taken while the server's commits are blocked, so that the files hold exactly
//! the transactions up to the position recorded with them.
//!
//! # Sequence
//! 1. On a session of its own: `BACKUP STAGE START`, `FLUSH`, `BLOCK_DDL`, `BLOCK_COMMIT`
//!    (MariaDB 10.4 and later: reads go on, commits and DDL wait); a server without backup
//!    stages gets `FLUSH TABLES WITH READ LOCK`.
//! 2. Read the position: GTIDs, the binlog file and position, the binlog's basename.
//! 3. Take the snapshot, at most `snapshot-timeout` (the command is killed after).
//! 4. `BACKUP STAGE END` (or `UNLOCK TABLES`), whatever step 3 did; should that fail, the
//!    session is closed, which releases the lock too.

use std::time::{Duration, Instant};

use ferryman_db::mysql_async::prelude::Queryable;
use ferryman_db::mysql_async::Row;
use ferryman_db::{Connection, Endpoint, Session};

use crate::{Error, Result};

/// Where the server stood while its commits were blocked.
#[derive(Debug, Clone, Default)]
pub(crate) struct Position {
    pub(crate) gtid_binlog_pos: String,
    pub(crate) gtid_current_pos: String,
    pub(crate) gtid_slave_pos: String,
    pub(crate) binlog_file: Option<String>,
    pub(crate) binlog_position: Option<u64>,
    pub(crate) log_bin_basename: Option<String>,
    pub(crate) server_id: u64,
    pub(crate) version: String,
    pub(crate) datadir: String,
    /// The statement that held commits.
    pub(crate) lock: &'static str,
    /// How long commits were blocked.
    pub(crate) locked: Duration,
}

const STAGES: [&str; 4] = [
    "BACKUP STAGE START",
    "BACKUP STAGE FLUSH",
    "BACKUP STAGE BLOCK_DDL",
    "BACKUP STAGE BLOCK_COMMIT",
];

/// Runs `take` with the server's commits blocked; returns the position they were blocked at.
pub(crate) async fn blocked<F>(
    endpoint: &Endpoint,
    server: &str,
    timeout: Duration,
    take: F,
) -> Result<Position>
where
    F: std::future::Future<Output = Result<()>>,
{
    let sql = |action: &str| {
        let (server, action) = (server.to_owned(), action.to_owned());
        move |e| Error::sql(&server, action, e)
    };
    let mut conn = endpoint.connect(Session::Plain).await?;
    let (lock, release) = match conn.query_drop(STAGES[0]).await {
        Ok(()) => {
            for stage in &STAGES[1..] {
                if let Err(e) = conn.query_drop(*stage).await {
                    let _ = conn.query_drop("BACKUP STAGE END").await;
                    return Err(sql(&format!("run {stage}"))(e));
                }
            }
            ("BACKUP STAGE BLOCK_COMMIT", "BACKUP STAGE END")
        }
        Err(_) => {
            conn.query_drop("FLUSH TABLES WITH READ LOCK")
                .await
                .map_err(sql("run FLUSH TABLES WITH READ LOCK"))?;
            ("FLUSH TABLES WITH READ LOCK", "UNLOCK TABLES")
        }
    };
    let since = Instant::now();
    let taken = async {
        let mut position = read_position(&mut conn, server).await?;
        match tokio::time::timeout(timeout, take).await {
            Ok(r) => r?,
            Err(_) => {
                return Err(Error::Unsuitable {
                    server: server.to_owned(),
                    problem: format!(
                        "the snapshot command did not end within {} s (`snapshot-timeout`) while the server's commits were blocked; it was stopped and the server released",
                        timeout.as_secs()
                    ),
                    next_step: "check the volume (`btrfs filesystem df`, `lvs`, `zfs list`), or raise `snapshot-timeout`".to_owned(),
                })
            }
        }
        position.lock = lock;
        Ok(position)
    }
    .await;
    let locked = since.elapsed();
    let released = conn.query_drop(release).await;
    let _ = conn.disconnect().await;
    if let Err(e) = released {
        // The session is closed: the server released the lock with it.
        tracing::warn!(%server, error = %e, "cannot end the snapshot's lock; the session was closed instead");
    }
    let mut position = taken?;
    position.locked = locked;
    Ok(position)
}

/// `@@` variables and `SHOW MASTER STATUS`.
async fn read_position(conn: &mut Connection, server: &str) -> Result<Position> {
    type Vars = (
        String,
        String,
        String,
        u64,
        String,
        String,
        i64,
        Option<String>,
    );
    let vars: Option<Vars> = conn
        .query_first(
            "SELECT @@gtid_binlog_pos, @@gtid_current_pos, @@gtid_slave_pos, @@server_id, \
             @@version, @@datadir, @@log_bin, @@log_bin_basename",
        )
        .await
        .map_err(|e| Error::sql(server, "read the GTID position", e))?;
    let (binlog, current, slave, server_id, version, datadir, log_bin, basename) =
        vars.unwrap_or_default();
    let mut position = Position {
        gtid_binlog_pos: binlog,
        gtid_current_pos: current,
        gtid_slave_pos: slave,
        server_id,
        version,
        datadir,
        log_bin_basename: basename.filter(|_| log_bin != 0),
        ..Default::default()
    };
    if log_bin != 0 {
        let row: Option<Row> = conn
            .query_first("SHOW MASTER STATUS")
            .await
            .map_err(|e| Error::sql(server, "run SHOW MASTER STATUS", e))?;
        if let Some(row) = row {
            position.binlog_file = row.get::<Option<String>, _>("File").flatten();
            position.binlog_position = row.get::<Option<u64>, _>("Position").flatten();
        }
    }
    Ok(position)
}
