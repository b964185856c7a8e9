//! The throwaway server: a private `mariadbd`, started from the installed binaries, on which a
//! backup is restored to prove that it restores, then removed.
//!
//! Each server lives in its own 0700 directory under the work directory (`tw-LABEL-PID-N`),
//! reads only the defaults file written there, listens only on a unix socket there (no TCP),
//! writes no binary log, replicates from nobody and runs no events. Its `root` has no
//! password; a restored datadir (or a dump that replaces the accounts) brings the source's
//! accounts, so the server then runs with `skip-grant-tables`: nothing but the socket, in a
//! directory only its owner may enter, reaches it.
//!
//! A server is removed by [`Throwaway::remove`]; a [`Throwaway`] dropped without it (a panic,
//! a cancelled verification) kills its processes and removes its directory on the spot; a
//! verifier that crashed leaves directories that [`sweep`] removes at the next start. Nothing
//! outside the directory is ever signalled: a process counts as the directory's only when its
//! command line names a path inside it.
//!
//! # Errors
//! What the backup cannot do (extract, prepare, start on its files, import) is
//! [`Error::Restore`], quoting the tool's or the server's last words (the directory, logs
//! included, is gone by then). What keeps the verifier from trying is anything else: a missing
//! program ([`Error::Exec`]), an empty server that does not install or start
//! ([`Error::Throwaway`]), a payload that cannot be read ([`Error::Payload`]), a work
//! directory too deep for a socket ([`Error::WorkDirTooLong`]), leftovers
//! ([`Error::Leftover`]).
//!
//! # Layout
//! The server itself (install, start, readiness, stop by PID, killing what runs in its
//! directory, sweeping leftovers) is `ferryman_mariadbd`'s; this module adds what is the
//! verifier's:
//! - `layout`: the directory (unique name, 0700), its files, the socket length limit.
//! - `defaults_file`: the server's `my.cnf`; a physical backup's InnoDB layout.
//! - `feed`: piping a payload into a tool's stdin (`mbstream`, `mariadb`, `tar`).
//! - `physical`: extracting and preparing an xbstream.
//! - `logical`: importing a dump, loading a mydumper archive.
//! - `replay`: archived binlog segments replayed (`mariadb-binlog | mariadb`).
//! - `keep`: a restored server kept as a copy (`ferryman restore`) instead of removed.
//! - `backup_stream`: its data streamed out by `mariabackup --backup` (a flashback to a
//!   point).
//! - `sweep`: leftovers of a crashed verifier.

mod backup_stream;
mod defaults_file;
mod feed;
mod keep;
mod layout;
mod logical;
mod physical;
mod replay;
mod sweep;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use ferryman_db::{Endpoint, Session};
use ferryman_exec::Program;
use ferryman_mariadbd::process::runs_in;
use ferryman_mariadbd::server::stop_pid;
use ferryman_mariadbd::sweep::{kill_and_remove, leftovers};
use ferryman_mariadbd::{Binaries, Layout};
use tokio_util::sync::CancellationToken;

use crate::{Error, Result};
use defaults_file::ServerCnf;

pub use backup_stream::BackupStream;
pub use keep::Kept;
pub use layout::{DIR_PREFIX, SOCKET_PATH_MAX};
pub use sweep::sweep;

/// How long a server may take to shut down after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(120);

/// Settings of throwaway servers.
#[derive(Debug, Clone)]
pub struct ThrowawayOptions {
    /// Parent directory of every throwaway server's own directory (created 0700 if missing).
    pub work_dir: PathBuf,
    /// `innodb-buffer-pool-size` of a throwaway server, MiB.
    pub buffer_pool_mib: u32,
    /// How long a server may take to accept connections once started.
    pub start_timeout: Duration,
}

/// Which tool prepares a physical backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhysicalTool {
    /// `mariabackup` (+ `mbstream`).
    Mariabackup,
    /// `xtrabackup` (+ `xbstream`).
    Xtrabackup,
}

impl PhysicalTool {
    /// The program that extracts the stream.
    pub fn extractor(self) -> &'static str {
        match self {
            PhysicalTool::Mariabackup => "mbstream",
            PhysicalTool::Xtrabackup => "xbstream",
        }
    }

    /// The program that prepares the extracted backup.
    pub fn preparer(self) -> &'static str {
        match self {
            PhysicalTool::Mariabackup => "mariabackup",
            PhysicalTool::Xtrabackup => "xtrabackup",
        }
    }

    /// The Debian package that provides both.
    pub fn package(self) -> &'static str {
        match self {
            PhysicalTool::Mariabackup => "mariadb-backup",
            PhysicalTool::Xtrabackup => "percona-xtrabackup",
        }
    }
}

