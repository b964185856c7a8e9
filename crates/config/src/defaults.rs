//! Default values of every optional key, and the limits validation enforces.
//!
//! `config/ferryman.example.toml` shows the same values; a test checks that they agree.

use std::time::Duration;

use ferryman_proto::Task;

use crate::cluster::CopyAfter;
use crate::db_ssl::SslMode;
use crate::notifications::{RouteSeverity, SmtpTls};

/// `manager.monitoring-datadir`.
pub const MONITORING_DATADIR: &str = "/var/lib/ferryman";
/// `manager.monitoring-address`.
pub const MONITORING_ADDRESS: &str = "127.0.0.1";
/// `manager.http-bind-address`.
pub const HTTP_BIND_ADDRESS: &str = "127.0.0.1";
/// `manager.http-port` (replication-manager's default).
pub const HTTP_PORT: u16 = 10001;
/// `manager.stream-bind-address`.
pub const STREAM_BIND_ADDRESS: &str = "127.0.0.1";
/// `manager.stream-port`.
pub const STREAM_PORT: u16 = 10002;
/// `manager.stream-accept-timeout`.
pub const STREAM_ACCEPT_TIMEOUT: Duration = Duration::from_secs(120);
/// Smallest `manager.stream-accept-timeout`.
pub const STREAM_ACCEPT_TIMEOUT_MIN: Duration = Duration::from_secs(1);
/// Largest `manager.stream-accept-timeout`.
pub const STREAM_ACCEPT_TIMEOUT_MAX: Duration = Duration::from_secs(24 * 3600);
// `manager.api-token-file` and `manager.api-token-env` have no default: without them the
// manager generates a token at first start into `monitoring-datadir/api.token`.
/// `manager.backup-compression-level`: 1, not zstd's default 3: on InnoDB data level 1 both
/// compresses better (ratio 2.62 against 2.41 on a sysbench backup) and runs 3× faster (about
/// 300 MB/s with 2 threads against 90 MB/s), which keeps the receiver faster than mariabackup.
pub const BACKUP_COMPRESSION_LEVEL: i32 = 1;
/// Smallest `manager.backup-compression-level`.
pub const BACKUP_COMPRESSION_LEVEL_MIN: i32 = 1;
/// Largest `manager.backup-compression-level`: zstd's highest level short of the `--ultra` ones,
/// which need far more memory to decompress.
pub const BACKUP_COMPRESSION_LEVEL_MAX: i32 = 19;
/// `manager.backup-compression-threads`.
pub const BACKUP_COMPRESSION_THREADS: u32 = 2;
/// Smallest `manager.backup-compression-threads`.
pub const BACKUP_COMPRESSION_THREADS_MIN: u32 = 1;
/// Largest `manager.backup-compression-threads`.
pub const BACKUP_COMPRESSION_THREADS_MAX: u32 = 64;
/// `manager.history-retention`: jobs, events and verification runs kept for 90 days.
pub const HISTORY_RETENTION: Duration = Duration::from_secs(90 * 86_400);
/// `manager.agent-silent-after`: an agent unheard of for 2 minutes (12 missed beats) is silent.
pub const AGENT_SILENT_AFTER: Duration = Duration::from_secs(120);
/// Smallest `manager.agent-silent-after` (three beats).
pub const AGENT_SILENT_AFTER_MIN: Duration = Duration::from_secs(30);
/// Largest `manager.agent-silent-after`.
pub const AGENT_SILENT_AFTER_MAX: Duration = Duration::from_secs(7 * 86_400);
/// `manager.storage-free-alert`: a local repository's file system with less than 10 % free.
pub const STORAGE_FREE_ALERT_PERCENT: u32 = 10;
/// Bounds of `manager.storage-free-alert` (0: never said).
pub const STORAGE_FREE_ALERT_PERCENT_RANGE: (u32, u32) = (0, 99);
/// Smallest `manager.history-retention`.
pub const HISTORY_RETENTION_MIN: Duration = Duration::from_secs(3600);
/// Largest `manager.history-retention`: ten years.
pub const HISTORY_RETENTION_MAX: Duration = Duration::from_secs(3650 * 86_400);
/// `manager.job-claim-timeout`.
pub const JOB_CLAIM_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// Smallest `manager.job-claim-timeout`: one default `agent.poll-interval`.
pub const JOB_CLAIM_TIMEOUT_MIN: Duration = Duration::from_secs(5);
/// Largest `manager.job-claim-timeout`.
pub const JOB_CLAIM_TIMEOUT_MAX: Duration = Duration::from_secs(24 * 3600);
/// `manager.logs-keep`.
pub const LOGS_KEEP: u32 = 30;
/// Smallest `manager.logs-keep`.
pub const LOGS_KEEP_MIN: u32 = 1;
/// Largest `manager.logs-keep`.
pub const LOGS_KEEP_MAX: u32 = 100_000;
/// `manager.http-header-read-timeout`: a client has this long to send a request's headers
/// (from its first byte, or from the connection's opening for its first request).
pub const HTTP_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Smallest `manager.http-header-read-timeout`.
pub const HTTP_HEADER_READ_TIMEOUT_MIN: Duration = Duration::from_secs(1);
/// Largest `manager.http-header-read-timeout`.
pub const HTTP_HEADER_READ_TIMEOUT_MAX: Duration = Duration::from_secs(3600);
/// `manager.http-idle-timeout`: a connection on which the client sends nothing for this long
/// (between requests, or in the middle of a request's body) is closed.
pub const HTTP_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Smallest `manager.http-idle-timeout`.
pub const HTTP_IDLE_TIMEOUT_MIN: Duration = Duration::from_secs(1);
/// Largest `manager.http-idle-timeout`.
pub const HTTP_IDLE_TIMEOUT_MAX: Duration = Duration::from_secs(24 * 3600);
/// `manager.http-max-connections`: HTTP API connections open at once; more are closed at once
/// with a 503. Far below the usual 1024 file descriptors, which the receiver, the database
/// sessions and the repository need too.
pub const HTTP_MAX_CONNECTIONS: u32 = 512;
/// Smallest `manager.http-max-connections`.
pub const HTTP_MAX_CONNECTIONS_MIN: u32 = 1;
/// Largest `manager.http-max-connections`.
pub const HTTP_MAX_CONNECTIONS_MAX: u32 = 100_000;

