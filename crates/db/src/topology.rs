//! What a server says about itself: role, GTID positions, replication threads and lag.

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row, Value};
use serde::Serialize;

use crate::wsrep::Wsrep;
use crate::{Connection, Endpoint, Error, Result};

/// A server's place in its replication topology, as the server reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Not replicating from anyone.
    Primary,
    /// Configured to replicate from another server.
    Replica,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Primary => "primary",
            Role::Replica => "replica",
        })
    }
}

/// State of a server read live from it.
#[derive(Debug, Clone, Serialize)]
pub struct ServerStatus {
    /// `@@version`.
    pub version: String,
    /// `@@server_id`.
    pub server_id: u64,
    /// `@@read_only`.
    pub read_only: bool,
    /// `@@log_bin`.
    pub log_bin: bool,
    /// GTIDs in the server's binary log (MariaDB `@@gtid_binlog_pos`, MySQL `@@gtid_executed`).
    pub gtid_binlog_pos: String,
    /// GTIDs applied by replication (MariaDB `@@gtid_slave_pos`; empty on MySQL).
    pub gtid_slave_pos: String,
    /// Role derived from the replication configuration.
    pub role: Role,
    /// Replication state, when the server is a replica.
    pub replication: Option<SlaveStatus>,
    /// The Galera status, when the server is a Galera node.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub galera: Option<Wsrep>,
}

/// The interesting columns of `SHOW SLAVE STATUS`.
#[derive(Debug, Clone, Serialize)]
pub struct SlaveStatus {
    /// Primary's host.
    pub master_host: String,
    /// Primary's port.
    pub master_port: u16,
    /// `Yes`, `No` or `Connecting`.
    pub io_running: String,
    /// `Yes` or `No`.
    pub sql_running: String,
    /// Lag in seconds; `None` when the SQL thread is not running.
    pub seconds_behind_master: Option<u64>,
    /// `Slave_Pos`, `Current_Pos` or `No` (MariaDB).
    pub using_gtid: String,
    /// Last I/O thread error, empty when none.
    pub last_io_error: String,
    /// Last SQL thread error, empty when none.
    pub last_sql_error: String,
    /// The primary's binary log the I/O thread reads (`Master_Log_File`); empty until the
    /// primary has sent its first event.
    pub master_log_file: String,
}

impl SlaveStatus {
    /// True when both replication threads run.
    pub fn running(&self) -> bool {
        self.io_running == "Yes" && self.sql_running == "Yes"
    }

    /// True when both threads run *and* the primary has accepted the replica's position and
    /// sent its binary log. Right after `START SLAVE` the I/O thread says `Yes` with a lag of
    /// 0 before the primary has answered its dump request; a position the primary refuses
    /// (error 1236) then stops it. Only an event received (the primary's rotate, which names
    /// `Master_Log_File`) proves the primary serves this replica.
    pub fn receiving(&self) -> bool {
        self.running() && !self.master_log_file.is_empty()
    }
}

/// Reads the status of the server behind `conn`.
pub async fn read(endpoint: &Endpoint, conn: &mut Conn) -> Result<ServerStatus> {
    const ACTION: &str = "read server status";
    let row: Option<(String, u64, i64, i64)> = conn
        .query_first("SELECT @@version, @@server_id, @@read_only, @@log_bin")
        .await
        .map_err(|e| endpoint.query_error(ACTION, e))?;
    let (version, server_id, read_only, log_bin) = row.ok_or_else(|| Error::Unexpected {
        server: endpoint.name.clone(),
        action: ACTION,
        detail: "no row for SELECT @@version".into(),
    })?;
    let mariadb = version.contains("MariaDB");
    // MariaDB's positions and whether it is a Galera node in one question (a monitor asks a
    // thousand servers every few seconds); `wsrep_on` through the table, which has no row
    // rather than an error on a server built without Galera.
    let (gtid_binlog_pos, gtid_slave_pos, wsrep_on): (String, String, bool) = if mariadb {
        let row: Option<(String, String, Option<String>)> = conn
            .query_first(
                "SELECT @@gtid_binlog_pos, @@gtid_slave_pos, (SELECT VARIABLE_VALUE \
                 FROM information_schema.GLOBAL_VARIABLES WHERE VARIABLE_NAME = 'WSREP_ON')",
            )
            .await
            .map_err(|e| endpoint.query_error(ACTION, e))?;
        let (binlog, slave, on) = row.unwrap_or_default();
        let on = on.is_some_and(|v| v.eq_ignore_ascii_case("ON"));
        (binlog, slave, on)
    } else {
        let executed: Option<String> = conn
            .query_first("SELECT @@gtid_executed")
            .await
            .map_err(|e| endpoint.query_error(ACTION, e))?;
        (executed.unwrap_or_default(), String::new(), false)
    };
    let replication = read_slave_status(endpoint, conn).await?;
    let galera = if wsrep_on {
        Some(crate::wsrep::read_on(endpoint, conn).await?)
    } else {
        None
    };
    Ok(ServerStatus {
        version,
        server_id,
        read_only: read_only != 0,
        log_bin: log_bin != 0,
        gtid_binlog_pos: gtid_binlog_pos.replace('\n', ""),
        gtid_slave_pos: gtid_slave_pos.replace('\n', ""),
        role: if replication.is_some() {
            Role::Replica
        } else {
            Role::Primary
        },
        replication,
        galera,
    })
}