/// How long each step of a restore took.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timings {
    /// Step name (`install`, `extract`, `prepare`, `start`, `import`, `restart`) → seconds.
    pub steps: Vec<(&'static str, f64)>,
    /// Bytes of payload consumed.
    pub bytes: u64,
}

impl Timings {
    /// Records that `step` ran from `started` until now.
    fn record(&mut self, step: &'static str, started: Instant) {
        self.steps.push((step, started.elapsed().as_secs_f64()));
    }
}

/// A running throwaway server. Dropping it without [`Throwaway::remove`] kills its processes
/// and removes its directory (blocking, best effort).
#[derive(Debug)]
pub struct Throwaway {
    paths: Layout,
    /// The server's PID; 0 before it was started.
    pid: AtomicU32,
    bins: Binaries,
    cnf: ServerCnf,
    start_timeout: Duration,
    /// Set once nothing is left: `Drop` then has nothing to do.
    removed: bool,
}

impl Throwaway {
    /// An empty server: `mariadb-install-db`, then `mariadbd`. Steps `install`, `start`.
    pub async fn empty(opts: &ThrowawayOptions, label: &str) -> Result<(Throwaway, Timings)> {
        let mut server = Throwaway::create(opts, label, Binaries::find()?)?;
        let mut timings = Timings::default();
        match server.install_and_start(&mut timings).await {
            Ok(()) => {
                tracing::info!(dir = %server.dir().display(), pid = server.pid(), "empty throwaway server started");
                Ok((server, timings))
            }
            Err(e) => {
                server.discard().await;
                Err(e)
            }
        }
    }

    /// A server on a physical backup: `payload` (the decompressed xbstream) is extracted with
    /// `mbstream -x`, prepared with `mariabackup --prepare` (with the backup's own
    /// `backup-my.cnf`), and started with the backup's InnoDB layout and `skip-grant-tables`.
    /// Steps `extract`, `prepare`, `start`; bytes: the payload's. On any error nothing is left.
    pub async fn physical(
        opts: &ThrowawayOptions,
        label: &str,
        tool: PhysicalTool,
        payload: Box<dyn Read + Send>,
    ) -> Result<(Throwaway, Timings)> {
        // Every program first: a missing one must not cost an extraction.
        let extractor = Program::find(tool.extractor(), tool.package())?;
        let preparer = Program::find(tool.preparer(), tool.package())?;
        let mut server = Throwaway::create(opts, label, Binaries::find()?)?;
        let mut timings = Timings::default();
        match server
            .restore_physical(&extractor, &preparer, payload, &mut timings)
            .await
        {
            Ok(()) => {
                tracing::info!(dir = %server.dir().display(), pid = server.pid(), bytes = timings.bytes, "throwaway server started on a physical backup");
                Ok((server, timings))
            }
            Err(e) => {
                server.discard().await;
                Err(e)
            }
        }
    }

    /// Imports a SQL dump (`payload`: the whole decompressed mysqldump / mariadb-dump output)
    /// with the `mariadb` client. A statement that fails stops the import: the error quotes
    /// the client (`ERROR 1064 (42000) at line 42: …`). Step `import` (and `restart` when the
    /// dump replaced root's account, see [`Throwaway`]); bytes: the dump's.
    pub async fn import_sql(&self, payload: Box<dyn Read + Send>) -> Result<Timings> {
        self.import_dump(payload).await
    }

    /// Loads a mydumper backup: `payload` is a tar of mydumper's output directory (the
    /// agent's `tar -C DIR -cf - .`), extracted with `tar -x` (GNU tar refuses absolute
    /// member names and `..`), then loaded with `myloader --overwrite-tables` from the
    /// directory holding its `metadata` file. Steps `extract`, `import`; bytes: the tar's.
    pub async fn load_mydumper(&self, payload: Box<dyn Read + Send>) -> Result<Timings> {
        self.load_archive(payload).await
    }

    /// Where to connect: the socket, as `root` without password.
    pub fn endpoint(&self) -> Endpoint {
        Endpoint {
            name: format!(
                "throwaway server {}",
                self.paths
                    .root()
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            ),
            host: "localhost".into(),
            port: 0,
            socket: Some(self.paths.socket()),
            user: "root".into(),
            password: None,
            ssl: Default::default(),
        }
    }

    /// The server's directory.
    pub fn dir(&self) -> &Path {
        self.paths.root()
    }

