//! Errors of the node agent. A task's error becomes its job's `result`, so every message says
//! what happened and what the DBA can do about it, in one line.

use std::path::PathBuf;
use std::process::ExitStatus;

use ferryman_proto::Task;

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong in the agent or in one of its tasks.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The TLS handshake with a receiver failed.
    #[error("the TLS handshake with the receiver at {address} failed ({detail}); the receiver's certificate must be issued by `agent.tls-ca-file` and name the row's `server`, and the manager must have `manager.tls-cert-file`: compare them with `ferryman config check` on both hosts")]
    Handshake {
        /// `host:port`.
        address: String,
        /// rustls' reason.
        detail: String,
    },
    /// The agent's certificate, key or CA file cannot be used (`agent.tls-*`).
    #[error(transparent)]
    Tls(#[from] ferryman_tls::Error),
    /// `--server` names no server of the configuration.
    #[error("no server named `{server}` in the configuration; known servers: {known}; check `--server` and the [[clusters.NAME.servers]] tables")]
    UnknownServer {
        /// The name given.
        server: String,
        /// Every configured server name.
        known: String,
    },

    /// The jobs table could not be read or written.
    #[error(transparent)]
    Jobs(#[from] ferryman_jobs::Error),

    /// A statement on the database server failed.
    #[error(transparent)]
    Db(#[from] ferryman_db::Error),

    /// An external program could not be found, started or run.
    #[error(transparent)]
    Exec(#[from] ferryman_exec::Error),

    /// A task that streams was given no receiver (`server` or `port` missing in the row).
    #[error("job {job_id} ({task}) names no receiver (server `{server}`, port {port}): the job row must say where to stream to; enqueue it again with both")]
    NoReceiver {
        /// The job.
        job_id: u64,
        /// Its task.
        task: Task,
        /// The `server` column, as found.
        server: String,
        /// The `port` column, as found.
        port: String,
    },

    /// A job row names a receiver this agent's configuration does not allow.
    #[error("job {job_id} ({task}) names the receiver {address}, which is not one this agent streams to (allowed: {allowed}); nothing was sent: a row written by someone other than the manager must not get a copy of this server's data; if {address} is your manager, list it in `agent.stream-destinations`")]
    ForbiddenReceiver {
        /// The job.
        job_id: u64,
        /// Its task.
        task: Task,
        /// `host:port` from the row.
        address: String,
        /// The allowed destinations.
        allowed: String,
    },

    /// The job's token column does not hold a Ferryman stream token.
    #[error("job {job_id} carries a token that is not a Ferryman stream token ({source}); enqueue it again through the manager, or without a token for a raw stream")]
    BadToken {
        /// The job.
        job_id: u64,
        /// Why the token was refused.
        #[source]
        source: ferryman_proto::Error,
    },

    /// A backup row's `params` ask for something this agent cannot do.
    #[error("job {job_id}'s parameters cannot be used ({detail})")]
    BadParams {
        /// The job.
        job_id: u64,
        /// Why (the proto error says what to do).
        detail: String,
    },

    /// The receiver could not be reached before the deadline.
    #[error("cannot connect to the receiver at {address} within {seconds} s: {source}; check that the manager (or the legacy listener) runs and accepts connections from this host, then enqueue the job again")]
    Connect {
        /// `host:port`.
        address: String,
        /// How long we tried.
        seconds: u64,
        /// The last connection error.
        #[source]
        source: std::io::Error,
    },

    /// The receiver went away while we were sending.
    #[error("the receiver at {address} stopped taking the stream after {sent}: {source}; check the manager's log for why it closed the connection, then enqueue the job again")]
    SendFailed {
        /// `host:port`.
        address: String,
        /// How much had been sent, human-readable.
        sent: String,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },

    /// Reading what a tool or file produced failed.
    #[error("cannot read {what}: {source}")]
    Read {
        /// What was being read.
        what: String,
        /// The reason.
        #[source]
        source: std::io::Error,
    },

    /// A tool exited with an error.
    #[error("`{tool}` failed ({status}){}{}", tail_suffix(.stderr_tail), log_suffix(.log))]
    ToolFailed {
        /// The tool's name.
        tool: String,
        /// How it exited.
        status: ExitStatus,
        /// Its last stderr lines.
        stderr_tail: String,
        /// Where its whole stderr was saved.
        log: Option<PathBuf>,
    },

    /// A tool exited 0 but without saying that it completed, so its output cannot be trusted.
    #[error("`{tool}` exited without reporting success ({detail}){}{}", tail_suffix(.stderr_tail), log_suffix(.log))]
    ToolIncomplete {
        /// The tool's name.
        tool: String,
        /// What was missing.
        detail: String,
        /// Its last stderr lines.
        stderr_tail: String,
        /// Where its whole stderr was saved.
        log: Option<PathBuf>,
    },

    /// The server has `agent-api-port` but the agent has no token to check requests with.
    #[error("`{server}` has `agent-api-port` but `agent.api-token-file` is not set: copy the manager's API token (`manager.api-token-file`, or the `api.token` in its monitoring-datadir) to a 0600 file on this host and name it in `agent.api-token-file`, or remove `agent-api-port`")]
    ApiTokenMissing {
        /// The served server.
        server: String,
    },

    /// The API's token file cannot be used.
    #[error("cannot read the agent's API token from {}: {reason}; the file must be a non-empty regular file of mode 0600 holding the manager's API token", path.display())]
    ApiToken {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },

    /// The API's port cannot be listened on.
    #[error("the agent's HTTP API cannot listen on {address}: {source}; check that no other program (nor a second agent) uses the server's `agent-api-port` and that `agent.api-bind-address` is an address of this host")]
    ApiBind {
        /// `address:port`.
        address: String,
        /// The reason.
        #[source]
        source: std::io::Error,
    },

    /// A file operation failed.
    #[error("cannot {action} `{}`: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The reason.
        #[source]
        source: std::io::Error,
    },

    /// A statement on the served server failed.
    #[error("`{server}`: cannot {action}: {source}")]
    Sql {
        /// Server name.
        server: String,
        /// What we were doing.
        action: String,
        /// The server's reason.
        #[source]
        source: Box<ferryman_db::mysql_async::Error>,
    },

    /// The server is configured in a way the task cannot work with.
    #[error("`{server}`: {problem}; {next_step}")]
    Unsuitable {
        /// Server name.
        server: String,
        /// What is wrong.
        problem: String,
        /// What to do.
        next_step: String,
    },

    /// The task needs a configuration key that is not set.
    #[error("`{server}` has no `{key}` configured, which the `{task}` task needs; set it in the server's table of ferryman.toml")]
    NotConfigured {
        /// Server name.
        server: String,
        /// The task.
        task: Task,
        /// The missing key.
        key: &'static str,
    },

    /// This agent does not run this task yet.
    #[error("this Ferryman agent does not run `{task}` jobs yet ({reason}); run it by hand, or remove it from `agent.tasks` so such jobs stay pending for another runner")]
    Unsupported {
        /// The task.
        task: Task,
        /// Why.
        reason: &'static str,
    },

    /// A reseed row lacks what the joiner needs (port, token, params), or holds something it
    /// cannot use.
    #[error("job {job_id} ({task}) cannot be run: {problem}; reseed rows are written by the manager (port, token and params): start the reseed again through it")]
    ReseedRow {
        /// The job.
        job_id: u64,
        /// Its task.
        task: Task,
        /// What is missing or wrong.
        problem: String,
    },

    /// The joiner could not listen on the job's port.
    #[error("cannot listen on {address} for the reseed stream: {source}; the port comes from the cluster's `scheduler-db-servers-receiver-ports`: check that no other program (nor a second agent on this host) uses it and that `agent.joiner-bind-address` is an address of this host, then start the reseed again")]
    JoinerBind {
        /// `host:port`.
        address: String,
        /// The reason.
        #[source]
        source: std::io::Error,
    },

    /// No stream carrying the job's token arrived in time.
    #[error("no reseed stream with this job's token arrived on {address} within {seconds} s (`agent.joiner-accept-timeout`){refused}; check the manager's log, and that it can reach this host on that port (firewall), then start the reseed again")]
    JoinerTimeout {
        /// `host:port` listened on.
        address: String,
        /// How long we waited.
        seconds: u64,
        /// `: 2 connections refused (…)` when some came with a bad header, else empty.
        refused: String,
    },

    /// The reseed payload could not be received whole (cut, damaged, unreadable).
    #[error(transparent)]
    Payload(ferryman_proto::Error),

    /// The private server a logical reseed imports into failed (to install, start, import or
    /// shut down cleanly).
    #[error("the import server (a private mariadbd on `{}`, next to the datadir) {what}; its log ends: {log_tail}; nothing was restored: check that the server's option file suits a second instance (page size, paths) and that the disk has room, then start the reseed again", staging.display())]
    ImportServer {
        /// Its datadir.
        staging: std::path::PathBuf,
        /// What went wrong.
        what: String,
        /// The last lines of its error log.
        log_tail: String,
    },

    /// A dump received for a logical reseed is not a complete one.
    #[error("the dump received {problem}; nothing was restored: take a new logical backup (or reseed with `physicalbackup`), then start the reseed again")]
    Dump {
        /// What is wrong with it.
        problem: String,
    },

    /// The reseeded server did not catch up with its primary.
    #[error("`{server}` did not catch up with its primary {primary}{why} ({detail}); check the replication error, the `replication-credential` of the cluster, and that the primary still has its binary logs from GTID {gtid}")]
    CatchUp {
        /// Server name.
        server: String,
        /// `host:port` of the primary.
        primary: String,
        /// ` within 3600 s (…)`, `: its SQL thread stopped`…
        why: String,
        /// Thread states, lag and errors.
        detail: String,
        /// The GTID replication started from.
        gtid: String,
    },

    /// A reseed failed; the message ends with the state the server was left in.
    #[error("`{server}`: {task} failed while {stage}: {cause}; {state}")]
    Reseed {
        /// Server name.
        server: String,
        /// The task.
        task: Task,
        /// What the joiner was doing (`receiving the backup`, `catching up`…).
        stage: std::borrow::Cow<'static, str>,
        /// Why.
        cause: Box<Error>,
        /// What the server was left with, and what to do by hand if anything.
        state: String,
    },

    /// An agent found a reseed its predecessor left mid-swap, and what happened then.
    #[error("{what}")]
    Recovered {
        /// What the dead agent was doing and what the agent that found it did.
        what: String,
    },

    /// The work was interrupted before it finished.
    #[error("interrupted after {elapsed}: {reason}; nothing was recorded as complete, enqueue the job again")]
    Interrupted {
        /// How long it had run, human-readable.
        elapsed: String,
        /// Why it was interrupted.
        reason: String,
    },
}

fn tail_suffix(tail: &str) -> String {
    if tail.is_empty() {
        String::new()
    } else {
        format!(": {tail}")
    }
}

fn log_suffix(log: &Option<PathBuf>) -> String {
    match log {
        Some(path) => format!(" (full log: {})", path.display()),
        None => String::new(),
    }
}

impl Error {
    /// An error of a statement run on the served server.
    pub(crate) fn sql(
        server: &str,
        action: impl Into<String>,
        source: ferryman_db::mysql_async::Error,
    ) -> Error {
        Error::Sql {
            server: server.to_owned(),
            action: action.into(),
            source: Box::new(source),
        }
    }

    /// A file operation's error, for `map_err`.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io {
            action,
            path,
            source,
        }
    }
}
