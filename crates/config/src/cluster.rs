//! `[clusters.NAME]`: credentials, port pools, the repositories backups go to, scheduler, backup
//! tools, retention, what verification checks, and servers of one cluster.

use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

use ferryman_proto::Task;
use toml::Spanned;

use crate::agent::JobsConfig;
use crate::binlog_archive::{BinlogArchiveConfig, RawBinlogArchive};
use crate::credential::Credential;
use crate::defaults;
use crate::error::{ConfigError, Location};
use crate::galera_link::GaleraLinkConfig;
use crate::manager::ManagerConfig;
use crate::ports::port_list;
use crate::raw::{RawCluster, RawClusterVerify, RawRetention};
use crate::repository;
use crate::retention::RetentionConfig;
use crate::schedule::{ScheduleEntry, SchedulerConfig};
use crate::server::{SeenServers, ServerConfig};
use crate::stream::{RawThrottle, StreamCompressionConfig, ThrottleConfig};
use crate::validate::Validator;
use crate::verifier::ClusterVerifyConfig;

/// When a backup is copied to the repositories after the first of `backup-repositories`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyAfter {
    /// As soon as it is stored: the copy exists early (the 3-2-1 rule from the first minute).
    Stored,
    /// Once a verification passed: only backups proven to restore travel (and count against
    /// the other repositories' space).
    Verified,
}

impl fmt::Display for CopyAfter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CopyAfter::Stored => "stored",
            CopyAfter::Verified => "verified",
        })
    }
}

/// One replication cluster.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// The table name, `NAME` in `[clusters.NAME]`: 1 to 64 characters from
    /// `A-Z a-z 0-9 _ . -`.
    pub name: String,
    /// `db-servers-credential`: the user Ferryman connects to the servers as. Required.
    pub db_servers_credential: Credential,
    /// `replication-credential`: the replication user, for reseeded replicas. Required.
    pub replication_credential: Credential,
    /// `db-servers-backup-hosts`: names of the servers to take backups from, in order of
    /// preference; each must be a server of this cluster. Default `[]`: a healthy replica,
    /// else the primary.
    pub db_servers_backup_hosts: Vec<String>,
    /// `scheduler-db-servers-sender-ports`: the ports the manager listens on for legacy
    /// donors' streams, written as ports and inclusive ranges (`"40100-40119,40200"`); sorted.
    /// Pools of different clusters must not overlap nor contain `manager.http-port` or
    /// `manager.stream-port`. Default `""`: none.
    pub sender_ports: Vec<u16>,
    /// `scheduler-db-servers-receiver-ports`: the joiner ports agents listen on for reseeds,
    /// same syntax; at least one; sorted. Default `"4444"`.
    pub receiver_ports: Vec<u16>,
    /// `backup-repositories`: where this cluster's backups go, by repository name: `"local"`
    /// (the manager's own repository, in `manager.monitoring-datadir`) or `NAME` of a
    /// `[repositories.NAME]` table. The first stores the backups; each of the others receives a
    /// copy of every one. At least one, each once. Default `["local"]`.
    pub backup_repositories: Vec<String>,
    /// `backup-copy-after`: when a backup is copied to the other repositories of
    /// `backup-repositories`: [`CopyAfter::Stored`] (`"stored"`, the default) or
    /// [`CopyAfter::Verified`] (`"verified"`).
    pub backup_copy_after: CopyAfter,
    /// The scheduler switches and cron strings.
    pub scheduler: SchedulerConfig,
    /// `backup-physical-type`: the tool of this cluster's physical backups,
    /// [`Task::Mariabackup`] (`"mariabackup"`, the default) or [`Task::Xtrabackup`]
    /// (`"xtrabackup"`).
    pub backup_physical_type: Task,
    /// `backup-logical-type`: the tool of this cluster's logical backups,
    /// [`Task::Mysqldump`] (`"mysqldump"`, the default) or [`Task::Mydumper`] (`"mydumper"`).
    pub backup_logical_type: Task,
    /// `backup-concurrency`: how many of this cluster's backups stream at once (the manager's
    /// `backup-concurrency` applies too); the others wait, queued. Default 2; 1 to 64.
    pub backup_concurrency: u32,
    /// `jobs-schema`: the schema of the jobs table on this cluster's servers (the manager
    /// writes job rows there, the agents read them there). Default `jobs.schema`. Clusters that
    /// share no server never need it; it lets two clusters keep their rows apart on one
    /// server (a lab's, or the fleet benchmark's simulated servers).
    pub jobs_schema: String,
    /// `backup-stream-compression` and `backup-stream-compression-threads`: where backups are
    /// compressed.
    pub stream_compression: StreamCompressionConfig,
    /// `backup-throttle-*`: how the manager slows a stream down for replication.
    pub throttle: ThrottleConfig,
    /// `backup-keep-*`: which stored backups retention keeps.
    pub retention: RetentionConfig,
    /// `backup-missing-grace`: how long after a scheduled backup should have started (the
    /// first cron fire of its kind after the newest good backup of that kind) the missing good
    /// backup raises a `backup-missing` event, e.g. `"2h"`: a scheduler that silently stopped,
    /// or backups that keep failing, are told even when no job says so. Default 2h; 10s to 30d.
    pub backup_missing_grace: Duration,
    /// `verify-expected-databases` and `verify-nonempty-tables`: what every restored backup of
    /// this cluster must hold.
    pub verify: ClusterVerifyConfig,
    /// `binlog-archive-*`: continuous binlog archiving for point-in-time recovery.
    pub binlog_archive: BinlogArchiveConfig,
    /// `[[clusters.NAME.servers]]`: the database servers, in file order; at least one.
    pub servers: Vec<ServerConfig>,
    /// `[clusters.NAME.galera-link]`: how this Galera cluster's link keepers replicate from a
    /// remote cluster. `None` when the table is absent: `ferryman galera-link` refuses to run.
    pub galera_link: Option<GaleraLinkConfig>,
}

