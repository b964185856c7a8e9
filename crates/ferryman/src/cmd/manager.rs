//! `ferryman manager --config FILE`: the manager daemon and its HTTP API.

use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use ferryman_manager::{api, reload, Manager};
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

/// Arguments of `ferryman manager`.
#[derive(Debug, Args)]
pub struct ManagerArgs {
    #[command(flatten)]
    config: crate::config_file::ConfigFile,
}

impl ManagerArgs {
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        let config = crate::config_file::load(&self.config)?;
        for channel in config.plain_channels() {
            tracing::warn!("{channel}");
        }
        let shutdown = CancellationToken::new();
        watch_signals(&shutdown)?;
        // Taken now: from here on a SIGHUP reloads instead of ending the process.
        let hangup = signal(SignalKind::hangup()).context("cannot watch SIGHUP")?;
        // Bound first: a taken port is the likeliest start-up failure and costs nothing to find.
        let host = &config.manager.http_bind_address;
        let address = if host.contains(':') && !host.starts_with('[') {
            // An IPv6 literal needs brackets before the port.
            format!("[{host}]:{}", config.manager.http_port)
        } else {
            format!("{host}:{}", config.manager.http_port)
        };
        let listener = TcpListener::bind(&address).await.with_context(|| {
            format!("cannot listen on {address} for the HTTP API: is another manager running, or is the port taken? change `manager.http-port` in ferryman.toml")
        })?;
        let token = api::load_or_create_token(&config)?;
        // A certificate that cannot be used stops the start here, before any job runs.
        let tls = api::tls_acceptor(&config)?;
        let manager = Manager::start(config)
            .await
            .context("cannot start the manager")?;
        tokio::spawn(reload_on_hangup(
            hangup,
            manager.services(),
            self.config.to_path_buf(),
        ));
        let served = {
            let services = manager.services();
            let shutdown = shutdown.clone();
            tokio::spawn(async move {
                let result =
                    api::serve_with(services, listener, token, tls, shutdown.clone()).await;
                // The API only ends early on an error: a manager nobody can reach must stop
                // rather than run on unseen.
                shutdown.cancel();
                result
            })
        };
        let ran = manager.run(shutdown.clone()).await;
        shutdown.cancel();
        let served = served.await.context("the HTTP API task failed")?;
        ran.context("the manager failed")?;
        served?;
        Ok(ExitCode::SUCCESS)
    }
}

/// Each SIGHUP: the configuration file read again and its schedules and notifications applied
/// (`ferryman_manager::reload`); a file that does not load changes nothing.
async fn reload_on_hangup(
    mut hangup: tokio::signal::unix::Signal,
    services: std::sync::Arc<ferryman_manager::Services>,
    path: std::path::PathBuf,
) {
    while hangup.recv().await.is_some() {
        tracing::info!(file = %path.display(), "SIGHUP: reloading the configuration");
        let loaded = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || ferryman_config::Config::load(&path)).await
        };
        match loaded {
            Ok(Ok(config)) => {
                reload::apply(&services, config);
            }
            Ok(Err(e)) => reload::failed(&services, &e.to_string()),
            Err(e) => reload::failed(&services, &format!("the reload task failed: {e}")),
        }
    }
}

/// First SIGTERM or SIGINT: stop accepting, cancel running jobs, wait for them to clean up.
/// A second signal exits at once.
fn watch_signals(shutdown: &CancellationToken) -> anyhow::Result<()> {
    let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    let shutdown = shutdown.clone();
    tokio::spawn(async move {
        let first = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        tracing::info!(
            signal = first,
            "stopping: no new jobs, running jobs are cancelled"
        );
        shutdown.cancel();
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        tracing::warn!("second signal: exiting without waiting for running jobs");
        std::process::exit(1);
    });
    Ok(())
}
