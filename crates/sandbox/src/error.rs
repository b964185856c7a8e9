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
    /// No free TCP port could be found on 127.0.0.1.
    #[error("cannot find a free port on 127.0.0.1: {source}")]
    NoFreePort {
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
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
