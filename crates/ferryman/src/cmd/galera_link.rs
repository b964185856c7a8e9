//! `ferryman galera-link --config FILE --server NAME [--once]` (the keeper of one Galera node)
//! and `ferryman galera-link status --config FILE`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, Context};
use clap::{Args, Subcommand};
use ferryman_galera::{status, Keeper, Role};
use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

use crate::output;

/// Arguments of `ferryman galera-link`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct GaleraLinkArgs {
    #[command(subcommand)]
    command: Option<GaleraLinkCommand>,
    /// The configuration file.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// The Galera node this keeper runs on (its `name` in the configuration).
    #[arg(long)]
    server: Option<String>,
    /// Run one round and exit (for crontab), instead of a round every `interval`.
    #[arg(long)]
    once: bool,
    /// With --once: print the round as JSON.
    #[arg(long, requires = "once")]
    json: bool,
}

/// `galera-link` subcommands.
#[derive(Debug, Subcommand)]
pub enum GaleraLinkCommand {
    /// Show each cluster's link: who replicates from which master, every node's row and live
    /// replication, and the newest events.
    Status {
        #[command(flatten)]
        config: crate::config_file::ConfigFile,
        /// Only this cluster.
        #[arg(long)]
        cluster: Option<String>,
        /// Print JSON instead of tables.
        #[arg(long)]
        json: bool,
    },
}

impl GaleraLinkArgs {
    /// Whether this runs the keeper's daemon loop (which logs at info by default).
    pub fn is_daemon(&self) -> bool {
        self.command.is_none() && !self.once
    }

    pub async fn run(self) -> anyhow::Result<ExitCode> {
        if let Some(GaleraLinkCommand::Status {
            config,
            cluster,
            json,
        }) = self.command
        {
            let config = crate::config_file::load(&config)?;
            let clusters = status::read(&config, cluster.as_deref())
                .await
                .context("cannot read the galera link status")?;
            if clusters.is_empty() {
                return Err(anyhow!(
                    "no cluster of {} has a [clusters.NAME.galera-link] table",
                    config.path.display()
                ));
            }
            output::galera_link_status(&clusters, json)?;
            return Ok(ExitCode::SUCCESS);
        }
        let (Some(config), Some(server)) = (self.config, self.server) else {
            return Err(anyhow!(
                "`ferryman galera-link` needs --config FILE and --server NAME (or the `status` subcommand)"
            ));
        };
        let config = crate::config_file::load(&config)?;
        let mut keeper = Keeper::new(&config, &server)
            .with_context(|| format!("cannot start the link keeper of `{server}`"))?;
        if self.once {
            if keeper.settings().heartbeat_timeout < std::time::Duration::from_secs(120) {
                tracing::warn!(
                    heartbeat_timeout = %humantime::format_duration(keeper.settings().heartbeat_timeout),
                    "run from cron, rounds are a minute apart: with a heartbeat-timeout under 2m the replica's lease lapses between rounds and the link moves around; raise it or run the daemon"
                );
            }
            let round = keeper
                .round()
                .await
                .with_context(|| format!("the link keeper's round on `{server}` failed"))?;
            output::galera_link_round(&round, self.json)?;
            return Ok(if round.role == Role::Failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            });
        }
        let cancel = CancellationToken::new();
        watch_signals(&cancel)?;
        tracing::info!(server = %server, interval = %humantime::format_duration(keeper.settings().interval), "link keeper started");
        let mut last: Option<(Role, Option<String>)> = None;
        keeper
            .run(cancel, |res| match res {
                Ok(round) => {
                    let now = (round.role, round.master.clone());
                    if last.as_ref() != Some(&now) {
                        tracing::info!(role = ?round.role, term = round.term, "{}", round.detail);
                        last = Some(now);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "round failed; trying again next interval");
                    last = None;
                }
            })
            .await;
        tracing::info!(server = %server, "link keeper stopped (replication, if any, keeps running)");
        Ok(ExitCode::SUCCESS)
    }
}

/// SIGTERM or SIGINT: finish the round in progress, then stop. Replication is left as it is:
/// another node takes the link over only if this keeper stays away past heartbeat-timeout.
fn watch_signals(cancel: &CancellationToken) -> anyhow::Result<()> {
    let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    let cancel = cancel.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        cancel.cancel();
    });
    Ok(())
}