/// `agent.poll-interval`.
pub const POLL_INTERVAL: Duration = Duration::from_secs(5);
/// Smallest `agent.poll-interval`: polling faster only loads the database.
pub const POLL_INTERVAL_MIN: Duration = Duration::from_millis(100);
/// Largest `agent.poll-interval`: jobs would wait too long to start.
pub const POLL_INTERVAL_MAX: Duration = Duration::from_secs(3600);
/// `agent.work-dir`.
pub const AGENT_WORK_DIR: &str = "/var/lib/ferryman-agent";
/// `jobs.row-key-file`.
pub const ROW_KEY_FILE: &str = "/etc/ferryman/row.key";
/// `agent.connect-timeout`.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(120);
/// Smallest `agent.connect-timeout`.
pub const CONNECT_TIMEOUT_MIN: Duration = Duration::from_secs(1);
/// Largest `agent.connect-timeout`: a job should not hold its server for longer.
pub const CONNECT_TIMEOUT_MAX: Duration = Duration::from_secs(3600);
/// `agent.shutdown-grace`.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(60);
/// Smallest `agent.shutdown-grace`: 0 interrupts running tasks at once.
pub const SHUTDOWN_GRACE_MIN: Duration = Duration::ZERO;
/// Largest `agent.shutdown-grace`.
pub const SHUTDOWN_GRACE_MAX: Duration = Duration::from_secs(24 * 3600);
/// `agent.stale-claim-timeout`.
pub const STALE_CLAIM_TIMEOUT: Duration = Duration::from_secs(600);
/// Smallest `agent.stale-claim-timeout`: well above any heartbeat interval, so a live agent's
/// job is never taken for abandoned.
pub const STALE_CLAIM_TIMEOUT_MIN: Duration = Duration::from_secs(10);
/// Largest `agent.stale-claim-timeout`.
pub const STALE_CLAIM_TIMEOUT_MAX: Duration = Duration::from_secs(7 * 24 * 3600);
/// `agent.joiner-bind-address`: a joiner listens on every address (the manager connects to
/// the server's `host`).
pub const JOINER_BIND_ADDRESS: &str = "0.0.0.0";
/// `agent.joiner-accept-timeout`.
pub const JOINER_ACCEPT_TIMEOUT: Duration = Duration::from_secs(120);
/// Smallest `agent.joiner-accept-timeout`.
pub const JOINER_ACCEPT_TIMEOUT_MIN: Duration = Duration::from_secs(1);
/// Largest `agent.joiner-accept-timeout`.
pub const JOINER_ACCEPT_TIMEOUT_MAX: Duration = Duration::from_secs(3600);
/// `agent.catch-up-timeout`: a reseeded replica has this long to catch up with its primary.
pub const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(3600);
/// Smallest `agent.catch-up-timeout`.
pub const CATCH_UP_TIMEOUT_MIN: Duration = Duration::from_secs(5);
/// Largest `agent.catch-up-timeout`.
pub const CATCH_UP_TIMEOUT_MAX: Duration = Duration::from_secs(7 * 24 * 3600);
/// `agent.catch-up-max-lag`: a replica this close to its primary has caught up.
pub const CATCH_UP_MAX_LAG: Duration = Duration::from_secs(10);
/// Smallest `agent.catch-up-max-lag`.
pub const CATCH_UP_MAX_LAG_MIN: Duration = Duration::ZERO;
/// Largest `agent.catch-up-max-lag`.
pub const CATCH_UP_MAX_LAG_MAX: Duration = Duration::from_secs(24 * 3600);

