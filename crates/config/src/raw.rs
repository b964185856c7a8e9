//! The file as written: serde structs with every key optional (`parse` fills them in).
//!
//! Values whose validation can fail are [`Spanned`] so that the error can name their line.
//! Tables are never `Spanned`: toml 0.8 cannot deserialize a spanned table that is only defined
//! implicitly (`[[clusters.a.servers]]` without `[clusters.a]`, or dotted keys), so table-level
//! errors point at the table's key instead. Array-of-tables items (`servers`) are explicit and
//! can be spanned.

use std::collections::BTreeMap;

use ferryman_proto::Task;
use serde::Deserialize;
use toml::Spanned;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub(crate) struct RawConfig {
    pub(crate) manager: RawManager,
    pub(crate) agent: RawAgent,
    pub(crate) jobs: RawJobs,
    pub(crate) verifier: RawVerifier,
    pub(crate) repositories: BTreeMap<Spanned<String>, RawRepository>,
    pub(crate) clusters: BTreeMap<Spanned<String>, RawCluster>,
    pub(crate) notifications: RawNotifications,
}

/// `[manager]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub(crate) struct RawManager {
    pub(crate) monitoring_datadir: Option<Spanned<String>>,
    pub(crate) monitoring_address: Option<Spanned<String>>,
    pub(crate) http_bind_address: Option<Spanned<String>>,
    pub(crate) http_port: Option<Spanned<i64>>,
    pub(crate) stream_bind_address: Option<Spanned<String>>,
    pub(crate) stream_port: Option<Spanned<i64>>,
    pub(crate) stream_accept_timeout: Option<Spanned<String>>,
    pub(crate) api_token_file: Option<Spanned<String>>,
    pub(crate) api_token_env: Option<Spanned<String>>,
    pub(crate) metrics_token_file: Option<Spanned<String>>,
    pub(crate) metrics_token_env: Option<Spanned<String>>,
    pub(crate) backup_compression_level: Option<Spanned<i64>>,
    pub(crate) backup_compression_threads: Option<Spanned<i64>>,
    pub(crate) backup_concurrency: Option<Spanned<i64>>,
    pub(crate) job_claim_timeout: Option<Spanned<String>>,
    pub(crate) history_retention: Option<Spanned<String>>,
    pub(crate) agent_silent_after: Option<Spanned<String>>,
    pub(crate) storage_free_alert: Option<Spanned<i64>>,
    pub(crate) logs_keep: Option<Spanned<i64>>,
    pub(crate) http_header_read_timeout: Option<Spanned<String>>,
    pub(crate) http_idle_timeout: Option<Spanned<String>>,
    pub(crate) http_max_connections: Option<Spanned<i64>>,
    pub(crate) signing_key_file: Option<Spanned<String>>,
    pub(crate) trusted_signing_keys: Option<Vec<Spanned<String>>>,
    pub(crate) tls_cert_file: Option<Spanned<String>>,
    pub(crate) tls_key_file: Option<Spanned<String>>,
    pub(crate) tls_ca_file: Option<Spanned<String>>,
    pub(crate) accept_plain_streams: Option<bool>,
    pub(crate) allow_plain_tcp: Option<bool>,
}

/// `[agent]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub(crate) struct RawAgent {
    pub(crate) poll_interval: Option<Spanned<String>>,
    pub(crate) work_dir: Option<Spanned<String>>,
    pub(crate) tasks: Option<Spanned<Vec<Spanned<Task>>>>,
    pub(crate) connect_timeout: Option<Spanned<String>>,
    pub(crate) shutdown_grace: Option<Spanned<String>>,
    pub(crate) stale_claim_timeout: Option<Spanned<String>>,
    pub(crate) joiner_bind_address: Option<Spanned<String>>,
    pub(crate) joiner_accept_timeout: Option<Spanned<String>>,
    pub(crate) catch_up_timeout: Option<Spanned<String>>,
    pub(crate) catch_up_max_lag: Option<Spanned<String>>,
    pub(crate) import_buffer_pool_mib: Option<Spanned<i64>>,
    pub(crate) stream_destinations: Option<Spanned<Vec<Spanned<String>>>>,
    pub(crate) tls_cert_file: Option<Spanned<String>>,
    pub(crate) tls_key_file: Option<Spanned<String>>,
    pub(crate) tls_ca_file: Option<Spanned<String>>,
    pub(crate) allow_plain_tcp: Option<bool>,
    pub(crate) api_bind_address: Option<Spanned<String>>,
    pub(crate) api_token_file: Option<Spanned<String>>,
}

