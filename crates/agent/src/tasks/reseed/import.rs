//! Steps 3 and 4 of a logical reseed: the dump is imported into a private server running on
//! the staging directory, which is then shut down cleanly and swapped in like a prepared
//! physical backup.
//!
//! Why not import into the running server, as `socat | gunzip | mysql` does: a dump that
//! fails half-way (cut stream, bad statement, full disk) would leave the replica half
//! overwritten, with no way back; tables the replica has and the dump lacks (a stray write's)
//! would survive; and a server whose data was lost cannot import anything. On a staging
//! directory none of that can happen: until the swap the replica runs on its old data,
//! untouched, and the swap and its rollback are the physical reseed's.
//!
//! The import server is the installed `mariadbd` (or the one in `$FERRYMAN_MARIADB_BINDIR`), run
//! through `ferryman_mariadbd` like every private server, reading the server's own option file (so
//! that page size, undo and file layout match what the server will find) with what must not
//! be shared overridden on the command line: its own datadir, socket, pid file and error log
//! in a run directory next to the datadir; no TCP, no binary log, no replication, no Galera,
//! no event scheduler, no slow or general log; a buffer pool of `agent.import-buffer-pool-mib`.
//! Its `root` has no password (`mariadb-install-db --auth-root-authentication-method=normal`)
//! and is reachable only through that socket, in a directory only the server's user (and
//! root) may enter. The dump replaces its accounts with the source's, as a physical reseed
//! does.

use std::ffi::OsString;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ferryman_db::Endpoint;
use ferryman_exec::{process, Program};
use ferryman_mariadbd::defaults_file::{as_args, private_options, MAX_PACKET};
use ferryman_mariadbd::layout::path_arg;
use ferryman_mariadbd::load::bulk_load_options;
use ferryman_mariadbd::server::Stopped;
use ferryman_mariadbd::{Binaries, Layout, Server};

use super::receive::{self, Payload};
use super::{files, interrupted, Plan, TaskCtx};
use crate::progress;
use crate::tasks::logical;
use crate::{Error, Result};

mod mydumper;

pub(super) use self::mydumper::ArchiveTools;

/// Debian package of the `mariadb` client.
const CLIENT_PACKAGE: &str = "mariadb-client";
/// How long the import server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(300);
/// How long it may take to shut down (it writes every dirty page first).
const STOP_TIMEOUT: Duration = Duration::from_secs(1800);
/// How much of the dump's end is kept: the footer and the `gtid_slave_pos` comment.
const TAIL_KEEP: usize = 8 * 1024;

/// The programs a logical reseed runs, found before anything else: a missing one must not
/// cost a transfer.
#[derive(Debug)]
pub(super) struct Tools {
    /// `mariadbd` and `mariadb-install-db` (from `$FERRYMAN_MARIADB_BINDIR` when set).
    bins: Binaries,
    client: Program,
}

impl Tools {
    pub fn find() -> Result<Tools> {
        Ok(Tools {
            bins: Binaries::find()?,
            client: Program::find("mariadb", CLIENT_PACKAGE)
                .or_else(|_| Program::find("mysql", CLIENT_PACKAGE))?,
        })
    }
}

/// What the import did.
#[derive(Debug, Clone)]
pub(super) struct Imported {
    /// Dump bytes received and imported.
    pub bytes: u64,
    /// From the first byte to the client's exit.
    pub took: Duration,
    /// The GTID position the dump records (`None` when it records none).
    pub gtid: Option<String>,
}

/// The private server on the staging directory. Dropping it kills the server.
#[derive(Debug)]
pub(super) struct ImportServer {
    server: Option<Server>,
    /// Its files: socket, pid file and error log in the run directory, datadir `staging`.
    layout: Layout,
    staging: PathBuf,
    /// From `mariadb-install-db` to accepting connections.
    pub started_in: Duration,
}