    /// The server's PID (`None` before it was started).
    pub fn pid(&self) -> Option<u32> {
        match self.pid.load(Ordering::Relaxed) {
            0 => None,
            pid => Some(pid),
        }
    }

    /// Stops the server (SIGTERM; SIGKILL after 120 s), removes its directory, then checks
    /// that neither is left. A server that already died is not an error.
    pub async fn remove(mut self) -> Result<()> {
        let dir = self.paths.root().to_owned();
        let pid = self.pid();
        let started = Instant::now();
        let (problems, left) = tokio::task::spawn_blocking(move || {
            let mut problems = Vec::new();
            if let Some(pid) = pid {
                if let Err(e) = stop_pid(pid, &dir, STOP_GRACE) {
                    problems.push(format!("stopping the server: {e}"));
                }
            }
            problems.extend(kill_and_remove(&dir, pid));
            let left = leftovers(&dir, pid);
            (problems, left)
        })
        .await
        .map_err(worker)?;
        if left.is_empty() {
            self.removed = true;
            tracing::info!(dir = %self.dir().display(), seconds = started.elapsed().as_secs_f64(), "throwaway server removed");
            Ok(())
        } else {
            // Drop tries once more, by SIGKILL.
            Err(Error::Leftover {
                dir: self.dir().to_owned(),
                reason: problems
                    .into_iter()
                    .chain(left)
                    .collect::<Vec<_>>()
                    .join("; "),
            })
        }
    }

    /// A new directory, nothing running yet.
    fn create(opts: &ThrowawayOptions, label: &str, bins: Binaries) -> Result<Throwaway> {
        let paths = layout::create(&opts.work_dir, label)?;
        tracing::debug!(dir = %paths.root().display(), "throwaway directory created");
        Ok(Throwaway {
            paths,
            pid: AtomicU32::new(0),
            bins,
            cnf: ServerCnf {
                buffer_pool_mib: opts.buffer_pool_mib,
                ..ServerCnf::default()
            },
            start_timeout: opts.start_timeout,
            removed: false,
        })
    }

    async fn install_and_start(&mut self, timings: &mut Timings) -> Result<()> {
        let started = Instant::now();
        // An empty server is installed only to be loaded from a logical backup.
        self.cnf.bulk_load = true;
        self.cnf.write(&self.paths)?;
        let args = [self.paths.defaults_file_arg()];
        ferryman_mariadbd::install(&self.bins, &self.paths, &args)
            .await
            .map_err(|e| match e {
                e @ ferryman_mariadbd::Error::Install { .. } => Error::Throwaway {
                    step: "install",
                    reason: format!("{e} (under `[verifier] work-dir`)"),
                },
                other => other.into(),
            })?;
        timings.record("install", started);
        let started = Instant::now();
        self.start().await.map_err(|reason| Error::Throwaway {
            step: "start",
            reason: format!(
                "{reason}; an empty server does not start: check the installed MariaDB and the space of `[verifier] work-dir`"
            ),
        })?;
        timings.record("start", started);
        Ok(())
    }

    /// Writes the defaults file, starts the server and waits until it answers. `Err` is why
    /// not, in words; the caller discards the directory.
    async fn start(&self) -> std::result::Result<(), String> {
        self.start_with(&self.cnf).await
    }

    /// [`Throwaway::start`] with these settings.
    async fn start_with(&self, cnf: &ServerCnf) -> std::result::Result<(), String> {
        cnf.write(&self.paths)
            .map_err(|e| format!("cannot write its defaults file: {e}"))?;
        let args = [self.paths.defaults_file_arg()];
        let pid =
            ferryman_mariadbd::spawn(&self.bins, &self.paths, &args).map_err(|e| e.to_string())?;
        self.pid.store(pid, Ordering::Relaxed);
        // The caller discards the directory (and so the server) on any error.
        let never = CancellationToken::new();
        ferryman_mariadbd::wait_ready(
            &self.paths,
            pid,
            &self.endpoint(),
            self.start_timeout,
            &never,
        )
        .await
        .map_err(|e| e.to_string())
    }