/// `SHOW SLAVE STATUS` of the default connection; `None` when no primary is configured.
pub async fn read_slave_status(
    endpoint: &Endpoint,
    conn: &mut Conn,
) -> Result<Option<SlaveStatus>> {
    let row: Option<Row> = conn
        .query_first("SHOW SLAVE STATUS")
        .await
        .map_err(|e| endpoint.query_error("read replication status (SHOW SLAVE STATUS)", e))?;
    let Some(row) = row else { return Ok(None) };
    // MySQL 8.0.22+ names the same columns Source_*/Replica_*: accept either.
    let text = |names: &[&str]| -> String {
        names
            .iter()
            .find_map(|n| column(&row, n))
            .map(value_text)
            .unwrap_or_default()
    };
    let master_host = text(&["Master_Host", "Source_Host"]);
    if master_host.is_empty() {
        // RESET SLAVE (without ALL) leaves an empty row behind: not a replica.
        return Ok(None);
    }
    Ok(Some(SlaveStatus {
        master_host,
        master_port: text(&["Master_Port", "Source_Port"]).parse().unwrap_or(0),
        io_running: text(&["Slave_IO_Running", "Replica_IO_Running"]),
        sql_running: text(&["Slave_SQL_Running", "Replica_SQL_Running"]),
        seconds_behind_master: text(&["Seconds_Behind_Master", "Seconds_Behind_Source"])
            .parse()
            .ok(),
        using_gtid: text(&["Using_Gtid", "Auto_Position"]),
        last_io_error: text(&["Last_IO_Error"]),
        last_sql_error: text(&["Last_SQL_Error"]),
        master_log_file: text(&["Master_Log_File", "Source_Log_File"]),
    }))
}

fn column<'r>(row: &'r Row, name: &str) -> Option<&'r Value> {
    let idx = row
        .columns_ref()
        .iter()
        .position(|c| c.name_str() == name)?;
    row.as_ref(idx)
}

fn value_text(v: &Value) -> String {
    match v {
        Value::NULL => String::new(),
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        Value::Int(n) => n.to_string(),
        Value::UInt(n) => n.to_string(),
        other => other.as_sql(true).trim_matches('\'').to_owned(),
    }
}

/// Connects to `endpoint`, reads its status and disconnects.
pub async fn read_endpoint(endpoint: &Endpoint) -> Result<ServerStatus> {
    let mut conn = endpoint.connect(crate::Session::Plain).await?;
    let status = bounded_read(endpoint, &mut conn).await;
    let _ = conn.disconnect().await;
    status.map_err(|(e, _)| e)
}

/// [`read`] within [`READ_TIMEOUT`]. A server that takes the connection but never answers (a
/// statement waiting on a lock held by a stuck replication thread) must not stall the monitor,
/// nor a backup that asks it for a source: the read is bounded, and the connection is to be
/// dropped if it runs over. The error says whether it ran over (`true`).
async fn bounded_read(
    endpoint: &Endpoint,
    conn: &mut Conn,
) -> std::result::Result<ServerStatus, (Error, bool)> {
    match tokio::time::timeout(READ_TIMEOUT, read(endpoint, conn)).await {
        Ok(status) => status.map_err(|e| (e, false)),
        Err(_) => Err((
            Error::Query {
                server: endpoint.name.clone(),
                action: "read server status",
                source: Box::new(mysql_async::Error::Io(mysql_async::IoError::Io(
                    std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("no answer within {} s", READ_TIMEOUT.as_secs()),
                    ),
                ))),
            },
            true,
        )),
    }
}

