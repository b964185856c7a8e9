//! `ferryman sandbox up|status|start|stop|restart|reinit|down|destroy|load`.
//!
//! Every command but `up` finds out from the directory which kind of sandbox it holds: a
//! Galera sandbox has `galera.json`, a plain one `sandbox.json`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use ferryman_sandbox::layout::Layout;
use ferryman_sandbox::{load, offsite, GaleraOptions, GaleraSandbox, Sandbox, UpOptions};

use crate::output;

/// Sandbox commands; every one takes the sandbox directory.
#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Start a primary and N replicas (created on first use), replicating with GTID, or with
    /// --galera one or two Galera clusters, and write DIR/ferryman.toml for that topology; on
    /// an existing sandbox, start what is stopped.
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
        #[arg(long, conflicts_with = "galera")]
        no_auto_verify: bool,
        /// A Galera sandbox instead: clusters of N nodes (1 to 9) running as user mysql,
        /// cluster alpha with nodes a1..aN (and beta with b1..bN).
        #[arg(long, value_name = "N", conflicts_with = "replicas",
              value_parser = clap::value_parser!(u8).range(1..=9))]
        galera: Option<u8>,
        /// With --galera: 1 cluster (alpha) or 2 (alpha and beta, beta's b1 replicating from
        /// alpha's a1 with GTIDs unless --no-link). Default 1.
        #[arg(long, requires = "galera", value_parser = clap::value_parser!(u8).range(1..=2))]
        clusters: Option<u8>,
        /// With --galera --clusters 2: do not link the clusters.
        #[arg(long, requires = "galera")]
        no_link: bool,
        /// With --galera --clusters 2: link them both ways (master-master): alpha's a1 also
        /// replicates from beta's b1, each side ignoring its own GTID domains, and both
        /// clusters' galera-link tables list the other's nodes.
        #[arg(long, requires = "clusters", conflicts_with = "no_link")]
        master_master: bool,
    },
    /// Show each server's PID, role, GTID position and replication state (a Galera node's
    /// cluster status, state, cluster size and index, and its replication if any).
    Status {
        /// Sandbox directory.
        #[arg(long)]
        dir: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Start one server if it is stopped; a replica then replicates again (a Galera node
    /// joins its cluster, or bootstraps it when no node runs). The generated configuration's
    /// `service-start` runs this.
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
    /// Start an S3 server for the sandbox (one-node Ceph and radosgw in DIR/s3, objects in
    /// memory) and add `[repositories.offsite]` to DIR/ferryman.toml (its secret key in
    /// DIR/secrets/s3.secret, 0600). A running one is restarted empty.
    S3Up {
        /// Sandbox directory.
        #[arg(long)]
        dir: PathBuf,
        /// Memory for objects, e.g. 1G or 8G.
        #[arg(long, default_value = "1G")]
        memory: String,
        /// Also set every cluster's backup-repositories to ["local", "offsite"]: backups are
        /// stored in the sandbox and copied to S3.
        #[arg(long)]
        copies: bool,
    },
    /// Stop the sandbox's S3 server (its objects are lost).
    S3Down {
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
    /// Server name, e.g. db2 (a Galera node: a1, b2, ...).
    #[arg(long)]
    server: String,
}

impl SandboxCommand {
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        if let Some(dir) = self.galera_dir() {
            return self.run_galera(dir).await;
        }
        match self {
            SandboxCommand::Up {
                dir,
                replicas,
                no_auto_verify,
                galera: None,
                ..
            } => {
                let options = UpOptions {
                    replicas,
                    ferryman_bin: ferryman_bin(),
                    auto_verify: !no_auto_verify,
                };
                let sandbox = Sandbox::up_with(&dir, &options)
                    .await
                    .with_context(|| format!("cannot bring up the sandbox in {}", dir.display()))?;
                output::sandbox_status(&sandbox, &sandbox.status().await, false)?;
                Ok(ExitCode::SUCCESS)
            }
            SandboxCommand::Up {
                dir,
                galera: Some(nodes),
                clusters,
                no_link,
                master_master,
                ..
            } => {
                let options = GaleraOptions {
                    nodes: usize::from(nodes),
                    clusters: usize::from(clusters.unwrap_or(1)),
                    link: !no_link,
                    master_master,
                    ferryman_bin: ferryman_bin(),
                };
                let sandbox = GaleraSandbox::up(&dir, &options).await.with_context(|| {
                    format!("cannot bring up the Galera sandbox in {}", dir.display())
                })?;
                output::galera_sandbox_status(&sandbox, &sandbox.status().await, false)?;
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
            SandboxCommand::S3Up {
                dir,
                memory,
                copies,
            } => s3_up(&dir, &memory, copies).await,
            SandboxCommand::S3Down { dir } => s3_down(&dir),
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

impl SandboxCommand {
    /// The directory of a command aimed at an existing Galera sandbox. `up` without --galera
    /// is included, so that it is refused with the reason instead of making a plain sandbox
    /// beside the Galera one.
    fn galera_dir(&self) -> Option<PathBuf> {
        let dir = match self {
            SandboxCommand::Up {
                galera: Some(_), ..
            }
            | SandboxCommand::S3Up { .. }
            | SandboxCommand::S3Down { .. } => return None,
            SandboxCommand::Up { dir, .. }
            | SandboxCommand::Status { dir, .. }
            | SandboxCommand::Down { dir }
            | SandboxCommand::Destroy { dir }
            | SandboxCommand::Load { dir, .. } => dir,
            SandboxCommand::Start(a)
            | SandboxCommand::Stop(a)
            | SandboxCommand::Restart(a)
            | SandboxCommand::Reinit(a) => &a.dir,
        };
        GaleraSandbox::is_galera(dir).then(|| dir.clone())
    }

    /// Every command but `up --galera` on a Galera sandbox.
    async fn run_galera(self, dir: PathBuf) -> anyhow::Result<ExitCode> {
        let sandbox = GaleraSandbox::open(&dir)?;
        match self {
            SandboxCommand::Status { json, .. } => {
                let reports = sandbox.status().await;
                output::galera_sandbox_status(&sandbox, &reports, json)?;
                Ok(if reports.iter().all(|r| r.synced()) {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                })
            }
            SandboxCommand::Start(ServerArgs { server, .. }) => {
                let was_running = sandbox.pid(&server);
                let pid = sandbox.start_node(&server).await.with_context(|| {
                    format!("cannot start {server} of the sandbox in {}", dir.display())
                })?;
                let what = if was_running.is_some() {
                    "was already running"
                } else {
                    "started"
                };
                output::line(&format!("{server} {what} (pid {pid}), Synced"));
                Ok(ExitCode::SUCCESS)
            }
            SandboxCommand::Stop(ServerArgs { server, .. }) => {
                let was_running = sandbox.pid(&server);
                sandbox.stop_node(&server).await.with_context(|| {
                    format!("cannot stop {server} of the sandbox in {}", dir.display())
                })?;
                output::line(&match was_running {
                    Some(pid) => format!("{server} stopped (was pid {pid})"),
                    None => format!("{server} was not running"),
                });
                Ok(ExitCode::SUCCESS)
            }
            SandboxCommand::Restart(ServerArgs { server, .. }) => {
                let pid = sandbox.restart_node(&server).await.with_context(|| {
                    format!(
                        "cannot restart {server} of the sandbox in {}",
                        dir.display()
                    )
                })?;
                output::line(&format!("{server} restarted (pid {pid}), Synced"));
                Ok(ExitCode::SUCCESS)
            }
            SandboxCommand::Down { .. } => {
                sandbox.down().await.context("cannot stop the sandbox")?;
                output::line(&format!("sandbox in {} stopped", sandbox.dir().display()));
                Ok(ExitCode::SUCCESS)
            }
            SandboxCommand::Destroy { .. } => {
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
            SandboxCommand::Reinit(_) => anyhow::bail!(
                "`sandbox reinit` replaces a replica of a plain sandbox; a Galera node with lost \
                 data is rebuilt by its cluster: stop it, delete its data directory, then start \
                 it (`ferryman sandbox start --dir {} --server NAME`) and it joins by SST",
                dir.display()
            ),
            SandboxCommand::S3Up {
                dir,
                memory,
                copies,
            } => s3_up(&dir, &memory, copies).await,
            SandboxCommand::S3Down { dir } => s3_down(&dir),
            SandboxCommand::Load { .. } => anyhow::bail!(
                "`sandbox load` fills the primary of a plain sandbox; the sandbox in {} is a \
                 Galera sandbox: run sysbench against one of its nodes instead",
                dir.display()
            ),
            SandboxCommand::Up { .. } => {
                Err(ferryman_sandbox::Error::GaleraSandboxExists { dir }.into())
            }
        }
    }
}

/// `sandbox s3-up`.
async fn s3_up(dir: &std::path::Path, memory: &str, copies: bool) -> anyhow::Result<ExitCode> {
    let memory = load::parse_size(memory)?;
    let layout = Layout::new(dir);
    let info = offsite::up(&layout, memory, copies).await?;
    output::line(&format!(
        "S3 server up: {} bucket {} (access key {}, secret key in {}); repository `{}` added \
         to {}{}",
        info.endpoint,
        info.bucket,
        info.access_key,
        info.secret_file.display(),
        offsite::REPOSITORY,
        layout.config_file().display(),
        if copies {
            ", every cluster copies its backups there"
        } else {
            ""
        }
    ));
    Ok(ExitCode::SUCCESS)
}

/// `sandbox s3-down`.
fn s3_down(dir: &std::path::Path) -> anyhow::Result<ExitCode> {
    offsite::down(&Layout::new(dir));
    output::line("S3 server stopped (its objects are gone)");
    Ok(ExitCode::SUCCESS)
}

/// The `ferryman` binary, for the generated configuration's service commands.
fn ferryman_bin() -> Option<PathBuf> {
    std::env::current_exe()
        .inspect_err(|e| {
            tracing::warn!(
                error = %e,
                "cannot find the ferryman binary's path: the configuration gets no service commands"
            );
        })
        .ok()
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
