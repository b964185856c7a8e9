//! Where things live in the repository, and the names that say so.
//!
//! ```text
//! Backups/<cluster>/<server>/<backup-id>/payload.{xbstream,sql,tar}.zst
//! Backups/<cluster>/<server>/<backup-id>/manifest.json     (written last: marks a backup)
//! <cluster>/<server>/<kind>-<UTC time>-j<job>.log.zst       (error and slow logs)
//! Quarantine/<cluster>/<server>/<backup-id>-q<UTC time>/     (set aside at start-up: below)
//! Binlogs/<cluster>/<segment>/segment.binlog.zst, manifest.json (archived binlog segments)
//! Binlogs/<cluster>/proofs.json                              (proofs of recoverability)
//! BinlogSpool/<cluster>/                                      (the manager's, see below)
//! Keys/ed25519-<key>.pub                                     (the manifest signing keys' public halves)
//! ```
//!
//! `BinlogSpool/` is not the repository's: the manager's binlog archiver keeps the binlog it
//! is following there (in `monitoring-datadir`, the local repository's root) until a segment
//! is cut and stored. The name is reserved so that nothing takes it for a cluster's logs.
//!
//! `Quarantine/` holds backup directories without a manifest that held more than a partial
//! payload when the manager started (see `leftovers.rs`); nothing in Ferryman reads, lists or
//! deletes it: the DBA inspects it and removes it by hand.
//!
//! The second level is the server's configured *name*, not its address: servers of a sandbox
//! (or behind one NAT address) share an address, and a name is always a valid path component.
//! The address is recorded in the manifest. A backup id is its UTC start time and job id,
//! `20261121T025800Z-j42`: sortable, and unique per server because job ids are.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::manifest::Format;
use crate::storage::{check_component, Key};
use crate::timestamp::Timestamp;
use crate::{Error, Result};

/// The top-level directory of backups.
pub const BACKUPS: &str = "Backups";
/// The file whose presence makes a directory a backup.
pub const MANIFEST: &str = "manifest.json";
/// The top-level directory of backup directories set aside at start-up.
pub const QUARANTINE: &str = "Quarantine";
/// The top-level directory of archived binlog segments.
pub const BINLOGS: &str = "Binlogs";

/// The top-level directory of the public keys manifests are signed with (informative).
pub const KEYS: &str = "Keys";

/// The top-level directory of the manager's binlog spools (not part of the repository).
pub const BINLOG_SPOOL: &str = "BinlogSpool";

/// True for the repository's own top-level directories, which no cluster may be named.
pub fn is_reserved(name: &str) -> bool {
    [BACKUPS, QUARANTINE, BINLOGS, BINLOG_SPOOL, KEYS].contains(&name)
}

/// Checks a cluster name: a key component, and none of the repository's own top-level
/// directories ([`is_reserved`]), which logs would collide with.
pub fn check_cluster(cluster: &str) -> Result<()> {
    check_component("cluster name", cluster)?;
    if is_reserved(cluster) {
        return Err(Error::InvalidName {
            what: "cluster name",
            value: cluster.to_owned(),
            reason: format!("`{BACKUPS}`, `{QUARANTINE}`, `{BINLOGS}`, `{KEYS}` and `{BINLOG_SPOOL}` are reserved for the repository's own directories; rename the cluster"),
        });
    }
    Ok(())
}

/// Checks a server name.
pub fn check_server(server: &str) -> Result<()> {
    check_component("server name", server)
}

/// Which backup: cluster, server, UTC start time and job id. Written `cluster/server/name`,
/// where the name is `20261121T025800Z-j42`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BackupId {
    cluster: String,
    server: String,
    started_at: Timestamp,
    job_id: u64,
}

impl BackupId {
    /// The id of the backup of `job_id` on `cluster`/`server` started at `started_at`.
    pub fn new(
        cluster: &str,
        server: &str,
        started_at: Timestamp,
        job_id: u64,
    ) -> Result<BackupId> {
        check_cluster(cluster)?;
        check_server(server)?;
        if started_at.year_bucket() < 1970 || started_at.year_bucket() > 9999 {
            return Err(Error::InvalidName {
                what: "backup start time",
                value: started_at.rfc3339(),
                reason: "it is not between the years 1970 and 9999; check the manager's clock"
                    .to_owned(),
            });
        }
        Ok(BackupId {
            cluster: cluster.to_owned(),
            server: server.to_owned(),
            started_at,
            job_id,
        })
    }

