//! The tasks a job can ask for, one module per family, and what every task is given.
//!
//! A task is an `async fn(&TaskCtx) -> Result<String>`: the `Ok` text is the job's success
//! `result`, the error's message its failure `result`. Tasks never touch the jobs table: the
//! runner claims, reports progress and finishes (see `runner.rs`).
//!
//! - `physical.rs`: `mariabackup`, `xtrabackup` (xbstream to the receiver).
//! - `logical.rs`: `mysqldump`, `mydumper` (SQL, or a tar of mydumper's directory);
//!   `logical/head_tail.rs` keeps a dump's ends, `logical/coordinates.rs` reads its coordinates.
//! - `logs.rs`: `error`, `slowquery` (send, then rotate without losing a line);
//!   `logs/locate.rs` asks the server where the log is, `logs/rotation.rs` rotates it.
//! - `optimize.rs`: `optimize` (every non-system table, per-table outcome).
//! - `service.rs`: `stop`, `start`, `restart`, `zfssnapback` (configured commands, else a
//!   rollback to the newest snapshot of `snapshot-method`).
//! - `snapshot.rs`: `snapshot` (a consistent snapshot, then `snapshot-keep`).
//! - `reseed.rs`: the joiner of `reseed{mariabackup,xtrabackup}` and
//!   `flashback{mariabackup,xtrabackup}` (receive, prepare, swap the datadir, catch up).

pub(crate) mod job_rows;
mod logical;
pub(crate) mod logs;
mod optimize;
mod physical;
mod reseed;
pub(crate) mod service;
mod snapshot;

use std::path::{Path, PathBuf};
use std::time::Duration;

use ferryman_config::{AgentConfig, Credential, ServerConfig};
use ferryman_db::{Connection, Endpoint, Session};
use ferryman_exec::{ClientOptions, OptionFile, Program, Running, Streaming};
use ferryman_jobs::{Job, Schema};
use ferryman_proto::{StreamKind, Task};
use tokio_util::sync::CancellationToken;

use self::reseed::Restore;
use crate::destinations::Destinations;
use crate::progress::Progress;
use crate::sender::{Receiver, Stream};
use crate::tls::AgentTls;
use crate::Result;

pub(crate) use physical::galera::resync_left_desynced;
pub use physical::{backup_command, PhysicalTool};
pub use reseed::CRASH_AT_ENV;
pub(crate) use reseed::{
    forget_swap, interrupted_swaps, remove_unused_reseed_dirs, resolve_swap, swaps_dir, SwapRecord,
};

/// Everything a task may use.
#[derive(Debug)]
pub(crate) struct TaskCtx<'a> {
    /// The claimed row (receiver, token, params).
    pub job: &'a Job,
    /// The task, parsed.
    pub task: Task,
    /// The served server's configuration.
    pub server: &'a ServerConfig,
    /// How to log in to the served server (the cluster's `db-servers-credential`).
    pub endpoint: &'a Endpoint,
    /// A private scratch directory for this job (0700), removed when the job ends.
    pub scratch: &'a Path,
    /// Where tools' complete stderr logs are kept after the job (named in failure results).
    pub tool_logs: &'a Path,
    /// Where a reseed keeps its swap record (`work-dir/<server>/swaps`, 0700).
    pub swaps: &'a Path,
    /// The agent's directory for this server (`work-dir/<server>`, 0700): durable marks of
    /// what a dead agent must undo (a Galera node left desynced).
    pub work_dir: &'a Path,
    /// The receivers this agent may stream to.
    pub destinations: &'a Destinations,
    /// The agent's TLS for streams (`agent.tls-*`); `None`: plain TCP.
    pub tls: Option<&'a AgentTls>,
    /// Progress shared with the reporter.
    pub progress: &'a Progress,
    /// Cancelled when the job must stop (agent shutdown, job cancelled).
    pub cancel: &'a CancellationToken,
    /// How long to keep trying to reach the receiver.
    pub connect_timeout: Duration,
    /// The schema of the jobs table (`jobs.schema`), which backups leave out: restored
    /// elsewhere, its pending rows would run again.
    pub jobs_schema: &'a Schema,
    /// What a reseed's joiner needs besides the server.
    pub joiner: &'a JoinerSettings,
}

