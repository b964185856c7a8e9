//! On-premise orchestration (replication-manager's `onpremise-ssh`): for a server with
//! `onpremise-ssh = true`, right after its job row is written, the manager runs the node's
//! agent once over SSH (`ferryman agent --once ...`, or for a `legacy-donor` the donor script
//! piped to `bash -s`), in the job's span, on the manager's task tracker.
//!
//! The job's own watch (`node_job.rs`) stays the judge of success: the stream's arrival, the
//! row's outcome. This module only tells it how the run ended ([`Launch::ended`]): a run that
//! failed (a refused host key or login, no route, no such command) before its row was taken
//! fails the job at once, with ssh's words and the next step, and the row is cancelled,
//! instead of waiting for `job-claim-timeout`. The run is stopped (ssh killed by PID) when the
//! job is cancelled (by request, or by the manager's shutdown), when the manager shuts down
//! after the job ended, and [`LINGER`] after the job ended if it still runs.
//!
//! Such a server has no resident agent: `agents.rs` never calls it silent.
//!
//! # Layout
//! - `ssh.rs`: the OpenSSH client run (options, password through the askpass, remote quoting).

pub mod ssh;

use std::time::Duration;

use ferryman_config::{ClusterConfig, OnPremiseSsh, ServerConfig};
use ferryman_proto::Task;
use tokio::sync::watch;
use tokio_util::sync::{CancellationToken, DropGuard};

pub use ssh::{Exit, Remote, Target};

use crate::registry::JobHandle;
use crate::Services;

/// How long a run may go on after its job ended (the agent recording its outcome, a donor
/// script's other tasks) before it is stopped.
pub const LINGER: Duration = Duration::from_secs(120);
/// How many of ssh's last stderr lines a failure quotes.
const STDERR_LINES: usize = 4;

/// How a run over SSH ended, as the job's watch sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// The remote command exited with 0.
    Succeeded,
    /// It did not run, or failed: why, with the next step.
    Failed(String),
}

/// One run over SSH for one node job; dropping it (the job ended) lets the run go on for at
/// most [`LINGER`].
#[derive(Debug)]
pub struct Launch {
    ended: watch::Receiver<Option<Ended>>,
    _job_over: DropGuard,
}

impl Launch {
    /// How the run ended, once it has.
    pub fn ended(&self) -> Option<Ended> {
        self.ended.borrow().clone()
    }
}

/// What a run needs to know of its job.
#[derive(Debug, Clone)]
pub struct JobInfo {
    /// The cluster's name.
    pub cluster: String,
    /// The node job's id.
    pub node_job_id: u64,
    /// Its task.
    pub task: Task,
    /// The manager's address the streams go to (`monitoring-address`).
    pub manager_address: String,
}

/// Starts the run for the row `info` of `server` (which has `onpremise-ssh`).
pub(crate) fn launch(
    services: &Services,
    job: &JobHandle,
    cluster: &ClusterConfig,
    server: &ServerConfig,
    ssh: &OnPremiseSsh,
    task: Task,
    node_job_id: u64,
) -> Launch {
    let info = JobInfo {
        cluster: cluster.name.clone(),
        node_job_id,
        task,
        manager_address: services.config.manager.monitoring_address.clone(),
    };
    let target = Target {
        host: server.host.clone(),
        settings: ssh.clone(),
        askpass: askpass_program(),
        scratch: services.config.manager.monitoring_datadir.join("ssh"),
    };
    let remote = remote(server, ssh, &info);
    let (tx, ended) = watch::channel(None);
    let job_over = CancellationToken::new();
    let over = job_over.clone();
    let cancelled = job.cancelled().clone();
    let stopping = services.stopping.clone();
    let server_name = server.name.clone();
    services.spawn(tracing::Span::current(), async move {
        let stop = CancellationToken::new();
        let stopper = {
            let stop = stop.clone();
            async move {
                tokio::select! {
                    _ = cancelled.cancelled() => {}
                    _ = stopping.cancelled() => {}
                    _ = async { over.cancelled().await; tokio::time::sleep(LINGER).await } => {}
                }
                stop.cancel();
            }
        };
        let run = target.run(&remote, &stop);
        tokio::pin!(run);
        let result = tokio::select! {
            r = &mut run => r,
            _ = stopper => run.await,
        };
        let outcome = judge(&server_name, &target, &result);
        match &outcome {
            Ended::Succeeded => tracing::info!(server = %server_name, "the run over ssh ended"),
            Ended::Failed(why) => {
                tracing::warn!(server = %server_name, error = %why, "the run over ssh failed")
            }
        }
        if let Ok(exit) = &result {
            tracing::debug!(server = %server_name, stdout = %exit.stdout, "the run's output");
        }
        tx.send_replace(Some(outcome));
    });
    Launch {
        ended,
        _job_over: job_over.drop_guard(),
    }
}

