//! Bringing a Galera cluster up: bootstrapping a new one, restarting a stopped one from the
//! right node, joining nodes one at a time.
//!
//! Joiners start one at a time: two joiners at once queue on the same donor and are no faster,
//! and a joiner that fails is then plainly the one whose log to read.

use ferryman_db::Endpoint;

use super::host;
use super::node::{self, Recovered};
use super::state::{ClusterSpec, NodeSpec};
use super::GaleraSandbox;
use crate::accounts;
use crate::server::Binaries;
use crate::{Error, Result};

/// How a node ranks as the one to bootstrap a stopped cluster from: the last node to leave
/// cleanly (`safe_to_bootstrap`), else the highest committed seqno. `None`: it has no state.
type Rank = Option<(bool, i64)>;

/// A node of a stopped cluster as a candidate to bootstrap it from.
#[derive(Debug)]
struct Candidate<'c> {
    node: &'c NodeSpec,
    rank: Rank,
    /// Its position recovered from InnoDB, when its `grastate.dat` did not say (a crash).
    recovered: Option<Recovered>,
}

impl GaleraSandbox {
    /// Creates a new cluster: installs its first node, bootstraps it, creates the sandbox
    /// accounts on it (before anyone joins, so that joiners receive them by SST), then joins
    /// the others with empty datadirs.
    pub(super) async fn create_cluster(
        &self,
        bins: &Binaries,
        cluster: &ClusterSpec,
    ) -> Result<()> {
        for n in &cluster.nodes {
            node::prepare(cluster, n, &self.layout.server(&n.name))?;
        }
        let Some(first) = cluster.nodes.first() else {
            return Ok(()); // never: a cluster has at least one node (`GaleraState`)
        };
        let paths = self.layout.server(&first.name);
        // mariadb-install-db runs the server as mysql already: it must write the whole dir.
        host::give_to_mysql(&paths).await?;
        node::install(bins, &paths).await?;
        let pid = node::spawn(bins, &paths, true, None).await?;
        tracing::debug!(node = %first.name, pid, "bootstrapping a new cluster");
        // No account but root exists yet: it logs in through the socket without a password.
        let root = accounts::root_endpoint(&first.name, first.port, &paths.socket());
        node::wait_synced(&first.name, &paths, &root, pid).await?;
        accounts::create(&root, &self.passwords).await?;
        for joiner in cluster.nodes.iter().skip(1) {
            self.join(bins, joiner).await?;
        }
        Ok(())
    }

    /// Starts the stopped nodes of an existing cluster: they join a running node; when none
    /// runs, the cluster is bootstrapped from its most advanced node first.
    pub(super) async fn start_cluster(&self, bins: &Binaries, cluster: &ClusterSpec) -> Result<()> {
        if !cluster.nodes.iter().any(|n| self.pid(&n.name).is_some()) {
            let candidates = self.candidates(bins, cluster).await?;
            let from = best(&candidates).ok_or_else(|| Error::NothingToBootstrap {
                dir: self.layout.dir().to_owned(),
                cluster: cluster.name.clone(),
            })?;
            self.bootstrap(bins, from).await?;
        }
        for n in &cluster.nodes {
            if self.pid(&n.name).is_none() {
                self.join(bins, n).await?;
            }
        }
        Ok(())
    }

    /// Starts one stopped node: it joins its cluster when another node runs; when none does it
    /// bootstraps the cluster, provided no other node has newer data (Galera's own rule, which
    /// a forced bootstrap would bypass, losing the other nodes' last transactions).
    pub(super) async fn start_one(
        &self,
        bins: &Binaries,
        cluster: &ClusterSpec,
        node: &NodeSpec,
    ) -> Result<u32> {
        let others_run = cluster
            .nodes
            .iter()
            .any(|n| n.name != node.name && self.pid(&n.name).is_some());
        if others_run {
            return self.join(bins, node).await;
        }
        let candidates = self.candidates(bins, cluster).await?;
        let Some(better) = best(&candidates) else {
            return Err(Error::NothingToBootstrap {
                dir: self.layout.dir().to_owned(),
                cluster: cluster.name.clone(),
            });
        };
        let Some(mine) = candidates
            .iter()
            .find(|c| c.node.name == node.name && c.rank >= better.rank)
        else {
            return Err(Error::BootstrapElsewhere {
                dir: self.layout.dir().to_owned(),
                cluster: cluster.name.clone(),
                node: node.name.clone(),
                better: better.node.name.clone(),
            });
        };
        self.bootstrap(bins, mine).await
    }