/// `agent.import-buffer-pool-mib`: the InnoDB buffer pool of the server a logical reseed
/// imports into, next to the running one (which keeps its own).
pub const IMPORT_BUFFER_POOL_MIB: u32 = 512;
/// Smallest `agent.import-buffer-pool-mib`.
pub const IMPORT_BUFFER_POOL_MIB_MIN: u32 = 16;
/// Largest `agent.import-buffer-pool-mib`.
pub const IMPORT_BUFFER_POOL_MIB_MAX: u32 = 1024 * 1024;

/// `verifier.work-dir`: where throwaway servers are created.
pub const VERIFIER_WORK_DIR: &str = "/var/lib/ferryman/verify";
/// `verifier.concurrency`: one test restore at a time.
pub const VERIFIER_CONCURRENCY: u32 = 1;
/// Smallest `verifier.concurrency`.
pub const VERIFIER_CONCURRENCY_MIN: u32 = 1;
/// Largest `verifier.concurrency`.
pub const VERIFIER_CONCURRENCY_MAX: u32 = 64;
/// `verifier.buffer-pool-mib`: the InnoDB buffer pool of a throwaway server.
pub const VERIFIER_BUFFER_POOL_MIB: u32 = 512;
/// Smallest `verifier.buffer-pool-mib`.
pub const VERIFIER_BUFFER_POOL_MIB_MIN: u32 = 16;
/// Largest `verifier.buffer-pool-mib`.
pub const VERIFIER_BUFFER_POOL_MIB_MAX: u32 = 1024 * 1024;
/// `verifier.start-timeout`: a throwaway server has this long to accept connections (crash
/// recovery of a large prepared backup can take minutes).
pub const VERIFIER_START_TIMEOUT: Duration = Duration::from_secs(300);
/// Smallest `verifier.start-timeout`.
pub const VERIFIER_START_TIMEOUT_MIN: Duration = Duration::from_secs(10);
/// Largest `verifier.start-timeout`.
pub const VERIFIER_START_TIMEOUT_MAX: Duration = Duration::from_secs(3600);
/// `verifier.restore-timeout`: the bound on one backup's whole verification.
pub const VERIFIER_RESTORE_TIMEOUT: Duration = Duration::from_secs(6 * 3600);
/// Smallest `verifier.restore-timeout`.
pub const VERIFIER_RESTORE_TIMEOUT_MIN: Duration = Duration::from_secs(60);
/// Largest `verifier.restore-timeout`.
pub const VERIFIER_RESTORE_TIMEOUT_MAX: Duration = Duration::from_secs(7 * 24 * 3600);
/// `verifier.size-change-percent`: a backup half as large, or half as large again, as the
/// previous verified backup of its source fails verification.
pub const VERIFIER_SIZE_CHANGE_PERCENT: u32 = 50;
/// Smallest `verifier.size-change-percent`: 0 turns the size check off.
pub const VERIFIER_SIZE_CHANGE_PERCENT_MIN: u32 = 0;
/// Largest `verifier.size-change-percent`.
pub const VERIFIER_SIZE_CHANGE_PERCENT_MAX: u32 = 100_000;
/// `verifier.check-tables`.
pub const VERIFIER_CHECK_TABLES: bool = true;

