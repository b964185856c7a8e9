//! The safety rails of a reseed, checked before any row is written: the primary (read live)
//! is never a joiner, a server is reseeded by one reseed at a time, each joiner has a receiver
//! port of its own, and the payload's tool has a joiner task.

use std::collections::HashSet;
use std::sync::Mutex;

use ferryman_config::{ClusterConfig, ServerConfig};
use ferryman_db::topology::ServerView;
use ferryman_db::Role;
use ferryman_proto::Task;
use ferryman_repo::Tool;

use crate::{Error, Result};

/// The reseeds running: the servers being reseeded (`cluster/server`), so two reseeds never
/// share a joiner, and the receiver ports of joiners in use, per cluster, so concurrent joiners
/// on one host have a port each.
#[derive(Debug, Default)]
pub struct Reseeds {
    busy: Mutex<HashSet<String>>,
    ports: Mutex<HashSet<(String, u16)>>,
}

impl Reseeds {
    /// Marks every server of `keys` busy, or none if one already is (returned).
    pub(super) fn take_all(&self, keys: &[String]) -> std::result::Result<(), String> {
        let mut set = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(k) = keys.iter().find(|k| set.contains(*k)) {
            return Err(k.clone());
        }
        set.extend(keys.iter().cloned());
        Ok(())
    }

    /// The server `key` is free again.
    pub(super) fn release(&self, key: &str) {
        self.busy
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }

    /// A receiver port of `cluster` no running joiner uses.
    pub(super) fn take_port(&self, cluster: &ClusterConfig) -> Option<u16> {
        let mut used = self.ports.lock().unwrap_or_else(|e| e.into_inner());
        let port = cluster
            .receiver_ports
            .iter()
            .copied()
            .find(|p| !used.contains(&(cluster.name.clone(), *p)))?;
        used.insert((cluster.name.clone(), port));
        Some(port)
    }

    /// `port` of `cluster` is free again.
    pub(super) fn give_back(&self, cluster: &str, port: u16) {
        self.ports
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(cluster.to_owned(), port));
    }
}

/// The current primary of a cluster, from a live read: the one server that replicates from no
/// one, or, when several do (a replica whose replication was reset), the one the replicas
/// read from.
pub(super) fn primary<'c>(
    cluster: &'c ClusterConfig,
    views: &[ServerView],
) -> Result<&'c ServerConfig> {
    let answering: Vec<&ServerView> = views.iter().filter(|v| v.status.is_some()).collect();
    let primaries: Vec<&str> = answering
        .iter()
        .filter(|v| v.status.as_ref().is_some_and(|s| s.role == Role::Primary))
        .map(|v| v.name.as_str())
        .collect();
    let read_from: Vec<(String, u16)> = answering
        .iter()
        .filter_map(|v| v.status.as_ref()?.replication.as_ref())
        .map(|r| (r.master_host.clone(), r.master_port))
        .collect();
    let find = |name: &str| cluster.servers.iter().find(|s| s.name == name);
    let chosen = match primaries.as_slice() {
        [one] => find(one),
        several => several.iter().filter_map(|n| find(n)).find(|s| {
            read_from.iter().any(|(h, p)| {
                *p == s.port && (h == &s.host || h == "127.0.0.1" && s.host == "localhost")
            })
        }),
    };
    chosen.ok_or_else(|| {
        Error::Refused(format!(
            "cannot tell the primary of cluster `{}` (servers replicating from no one: {}); a \
             replica is rebuilt from and pointed at the primary: check `ferryman topology`",
            cluster.name,
            if primaries.is_empty() {
                "none answering".to_owned()
            } else {
                primaries.join(", ")
            }
        ))
    })
}

/// The joiner task for a backup tool.
pub(super) fn joiner_task(tool: Tool, flashback: bool) -> Task {
    match (tool, flashback) {
        (Tool::Mariabackup, false) => Task::Reseedmariabackup,
        (Tool::Mariabackup, true) => Task::Flashbackmariabackup,
        (Tool::Xtrabackup, false) => Task::Reseedxtrabackup,
        (Tool::Xtrabackup, true) => Task::Flashbackxtrabackup,
        (Tool::Mysqldump, false) => Task::Reseedmysqldump,
        (Tool::Mysqldump, true) => Task::Flashbackmysqldump,
        (Tool::Mydumper, false) => Task::Reseedmydumper,
        (Tool::Mydumper, true) => Task::Flashbackmydumper,
    }
}
