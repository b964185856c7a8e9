//! What the keepers tell the world: state changes of the link, recorded in the events table
//! (one writer per event: the node that acted), logged, and returned by each round for the
//! notification work to send.

use serde::Serialize;

/// The kind of a link event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// A node became the replica while no node replicated (first start, or after `Failed`).
    NewReplica,
    /// A node took over from a replica that died, left the cluster or stopped renewing.
    Failover,
    /// The replica moved to another remote master because its master stopped serving it.
    MasterChanged,
    /// The replica could replicate from no master (or its SQL thread stopped): it stopped and
    /// is left out of elections for the cool-down.
    Failed,
    /// A node found replicating although another node holds the link was stopped.
    TwoReplicasFixed,
    /// The node left the Primary component and stopped replicating.
    LeftCluster,
    /// The replica found that another node took the link over, and stopped.
    LostLease,
}

impl EventKind {
    /// The kind as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::NewReplica => "new-replica",
            EventKind::Failover => "failover",
            EventKind::MasterChanged => "master-changed",
            EventKind::Failed => "failed",
            EventKind::TwoReplicasFixed => "two-replicas-fixed",
            EventKind::LeftCluster => "left-cluster",
            EventKind::LostLease => "lost-lease",
        }
    }

    /// Whether an event of kind `name` (as stored) is an alert; an unknown name (a newer
    /// keeper's) is one, to be safe.
    pub fn is_alert_name(name: &str) -> bool {
        EventKind::ALL
            .iter()
            .find(|k| k.as_str() == name)
            .is_none_or(|k| k.is_alert())
    }

    /// Every kind.
    pub const ALL: [EventKind; 7] = [
        EventKind::NewReplica,
        EventKind::Failover,
        EventKind::MasterChanged,
        EventKind::Failed,
        EventKind::TwoReplicasFixed,
        EventKind::LeftCluster,
        EventKind::LostLease,
    ];

    /// Whether a DBA must look at it (failures and fixed anomalies) rather than just know.
    pub fn is_alert(self) -> bool {
        matches!(
            self,
            EventKind::Failed
                | EventKind::TwoReplicasFixed
                | EventKind::LeftCluster
                | EventKind::LostLease
        )
    }
}

/// One event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkEvent {
    /// What happened.
    pub kind: EventKind,
    /// The cluster (`wsrep_cluster_name`).
    pub cluster: String,
    /// The node that acted (`wsrep_node_name`).
    pub host: String,
    /// The lease term after the event.
    pub term: u64,
    /// The details, in words.
    pub detail: String,
}