/// `jobs.schema`: where replication-manager keeps its jobs table.
pub const JOBS_SCHEMA: &str = "replication_manager_schema";

/// `clusters.NAME.scheduler-db-servers-sender-ports`: no pool.
pub const SENDER_PORTS: &str = "";
/// `clusters.NAME.scheduler-db-servers-receiver-ports`: mariabackup's usual joiner port.
pub const RECEIVER_PORTS: &str = "4444";
/// `clusters.NAME.backup-physical-type`.
pub const BACKUP_PHYSICAL_TYPE: Task = Task::Mariabackup;
/// The values `clusters.NAME.backup-physical-type` allows.
pub const BACKUP_PHYSICAL_TYPES: [Task; 2] = [Task::Mariabackup, Task::Xtrabackup];
/// `clusters.NAME.backup-logical-type`.
pub const BACKUP_LOGICAL_TYPE: Task = Task::Mysqldump;
/// The values `clusters.NAME.backup-logical-type` allows.
pub const BACKUP_LOGICAL_TYPES: [Task; 2] = [Task::Mysqldump, Task::Mydumper];
/// `clusters.NAME.backup-stream-compression`: `auto` (the node compresses while its
/// compressors outrun the link, and sends raw what they cannot take).
pub const BACKUP_STREAM_COMPRESSION: ferryman_proto::blocks::CompressionSite =
    ferryman_proto::blocks::CompressionSite::Auto;
/// `manager.backup-concurrency`: backups streaming at once on one manager, across clusters;
/// the others wait their turn. Reference 003 starts them all at once, which a fleet's cron
/// hour turns into hundreds of streams into one disk.
pub const BACKUP_CONCURRENCY: u32 = 16;
/// Range of `manager.backup-concurrency`.
pub const BACKUP_CONCURRENCY_RANGE: (u32, u32) = (1, 1024);
/// `clusters.NAME.backup-concurrency`: backups of one cluster streaming at once (a physical
/// and a logical one fired by the same hour).
pub const CLUSTER_BACKUP_CONCURRENCY: u32 = 2;
/// Range of `clusters.NAME.backup-concurrency`.
pub const CLUSTER_BACKUP_CONCURRENCY_RANGE: (u32, u32) = (1, 64);
/// `clusters.NAME.backup-stream-compression-threads`: 2, one core's worth of zstd level 1
/// for a 1 Gbit/s link, with a second to keep up while the first waits.
pub const BACKUP_STREAM_COMPRESSION_THREADS: u32 = 2;
/// Range of `clusters.NAME.backup-stream-compression-threads`.
pub const BACKUP_STREAM_COMPRESSION_THREADS_RANGE: (u32, u32) = (1, 64);
/// Range of `clusters.NAME.backup-throttle-lag` (absent: no lag watched).
pub const BACKUP_THROTTLE_LAG_RANGE: (Duration, Duration) =
    (Duration::from_secs(1), Duration::from_secs(86_400));
