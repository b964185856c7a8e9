//! Errors of the verifier. A failed *check* is not an error (it is a finding, recorded in the
//! verification result); errors are for what stops a verification from being carried out, and
//! each says what to do next.

use std::path::PathBuf;

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can stop a verification.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An external program could not be found or run.
    #[error(transparent)]
    Exec(#[from] ferryman_exec::Error),

    /// The repository failed.
    #[error(transparent)]
    Repo(#[from] ferryman_repo::Error),

    /// A statement on the restored server failed (not a finding: the server stopped answering,
    /// or lacks what every MariaDB has).
    #[error(transparent)]
    Db(#[from] ferryman_db::Error),

    /// Something took longer than its configured bound.
    #[error("{what} did not finish within {}s; raise `[verifier] restore-timeout` if the backup is that large, or look at the manager's log for what was slow", limit.as_secs())]
    Timeout {
        /// What.
        what: &'static str,
        /// The bound.
        limit: std::time::Duration,
    },

    /// A local file operation failed.
    #[error("cannot {action} {}: {source}; check the verifier's work directory (`[verifier] work-dir`): space, permissions", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The reason.
        #[source]
        source: std::io::Error,
    },

    /// A worker thread panicked or was cancelled.
    #[error("internal error: {0}; this is a bug, please report it with the manager's log")]
    Worker(String),

    /// The backup did not restore on the throwaway server: the stream did not extract, the
    /// prepare failed, the restored server did not start, or the dump did not import. This is
    /// about the backup (or its compatibility with the installed MariaDB), not the verifier.
    #[error("the backup did not restore: {step}: {reason}")]
    Restore {
        /// The step that failed (`extract`, `prepare`, `start`, `import`).
        step: &'static str,
        /// What happened, with the tool's or the server's own last words, and what to do.
        reason: String,
    },

    /// A throwaway server could not be set up for reasons that are not the backup's (an empty
    /// datadir that does not install, a server that does not start on it).
    #[error("cannot run a throwaway server: {step}: {reason}")]
    Throwaway {
        /// The step that failed (`install`, `start`).
        step: &'static str,
        /// What happened, with the tool's or the server's own last words, and what to do.
        reason: String,
    },

    /// Reading the backup's payload failed in the middle of a restore.
    #[error("cannot read the backup's payload while {step} (after {bytes} bytes): {source}; it does not decompress or the storage failed: verify the backup's checksums")]
    Payload {
        /// The step that was reading it (`extracting`, `importing`).
        step: &'static str,
        /// Bytes read before the failure.
        bytes: u64,
        /// The reader's error.
        #[source]
        source: std::io::Error,
    },

    /// The work directory is so deep that a throwaway server's unix socket path would exceed
    /// what the kernel accepts.
    #[error("the verifier's work directory `{}` is too long: a throwaway server's socket path there would be {length} bytes, more than the {max} a unix socket path may have; choose a shorter `[verifier] work-dir`", work_dir.display())]
    WorkDirTooLong {
        /// The work directory.
        work_dir: PathBuf,
        /// Length of the socket path it would give.
        length: usize,
        /// The limit.
        max: usize,
    },

    /// A throwaway server could not be stopped, or its directory not removed.
    #[error("cannot remove the throwaway server in `{}`: {reason}; stop the process and remove the directory by hand (the manager also removes leftovers under `[verifier] work-dir` when it starts)", dir.display())]
    Leftover {
        /// The server's directory.
        dir: PathBuf,
        /// What is left and why.
        reason: String,
    },
}

impl From<ferryman_mariadbd::Error> for Error {
    fn from(e: ferryman_mariadbd::Error) -> Error {
        use ferryman_mariadbd::Error as E;
        match e {
            E::Exec(e) => Error::Exec(e),
            E::Io {
                action,
                path,
                source,
            } => Error::Io {
                action,
                path,
                source,
            },
            E::Leftover { dir, reason } => Error::Leftover { dir, reason },
            other => Error::Throwaway {
                step: "server",
                reason: other.to_string(),
            },
        }
    }
}

impl Error {
    /// A closure turning an I/O error into [`Error::Io`], for `map_err`.
    pub fn io(
        action: &'static str,
        path: &std::path::Path,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.to_owned();
        move |source| Error::Io {
            action,
            path,
            source,
        }
    }
}
