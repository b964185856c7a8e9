//! What a keeper reads from its own node each round: Galera membership and health, identity,
//! and the replication state of the default connection.

use std::collections::BTreeSet;

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use ferryman_db::topology::{self, SlaveStatus};
use ferryman_db::Endpoint;

use crate::Result;

/// `wsrep_local_state` of a node that is synced with its cluster.
const SYNCED: i64 = 4;
/// `wsrep_local_state` of a node serving as a donor (still applies writes).
const DONOR: i64 = 2;

/// One node's view of itself.
#[derive(Debug, Clone)]
pub struct NodeView {
    /// `@@wsrep_on`.
    pub wsrep_on: bool,
    /// `@@wsrep_node_name`: the node's identity in the tables.
    pub name: String,
    /// `@@wsrep_cluster_name`: the cluster's identity in the tables.
    pub cluster: String,
    /// `wsrep_cluster_status`: `Primary` when the node is in the quorum component.
    pub cluster_status: String,
    /// `wsrep_local_state`.
    pub local_state: i64,
    /// `wsrep_local_state_comment` (`Synced`, `Donor/Desynced`, `Joining`...).
    pub state_comment: String,
    /// `wsrep_local_index`: the election key.
    pub local_index: i64,
    /// `wsrep_cluster_size`.
    pub cluster_size: i64,
    /// `wsrep_cluster_conf_id`: raised by every membership change.
    pub conf_id: String,
    /// Names of the nodes in this node's component (`mysql.wsrep_cluster_members`), when
    /// readable.
    pub members: Option<BTreeSet<String>>,
    /// The default replication connection, when configured.
    pub slave: Option<SlaveStatus>,
}

impl NodeView {
    /// True when the node is in the Primary component and synced (or a donor): it can write
    /// the tables and may replicate.
    pub fn healthy(&self) -> bool {
        self.cluster_status == "Primary" && matches!(self.local_state, SYNCED | DONOR)
    }

    /// Why the node is not healthy, for messages.
    pub fn health(&self) -> String {
        format!(
            "wsrep_cluster_status = {}, wsrep_local_state = {} ({})",
            self.cluster_status, self.local_state, self.state_comment
        )
    }

    /// True when replication is configured and both threads run.
    pub fn replicating(&self) -> bool {
        self.slave.as_ref().is_some_and(SlaveStatus::running)
    }
}

/// Reads the node behind `conn`.
pub async fn read(ep: &Endpoint, conn: &mut Conn) -> Result<NodeView> {
    let vars: Option<(i64, Option<String>, Option<String>)> = conn
        .query_first("SELECT @@wsrep_on, @@wsrep_node_name, @@wsrep_cluster_name")
        .await
        .map_err(|e| ep.query_error("read the wsrep variables", e))?;
    let (wsrep_on, name, cluster) = vars.unwrap_or((0, None, None));
    let status: Vec<(String, String)> = conn
        .query(
            "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_cluster_status', \
             'wsrep_local_state', 'wsrep_local_state_comment', 'wsrep_local_index', \
             'wsrep_cluster_size', 'wsrep_cluster_conf_id')",
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
    // A node outside the Primary component cannot read this table reliably, and older
    // servers lack it: then elections fall back on heartbeats alone.
    let members: Option<BTreeSet<String>> = match conn
        .query::<String, _>("SELECT node_name FROM mysql.wsrep_cluster_members")
        .await
    {
        Ok(names) if !names.is_empty() => Some(names.into_iter().collect()),
        _ => None,
    };
    let slave = topology::read_slave_status(ep, conn).await?;
    Ok(NodeView {
        wsrep_on: wsrep_on != 0,
        name: name.unwrap_or_default(),
        cluster: cluster.unwrap_or_default(),
        cluster_status: get("wsrep_cluster_status"),
        local_state: int("wsrep_local_state"),
        state_comment: get("wsrep_local_state_comment"),
        local_index: int("wsrep_local_index"),
        cluster_size: int("wsrep_cluster_size"),
        conf_id: get("wsrep_cluster_conf_id"),
        members,
        slave,
    })
}

/// `STOP SLAVE; RESET SLAVE ALL`: the node forgets its master (the applied GTID position,
/// `gtid_slave_pos`, stays: it is shared by the whole cluster).
pub async fn stop_and_forget(ep: &Endpoint, conn: &mut Conn) -> Result<()> {
    conn.query_drop("STOP SLAVE")
        .await
        .map_err(|e| ep.query_error("stop replication (STOP SLAVE)", e))?;
    conn.query_drop("RESET SLAVE ALL")
        .await
        .map_err(|e| ep.query_error("forget the master (RESET SLAVE ALL)", e))?;
    Ok(())
}

/// [`stop_and_forget`] on a node outside the Primary component, which refuses statements with
/// error 1047 ("WSREP has not yet prepared node for application use") unless the session
/// turns wsrep off: these statements are local to the node anyway.
pub async fn stop_outside_cluster(ep: &Endpoint, conn: &mut Conn) -> Result<()> {
    conn.query_drop("SET SESSION wsrep_on = OFF")
        .await
        .map_err(|e| ep.query_error("turn wsrep off for this session", e))?;
    let res = stop_and_forget(ep, conn).await;
    let _ = conn.query_drop("SET SESSION wsrep_on = ON").await;
    res
}
