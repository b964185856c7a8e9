//! The node agent's HTTP API (`[agent] api-bind-address`, the server's `agent-api-port`): its
//! paths and the JSON it answers, shared by the agent that serves it, the manager that passes
//! requests through (`/api/v1/clusters/{cluster}/servers/{server}/node/...`) and the CLI
//! (`ferryman node ...`) that prints the answers.

use serde::{Deserialize, Serialize};

/// The prefix of the agent's authenticated routes; the manager's pass-through maps
/// `.../servers/{server}/node/REST` to `NODE_PREFIX/REST` on that server's agent.
pub const NODE_PREFIX: &str = "/api/v1/node";

/// Response header of `error-log`: the log file's identity (`DEVICE:INODE`), so that a client
/// following it notices a rotation.
pub const LOG_FILE_HEADER: &str = "ferryman-log-file";
/// Response header of `error-log`: the file offset at which the body starts.
pub const LOG_OFFSET_HEADER: &str = "ferryman-log-offset";
/// Response header of `error-log`: the log file's path on the node.
pub const LOG_PATH_HEADER: &str = "ferryman-log-path";

/// The most lines `error-log?lines=N` returns.
pub const MAX_TAIL_LINES: usize = 10_000;
/// The most seconds one `error-log?follow=true` answer waits for new lines before it ends (the
/// client asks again from where it stopped: no connection stays silent past the idle limits).
pub const MAX_FOLLOW_WAIT_S: u64 = 25;

/// `GET /api/v1/node/mysqld`: is the database server up, as it answers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MysqldStatus {
    /// The configured server's name.
    pub server: String,
    /// Whether it accepts connections now.
    pub answering: bool,
    /// Why not, when it does not.
    pub error: Option<String>,
    /// `@@version`.
    pub version: Option<String>,
    /// `Uptime`, in seconds.
    pub uptime_s: Option<u64>,
    /// `@@read_only`.
    pub read_only: Option<bool>,
    /// The process id from `@@pid_file` (up), or from the option files' `pid-file` (down: a
    /// pid file left by a server that is gone is reported with `process_alive` false).
    pub pid: Option<u32>,
    /// Whether that process exists.
    pub process_alive: Option<bool>,
    /// A job the agent is running now (`mariabackup job 42`), during which the service
    /// routes refuse to act.
    pub busy_with: Option<String>,
}

/// `POST /api/v1/node/mysqld/{start|stop|restart}`: what the configured command did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceOutcome {
    /// `start`, `stop` or `restart`.
    pub action: String,
    /// The command's outcome and the server's state after it.
    pub result: String,
}

/// `GET /api/v1/node/detect`: where the server is and what it uses, from the running server
/// and from its option files, compared with the configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    /// The configured server's name.
    pub server: String,
    /// What the running server says (`None` when it does not answer).
    pub running: Option<Settings>,
    /// The option files in use: those on the running process's command line
    /// (`--defaults-file`, `--defaults-extra-file`), else those MariaDB reads by default that
    /// exist.
    pub option_files: Vec<String>,
    /// How they were found.
    pub option_files_from: String,
    /// The `[mysqld]` settings the option files give (`my_print_defaults`), `None` when they
    /// could not be read (the reason in `notes`).
    pub configured_in_files: Option<Settings>,
    /// Each difference between the configuration, the running server and its option files,
    /// with what to do.
    pub mismatches: Vec<Mismatch>,
    /// What could not be read, and why.
    pub notes: Vec<String>,
}

/// A server's locations and version, from one source.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// `port`.
    pub port: Option<u16>,
    /// `datadir`.
    pub datadir: Option<String>,
    /// `socket`.
    pub socket: Option<String>,
    /// `log_error` (absolute).
    pub log_error: Option<String>,
    /// `slow_query_log_file` (absolute).
    pub slow_query_log_file: Option<String>,
    /// `log_bin_basename` (running) or `log-bin` (option files).
    pub log_bin: Option<String>,
    /// `pid_file`.
    pub pid_file: Option<String>,
    /// `@@version` (running only).
    pub version: Option<String>,
}

/// One difference found by detection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mismatch {
    /// The setting (`port`, `datadir`, `socket`, `defaults-file`…).
    pub setting: String,
    /// The first value and where it comes from (`ferryman.toml: 3306`).
    pub expected: String,
    /// The other value and where it comes from (`running server: 3307`).
    pub found: String,
    /// What to do.
    pub next_step: String,
}

