//! What a Galera node says about its place in the cluster: the one reading of the wsrep
//! status shared by the topology monitor (which node may give a backup), the agent (a backup's
//! `--galera-info`, the node desynced during a backup) and the link keeper.
//!
//! A server is a Galera node when it has the `wsrep_on` variable (MariaDB) and it is `ON`;
//! MySQL and a MariaDB without `wsrep_on=ON` are not, and [`read`] says `None` for them.

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use serde::Serialize;

use crate::{Endpoint, Result};

/// `wsrep_local_state` of a donor (it serves an SST or IST, or was desynced by hand or by a
/// backup: it still applies writes, but may lag).
pub const DONOR: i64 = 2;
/// `wsrep_local_state` of a node synced with its cluster.
pub const SYNCED: i64 = 4;

/// A Galera node's status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Wsrep {
    /// `@@wsrep_node_name`.
    pub node_name: String,
    /// `@@wsrep_cluster_name`.
    pub cluster_name: String,
    /// `wsrep_cluster_status`: `Primary` when the node is in the quorum component.
    pub cluster_status: String,
    /// `wsrep_local_state`: 4 synced, 2 donor or desynced, 1 joining, 3 joined.
    pub local_state: i64,
    /// `wsrep_local_state_comment` (`Synced`, `Donor/Desynced`, `Joining`...).
    pub state_comment: String,
    /// `wsrep_local_index`: the node's place in the component.
    pub local_index: i64,
    /// `wsrep_cluster_size`.
    pub cluster_size: i64,
    /// `wsrep_cluster_conf_id`: raised by every membership change.
    pub conf_id: String,
    /// `wsrep_cluster_state_uuid`: the cluster's history.
    pub state_uuid: String,
    /// `wsrep_last_committed`: the seqno of the last write set applied here.
    pub last_committed: i64,
    /// `@@wsrep_desync`: desynced on purpose (by a DBA or a backup).
    pub desync: bool,
}

impl Wsrep {
    /// In the Primary component and synced: it applies every write as it comes and is not
    /// donating, so it may give a backup without slowing a joiner or the cluster.
    pub fn synced(&self) -> bool {
        self.cluster_status == "Primary" && self.local_state == SYNCED
    }

    /// In the Primary component and synced or a donor: it can write and is current enough to
    /// replicate from (the link keeper's test).
    pub fn serving(&self) -> bool {
        self.cluster_status == "Primary" && matches!(self.local_state, SYNCED | DONOR)
    }

    /// The state in words, for messages: `Synced in the Primary component (3 nodes)`.
    pub fn describe(&self) -> String {
        format!(
            "{} in {} component ({} node{}){}",
            self.state_comment,
            if self.cluster_status == "Primary" {
                "the Primary".to_owned()
            } else {
                format!("a {}", self.cluster_status)
            },
            self.cluster_size,
            if self.cluster_size == 1 { "" } else { "s" },
            if self.desync { ", desynced" } else { "" }
        )
    }
}

/// True when the server behind `conn` is a Galera node (`wsrep_on` exists and is `ON` in this
/// session's scope).
pub async fn is_on(ep: &Endpoint, conn: &mut Conn) -> Result<bool> {
    let row: Option<(String, String)> = conn
        .query_first("SHOW SESSION VARIABLES LIKE 'wsrep_on'")
        .await
        .map_err(|e| ep.query_error("read `wsrep_on`", e))?;
    Ok(row.is_some_and(|(_, v)| v.eq_ignore_ascii_case("ON")))
}

/// Reads the Galera status of the server behind `conn`; `None` when it is not a Galera node.
pub async fn read(ep: &Endpoint, conn: &mut Conn) -> Result<Option<Wsrep>> {
    let on: Option<(String, String)> = conn
        .query_first("SHOW GLOBAL VARIABLES LIKE 'wsrep_on'")
        .await
        .map_err(|e| ep.query_error("read `wsrep_on`", e))?;
    if !on.is_some_and(|(_, v)| v.eq_ignore_ascii_case("ON")) {
        return Ok(None);
    }
    read_on(ep, conn).await.map(Some)
}

/// Reads the Galera status of the server behind `conn`, known to have `wsrep_on` set.
pub async fn read_on(ep: &Endpoint, conn: &mut Conn) -> Result<Wsrep> {
    let vars: Option<(Option<String>, Option<String>, i64)> = conn
        .query_first("SELECT @@wsrep_node_name, @@wsrep_cluster_name, @@wsrep_desync")
        .await
        .map_err(|e| ep.query_error("read the wsrep variables", e))?;
    let (node_name, cluster_name, desync) = vars.unwrap_or((None, None, 0));
    let status: Vec<(String, String)> = conn
        .query(
            "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_cluster_status', \
             'wsrep_local_state', 'wsrep_local_state_comment', 'wsrep_local_index', \
             'wsrep_cluster_size', 'wsrep_cluster_conf_id', 'wsrep_cluster_state_uuid', \
             'wsrep_last_committed')",
        )
        .await
        .map_err(|e| ep.query_error("read the wsrep status", e))?;
    let get = |k: &str| {
        status
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let int = |k: &str| get(k).parse::<i64>().unwrap_or(-1);
    Ok(Wsrep {
        node_name: node_name.unwrap_or_default(),
        cluster_name: cluster_name.unwrap_or_default(),
        cluster_status: get("wsrep_cluster_status"),
        local_state: int("wsrep_local_state"),
        state_comment: get("wsrep_local_state_comment"),
        local_index: int("wsrep_local_index"),
        cluster_size: int("wsrep_cluster_size"),
        conf_id: get("wsrep_cluster_conf_id"),
        state_uuid: get("wsrep_cluster_state_uuid"),
        last_committed: int("wsrep_last_committed"),
        desync: desync != 0,
    })
}

/// Sets `@@global.wsrep_desync`: a desynced node leaves flow control (the cluster does not
/// wait for it) and is not chosen as a donor; it catches up once synced again.
pub async fn set_desync(ep: &Endpoint, conn: &mut Conn, on: bool) -> Result<()> {
    let stmt = if on {
        "SET GLOBAL wsrep_desync = ON"
    } else {
        "SET GLOBAL wsrep_desync = OFF"
    };
    conn.query_drop(stmt).await.map_err(|e| {
        ep.query_error(
            if on {
                "desync the node (SET GLOBAL wsrep_desync = ON)"
            } else {
                "sync the node again (SET GLOBAL wsrep_desync = OFF)"
            },
            e,
        )
    })
}