/// Connections kept open between reads of the same servers, by server name: a monitor that
/// reads a thousand servers every few seconds would otherwise spend most of its time (and the
/// servers' time) connecting and authenticating. One per server; a read takes it out and puts
/// it back when the read succeeded.
#[derive(Debug, Default)]
pub struct Kept {
    conns: std::sync::Mutex<std::collections::HashMap<String, Connection>>,
}

impl Kept {
    fn take(&self, server: &str) -> Option<Connection> {
        self.conns.lock().ok()?.remove(server)
    }

    /// `endpoint`'s kept connection, or a new one; [`Kept::put`] it back once a read on it
    /// succeeded (a connection whose read failed is dropped, never kept).
    pub async fn take_or_connect(&self, endpoint: &Endpoint) -> Result<Connection> {
        match self.take(&endpoint.name) {
            Some(conn) => Ok(conn),
            None => endpoint.connect(crate::Session::Plain).await,
        }
    }

    /// Keeps `conn` as `server`'s connection (a read made at the same time on another one
    /// may replace it: the other is then closed).
    pub fn put(&self, server: &str, conn: Connection) {
        if let Ok(mut conns) = self.conns.lock() {
            conns.insert(server.to_owned(), conn);
        }
    }
}

/// Reads `endpoint`'s status on its connection kept in `kept`, opening one when there is none.
///
/// A kept connection that fails (the server restarted, or killed it) is dropped and the read
/// made again at once on a new one, so a server that restarted between two reads is not shown
/// as down; a read that ran over its bound (`READ_TIMEOUT`) is not made again (the server is
/// stuck). A connection whose read failed is never kept.
pub async fn read_kept(endpoint: &Endpoint, kept: &Kept) -> Result<ServerStatus> {
    if let Some(mut conn) = kept.take(&endpoint.name) {
        match bounded_read(endpoint, &mut conn).await {
            Ok(status) => {
                kept.put(&endpoint.name, conn);
                return Ok(status);
            }
            Err((e, true)) => return Err(e),
            Err((_, false)) => {}
        }
    }
    let mut conn = endpoint.connect(crate::Session::Plain).await?;
    let status = bounded_read(endpoint, &mut conn)
        .await
        .map_err(|(e, _)| e)?;
    kept.put(&endpoint.name, conn);
    Ok(status)
}

/// How long reading one server's status may take once connected.
const READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// One configured server and what it reported (or why it could not be read).
#[derive(Debug, Clone, Serialize)]
pub struct ServerView {
    /// Server name from the configuration.
    pub name: String,
    /// `host:port`.
    pub address: String,
    /// Live status, when the server answered.
    pub status: Option<ServerStatus>,
    /// Why the status could not be read.
    pub error: Option<String>,
}

/// How a server is shown to a DBA, given `all` the servers of its cluster as read (address
/// `host:port` and status) and `this` one's: `replica`; `primary` when it replicates from no
/// one and is the only such server, or the one the cluster's replicas replicate from;
/// `no replication` when it replicates from no one otherwise (a split topology, a replica
/// whose replication was reset, an empty server not pointed yet); `galera node` for a Galera
/// node that replicates from no one (all of them take writes); `unreachable`.
pub fn role_label<'a>(
    all: impl IntoIterator<Item = (&'a str, Option<&'a ServerStatus>)> + Clone,
    (address, this): (&str, Option<&ServerStatus>),
) -> &'static str {
    let not_replicating = all
        .clone()
        .into_iter()
        .filter(|(_, st)| st.is_some_and(|st| st.role == Role::Primary && st.galera.is_none()))
        .count();
    let replicated_from = || {
        all.clone().into_iter().any(|(_, st)| {
            st.and_then(|st| st.replication.as_ref()).is_some_and(|r| {
                address.rsplit_once(':').is_some_and(|(host, port)| {
                    port == r.master_port.to_string()
                        && ferryman_proto::address::same_host(host, &r.master_host)
                })
            })
        })
    };
    match this {
        None => "unreachable",
        Some(st) if st.role == Role::Replica => "replica",
        Some(st) if st.galera.is_some() => "galera node",
        Some(_) if not_replicating == 1 || replicated_from() => "primary",
        Some(_) => "no replication",
    }
}