    /// Parses a directory name (`20261121T025800Z-j42`) found under `cluster`/`server`.
    pub fn from_name(cluster: &str, server: &str, name: &str) -> Result<BackupId> {
        let invalid = || Error::InvalidName {
            what: "backup id",
            value: name.to_owned(),
            reason: "a backup id is its UTC start time and job id, like 20261121T025800Z-j42"
                .to_owned(),
        };
        let (stamp, job) = name.split_once("-j").ok_or_else(invalid)?;
        let started_at = Timestamp::parse_compact(stamp).ok_or_else(invalid)?;
        if job.is_empty() || !job.bytes().all(|c| c.is_ascii_digit()) || job.starts_with('0') {
            return Err(invalid());
        }
        let job_id = job.parse().map_err(|_| invalid())?;
        BackupId::new(cluster, server, started_at, job_id)
    }

    /// The cluster.
    pub fn cluster(&self) -> &str {
        &self.cluster
    }

    /// The server's name.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// When the backup started (UTC, to the second).
    pub fn started_at(&self) -> Timestamp {
        self.started_at
    }

    /// The job that took it.
    pub fn job_id(&self) -> u64 {
        self.job_id
    }

    /// The directory name: `20261121T025800Z-j42`.
    pub fn name(&self) -> String {
        format!("{}-j{}", self.started_at.compact(), self.job_id)
    }

    /// `Backups/<cluster>/<server>/<name>`.
    pub fn dir(&self) -> Key {
        // Every component was validated when the id was made.
        Key::trusted(format!(
            "{BACKUPS}/{}/{}/{}",
            self.cluster,
            self.server,
            self.name()
        ))
    }

    /// The manifest's key.
    pub fn manifest_key(&self) -> Key {
        Key::trusted(format!("{}/{MANIFEST}", self.dir()))
    }

    /// The payload's key for a stream of `format`.
    pub fn payload_key(&self, format: Format) -> Key {
        Key::trusted(format!("{}/{}", self.dir(), format.payload_name()))
    }
}

/// `Backups/<cluster>/<server>`.
pub fn server_dir(cluster: &str, server: &str) -> Result<Key> {
    check_cluster(cluster)?;
    check_server(server)?;
    backups_dir().join(cluster)?.join(server)
}

/// `Backups`.
pub fn backups_dir() -> Key {
    Key::trusted(BACKUPS.to_owned())
}

impl fmt::Display for BackupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.cluster, self.server, self.name())
    }
}

impl FromStr for BackupId {
    type Err = Error;

    /// Parses `cluster/server/20261121T025800Z-j42`.
    fn from_str(s: &str) -> Result<BackupId> {
        let mut parts = s.split('/');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(cluster), Some(server), Some(name), None) => {
                BackupId::from_name(cluster, server, name)
            }
            _ => Err(Error::InvalidName {
                what: "backup id",
                value: s.to_owned(),
                reason: "write it CLUSTER/SERVER/ID, like shop/db1/20261121T025800Z-j42".to_owned(),
            }),
        }
    }
}

impl Serialize for BackupId {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for BackupId {
    fn deserialize<D: Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<BackupId, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_name_their_files() {
        let t = Timestamp::parse_compact("20261121T025800Z").unwrap();
        let id = BackupId::new("shop", "db1", t, 42).unwrap();
        assert_eq!(id.to_string(), "shop/db1/20261121T025800Z-j42");
        assert_eq!(id.to_string().parse::<BackupId>().unwrap(), id);
        assert_eq!(
            id.payload_key(Format::Xbstream).as_str(),
            "Backups/shop/db1/20261121T025800Z-j42/payload.xbstream.zst"
        );
        assert_eq!(
            id.manifest_key().as_str(),
            "Backups/shop/db1/20261121T025800Z-j42/manifest.json"
        );
        for bad in [
            "shop/db1/20261121T025800Z",
            "shop/db1/20261121T025800Z-j",
            "shop/db1/20261121T025800Z-j042",
            "shop/db1/20261121T025800Z-jx",
            "shop/db1/20261131T025800Z-j1",
            "shop/db 1/20261121T025800Z-j1",
            "Backups/db1/20261121T025800Z-j1",
            "../db1/20261121T025800Z-j1",
            "db1/20261121T025800Z-j1",
            "a/shop/db1/20261121T025800Z-j1",
        ] {
            assert!(bad.parse::<BackupId>().is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn ids_sort_by_time_then_job() {
        let t = Timestamp::parse_compact("20261121T025800Z").unwrap();
        let a = BackupId::new("c", "s", t, 9).unwrap();
        let b = BackupId::new("c", "s", t, 10).unwrap();
        let c = BackupId::new("c", "s", t.plus_seconds(1), 1).unwrap();
        assert!(a < b && b < c);
    }
}