    /// Bootstraps a new primary component from the candidate's data (`--wsrep-new-cluster`,
    /// after marking it `safe_to_bootstrap`; with its recovered position after a crash) and
    /// waits until it is Synced.
    async fn bootstrap(&self, bins: &Binaries, from: &Candidate<'_>) -> Result<u32> {
        let node = from.node;
        let paths = self.layout.server(&node.name);
        // A crashed node marked safe (the only member of its last primary component) was not
        // recovered while ranking: its position is needed all the same.
        let recovered = match (&from.recovered, from.rank) {
            (Some(r), _) => Some(r.clone()),
            (None, Some((_, seqno))) if seqno < 0 => node::recover(bins, &paths).await?,
            (None, _) => None,
        };
        node::set_safe_to_bootstrap(&paths)?;
        let position = recovered.as_ref().map(|r| r.position.as_str());
        let pid = node::spawn(bins, &paths, true, position).await?;
        tracing::debug!(node = %node.name, pid, ?position, "bootstrapping the cluster from saved state");
        node::wait_synced(&node.name, &paths, &self.admin(node), pid).await?;
        Ok(pid)
    }

    /// Starts `node` without `--wsrep-new-cluster`: it joins its running cluster (IST when
    /// the donor's gcache still has what it missed, SST otherwise) and waits until Synced.
    async fn join(&self, bins: &Binaries, node: &NodeSpec) -> Result<u32> {
        let paths = self.layout.server(&node.name);
        // A crashed joiner (`seqno: -1`) would ask for a full SST: the server recovers its
        // position from InnoDB only after the state transfer. Told where it stands, it gets
        // an IST of what it missed when the donor's gcache still holds it.
        let recovered = match node::saved_state(&paths)? {
            Some(s) if s.seqno < 0 => node::recover(bins, &paths).await?,
            _ => None,
        };
        let position = recovered.as_ref().map(|r| r.position.as_str());
        let pid = node::spawn(bins, &paths, false, position).await?;
        tracing::debug!(node = %node.name, pid, "joining");
        node::wait_synced(&node.name, &paths, &self.admin(node), pid).await?;
        Ok(pid)
    }

    /// Each node of a stopped cluster as a [`Candidate`]. A node that did not stop cleanly
    /// has `seqno: -1` in `grastate.dat`; its position is then recovered from InnoDB, unless
    /// another node is marked safe to bootstrap (which settles it without that cost).
    async fn candidates<'c>(
        &self,
        bins: &Binaries,
        cluster: &'c ClusterSpec,
    ) -> Result<Vec<Candidate<'c>>> {
        let mut saved = Vec::new();
        for n in &cluster.nodes {
            saved.push((n, node::saved_state(&self.layout.server(&n.name))?));
        }
        let any_safe = saved
            .iter()
            .any(|(_, s)| s.is_some_and(|s| s.safe_to_bootstrap));
        let mut candidates = Vec::new();
        for (n, state) in saved {
            let mut candidate = Candidate {
                node: n,
                rank: state.map(|s| (s.safe_to_bootstrap, s.seqno)),
                recovered: None,
            };
            if state.is_some_and(|s| s.seqno < 0) && !any_safe {
                candidate.recovered = node::recover(bins, &self.layout.server(&n.name)).await?;
                candidate.rank =
                    Some((false, candidate.recovered.as_ref().map_or(-1, |r| r.seqno)));
            }
            candidates.push(candidate);
        }
        Ok(candidates)
    }

    /// The administrative endpoint of `node` (TCP, the `ferryman` account).
    pub(super) fn admin(&self, node: &NodeSpec) -> Endpoint {
        Endpoint {
            name: node.name.clone(),
            host: "127.0.0.1".into(),
            port: node.port,
            socket: None,
            user: accounts::ADMIN_USER.into(),
            password: Some(self.passwords.admin.clone()),
            ssl: Default::default(),
        }
    }
}

/// The node to bootstrap from: the best [`Rank`], the first one in node order on a tie.
fn best<'a, 'c>(candidates: &'a [Candidate<'c>]) -> Option<&'a Candidate<'c>> {
    let mut best: Option<&Candidate<'c>> = None;
    for c in candidates.iter().filter(|c| c.rank.is_some()) {
        if best.is_none_or(|b| c.rank > b.rank) {
            best = Some(c);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str) -> NodeSpec {
        NodeSpec {
            name: name.into(),
            port: 1,
            gmcast_port: 2,
            ist_port: 3,
            sst_port: 4,
            server_id: 1,
        }
    }

    #[test]
    fn the_safe_node_wins_then_the_highest_seqno_then_the_first() {
        let (a1, a2, a3) = (node("a1"), node("a2"), node("a3"));
        let pick = |ranks: [(&NodeSpec, Rank); 3]| {
            let candidates: Vec<Candidate> = ranks
                .into_iter()
                .map(|(node, rank)| Candidate {
                    node,
                    rank,
                    recovered: None,
                })
                .collect();
            best(&candidates).map(|c| c.node.name.clone())
        };
        assert_eq!(
            pick([(&a1, Some((false, 9))), (&a2, Some((true, 7))), (&a3, None)]),
            Some("a2".into())
        );
        assert_eq!(
            pick([
                (&a1, Some((false, 5))),
                (&a2, Some((false, 7))),
                (&a3, Some((false, 7)))
            ]),
            Some("a2".into())
        );
        assert_eq!(pick([(&a1, None), (&a2, None), (&a3, None)]), None);
    }
}
