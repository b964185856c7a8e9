//! `ferryman sandbox up|status|down|destroy|load`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use ferryman_sandbox::{load, Sandbox};

use crate::output;

/// Sandbox commands; every one takes the sandbox directory.
#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Start a primary and N replicas (created on first use), replicating with GTID, and write
    /// DIR/ferryman.toml for that topology.
    Up {
        /// Sandbox directory.
        #[arg(long)]
        dir: PathBuf,
        /// Number of replicas.
        #[arg(long, default_value_t = 2)]
        replicas: usize,
    },
    /// Show each server's PID, role, GTID position and replication state.
    Status {
        /// Sandbox directory.
        #[arg(long)]
        dir: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Stop every server (data kept; `up` starts them again).
    Down {
        /// Sandbox directory.
        #[arg(long)]
        dir: PathBuf,
    },
    /// Stop every server and delete the sandbox directory.
    Destroy {
        /// Sandbox directory.
        #[arg(long)]
        dir: PathBuf,
    },
    /// Fill the primary with about SIZE of sysbench InnoDB data (replaces schema `sbtest`).
    Load {
        /// Sandbox directory.
        #[arg(long)]
        dir: PathBuf,
        /// Approximate size, e.g. 200M or 2G.
        #[arg(long)]
        size: String,
    },
}

impl SandboxCommand {
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        match self {
            SandboxCommand::Up { dir, replicas } => {
                let sandbox = Sandbox::up(&dir, replicas)
                    .await
                    .with_context(|| format!("cannot bring up the sandbox in {}", dir.display()))?;
                output::sandbox_status(&sandbox, &sandbox.status().await, false)?;
                Ok(ExitCode::SUCCESS)
            }
            SandboxCommand::Status { dir, json } => {
                let sandbox = Sandbox::open(&dir)?;
                let reports = sandbox.status().await;
                output::sandbox_status(&sandbox, &reports, json)?;
                let all_up = reports.iter().all(|r| r.status.is_some());
                Ok(if all_up {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                })
            }
            SandboxCommand::Down { dir } => {
                let sandbox = Sandbox::open(&dir)?;
                sandbox.down().await.context("cannot stop the sandbox")?;
                output::line(&format!("sandbox in {} stopped", sandbox.dir().display()));
                Ok(ExitCode::SUCCESS)
            }
            SandboxCommand::Destroy { dir } => {
                let sandbox = Sandbox::open(&dir)?;
                let path = sandbox.dir().to_owned();
                sandbox
                    .destroy()
                    .await
                    .context("cannot destroy the sandbox")?;
                output::line(&format!(
                    "sandbox in {} stopped and removed",
                    path.display()
                ));
                Ok(ExitCode::SUCCESS)
            }
            SandboxCommand::Load { dir, size } => {
                let bytes = load::parse_size(&size)?;
                let sandbox = Sandbox::open(&dir)?;
                let report = load::load(&sandbox, bytes)
                    .await
                    .context("cannot load data into the sandbox primary")?;
                output::load_report(&report);
                Ok(ExitCode::SUCCESS)
            }
        }
    }
}
