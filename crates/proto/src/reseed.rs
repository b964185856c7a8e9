//! What the manager tells a reseed's joiner, in the `params` column of its jobs row (JSON).
//!
//! The joiner listens on the row's `port`, takes the one connection whose stream header
//! carries the row's token, receives the framed payload ([`crate::frames`]) and restores it:
//! an xbstream for the `reseed/flashback{mariabackup,xtrabackup}` tasks, SQL for
//! `*mysqldump`. It then points replication at [`ReseedParams::primary_host`]:
//! [`ReseedParams::primary_port`] from [`ReseedParams::gtid`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How a replica is rebuilt: chosen by the DBA, written into the joiner's row, and shown in
/// the joiner's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// The newest physical backup of the cluster (or the one asked for).
    Physicalbackup,
    /// The newest logical backup of the cluster.
    Logicalbackup,
    /// A consistent dump of the current primary, piped through the manager.
    Logicalmaster,
    /// A chosen earlier backup (the server rewound).
    Flashback,
    /// A consistent file-system snapshot of a donor replica taken now (`snapshot-method`),
    /// its datadir piped through the manager.
    Snapshot,
}

impl Method {
    /// Every method, in the order the CLI lists them.
    pub const ALL: [Method; 5] = [
        Method::Physicalbackup,
        Method::Logicalbackup,
        Method::Logicalmaster,
        Method::Flashback,
        Method::Snapshot,
    ];

    /// The name, as the API, the CLI and the row spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Physicalbackup => "physicalbackup",
            Method::Logicalbackup => "logicalbackup",
            Method::Logicalmaster => "logicalmaster",
            Method::Flashback => "flashback",
            Method::Snapshot => "snapshot",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Method {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Method> {
        Method::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| crate::Error::UnknownMethod { name: s.to_owned() })
    }
}

/// The `params` of a reseed or flashback row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReseedParams {
    /// How the joiner is rebuilt (spelt `physicalbackup`, ... in the JSON): for messages.
    pub method: Method,
    /// The backup restored (`cluster/server/name`), if the payload is a stored backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_id: Option<String>,
    /// The GTID position the payload holds data up to: the joiner sets `gtid_slave_pos` to it.
    /// `None` when the payload itself says (a dump's `gtid_slave_pos` comment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gtid: Option<String>,
    /// The primary the joiner replicates from afterwards.
    pub primary_host: String,
    /// Its port.
    pub primary_port: u16,
    /// The payload's size, when known, for progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_bytes: Option<u64>,
    /// Stop at the payload's position: replication is pointed at the primary from `gtid` but
    /// not started, and the server stays read-only, until the DBA starts it (`START SLAVE`).
    /// A flashback to a point in time: the replica must not replay what came after it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hold: bool,
    /// The joiner's server name, as the manager's configuration names it (sealed: a row
    /// cannot be moved to another server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// When the manager wrote the row, seconds since the epoch (sealed: an old row is not
    /// replayed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<u64>,
    /// The manager's seal over the row (`seal.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seal: Option<String>,
}

impl ReseedParams {
    /// As stored in the `params` column.
    pub fn to_json(&self) -> String {
        // A struct of strings and integers always serialises.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// From the `params` column.
    pub fn from_json(text: &str) -> Result<ReseedParams, serde_json::Error> {
        serde_json::from_str(text)
    }
}
