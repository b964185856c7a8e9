//! `ferryman status`: the fleet on one screen (like pgBackRest's `info`), through the manager.

use std::process::ExitCode;

use clap::Args;
use ferryman_manager::fleet::Fleet;

use crate::client::{ApiArgs, Client};
use crate::output;

/// `ferryman status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// Print JSON (`GET /api/v1/status`) instead of text.
    #[arg(long)]
    json: bool,
}

impl StatusArgs {
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        Client::new(&self.api)?
            .show("/api/v1/status", &[], self.json, |f: &Fleet| {
                output::fleet(f)
            })
            .await?;
        Ok(ExitCode::SUCCESS)
    }
}