impl ImportServer {
    /// Installs an empty datadir in `staging` and starts a server on it; `staging` must be
    /// empty. On error nothing runs any more (the run directory is removed; `staging` is the
    /// caller's).
    pub async fn start(
        ctx: &TaskCtx<'_>,
        plan: &Plan,
        tools: &Tools,
        staging: &Path,
    ) -> Result<ImportServer> {
        ImportServer::on(ctx, plan, tools, staging, None).await
    }

    /// Starts a server on the datadir already in `staging` (a snapshot's copy), which runs
    /// its crash recovery; with `log_bin` (the donor's binlog basename within the copy), so
    /// that prepared transactions are resolved by the binlog as on the donor. Stop it with
    /// [`ImportServer::stop`]: a clean shutdown leaves a datadir that needs no recovery.
    pub async fn recover(
        ctx: &TaskCtx<'_>,
        plan: &Plan,
        tools: &Tools,
        staging: &Path,
        log_bin: Option<PathBuf>,
    ) -> Result<ImportServer> {
        let log_bin = log_bin.unwrap_or_default();
        ImportServer::on(ctx, plan, tools, staging, Some(log_bin)).await
    }

    /// `recover: None` installs an empty datadir first; `Some(log_bin)` starts on the files
    /// there (an empty path: without a binlog).
    async fn on(
        ctx: &TaskCtx<'_>,
        plan: &Plan,
        tools: &Tools,
        staging: &Path,
        recover: Option<PathBuf>,
    ) -> Result<ImportServer> {
        let started = Instant::now();
        ctx.progress
            .set_phase("preparing: installing the import server's datadir");
        let layout = Layout::new(create_run_dir(plan)?)
            .with_datadir(staging)
            .with_stdout_log(ctx.tool_log("mariadbd-import"));
        let mut server = ImportServer {
            server: None,
            layout,
            staging: staging.to_owned(),
            started_in: Duration::ZERO,
        };
        match server.install_and_start(ctx, plan, tools, recover).await {
            Ok(()) => {
                server.started_in = started.elapsed();
                Ok(server)
            }
            Err(e) => {
                server.discard().await;
                Err(e)
            }
        }
    }

    async fn install_and_start(
        &mut self,
        ctx: &TaskCtx<'_>,
        plan: &Plan,
        tools: &Tools,
        recover: Option<PathBuf>,
    ) -> Result<()> {
        // The server's user must own both directories: mariadbd switches to it.
        files::give_datadir_owner(plan, &self.staging).await?;
        files::give_datadir_owner(plan, self.layout.root()).await?;
        // The server's own option file, so that page size, undo and file layout match what
        // the server will find; what must not be shared is overridden after it.
        let mut leading: Vec<OsString> = ctx
            .server
            .defaults_file
            .iter()
            .map(|file| path_arg("--defaults-file=", file))
            .collect();
        leading.extend(run_as(plan)?);
        if recover.is_none() {
            let mut install = leading.clone();
            install.push(path_arg("--datadir=", &self.staging));
            ferryman_mariadbd::install(&tools.bins, &self.layout, &install)
                .await
                .map_err(|e| self.server_error(ctx, e))?;
        }
        ctx.progress
            .set_phase("preparing: starting the import server");
        let mut args = leading;
        args.extend(self.layout.path_args());
        args.extend(as_args(&private_options(ctx.joiner.import_buffer_pool_mib)));
        if recover.is_none() {
            // Filled from nothing, once: see `ferryman_mariadbd::load`.
            args.extend(as_args(&bulk_load_options()));
        }
        // After `skip-log-bin`: the last of the two wins.
        if let Some(log_bin) = recover.filter(|b| !b.as_os_str().is_empty()) {
            args.push(path_arg("--log-bin=", &log_bin));
        }
        let server = Server::start(
            &tools.bins,
            &self.layout,
            &args,
            &self.endpoint(ctx),
            START_TIMEOUT,
            ctx.cancel,
        )
        .await
        .map_err(|e| self.server_error(ctx, e))?;
        self.server = Some(server);
        Ok(())
    }

