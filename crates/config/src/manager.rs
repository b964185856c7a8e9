//! `[manager]`: where the manager keeps its data and listens, its API token, how it stores
//! backups and logs, and how long it waits for agents.

use std::path::PathBuf;
use std::time::Duration;

use crate::defaults;
use crate::error::ConfigError;
use crate::raw::RawManager;
use crate::secret::{Secret, SecretKind};
use crate::tls::TlsIdentity;
use crate::validate::Validator;

/// The `[manager]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagerConfig {
    /// `monitoring-datadir`: where `Backups/` and collected logs live. Relative paths are
    /// relative to the config file's directory. Default `/var/lib/ferryman`.
    pub monitoring_datadir: PathBuf,
    /// `monitoring-address`: the manager's address as written into job rows; agents and legacy
    /// donors stream backups to it. Default `127.0.0.1`.
    pub monitoring_address: String,
    /// `http-bind-address`: the address the HTTP API listens on. Default `127.0.0.1`.
    pub http_bind_address: String,
    /// `http-port`: the HTTP API port. Default 10001, replication-manager's.
    pub http_port: u16,
    /// `stream-bind-address`: the address the stream receiver listens on. Default `127.0.0.1`.
    pub stream_bind_address: String,
    /// `stream-port`: the one well-known port Ferryman agents stream to. Default 10002.
    pub stream_port: u16,
    /// `stream-accept-timeout`: how long a job waits for its stream to connect, e.g. `"120s"`.
    /// Default 120s; 1s to 24h.
    pub stream_accept_timeout: Duration,
    /// The token HTTP API clients must present, read from `api-token-file` (a file with mode
    /// 0600 whose content, less one trailing newline, is the token; relative paths are relative
    /// to the config file's directory) or from the environment variable named by
    /// `api-token-env`. At most one of the two may be set; neither (the default) gives `None`:
    /// the manager then generates a token at first start into `monitoring-datadir/api.token`.
    pub api_token: Option<Secret>,
    /// A token that reads `GET /metrics` and nothing else, for Prometheus, from
    /// `metrics-token-file` (0600) or `metrics-token-env`. `None` (the default): `/metrics`
    /// takes the API token only.
    pub metrics_token: Option<Secret>,
    /// `backup-compression-level`: the zstd level backups are stored with. Default 3; 1 to 19.
    pub backup_compression_level: i32,
    /// `backup-concurrency`: how many backups stream to this manager at once, across clusters
    /// (each cluster's own `backup-concurrency` applies too); the others wait, queued, before
    /// their row is written. Default 16; 1 to 1024.
    pub backup_concurrency: u32,
    /// `backup-compression-threads`: the zstd worker threads compressing one backup. Default 2;
    /// 1 to 64.
    pub backup_compression_threads: u32,
    /// `job-claim-timeout`: a job that no agent claims within this is cancelled and fails with
    /// that reason, e.g. `"5m"`. Default 5m; 5s to 24h.
    pub job_claim_timeout: Duration,
    /// `history-retention`: how long the history (`monitoring-datadir/state.db`: jobs, events,
    /// verification runs) keeps what ended, e.g. `"90d"`. Default 90d; 1h to 3650d. Backups
    /// are kept by their clusters' retention, not this.
    pub history_retention: Duration,
    /// `agent-silent-after`: how stale an agent's heartbeat (`ferryman_agents`, renewed every
    /// 10 s) may grow before the manager says `agent-silent`, e.g. `"2m"`. Default 2m; 30s to
    /// 7d. A crontab-run agent (`--once`) beats once per run: make this longer than its period.
    pub agent_silent_after: Duration,
    /// `storage-free-alert`: the percentage of free space under which a local repository's
    /// file system (`local` in `monitoring-datadir`, `kind = "local"` tables) raises
    /// `storage-almost-full`. Default 10; 0 to 99, 0 for never.
    pub storage_free_alert_percent: u32,
    /// `logs-keep`: how many collected error-log and slow-query-log files are kept per server
    /// and log kind; older ones are deleted. Default 30; 1 to 100000.
    pub logs_keep: u32,
    /// `http-header-read-timeout`: how long an HTTP API client has to send a request's headers,
    /// counted from its first byte (from the connection's opening for its first request); then
    /// the connection is closed. Default 10s; 1s to 1h.
    pub http_header_read_timeout: Duration,
    /// `http-idle-timeout`: an HTTP API connection on which the client sends nothing for this
    /// long (between requests, or in the middle of a request) is closed. Default 60s; 1s to
    /// 24h.
    pub http_idle_timeout: Duration,
    /// `http-max-connections`: HTTP API connections open at once; one more is answered 503 and
    /// closed at once. Default 512; 1 to 100000.
    pub http_max_connections: u32,
    /// `signing-key-file`: the manager's ed25519 key that signs every manifest it writes
    /// (0600; created at the first start when missing, its public half written beside it as
    /// `.pub`). Default `monitoring-datadir/manifest-signing.key`.
    pub signing_key_file: PathBuf,
    /// `trusted-signing-keys`: public key files of other signers whose manifests are trusted
    /// too (another manager writing a shared repository, a key being rotated out). The
    /// manager's own key is always trusted.
    pub trusted_signing_keys: Vec<PathBuf>,
    /// `tls-cert-file` and `tls-key-file` (0600): the manager's certificate (with its chain)
    /// and key. Set, the HTTP API, the dashboard and `/metrics` are served over HTTPS only.
    /// `None` (the default): plain HTTP, which `config check` warns about.
    pub tls: Option<TlsIdentity>,
    /// `tls-ca-file`: the fleet's CA certificates: those that issued the manager's
    /// certificate, which clients (`ferryman` commands, agents) check it against, and the
    /// agents' certificates, which the stream port and reseed joiners accept. Required with
    /// `tls-cert-file`.
    pub tls_ca_file: Option<PathBuf>,
    /// `accept-plain-streams`: with `tls-cert-file`, also accept backup and log streams in
    /// plain TCP from agents not yet given a certificate (each is logged as a warning). Default
    /// false: with a certificate, the stream port takes TLS only. Legacy donors' ports (the
    /// clusters' `scheduler-db-servers-sender-ports`) are plain whatever this says: socat
    /// cannot speak TLS.
    pub accept_plain_streams: bool,
    /// `allow-plain-tcp`: without a certificate, let the API and the stream port listen
    /// beyond loopback in plain TCP (a network the site trusts). Default false: a manager
    /// without `tls-cert-file` listens on loopback addresses only, and a configuration that
    /// binds it elsewhere is refused with the keys to set.
    pub allow_plain_tcp: bool,
}

