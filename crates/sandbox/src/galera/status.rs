//! Each node's live state for `sandbox status`: its process, what Galera says about it, and
//! its asynchronous replication when it has one.

use ferryman_db::mysql_async::prelude::Queryable;
use ferryman_db::topology::{self, SlaveStatus};
use ferryman_db::{Endpoint, Session};
use futures_util::future::join_all;
use serde::Serialize;

use super::GaleraSandbox;
use crate::Result;

/// One node's line in `sandbox status`.
#[derive(Debug, Clone, Serialize)]
pub struct NodeReport {
    /// Node name.
    pub name: String,
    /// Its cluster.
    pub cluster: String,
    /// MariaDB port on 127.0.0.1.
    pub port: u16,
    /// PID when running.
    pub pid: Option<u32>,
    /// What Galera says, when the node answered.
    pub galera: Option<GaleraStatus>,
    /// Asynchronous replication, when the node has one configured.
    pub replication: Option<SlaveStatus>,
    /// Why the node could not be read, when it could not.
    pub error: Option<String>,
}

impl NodeReport {
    /// True when the node answered and is Synced in a primary component.
    pub fn synced(&self) -> bool {
        self.galera
            .as_ref()
            .is_some_and(|g| g.state == "Synced" && g.cluster_status == "Primary")
    }
}

/// A node's Galera status variables.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct GaleraStatus {
    /// `wsrep_cluster_status`: `Primary`, `non-Primary` or `Disconnected`.
    pub cluster_status: String,
    /// `wsrep_local_state_comment`: `Synced`, `Joining`, `Donor/Desynced`, ...
    pub state: String,
    /// `wsrep_cluster_size`: members of the node's component.
    pub cluster_size: u32,
    /// `wsrep_local_index`: the node's index in the component, when it has one.
    pub local_index: Option<u32>,
    /// `@@gtid_binlog_pos` (`@@gtid_current_pos` is misleading on Galera nodes: it only
    /// counts GTIDs carrying the node's own server_id).
    pub gtid_binlog_pos: String,
}

impl GaleraSandbox {
    /// Each node's PID and live state, read concurrently.
    pub async fn status(&self) -> Vec<NodeReport> {
        let reads = self.state.nodes().map(|(cluster, node)| async move {
            let pid = self.pid(&node.name);
            let mut report = NodeReport {
                name: node.name.clone(),
                cluster: cluster.name.clone(),
                port: node.port,
                pid,
                galera: None,
                replication: None,
                error: None,
            };
            if pid.is_none() {
                report.error = Some("not running".to_owned());
                return report;
            }
            match read(&self.admin(node)).await {
                Ok((galera, replication)) => {
                    report.galera = Some(galera);
                    report.replication = replication;
                }
                Err(e) => report.error = Some(e.to_string()),
            }
            report
        });
        join_all(reads).await
    }
}

async fn read(ep: &Endpoint) -> Result<(GaleraStatus, Option<SlaveStatus>)> {
    let wsrep = super::node::read_wsrep(ep).await?;
    let mut conn = ep.connect(Session::Plain).await?;
    let res = async {
        let gtid: Option<String> = conn
            .query_first("SELECT @@gtid_binlog_pos")
            .await
            .map_err(|e| ep.query_error("read the GTID position", e))?;
        let replication = topology::read_slave_status(ep, &mut conn).await?;
        Ok::<_, crate::Error>((gtid.unwrap_or_default(), replication))
    }
    .await;
    let _ = conn.disconnect().await;
    let (gtid, replication) = res?;
    let text = |k: &str| wsrep.get(k).cloned().unwrap_or_default();
    Ok((
        GaleraStatus {
            cluster_status: text("wsrep_cluster_status"),
            state: text("wsrep_local_state_comment"),
            cluster_size: text("wsrep_cluster_size").parse().unwrap_or(0),
            local_index: text("wsrep_local_index").parse().ok(),
            gtid_binlog_pos: gtid.replace('\n', ""),
        },
        replication,
    ))
}
