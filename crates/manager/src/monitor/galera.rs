//! The backup source of a Galera cluster: a node that is synced, in the Primary component, and
//! neither donating (an SST or IST to a joiner) nor desynced by someone else.
//!
//! Galera nodes all take writes and replicate from no one, so the rules of an asynchronous
//! cluster (the primary and the servers replicating from it) do not apply: every synced node
//! holds the cluster's data. A donor is passed over because a backup would slow the joiner it
//! feeds; a node desynced already (by a DBA, or another backup) because it may lag.

use ferryman_config::ClusterConfig;

use super::ClusterTopology;
use crate::{Error, Result};

/// The node a backup of the Galera `cluster` is taken from: the first synced node of
/// `db-servers-backup-hosts` when set; else the last synced node in the configuration's order
/// (applications usually write to the first, so the last is the least busy by convention;
/// name the node with `db-servers-backup-hosts` to choose).
pub(super) fn source(cluster: &ClusterConfig, view: &ClusterTopology) -> Result<String> {
    let mut passed = Vec::new();
    let mut synced = Vec::new();
    for s in &view.servers {
        let Some(st) = &s.status else {
            passed.push(super::unread(view, &s.name));
            continue;
        };
        match &st.galera {
            Some(w) if w.synced() && !w.desync => synced.push(s.name.as_str()),
            Some(w) => passed.push(format!("{}: {}", s.name, w.describe())),
            None => passed.push(format!("{}: not a Galera node", s.name)),
        }
    }
    let chosen = if cluster.db_servers_backup_hosts.is_empty() {
        synced.last().copied()
    } else {
        let listed = cluster
            .db_servers_backup_hosts
            .iter()
            .find(|name| synced.contains(&name.as_str()));
        if listed.is_none() && !synced.is_empty() {
            passed.push(format!(
                "{}: synced, but not in db-servers-backup-hosts",
                synced.join(", ")
            ));
        }
        listed.map(String::as_str)
    };
    chosen
        .map(str::to_owned)
        .ok_or_else(|| Error::NoBackupSource {
            cluster: cluster.name.clone(),
            detail: if passed.is_empty() {
                "no node answered yet".to_owned()
            } else {
                format!("no synced Galera node: {}", passed.join("; "))
            },
        })
}