/// `[jobs]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub(crate) struct RawJobs {
    pub(crate) schema: Option<Spanned<String>>,
    pub(crate) row_key_file: Option<Spanned<String>>,
}

/// `[verifier]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub(crate) struct RawVerifier {
    pub(crate) work_dir: Option<Spanned<String>>,
    pub(crate) concurrency: Option<Spanned<i64>>,
    pub(crate) buffer_pool_mib: Option<Spanned<i64>>,
    pub(crate) start_timeout: Option<Spanned<String>>,
    pub(crate) restore_timeout: Option<Spanned<String>>,
    pub(crate) size_change_percent: Option<Spanned<i64>>,
    pub(crate) check_tables: Option<bool>,
}

/// `[repositories.NAME]`: the keys of every kind, so that a key of another kind than the
/// table's is reported by validation with the kind that takes it, not as unknown.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub(crate) struct RawRepository {
    pub(crate) kind: Option<Spanned<String>>,
    pub(crate) path: Option<Spanned<String>>,
    pub(crate) endpoint: Option<Spanned<String>>,
    pub(crate) bucket: Option<Spanned<String>>,
    pub(crate) prefix: Option<Spanned<String>>,
    pub(crate) region: Option<Spanned<String>>,
    pub(crate) path_style: Option<Spanned<bool>>,
    pub(crate) access_key_id: Option<Spanned<String>>,
    pub(crate) access_key_id_env: Option<Spanned<String>>,
    pub(crate) secret_access_key_file: Option<Spanned<String>>,
    pub(crate) secret_access_key_env: Option<Spanned<String>>,
    pub(crate) part_size: Option<Spanned<i64>>,
    pub(crate) request_timeout: Option<Spanned<String>>,
    pub(crate) retry_timeout: Option<Spanned<String>>,
    pub(crate) repository: Option<Spanned<String>>,
    pub(crate) password_file: Option<Spanned<String>>,
    pub(crate) password_env: Option<Spanned<String>>,
    pub(crate) age_recipients: Option<Spanned<Vec<Spanned<String>>>>,
    pub(crate) age_identity_file: Option<Spanned<String>>,
    pub(crate) age_identity_env: Option<Spanned<String>>,
    pub(crate) backup_keep_last: Option<Spanned<i64>>,
    pub(crate) backup_keep_hourly: Option<Spanned<i64>>,
    pub(crate) backup_keep_daily: Option<Spanned<i64>>,
    pub(crate) backup_keep_weekly: Option<Spanned<i64>>,
    pub(crate) backup_keep_monthly: Option<Spanned<i64>>,
    pub(crate) backup_keep_yearly: Option<Spanned<i64>>,
}

