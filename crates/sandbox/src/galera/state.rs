//! `galera.json`: which clusters and nodes a Galera sandbox has, and their ports. Written once
//! by `up` when every node is Synced; the nodes' pid files say whether they run.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Version of the state file format.
const STATE_VERSION: u32 = 1;
/// Cluster names, in creation order: the first is the source of the asynchronous link.
pub(crate) const CLUSTER_NAMES: [&str; 2] = ["alpha", "beta"];
/// Ports each node needs: MariaDB, group communication, IST, SST.
pub(crate) const PORTS_PER_NODE: usize = 4;

/// What a Galera sandbox consists of.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct GaleraState {
    /// Format version.
    pub version: u32,
    /// Whether the second cluster replicates asynchronously from the first.
    pub link: bool,
    /// Whether the first also replicates from the second (master-master).
    #[serde(default)]
    pub master_master: bool,
    /// The clusters: `alpha`, then `beta` when there are two.
    pub clusters: Vec<ClusterSpec>,
}

/// One Galera cluster of the sandbox.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClusterSpec {
    /// `wsrep_cluster_name`, also the cluster's name in `ferryman.toml`.
    pub name: String,
    /// `gtid_domain_id`: the domain of events a node logs outside Galera replication.
    pub gtid_domain_id: u32,
    /// `wsrep_gtid_domain_id`: the domain of every transaction replicated by Galera. Distinct
    /// per cluster, so that the linked cluster's GTID position keeps both apart.
    pub wsrep_gtid_domain_id: u32,
    /// The nodes, in bring-up order (the first bootstraps a new cluster).
    pub nodes: Vec<NodeSpec>,
}

/// One node of a Galera cluster.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NodeSpec {
    /// `wsrep_node_name` and the server's name in `ferryman.toml` (`a1`, `b2`, ...).
    pub name: String,
    /// MariaDB port on 127.0.0.1.
    pub port: u16,
    /// Group communication port (`gmcast.listen_addr`).
    pub gmcast_port: u16,
    /// Incremental state transfer port (`ist.recv_addr`).
    pub ist_port: u16,
    /// State snapshot transfer port (`wsrep_sst_receive_address`).
    pub sst_port: u16,
    /// `server_id`, distinct across the sandbox.
    pub server_id: u32,
}

impl GaleraState {
    /// A new state: `clusters` clusters of `nodes` nodes on `ports` ([`PORTS_PER_NODE`] per
    /// node, alpha's nodes first).
    pub(crate) fn new(clusters: usize, nodes: usize, link: bool, ports: &[u16]) -> GaleraState {
        debug_assert!(ports.len() >= clusters * nodes * PORTS_PER_NODE);
        let clusters = CLUSTER_NAMES
            .iter()
            .take(clusters)
            .enumerate()
            .map(|(c, name)| {
                let id = u32::try_from(c + 1).unwrap_or(u32::MAX);
                let prefix = &name[..1];
                ClusterSpec {
                    name: (*name).to_owned(),
                    gtid_domain_id: id,
                    wsrep_gtid_domain_id: id * 10,
                    nodes: (0..nodes)
                        .map(|i| {
                            let p = &ports[(c * nodes + i) * PORTS_PER_NODE..];
                            NodeSpec {
                                name: format!("{prefix}{}", i + 1),
                                port: p[0],
                                gmcast_port: p[1],
                                ist_port: p[2],
                                sst_port: p[3],
                                server_id: id * 10 + u32::try_from(i + 1).unwrap_or(0),
                            }
                        })
                        .collect(),
                }
            })
            .collect();
        GaleraState {
            version: STATE_VERSION,
            link,
            master_master: false,
            clusters,
        }
    }

    /// The GTID domains a cluster writes: what its replica ignores in a master-master link.
    pub fn own_domains(cluster: &ClusterSpec) -> [u32; 2] {
        [cluster.wsrep_gtid_domain_id, cluster.gtid_domain_id]
    }

    /// Every node of every cluster, with its cluster.
    pub fn nodes(&self) -> impl Iterator<Item = (&ClusterSpec, &NodeSpec)> {
        self.clusters
            .iter()
            .flat_map(|c| c.nodes.iter().map(move |n| (c, n)))
    }

    /// Reads the state file; a missing file means "not a Galera sandbox".
    pub fn read(path: &Path, dir: &Path) -> Result<GaleraState> {
        let not_found = || Error::NotAGaleraSandbox {
            dir: dir.to_owned(),
        };
        let state: GaleraState = crate::state::read_json(path, not_found)?;
        let sane = state.version == STATE_VERSION
            && (1..=CLUSTER_NAMES.len()).contains(&state.clusters.len())
            && state.clusters.iter().all(|c| !c.nodes.is_empty());
        if !sane {
            return Err(Error::BadState {
                path: path.to_owned(),
                detail: format!(
                    "version {} with {} cluster(s); expected version {STATE_VERSION} with 1 or 2 \
                     clusters of at least one node",
                    state.version,
                    state.clusters.len()
                ),
            });
        }
        Ok(state)
    }

    /// Writes the state file (temp file + rename, so a crash never leaves half a file).
    pub fn write(&self, path: &Path) -> Result<()> {
        crate::state::write_json(path, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_clusters_get_distinct_names_ids_and_ports() {
        let ports: Vec<u16> = (30000..30016).collect();
        let state = GaleraState::new(2, 2, true, &ports);
        let names: Vec<&str> = state.nodes().map(|(_, n)| n.name.as_str()).collect();
        assert_eq!(names, ["a1", "a2", "b1", "b2"]);
        let (alpha, beta) = (&state.clusters[0], &state.clusters[1]);
        assert_eq!((alpha.gtid_domain_id, alpha.wsrep_gtid_domain_id), (1, 10));
        assert_eq!((beta.gtid_domain_id, beta.wsrep_gtid_domain_id), (2, 20));
        let b2 = &beta.nodes[1];
        assert_eq!(
            (
                b2.port,
                b2.gmcast_port,
                b2.ist_port,
                b2.sst_port,
                b2.server_id
            ),
            (30012, 30013, 30014, 30015, 22)
        );

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("galera.json");
        state.write(&path).unwrap();
        assert_eq!(GaleraState::read(&path, dir.path()).unwrap(), state);
    }

    #[test]
    fn a_directory_without_the_file_is_not_a_galera_sandbox() {
        let dir = tempfile::tempdir().unwrap();
        let err = GaleraState::read(&dir.path().join("galera.json"), dir.path()).unwrap_err();
        assert!(matches!(err, Error::NotAGaleraSandbox { .. }), "{err}");
    }
}
