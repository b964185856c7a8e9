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
}

impl PitrCommand {
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        let PitrCommand::Status { api, cluster, json } = self;
        let config = Config::load(&api.config).map_err(|e| anyhow!("{e}"))?;
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
    let mut warnings = Vec::new();
    if !report.gaps.is_empty() {
        warnings.push(format!(
            "{} gap(s) in the archived history: no point inside one can be recovered",
            report.gaps.len()
        ));
    }
    Ok(PitrStatus {
        cluster: cluster.to_owned(),
        archiving: settings.binlog_archive.enabled,
        archiver: None,
        primary: None,
        rpo_lag_seconds: None,
        report,
        warnings,
    })
}
