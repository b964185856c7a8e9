//! Errors of the sandbox.

use std::path::PathBuf;

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong with a sandbox.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An external program is missing or failed.
    #[error(transparent)]
    Exec(#[from] ferryman_exec::Error),
    /// A server could not be installed, started or stopped.
    #[error(transparent)]
    Mariadbd(#[from] ferryman_mariadbd::Error),
    /// Talking to a sandbox server failed.
    #[error(transparent)]
    Db(#[from] ferryman_db::Error),
    /// A file of the sandbox could not be read or written.
    #[error("cannot {action} `{}`: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The directory is not a sandbox (no `sandbox.json`).
    #[error("`{}` is not a sandbox (no sandbox.json): create one with `ferryman sandbox up --dir {}`", dir.display(), dir.display())]
    NotASandbox {
        /// The directory.
        dir: PathBuf,
    },
    /// `sandbox.json` could not be understood.
    #[error("cannot read sandbox state `{}`: {detail}; if the sandbox is unusable, remove the directory", path.display())]
    BadState {
        /// The state file.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// `up` asked for a different topology than the existing sandbox has.
    #[error("the sandbox at `{}` has {existing} replica(s), not {requested}: run `ferryman sandbox destroy --dir {}` first or pick another --dir", dir.display(), dir.display())]
    TopologyMismatch {
        /// The sandbox directory.
        dir: PathBuf,
        /// Replicas it has.
        existing: usize,
        /// Replicas requested.
        requested: usize,
    },
    /// A server name that the sandbox does not have.
    #[error("the sandbox at `{}` has no server `{name}`: use one of: {}", dir.display(), known.join(", "))]
    UnknownServer {
        /// The sandbox directory.
        dir: PathBuf,
        /// The name asked for.
        name: String,
        /// The sandbox's servers.
        known: Vec<String>,
    },
    /// `reinit` was asked to replace the sandbox's primary.
    #[error("`{name}` is the primary of the sandbox at `{}`: refusing to replace it with an empty server, every replica reads from it; reinit a replica, or start anew with `ferryman sandbox destroy --dir {}` then `up`", dir.display(), dir.display())]
    ReinitPrimary {
        /// The sandbox directory.
        dir: PathBuf,
        /// The primary's name.
        name: String,
    },
    /// `reinit` deleted a server's data but could not bring up the empty server.
    #[error("cannot bring up an empty `{name}` in the sandbox at `{}` (its old data is already deleted): {cause}; fix that, then run `ferryman sandbox reinit --dir {} --server {name}` again", dir.display(), dir.display())]
    ReinitFailed {
        /// The sandbox directory.
        dir: PathBuf,
        /// The server.
        name: String,
        /// What failed (part of the message, so not a `source`).
        cause: Box<Error>,
    },
    /// A server did not come up.
    #[error("server `{server}` did not start within {seconds} s: {reason}; its log is `{}`", log.display())]
    StartFailed {
        /// Server name.
        server: String,
        /// How long we waited.
        seconds: u64,
        /// Why we gave up (exited, or the last connection error), with the log's last lines.
        reason: String,
        /// The server's error log.
        log: PathBuf,
    },
    /// Replication did not start on a replica.
    #[error("replica `{server}` did not start replicating within {seconds} s ({threads}); see its log `{}`", log.display())]
    ReplicationFailed {
        /// Server name.
        server: String,
        /// How long we waited.
        seconds: u64,
        /// State of both threads and the last error either reported.
        threads: String,
        /// The server's error log.
        log: PathBuf,
    },
    /// The sandbox's S3 server did not start, or its repository cannot be configured.
    #[error("the sandbox's S3 server in `{}` is not usable: {detail}; its daemons' logs are in `{}/log`; stop it with `ferryman sandbox s3-down --dir DIR`", dir.display(), dir.display())]
    S3 {
        /// The server's directory (`DIR/s3`).
        dir: PathBuf,
        /// What failed.
        detail: String,
    },
    /// No free TCP port could be found on 127.0.0.1.
    #[error("cannot find a free port on 127.0.0.1: {source}")]
    NoFreePort {
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The directory is not a Galera sandbox (no `galera.json`).
    #[error("`{}` is not a Galera sandbox (no galera.json): create one with `ferryman sandbox up --dir {} --galera 3`", dir.display(), dir.display())]
    NotAGaleraSandbox {
        /// The directory.
        dir: PathBuf,
    },
    /// A Galera sandbox was asked for where a plain one exists.
    #[error("a plain sandbox (primary and replicas) already exists in `{}`: run `ferryman sandbox destroy --dir {}` first or pick another --dir", dir.display(), dir.display())]
    PlainSandboxExists {
        /// The sandbox directory.
        dir: PathBuf,
    },
    /// A plain sandbox was asked for where a Galera one exists.
    #[error("a Galera sandbox already exists in `{}`: bring it up with `ferryman sandbox up --dir {} --galera N`, or run `ferryman sandbox destroy --dir {}` first or pick another --dir", dir.display(), dir.display(), dir.display())]
    GaleraSandboxExists {
        /// The sandbox directory.
        dir: PathBuf,
    },
    /// A Galera sandbox's size or shape cannot be made.
    #[error("cannot make a Galera sandbox of {clusters} cluster(s) of {nodes} node(s): {reason}")]
    BadGaleraShape {
        /// Clusters asked for.
        clusters: usize,
        /// Nodes per cluster asked for.
        nodes: usize,
        /// What is allowed.
        reason: &'static str,
    },
    /// `up` asked for a different shape than the existing Galera sandbox has.
    #[error("the Galera sandbox at `{}` has {existing}, not {requested}: run `ferryman sandbox destroy --dir {}` first or pick another --dir", dir.display(), dir.display())]
    GaleraShapeMismatch {
        /// The sandbox directory.
        dir: PathBuf,
        /// What it has ("2 cluster(s) of 3 node(s), linked").
        existing: String,
        /// What was asked for.
        requested: String,
    },
    /// The Galera provider library is not installed.
    #[error("the Galera provider `{}` is missing: install the Debian package galera-4 (`apt-get install galera-4`, or `bash scripts/install-deps.sh`)", path.display())]
    GaleraMissing {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// There is no `mysql` system user for Galera nodes to run as.
    #[error("there is no `mysql` system user, which Galera nodes run as (rsync SST cannot work as root): install the Debian package mariadb-server, which creates it")]
    NoMysqlUser,
    /// Galera nodes run as `mysql`, which cannot reach the sandbox directory.
    #[error("Galera nodes run as user mysql, which cannot enter `{}` (no execute permission for it), so it cannot reach `{}`: run `chmod o+x {}` or pick a --dir under /tmp", blocked.display(), dir.display(), blocked.display())]
    NotReachableByMysql {
        /// The sandbox directory.
        dir: PathBuf,
        /// The directory on the way that mysql cannot enter.
        blocked: PathBuf,
    },
    /// Changing the owner of a node's files to `mysql` failed.
    #[error("cannot give `{}` to user mysql: {source}; Galera sandboxes must be created as root", path.display())]
    Chown {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// A Galera node did not reach `Synced`.
    #[error("Galera node `{node}` did not become Synced within {seconds} s: {reason}; log ends: {tail}; its log is `{}`", log.display())]
    NotSynced {
        /// Node name.
        node: String,
        /// How long we waited.
        seconds: u64,
        /// Why we gave up (exited, the last state seen or the last connection error).
        reason: String,
        /// The last lines of its error log.
        tail: String,
        /// The node's error log.
        log: PathBuf,
    },
    /// No node of a stopped cluster has the Galera state to bootstrap from.
    #[error("cannot restart Galera cluster `{cluster}`: none of its nodes has a saved Galera state (data/grastate.dat) to bootstrap from; its data is lost: run `ferryman sandbox destroy --dir {}` and `up` again", dir.display())]
    NothingToBootstrap {
        /// The sandbox directory.
        dir: PathBuf,
        /// The cluster.
        cluster: String,
    },
    /// Starting one node would bootstrap its cluster from older data than another node has.
    #[error("no node of Galera cluster `{cluster}` runs, and `{better}` has newer data than `{node}` (data/grastate.dat): start `{better}` first (it bootstraps the cluster), or run `ferryman sandbox up --dir {}`, which picks the right node", dir.display())]
    BootstrapElsewhere {
        /// The sandbox directory.
        dir: PathBuf,
        /// The cluster.
        cluster: String,
        /// The node asked for.
        node: String,
        /// The node that must bootstrap instead.
        better: String,
    },
    /// The asynchronous link between the two clusters did not work.
    #[error("the link from `{master}` to `{replica}` did not work within {seconds} s: {detail}; see `{}`", log.display())]
    LinkFailed {
        /// The replicating node.
        replica: String,
        /// The node it replicates from.
        master: String,
        /// How long we waited.
        seconds: u64,
        /// What was seen (threads, errors, or the probe row missing).
        detail: String,
        /// The replicating node's error log.
        log: PathBuf,
    },
    /// A size argument could not be understood.
    #[error(
        "cannot understand size `{input}`: write a number with an optional unit, e.g. 500M or 2G"
    )]
    BadSize {
        /// What was given.
        input: String,
    },
}

impl Error {
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
