//! Errors of a private server.

use std::path::PathBuf;
use std::process::ExitStatus;

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong with a private server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or directory of the server could not be read, written or removed.
    #[error("cannot {action} `{}`: {source}; check the space and permissions there", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },

    /// A program is missing (the message names the packages), failed or could not be started.
    #[error(transparent)]
    Exec(#[from] ferryman_exec::Error),

    /// `mariadb-install-db` failed.
    #[error("`mariadb-install-db` failed ({status}): {output}; check the space and permissions of `{}`", datadir.display())]
    Install {
        /// The datadir it was installing.
        datadir: PathBuf,
        /// Its exit status.
        status: ExitStatus,
        /// The last lines it printed.
        output: String,
    },

    /// The server exited before it accepted a connection.
    #[error("mariadbd (pid {pid}) exited while starting; its error log ends: {log_excerpt}")]
    Exited {
        /// Its PID.
        pid: u32,
        /// Its error log.
        log: PathBuf,
        /// The error log's `[ERROR]` lines and last lines ([`crate::log_excerpt`]).
        log_excerpt: String,
    },

    /// The server runs but did not accept a connection in time.
    #[error("mariadbd (pid {pid}) did not accept connections within {seconds} s ({last_error}); its error log ends: {log_excerpt}")]
    NotReady {
        /// Its PID.
        pid: u32,
        /// How long it was waited for.
        seconds: u64,
        /// The last connection error.
        last_error: String,
        /// Its error log.
        log: PathBuf,
        /// The error log's `[ERROR]` lines and last lines ([`crate::log_excerpt`]).
        log_excerpt: String,
    },

    /// Waiting for the server was cancelled; the server was killed.
    #[error("cancelled while {during}; the server was killed")]
    Cancelled {
        /// What was being waited for.
        during: &'static str,
    },

    /// A server directory could not be emptied of its processes, or not removed.
    #[error("cannot remove the server directory `{}`: {reason}; stop the process and remove the directory by hand", dir.display())]
    Leftover {
        /// The server's directory.
        dir: PathBuf,
        /// What is left and why.
        reason: String,
    },
}

impl Error {
    /// [`Error::Io`]: `action` on `path` failed with `source`.
    pub(crate) fn on_path(
        action: &'static str,
        path: &std::path::Path,
        source: std::io::Error,
    ) -> Error {
        Error::Io {
            action,
            path: path.to_owned(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt;

    use super::*;

    #[test]
    fn messages_say_what_failed_and_what_to_look_at() {
        let install = Error::Install {
            datadir: "/srv/x/data".into(),
            status: ExitStatus::from_raw(256),
            output: "Installation of system tables failed!".into(),
        };
        assert_eq!(
            install.to_string(),
            "`mariadb-install-db` failed (exit status: 1): Installation of system tables failed!; \
             check the space and permissions of `/srv/x/data`"
        );
        let exited = Error::Exited {
            pid: 42,
            log: "/srv/x/err.log".into(),
            log_excerpt: "[ERROR] Aborting".into(),
        };
        assert_eq!(
            exited.to_string(),
            "mariadbd (pid 42) exited while starting; its error log ends: [ERROR] Aborting"
        );
        let leftover = Error::Leftover {
            dir: "/srv/x".into(),
            reason: "process 7 still runs (`kill -9 7`)".into(),
        };
        assert!(leftover
            .to_string()
            .ends_with("remove the directory by hand"));
    }
}