    fn endpoint(&self, ctx: &TaskCtx<'_>) -> Endpoint {
        Endpoint {
            name: format!("{} (import server)", ctx.server.name),
            host: "localhost".to_owned(),
            port: 0,
            socket: Some(self.layout.socket()),
            user: "root".to_owned(),
            password: None,
            ssl: Default::default(),
        }
    }

    /// Feeds the payload to the `mariadb` client connected to the import server. Succeeds
    /// only when the payload's trailer matched, the client exited 0 and the dump ends with
    /// mariadb-dump's completion footer.
    pub async fn import(
        &self,
        ctx: &TaskCtx<'_>,
        plan: &Plan,
        tools: &Tools,
        mut payload: Payload,
    ) -> Result<Imported> {
        let started = Instant::now();
        let client = &tools.client;
        let args: Vec<OsString> = vec![
            // Nothing from option files: this session is ours alone.
            "--no-defaults".into(),
            path_arg("--socket=", &self.layout.socket()),
            "--user=root".into(),
            // Bytes as they are (a dump's strings may hold \r\n and \0); DELIMITER still works.
            "--binary-mode".into(),
            format!("--max-allowed-packet={MAX_PACKET}").into(),
        ];
        let (running, log) = ctx.spawn_tool_with(client, "mariadb-import", args, true)?;
        let expected = plan.params.payload_bytes;
        ctx.progress.set_phase(importing(0, expected));
        let mut tail: Vec<u8> = Vec::with_capacity(2 * TAIL_KEEP);
        let tool = receive::Fed {
            program: client,
            running,
            log,
            during: "importing the dump",
            finishing: "receiving: the import's last statements".to_owned(),
        };
        tool.feed(ctx, &mut payload, |chunk, total| {
            keep_tail(&mut tail, chunk);
            ctx.progress.set_phase(importing(total, expected));
        })
        .await?;
        if !logical::ends_with_footer(&tail) {
            return Err(Error::Dump {
                problem: "does not end with mariadb-dump's `-- Dump completed` line, so it may \
                          be cut short"
                    .to_owned(),
            });
        }
        Ok(Imported {
            bytes: payload.total(),
            took: started.elapsed(),
            gtid: logical::dump_gtid(&String::from_utf8_lossy(&tail)),
        })
    }

    /// Shuts the server down cleanly (every page written, so the real server starts on it
    /// without recovery) and removes the run directory. The staging datadir stays.
    pub async fn stop(mut self, ctx: &TaskCtx<'_>) -> Result<Duration> {
        let started = Instant::now();
        ctx.progress
            .set_phase("preparing: shutting the import server down");
        let Some(server) = self.server.take() else {
            return Ok(Duration::ZERO);
        };
        let outcome = match server.stop(STOP_TIMEOUT, ctx.cancel).await {
            Ok(Stopped::Clean) => Ok(started.elapsed()),
            Ok(Stopped::Unclean) => Err(self.failed(
                "did not shut down cleanly (its log does not end with `Shutdown complete`)"
                    .to_owned(),
            )),
            // Killed: its datadir is not to be trusted.
            Ok(Stopped::Killed) => Err(self.failed(format!(
                "did not shut down within {} s and was killed",
                STOP_TIMEOUT.as_secs()
            ))),
            Err(e) => Err(self.server_error(ctx, e)),
        };
        files::remove_quietly(self.layout.root()).await;
        outcome
    }

    /// Kills the server (its datadir is thrown away) and removes the run directory.
    pub async fn discard(mut self) {
        if let Some(server) = self.server.take() {
            if let Err(e) = server.kill().await {
                tracing::warn!(error = %e, "cannot kill the import server");
            }
        }
        files::remove_quietly(self.layout.root()).await;
    }

    /// [`Error::ImportServer`] saying `what`, with the end of its error log.
    fn failed(&self, what: String) -> Error {
        let log_tail = ferryman_mariadbd::log_excerpt(&self.layout.error_log());
        self.failed_with(what, log_tail)
    }

    fn failed_with(&self, what: String, log_tail: String) -> Error {
        Error::ImportServer {
            staging: self.staging.clone(),
            what,
            log_tail,
        }
    }

