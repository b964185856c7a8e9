//! Errors of running external programs.

use std::path::PathBuf;
use std::process::ExitStatus;

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong when running an external program.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The program is not installed (not on `PATH` nor in the sbin directories).
    #[error("`{program}` is not installed: install the Debian package(s) {packages} (`bash scripts/install-deps.sh` installs everything Ferryman uses)")]
    NotFound {
        /// The program looked for.
        program: String,
        /// Debian packages that provide it.
        packages: String,
    },
    /// The program could not be started at all.
    #[error("cannot start `{program}`: {source}; check that it is executable")]
    Spawn {
        /// The program.
        program: String,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The program ran and failed.
    #[error("`{command}` failed ({status}){}", stderr_suffix(.stderr_tail))]
    Failed {
        /// The command line (never holds secrets).
        command: String,
        /// How it exited.
        status: ExitStatus,
        /// The last lines it wrote on stderr.
        stderr_tail: String,
    },
    /// An argument looked like a password: refused before anything ran.
    #[error("refusing to run `{program}` with a password on its command line (argument `{argument}`): pass it in a 0600 defaults-extra-file or the environment")]
    SecretOnCommandLine {
        /// The program.
        program: String,
        /// The offending argument, with its value cut off.
        argument: String,
    },
    /// Reading the program's output or a log file failed.
    #[error("cannot {action} `{}`: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file involved.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// A process did not stop in time, even after SIGKILL.
    #[error(
        "process {pid} did not exit within {seconds} s after SIGKILL; check it with `ps -p {pid}`"
    )]
    StillRunning {
        /// The process id.
        pid: u32,
        /// How long we waited after SIGKILL.
        seconds: u64,
    },
    /// Sending a signal failed for another reason than "no such process".
    #[error("cannot signal process {pid}: {source}")]
    Signal {
        /// The process id.
        pid: u32,
        /// The reason.
        #[source]
        source: nix::Error,
    },
}

fn stderr_suffix(tail: &str) -> String {
    if tail.is_empty() {
        String::new()
    } else {
        format!(": {tail}")
    }
}
