//! `ferryman jobs list|show|cancel`: the manager's jobs, through its HTTP API.

use std::process::ExitCode;

use clap::Subcommand;

use crate::client::{typed, ApiArgs, Client, Job};
use crate::output;

/// The manager's jobs.
#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// The manager's jobs, newest first (kept across its restarts).
    List {
        #[command(flatten)]
        api: ApiArgs,
        /// Only this cluster's jobs.
        #[arg(long)]
        cluster: Option<String>,
        /// Only jobs in this state: queued, waiting, receiving, succeeded, failed, cancelled.
        #[arg(long)]
        state: Option<String>,
        /// Only jobs of this node task: mariabackup, mysqldump, reseedmariabackup, error,
        /// slowquery, optimize, ...
        #[arg(long)]
        task: Option<String>,
        /// At most this many, the newest.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One job in full: state, phase, bytes, the node's result, the error.
    Show {
        #[command(flatten)]
        api: ApiArgs,
        /// The job id (from `ferryman jobs list` or `ferryman backup run`).
        id: u64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Cancel a job that has not ended: the agent stops its tool and nothing is stored.
    Cancel {
        #[command(flatten)]
        api: ApiArgs,
        /// The job id.
        id: u64,
    },
}

impl JobsCommand {
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        match self {
            JobsCommand::List {
                api,
                cluster,
                state,
                task,
                limit,
                json,
            } => {
                let limit = limit.to_string();
                let query = [
                    ("cluster", cluster.as_deref()),
                    ("state", state.as_deref()),
                    ("task", task.as_deref()),
                    ("limit", Some(limit.as_str())),
                ];
                Client::new(&api)?
                    .show("/api/v1/jobs", &query, json, |j: &Vec<Job>| output::jobs(j))
                    .await?;
            }
            JobsCommand::Show { api, id, json } => {
                let client = Client::new(&api)?;
                let path = format!("/api/v1/jobs/{id}");
                client
                    .show(&path, &[], json, |j: &Job| output::job(j))
                    .await?;
            }
            JobsCommand::Cancel { api, id } => {
                let client = Client::new(&api)?;
                let path = format!("/api/v1/jobs/{id}/cancel");
                let value = client.post_value(&path, &serde_json::json!({})).await?;
                output::job_cancelling(&typed::<Job>(value, &path)?);
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}