/// Range of `clusters.NAME.backup-throttle-rate-mib` (absent or 0: no cap).
pub const BACKUP_THROTTLE_RATE_RANGE: (u32, u32) = (0, 1_000_000);
/// `clusters.NAME.backup-throttle-min-rate-mib`: 16 MiB/s, above the redo log rate of most
/// servers (a physical backup throttled below it loses the log's start and fails).
pub const BACKUP_THROTTLE_MIN_RATE: u32 = 16;
/// Range of `clusters.NAME.backup-throttle-min-rate-mib`.
pub const BACKUP_THROTTLE_MIN_RATE_RANGE: (u32, u32) = (1, 1_000_000);
/// `clusters.NAME.backup-galera-desync`: off (the node stays in flow control and never lags
/// the cluster during a backup; turn it on when backups slow the whole cluster down).
pub const BACKUP_GALERA_DESYNC: bool = false;
/// `clusters.NAME.backup-keep-last`.
pub const BACKUP_KEEP_LAST: u32 = 10;
/// `clusters.NAME.backup-keep-hourly`.
pub const BACKUP_KEEP_HOURLY: u32 = 1;
/// `clusters.NAME.backup-keep-daily`.
pub const BACKUP_KEEP_DAILY: u32 = 1;
/// `clusters.NAME.backup-keep-weekly`.
pub const BACKUP_KEEP_WEEKLY: u32 = 4;
/// `clusters.NAME.backup-keep-monthly`.
pub const BACKUP_KEEP_MONTHLY: u32 = 12;
/// `clusters.NAME.backup-keep-yearly`.
pub const BACKUP_KEEP_YEARLY: u32 = 2;
/// Smallest `clusters.NAME.backup-keep-*`: 0 is allowed, even for all six, since the newest
/// backup of each source is always kept.
pub const BACKUP_KEEP_MIN: u32 = 0;
/// Largest `clusters.NAME.backup-keep-*`.
pub const BACKUP_KEEP_MAX: u32 = 100_000;
/// `clusters.NAME.backup-missing-grace`: a scheduled backup with no good result this long
/// after its cron fired raises `backup-missing`.
pub const BACKUP_MISSING_GRACE: Duration = Duration::from_secs(2 * 3600);
/// Bounds of `clusters.NAME.backup-missing-grace`.
pub const BACKUP_MISSING_GRACE_RANGE: (Duration, Duration) =
    (Duration::from_secs(10), Duration::from_secs(30 * 86_400));
/// `clusters.NAME.monitoring-scheduler`.
pub const MONITORING_SCHEDULER: bool = false;
/// `clusters.NAME.scheduler-db-servers-physical-backup`.
pub const PHYSICAL_BACKUP: bool = false;
/// `clusters.NAME.scheduler-db-servers-physical-backup-cron`: midnight, Sunday to Thursday.
pub const PHYSICAL_BACKUP_CRON: &str = "0 0 0 * * 0-4";
/// `clusters.NAME.scheduler-db-servers-logical-backup`.
pub const LOGICAL_BACKUP: bool = true;
/// `clusters.NAME.scheduler-db-servers-logical-backup-cron`: 01:00 on Saturdays.
pub const LOGICAL_BACKUP_CRON: &str = "0 0 1 * * 6";
/// `clusters.NAME.scheduler-db-servers-logs`.
pub const LOGS: bool = false;
/// `clusters.NAME.scheduler-db-servers-logs-cron`: every 10 minutes.
pub const LOGS_CRON: &str = "0 0/10 * * * *";
/// `clusters.NAME.scheduler-db-servers-optimize`.
pub const OPTIMIZE: bool = false;
/// `clusters.NAME.scheduler-db-servers-optimize-cron`: 03:00 on the 1st of the month and on
/// Fridays (day-of-month and day-of-week are OR-ed, as in replication-manager).
pub const OPTIMIZE_CRON: &str = "0 0 3 1 * 5";

/// `clusters.NAME.scheduler-db-servers-verify`.
pub const VERIFY: bool = false;
/// `clusters.NAME.scheduler-db-servers-verify-cron`: every 10 minutes.
pub const VERIFY_CRON: &str = "0 0/10 * * * *";
// `clusters.NAME.verify-expected-databases` and `verify-nonempty-tables` default to `[]`: only
// what the backup's manifest records is checked.

/// `clusters.NAME.servers.port`.
pub const SERVER_PORT: u16 = 3306;
/// `clusters.NAME.servers.legacy-donor`.
pub const LEGACY_DONOR: bool = false;
/// `clusters.NAME.servers.service-start`.
pub const SERVICE_START: &str = "systemctl start mariadb";
/// `clusters.NAME.servers.service-stop`.
pub const SERVICE_STOP: &str = "systemctl stop mariadb";
/// `clusters.NAME.servers.service-restart`.
pub const SERVICE_RESTART: &str = "systemctl restart mariadb";
// `clusters.NAME.servers.zfs-snapback` has no default: without it the `zfssnapback` task fails.
/// `clusters.NAME.servers.onpremise-ssh`.
pub const ONPREMISE_SSH: bool = false;
/// `clusters.NAME.servers.onpremise-ssh-port`.
pub const ONPREMISE_SSH_PORT: u16 = 22;
/// `clusters.NAME.servers.onpremise-ssh-credential`: `root`, key login (replication-manager's
/// `root:`).
pub const ONPREMISE_SSH_USER: &str = "root";
/// `clusters.NAME.servers.onpremise-ssh-accept-new-host-key`: host keys are pinned by hand.
pub const ONPREMISE_SSH_ACCEPT_NEW_HOST_KEY: bool = false;
/// `clusters.NAME.servers.onpremise-ssh-agent-command`, followed by the server's name.
pub const ONPREMISE_SSH_AGENT_COMMAND: &str =
    "ferryman agent --once --config /etc/ferryman/ferryman.toml --server";
