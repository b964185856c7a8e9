//! The topology monitor: every server's role, GTID and replication state, kept fresh for the
//! API and for choosing where backups are taken.

mod galera;

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use ferryman_config::{ClusterConfig, Config};
use ferryman_db::topology::{self, ServerView};
use ferryman_db::Role;
use ferryman_proto::address::same_host;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::{Error, Result};

/// How often the topology is read.
pub const REFRESH: Duration = Duration::from_secs(5);
/// Clusters read at once: a fleet of hundreds of clusters is read in a few seconds, and one
/// cluster whose server does not answer (each read waits for its connect timeout) holds up
/// only its own slot, not every cluster after it.
const CLUSTERS_AT_ONCE: usize = 16;
/// A replica lagging more than this is not chosen for backups.
const MAX_BACKUP_LAG_S: u64 = 300;

/// One cluster's view at one moment.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterTopology {
    /// Cluster name.
    pub cluster: String,
    /// When it was read, seconds since the epoch.
    pub read_at: u64,
    /// Every server.
    pub servers: Vec<ServerView>,
}

impl ClusterTopology {
    /// The servers that answer and replicate from no one, Galera nodes excepted: one is the
    /// primary; more than one is a split topology.
    pub fn primaries(&self) -> Vec<&ServerView> {
        self.servers
            .iter()
            .filter(|s| {
                s.status
                    .as_ref()
                    .is_some_and(|st| st.role == Role::Primary && st.galera.is_none())
            })
            .collect()
    }

    /// True when a server of the cluster answered as a Galera node.
    pub fn is_galera(&self) -> bool {
        self.servers
            .iter()
            .any(|s| s.status.as_ref().is_some_and(|st| st.galera.is_some()))
    }

    /// The primary, when exactly one server is one.
    pub fn primary(&self) -> Option<&ServerView> {
        match self.primaries()[..] {
            [primary] => Some(primary),
            _ => None,
        }
    }
}

/// The latest view of every cluster, and the connections it is read on (one per server, kept
/// open between reads: see `topology::read_kept`).
#[derive(Debug, Clone, Default)]
pub struct Topology {
    inner: Arc<RwLock<BTreeMap<String, ClusterTopology>>>,
    kept: Arc<topology::Kept>,
}

impl Topology {
    /// Reads every cluster now, 16 at a time (`CLUSTERS_AT_ONCE`).
    pub async fn refresh(&self, config: &Config) {
        use futures_util::StreamExt;
        futures_util::stream::iter(&config.clusters)
            .for_each_concurrent(CLUSTERS_AT_ONCE, |cluster| self.refresh_cluster(cluster))
            .await;
    }

    /// Reads one cluster now.
    pub async fn refresh_cluster(&self, cluster: &ClusterConfig) {
        let servers = topology::read_cluster_with(cluster, Some(&self.kept)).await;
        let read_at = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        if let Ok(mut map) = self.inner.write() {
            map.insert(
                cluster.name.clone(),
                ClusterTopology {
                    cluster: cluster.name.clone(),
                    read_at,
                    servers,
                },
            );
        }
    }

    /// Refreshes every [`REFRESH`] until `cancel`.
    pub async fn run(&self, config: &Config, cancel: &CancellationToken) {
        loop {
            self.refresh(config).await;
            tokio::select! {
                _ = tokio::time::sleep(REFRESH) => {}
                _ = cancel.cancelled() => return,
            }
        }
    }

    /// The connections the servers are read on, one per server: the agents' heartbeats are
    /// read on them too (`agents.rs`).
    pub fn kept(&self) -> &topology::Kept {
        &self.kept
    }

    /// The view of `cluster`.
    pub fn cluster(&self, cluster: &str) -> Option<ClusterTopology> {
        self.inner.read().ok()?.get(cluster).cloned()
    }

    /// Every cluster.
    pub fn all(&self) -> Vec<ClusterTopology> {
        self.inner
            .read()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }
}

