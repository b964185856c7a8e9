//! Pointing a replica at its primary with GTID, starting and stopping replication.

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use crate::quoted::{self, Piece};
use crate::{Endpoint, Result};

/// Where a replica reads from, and as whom.
#[derive(Debug, Clone)]
pub struct Source<'a> {
    /// Primary's host.
    pub host: &'a str,
    /// Primary's port.
    pub port: u16,
    /// Replication user.
    pub user: &'a str,
    /// Replication password (empty for none).
    pub password: &'a str,
    /// Seconds between reconnection attempts when the primary is unreachable.
    pub connect_retry_s: u32,
}

/// `CHANGE MASTER TO` the given source with `master_use_gtid=slave_pos`: the replica continues
/// from the GTIDs it has applied, whatever the source's binlog file names are.
pub async fn change_master(
    endpoint: &Endpoint,
    conn: &mut Conn,
    source: &Source<'_>,
) -> Result<()> {
    quoted::execute(
        endpoint,
        conn,
        "point replication at the primary (CHANGE MASTER TO)",
        &[
            Piece::Sql("CHANGE MASTER TO master_host = "),
            Piece::Value(source.host),
            Piece::Sql(", master_port = "),
            Piece::Int(i64::from(source.port)),
            Piece::Sql(", master_user = "),
            Piece::Value(source.user),
            Piece::Sql(", master_password = "),
            Piece::Value(source.password),
            Piece::Sql(", master_use_gtid = slave_pos, master_connect_retry = "),
            Piece::Int(i64::from(source.connect_retry_s)),
        ],
    )
    .await
}

/// `START SLAVE`.
pub async fn start(endpoint: &Endpoint, conn: &mut Conn) -> Result<()> {
    conn.query_drop("START SLAVE")
        .await
        .map_err(|e| endpoint.query_error("start replication (START SLAVE)", e))
}

/// `STOP SLAVE`.
pub async fn stop(endpoint: &Endpoint, conn: &mut Conn) -> Result<()> {
    conn.query_drop("STOP SLAVE")
        .await
        .map_err(|e| endpoint.query_error("stop replication (STOP SLAVE)", e))
}