impl Default for ManagerConfig {
    fn default() -> Self {
        ManagerConfig {
            monitoring_datadir: PathBuf::from(defaults::MONITORING_DATADIR),
            monitoring_address: defaults::MONITORING_ADDRESS.to_owned(),
            http_bind_address: defaults::HTTP_BIND_ADDRESS.to_owned(),
            http_port: defaults::HTTP_PORT,
            stream_bind_address: defaults::STREAM_BIND_ADDRESS.to_owned(),
            stream_port: defaults::STREAM_PORT,
            stream_accept_timeout: defaults::STREAM_ACCEPT_TIMEOUT,
            api_token: None,
            metrics_token: None,
            backup_compression_level: defaults::BACKUP_COMPRESSION_LEVEL,
            backup_concurrency: defaults::BACKUP_CONCURRENCY,
            backup_compression_threads: defaults::BACKUP_COMPRESSION_THREADS,
            job_claim_timeout: defaults::JOB_CLAIM_TIMEOUT,
            history_retention: defaults::HISTORY_RETENTION,
            agent_silent_after: defaults::AGENT_SILENT_AFTER,
            storage_free_alert_percent: defaults::STORAGE_FREE_ALERT_PERCENT,
            logs_keep: defaults::LOGS_KEEP,
            http_header_read_timeout: defaults::HTTP_HEADER_READ_TIMEOUT,
            http_idle_timeout: defaults::HTTP_IDLE_TIMEOUT,
            http_max_connections: defaults::HTTP_MAX_CONNECTIONS,
            signing_key_file: PathBuf::from(defaults::MONITORING_DATADIR)
                .join(defaults::SIGNING_KEY_FILE),
            trusted_signing_keys: Vec::new(),
            tls: None,
            tls_ca_file: None,
            accept_plain_streams: false,
            allow_plain_tcp: false,
        }
    }
}