/// Where some of a cluster's keys are, for checks across clusters.
#[derive(Debug, Clone, Default)]
pub(crate) struct Places {
    /// `scheduler-db-servers-sender-ports`, when written.
    pub(crate) sender_ports: Option<Location>,
    /// The `[clusters.NAME.galera-link]` table, when written.
    pub(crate) galera_link: Option<Location>,
}

impl ClusterConfig {
    /// The server called `name`.
    pub fn server(&self, name: &str) -> Option<&ServerConfig> {
        self.servers.iter().find(|s| s.name == name)
    }

    /// Validates `[clusters.NAME]`; `repositories` are the names `backup-repositories` may use,
    /// `jobs` gives `jobs-schema` its default. Also returns where the sender pool is written,
    /// for the cross-cluster overlap check.
    pub(crate) fn from_raw(
        name: Spanned<String>,
        raw: RawCluster,
        manager: &ManagerConfig,
        jobs: &JobsConfig,
        repositories: &repository::Names,
        seen: &mut SeenServers,
        v: &mut Validator<'_>,
    ) -> (ClusterConfig, Places) {
        let anchor = name.span();
        let name_at = v.at(anchor.clone());
        v.name("cluster name", &name, false);
        let name = name.into_inner();
        let key = |k: &str| format!("clusters.{name}.{k}");
        let RawCluster {
            db_servers_credential,
            db_servers_ssl_mode,
            db_servers_ssl_ca,
            db_servers_ssl_cert,
            db_servers_ssl_key,
            replication_credential,
            db_servers_backup_hosts,
            backup_repositories,
            backup_copy_after,
            scheduler_db_servers_sender_ports,
            scheduler_db_servers_receiver_ports,
            monitoring_scheduler,
            scheduler_db_servers_physical_backup,
            scheduler_db_servers_physical_backup_cron,
            scheduler_db_servers_logical_backup,
            scheduler_db_servers_logical_backup_cron,
            scheduler_db_servers_logs,
            scheduler_db_servers_logs_cron,
            scheduler_db_servers_optimize,
            scheduler_db_servers_optimize_cron,
            scheduler_db_servers_snapshot,
            scheduler_db_servers_snapshot_cron,
            scheduler_db_servers_verify,
            scheduler_db_servers_verify_cron,
            backup_physical_type,
            backup_logical_type,
            backup_galera_desync,
            backup_concurrency,
            jobs_schema,
            backup_stream_compression,
            backup_stream_compression_threads,
            backup_throttle_lag,
            backup_throttle_rate_mib,
            backup_throttle_min_rate_mib,
            backup_keep_last,
            backup_keep_hourly,
            backup_keep_daily,
            backup_keep_weekly,
            backup_keep_monthly,
            backup_keep_yearly,
            verify_expected_databases,
            verify_nonempty_tables,
            binlog_archive,
            binlog_archive_flush,
            binlog_archive_segment_size,
            binlog_archive_segment_age,
            binlog_archive_server_id,
            binlog_archive_proof_interval,
            binlog_archive_spool_max,
            binlog_archive_rpo_alert,
            backup_missing_grace,
            servers,
            galera_link,
        } = raw;

        let db_servers_credential = Credential::from_raw(
            db_servers_credential,
            &key("db-servers-credential"),
            anchor.clone(),
            v,
        );
        let ssl = crate::DbSsl::from_raw(
            crate::db_ssl::RawDbSsl {
                mode: db_servers_ssl_mode,
                ca: db_servers_ssl_ca,
                cert: db_servers_ssl_cert,
                key: db_servers_ssl_key,
            },
            &name,
            anchor.clone(),
            v,
        );
        let replication_credential = Credential::from_raw(
            replication_credential,
            &key("replication-credential"),
            anchor,
            v,
        );

        if servers.is_empty() {
            v.push(ConfigError::NoServers {
                at: name_at,
                cluster: name.clone(),
            });
        }
        let servers: Vec<ServerConfig> = servers
            .into_iter()
            .enumerate()
            .map(|(i, raw)| {
                let mut server = ServerConfig::from_raw(raw, &name, i, seen, v);
                server.ssl = ssl.clone();
                server.galera_desync =
                    backup_galera_desync.unwrap_or(defaults::BACKUP_GALERA_DESYNC);
                server
            })
            .collect();

        let db_servers_backup_hosts = backup_hosts(&name, db_servers_backup_hosts, &servers, v);
        let backup_repositories =
            repository::backup_repositories(&name, backup_repositories, repositories, v);

        let sender_at = scheduler_db_servers_sender_ports
            .as_ref()
            .map(|p| v.at(p.span()));
        let sender_key = key("scheduler-db-servers-sender-ports");
        let sender_ports = port_list(
            &sender_key,
            scheduler_db_servers_sender_ports,
            defaults::SENDER_PORTS,
            false,
            v,
        );
        if let Some(at) = &sender_at {
            for (port, other_key) in [
                (manager.http_port, "manager.http-port"),
                (manager.stream_port, "manager.stream-port"),
            ] {
                if sender_ports.binary_search(&port).is_ok() {
                    v.push(ConfigError::PortClash {
                        at: at.clone(),
                        key: sender_key.clone(),
                        other_key: other_key.to_owned(),
                        port,
                    });
                }
            }
        }
        let receiver_ports = port_list(
            &key("scheduler-db-servers-receiver-ports"),
            scheduler_db_servers_receiver_ports,
            defaults::RECEIVER_PORTS,
            true,
            v,
        );

        let mut entry = |k: &str, enabled, cron, default| {
            ScheduleEntry::from_raw(key(k), enabled, cron, default, v)
        };
        let scheduler = SchedulerConfig {
            enabled: monitoring_scheduler.unwrap_or(defaults::MONITORING_SCHEDULER),
            physical_backup: entry(
                "scheduler-db-servers-physical-backup-cron",
                scheduler_db_servers_physical_backup,
                scheduler_db_servers_physical_backup_cron,
                (defaults::PHYSICAL_BACKUP, defaults::PHYSICAL_BACKUP_CRON),
            ),
            logical_backup: entry(
                "scheduler-db-servers-logical-backup-cron",
                scheduler_db_servers_logical_backup,
                scheduler_db_servers_logical_backup_cron,
                (defaults::LOGICAL_BACKUP, defaults::LOGICAL_BACKUP_CRON),
            ),
            logs: entry(
                "scheduler-db-servers-logs-cron",
                scheduler_db_servers_logs,
                scheduler_db_servers_logs_cron,
                (defaults::LOGS, defaults::LOGS_CRON),
            ),
            optimize: entry(
                "scheduler-db-servers-optimize-cron",
                scheduler_db_servers_optimize,
                scheduler_db_servers_optimize_cron,
                (defaults::OPTIMIZE, defaults::OPTIMIZE_CRON),
            ),
            verify: entry(
                "scheduler-db-servers-verify-cron",
                scheduler_db_servers_verify,
                scheduler_db_servers_verify_cron,
                (defaults::VERIFY, defaults::VERIFY_CRON),
            ),
            snapshot: entry(
                "scheduler-db-servers-snapshot-cron",
                scheduler_db_servers_snapshot,
                scheduler_db_servers_snapshot_cron,
                (defaults::SNAPSHOT, defaults::SNAPSHOT_CRON),
            ),
        };

        let backup_physical_type = v.choice(
            &key("backup-physical-type"),
            backup_physical_type,
            defaults::BACKUP_PHYSICAL_TYPE,
            &defaults::BACKUP_PHYSICAL_TYPES,
        );
        let backup_copy_after = v.choice(
            &key("backup-copy-after"),
            backup_copy_after,
            defaults::BACKUP_COPY_AFTER,
            &defaults::BACKUP_COPY_AFTERS,
        );
        let backup_logical_type = v.choice(
            &key("backup-logical-type"),
            backup_logical_type,
            defaults::BACKUP_LOGICAL_TYPE,
            &defaults::BACKUP_LOGICAL_TYPES,
        );
        let backup_concurrency = v.integer(
            &key("backup-concurrency"),
            backup_concurrency,
            defaults::CLUSTER_BACKUP_CONCURRENCY,
            defaults::CLUSTER_BACKUP_CONCURRENCY_RANGE,
        );
        let jobs_schema = match jobs_schema {
            None => jobs.schema.clone(),
            Some(schema) => {
                v.name("schema name (`clusters.NAME.jobs-schema`)", &schema, true);
                schema.into_inner()
            }
        };
        let stream_compression = StreamCompressionConfig::from_raw(
            backup_stream_compression,
            backup_stream_compression_threads,
            &name,
            v,
        );
        let throttle = ThrottleConfig::from_raw(
            RawThrottle {
                lag: backup_throttle_lag,
                rate_mib: backup_throttle_rate_mib,
                min_rate_mib: backup_throttle_min_rate_mib,
            },
            &name,
            v,
        );
        let retention = RetentionConfig::from_raw(
            RawRetention {
                keep_last: backup_keep_last,
                keep_hourly: backup_keep_hourly,
                keep_daily: backup_keep_daily,
                keep_weekly: backup_keep_weekly,
                keep_monthly: backup_keep_monthly,
                keep_yearly: backup_keep_yearly,
            },
            &name,
            v,
        );
        let backup_missing_grace = v.duration(
            &key("backup-missing-grace"),
            backup_missing_grace,
            defaults::BACKUP_MISSING_GRACE,
            defaults::BACKUP_MISSING_GRACE_RANGE,
        );
        let verify = ClusterVerifyConfig::from_raw(
            RawClusterVerify {
                expected_databases: verify_expected_databases,
                nonempty_tables: verify_nonempty_tables,
            },
            &name,
            v,
        );

        let binlog_archive = BinlogArchiveConfig::from_raw(
            RawBinlogArchive {
                enabled: binlog_archive,
                flush: binlog_archive_flush,
                segment_size: binlog_archive_segment_size,
                segment_age: binlog_archive_segment_age,
                server_id: binlog_archive_server_id,
                proof_interval: binlog_archive_proof_interval,
                spool_max: binlog_archive_spool_max,
                rpo_alert: binlog_archive_rpo_alert,
            },
            &name,
            v,
        );
        let galera_link_at = galera_link.as_ref().map(|raw| v.at(raw.span()));
        let galera_link = galera_link.map(|raw| GaleraLinkConfig::from_raw(raw, &name, v));

        let cluster = ClusterConfig {
            name,
            db_servers_credential,
            replication_credential,
            db_servers_backup_hosts,
            backup_repositories,
            backup_copy_after,
            sender_ports,
            receiver_ports,
            scheduler,
            backup_physical_type,
            backup_logical_type,
            backup_concurrency,
            jobs_schema,
            stream_compression,
            throttle,
            retention,
            backup_missing_grace,
            verify,
            binlog_archive,
            servers,
            galera_link,
        };
        (
            cluster,
            Places {
                sender_ports: sender_at,
                galera_link: galera_link_at,
            },
        )
    }
}

/// Checks that every backup host is a distinct server of the cluster.
fn backup_hosts(
    cluster: &str,
    raw: Vec<Spanned<String>>,
    servers: &[ServerConfig],
    v: &mut Validator<'_>,
) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut hosts = Vec::new();
    for host in raw {
        let at = v.at(host.span());
        let host = host.into_inner();
        if !servers.iter().any(|s| s.name == host) {
            v.push(ConfigError::UnknownBackupHost {
                at,
                cluster: cluster.to_owned(),
                host,
                known: servers
                    .iter()
                    .filter(|s| !s.name.is_empty())
                    .map(|s| s.name.clone())
                    .collect(),
            });
        } else if !seen.insert(host.clone()) {
            v.push(ConfigError::DuplicateBackupHost {
                at,
                cluster: cluster.to_owned(),
                host,
            });
        } else {
            hosts.push(host);
        }
    }
    hosts
}
