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
    /// TLS of the replication connection, from the cluster's `db-servers-ssl-*` (its files
    /// read by the replica's server, on its host); `None`, or a plain mode, leaves the
    /// replica's own `master_ssl*` settings as they are.
    pub ssl: Option<&'a ferryman_config::DbSsl>,
    /// `IGNORE_DOMAIN_IDS`: GTID domains the replica does not apply (a Galera link's own
    /// domains in a master-master setup); `None` leaves the replica's setting as it is,
    /// `Some(&[])` clears it.
    pub ignore_domain_ids: Option<&'a [u32]>,
}

/// `CHANGE MASTER TO` the given source with `master_use_gtid=slave_pos`: the replica continues
/// from the GTIDs it has applied, whatever the source's binlog file names are.
pub async fn change_master(
    endpoint: &Endpoint,
    conn: &mut Conn,
    source: &Source<'_>,
) -> Result<()> {
    let mut pieces = vec![
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
    ];
    if let Some(domains) = source.ignore_domain_ids {
        pieces.push(Piece::Sql(", ignore_domain_ids = ("));
        for (i, d) in domains.iter().enumerate() {
            if i > 0 {
                pieces.push(Piece::Sql(", "));
            }
            pieces.push(Piece::Int(i64::from(*d)));
        }
        pieces.push(Piece::Sql(")"));
    }
    let paths: Vec<(&'static str, String)> = source
        .ssl
        .filter(|s| s.mode.encrypted())
        .map(|ssl| {
            let mut paths = Vec::new();
            if let Some(ca) = &ssl.ca {
                paths.push((", master_ssl_ca = ", ca.display().to_string()));
            }
            if let Some((cert, key)) = &ssl.client {
                paths.push((", master_ssl_cert = ", cert.display().to_string()));
                paths.push((", master_ssl_key = ", key.display().to_string()));
            }
            paths
        })
        .unwrap_or_default();
    if let Some(ssl) = source.ssl.filter(|s| s.mode.encrypted()) {
        pieces.push(Piece::Sql(
            ", master_ssl = 1, master_ssl_verify_server_cert = ",
        ));
        pieces.push(Piece::Int(i64::from(
            ssl.mode == ferryman_config::SslMode::VerifyIdentity,
        )));
        for (sql, path) in &paths {
            pieces.push(Piece::Sql(sql));
            pieces.push(Piece::Value(path));
        }
    }
    quoted::execute(
        endpoint,
        conn,
        "point replication at the primary (CHANGE MASTER TO)",
        &pieces,
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