/// What a reseed's joiner needs besides the server: `[agent]` settings and the cluster's
/// replication credential.
#[derive(Debug, Clone)]
pub(crate) struct JoinerSettings {
    /// `agent.joiner-bind-address`: where to listen for the manager's stream.
    pub bind_address: String,
    /// `agent.joiner-accept-timeout`: how long to wait for it.
    pub accept_timeout: Duration,
    /// `agent.catch-up-timeout`: how long the reseeded server may take to catch up.
    pub catch_up_timeout: Duration,
    /// `agent.catch-up-max-lag`: the lag at or below which it has caught up.
    pub catch_up_max_lag: Duration,
    /// `agent.import-buffer-pool-mib`: the buffer pool of a logical reseed's import server.
    pub import_buffer_pool_mib: u32,
    /// The cluster's `replication-credential`, which the reseeded replica replicates as.
    pub replication: Credential,
    /// The key reseed rows are sealed with (`jobs.row-key-file`), or why it cannot be used
    /// (then every reseed row is refused with that reason; other tasks are not concerned).
    pub row_key: std::result::Result<ferryman_proto::RowKey, String>,
    /// The servers of the cluster (`host`, `port`): a reseed replicates only from one of them.
    pub cluster_servers: Vec<(String, u16)>,
}

impl JoinerSettings {
    /// The settings of an agent of a server of `cluster`: `[agent]`, the cluster's replication
    /// credential and servers, and the row key (read now).
    pub fn of(
        config: &ferryman_config::Config,
        cluster: &ferryman_config::ClusterConfig,
    ) -> JoinerSettings {
        let mut settings = JoinerSettings::new(&config.agent, &cluster.replication_credential);
        settings.row_key =
            ferryman_proto::RowKey::load(&config.jobs.row_key_file).map_err(|e| e.to_string());
        let reseeds = config.agent.tasks.iter().any(|t| t.replaces_data());
        if let (Err(e), true) = (&settings.row_key, reseeds) {
            tracing::warn!(error = %e, "reseed and flashback jobs will be refused until the row key can be read");
        }
        settings.cluster_servers = cluster
            .servers
            .iter()
            .map(|s| (s.host.clone(), s.port))
            .collect();
        settings
    }

    /// The settings of `agent` for a cluster replicating as `replication`, with no row key
    /// and no servers: see [`JoinerSettings::of`].
    pub fn new(agent: &AgentConfig, replication: &Credential) -> JoinerSettings {
        JoinerSettings {
            row_key: Err("no `jobs.row-key-file` was read".to_owned()),
            cluster_servers: Vec::new(),
            bind_address: agent.joiner_bind_address.clone(),
            accept_timeout: agent.joiner_accept_timeout,
            catch_up_timeout: agent.catch_up_timeout,
            catch_up_max_lag: agent.catch_up_max_lag,
            import_buffer_pool_mib: agent.import_buffer_pool_mib,
            replication: replication.clone(),
        }
    }

    /// Defaults with a `repl` user without password, for tests that run no reseed.
    #[cfg(test)]
    pub fn for_tests() -> JoinerSettings {
        JoinerSettings::new(
            &AgentConfig::default(),
            &Credential {
                user: "repl".to_owned(),
                password: None,
            },
        )
    }
}

/// The server's service as the service commands need it: a job's, or the API's.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Node<'a> {
    /// The served server's configuration (its service commands).
    pub server: &'a ServerConfig,
    /// How to log in to it (to tell whether it answers).
    pub endpoint: &'a Endpoint,
    /// Where the steps are shown.
    pub progress: &'a Progress,
}