/// `GET /api/v1/node/disk`: the file systems a DBA watches on the node.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DiskUsage {
    /// The configured server's name.
    pub server: String,
    /// The datadir's file system, then the agent's staging directory's (`agent.work-dir`).
    pub file_systems: Vec<FileSystem>,
    /// The datadir's own size in bytes (its files, walked), when it could be read.
    pub datadir_bytes: Option<u64>,
    /// What could not be read, and why.
    pub notes: Vec<String>,
}

/// One file system's usage (`statvfs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileSystem {
    /// `datadir` or `staging`.
    pub role: String,
    /// The directory asked about.
    pub path: String,
    /// The file system's size in bytes.
    pub total_bytes: u64,
    /// Bytes free for unprivileged users.
    pub available_bytes: u64,
    /// Bytes in use.
    pub used_bytes: u64,
    /// `used / (used + available)`, in percent, as `df` computes it.
    pub used_percent: f64,
}

/// `GET /api/v1/node/replicas`: the replicas the server knows of.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replicas {
    /// The configured server's name.
    pub server: String,
    /// Each replica found, once (by host and port, or host alone from the processlist).
    pub replicas: Vec<KnownReplica>,
}

/// A replica the server knows of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownReplica {
    /// Its host as the server sees it (`Report_host`, else the connection's host).
    pub host: String,
    /// Its port (`SHOW SLAVE HOSTS` only: a replica without `report_port` shows 3306).
    pub port: Option<u16>,
    /// Its `server_id` (`SHOW SLAVE HOSTS` only).
    pub server_id: Option<u32>,
    /// `SHOW SLAVE HOSTS`, `processlist` or both.
    pub seen_in: Vec<String>,
    /// The configured server it is (filled by the manager), `None` when the configuration
    /// lacks it.
    pub configured_as: Option<String>,
}

/// What a consistent snapshot recorded while commits were blocked: where it stands in the
/// server's history and where its datadir is inside it (`work-dir/<server>/snapshots/NAME.json`
/// on the node; what a seed from the snapshot restarts from).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotMeta {
    /// The snapshot's name (`ferryman-db2-20261205T043000Z`).
    pub name: String,
    /// The configured server's name.
    pub server: String,
    /// `btrfs`, `lvm` or `zfs`.
    pub method: String,
    /// When it was taken (RFC 3339, UTC).
    pub created: String,
    /// `@@gtid_binlog_pos` while commits were blocked.
    pub gtid_binlog_pos: String,
    /// `@@gtid_current_pos`.
    pub gtid_current_pos: String,
    /// `@@gtid_slave_pos`.
    pub gtid_slave_pos: String,
    /// `SHOW MASTER STATUS`' file, with the binlog on.
    pub binlog_file: Option<String>,
    /// Its position.
    pub binlog_position: Option<u64>,
    /// `@@log_bin_basename` (a server started on the snapshot needs the same `--log-bin` for
    /// its crash recovery of prepared transactions).
    pub log_bin_basename: Option<String>,
    /// `@@server_id`.
    pub server_id: u64,
    /// `@@version`.
    pub version: String,
    /// `@@datadir`.
    pub datadir: String,
    /// The datadir's path inside the snapshot (empty: its root).
    pub datadir_in_snapshot: String,
    /// How commits were held: `BACKUP STAGE BLOCK_COMMIT` or `FLUSH TABLES WITH READ LOCK`.
    pub lock: String,
    /// How long commits were blocked, in milliseconds.
    pub locked_ms: u64,
}

/// One snapshot of a server's volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotInfo {
    /// Its name on the volume.
    pub name: String,
    /// What Ferryman recorded when it took it; `None` for one taken otherwise (its position
    /// is unknown: never seeded from).
    pub meta: Option<SnapshotMeta>,
    /// Where its files are readable now, if mounted (btrfs: always, read-only).
    pub mounted_at: Option<String>,
}

/// `GET /api/v1/node/snapshots`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotList {
    /// The configured server's name.
    pub server: String,
    /// `btrfs`, `lvm` or `zfs`.
    pub method: String,
    /// Oldest first.
    pub snapshots: Vec<SnapshotInfo>,
}

/// The name of the [`SnapshotMeta`] JSON a `snapshotsend` tar carries first, beside the
/// snapshot's datadir (the joiner reads it, then removes it).
pub const SNAPSHOT_META_FILE: &str = "ferryman-snapshot.json";
