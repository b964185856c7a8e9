//! The manager's HTTP API from the command line: where the manager is, which token to send,
//! and errors that say what to do ("is the manager running?", "the token was refused").

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, Context};
use clap::Args;
use ferryman_config::Secret;
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use crate::exit;

mod access;

/// The environment variable that may hold the API token.
pub const TOKEN_ENV: &str = "FERRYMAN_API_TOKEN";

/// How long one request may take: the API answers from memory or the catalogue, never waits
/// for a backup.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the manager and its token are; shared by the commands that talk to the manager.
#[derive(Debug, Args)]
pub struct ApiArgs {
    #[command(flatten)]
    pub config: crate::config_file::ConfigFile,
    /// A file (mode 0600) holding the API token. Without it the token comes from
    /// FERRYMAN_API_TOKEN, else `manager.api-token-file`/`api-token-env`, else the file
    /// `monitoring-datadir/api.token` the manager wrote.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// The manager's API, e.g. `http://manager-host:10001`, to run this command from another
    /// host (a DBA's workstation): no configuration file is needed then, and the token comes
    /// from --token-file or FERRYMAN_API_TOKEN.
    #[arg(long, env = "FERRYMAN_MANAGER", value_name = "URL")]
    pub manager: Option<String>,
    /// The CA certificate(s) the manager's HTTPS certificate must be issued by (`ca.crt` of
    /// `ferryman tls init`). Default: `manager.tls-ca-file`, else the system's trusted roots.
    #[arg(long, env = "FERRYMAN_CA_FILE", value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
}

/// A client of one manager's API.
#[derive(Debug)]
pub struct Client {
    base: String,
    token: Secret,
    config_path: PathBuf,
    /// The configured clusters' names; `None` with `--manager URL` (no configuration read).
    clusters: Option<Vec<String>>,
    http: reqwest::Client,
}

/// An event, as `GET /api/v1/events` returns it.
#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    /// Increasing.
    pub id: u64,
    /// When, RFC 3339.
    pub at: String,
    /// `backup-failed`, ...
    pub kind: String,
    /// `info` or `error`.
    pub severity: String,
    /// The cluster; empty for the manager's own.
    pub cluster: String,
    /// The server.
    #[serde(default)]
    pub server: Option<String>,
    /// The backup.
    #[serde(default)]
    pub backup: Option<String>,
    /// In words, with what to do.
    pub message: String,
}

/// A manager job, as `GET /api/v1/jobs/{id}` returns it (the fields the CLI shows).
#[derive(Debug, Clone, Deserialize)]
pub struct Job {
    /// Manager-wide id.
    pub id: u64,
    /// Cluster.
    pub cluster: String,
    /// Server.
    pub server: String,
    /// The node task (`mariabackup`, ...).
    pub task: String,
    /// The row id in the server's jobs table.
    #[serde(default)]
    pub node_job_id: Option<u64>,
    /// `queued`, `waiting`, `receiving`, `succeeded`, `failed` or `cancelled`.
    pub state: String,
    /// What it is doing now.
    #[serde(default)]
    pub phase: String,
    /// Bytes received (or, for a reseed, sent to the joiner) so far.
    #[serde(default)]
    pub bytes: u64,
    /// The stream's size when known beforehand (reseeds from a stored backup).
    #[serde(default)]
    pub bytes_total: Option<u64>,
    /// The node's result text.
    #[serde(default)]
    pub node_result: Option<String>,
    /// Why it failed.
    #[serde(default)]
    pub error: Option<String>,
    /// The backup it produced.
    #[serde(default)]
    pub backup_id: Option<String>,
    /// `schedule` or `api`.
    #[serde(default)]
    pub trigger: String,
    /// Seconds since the epoch.
    #[serde(default)]
    pub created_at: u64,
    /// Seconds since the epoch.
    #[serde(default)]
    pub ended_at: Option<u64>,
}

/// What `POST /api/v1/clusters/{cluster}/prune` answers.
#[derive(Debug, Clone, Deserialize)]
pub struct PruneReport {
    /// The cluster.
    pub cluster: String,
    /// Whether nothing was deleted on purpose.
    pub dry_run: bool,
    /// Kept backups.
    pub keep: Vec<PruneKept>,
    /// Deleted (or, with `dry_run`, to delete).
    pub delete: Vec<String>,
    /// Deletions that failed.
    #[serde(default)]
    pub failed: Vec<PruneFailed>,
    /// Archived binlog segments deleted (or, with `dry_run`, to delete).
    #[serde(default)]
    pub segments_delete: Vec<String>,
    /// Segment deletions that failed: (segment, reason).
    #[serde(default)]
    pub segments_failed: Vec<(String, String)>,
}

