//! Errors of the manager. A job's error is shown by the API and the CLI, so every message says
//! what happened and what to do next.

use ferryman_proto::Task;

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong in the manager.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The key that seals reseed rows cannot be read or created.
    #[error("{0}")]
    RowKey(ferryman_proto::SealError),

    /// The jobs table of a server could not be used.
    #[error(transparent)]
    Jobs(#[from] ferryman_jobs::Error),

    /// A statement on a server failed.
    #[error(transparent)]
    Db(#[from] ferryman_db::Error),

    /// The repository failed.
    #[error(transparent)]
    Repo(#[from] ferryman_repo::Error),

    /// A verification could not be carried out (not a failed check: those are results).
    #[error(transparent)]
    Verify(Box<ferryman_verify::Error>),

    /// A verification request names nothing to verify.
    #[error("nothing to verify: {detail}")]
    NothingToVerify {
        /// Why, and what to do.
        detail: String,
    },

    /// The metrics could not be written out.
    #[error("cannot encode the metrics: {0}")]
    Metrics(String),

    /// A per-job token could not be generated.
    #[error("cannot generate a stream token: {0}")]
    Token(#[from] ferryman_proto::Error),

    /// A listener could not be opened.
    #[error("cannot listen on {address}: {source}; is another manager running, or is the port taken? change `{key}` in ferryman.toml")]
    Listen {
        /// `host:port`.
        address: String,
        /// The configuration key.
        key: &'static str,
        /// The reason.
        #[source]
        source: std::io::Error,
    },

    /// A host name could not be resolved.
    #[error("cannot resolve `{host}`: {source}; check the server's `host` in ferryman.toml")]
    Resolve {
        /// The name.
        host: String,
        /// The reason.
        #[source]
        source: std::io::Error,
    },

    /// A certificate or key of `manager.tls-*` cannot be used.
    #[error(transparent)]
    Tls(#[from] ferryman_tls::Error),

    /// The manager refused the stream of a job's agent (a plain stream where TLS is required,
    /// a certificate of another server), and the job then ended.
    #[error("the manager refused the stream of server `{server}`'s agent: {reason}; then: {then}")]
    StreamRefused {
        /// The server.
        server: String,
        /// Why the stream was refused.
        reason: String,
        /// How the job ended.
        then: String,
    },

    /// A legacy donor job needs a port but the cluster has no pool.
    #[error("cluster `{cluster}` has legacy donors but no `scheduler-db-servers-sender-ports`: set a pool of ports for their streams")]
    NoLegacyPort {
        /// The cluster.
        cluster: String,
    },

    /// Every port of the pool is in use or cannot be bound.
    #[error("no free port in cluster `{cluster}`'s `scheduler-db-servers-sender-ports` ({detail}); wait for running jobs or widen the pool")]
    LegacyPortBusy {
        /// The cluster.
        cluster: String,
        /// The last bind error.
        detail: String,
    },

    /// A stream ended, but the node's outcome will not come (its agent died, or it took too
    /// long, or its row cannot be read): nothing of the stream is kept.
    #[error("{detail}")]
    NoOutcome {
        /// What happened, and what it means.
        detail: String,
    },

    /// Unknown cluster, server or repository in a request.
    #[error("{what} `{name}` is not in the configuration; known: {known}")]
    Unknown {
        /// `cluster`, `server` or `repository`.
        what: &'static str,
        /// The name asked for.
        name: String,
        /// What exists.
        known: String,
    },

    /// No server of the cluster can take a backup now.
    #[error("no server of cluster `{cluster}` can be backed up now: {detail}")]
    NoBackupSource {
        /// The cluster.
        cluster: String,
        /// Why each candidate was passed over.
        detail: String,
    },

    /// More than one server of the cluster replicates from no one.
    #[error("cluster `{cluster}` has a split topology: {servers} replicate from no one, so which one is the primary cannot be told and a backup of the wrong one would be stored as good; no backup is taken: find the real primary, then reseed the others from it (`ferryman reseed --cluster {cluster} --server NAME`) or point their replication at it")]
    SplitTopology {
        /// The cluster.
        cluster: String,
        /// The servers that replicate from no one.
        servers: String,
    },

    /// No agent took the job in time.
    #[error("no agent took job {node_job_id} ({task}) on `{server}` within {seconds} s: is `ferryman agent --server {server}` (or the donor script) running on its host? the job was cancelled")]
    NotClaimed {
        /// The server.
        server: String,
        /// Node job id.
        node_job_id: u64,
        /// The task.
        task: Task,
        /// How long we waited.
        seconds: u64,
    },

    /// The stream never came.
    #[error("job {node_job_id} ({task}) on `{server}`: no stream arrived within {seconds} s; check the agent's log on that host")]
    NoStream {
        /// The server.
        server: String,
        /// Node job id.
        node_job_id: u64,
        /// The task.
        task: Task,
        /// How long we waited.
        seconds: u64,
    },

    /// The agent reported failure.
    #[error("job {node_job_id} ({task}) on `{server}` failed on the node: {result}")]
    NodeFailed {
        /// The server.
        server: String,
        /// Node job id.
        node_job_id: u64,
        /// The task.
        task: Task,
        /// The node's result text.
        result: String,
    },

    /// The run of the node's agent over SSH failed before the job was taken (`onpremise-ssh`).
    #[error("job {node_job_id} ({task}) on `{server}` was cancelled: {detail}")]
    OnPremiseSsh {
        /// The server.
        server: String,
        /// Node job id.
        node_job_id: u64,
        /// The task.
        task: Task,
        /// ssh's words and the next step.
        detail: String,
    },

    /// The agent stopped reporting.
    #[error("job {node_job_id} ({task}) on `{server}`: the agent stopped reporting ({detail}); check that it still runs")]
    AgentSilent {
        /// The server.
        server: String,
        /// Node job id.
        node_job_id: u64,
        /// The task.
        task: Task,
        /// What we saw.
        detail: String,
    },

    /// The job id counter could not be read or written.
    #[error("cannot keep the job id counter {path}: {source}; check that the manager may write to `manager.monitoring-datadir`")]
    JobIds {
        /// The counter's file.
        path: std::path::PathBuf,
        /// The reason.
        #[source]
        source: std::io::Error,
    },

    /// The job id counter holds something else than a number.
    #[error("the job id counter {path} holds `{content}`, not a number: write into it a number above every job id this manager has shown (e.g. 1000000), or remove it if ids may start again at 1")]
    JobIdsCorrupt {
        /// The counter's file.
        path: std::path::PathBuf,
        /// What it holds (its start).
        content: String,
    },

    /// A user cancelled the job.
    #[error("cancelled by request")]
    Cancelled,

    /// A reseed or flashback the manager will not start; the message says why and what to do.
    #[error("{0}")]
    Refused(String),

    /// The reseed stream to a joiner failed.
    #[error("reseed of `{server}`: {detail}")]
    Reseed {
        /// The joiner.
        server: String,
        /// What happened and what to do.
        detail: String,
    },
}
