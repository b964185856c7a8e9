//! `ferryman task TASK --server S`: a node task queued through the manager (optimize, error and
//! slow-query log collection, the database service's stop, start and restart, zfssnapback).

use std::process::ExitCode;

use clap::builder::PossibleValue;
use clap::{Args, ValueEnum};
use ferryman_proto::NodeTask;
use serde_json::json;

use super::backup::segment;
use crate::client::{ApiArgs, Client};
use crate::{exit, output};

/// A node task as the command line takes it (its names and help are `NodeTask`'s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskName(NodeTask);

impl ValueEnum for TaskName {
    fn value_variants<'a>() -> &'a [Self] {
        static ALL: std::sync::LazyLock<[TaskName; 8]> =
            std::sync::LazyLock::new(|| NodeTask::ALL.map(TaskName));
        &*ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.0.name()).help(self.0.help()))
    }
}

/// Arguments of `ferryman task`.
#[derive(Debug, Args)]
pub struct TaskArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// The task.
    #[arg(value_enum)]
    task: TaskName,
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
        let task = self.task.0;
        if task.destructive() && !self.yes {
            return Err(exit::error(
                exit::USAGE,
                format!(
                    "`{}` interrupts `{}` or replaces its data: add --yes to run it",
                    task.name(),
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
        let body = json!({ "task": task.name(), "confirm": self.yes });
        let started = client.post_value(&path, &body).await?;
        let job_id = started
            .get("job_id")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| {
                anyhow::anyhow!("the manager's answer to POST {path} has no job id: are the manager and this ferryman the same version?")
            })?;
        match (self.wait, self.json) {
            (false, true) => output::json(&started)?,
            (_, false) => output::task_started(job_id, task.name(), &self.server),
            (true, true) => {}
        }
        if !self.wait {
            return Ok(ExitCode::SUCCESS);
        }
        super::follow::follow(&client, &[job_id], &self.api, self.json).await
    }
}