// `clusters.NAME.servers.onpremise-ssh-known-hosts` has no default: it is required with
// `onpremise-ssh`. `onpremise-ssh-private-key` has none either (ssh's own default identities).
// `onpremise-ssh-db-job-script` has none: it is required for a `legacy-donor` run over SSH.

/// `clusters.NAME.galera-link.schema`, as reference 004.
pub const GALERA_LINK_SCHEMA: &str = "percona";
/// `clusters.NAME.galera-link.table`, as reference 004.
pub const GALERA_LINK_TABLE: &str = "replication";
/// Port of a `clusters.NAME.galera-link.masters` entry written without one.
pub const GALERA_LINK_MASTER_PORT: u16 = 3306;
/// `clusters.NAME.galera-link.interval`.
pub const GALERA_LINK_INTERVAL: Duration = Duration::from_secs(5);
/// Bounds of `clusters.NAME.galera-link.interval`.
pub const GALERA_LINK_INTERVAL_RANGE: (Duration, Duration) =
    (Duration::from_secs(1), Duration::from_secs(600));
/// `clusters.NAME.galera-link.heartbeat-timeout`.
pub const GALERA_LINK_HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(30);
/// Bounds of `clusters.NAME.galera-link.heartbeat-timeout`.
pub const GALERA_LINK_HEARTBEAT_TIMEOUT_RANGE: (Duration, Duration) =
    (Duration::from_secs(3), Duration::from_secs(3600));
/// `clusters.NAME.galera-link.failed-cool-down`: three minutes, as reference 004 documents.
pub const GALERA_LINK_FAILED_COOL_DOWN: Duration = Duration::from_secs(180);
/// Bounds of `clusters.NAME.galera-link.failed-cool-down`.
pub const GALERA_LINK_FAILED_COOL_DOWN_RANGE: (Duration, Duration) =
    (Duration::from_secs(0), Duration::from_secs(86_400));
/// `clusters.NAME.galera-link.master-connect-timeout`.
pub const GALERA_LINK_MASTER_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Bounds of `clusters.NAME.galera-link.master-connect-timeout`.
pub const GALERA_LINK_MASTER_CONNECT_TIMEOUT_RANGE: (Duration, Duration) =
    (Duration::from_secs(1), Duration::from_secs(300));

/// The repository name that needs no table: the manager's own repository in
/// `manager.monitoring-datadir`. A `[repositories.local]` table is an error.
pub const LOCAL_REPOSITORY: &str = "local";
/// `clusters.NAME.backup-repositories`: the manager's own repository only.
pub const BACKUP_REPOSITORIES: [&str; 1] = [LOCAL_REPOSITORY];
/// `clusters.NAME.backup-copy-after`: copies are made as soon as a backup is stored.
pub const BACKUP_COPY_AFTER: CopyAfter = CopyAfter::Stored;
/// The values `clusters.NAME.backup-copy-after` allows.
pub const BACKUP_COPY_AFTERS: [CopyAfter; 2] = [CopyAfter::Stored, CopyAfter::Verified];
/// The values `repositories.NAME.kind` allows (required: no default).
pub const REPOSITORY_KINDS: [&str; 3] = ["s3", "local", "restic"];
/// `repositories.NAME.region`: AWS's first region, which S3-compatible servers such as Ceph's
/// radosgw accept whatever their own zone group is called.
pub const S3_REGION: &str = "us-east-1";
// `repositories.NAME.path-style` defaults to true when `endpoint` is set (S3-compatible servers
// rarely have the wildcard DNS that virtual-hosted-style needs), false otherwise (AWS).
/// `repositories.NAME.part-size`, in MiB: the size of each part of a multipart upload.
pub const S3_PART_SIZE_MIB: u32 = 8;
/// Smallest `repositories.NAME.part-size`: S3's smallest part (but the last).
pub const S3_PART_SIZE_MIB_MIN: u32 = 5;
/// Largest `repositories.NAME.part-size`: a part is buffered in memory while it is sent.
pub const S3_PART_SIZE_MIB_MAX: u32 = 512;
/// `repositories.NAME.request-timeout`: one S3 request (one part, at most) must complete in
/// this.
pub const S3_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Bounds of `repositories.NAME.request-timeout`.
pub const S3_REQUEST_TIMEOUT_RANGE: (Duration, Duration) =
    (Duration::from_secs(1), Duration::from_secs(3600));
