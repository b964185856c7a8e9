//! `manifest.json`: everything known about one backup, written last (its presence is what makes
//! a directory a backup). The repository's catalogue is the set of manifests, nothing else.
//!
//! `format_version` is bumped only for changes an older reader would misread; new optional
//! fields do not bump it, and unknown fields are ignored so an older manager can still list
//! a newer repository.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::crypt::{self, Encryption};
use crate::layout::BackupId;
use crate::signing::Signature;
use crate::storage::Key;
use crate::timestamp::Timestamp;
use crate::verification::Verification;
use crate::{Error, Result};

/// The newest manifest format this crate reads and writes: 2 adds `encryption`, written only
/// by encrypted backups (an older reader would take their payload for plain zstd).
pub const FORMAT_VERSION: u32 = 2;

/// The format of a manifest without encryption, which every version reads.
pub const PLAIN_FORMAT_VERSION: u32 = 1;

/// Physical (datadir copy) or logical (SQL) backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// mariabackup / xtrabackup.
    Physical,
    /// mysqldump / mydumper.
    Logical,
}

impl Kind {
    /// `physical` or `logical`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Physical => "physical",
            Kind::Logical => "logical",
        }
    }
}

/// The program that made the backup; it fixes the kind and the stream format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tool {
    /// MariaDB's mariabackup: an xbstream.
    Mariabackup,
    /// Percona's xtrabackup: an xbstream.
    Xtrabackup,
    /// mysqldump / mariadb-dump: one SQL file.
    Mysqldump,
    /// mydumper: its output directory as one tar.
    Mydumper,
}

impl Tool {
    /// The tool's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Tool::Mariabackup => "mariabackup",
            Tool::Xtrabackup => "xtrabackup",
            Tool::Mysqldump => "mysqldump",
            Tool::Mydumper => "mydumper",
        }
    }

    /// Physical or logical.
    pub fn kind(self) -> Kind {
        match self {
            Tool::Mariabackup | Tool::Xtrabackup => Kind::Physical,
            Tool::Mysqldump | Tool::Mydumper => Kind::Logical,
        }
    }

    /// The format of the stream the tool's agent task sends.
    pub fn format(self) -> Format {
        match self {
            Tool::Mariabackup | Tool::Xtrabackup => Format::Xbstream,
            Tool::Mysqldump => Format::Sql,
            Tool::Mydumper => Format::Tar,
        }
    }
}

/// The format of the raw (uncompressed) payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// xbstream (`mbstream -x` extracts it).
    Xbstream,
    /// A SQL script.
    Sql,
    /// A tar archive.
    Tar,
}

impl Format {
    /// `xbstream`, `sql` or `tar`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Xbstream => "xbstream",
            Format::Sql => "sql",
            Format::Tar => "tar",
        }
    }

    /// The payload's file name in the backup's directory.
    pub fn payload_name(self) -> &'static str {
        match self {
            Format::Xbstream => "payload.xbstream.zst",
            Format::Sql => "payload.sql.zst",
            Format::Tar => "payload.tar.zst",
        }
    }

    /// The payload's file name, with [`crypt::SUFFIX`] when it is encrypted.
    pub fn payload_name_for(self, encrypted: bool) -> String {
        format!("{}{}", self.payload_name(), crypt::suffix(encrypted))
    }
}

/// How the payload was compressed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompressionInfo {
    /// Always `zstd` for now.
    pub algorithm: String,
    /// The zstd level.
    pub level: i32,
}

/// Where replication can start from this backup.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coordinates {
    /// The GTID position (`gtid_slave_pos` to set), e.g. `0-1-50`.
    pub gtid: Option<String>,
    /// The binary log file, e.g. `binlog.000001`.
    pub binlog_file: Option<String>,
    /// The position in that file.
    pub binlog_pos: Option<u64>,
}

impl Coordinates {
    /// True when nothing is known.
    pub fn is_empty(&self) -> bool {
        self.gtid.is_none() && self.binlog_file.is_none() && self.binlog_pos.is_none()
    }
}

