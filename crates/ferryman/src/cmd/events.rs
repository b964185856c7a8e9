//! `ferryman events`: what the manager told (failures, resolutions, alarms), through its API.

use std::process::ExitCode;

use clap::Args;

use crate::client::{ApiArgs, Client, Event};
use crate::output;

/// `ferryman events`.
#[derive(Debug, Args)]
pub struct EventsArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// Only this cluster's events (and the manager's own).
    #[arg(long)]
    cluster: Option<String>,
    /// Only events with an id above this one (to follow on from an earlier listing).
    #[arg(long, default_value_t = 0)]
    since: u64,
    /// At most this many, the newest.
    #[arg(long, default_value_t = 50)]
    limit: usize,
    /// Print JSON instead of lines.
    #[arg(long)]
    json: bool,
}

impl EventsArgs {
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        let since = self.since.to_string();
        let limit = self.limit.to_string();
        let query = [
            ("cluster", self.cluster.as_deref()),
            ("since", Some(since.as_str())),
            ("limit", Some(limit.as_str())),
        ];
        Client::new(&self.api)?
            .show("/api/v1/events", &query, self.json, |e: &Vec<Event>| {
                output::events(e)
            })
            .await?;
        Ok(ExitCode::SUCCESS)
    }
}