/// `repositories.NAME.retry-timeout`: how long one request is retried on transient errors
/// (connection refused, 5xx, 429) before the operation fails.
pub const S3_RETRY_TIMEOUT: Duration = Duration::from_secs(3 * 60);
/// Bounds of `repositories.NAME.retry-timeout`.
pub const S3_RETRY_TIMEOUT_RANGE: (Duration, Duration) =
    (Duration::from_secs(1), Duration::from_secs(3600));

/// `clusters.NAME.binlog-archive-flush`.
pub const BINLOG_ARCHIVE_FLUSH: Duration = Duration::from_secs(1);
/// Bounds of `clusters.NAME.binlog-archive-flush`.
pub const BINLOG_ARCHIVE_FLUSH_RANGE: (Duration, Duration) =
    (Duration::from_millis(100), Duration::from_secs(60));
/// `clusters.NAME.binlog-archive-segment-size`, MiB.
pub const BINLOG_ARCHIVE_SEGMENT_MIB: u32 = 64;
/// Bounds of `clusters.NAME.binlog-archive-segment-size`.
pub const BINLOG_ARCHIVE_SEGMENT_MIB_RANGE: (u32, u32) = (1, 1024);
/// `clusters.NAME.binlog-archive-segment-age`.
pub const BINLOG_ARCHIVE_SEGMENT_AGE: Duration = Duration::from_secs(300);
/// Bounds of `clusters.NAME.binlog-archive-segment-age`.
pub const BINLOG_ARCHIVE_SEGMENT_AGE_RANGE: (Duration, Duration) =
    (Duration::from_secs(1), Duration::from_secs(86_400));
/// `clusters.NAME.binlog-archive-spool-max`, MiB.
pub const BINLOG_ARCHIVE_SPOOL_MAX_MIB: u32 = 4096;
/// Bounds of `clusters.NAME.binlog-archive-spool-max`.
pub const BINLOG_ARCHIVE_SPOOL_MAX_MIB_RANGE: (u32, u32) = (1, 1 << 20);
/// `clusters.NAME.binlog-archive-rpo-alert`: an archive 5 minutes behind its primary.
pub const BINLOG_ARCHIVE_RPO_ALERT: Duration = Duration::from_secs(300);
/// Bounds of `clusters.NAME.binlog-archive-rpo-alert`.
pub const BINLOG_ARCHIVE_RPO_ALERT_RANGE: (Duration, Duration) =
    (Duration::from_secs(10), Duration::from_secs(30 * 86_400));
/// `clusters.NAME.binlog-archive-proof-interval`: weekly.
pub const BINLOG_ARCHIVE_PROOF_INTERVAL: Duration = Duration::from_secs(7 * 86_400);
/// Bounds of `clusters.NAME.binlog-archive-proof-interval`.
pub const BINLOG_ARCHIVE_PROOF_INTERVAL_RANGE: (Duration, Duration) =
    (Duration::from_secs(60), Duration::from_secs(30 * 86_400));
/// `clusters.NAME.binlog-archive-server-id`: near the top of the range, where DBAs' own
/// numbering rarely goes.
pub const BINLOG_ARCHIVE_SERVER_ID: u32 = 4_294_900_000;

/// `notifications.repeat-after`: a problem still open is told again once a day.
pub const NOTIFY_REPEAT_AFTER: Duration = Duration::from_secs(24 * 3600);
/// Bounds of `notifications.repeat-after`.
pub const NOTIFY_REPEAT_AFTER_RANGE: (Duration, Duration) =
    (Duration::from_secs(10), Duration::from_secs(30 * 86_400));
