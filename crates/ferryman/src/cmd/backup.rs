//! `ferryman backup run|list|show`: backups through the manager's HTTP API (`list` and `show`
//! also straight from the repositories: `direct.rs`).

use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};
use ferryman_manager::repositories::{Detailed, Located};
use ferryman_repo::BackupId;
use serde_json::json;

use super::direct;
use crate::client::{typed, ApiArgs, Client, PruneReport};
use crate::output;

/// Backups.
#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Start a backup now; prints the job id. With --wait, follows it to the end (Ctrl-C stops
    /// waiting, not the backup).
    Run {
        #[command(flatten)]
        api: ApiArgs,
        /// The cluster to back up (may be left out when the configuration has one).
        #[arg(long)]
        cluster: Option<String>,
        /// The server to take it from; default: `db-servers-backup-hosts`, else a healthy
        /// replica, else the primary.
        #[arg(long)]
        server: Option<String>,
        /// physical: the cluster's `backup-physical-type` (mariabackup, xtrabackup); logical:
        /// its `backup-logical-type` (mysqldump, mydumper).
        #[arg(long, value_enum)]
        kind: Kind,
        /// Wait for the job to end, showing its progress; exit 1 if it fails.
        #[arg(long)]
        wait: bool,
        /// Print JSON: the job id, or with --wait the finished job.
        #[arg(long)]
        json: bool,
    },
    /// The stored backups, newest first.
    List {
        #[command(flatten)]
        api: ApiArgs,
        /// Only this cluster's backups.
        #[arg(long)]
        cluster: Option<String>,
        /// Only this server's backups.
        #[arg(long)]
        server: Option<String>,
        /// Read this repository directly (`local` or a [repositories.NAME] name) instead of
        /// asking the manager; without a manager listening, every repository is read directly.
        #[arg(long, value_name = "NAME")]
        repository: Option<String>,
        /// Print JSON (the manifests) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Apply the retention policy (`backup-keep-*`) of a cluster, or of every cluster, now.
    /// The manager also applies it after each backup. The newest backup of each server and
    /// kind is always kept.
    Prune {
        #[command(flatten)]
        api: ApiArgs,
        /// Only this cluster.
        #[arg(long)]
        cluster: Option<String>,
        /// Show what would be deleted; delete nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print JSON (one report per cluster).
        #[arg(long)]
        json: bool,
    },
    /// One backup's manifest.
    Show {
        #[command(flatten)]
        api: ApiArgs,
        /// The backup id, CLUSTER/SERVER/NAME as `ferryman backup list` shows it.
        id: String,
        /// Read this repository directly instead of asking the manager (see `list`).
        #[arg(long, value_name = "NAME")]
        repository: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete one stored backup from every repository that holds it. The newest backup of its
    /// server and kind whose verification passed is kept unless --force; one a job or a
    /// verification is reading is never deleted.
    Delete {
        #[command(flatten)]
        api: ApiArgs,
        /// The backup id, CLUSTER/SERVER/NAME as `ferryman backup list` shows it.
        id: String,
        /// Delete it even when it is the newest verified backup of its server and kind.
        #[arg(long)]
        force: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Physical or logical.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Kind {
    /// A copy of the datadir (mariabackup, xtrabackup).
    Physical,
    /// SQL (mysqldump, mydumper).
    Logical,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Physical => "physical",
            Kind::Logical => "logical",
        }
    }
}

impl BackupCommand {
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        match self {
            BackupCommand::Run {
                api,
                cluster,
                server,
                kind,
                wait,
                json,
            } => {
                let client = Client::new(&api)?;
                let cluster = client.cluster(cluster.as_deref())?;
                let path = format!("/api/v1/clusters/{}/backups", segment(&cluster));
                let mut body = json!({ "kind": kind.as_str() });
                if let Some(server) = &server {
                    body["server"] = json!(server);
                }
                let started = client.post_value(&path, &body).await?;
                let job_id = started
                    .get("job_id")
                    .and_then(serde_json::Value::as_u64)
                    .ok_or_else(|| {
                        anyhow::anyhow!("the manager's answer to POST {path} has no job id: are the manager and this ferryman the same version?")
                    })?;
                match (wait, json) {
                    (false, true) => output::json(&started)?,
                    // The id first, also when waiting: another terminal may want to cancel it.
                    (_, false) => output::backup_started(job_id, &cluster, &api.config, wait),
                    (true, true) => {}
                }
                if !wait {
                    return Ok(ExitCode::SUCCESS);
                }
                super::follow::follow(&client, &[job_id], &api, json).await
            }
            BackupCommand::List {
                api,
                cluster,
                server,
                repository,
                json,
            } => {
                if let Some(repos) = direct_repositories(&api, repository.as_deref()).await? {
                    let listed =
                        direct::list(&repos, cluster.as_deref(), server.as_deref()).await?;
                    if json {
                        output::json(&serde_json::to_value(&listed)?)?;
                    } else {
                        output::backups(&listed);
                    }
                    return Ok(ExitCode::SUCCESS);
                }
                let query = [
                    ("cluster", cluster.as_deref()),
                    ("server", server.as_deref()),
                ];
                Client::new(&api)?
                    .show("/api/v1/backups", &query, json, |b: &Vec<Located>| {
                        output::backups(b)
                    })
                    .await?;
                Ok(ExitCode::SUCCESS)
            }
            BackupCommand::Prune {
                api,
                cluster,
                dry_run,
                json,
            } => prune(&api, cluster, dry_run, json).await,
            BackupCommand::Delete {
                api,
                id,
                force,
                json,
            } => {
                let id: BackupId = id.parse()?;
                let client = Client::new(&api)?;
                let path = format!("/api/v1/backups/{id}");
                let force = force.then_some("true");
                let deleted = client.delete_value(&path, &[("force", force)]).await?;
                if json {
                    output::json(&deleted)?;
                } else {
                    output::backup_deleted(&deleted);
                }
                Ok(ExitCode::SUCCESS)
            }
            BackupCommand::Show {
                api,
                id,
                repository,
                json,
            } => {
                // Checked here: a malformed id would reach another route, or none.
                let id: BackupId = id.parse()?;
                if let Some(repos) = direct_repositories(&api, repository.as_deref()).await? {
                    let detailed = direct::show(&repos, &id).await?;
                    if json {
                        output::json(&serde_json::to_value(&detailed)?)?;
                    } else {
                        output::backup(&detailed);
                    }
                    return Ok(ExitCode::SUCCESS);
                }
                let client = Client::new(&api)?;
                // The id `cluster/server/name` is the end of the route's path; its parts are
                // `[A-Za-z0-9_.-]`, nothing to encode.
                let path = format!("/api/v1/backups/{id}");
                client
                    .show(&path, &[], json, |d: &Detailed| output::backup(d))
                    .await?;
                Ok(ExitCode::SUCCESS)
            }
        }
    }
}

