//! `ferryman restore`: a backup restored into a directory, rolled forward to a time or a GTID
//! through the archived binlog, read straight from the repositories (no manager needed: the
//! disaster case).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{anyhow, bail};
use clap::{ArgGroup, Args};
use ferryman_binlog::GtidPos;
use ferryman_repo::pitr::{self, Point};
use ferryman_repo::{BackupId, Manifest, Repository, Timestamp};
use ferryman_verify::restore::{self, Request};
use ferryman_verify::throwaway::ThrowawayOptions;

use super::direct;
use crate::output;

/// Arguments of `ferryman restore`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("point").required(true).args(["to_time", "to_gtid", "backup"])))]
pub struct RestoreArgs {
    #[command(flatten)]
    config: crate::config_file::ConfigFile,
    /// The cluster (may be left out when the configuration has one).
    #[arg(long)]
    cluster: Option<String>,
    /// Recover to this time (UTC, `2026-12-04T14:02:59Z` or `2026-12-04 14:02:59`): the last
    /// transaction written at or before it, from the newest backup before it.
    #[arg(long, value_name = "TIME")]
    to_time: Option<String>,
    /// Recover to this GTID position, inclusive (`0-1-5000`, one GTID per domain).
    #[arg(long, value_name = "GTID")]
    to_gtid: Option<String>,
    /// Restore this backup as it is (`cluster/server/20261121T025800Z-j42`).
    #[arg(long, value_name = "ID")]
    backup: Option<String>,
    /// The directory the copy is made in: it must not exist, or be empty. It ends up holding
    /// `data/` (the datadir) and `my.cnf` (`mariadbd --defaults-file=DIR/my.cnf` starts it).
    #[arg(long, value_name = "DIR")]
    target_dir: PathBuf,
    /// Start a private server on the copy (a socket in DIR, no TCP) and leave it running.
    #[arg(long)]
    start: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

impl RestoreArgs {
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        let config = crate::config_file::load(&self.config)?;
        let cluster_name = crate::config_file::cluster_or_only(
            self.cluster.as_deref(),
            config.clusters.iter().map(|c| c.name.as_str()),
            &self.config,
        )?;
        let cluster = config
            .cluster(&cluster_name)
            .ok_or_else(|| anyhow!("no cluster `{cluster_name}` in {}", self.config.display()))?;
        let mut repos = Vec::new();
        for name in &cluster.backup_repositories {
            repos.extend(direct::repositories(&config, Some(name))?);
        }
        let Some((first, first_repo)) = repos.first() else {
            bail!("none of cluster `{cluster_name}`'s repositories can be read");
        };
        let backups = first_repo.list(Some(&cluster_name), None).await?;
        let segments = first_repo.list_segments(&cluster_name).await?;
        let (id, replay, point) = match (&self.backup, self.point()?) {
            (Some(id), None) => {
                let id: BackupId = id.parse().map_err(|e| anyhow!("--backup: {e}"))?;
                (id, Vec::new(), None)
            }
            (None, Some(point)) => {
                let plan = pitr::plan(&backups, &segments, &point)?;
                (plan.backup.id, plan.segments, Some(point))
            }
            _ => bail!("give one of --to-time, --to-gtid or --backup"),
        };
        let (backup, backup_repo) = locate(&repos, &id).await?;
        let started = Instant::now();
        let restored = restore::restore(
            Request {
                backup: &backup,
                backup_repo,
                segments: &replay,
                segment_repos: &repos,
                point,
                options: ThrowawayOptions {
                    work_dir: PathBuf::new(),
                    buffer_pool_mib: config.verifier.buffer_pool_mib,
                    start_timeout: config.verifier.start_timeout,
                },
            },
            &self.target_dir,
            self.start,
        )
        .await
        .map_err(|e| anyhow!("{e}; nothing was written to {}", self.target_dir.display()))?;
        output::restored(&restored, first, started.elapsed(), self.json)?;
        Ok(ExitCode::SUCCESS)
    }

    /// The point, from --to-time or --to-gtid.
    fn point(&self) -> anyhow::Result<Option<Point>> {
        if let Some(text) = &self.to_time {
            return Ok(Some(Point::Time(parse_time(text)?)));
        }
        if let Some(text) = &self.to_gtid {
            let gtid: GtidPos = text.parse().map_err(|e| anyhow!("--to-gtid: {e}"))?;
            return Ok(Some(Point::Gtid(gtid)));
        }
        Ok(None)
    }
}

/// `2026-12-04T14:02:59Z` or `2026-12-04 14:02:59` (UTC), as `--to-time` takes it.
pub(crate) fn parse_time(text: &str) -> anyhow::Result<Timestamp> {
    let text = text.trim();
    let normal = if text.ends_with('Z') {
        text.to_owned()
    } else {
        format!("{}Z", text.replacen(' ', "T", 1))
    };
    Timestamp::parse_rfc3339(&normal).ok_or_else(|| {
        anyhow!("--to-time `{text}` is not a UTC time: write 2026-12-04T14:02:59Z or \"2026-12-04 14:02:59\"")
    })
}

/// Backup `id` and the first repository that holds it.
async fn locate<'a>(
    repos: &'a [(String, Repository)],
    id: &BackupId,
) -> anyhow::Result<(Manifest, &'a Repository)> {
    for (_, repo) in repos {
        match repo.get(id).await {
            Ok(m) => return Ok((m, repo)),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
    }
    bail!("backup {id} is in none of the cluster's repositories: `ferryman backup list` shows which exist")
}
