//! `[agent]` and `[jobs]`: how the node agent finds and runs its work.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use ferryman_proto::Task;

use crate::defaults;
use crate::error::ConfigError;
use crate::raw::{RawAgent, RawJobs};
use crate::tls::TlsIdentity;
use crate::validate::Validator;

/// The `[agent]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentConfig {
    /// `poll-interval`: how often the agent reads the jobs table, e.g. `"5s"`: how long a new
    /// job may wait to start. Default 5s; 100ms to 1h. A pass with nothing to do runs two
    /// SELECTs (abandoned claims, runnable rows) whatever the number of tasks, so a short
    /// interval is cheap.
    pub poll_interval: Duration,
    /// `work-dir`: the agent's scratch space, e.g. for 0600 defaults-extra-files. Relative paths
    /// are relative to the config file's directory. Default `/var/lib/ferryman-agent`.
    pub work_dir: PathBuf,
    /// `tasks`: the task kinds this agent runs, by their jobs-table names (`"mariabackup"`,
    /// `"reseedmariabackup"`, `"start"`…). Default: every task.
    pub tasks: Vec<Task>,
    /// `connect-timeout`: how long the agent keeps retrying to connect to a job's receiver (the
    /// manager, or the joiner of a reseed) before it fails the job. Default 120s; 1s to 1h.
    pub connect_timeout: Duration,
    /// `shutdown-grace`: on SIGTERM, how long a running task may go on before it is
    /// interrupted and its job failed. Default 60s; 0s (interrupt at once) to 24h.
    pub shutdown_grace: Duration,
    /// `stale-claim-timeout`: a job claimed by an agent on another host whose heartbeat is
    /// older than this is considered abandoned. Default 10m; 10s to 7d.
    pub stale_claim_timeout: Duration,
    /// `joiner-bind-address`: where a reseed's joiner listens for the manager's stream, on the
    /// job's port (from the cluster's `scheduler-db-servers-receiver-ports`). Default
    /// `0.0.0.0`.
    pub joiner_bind_address: String,
    /// `joiner-accept-timeout`: how long a joiner waits for the manager's stream. Default
    /// 120s; 1s to 1h.
    pub joiner_accept_timeout: Duration,
    /// `catch-up-timeout`: how long a reseeded replica may take to catch up with its primary
    /// before the reseed fails (and the old data is put back). Default 1h; 5s to 7d.
    pub catch_up_timeout: Duration,
    /// `catch-up-max-lag`: the replication lag at or below which a reseeded replica has caught
    /// up. Default 10s; 0s to 24h.
    pub catch_up_max_lag: Duration,
    /// `import-buffer-pool-mib`: the InnoDB buffer pool (MiB) of the private server a logical
    /// reseed imports its dump into, which runs next to the server being reseeded. Default
    /// 512; 16 to 1048576.
    pub import_buffer_pool_mib: u32,
    /// `stream-destinations`: the only `host:port` an agent streams a backup or a log to. A
    /// job row naming any other receiver is refused (anyone who can insert a row must not be
    /// able to have a backup sent to a host of their choosing). Default (empty): the manager's
    /// `monitoring-address` with its `stream-port` and with every port of the cluster's
    /// `scheduler-db-servers-sender-ports`; list the receivers explicitly where
    /// replication-manager's own manager still writes the rows.
    pub stream_destinations: Vec<(String, u16)>,
    /// `tls-cert-file` and `tls-key-file` (0600): this agent's certificate (naming its
    /// server's `host`) and key, e.g. from `ferryman tls init --agent HOST`. Set, backups and
    /// logs go to the manager over TLS (the manager's certificate must name its
    /// `monitoring-address`, and `tls-ca-file` must have issued it), and a reseed's joiner
    /// takes the manager's stream over TLS only, from a certificate naming the manager's
    /// `monitoring-address`. `None` (the default): plain TCP both ways, which a manager with a
    /// certificate refuses unless `manager.accept-plain-streams` says otherwise.
    pub tls: Option<TlsIdentity>,
    /// `tls-ca-file`: the fleet's CA certificates, which issued the manager's certificate.
    /// Required with `tls-cert-file`.
    pub tls_ca_file: Option<PathBuf>,
    /// `allow-plain-tcp`: says that a joiner listening beyond loopback (`joiner-bind-address`)
    /// without a certificate, in plain TCP, is wanted. Default false: `config check` and the
    /// agent's start warn of it, with the keys to set.
    pub allow_plain_tcp: bool,
    /// `api-bind-address`: where the agent's HTTP API listens, on its server's
    /// `agent-api-port` (the API is off for a server without that port). Default `0.0.0.0`.
    /// Over HTTPS with `tls-cert-file` (the client must show a certificate `tls-ca-file`
    /// issued: the manager's); plain HTTP without it, which `config check` and the agent's
    /// start warn of beyond loopback unless `allow-plain-tcp` says it is wanted.
    pub api_bind_address: String,
    /// `api-token-file` (0600): the token the agent's API requires, the manager's API token
    /// (`manager.api-token-file`, or the `api.token` the manager generated), copied to the
    /// node. Required by an agent whose server has `agent-api-port`.
    pub api_token_file: Option<PathBuf>,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            poll_interval: defaults::POLL_INTERVAL,
            work_dir: PathBuf::from(defaults::AGENT_WORK_DIR),
            tasks: Task::ALL.to_vec(),
            connect_timeout: defaults::CONNECT_TIMEOUT,
            shutdown_grace: defaults::SHUTDOWN_GRACE,
            stale_claim_timeout: defaults::STALE_CLAIM_TIMEOUT,
            joiner_bind_address: defaults::JOINER_BIND_ADDRESS.to_owned(),
            joiner_accept_timeout: defaults::JOINER_ACCEPT_TIMEOUT,
            catch_up_timeout: defaults::CATCH_UP_TIMEOUT,
            catch_up_max_lag: defaults::CATCH_UP_MAX_LAG,
            import_buffer_pool_mib: defaults::IMPORT_BUFFER_POOL_MIB,
            stream_destinations: Vec::new(),
            tls: None,
            tls_ca_file: None,
            allow_plain_tcp: false,
            api_bind_address: defaults::AGENT_API_BIND_ADDRESS.to_owned(),
            api_token_file: None,
        }
    }
}

