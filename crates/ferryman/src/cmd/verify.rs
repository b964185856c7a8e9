//! `ferryman verify`: prove that backups restore, through the running manager.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use ferryman_repo::BackupId;
use serde_json::json;

use crate::client::{typed, ApiArgs, Client, VerifyRun};
use crate::output;

/// How often the progress is redrawn while waiting: the manager answers the run's read as soon
/// as the run is done (`?wait_ms=`), so its end is seen at once, not at the next redraw.
const REDRAW: Duration = Duration::from_millis(500);
/// The least time between two reads (a manager from before `wait_ms` answers at once).
const MIN_READ_INTERVAL: Duration = Duration::from_millis(100);

/// Verify backups: check the stored payload (present, checksums, a dump's header and footer,
/// size change against the previous good backup), restore it on a throwaway server, check the
/// restored copy (expected databases, watched tables non-empty, row counts equal to those
/// recorded at backup time, CHECK TABLE). Results are appended to each backup's manifest.
/// Prints a summary; exit status 1 when any verification fails.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["backup", "latest", "all_clusters"])))]
pub struct VerifyArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// One backup, CLUSTER/SERVER/NAME as `ferryman backup list` shows it.
    #[arg(long, conflicts_with_all = ["cluster", "all_clusters"])]
    backup: Option<String>,
    /// The cluster whose newest backups to verify (with --latest; may be left out when the
    /// configuration has one cluster).
    #[arg(long, requires = "latest")]
    cluster: Option<String>,
    /// The newest physical and the newest logical backup of --cluster.
    #[arg(long)]
    latest: bool,
    /// Fleet run: take a fresh logical backup of every cluster's backup source and verify
    /// each, `[verifier] concurrency` at a time.
    #[arg(long, conflicts_with_all = ["cluster", "latest"])]
    all_clusters: bool,
    /// Start the run and print its id; do not wait for the summary.
    #[arg(long)]
    no_wait: bool,
    /// Print the run as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

impl VerifyArgs {
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        let client = Client::new(&self.api)?;
        let body = if let Some(id) = &self.backup {
            // Checked here, so a typo gets the id's rules rather than a 404.
            let id: BackupId = id.parse()?;
            json!({ "backup": id.to_string() })
        } else if self.latest {
            let cluster = client.cluster(self.cluster.as_deref())?;
            json!({ "cluster": cluster, "latest": true })
        } else {
            json!({ "all_clusters": true })
        };
        let started = client.post_value("/api/v1/verify", &body).await?;
        let mut run: VerifyRun = typed(started, "/api/v1/verify")?;
        if self.no_wait {
            if self.json {
                output::json(&serde_json::to_value(&run)?)?;
            } else {
                output::verify_started(&run);
            }
            return Ok(ExitCode::SUCCESS);
        }
        let path = format!("/api/v1/verify/runs/{}", run.id);
        let wait_ms = REDRAW.as_millis().to_string();
        let progress = output::VerifyProgress::new(&run);
        while run.state != "done" {
            let read = Instant::now();
            run = typed(
                client
                    .get_value(&path, &[("wait_ms", Some(wait_ms.as_str()))])
                    .await?,
                &path,
            )?;
            progress.update(&run);
            if run.state != "done" {
                tokio::time::sleep(MIN_READ_INTERVAL.saturating_sub(read.elapsed())).await;
            }
        }
        progress.finish();
        if self.json {
            output::json(&serde_json::to_value(&run)?)?;
        } else {
            output::verify_summary(&run);
        }
        Ok(if run.ok == Some(true) {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    }
}
