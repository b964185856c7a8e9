//! What a keeper reads from its own node each round: Galera membership and health, identity,
//! and the replication state of the default connection.

use std::collections::BTreeSet;

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use ferryman_db::topology::{self, SlaveStatus};
use ferryman_db::wsrep::{self, Wsrep};
use ferryman_db::Endpoint;

use crate::Result;

/// One node's view of itself.
#[derive(Debug, Clone)]
pub struct NodeView {
    /// `@@wsrep_on`.
    pub wsrep_on: bool,
    /// The node's Galera status (all empty when wsrep is off): `node_name` is its identity in
    /// the tables, `cluster_name` the cluster's, `local_index` the election key.
    pub wsrep: Wsrep,
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
        self.wsrep.serving()
    }

    /// Why the node is not healthy, for messages.
    pub fn health(&self) -> String {
        format!(
            "wsrep_cluster_status = {}, wsrep_local_state = {} ({})",
            self.wsrep.cluster_status, self.wsrep.local_state, self.wsrep.state_comment
        )
    }

    /// True when replication is configured and both threads run.
    pub fn replicating(&self) -> bool {
        self.slave.as_ref().is_some_and(SlaveStatus::running)
    }
}

/// Reads the node behind `conn`.
pub async fn read(ep: &Endpoint, conn: &mut Conn) -> Result<NodeView> {
    let wsrep = wsrep::read(ep, conn).await?;
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
        wsrep_on: wsrep.is_some(),
        wsrep: wsrep.unwrap_or_default(),
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
