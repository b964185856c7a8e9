//! The topology monitor: every server's role, GTID and replication state, kept fresh for the
//! API and for choosing where backups are taken.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use ferryman_config::{ClusterConfig, Config};
use ferryman_db::topology::{self, ServerView};
use ferryman_db::Role;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::{Error, Result};

/// How often the topology is read.
pub const REFRESH: Duration = Duration::from_secs(5);
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

/// The latest view of every cluster.
#[derive(Debug, Clone, Default)]
pub struct Topology {
    inner: Arc<RwLock<BTreeMap<String, ClusterTopology>>>,
}

impl Topology {
    /// Reads every cluster now.
    pub async fn refresh(&self, config: &Config) {
        for cluster in &config.clusters {
            let servers = topology::read_cluster(cluster).await;
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
pub fn backup_source(cluster: &ClusterConfig, view: &ClusterTopology) -> Result<String> {
    let status = |name: &str| {
        view.servers
            .iter()
            .find(|s| s.name == name)
            .and_then(|s| s.status.as_ref())
    };
    let mut passed = Vec::new();
    if !cluster.db_servers_backup_hosts.is_empty() {
        for name in &cluster.db_servers_backup_hosts {
            match status(name) {
                Some(_) => return Ok(name.clone()),
                None => passed.push(format!("{name}: not answering")),
            }
        }
        return Err(Error::NoBackupSource {
            cluster: cluster.name.clone(),
            detail: passed.join("; "),
        });
    }
    let mut replicas: Vec<(u64, &str)> = Vec::new();
    let mut primary = None;
    for s in &view.servers {
        let Some(st) = &s.status else {
            passed.push(format!("{}: not answering", s.name));
            continue;
        };
        match st.role {
            Role::Primary => primary = Some(s.name.as_str()),
            Role::Replica => match &st.replication {
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
            },
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
