//! One private `mariadbd`: the sandbox's servers, the verifier's throwaway servers and the
//! agent's import server for a logical reseed are all run through this crate.
//!
//! A private server is the installed `mariadbd` (or the one in `$FERRYMAN_MARIADB_BINDIR`),
//! with its own directory holding its datadir, socket, pid file and logs. It reads only the
//! option file it is given with `--defaults-file` (always the first argument), is installed with
//! `mariadb-install-db`, started as a daemon that a later process can find again through its pid
//! file, waited for until it accepts connections (bounded), and stopped by PID: SIGTERM, a
//! bounded grace, then SIGKILL. A process counts as a server's only when its command line names
//! a path inside the server's directory, so a recycled PID is never signalled.
//!
//! # Layout
//! - [`binaries`]: [`Binaries`], finding `mariadbd` and `mariadb-install-db` ([`BINDIR_ENV`]).
//! - [`layout`]: [`Layout`], where one server's files are.
//! - [`defaults_file`]: writing the server's option file, and the settings every private
//!   server gets ([`defaults_file::private_options`]).
//! - [`load`]: loading a logical backup: [`load::bulk_load_options`], `myloader`.
//! - [`server`]: [`install`], [`spawn`], [`wait_ready`], [`Server`] (a started server, killed
//!   when dropped unless detached or stopped), stopping by PID ([`stop`]), [`log_excerpt`].
//! - [`process`]: which processes belong to a server directory ([`running_pid`],
//!   [`process::runs_in`]).
//! - [`mod@sweep`]: removing a server directory and whatever still runs in it, and [`sweep()`]ing
//!   the leftovers of a crashed owner.
//! - [`error`]: the crate's [`Error`].

pub mod binaries;
pub mod defaults_file;
pub mod error;
pub mod layout;
pub mod load;
pub mod process;
pub mod server;
pub mod sweep;

pub use binaries::{Binaries, BINDIR_ENV, SERVER_PACKAGES};
pub use error::{Error, Result};
pub use layout::Layout;
pub use process::running_pid;
pub use server::{install, log_excerpt, spawn, stop, wait_ready, Server};
pub use sweep::sweep;