/// The server a backup of `cluster` is taken from: the first healthy server of
/// `db-servers-backup-hosts` when set; else a healthy replica (replicating, lag under 5 min),
/// least lagging first; else the primary.
///
/// Only the primary (the one answering server that replicates from no one) and servers that
/// replicate from it, directly or through other servers of the cluster, are ever chosen: a
/// server that replicates from no one besides the primary (a replica whose replication was
/// reset, a reseed interrupted before it was pointed) holds data the primary has moved past,
/// and a backup of it would be stored as good. Two such servers are a split topology: which
/// one is the primary cannot be told, and no backup is taken.
///
/// A Galera cluster (a server answered as a Galera node) has rules of its own: `galera.rs`.
pub fn backup_source(cluster: &ClusterConfig, view: &ClusterTopology) -> Result<String> {
    if view.is_galera() {
        return galera::source(cluster, view);
    }
    let status = |name: &str| {
        view.servers
            .iter()
            .find(|s| s.name == name)
            .and_then(|s| s.status.as_ref())
    };
    let primaries: Vec<&str> = view.primaries().iter().map(|s| s.name.as_str()).collect();
    if primaries.len() > 1 {
        return Err(Error::SplitTopology {
            cluster: cluster.name.clone(),
            servers: primaries.join(", "),
        });
    }
    let primary = primaries.first().copied();
    let in_tree = |name: &str| primary.is_some_and(|p| replicates_from(cluster, view, name, p));
    let mut passed = Vec::new();
    if !cluster.db_servers_backup_hosts.is_empty() {
        for name in &cluster.db_servers_backup_hosts {
            match status(name) {
                Some(_) if Some(name.as_str()) == primary || in_tree(name) => {
                    return Ok(name.clone())
                }
                Some(_) => passed.push(format!(
                    "{name}: neither the primary nor replicating from it"
                )),
                None => passed.push(unread(view, name)),
            }
        }
        return Err(Error::NoBackupSource {
            cluster: cluster.name.clone(),
            detail: passed.join("; "),
        });
    }
    let mut replicas: Vec<(u64, &str)> = Vec::new();
    for s in &view.servers {
        let Some(st) = &s.status else {
            passed.push(unread(view, &s.name));
            continue;
        };
        if st.role == Role::Primary {
            continue;
        }
        match &st.replication {
            Some(r) if !in_tree(&s.name) => passed.push(format!(
                "{}: replicates from {}:{}, which is not the primary{}",
                s.name,
                r.master_host,
                r.master_port,
                primary
                    .map(|p| format!(" ({p}) nor one of its replicas"))
                    .unwrap_or_default()
            )),
            Some(r)
                if r.running()
                    && r.seconds_behind_master.unwrap_or(u64::MAX) <= MAX_BACKUP_LAG_S =>
            {
                replicas.push((r.seconds_behind_master.unwrap_or(0), s.name.as_str()))
            }
            Some(r) => passed.push(format!(
                "{}: replication not healthy (io {}, sql {}, lag {:?})",
                s.name, r.io_running, r.sql_running, r.seconds_behind_master
            )),
            None => passed.push(format!("{}: no replication status", s.name)),
        }
    }
    replicas.sort();
    if let Some((_, name)) = replicas.first() {
        return Ok((*name).to_owned());
    }
    primary
        .map(str::to_owned)
        .ok_or_else(|| Error::NoBackupSource {
            cluster: cluster.name.clone(),
            detail: if passed.is_empty() {
                "no server answered yet".to_owned()
            } else {
                passed.join("; ")
            },
        })
}

/// Why server `name` was passed over when its status could not be read: the monitor's reason
/// (a refused login, a missing privilege such as SLAVE MONITOR), else "not answering".
fn unread(view: &ClusterTopology, name: &str) -> String {
    match view
        .servers
        .iter()
        .find(|s| s.name == name)
        .and_then(|s| s.error.as_deref())
    {
        Some(error) => format!("{name}: cannot be read ({error})"),
        None => format!("{name}: not answering"),
    }
}

