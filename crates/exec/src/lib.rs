//! The single wrapper through which Ferryman runs external programs.
//!
//! Every program (`mariadbd`, `mariadb-install-db`, `mariabackup`, `sysbench`, ...) is found with
//! [`Program::find`], which names the Debian packages to install when it is missing, and run with
//! a [`Command`], which captures stderr so that a failure says what the tool said, and refuses
//! arguments that look like passwords: secrets travel in the environment or in 0600 files, never
//! on a command line where `/proc/*/cmdline` shows them to every local user.
//!
//! # Layout
//! - [`program`]: [`Program`], locating an executable and reading its version.
//! - [`command`]: [`Command`], running a program to completion or as a detached daemon.
//! - [`child`]: [`Running`], a program whose stdout/stdin are streamed while it runs.
//! - [`option_file`]: [`OptionFile`], a 0600 `[client]` file for `--defaults-extra-file`.
//! - [`process`]: [`process::stop`], stopping a process by PID with a deadline, and liveness checks.
//! - [`error`]: the crate's [`Error`].

pub mod child;
pub mod command;
pub mod error;
pub mod option_file;
pub mod process;
pub mod program;

pub use child::{Finished, Running, Streaming};
pub use command::{Command, Output};
pub use error::{Error, Result};
pub use option_file::{ClientOptions, OptionFile};
pub use program::Program;
