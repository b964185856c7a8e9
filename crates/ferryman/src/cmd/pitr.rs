//! `ferryman pitr status`: point-in-time recovery of each cluster: the recoverable windows,
//! the gaps, the archiver and its recovery point lag (through the running manager; from the
//! repositories alone when none listens).

use std::process::ExitCode;

use anyhow::anyhow;
use clap::Subcommand;
use ferryman_config::Config;
use ferryman_manager::pitr::PitrStatus;
use ferryman_repo::pitr::ArchiveReport;

use super::direct;
use crate::client::{typed, ApiArgs, Client};
use crate::output;

/// Point-in-time recovery.
#[derive(Debug, Subcommand)]
pub enum PitrCommand {
    /// The recoverable windows (one per usable backup: from when it ended to the last archived
    /// transaction that continues it), every gap in the archived binlog history, the
    /// archiver's position and recovery point lag, and warnings. Exit 1 when there is a gap or
    /// a warning.
    Status {
        #[command(flatten)]
        api: ApiArgs,
        /// Only this cluster.
        #[arg(long)]
        cluster: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Prove the archive now (through the running manager; it also does so every
    /// `binlog-archive-proof-interval`): the newest backup with recorded rows (a mysqldump, or
    /// a backup whose verification passed) is reached from the newest older backup through
    /// the archived binlog on a throwaway server, and every table's rows are compared. With
    /// --wait, exit 1 when the proof fails.
    Prove {
        #[command(flatten)]
        api: ApiArgs,
        /// The cluster (may be left out when the configuration has one).
        #[arg(long)]
        cluster: Option<String>,
        /// Wait for the result and print it.
        #[arg(long)]
        wait: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

impl PitrCommand {
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        match self {
            PitrCommand::Status { api, cluster, json } => status(api, cluster, json).await,
            PitrCommand::Prove {
                api,
                cluster,
                wait,
                json,
            } => prove(api, cluster.as_deref(), wait, json).await,
        }
    }
}

/// How often `pitr prove --wait` looks at the manager.
const POLL: std::time::Duration = std::time::Duration::from_secs(1);

async fn prove(
    api: ApiArgs,
    cluster: Option<&str>,
    wait: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let client = Client::new(&api)?;
    let cluster = client.cluster(cluster)?;
    let asked = ferryman_repo::Timestamp::now();
    let started = client
        .post_value(
            &format!("/api/v1/clusters/{cluster}/pitr/prove"),
            &serde_json::json!({}),
        )
        .await?;
    let what = started["what"].as_str().unwrap_or_default().to_owned();
    if !wait {
        if json {
            output::json(&started)?;
        } else {
            output::line(&format!("proof of `{cluster}` started: {what}"));
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !json {
        output::note(&format!("proving `{cluster}`: {what}"));
    }
    let path = format!("/api/v1/clusters/{cluster}/pitr");
    loop {
        let status = typed::<PitrStatus>(client.get_value(&path, &[]).await?, &path)?;
        let done = status.prover.running.is_none();
        match status.proof.filter(|p| p.started_at.unix() >= asked.unix()) {
            Some(proof) if done => {
                if json {
                    output::json(&serde_json::to_value(&proof)?)?;
                } else {
                    output::line(&output::proof_line(&proof));
                }
                return Ok(if proof.status == ferryman_repo::verification::Status::Ok {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                });
            }
            None if done => anyhow::bail!(
                "the proof of `{cluster}` ended without a record; see the manager's log (event proof-failed)"
            ),
            _ => tokio::time::sleep(POLL).await,
        }
    }
}

async fn status(api: ApiArgs, cluster: Option<String>, json: bool) -> anyhow::Result<ExitCode> {
    let config = crate::config_file::load(&api.config)?;
    let clusters: Vec<String> = match cluster {
        Some(name) => {
            config
                .cluster(&name)
                .ok_or_else(|| anyhow!("no cluster `{name}` in {}", api.config.display()))?;
            vec![name]
        }
        None => config.clusters.iter().map(|c| c.name.clone()).collect(),
    };
    let mut all = Vec::new();
    if direct::manager_listens(&config).await {
        let client = Client::new(&api)?;
        for cluster in &clusters {
            let path = format!("/api/v1/clusters/{cluster}/pitr");
            let value = client.get_value(&path, &[]).await?;
            all.push(typed::<PitrStatus>(value, &path)?);
        }
    } else {
        output::note("no manager listens: the archiver's state is unknown; windows and gaps are read from the repositories");
        for cluster in &clusters {
            all.push(from_repository(&config, cluster).await?);
        }
    }
    let troubled = all
        .iter()
        .any(|s| !s.report.gaps.is_empty() || !s.warnings.is_empty());
    if json {
        output::json(&serde_json::to_value(&all)?)?;
    } else {
        output::pitr_status(&all);
    }
    Ok(if troubled {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The status of `cluster` from its first repository alone.
async fn from_repository(config: &Config, cluster: &str) -> anyhow::Result<PitrStatus> {
    let settings = config
        .cluster(cluster)
        .ok_or_else(|| anyhow!("no cluster `{cluster}`"))?;
    let first = settings
        .backup_repositories
        .first()
        .ok_or_else(|| anyhow!("cluster `{cluster}` has no repository"))?;
    let (_, repo) = direct::repositories(config, Some(first))?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow!("repository `{first}` cannot be read"))?;
    let backups = repo.list(Some(cluster), None).await?;
    let segments = repo.list_segments(cluster).await?;
    let report = ArchiveReport::of(&backups, &segments)?;
    let proof = ferryman_manager::pitr::newest_proof(&repo, cluster).await;
    let mut warnings = Vec::new();
    if !report.gaps.is_empty() {
        warnings.push(format!(
            "{} gap(s) in the archived history: no point inside one can be recovered",
            report.gaps.len()
        ));
    }
    warnings.extend(ferryman_manager::pitr::proof_warning(&proof));
    Ok(PitrStatus {
        cluster: cluster.to_owned(),
        archiving: settings.binlog_archive.enabled,
        archiver: None,
        primary: None,
        rpo_lag_seconds: None,
        report,
        proof,
        prover: Default::default(),
        warnings,
    })
}