/// The GTID position a DBA compares servers by: a replica's applied one (`gtid_slave_pos`),
/// else the server's binlog (`gtid_binlog_pos`); `None` when empty.
pub fn shown_gtid(status: &ServerStatus) -> Option<&str> {
    let gtid = if status.role == Role::Replica && !status.gtid_slave_pos.is_empty() {
        &status.gtid_slave_pos
    } else {
        &status.gtid_binlog_pos
    };
    (!gtid.is_empty()).then_some(gtid.as_str())
}

/// Reads every server of `cluster` concurrently, with the cluster's credential.
pub async fn read_cluster(cluster: &ferryman_config::ClusterConfig) -> Vec<ServerView> {
    read_cluster_with(cluster, None).await
}

/// [`read_cluster`] on the connections kept in `kept` when given ([`read_kept`]).
pub async fn read_cluster_with(
    cluster: &ferryman_config::ClusterConfig,
    kept: Option<&Kept>,
) -> Vec<ServerView> {
    let reads = cluster.servers.iter().map(|server| async move {
        let ep = Endpoint::from_config(server, &cluster.db_servers_credential);
        let read = match kept {
            Some(kept) => read_kept(&ep, kept).await,
            None => read_endpoint(&ep).await,
        };
        let (status, error) = match read {
            Ok(s) => (Some(s), None),
            Err(e) => (None, Some(e.to_string())),
        };
        ServerView {
            name: server.name.clone(),
            address: ep.address(),
            status,
            error,
        }
    });
    futures_util::future::join_all(reads).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server answering at `127.0.0.1:port`, replicating from `source` (a port) if any.
    fn status(source: Option<u16>, binlog: &str, applied: &str) -> ServerStatus {
        ServerStatus {
            version: "10.11".to_owned(),
            server_id: 1,
            read_only: source.is_some(),
            log_bin: true,
            gtid_binlog_pos: binlog.to_owned(),
            gtid_slave_pos: applied.to_owned(),
            role: if source.is_some() {
                Role::Replica
            } else {
                Role::Primary
            },
            replication: source.map(|port| SlaveStatus {
                master_host: "localhost".to_owned(),
                master_port: port,
                io_running: "Yes".to_owned(),
                sql_running: "Yes".to_owned(),
                seconds_behind_master: Some(0),
                using_gtid: "Slave_Pos".to_owned(),
                last_io_error: String::new(),
                last_sql_error: String::new(),
                master_log_file: "binlog.000001".to_owned(),
            }),
            galera: None,
        }
    }

    #[test]
    fn an_empty_server_beside_the_primary_is_no_replication_and_a_replica_shows_its_applied_gtid() {
        let primary = status(None, "0-1-10", "");
        let replica = status(Some(3306), "0-1-10,1-2-3", "0-1-10");
        let empty = status(None, "", "");
        let cluster = [
            ("127.0.0.1:3306", Some(&primary)),
            ("127.0.0.1:3307", Some(&replica)),
            ("127.0.0.1:3308", Some(&empty)),
            ("127.0.0.1:3309", None),
        ];
        let label = |i: usize| role_label(cluster, cluster[i]);
        assert_eq!(label(0), "primary", "the one its replicas replicate from");
        assert_eq!(label(1), "replica");
        assert_eq!(label(2), "no replication");
        assert_eq!(label(3), "unreachable");
        // Alone, a server that replicates from no one is the primary.
        let alone = [("127.0.0.1:3308", Some(&empty))];
        assert_eq!(role_label(alone, alone[0]), "primary");
        // Two and no replica: neither is called the primary.
        let split = [
            ("127.0.0.1:3306", Some(&primary)),
            ("127.0.0.1:3308", Some(&empty)),
        ];
        assert_eq!(role_label(split, split[0]), "no replication");

        assert_eq!(shown_gtid(&replica), Some("0-1-10"));
        assert_eq!(shown_gtid(&primary), Some("0-1-10"));
        assert_eq!(shown_gtid(&empty), None);
    }
}