/// Where the manifest's coordinates were read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CoordinatesSource {
    /// From the backup itself (`xtrabackup_binlog_info`, the dump's comments).
    Stream,
    /// From what the sending agent reported (its job result).
    Agent,
}

/// One backup's manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT_VERSION`] when written.
    pub format_version: u32,
    /// `cluster/server/20261121T025800Z-j42`.
    pub id: BackupId,
    /// The cluster.
    pub cluster: String,
    /// The server's configured name.
    pub server: String,
    /// The server's address (as the job row and the stream's peer knew it).
    pub host: String,
    /// Physical or logical.
    pub kind: Kind,
    /// The tool that made it.
    pub tool: Tool,
    /// The tool's version, when known (xtrabackup_info, dump header, or the agent).
    pub tool_version: Option<String>,
    /// The server's version, when the backup says.
    #[serde(default)]
    pub server_version: Option<String>,
    /// The raw payload's format.
    pub format: Format,
    /// The payload's file name in the backup's directory.
    pub payload: String,
    /// The job that took it.
    pub job_id: u64,
    /// When the job started (UTC).
    pub started_at: Timestamp,
    /// When the repository finished storing it (UTC).
    pub ended_at: Timestamp,
    /// Size of the stream as received.
    pub raw_bytes: u64,
    /// Size of the stored (compressed) payload.
    pub stored_bytes: u64,
    /// sha256 of the stream as received, hex.
    pub raw_sha256: String,
    /// sha256 of the stored payload, hex.
    pub stored_sha256: String,
    /// How the payload is compressed.
    pub compression: CompressionInfo,
    /// How the payload is encrypted; `None` when it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Encryption>,
    /// GTID position to start replication from.
    pub gtid: Option<String>,
    /// Binary log file at the backup's consistent point.
    pub binlog_file: Option<String>,
    /// Position in that file.
    pub binlog_pos: Option<u64>,
    /// Where the coordinates were read, when there are any.
    #[serde(default)]
    pub coordinates_source: Option<CoordinatesSource>,
    /// Small files captured from a physical stream (`xtrabackup_binlog_info`, `backup-my.cnf`,
    /// ...), name → text.
    #[serde(default)]
    pub captured: BTreeMap<String, String>,
    /// A mysqldump backup's databases (created or used in the dump), sorted; empty for other
    /// tools and for manifests written before it was recorded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub databases: Vec<String>,
    /// A mysqldump backup's rows per table as dumped, `db.table` → rows (names unquoted; a
    /// table dumped before any `USE` is keyed by its name alone), every dumped table included,
    /// empty or not; empty for other tools and for manifests written before it was recorded.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub table_rows: BTreeMap<String, u64>,
    /// Verification results, appended by the verifier, oldest first (only those this version
    /// can read: see [`crate::verification`]).
    #[serde(
        default,
        serialize_with = "crate::verification::serialize_sorted",
        deserialize_with = "crate::verification::deserialize_readable"
    )]
    pub verification: Vec<Verification>,
    /// What the caller attached (e.g. the agent's result line).
    #[serde(default)]
    pub extra: BTreeMap<String, String>,
    /// The manager's signature of everything above (see [`crate::signing`]); `None` in a
    /// manifest written before signatures, or by a repository without a signing key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Signature>,
}

/// Where a Galera node's physical backup stands in its cluster's history, from the
/// `xtrabackup_galera_info` the tool writes with `--galera-info`: `UUID:SEQNO`, and in
/// MariaDB's recent versions the cluster's GTID domain (`wsrep_gtid_domain_id`) after a space.
/// (The backup's GTID position is the manifest's `gtid`.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GaleraPosition {
    /// `wsrep_cluster_state_uuid` / `wsrep_local_state_uuid`: the cluster's history.
    pub cluster_uuid: String,
    /// The seqno of the last write set in the backup (`-1` when the tool could not tell).
    pub seqno: i64,
    /// `wsrep_gtid_domain_id`, when written.
    pub gtid_domain: Option<u32>,
}