/// What runs on the host for `server`'s row.
pub fn remote(server: &ServerConfig, ssh: &OnPremiseSsh, info: &JobInfo) -> Remote {
    match (&ssh.db_job_script, server.legacy_donor) {
        (Some(path), true) => Remote::Script {
            path: path.clone(),
            exports: vec![
                ("CLUSTER_NAME".to_owned(), info.cluster.clone()),
                ("HOST_NAME".to_owned(), server.host.clone()),
                ("HOST_PORT".to_owned(), server.port.to_string()),
                (
                    "REPLICATION_MANAGER_ADDR".to_owned(),
                    info.manager_address.clone(),
                ),
                ("FERRYMAN_SERVER".to_owned(), server.name.clone()),
                ("FERRYMAN_JOB_ID".to_owned(), info.node_job_id.to_string()),
                ("FERRYMAN_TASK".to_owned(), info.task.to_string()),
            ],
        },
        _ => Remote::Command(ssh.agent_command.clone()),
    }
}

/// The run's end, judged: a failure says what ssh said and what to do.
pub fn judge(server: &str, target: &Target, result: &Result<Exit, String>) -> Ended {
    let exit = match result {
        Ok(exit) if exit.success() => return Ended::Succeeded,
        Ok(exit) => exit,
        Err(e) => return Ended::Failed(format!("ssh to `{server}` could not run: {e}")),
    };
    let said = ferryman_exec::command::tail(&exit.stderr, STDERR_LINES);
    let s = &target.settings;
    let host = &target.host;
    let next = if exit.stopped {
        "it was stopped (the job was cancelled or ended)".to_owned()
    } else if said.contains("Host key verification failed")
        || said.contains("HOST IDENTIFICATION HAS CHANGED")
        || said.contains("host key is known")
    {
        format!(
            "the host's key is not the one pinned in `{}`: if the host is the right one, add \
             its key with `ssh-keyscan -p {} {host} >> {}` (compare the fingerprint with \
             `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the host), or set \
             `onpremise-ssh-accept-new-host-key = true` to pin it at the first connection",
            s.known_hosts.display(),
            s.port,
            s.known_hosts.display()
        )
    } else if said.contains("Permission denied") || said.contains("Too many authentication") {
        format!(
            "the login as `{}` was refused: check `onpremise-ssh-credential`{}",
            s.credential.user,
            match (&s.credential.password, &s.private_key) {
                (Some(_), _) =>
                    " (its password; the host's sshd must allow PasswordAuthentication)".to_owned(),
                (None, Some(key)) => format!(
                    " and `onpremise-ssh-private-key` ({}: its public key must be in the user's \
                     authorized_keys on the host)",
                    key.display()
                ),
                (None, None) =>
                    " (a key login with the manager user's default keys or ssh-agent)".to_owned(),
            }
        )
    } else if exit.code == Some(255) {
        format!(
            "check that sshd listens on {host}:{} (`onpremise-ssh-port`) and that the manager \
             can reach it",
            s.port
        )
    } else if exit.code == Some(127) {
        "the command was not found on the host: check `onpremise-ssh-agent-command` (is \
         ferryman installed there, on the remote user's PATH?)"
            .to_owned()
    } else {
        "the command on the host failed: see its words above, and the agent's log on the host"
            .to_owned()
    };
    let how = match exit.code {
        Some(code) => format!("exit code {code}"),
        None => "killed".to_owned(),
    };
    let said = if said.is_empty() {
        String::new()
    } else {
        format!(": {said}")
    };
    Ended::Failed(format!(
        "ssh to `{server}` ({}@{host}:{}) failed ({how}){said}; {next}",
        s.credential.user, s.port
    ))
}

/// `ferryman ssh-askpass`: this very binary (the manager runs as `ferryman manager`).
fn askpass_program() -> std::path::PathBuf {
    std::env::current_exe().unwrap_or_else(|_| "/usr/bin/ferryman".into())
}