impl TaskCtx<'_> {
    /// The server's service, for the service commands.
    pub(crate) fn node(&self) -> Node<'_> {
        Node {
            server: self.server,
            endpoint: self.endpoint,
            progress: self.progress,
        }
    }

    /// The job's receiver, when the configuration allows it.
    pub fn receiver(&self, kind: StreamKind) -> Result<Receiver> {
        let receiver = Receiver::of_job(self.job, self.task, kind)?
            .over(self.tls.cloned())
            .from_host(&self.server.host);
        self.destinations.check(self.job, self.task)?;
        Ok(receiver)
    }

    /// Connects to the job's receiver (retrying until `connect-timeout`).
    pub async fn connect(&self, kind: StreamKind) -> Result<Stream> {
        self.receiver(kind)?
            .connect(self.connect_timeout, self.cancel, self.progress)
            .await
    }

    /// A 0600 `[client]` option file with the credential, in the scratch directory, for a
    /// tool's `--defaults-extra-file` (removed when dropped, and with the scratch directory).
    pub fn option_file(&self) -> Result<OptionFile> {
        let password = self.endpoint.password.as_ref().map(|p| p.expose_secret());
        let ssl = ferryman_db::ssl::option_lines(&self.endpoint.ssl);
        Ok(OptionFile::create(
            self.scratch,
            &ClientOptions {
                user: Some(&self.endpoint.user),
                password,
                host: Some(&self.endpoint.host),
                port: Some(self.endpoint.port),
                socket: None,
                ssl: &ssl,
            },
        )?)
    }

    /// Where `tool`'s complete stderr is kept for this job.
    pub fn tool_log(&self, tool: &str) -> PathBuf {
        self.tool_logs
            .join(format!("job-{}-{}-{tool}.log", self.job.id.0, self.task))
    }

    /// Starts `program` with `args` the way every task runs a tool: in the scratch directory,
    /// stdout piped, its whole stderr kept in [`TaskCtx::tool_log`]`(log_name)` (returned, for
    /// failure messages), in its own process group (a Ctrl-C to the agent's terminal must not
    /// kill the tool behind the runner's back: the runner decides).
    pub fn spawn_tool<I, S>(
        &self,
        program: &Program,
        log_name: &str,
        args: I,
    ) -> Result<(Running, PathBuf)>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.spawn_tool_with(program, log_name, args, false)
    }

    /// [`TaskCtx::spawn_tool`], with a pipe on stdin when `stdin` (take it with
    /// [`Running::take_stdin`]; dropping it is the tool's end-of-file).
    pub fn spawn_tool_with<I, S>(
        &self,
        program: &Program,
        log_name: &str,
        args: I,
        stdin: bool,
    ) -> Result<(Running, PathBuf)>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let log = self.tool_log(log_name);
        let running = program
            .command()
            .args(args)
            .current_dir(self.scratch)
            .spawn_streaming(&Streaming {
                stdin,
                stderr_log: Some(log.clone()),
                own_process_group: true,
            })?;
        Ok((running, log))
    }

    /// A plain SQL session on the served server.
    pub async fn sql(&self) -> Result<Connection> {
        Ok(self.endpoint.connect(Session::Plain).await?)
    }

    /// A session whose statements are not binary-logged (maintenance that must stay local).
    pub async fn sql_no_binlog(&self) -> Result<Connection> {
        Ok(self.endpoint.connect(Session::NoBinlog).await?)
    }
}

/// Runs the job's task. The `Ok` text is the success result.
pub(crate) async fn run(ctx: &TaskCtx<'_>) -> Result<String> {
    match ctx.task {
        Task::Mariabackup => physical::run(ctx, PhysicalTool::Mariabackup).await,
        Task::Xtrabackup => physical::run(ctx, PhysicalTool::Xtrabackup).await,
        Task::Mysqldump => logical::mysqldump(ctx).await,
        Task::Mydumper => logical::mydumper(ctx).await,
        Task::Error => logs::run(ctx, logs::LogKind::Error).await,
        Task::Slowquery => logs::run(ctx, logs::LogKind::Slow).await,
        Task::Optimize => optimize::run(ctx).await,
        Task::Stop | Task::Start | Task::Restart => service::run(ctx).await,
        Task::Zfssnapback => service::zfs_snapback(ctx).await,
        Task::Snapshot => snapshot::run(ctx).await,
        Task::Snapshotsend => snapshot::send(ctx).await,
        Task::Reseedsnapshot => reseed::run(ctx, Restore::Snapshot).await,
        Task::Reseedmariabackup | Task::Flashbackmariabackup => {
            reseed::run(ctx, Restore::Physical(PhysicalTool::Mariabackup)).await
        }
        Task::Reseedxtrabackup | Task::Flashbackxtrabackup => {
            reseed::run(ctx, Restore::Physical(PhysicalTool::Xtrabackup)).await
        }
        Task::Reseedmysqldump | Task::Flashbackmysqldump => {
            reseed::run(ctx, Restore::Logical).await
        }
        Task::Reseedmydumper | Task::Flashbackmydumper => reseed::run(ctx, Restore::Mydumper).await,
    }
}

/// Reads a tool's stdout to nowhere, so it never blocks on a full pipe; the task runs in the
/// caller's span (the job's) and ends with the tool. The caller awaits it once the tool exited.
pub(crate) fn drain_stdout(running: &mut Running) -> Option<tokio::task::JoinHandle<()>> {
    use tracing::Instrument;
    running.take_stdout().map(|mut out| {
        tokio::spawn(
            async move {
                let _ = tokio::io::copy(&mut out, &mut tokio::io::sink()).await;
            }
            .instrument(tracing::Span::current()),
        )
    })
}