/// True when `name` replicates from `primary`, directly or through other servers of the
/// cluster (at most one hop per server: a cycle never reaches the primary).
fn replicates_from(
    cluster: &ClusterConfig,
    view: &ClusterTopology,
    name: &str,
    primary: &str,
) -> bool {
    let mut current = name;
    for _ in 0..cluster.servers.len() {
        let Some(r) = view
            .servers
            .iter()
            .find(|s| s.name == current)
            .and_then(|s| s.status.as_ref())
            .and_then(|st| st.replication.as_ref())
        else {
            return false;
        };
        let Some(source) = cluster
            .servers
            .iter()
            .find(|s| s.port == r.master_port && same_host(&s.host, &r.master_host))
        else {
            return false;
        };
        if source.name == primary {
            return true;
        }
        current = &source.name;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferryman_db::topology::{ServerStatus, SlaveStatus};

    fn cluster(backup_hosts: &str) -> ClusterConfig {
        let text = format!(
            r#"[clusters.prod]
db-servers-credential = {{ user = "ferryman" }}
replication-credential = {{ user = "repl" }}
{backup_hosts}
[[clusters.prod.servers]]
name = "db1"
host = "10.0.0.1"
[[clusters.prod.servers]]
name = "db2"
host = "10.0.0.2"
[[clusters.prod.servers]]
name = "db3"
host = "10.0.0.3"
"#
        );
        let config = Config::parse(&text, std::path::Path::new("test.toml")).unwrap();
        config.clusters.into_iter().next().unwrap()
    }

    /// A server answering; `source` is the `host` it replicates from (healthy), if any.
    fn server(name: &str, source: Option<&str>, lag: u64) -> ServerView {
        let replication = source.map(|host| SlaveStatus {
            master_host: host.to_owned(),
            master_port: 3306,
            io_running: "Yes".to_owned(),
            sql_running: "Yes".to_owned(),
            seconds_behind_master: Some(lag),
            using_gtid: "Slave_Pos".to_owned(),
            last_io_error: String::new(),
            last_sql_error: String::new(),
            master_log_file: "binlog.000001".to_owned(),
        });
        ServerView {
            name: name.to_owned(),
            address: format!("{name}:3306"),
            status: Some(ServerStatus {
                version: "10.11".to_owned(),
                server_id: 1,
                read_only: source.is_some(),
                log_bin: true,
                gtid_binlog_pos: "0-1-10".to_owned(),
                gtid_slave_pos: String::new(),
                role: if source.is_some() {
                    Role::Replica
                } else {
                    Role::Primary
                },
                replication,
                galera: None,
            }),
            error: None,
        }
    }

    fn view(servers: Vec<ServerView>) -> ClusterTopology {
        ClusterTopology {
            cluster: "prod".to_owned(),
            read_at: 0,
            servers,
        }
    }

    #[test]
    fn a_replica_of_the_primary_is_chosen_least_lagging_first() {
        let c = cluster("");
        let v = view(vec![
            server("db1", None, 0),
            server("db2", Some("10.0.0.1"), 7),
            server("db3", Some("10.0.0.1"), 1),
        ]);
        assert_eq!(backup_source(&c, &v).unwrap(), "db3");
        // Through another replica counts as replicating from the primary.
        let v = view(vec![
            server("db1", None, 0),
            server("db2", Some("10.0.0.1"), 70),
            server("db3", Some("10.0.0.2"), 1),
        ]);
        assert_eq!(backup_source(&c, &v).unwrap(), "db3");
    }

    #[test]
    fn a_split_topology_is_refused_and_a_stray_replica_never_chosen() {
        let c = cluster("");
        // db2 replicates from no one (its replication was reset): two "primaries".
        let v = view(vec![
            server("db1", None, 0),
            server("db2", None, 0),
            server("db3", Some("10.0.0.1"), 0),
        ]);
        let e = backup_source(&c, &v).unwrap_err();
        assert!(matches!(e, Error::SplitTopology { .. }), "{e}");
        assert!(
            e.to_string().contains("db1, db2 replicate from no one"),
            "{e}"
        );
        // A replica of a host outside the cluster is passed over, the primary taken.
        let v = view(vec![
            server("db1", None, 0),
            server("db2", Some("192.0.2.9"), 0),
        ]);
        assert_eq!(backup_source(&c, &v).unwrap(), "db1");
        // A configured backup host that is not in the primary's tree is passed over too.
        let c = cluster(r#"db-servers-backup-hosts = ["db2", "db3"]"#);
        let v = view(vec![
            server("db1", None, 0),
            server("db2", Some("192.0.2.9"), 0),
            server("db3", Some("10.0.0.1"), 0),
        ]);
        assert_eq!(backup_source(&c, &v).unwrap(), "db3");
        let v = view(vec![
            server("db1", None, 0),
            server("db2", Some("192.0.2.9"), 0),
        ]);
        let e = backup_source(&c, &v).unwrap_err();
        assert!(
            e.to_string()
                .contains("db2: neither the primary nor replicating from it"),
            "{e}"
        );
    }

    #[test]
    fn a_server_that_cannot_be_read_is_passed_over_with_the_monitors_reason() {
        let c = cluster(r#"db-servers-backup-hosts = ["db2"]"#);
        let unreadable = ServerView {
            name: "db2".to_owned(),
            address: "db2:3306".to_owned(),
            status: None,
            error: Some("SHOW SLAVE STATUS: access denied; you need SLAVE MONITOR".to_owned()),
        };
        let v = view(vec![server("db1", None, 0), unreadable]);
        let e = backup_source(&c, &v).unwrap_err().to_string();
        assert!(
            e.contains(
                "db2: cannot be read (SHOW SLAVE STATUS: access denied; you need SLAVE MONITOR)"
            ),
            "{e}"
        );
    }
}
