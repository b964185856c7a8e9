//! `ferryman galera-link status`: the shared tables as one node sees them, and each configured
//! node's live replication, for every cluster with a `galera-link` table.

use std::time::Duration;

use futures_util::future::join_all;
use serde::Serialize;

use ferryman_config::{ClusterConfig, Config, GaleraLinkConfig};
use ferryman_db::{Endpoint, Session};

use crate::masters;
use crate::node;
use crate::tables::{EventRow, Lease, NodeRow, Tables};
use crate::{Error, Result};

/// How long a node may take to answer the status command.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// One cluster's link.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterStatus {
    /// Cluster name in the configuration.
    pub cluster: String,
    /// `wsrep_cluster_name` (the key in the tables).
    pub wsrep_cluster: String,
    /// The node the tables were read from.
    pub read_from: String,
    /// The configured remote masters, in order.
    pub masters: Vec<String>,
    /// The lease.
    pub lease: Lease,
    /// The node rows.
    pub rows: Vec<NodeRow>,
    /// Each configured node, read live.
    pub nodes: Vec<NodeLive>,
    /// The newest events, oldest first.
    pub events: Vec<EventRow>,
}

/// One node, read live.
#[derive(Debug, Clone, Serialize)]
pub struct NodeLive {
    /// Server name in the configuration.
    pub server: String,
    /// `host:port`.
    pub address: String,
    /// Why it could not be read.
    pub error: Option<String>,
    /// `wsrep_node_name`.
    pub node: Option<String>,
    /// `wsrep_cluster_status` and `wsrep_local_state_comment`.
    pub galera: Option<String>,
    /// `wsrep_cluster_size`: how many nodes its component has.
    pub cluster_size: Option<i64>,
    /// Whether both replication threads run.
    pub replicating: bool,
    /// The master it replicates from, with the threads' state, when configured.
    pub replication: Option<String>,
}

/// The status of every cluster of `config` with a `galera-link` table (or of `only`).
pub async fn read(config: &Config, only: Option<&str>) -> Result<Vec<ClusterStatus>> {
    let mut out = Vec::new();
    for cluster in &config.clusters {
        if only.is_some_and(|c| c != cluster.name) {
            continue;
        }
        let Some(link) = &cluster.galera_link else {
            if only.is_some() {
                return Err(Error::Config(format!(
                    "cluster `{}` has no [clusters.{}.galera-link] table",
                    cluster.name, cluster.name
                )));
            }
            continue;
        };
        out.push(read_cluster(cluster, link).await?);
    }
    Ok(out)
}

async fn read_cluster(cluster: &ClusterConfig, link: &GaleraLinkConfig) -> Result<ClusterStatus> {
    let endpoints: Vec<Endpoint> = cluster
        .servers
        .iter()
        .map(|s| Endpoint::from_config(s, &cluster.db_servers_credential))
        .collect();
    let nodes: Vec<NodeLive> = join_all(endpoints.iter().map(live)).await;
    let tables = Tables::new(link);
    let mut errors = Vec::new();
    for ep in &endpoints {
        match read_tables(ep, &tables).await {
            Ok((wsrep_cluster, lease, rows, events)) => {
                return Ok(ClusterStatus {
                    cluster: cluster.name.clone(),
                    wsrep_cluster,
                    read_from: ep.name.clone(),
                    masters: link.masters.iter().map(ToString::to_string).collect(),
                    lease,
                    rows,
                    nodes,
                    events,
                })
            }
            Err(e) => errors.push(format!("{}: {e}", ep.name)),
        }
    }
    Err(Error::NoNodeAnswers {
        cluster: cluster.name.clone(),
        detail: errors.join("; "),
    })
}