/// A kept backup and why.
#[derive(Debug, Clone, Deserialize)]
pub struct PruneKept {
    /// Backup id.
    pub id: String,
    /// `newest`, `last`, `daily`, `oldest monthly`, ...
    pub reasons: Vec<String>,
}

/// A backup the prune could not delete.
#[derive(Debug, Clone, Deserialize)]
pub struct PruneFailed {
    /// Backup id.
    pub id: String,
    /// Why.
    pub error: String,
}

/// A verification run, as `GET /api/v1/verify/runs/{id}` answers.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct VerifyRun {
    /// Run id.
    pub id: u64,
    /// `api`, `schedule`, `fleet`.
    pub trigger: String,
    /// `running` or `done`.
    pub state: String,
    /// Once done: every item passed.
    #[serde(default)]
    pub ok: Option<bool>,
    /// Start time.
    #[serde(default)]
    pub started_at: String,
    /// End time.
    #[serde(default)]
    pub ended_at: Option<String>,
    /// One per backup.
    pub items: Vec<VerifyItem>,
}

/// One backup's verification in a run.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct VerifyItem {
    /// Cluster.
    pub cluster: String,
    /// Source server.
    #[serde(default)]
    pub server: Option<String>,
    /// Backup id.
    #[serde(default)]
    pub backup: Option<String>,
    /// Tool.
    #[serde(default)]
    pub tool: Option<String>,
    /// What it is doing.
    #[serde(default)]
    pub phase: String,
    /// `ok` or `failed`.
    #[serde(default)]
    pub status: Option<String>,
    /// Failed checks.
    #[serde(default)]
    pub reasons: Vec<String>,
    /// Raw size.
    #[serde(default)]
    pub raw_bytes: Option<u64>,
    /// Stored size.
    #[serde(default)]
    pub stored_bytes: Option<u64>,
    /// Size change, percent.
    #[serde(default)]
    pub size_change_percent: Option<f64>,
    /// Restore time.
    #[serde(default)]
    pub restore_seconds: Option<f64>,
    /// Whole verification.
    #[serde(default)]
    pub total_seconds: Option<f64>,
    /// Fleet run's backup job.
    #[serde(default)]
    pub backup_job: Option<u64>,
    /// Why it could not be carried out.
    #[serde(default)]
    pub error: Option<String>,
    /// Ended.
    #[serde(default)]
    pub done: bool,
}

impl VerifyItem {
    /// True when it ended with a passed verification.
    pub fn is_ok(&self) -> bool {
        self.done && self.error.is_none() && self.status.as_deref() == Some("ok")
    }
}

impl Job {
    /// True once the job can no longer change.
    pub fn is_final(&self) -> bool {
        matches!(self.state.as_str(), "succeeded" | "failed" | "cancelled")
    }
}

impl Client {
    /// A client for the manager `args.config` describes, with the first token found (see
    /// [`ApiArgs::token_file`]).
    pub fn new(args: &ApiArgs) -> anyhow::Result<Client> {
        let (base, token, clusters, ca) = match &args.manager {
            Some(url) => {
                let (base, token) = access::remote(url, args)?;
                (base, token, None, access::ca_file(args, None))
            }
            None => {
                let config = crate::config_file::load_for_client(&args.config)?;
                (
                    access::base_url(
                        &config.manager.http_bind_address,
                        config.manager.http_port,
                        config.manager.tls.is_some(),
                    ),
                    access::token(args.token_file.as_deref(), &config)?,
                    Some(config.clusters.iter().map(|c| c.name.clone()).collect()),
                    access::ca_file(args, Some(&config)),
                )
            }
        };
        let http = access::http_client(ca.as_deref())?;
        Ok(Client {
            base,
            token,
            config_path: args.config.to_path_buf(),
            clusters,
            http,
        })
    }

    /// The cluster a command is about: `given`, else the configuration's only cluster.
    pub fn cluster(&self, given: Option<&str>) -> anyhow::Result<String> {
        let Some(clusters) = &self.clusters else {
            return given.map(str::to_owned).ok_or_else(|| {
                exit::error(
                    exit::USAGE,
                    "with --manager no configuration file is read: say which cluster with --cluster",
                )
            });
        };
        crate::config_file::cluster_or_only(
            given,
            clusters.iter().map(String::as_str),
            &self.config_path,
        )
        .map_err(|e| exit::error(exit::USAGE, e.to_string()))
    }

    /// `GET path?query` as JSON; `None` values are left out.
    pub async fn get_value(
        &self,
        path: &str,
        query: &[(&str, Option<&str>)],
    ) -> anyhow::Result<Value> {
        self.send(self.http.get(self.url(path)).query(&present(query)))
            .await
    }