/// `[clusters.NAME]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub(crate) struct RawCluster {
    pub(crate) db_servers_credential: Option<RawCredential>,
    pub(crate) db_servers_ssl_mode: Option<Spanned<String>>,
    pub(crate) db_servers_ssl_ca: Option<Spanned<String>>,
    pub(crate) db_servers_ssl_cert: Option<Spanned<String>>,
    pub(crate) db_servers_ssl_key: Option<Spanned<String>>,
    pub(crate) replication_credential: Option<RawCredential>,
    pub(crate) db_servers_backup_hosts: Vec<Spanned<String>>,
    pub(crate) backup_repositories: Option<Spanned<Vec<Spanned<String>>>>,
    pub(crate) backup_copy_after: Option<Spanned<String>>,
    pub(crate) scheduler_db_servers_sender_ports: Option<Spanned<String>>,
    pub(crate) scheduler_db_servers_receiver_ports: Option<Spanned<String>>,
    pub(crate) monitoring_scheduler: Option<bool>,
    pub(crate) scheduler_db_servers_physical_backup: Option<bool>,
    pub(crate) scheduler_db_servers_physical_backup_cron: Option<Spanned<String>>,
    pub(crate) scheduler_db_servers_logical_backup: Option<bool>,
    pub(crate) scheduler_db_servers_logical_backup_cron: Option<Spanned<String>>,
    pub(crate) scheduler_db_servers_logs: Option<bool>,
    pub(crate) scheduler_db_servers_logs_cron: Option<Spanned<String>>,
    pub(crate) scheduler_db_servers_optimize: Option<bool>,
    pub(crate) scheduler_db_servers_optimize_cron: Option<Spanned<String>>,
    pub(crate) scheduler_db_servers_snapshot: Option<bool>,
    pub(crate) scheduler_db_servers_snapshot_cron: Option<Spanned<String>>,
    pub(crate) scheduler_db_servers_verify: Option<bool>,
    pub(crate) scheduler_db_servers_verify_cron: Option<Spanned<String>>,
    pub(crate) backup_physical_type: Option<Spanned<String>>,
    pub(crate) backup_logical_type: Option<Spanned<String>>,
    pub(crate) backup_galera_desync: Option<bool>,
    pub(crate) backup_concurrency: Option<Spanned<i64>>,
    pub(crate) jobs_schema: Option<Spanned<String>>,
    pub(crate) backup_stream_compression: Option<Spanned<String>>,
    pub(crate) backup_stream_compression_threads: Option<Spanned<i64>>,
    pub(crate) backup_throttle_lag: Option<Spanned<String>>,
    pub(crate) backup_throttle_rate_mib: Option<Spanned<i64>>,
    pub(crate) backup_throttle_min_rate_mib: Option<Spanned<i64>>,
    pub(crate) backup_keep_last: Option<Spanned<i64>>,
    pub(crate) backup_keep_hourly: Option<Spanned<i64>>,
    pub(crate) backup_keep_daily: Option<Spanned<i64>>,
    pub(crate) backup_keep_weekly: Option<Spanned<i64>>,
    pub(crate) backup_keep_monthly: Option<Spanned<i64>>,
    pub(crate) backup_keep_yearly: Option<Spanned<i64>>,
    pub(crate) verify_expected_databases: Vec<Spanned<String>>,
    pub(crate) verify_nonempty_tables: Vec<Spanned<String>>,
    pub(crate) binlog_archive: Option<bool>,
    pub(crate) binlog_archive_flush: Option<Spanned<String>>,
    pub(crate) binlog_archive_segment_size: Option<Spanned<i64>>,
    pub(crate) binlog_archive_segment_age: Option<Spanned<String>>,
    pub(crate) binlog_archive_server_id: Option<Spanned<i64>>,
    pub(crate) binlog_archive_proof_interval: Option<Spanned<String>>,
    pub(crate) binlog_archive_spool_max: Option<Spanned<i64>>,
    pub(crate) binlog_archive_rpo_alert: Option<Spanned<String>>,
    pub(crate) backup_missing_grace: Option<Spanned<String>>,
    pub(crate) servers: Vec<Spanned<RawServer>>,
    pub(crate) galera_link: Option<Spanned<RawGaleraLink>>,
}