impl AgentConfig {
    pub(crate) fn from_raw(raw: RawAgent, v: &mut Validator<'_>) -> Self {
        let RawAgent {
            poll_interval,
            work_dir,
            tasks,
            connect_timeout,
            shutdown_grace,
            stale_claim_timeout,
            joiner_bind_address,
            joiner_accept_timeout,
            catch_up_timeout,
            catch_up_max_lag,
            import_buffer_pool_mib,
            stream_destinations,
            tls_cert_file,
            tls_key_file,
            tls_ca_file,
            allow_plain_tcp,
            api_bind_address,
            api_token_file,
        } = raw;
        let cert_at = tls_cert_file.as_ref().map(|c| c.span());
        let tls = crate::tls::identity(v, "agent", tls_cert_file, tls_key_file);
        let tls_ca_file = crate::tls::ca_file(v, "agent", tls.as_ref(), tls_ca_file, cert_at);
        AgentConfig {
            tls,
            tls_ca_file,
            poll_interval: v.duration(
                "agent.poll-interval",
                poll_interval,
                defaults::POLL_INTERVAL,
                (defaults::POLL_INTERVAL_MIN, defaults::POLL_INTERVAL_MAX),
            ),
            work_dir: v.local_path("agent.work-dir", work_dir, defaults::AGENT_WORK_DIR),
            connect_timeout: v.duration(
                "agent.connect-timeout",
                connect_timeout,
                defaults::CONNECT_TIMEOUT,
                (defaults::CONNECT_TIMEOUT_MIN, defaults::CONNECT_TIMEOUT_MAX),
            ),
            shutdown_grace: v.duration(
                "agent.shutdown-grace",
                shutdown_grace,
                defaults::SHUTDOWN_GRACE,
                (defaults::SHUTDOWN_GRACE_MIN, defaults::SHUTDOWN_GRACE_MAX),
            ),
            stale_claim_timeout: v.duration(
                "agent.stale-claim-timeout",
                stale_claim_timeout,
                defaults::STALE_CLAIM_TIMEOUT,
                (
                    defaults::STALE_CLAIM_TIMEOUT_MIN,
                    defaults::STALE_CLAIM_TIMEOUT_MAX,
                ),
            ),
            joiner_bind_address: v.host(
                "agent.joiner-bind-address",
                joiner_bind_address,
                defaults::JOINER_BIND_ADDRESS,
            ),
            joiner_accept_timeout: v.duration(
                "agent.joiner-accept-timeout",
                joiner_accept_timeout,
                defaults::JOINER_ACCEPT_TIMEOUT,
                (
                    defaults::JOINER_ACCEPT_TIMEOUT_MIN,
                    defaults::JOINER_ACCEPT_TIMEOUT_MAX,
                ),
            ),
            catch_up_timeout: v.duration(
                "agent.catch-up-timeout",
                catch_up_timeout,
                defaults::CATCH_UP_TIMEOUT,
                (
                    defaults::CATCH_UP_TIMEOUT_MIN,
                    defaults::CATCH_UP_TIMEOUT_MAX,
                ),
            ),
            catch_up_max_lag: v.duration(
                "agent.catch-up-max-lag",
                catch_up_max_lag,
                defaults::CATCH_UP_MAX_LAG,
                (
                    defaults::CATCH_UP_MAX_LAG_MIN,
                    defaults::CATCH_UP_MAX_LAG_MAX,
                ),
            ),
            import_buffer_pool_mib: v.integer(
                "agent.import-buffer-pool-mib",
                import_buffer_pool_mib,
                defaults::IMPORT_BUFFER_POOL_MIB,
                (
                    defaults::IMPORT_BUFFER_POOL_MIB_MIN,
                    defaults::IMPORT_BUFFER_POOL_MIB_MAX,
                ),
            ),
            stream_destinations: stream_destinations
                .map(|list| {
                    list.into_inner()
                        .into_iter()
                        .filter_map(|entry| {
                            let at = v.at(entry.span());
                            let text = entry.into_inner();
                            let parsed = ferryman_proto::address::split(&text);
                            if parsed.is_none() {
                                v.push(ConfigError::InvalidDestination {
                                    at,
                                    key: "agent.stream-destinations".to_owned(),
                                    value: text,
                                });
                            }
                            parsed
                        })
                        .collect()
                })
                .unwrap_or_default(),
            tasks: match tasks {
                None => Task::ALL.to_vec(),
                Some(list) => {
                    let list_at = v.at(list.span());
                    let mut seen = HashSet::new();
                    let mut tasks = Vec::new();
                    for task in list.into_inner() {
                        let at = v.at(task.span());
                        let task = task.into_inner();
                        if seen.insert(task) {
                            tasks.push(task);
                        } else {
                            v.push(ConfigError::DuplicateTask { at, task });
                        }
                    }
                    if tasks.is_empty() {
                        v.push(ConfigError::EmptyValue {
                            at: list_at,
                            key: "agent.tasks".to_owned(),
                        });
                    }
                    tasks
                }
            },
            allow_plain_tcp: allow_plain_tcp.unwrap_or(false),
            api_bind_address: v.host(
                "agent.api-bind-address",
                api_bind_address,
                defaults::AGENT_API_BIND_ADDRESS,
            ),
            api_token_file: api_token_file
                .map(|f| v.local_path("agent.api-token-file", Some(f), "")),
        }
    }
}