impl ManagerConfig {
    pub(crate) fn from_raw(raw: RawManager, v: &mut Validator<'_>) -> Self {
        let RawManager {
            monitoring_datadir,
            monitoring_address,
            http_bind_address,
            http_port,
            stream_bind_address,
            stream_port,
            stream_accept_timeout,
            api_token_file,
            api_token_env,
            metrics_token_file,
            metrics_token_env,
            backup_compression_level,
            backup_compression_threads,
            backup_concurrency,
            job_claim_timeout,
            history_retention,
            agent_silent_after,
            storage_free_alert,
            logs_keep,
            http_header_read_timeout,
            http_idle_timeout,
            http_max_connections,
            signing_key_file,
            trusted_signing_keys,
            tls_cert_file,
            tls_key_file,
            tls_ca_file,
            accept_plain_streams,
            allow_plain_tcp,
        } = raw;
        let binds_at = [&http_bind_address, &stream_bind_address]
            .iter()
            .flat_map(|b| b.as_ref().map(|b| b.span()))
            .next();
        let stream_port_at = stream_port.as_ref().map(|p| v.at(p.span()));
        let monitoring_datadir = v.local_path(
            "manager.monitoring-datadir",
            monitoring_datadir,
            defaults::MONITORING_DATADIR,
        );
        let signing_key_file = match signing_key_file {
            Some(raw) => v.local_path("manager.signing-key-file", Some(raw), ""),
            None => monitoring_datadir.join(defaults::SIGNING_KEY_FILE),
        };
        let trusted_signing_keys = trusted_signing_keys
            .unwrap_or_default()
            .into_iter()
            .map(|raw| v.local_path("manager.trusted-signing-keys", Some(raw), ""))
            .collect();
        let cert_at = tls_cert_file.as_ref().map(|c| c.span());
        let tls = crate::tls::identity(v, "manager", tls_cert_file, tls_key_file);
        let tls_ca_file = crate::tls::ca_file(v, "manager", tls.as_ref(), tls_ca_file, cert_at);
        let config = ManagerConfig {
            monitoring_datadir,
            signing_key_file,
            trusted_signing_keys,
            tls,
            tls_ca_file,
            accept_plain_streams: accept_plain_streams.unwrap_or(false),
            allow_plain_tcp: allow_plain_tcp.unwrap_or(false),
            monitoring_address: v.host(
                "manager.monitoring-address",
                monitoring_address,
                defaults::MONITORING_ADDRESS,
            ),
            http_bind_address: v.host(
                "manager.http-bind-address",
                http_bind_address,
                defaults::HTTP_BIND_ADDRESS,
            ),
            http_port: v.port("manager.http-port", http_port, defaults::HTTP_PORT),
            stream_bind_address: v.host(
                "manager.stream-bind-address",
                stream_bind_address,
                defaults::STREAM_BIND_ADDRESS,
            ),
            stream_port: v.port("manager.stream-port", stream_port, defaults::STREAM_PORT),
            stream_accept_timeout: v.duration(
                "manager.stream-accept-timeout",
                stream_accept_timeout,
                defaults::STREAM_ACCEPT_TIMEOUT,
                (
                    defaults::STREAM_ACCEPT_TIMEOUT_MIN,
                    defaults::STREAM_ACCEPT_TIMEOUT_MAX,
                ),
            ),
            api_token: Secret::load(
                SecretKind::ApiToken,
                "manager",
                api_token_file,
                api_token_env,
                v,
            ),
            metrics_token: Secret::load(
                SecretKind::MetricsToken,
                "manager",
                metrics_token_file,
                metrics_token_env,
                v,
            ),
            backup_concurrency: v.integer(
                "manager.backup-concurrency",
                backup_concurrency,
                defaults::BACKUP_CONCURRENCY,
                defaults::BACKUP_CONCURRENCY_RANGE,
            ),
            backup_compression_level: v.integer(
                "manager.backup-compression-level",
                backup_compression_level,
                defaults::BACKUP_COMPRESSION_LEVEL,
                (
                    defaults::BACKUP_COMPRESSION_LEVEL_MIN,
                    defaults::BACKUP_COMPRESSION_LEVEL_MAX,
                ),
            ),
            backup_compression_threads: v.integer(
                "manager.backup-compression-threads",
                backup_compression_threads,
                defaults::BACKUP_COMPRESSION_THREADS,
                (
                    defaults::BACKUP_COMPRESSION_THREADS_MIN,
                    defaults::BACKUP_COMPRESSION_THREADS_MAX,
                ),
            ),
            job_claim_timeout: v.duration(
                "manager.job-claim-timeout",
                job_claim_timeout,
                defaults::JOB_CLAIM_TIMEOUT,
                (
                    defaults::JOB_CLAIM_TIMEOUT_MIN,
                    defaults::JOB_CLAIM_TIMEOUT_MAX,
                ),
            ),
            history_retention: v.duration(
                "manager.history-retention",
                history_retention,
                defaults::HISTORY_RETENTION,
                (
                    defaults::HISTORY_RETENTION_MIN,
                    defaults::HISTORY_RETENTION_MAX,
                ),
            ),
            agent_silent_after: v.duration(
                "manager.agent-silent-after",
                agent_silent_after,
                defaults::AGENT_SILENT_AFTER,
                (
                    defaults::AGENT_SILENT_AFTER_MIN,
                    defaults::AGENT_SILENT_AFTER_MAX,
                ),
            ),
            storage_free_alert_percent: v.integer(
                "manager.storage-free-alert",
                storage_free_alert,
                defaults::STORAGE_FREE_ALERT_PERCENT,
                defaults::STORAGE_FREE_ALERT_PERCENT_RANGE,
            ),
            logs_keep: v.integer(
                "manager.logs-keep",
                logs_keep,
                defaults::LOGS_KEEP,
                (defaults::LOGS_KEEP_MIN, defaults::LOGS_KEEP_MAX),
            ),
            http_header_read_timeout: v.duration(
                "manager.http-header-read-timeout",
                http_header_read_timeout,
                defaults::HTTP_HEADER_READ_TIMEOUT,
                (
                    defaults::HTTP_HEADER_READ_TIMEOUT_MIN,
                    defaults::HTTP_HEADER_READ_TIMEOUT_MAX,
                ),
            ),
            http_idle_timeout: v.duration(
                "manager.http-idle-timeout",
                http_idle_timeout,
                defaults::HTTP_IDLE_TIMEOUT,
                (
                    defaults::HTTP_IDLE_TIMEOUT_MIN,
                    defaults::HTTP_IDLE_TIMEOUT_MAX,
                ),
            ),
            http_max_connections: v.integer(
                "manager.http-max-connections",
                http_max_connections,
                defaults::HTTP_MAX_CONNECTIONS,
                (
                    defaults::HTTP_MAX_CONNECTIONS_MIN,
                    defaults::HTTP_MAX_CONNECTIONS_MAX,
                ),
            ),
        };
        let exposed = [&config.http_bind_address, &config.stream_bind_address]
            .into_iter()
            .find(|a| !crate::tls::loopback(a));
        if let (None, false, Some(address)) = (&config.tls, config.allow_plain_tcp, exposed) {
            crate::tls::plain_tcp(
                v,
                binds_at,
                format!(
                    "the manager's API and backup streams on {address} (http-bind-address, \
                     stream-bind-address)"
                ),
                "give the manager `tls-cert-file`, `tls-key-file` and `tls-ca-file` \
                 (`ferryman tls init` makes them), or set `manager.allow-plain-tcp = true` on a \
                 network you trust"
                    .to_owned(),
            );
        }
        if config.http_port == config.stream_port {
            let at = stream_port_at.unwrap_or_else(|| v.source.start());
            v.push(ConfigError::PortClash {
                at,
                key: "manager.stream-port".to_owned(),
                other_key: "manager.http-port".to_owned(),
                port: config.stream_port,
            });
        }
        config
    }
}
