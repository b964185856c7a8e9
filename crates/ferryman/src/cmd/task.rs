//! `ferryman task TASK --server S`: a node task queued through the manager (optimize, error and
//! slow-query log collection, the database service's stop, start and restart, zfssnapback).

use std::process::ExitCode;

use clap::{Args, ValueEnum};
use serde_json::json;

use super::backup::segment;
use crate::client::{ApiArgs, Client};
use crate::{exit, output};

/// A node task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NodeTask {
    /// OPTIMIZE every non-system table.
    Optimize,
    /// Ship the error log to the manager, then rotate it.
    ErrorLog,
    /// Ship the slow-query log to the manager, then rotate it.
    SlowQueryLog,
    /// Stop the database service (`service-stop`; needs --yes).
    Stop,
    /// Start the database service (`service-start`).
    Start,
    /// Restart the database service (`service-restart`; needs --yes).
    Restart,
    /// Roll the datadir back to the newest ZFS snapshot (`zfs-snapback`; needs --yes).
    Zfssnapback,
}

impl NodeTask {
    fn name(self) -> &'static str {
        match self {
            NodeTask::Optimize => "optimize",
            NodeTask::ErrorLog => "error-log",
            NodeTask::SlowQueryLog => "slow-query-log",
            NodeTask::Stop => "stop",
            NodeTask::Start => "start",
            NodeTask::Restart => "restart",
            NodeTask::Zfssnapback => "zfssnapback",
        }
    }

    fn destructive(self) -> bool {
        matches!(
            self,
            NodeTask::Stop | NodeTask::Restart | NodeTask::Zfssnapback
        )
    }
}

/// Arguments of `ferryman task`.
#[derive(Debug, Args)]
pub struct TaskArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// The task.
    #[arg(value_enum)]
    task: NodeTask,
    /// The server to run it on.
    #[arg(long)]
    server: String,
    /// Its cluster (may be left out when the configuration has one).
    #[arg(long)]
    cluster: Option<String>,
    /// Run a task that interrupts the server or replaces its data (stop, restart,
    /// zfssnapback).
    #[arg(long)]
    yes: bool,
    /// Wait for the job to end; exit 1 if it fails.
    #[arg(long)]
    wait: bool,
    /// Print JSON: the job id, or with --wait the finished job.
    #[arg(long)]
    json: bool,
}

impl TaskArgs {
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        if self.task.destructive() && !self.yes {
            return Err(exit::error(
                exit::USAGE,
                format!(
                    "`{}` interrupts `{}` or replaces its data: add --yes to run it",
                    self.task.name(),
                    self.server
                ),
            ));
        }
        let client = Client::new(&self.api)?;
        let cluster = client.cluster(self.cluster.as_deref())?;
        let path = format!(
            "/api/v1/clusters/{}/servers/{}/tasks",
            segment(&cluster),
            segment(&self.server)
        );
        let body = json!({ "task": self.task.name(), "confirm": self.yes });
        let started = client.post_value(&path, &body).await?;
        let job_id = started
            .get("job_id")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| {
                anyhow::anyhow!("the manager's answer to POST {path} has no job id: are the manager and this ferryman the same version?")
            })?;
        match (self.wait, self.json) {
            (false, true) => output::json(&started)?,
            (_, false) => output::task_started(job_id, self.task.name(), &self.server),
            (true, true) => {}
        }
        if !self.wait {
            return Ok(ExitCode::SUCCESS);
        }
        super::follow::follow(&client, &[job_id], &self.api, self.json).await
    }
}
