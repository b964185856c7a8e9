//! `ferryman agent --config FILE --server NAME [--once]`.

use std::process::ExitCode;

use anyhow::{anyhow, Context};
use clap::Args;
use ferryman_agent::{Agent, Shutdown};
use tokio::signal::unix::{signal, SignalKind};

use crate::output;

/// Arguments of `ferryman agent`.
#[derive(Debug, Args)]
pub struct AgentArgs {
    #[command(flatten)]
    config: crate::config_file::ConfigFile,
    /// The server this agent serves (its `name` in the configuration); the agent runs on
    /// that server's host.
    #[arg(long)]
    server: String,
    /// Run one pass over the jobs table and exit (for crontab), instead of polling.
    #[arg(long)]
    once: bool,
}

impl AgentArgs {
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        // The agent keeps its own server's part of the file, not the fleet's.
        let (agent, grace) = crate::config_file::load_keeping(&self.config, |config| {
            let agent = Agent::new(config, &self.server)
                .with_context(|| format!("cannot start the agent of `{}`", self.server))?;
            for channel in config.plain_channels() {
                tracing::warn!("{channel}");
            }
            Ok((agent, config.agent.shutdown_grace))
        })?;
        let shutdown = Shutdown::default();
        watch_signals(&shutdown, grace)?;
        if self.once {
            let report = agent.once(&shutdown).await;
            output::agent_pass(&report);
            if let Some(e) = &report.error {
                return Err(anyhow!("{e}").context(format!(
                    "the pass over `{}`'s jobs table ended early",
                    self.server
                )));
            }
            return Ok(ExitCode::SUCCESS);
        }
        agent.run(&shutdown).await?;
        Ok(ExitCode::SUCCESS)
    }
}

/// First SIGTERM or SIGINT: take no new job, let the running one go on for `grace`, then
/// interrupt it (it is recorded as failed). A second signal interrupts at once.
fn watch_signals(shutdown: &Shutdown, grace: std::time::Duration) -> anyhow::Result<()> {
    let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    // A reload sent to every Ferryman unit must not stop a backup: the agent reads its
    // configuration once, so it says how to apply a change instead.
    let mut hangup = signal(SignalKind::hangup()).context("cannot watch SIGHUP")?;
    tokio::spawn(async move {
        while hangup.recv().await.is_some() {
            tracing::warn!("SIGHUP: the agent has nothing to reload; restart it (`systemctl restart ferryman-agent@SERVER`) to apply a changed configuration: a running job is given `agent.shutdown-grace`");
        }
    });
    let shutdown = shutdown.clone();
    tokio::spawn(async move {
        let first = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        tracing::info!(
            signal = first,
            grace_s = grace.as_secs(),
            "stopping: no new jobs; a running job may go on for the grace period"
        );
        shutdown.stop.cancel();
        tokio::select! {
            _ = tokio::time::sleep(grace) => {
                tracing::warn!("grace period over: interrupting the running job");
            }
            _ = term.recv() => tracing::warn!("second signal: interrupting the running job"),
            _ = int.recv() => tracing::warn!("second signal: interrupting the running job"),
        }
        shutdown.interrupt.cancel();
    });
    Ok(())
}