/// The repositories to read directly: `only`, or all of them when no manager listens (said on
/// stderr); `None` to ask the manager.
async fn direct_repositories(
    api: &ApiArgs,
    only: Option<&str>,
) -> anyhow::Result<Option<Vec<(String, ferryman_repo::Repository)>>> {
    let config = crate::config_file::load(&api.config)?;
    if only.is_none() {
        if direct::manager_listens(&config).await {
            return Ok(None);
        }
        output::note(&format!(
            "no manager listens on {}:{}: reading the repositories directly",
            config.manager.http_bind_address, config.manager.http_port
        ));
    }
    direct::repositories(&config, only).map(Some)
}

/// `backup prune`: one request per cluster (all the configured ones without `--cluster`);
/// exit status 1 when a deletion failed.
async fn prune(
    api: &ApiArgs,
    cluster: Option<String>,
    dry_run: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let client = Client::new(api)?;
    let clusters = match cluster {
        Some(c) => vec![c],
        None => {
            let all = client.get_value("/api/v1/clusters", &[]).await?;
            let all: Vec<ClusterName> = typed(all, "/api/v1/clusters")?;
            all.into_iter().map(|c| c.name).collect()
        }
    };
    let mut values = Vec::new();
    let mut failed = false;
    for name in clusters {
        let path = format!("/api/v1/clusters/{}/prune", segment(&name));
        let value = client
            .post_value(&path, &json!({ "dry_run": dry_run }))
            .await?;
        let report: PruneReport = typed(value.clone(), &path)?;
        failed |= !report.failed.is_empty();
        if json {
            values.push(value);
        } else {
            output::prune(&report);
        }
    }
    if json {
        output::json(&serde_json::Value::Array(values))?;
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// A cluster's name, from `GET /api/v1/clusters`.
#[derive(Debug, serde::Deserialize)]
struct ClusterName {
    name: String,
}

/// Percent-encodes one path segment: names are `[A-Za-z0-9_.-]` when valid, and a typo must
/// reach the manager as written (to be refused with a message), not as another path.
pub(crate) fn segment(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