    /// After an import: a dump of the `mysql` schema replaces the accounts, and its `FLUSH
    /// PRIVILEGES` makes the server use them, so `root` may now need the source's password,
    /// which we do not know. Then the server is restarted with `skip-grant-tables` (a clean
    /// shutdown first: the import is in it), step `restart`.
    async fn ensure_root_access(&self, timings: &mut Timings, step: &'static str) -> Result<()> {
        let error = match self.endpoint().connect(Session::Plain).await {
            Ok(conn) => {
                let _ = conn.disconnect().await;
                return Ok(());
            }
            Err(e) => e,
        };
        let Some(pid) = self.pid().filter(|&p| runs_in(p, self.dir())) else {
            return Err(Error::Restore {
                step,
                reason: format!(
                    "the server stopped during the import{}",
                    self.death_notice()
                ),
            });
        };
        tracing::info!(dir = %self.dir().display(), error = %error, "root cannot log in after the import (the dump brought its accounts): restarting without grant tables");
        let started = Instant::now();
        let dir = self.dir().to_owned();
        tokio::task::spawn_blocking(move || stop_pid(pid, &dir, STOP_GRACE))
            .await
            .map_err(worker)??;
        let cnf = ServerCnf {
            skip_grant_tables: true,
            ..self.cnf.clone()
        };
        self.start_with(&cnf)
            .await
            .map_err(|reason| Error::Restore {
                step: "restart",
                reason: format!("{reason}; the server does not start again on the imported data"),
            })?;
        timings.record("restart", started);
        Ok(())
    }

    /// `; the server died: LOG` when the server is no longer running (an import that failed
    /// because the server crashed under it), else nothing.
    fn death_notice(&self) -> String {
        match self.pid() {
            Some(pid) if !runs_in(pid, self.dir()) => format!(
                "; the server died, its error log ends: {}",
                ferryman_mariadbd::log_excerpt(&self.paths.error_log())
            ),
            _ => String::new(),
        }
    }

    /// Kills everything and removes the directory after a failed start or restore.
    async fn discard(&mut self) {
        let dir = self.paths.root().to_owned();
        let pid = self.pid();
        let outcome = tokio::task::spawn_blocking(move || {
            let problems = kill_and_remove(&dir, pid);
            (problems, leftovers(&dir, pid))
        })
        .await;
        match outcome {
            Ok((_, left)) if left.is_empty() => self.removed = true,
            Ok((problems, left)) => {
                tracing::warn!(dir = %self.dir().display(), problems = %problems.join("; "), left = %left.join("; "), "cannot remove a failed throwaway server");
            }
            // Drop tries again.
            Err(e) => {
                tracing::warn!(dir = %self.dir().display(), error = %e, "cannot remove a failed throwaway server")
            }
        }
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        if self.removed {
            return;
        }
        // Blocking on purpose: Drop cannot await, and this is signals, polling /proc and
        // unlinking files; a dropped verification must not leave a server running.
        let dir = self.paths.root();
        let pid = self.pid();
        tracing::info!(dir = %dir.display(), pid, "throwaway server dropped without remove(): killing it and removing its directory");
        let problems = kill_and_remove(dir, pid);
        let left = leftovers(dir, pid);
        if !left.is_empty() {
            tracing::warn!(dir = %dir.display(), problems = %problems.join("; "), left = %left.join("; "), "cannot remove a dropped throwaway server; the manager removes it at its next start");
        }
    }
}

fn worker(e: tokio::task::JoinError) -> Error {
    Error::Worker(format!("a blocking task failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_and_restores_can_move_between_threads() {
        fn send_sync<T: Send + Sync>() {}
        fn send<T: Send>(_: &T) {}
        send_sync::<Throwaway>();
        let opts = ThrowawayOptions {
            work_dir: "/nonexistent".into(),
            buffer_pool_mib: 16,
            start_timeout: Duration::from_secs(1),
        };
        // Built, never polled: nothing runs.
        send(&Throwaway::empty(&opts, "x"));
        send(&Throwaway::physical(
            &opts,
            "x",
            PhysicalTool::Mariabackup,
            Box::new(std::io::empty()),
        ));
        let server = Throwaway {
            paths: layout::paths("/nonexistent/tw-x-1-1".into()),
            pid: AtomicU32::new(0),
            bins: Binaries {
                mariadbd: Program::find("sh", "dash").unwrap(),
                install_db: Program::find("sh", "dash").unwrap(),
            },
            cnf: ServerCnf::default(),
            start_timeout: Duration::from_secs(1),
            removed: true,
        };
        send(&server.import_sql(Box::new(std::io::empty())));
        send(&server.load_mydumper(Box::new(std::io::empty())));
        send(&server.remove());
    }

    #[test]
    fn tools_name_their_package() {
        assert_eq!(PhysicalTool::Xtrabackup.extractor(), "xbstream");
        assert_eq!(PhysicalTool::Xtrabackup.package(), "percona-xtrabackup");
        assert_eq!(PhysicalTool::Mariabackup.preparer(), "mariabackup");
    }
}