/// The events the keepers of `cluster` recorded in the last `within_s` seconds (by the
/// servers' clock; at most 1000), oldest first, read from the first node in a synced Primary
/// component; and the cluster's `wsrep_cluster_name`. For the manager's `link-event`s.
pub async fn recent_events(
    cluster: &ClusterConfig,
    link: &GaleraLinkConfig,
    within_s: u64,
) -> Result<(String, Vec<EventRow>)> {
    let tables = Tables::new(link);
    let mut errors = Vec::new();
    for server in &cluster.servers {
        let ep = Endpoint::from_config(server, &cluster.db_servers_credential);
        let fut = async {
            let mut conn = ep.connect(Session::Plain).await?;
            let node = node::read(&ep, &mut conn).await?;
            if !node.healthy() {
                return Err(Error::Unavailable(format!(
                    "not in a synced Primary component ({})",
                    node.health()
                )));
            }
            let events = tables
                .recent_events(&ep, &mut conn, &node.wsrep.cluster_name, within_s, 1000)
                .await?;
            let _ = conn.disconnect().await;
            Ok((node.wsrep.cluster_name, events))
        };
        match tokio::time::timeout(ANSWER_TIMEOUT * 2, fut).await {
            Ok(Ok(read)) => return Ok(read),
            Ok(Err(e)) => errors.push(format!("{}: {e}", ep.name)),
            Err(_) => errors.push(format!("{}: no answer in time", ep.name)),
        }
    }
    Err(Error::NoNodeAnswers {
        cluster: cluster.name.clone(),
        detail: errors.join("; "),
    })
}

type Tables4 = (String, Lease, Vec<NodeRow>, Vec<EventRow>);

async fn read_tables(ep: &Endpoint, tables: &Tables) -> Result<Tables4> {
    let fut = async {
        let mut conn = ep.connect(Session::Plain).await?;
        let node = node::read(ep, &mut conn).await?;
        if !node.healthy() {
            return Err(Error::Unavailable(format!(
                "not in a synced Primary component ({})",
                node.health()
            )));
        }
        let lease = tables
            .lease(ep, &mut conn, &node.wsrep.cluster_name)
            .await?;
        let rows = tables
            .nodes(ep, &mut conn, &node.wsrep.cluster_name)
            .await?;
        let events = tables
            .events(ep, &mut conn, &node.wsrep.cluster_name, 10)
            .await?;
        let _ = conn.disconnect().await;
        Ok((node.wsrep.cluster_name, lease, rows, events))
    };
    match tokio::time::timeout(ANSWER_TIMEOUT * 2, fut).await {
        Ok(res) => res,
        Err(_) => Err(Error::Unavailable("no answer in time".into())),
    }
}

async fn live(ep: &Endpoint) -> NodeLive {
    let fut = async {
        let mut conn = ep.connect(Session::Plain).await?;
        let node = node::read(ep, &mut conn).await?;
        let _ = conn.disconnect().await;
        Ok::<_, Error>(node)
    };
    let res = match tokio::time::timeout(ANSWER_TIMEOUT, fut).await {
        Ok(res) => res,
        Err(_) => Err(Error::Unavailable("no answer in time".into())),
    };
    let mut out = NodeLive {
        server: ep.name.clone(),
        address: ep.address(),
        error: None,
        node: None,
        galera: None,
        cluster_size: None,
        replicating: false,
        replication: None,
    };
    match res {
        Ok(node) => {
            out.galera = Some(format!(
                "{} {}",
                node.wsrep.cluster_status, node.wsrep.state_comment
            ));
            out.cluster_size = Some(node.wsrep.cluster_size);
            out.replicating = node.replicating();
            out.replication = node.slave.as_ref().map(|s| {
                let lag = s
                    .seconds_behind_master
                    .map(|l| format!(", lag {l} s"))
                    .unwrap_or_default();
                format!(
                    "{} (io {}, sql {}{lag})",
                    masters::address(s),
                    s.io_running,
                    s.sql_running
                )
            });
            out.node = Some(node.wsrep.node_name);
        }
        Err(e) => out.error = Some(e.to_string()),
    }
    out
}