/// `notifications.email.NAME.tls`.
pub const SMTP_TLS: SmtpTls = SmtpTls::StartTls;
/// The values `notifications.email.NAME.tls` allows.
pub const SMTP_TLS_MODES: [SmtpTls; 3] = [SmtpTls::None, SmtpTls::StartTls, SmtpTls::Tls];
/// `notifications.email.NAME.smtp-port` with `tls = "none"`: SMTP's own port.
pub const SMTP_PORT_NONE: u16 = 25;
/// `notifications.email.NAME.smtp-port` with `tls = "starttls"`: the submission port.
pub const SMTP_PORT_STARTTLS: u16 = 587;
/// `notifications.email.NAME.smtp-port` with `tls = "tls"`: submission over implicit TLS.
pub const SMTP_PORT_TLS: u16 = 465;
/// `notifications.email.NAME.timeout`: one SMTP try's limit.
pub const EMAIL_TIMEOUT: Duration = Duration::from_secs(30);
/// Bounds of `notifications.email.NAME.timeout`.
pub const EMAIL_TIMEOUT_RANGE: (Duration, Duration) =
    (Duration::from_secs(1), Duration::from_secs(600));
/// `notifications.email.NAME.max-per-hour`.
pub const EMAIL_MAX_PER_HOUR: u32 = 30;
/// Bounds of `notifications.email.NAME.max-per-hour`.
pub const EMAIL_MAX_PER_HOUR_RANGE: (u32, u32) = (1, 10_000);
/// `notifications.webhook.NAME.retries`: tries after the first.
pub const WEBHOOK_RETRIES: u32 = 5;
/// Bounds of `notifications.webhook.NAME.retries`.
pub const WEBHOOK_RETRIES_RANGE: (u32, u32) = (0, 20);
/// `notifications.webhook.NAME.timeout`: one try's limit.
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);
/// Bounds of `notifications.webhook.NAME.timeout`.
pub const WEBHOOK_TIMEOUT_RANGE: (Duration, Duration) =
    (Duration::from_secs(1), Duration::from_secs(300));
/// `notifications.webhook.NAME.max-per-hour`.
pub const WEBHOOK_MAX_PER_HOUR: u32 = 120;
/// Bounds of `notifications.webhook.NAME.max-per-hour`.
pub const WEBHOOK_MAX_PER_HOUR_RANGE: (u32, u32) = (1, 100_000);
/// `notifications.route.min-severity`: only errors.
pub const ROUTE_MIN_SEVERITY: RouteSeverity = RouteSeverity::Error;
/// The values `notifications.route.min-severity` allows.
pub const ROUTE_SEVERITIES: [RouteSeverity; 2] = [RouteSeverity::Info, RouteSeverity::Error];
// `notifications.route.clusters` and `kinds` default to `[]`: every cluster, every kind.

/// The manager's manifest signing key, under `monitoring-datadir` unless
/// `manager.signing-key-file` says otherwise.
pub const SIGNING_KEY_FILE: &str = "manifest-signing.key";

/// `clusters.NAME.db-servers-ssl-mode`.
pub const DB_SSL_MODE: SslMode = SslMode::Disabled;
/// The values `clusters.NAME.db-servers-ssl-mode` allows.
pub const DB_SSL_MODES: [SslMode; 4] = [
    SslMode::Disabled,
    SslMode::Required,
    SslMode::VerifyCa,
    SslMode::VerifyIdentity,
];

/// `agent.api-bind-address`: the agent's HTTP API listens on every address (on its server's
/// `agent-api-port`; off without one).
pub const AGENT_API_BIND_ADDRESS: &str = "0.0.0.0";

/// `clusters.NAME.servers.snapshot-keep`: the `snapshot` task keeps this many of Ferryman's
/// snapshots.
pub const SNAPSHOT_KEEP: u32 = 3;
/// `snapshot-filter`: what `zfssnapback` looks for in a snapshot's name: Ferryman's prefix.
pub const SNAPSHOT_FILTER: &str = "ferryman-";
/// `snapshot-lvm-size`: an LVM snapshot's copy-on-write space.
pub const SNAPSHOT_LVM_SIZE: &str = "10G";
/// `snapshot-timeout`: the longest a snapshot command may hold commits blocked.
pub const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(60);
/// `clusters.NAME.scheduler-db-servers-snapshot`.
pub const SNAPSHOT: bool = false;
/// `clusters.NAME.scheduler-db-servers-snapshot-cron`: every hour.
pub const SNAPSHOT_CRON: &str = "0 0 * * * *";
