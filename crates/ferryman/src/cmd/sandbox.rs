//! `ferryman sandbox up|status|start|stop|restart|reinit|down|destroy|load`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use ferryman_sandbox::{load, Sandbox, UpOptions};

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
        /// Do not have the manager's scheduler verify each new backup: by default the
        /// configuration schedules verification every 15 s, so that a backup is test-restored
        /// within seconds of being stored. Only used when the sandbox is created.
        #[arg(long)]
        no_auto_verify: bool,
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
    /// Start one server if it is stopped; a replica then replicates again. The generated
    /// configuration's `service-start` runs this.
    Start(ServerArgs),
    /// Stop one server by PID (data kept). The generated configuration's `service-stop` runs
    /// this.
    Stop(ServerArgs),
    /// Stop then start one server. The generated configuration's `service-restart` runs this.
    Restart(ServerArgs),
    /// Replace a replica's data with an empty server, as a newly provisioned host would be; it
    /// replicates from no one until reseeded.
    Reinit(ServerArgs),
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

/// One server of a sandbox.
#[derive(Debug, clap::Args)]
pub struct ServerArgs {
    /// Sandbox directory.
    #[arg(long)]
    dir: PathBuf,
    /// Server name, e.g. db2.
    #[arg(long)]
    server: String,
}

impl SandboxCommand {
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        match self {
            SandboxCommand::Up {
                dir,
                replicas,
                no_auto_verify,
            } => {
                // The generated configuration's service commands run this very binary.
                let ferryman_bin = std::env::current_exe()
                    .inspect_err(|e| {
                        tracing::warn!(
                            error = %e,
                            "cannot find the ferryman binary's path: the configuration gets no service commands"
                        );
                    })
                    .ok();
                let options = UpOptions {
                    replicas,
                    ferryman_bin,
                    auto_verify: !no_auto_verify,
                };
                let sandbox = Sandbox::up_with(&dir, &options)
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
            SandboxCommand::Start(ServerArgs { dir, server }) => {
                let sandbox = Sandbox::open(&dir)?;
                let was_running = running_pid(&sandbox, &server);
                let pid = sandbox.start_server(&server).await.with_context(|| {
                    format!("cannot start {server} of the sandbox in {}", dir.display())
                })?;
                let what = if was_running.is_some() {
                    "was already running"
                } else {
                    "started"
                };
                output::line(&format!(
                    "{server} {what} (pid {pid}){}",
                    replicating(&sandbox, &server)
                ));
                Ok(ExitCode::SUCCESS)
            }
            SandboxCommand::Stop(ServerArgs { dir, server }) => {
                let sandbox = Sandbox::open(&dir)?;
                let was_running = running_pid(&sandbox, &server);
                sandbox.stop_server(&server).await.with_context(|| {
                    format!("cannot stop {server} of the sandbox in {}", dir.display())
                })?;
                output::line(&match was_running {
                    Some(pid) => format!("{server} stopped (was pid {pid})"),
                    None => format!("{server} was not running"),
                });
                Ok(ExitCode::SUCCESS)
            }
            SandboxCommand::Restart(ServerArgs { dir, server }) => {
                let sandbox = Sandbox::open(&dir)?;
                let pid = sandbox.restart_server(&server).await.with_context(|| {
                    format!(
                        "cannot restart {server} of the sandbox in {}",
                        dir.display()
                    )
                })?;
                output::line(&format!(
                    "{server} restarted (pid {pid}){}",
                    replicating(&sandbox, &server)
                ));
                Ok(ExitCode::SUCCESS)
            }
            SandboxCommand::Reinit(ServerArgs { dir, server }) => {
                let sandbox = Sandbox::open(&dir)?;
                let pid = sandbox.reinit_server(&server).await.with_context(|| {
                    format!("cannot reinit {server} of the sandbox in {}", dir.display())
                })?;
                output::line(&format!(
                    "{server} is an empty server now (pid {pid}), replicating from no one: \
                     reseed it with `ferryman reseed --config {} --cluster {} --server {server}`",
                    sandbox.config_path().display(),
                    sandbox.state().cluster,
                ));
                Ok(ExitCode::SUCCESS)
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

/// The PID of server `name` when it runs (`None` too for an unknown name: the command then
/// fails with the list of servers).
fn running_pid(sandbox: &Sandbox, name: &str) -> Option<u32> {
    sandbox.server(name).and_then(|spec| sandbox.pid(spec))
}

/// ", replicating" for a replica: `start_server` returns only once it replicates.
fn replicating(sandbox: &Sandbox, name: &str) -> &'static str {
    match sandbox.server(name) {
        Some(spec) if !spec.primary => ", replicating",
        _ => "",
    }
}