/// The `[jobs]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobsConfig {
    /// `schema`: the schema that holds the jobs table, as replication-manager creates it. Used as
    /// an SQL identifier, so only `[A-Za-z0-9_]`, 1 to 64 long. Default
    /// `replication_manager_schema`.
    pub schema: String,
    /// `row-key-file`: the key the manager seals reseed and flashback rows with and the agents
    /// check them with (64 hexadecimal characters, mode 0600). The manager creates it at its
    /// first start; copy it to every agent's host. Relative paths are relative to the config
    /// file's directory. Default `/etc/ferryman/row.key`.
    pub row_key_file: PathBuf,
}

impl Default for JobsConfig {
    fn default() -> Self {
        JobsConfig {
            schema: defaults::JOBS_SCHEMA.to_owned(),
            row_key_file: PathBuf::from(defaults::ROW_KEY_FILE),
        }
    }
}

impl JobsConfig {
    pub(crate) fn from_raw(raw: RawJobs, v: &mut Validator<'_>) -> Self {
        let RawJobs {
            schema,
            row_key_file,
        } = raw;
        JobsConfig {
            row_key_file: v.local_path("jobs.row-key-file", row_key_file, defaults::ROW_KEY_FILE),
            schema: match schema {
                None => defaults::JOBS_SCHEMA.to_owned(),
                Some(schema) => {
                    v.name("schema name (`jobs.schema`)", &schema, true);
                    schema.into_inner()
                }
            },
        }
    }
}