/// `[clusters.NAME.galera-link]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub(crate) struct RawGaleraLink {
    pub(crate) masters: Vec<Spanned<String>>,
    pub(crate) ignore_domain_ids: Vec<Spanned<i64>>,
    pub(crate) schema: Option<Spanned<String>>,
    pub(crate) table: Option<Spanned<String>>,
    pub(crate) interval: Option<Spanned<String>>,
    pub(crate) heartbeat_timeout: Option<Spanned<String>>,
    pub(crate) failed_cool_down: Option<Spanned<String>>,
    pub(crate) master_connect_timeout: Option<Spanned<String>>,
}

/// `[notifications]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub(crate) struct RawNotifications {
    pub(crate) repeat_after: Option<Spanned<String>>,
    pub(crate) email: BTreeMap<Spanned<String>, RawEmailChannel>,
    pub(crate) webhook: BTreeMap<Spanned<String>, RawWebhookChannel>,
    pub(crate) route: Vec<Spanned<RawRoute>>,
}

/// `[notifications.email.NAME]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub(crate) struct RawEmailChannel {
    pub(crate) smtp_host: Option<Spanned<String>>,
    pub(crate) smtp_port: Option<Spanned<i64>>,
    pub(crate) tls: Option<Spanned<String>>,
    pub(crate) user: Option<Spanned<String>>,
    pub(crate) password_file: Option<Spanned<String>>,
    pub(crate) password_env: Option<Spanned<String>>,
    pub(crate) from: Option<Spanned<String>>,
    pub(crate) to: Option<Spanned<Vec<Spanned<String>>>>,
    pub(crate) timeout: Option<Spanned<String>>,
    pub(crate) max_per_hour: Option<Spanned<i64>>,
}

/// `[notifications.webhook.NAME]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub(crate) struct RawWebhookChannel {
    pub(crate) url: Option<Spanned<String>>,
    pub(crate) secret_file: Option<Spanned<String>>,
    pub(crate) secret_env: Option<Spanned<String>>,
    pub(crate) retries: Option<Spanned<i64>>,
    pub(crate) timeout: Option<Spanned<String>>,
    pub(crate) max_per_hour: Option<Spanned<i64>>,
}

/// `[[notifications.route]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub(crate) struct RawRoute {
    pub(crate) channel: Option<Spanned<String>>,
    pub(crate) clusters: Vec<Spanned<String>>,
    pub(crate) kinds: Vec<Spanned<String>>,
    pub(crate) min_severity: Option<Spanned<String>>,
}

/// The `backup-keep-*` keys of `[clusters.NAME]`, grouped (they are flat in the file, and
/// `deny_unknown_fields` rules out `#[serde(flatten)]`).
#[derive(Debug, Default)]
pub(crate) struct RawRetention {
    pub(crate) keep_last: Option<Spanned<i64>>,
    pub(crate) keep_hourly: Option<Spanned<i64>>,
    pub(crate) keep_daily: Option<Spanned<i64>>,
    pub(crate) keep_weekly: Option<Spanned<i64>>,
    pub(crate) keep_monthly: Option<Spanned<i64>>,
    pub(crate) keep_yearly: Option<Spanned<i64>>,
}

/// The `verify-*` keys of `[clusters.NAME]`, grouped like [`RawRetention`].
#[derive(Debug, Default)]
pub(crate) struct RawClusterVerify {
    pub(crate) expected_databases: Vec<Spanned<String>>,
    pub(crate) nonempty_tables: Vec<Spanned<String>>,
}

/// `{ user = "...", password-file = "..." }` and friends.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub(crate) struct RawCredential {
    pub(crate) user: Option<Spanned<String>>,
    pub(crate) password_file: Option<Spanned<String>>,
    pub(crate) password_env: Option<Spanned<String>>,
}