impl GaleraPosition {
    /// Parses the file's text; `None` when it is not `UUID:SEQNO`.
    pub fn parse(text: &str) -> Option<GaleraPosition> {
        let line = text.lines().find(|l| !l.trim().is_empty())?;
        let mut fields = line.split_whitespace();
        let (uuid, seqno) = fields.next()?.rsplit_once(':')?;
        Some(GaleraPosition {
            cluster_uuid: uuid.to_owned(),
            seqno: seqno.parse().ok()?,
            gtid_domain: fields.next().and_then(|d| d.parse().ok()),
        })
    }
}

impl Manifest {
    /// A Galera node's backup: its cluster's UUID and seqno (see [`GaleraPosition`]); `None`
    /// for other backups.
    pub fn galera(&self) -> Option<GaleraPosition> {
        let text = self
            .captured
            .get("xtrabackup_galera_info")
            .or_else(|| self.captured.get("mariadb_backup_galera_info"))?;
        GaleraPosition::parse(text)
    }

    /// The replication coordinates.
    pub fn coordinates(&self) -> Coordinates {
        Coordinates {
            gtid: self.gtid.clone(),
            binlog_file: self.binlog_file.clone(),
            binlog_pos: self.binlog_pos,
        }
    }

    /// The payload's key (its name checked when the manifest was read).
    pub fn payload_key(&self) -> Key {
        Key::trusted(format!("{}/{}", self.id.dir(), self.payload))
    }

    /// The format version to write: [`PLAIN_FORMAT_VERSION`] unless the payload is
    /// encrypted.
    pub fn format_version_for(encryption: Option<&Encryption>) -> u32 {
        match encryption {
            Some(_) => FORMAT_VERSION,
            None => PLAIN_FORMAT_VERSION,
        }
    }

    /// The manifest as written to `manifest.json`.
    pub fn to_json(&self) -> Vec<u8> {
        // Serializing plain data (strings, numbers, maps with string keys) cannot fail.
        let mut bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }

    /// Reads a manifest, checking that it describes the backup at its location.
    pub fn from_json(bytes: &[u8], location: &BackupId) -> Result<Manifest> {
        let bad = |detail: String| Error::Manifest {
            location: location.manifest_key().to_string(),
            detail,
        };
        let manifest: Manifest =
            serde_json::from_slice(bytes).map_err(|e| bad(format!("not valid JSON: {e}")))?;
        if manifest.format_version > FORMAT_VERSION {
            return Err(bad(format!(
                "format_version {} is newer than this Ferryman understands ({FORMAT_VERSION}); upgrade Ferryman",
                manifest.format_version
            )));
        }
        if &manifest.id != location
            || manifest.cluster != location.cluster()
            || manifest.server != location.server()
        {
            return Err(bad(format!(
                "it describes backup {} (cluster `{}`, server `{}`), not the one at its location; a directory was moved by hand",
                manifest.id, manifest.cluster, manifest.server
            )));
        }
        let expected = manifest
            .format
            .payload_name_for(manifest.encryption.is_some());
        if manifest.payload != expected {
            return Err(bad(format!(
                "its payload is named {:?}, where a {} backup{} has {expected:?}; the manifest \
                 was edited by hand: restore it from another repository's copy",
                manifest.payload,
                manifest.format.as_str(),
                if manifest.encryption.is_some() {
                    " encrypted"
                } else {
                    ""
                },
            )));
        }
        Ok(manifest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn galera_info_of_mariadb_10_11_and_of_older_tools() {
        // MariaDB 10.11's mariabackup: UUID:SEQNO, then the wsrep GTID domain.
        let p = GaleraPosition::parse("597d1c2e-f053-11f1-b96d-fe2ae53d6add:18 10\n").unwrap();
        assert_eq!(p.cluster_uuid, "597d1c2e-f053-11f1-b96d-fe2ae53d6add");
        assert_eq!(p.seqno, 18);
        assert_eq!(p.gtid_domain, Some(10));
        let p = GaleraPosition::parse("597d1c2e-f053-11f1-b96d-fe2ae53d6add:-1").unwrap();
        assert_eq!((p.seqno, p.gtid_domain), (-1, None));
        assert_eq!(GaleraPosition::parse("no position"), None);
        assert_eq!(GaleraPosition::parse(""), None);
    }
}