    /// A failure of the server, in the agent's words.
    fn server_error(&self, ctx: &TaskCtx<'_>, e: ferryman_mariadbd::Error) -> Error {
        use ferryman_mariadbd::Error as E;
        match e {
            E::Exec(e) => Error::Exec(e),
            E::Install { status, output, .. } => self.failed_with(
                format!("could not be installed (mariadb-install-db: {status})"),
                output,
            ),
            E::Exited { log_excerpt, .. } => {
                self.failed_with("exited while starting".to_owned(), log_excerpt)
            }
            E::NotReady {
                seconds,
                last_error,
                log_excerpt,
                ..
            } => self.failed_with(
                format!("did not accept connections within {seconds} s ({last_error})"),
                log_excerpt,
            ),
            E::Cancelled { during } => {
                interrupted(ctx, &during.replace("the server", "the import server"))
            }
            other => self.failed(other.to_string()),
        }
    }
}

/// `receiving: importing 12 MiB of 40 MiB`.
fn importing(got: u64, expected: Option<u64>) -> String {
    match expected {
        Some(total) => format!(
            "receiving: importing {} of {}",
            progress::bytes(got),
            progress::bytes(total)
        ),
        None => format!("receiving: importing {}", progress::bytes(got)),
    }
}

/// Keeps the last [`TAIL_KEEP`] bytes seen (trimmed in amortised O(1) per byte).
fn keep_tail(tail: &mut Vec<u8>, chunk: &[u8]) {
    tail.extend_from_slice(&chunk[chunk.len().saturating_sub(TAIL_KEEP)..]);
    if tail.len() >= 2 * TAIL_KEEP {
        tail.drain(..tail.len() - TAIL_KEEP);
    }
}

/// Creates the run directory (0700) next to the datadir, after stopping an import server an
/// earlier run of this job left there (an agent killed mid-import) and removing it.
fn create_run_dir(plan: &Plan) -> Result<PathBuf> {
    let dir = plan.import_run_dir();
    stop_leftover(plan);
    if std::fs::symlink_metadata(&dir).is_ok() {
        std::fs::remove_dir_all(&dir)
            .map_err(Error::io("remove the leftover run directory", &dir))?;
    }
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(Error::io("create the import server's run directory", &dir))?;
    Ok(dir)
}

/// Stops an import server of this job that still runs (found by its pid file, checked to be
/// a process of this job's run directory, so that a recycled PID is never signalled).
pub(super) fn stop_leftover(plan: &Plan) {
    let Some(pid) = ferryman_mariadbd::running_pid(&Layout::new(plan.import_run_dir())) else {
        return;
    };
    tracing::warn!(
        pid,
        "stopping the import server an earlier run of this job left"
    );
    if let Err(e) = process::kill_now(pid) {
        tracing::warn!(pid, error = %e, "cannot stop the leftover import server");
    }
}

/// `--user=NAME` of the datadir's owner when the agent runs as root (mariadbd refuses to run
/// as root unless told to, and must create files the server's user can use); nothing else.
fn run_as(plan: &Plan) -> Result<Option<OsString>> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(None);
    }
    let meta = std::fs::metadata(&plan.datadir).map_err(Error::io("read", &plan.datadir))?;
    let uid = meta.uid();
    let name = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| uid.to_string());
    Ok(Some(format!("--user={name}").into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_keeps_the_last_bytes_only() {
        let mut tail = Vec::new();
        for _ in 0..5 {
            keep_tail(&mut tail, &[b'x'; 5000]);
        }
        keep_tail(&mut tail, b"\n-- Dump completed on 2026-11-21\n");
        assert!(tail.len() <= 2 * TAIL_KEEP);
        assert!(logical::ends_with_footer(&tail));
    }

    #[test]
    fn progress_says_how_much_was_imported() {
        assert_eq!(importing(0, None), "receiving: importing 0 B");
        assert!(importing(1 << 20, Some(2 << 20)).starts_with("receiving: importing 1.00 MiB of"));
    }
}