    /// `GET path` shown to the user: the JSON as the manager sent it with `json`, else decoded
    /// as `T` and given to `print` (an `output` function).
    pub async fn show<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, Option<&str>)],
        json: bool,
        print: impl FnOnce(&T),
    ) -> anyhow::Result<()> {
        let value = self.get_value(path, query).await?;
        if json {
            crate::output::json(&value)?;
        } else {
            print(&typed::<T>(value, path)?);
        }
        Ok(())
    }

    /// `DELETE path?query`; `None` values are left out.
    pub async fn delete_value(
        &self,
        path: &str,
        query: &[(&str, Option<&str>)],
    ) -> anyhow::Result<Value> {
        self.send(self.http.delete(self.url(path)).query(&present(query)))
            .await
    }

    /// `POST path` with a JSON body.
    pub async fn post_value(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(self.http.post(self.url(path)).json(body)).await
    }

    /// `GET path` whose body is not JSON (a log's text), to read chunk by chunk; an error
    /// answer is the API's error, as for the other requests.
    pub async fn get_raw(&self, path: &str) -> anyhow::Result<reqwest::Response> {
        let response = self
            .http
            .get(self.url(path))
            .bearer_auth(self.token.expose_secret())
            .send()
            .await
            .map_err(|e| self.transport_error(&e))?;
        if response.status().is_success() {
            return Ok(response);
        }
        // An error answer is JSON: told like any other.
        self.answer(response).await?;
        Err(anyhow!(
            "the manager answered GET {path} with an unexpected status"
        ))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let response = request
            .bearer_auth(self.token.expose_secret())
            .send()
            .await
            .map_err(|e| self.transport_error(&e))?;
        self.answer(response).await
    }

    /// The JSON of a success, or the API's error (`{"error": "..."}`) with its exit code.
    async fn answer(&self, response: reqwest::Response) -> anyhow::Result<Value> {
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| self.transport_error(&e))?;
        let value: Option<Value> = serde_json::from_str(&text).ok();
        if status.is_success() {
            return value.ok_or_else(|| {
                anyhow!(
                    "the manager at {} answered something that is not JSON: is {} a Ferryman manager?",
                    self.base,
                    self.base
                )
            });
        }
        // The API's errors are `{"error": "..."}` with the next step in the message.
        let message = value
            .as_ref()
            .and_then(|v| v.get("error"))
            .and_then(Value::as_str)
            .map_or_else(|| text.trim().to_owned(), str::to_owned);
        Err(match status {
            StatusCode::UNAUTHORIZED => exit::error(
                exit::REFUSED,
                format!("the API refused the token: {message}"),
            ),
            s if s.is_client_error() => {
                exit::error(exit::REFUSED, format!("{message} (HTTP {status})"))
            }
            _ => anyhow!("{message} (HTTP {status})"),
        })
    }

    fn transport_error(&self, e: &reqwest::Error) -> anyhow::Error {
        if e.is_connect() && tls_failure(e) {
            exit::error(
                exit::UNREACHABLE,
                format!(
                    "the TLS handshake with the manager at {} failed ({}): give the CA that issued its certificate (`manager.tls-ca-file`, or --ca-file / FERRYMAN_CA_FILE), and reach it by a name or address its certificate holds",
                    self.base,
                    chain(e)
                ),
            )
        } else if e.is_connect() {
            exit::error(
                exit::UNREACHABLE,
                format!(
                    "cannot reach the manager at {}: is `ferryman manager --config {}` running?",
                    self.base,
                    self.config_path.display()
                ),
            )
        } else if e.is_timeout() {
            exit::error(
                exit::UNREACHABLE,
                format!(
                    "the manager at {} did not answer within {} s: check its log",
                    self.base,
                    REQUEST_TIMEOUT.as_secs()
                ),
            )
        } else {
            anyhow!("talking to the manager at {} failed: {e}", self.base)
        }
    }
}

/// The pairs of `query` that have a value.
fn present<'a>(query: &[(&'a str, Option<&'a str>)]) -> Vec<(&'a str, &'a str)> {
    query
        .iter()
        .filter_map(|(k, v)| v.map(|v| (*k, v)))
        .collect()
}

/// `value` as a `T`, or an error that suggests a version mismatch.
pub fn typed<T: DeserializeOwned>(value: Value, path: &str) -> anyhow::Result<T> {
    serde_json::from_value(value).with_context(|| {
        format!("the manager's answer to {path} is not what this ferryman expects: are both the same version?")
    })
}

/// True when a connection failed in its TLS handshake (an unknown issuer, a wrong name).
fn tls_failure(e: &reqwest::Error) -> bool {
    let text = chain(e).to_ascii_lowercase();
    ["certificate", "tls", "handshake"]
        .iter()
        .any(|w| text.contains(w))
}

/// An error with its causes, `: `-separated.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    parts.join(": ")
}