/// `[[clusters.NAME.servers]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub(crate) struct RawServer {
    pub(crate) name: Option<Spanned<String>>,
    pub(crate) host: Option<Spanned<String>>,
    pub(crate) port: Option<Spanned<i64>>,
    pub(crate) socket: Option<Spanned<String>>,
    pub(crate) datadir: Option<Spanned<String>>,
    pub(crate) defaults_file: Option<Spanned<String>>,
    pub(crate) legacy_donor: Option<bool>,
    pub(crate) agent_api_port: Option<Spanned<i64>>,
    pub(crate) snapshot_method: Option<Spanned<String>>,
    pub(crate) snapshot_volume: Option<Spanned<String>>,
    pub(crate) snapshot_dir: Option<Spanned<String>>,
    pub(crate) snapshot_keep: Option<Spanned<i64>>,
    pub(crate) snapshot_filter: Option<Spanned<String>>,
    pub(crate) snapshot_lvm_size: Option<Spanned<String>>,
    pub(crate) snapshot_timeout: Option<Spanned<String>>,
    pub(crate) snapshot_create_command: Option<Spanned<RawCommand>>,
    pub(crate) snapshot_list_command: Option<Spanned<RawCommand>>,
    pub(crate) snapshot_mount_command: Option<Spanned<RawCommand>>,
    pub(crate) snapshot_unmount_command: Option<Spanned<RawCommand>>,
    pub(crate) snapshot_remove_command: Option<Spanned<RawCommand>>,
    pub(crate) snapshot_rollback_command: Option<Spanned<RawCommand>>,
    pub(crate) service_start: Option<Spanned<RawCommand>>,
    pub(crate) service_stop: Option<Spanned<RawCommand>>,
    pub(crate) service_restart: Option<Spanned<RawCommand>>,
    pub(crate) zfs_snapback: Option<Spanned<RawCommand>>,
    pub(crate) onpremise_ssh: Option<bool>,
    pub(crate) onpremise_ssh_port: Option<Spanned<i64>>,
    pub(crate) onpremise_ssh_credential: Option<RawCredential>,
    pub(crate) onpremise_ssh_private_key: Option<Spanned<String>>,
    pub(crate) onpremise_ssh_known_hosts: Option<Spanned<String>>,
    pub(crate) onpremise_ssh_accept_new_host_key: Option<bool>,
    pub(crate) onpremise_ssh_agent_command: Option<Spanned<RawCommand>>,
    pub(crate) onpremise_ssh_db_job_script: Option<Spanned<String>>,
}

/// The `onpremise-ssh*` keys of `[[clusters.NAME.servers]]`, grouped like [`RawRetention`].
#[derive(Debug, Default)]
pub(crate) struct RawOnPremiseSsh {
    pub(crate) enabled: Option<bool>,
    pub(crate) port: Option<Spanned<i64>>,
    pub(crate) credential: Option<RawCredential>,
    pub(crate) private_key: Option<Spanned<String>>,
    pub(crate) known_hosts: Option<Spanned<String>>,
    pub(crate) accept_new_host_key: Option<bool>,
    pub(crate) agent_command: Option<Spanned<RawCommand>>,
    pub(crate) db_job_script: Option<Spanned<String>>,
}

/// A command key (`service-start`, `zfs-snapback`…): a string split on whitespace, or an array
/// of strings taken verbatim (for arguments with spaces).
#[derive(Debug)]
pub(crate) enum RawCommand {
    /// `"systemctl start mariadb"`.
    Line(String),
    /// `["/opt/db tools/start", "--wait"]`, each element spanned so an empty one has its column.
    Words(Vec<Spanned<String>>),
}

impl<'de> Deserialize<'de> for RawCommand {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // A visitor rather than `#[serde(untagged)]`: untagged buffers the value, which loses
        // the elements' spans and gives a vague "did not match any variant" message.
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = RawCommand;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a command line string or an array of strings")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawCommand, E> {
                Ok(RawCommand::Line(v.to_owned()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<RawCommand, E> {
                Ok(RawCommand::Line(v))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<RawCommand, A::Error> {
                let mut words = Vec::new();
                while let Some(word) = seq.next_element()? {
                    words.push(word);
                }
                Ok(RawCommand::Words(words))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}
