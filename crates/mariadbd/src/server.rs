//! Installing, starting, waiting for and stopping one server.
//!
//! The server runs as a daemon (its own process group, stdout and stderr appended to
//! [`Layout::stdout_log`]) so that it can outlive its starter, as a sandbox's servers do;
//! an owner that must not leave it behind holds a [`Server`], which kills it when dropped.

use std::ffi::OsString;
use std::path::Path;
use std::time::{Duration, Instant};

use ferryman_db::{Endpoint, Session};
use ferryman_exec::process;
use tokio_util::sync::CancellationToken;

use crate::defaults_file::write_file;
use crate::process::runs_in;
use crate::{Binaries, Error, Layout, Result};

/// How many error-log lines a failure quotes.
const LOG_LINES: usize = 8;
/// How often readiness and shutdown are polled.
const POLL: Duration = Duration::from_millis(100);

/// Creates an empty datadir with `mariadb-install-db`: `args` first (the defaults file, which
/// must come first, and whatever the owner adds: `--datadir`, `--user`), then a `root` without
/// password (reachable only through the socket) and no test database. Everything it printed
/// goes to [`Layout::install_log`].
pub async fn install(bins: &Binaries, layout: &Layout, args: &[OsString]) -> Result<()> {
    let out = bins
        .install_db
        .command()
        .args(args)
        .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
        .output()
        .await?;
    let printed = format!("{}\n{}", out.stdout, out.stderr);
    // Best effort: the log is for humans, the outcome is the exit status.
    let _ = write_file(&layout.install_log(), printed.as_bytes(), 0o644);
    if out.status.success() {
        return Ok(());
    }
    let tail = ferryman_exec::command::tail(&printed, LOG_LINES);
    Err(Error::Install {
        datadir: layout.datadir(),
        status: out.status,
        output: if tail.is_empty() {
            "(nothing printed)".to_owned()
        } else {
            tail
        },
    })
}

/// Starts `mariadbd` with `args` (the defaults file first: `mariadbd` ignores it anywhere
/// else) as a daemon, without waiting for it. Returns its PID.
pub fn spawn(bins: &Binaries, layout: &Layout, args: &[OsString]) -> Result<u32> {
    // A stale socket (a crash, a restart) would confuse the readiness probe, a stale pid file
    // whoever looks for the server: remove both.
    let _ = std::fs::remove_file(layout.pid_file());
    let _ = std::fs::remove_file(layout.socket());
    let pid = bins
        .mariadbd
        .command()
        .args(args)
        .spawn_daemon(&layout.stdout_log())?;
    tracing::debug!(pid, dir = %layout.root().display(), "mariadbd started");
    Ok(pid)
}

/// Waits until the server `pid` accepts `probe`'s connections: [`Error::Exited`] when it
/// exits first, [`Error::NotReady`] when `timeout` passes, [`Error::Cancelled`] when `cancel`
/// fires. The server is left as it is either way.
pub async fn wait_ready(
    layout: &Layout,
    pid: u32,
    probe: &Endpoint,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<()> {
    let started = Instant::now();
    loop {
        if !process::is_running(pid) {
            return Err(Error::Exited {
                pid,
                log: layout.error_log(),
                log_excerpt: log_excerpt(&layout.error_log()),
            });
        }
        match probe.connect(Session::Plain).await {
            Ok(conn) => {
                let _ = conn.disconnect().await;
                return Ok(());
            }
            Err(e) if started.elapsed() > timeout => {
                return Err(Error::NotReady {
                    pid,
                    seconds: timeout.as_secs(),
                    last_error: e.to_string(),
                    log: layout.error_log(),
                    log_excerpt: log_excerpt(&layout.error_log()),
                });
            }
            Err(_) => {}
        }
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            () = cancel.cancelled() => return Err(Error::Cancelled { during: "starting the server" }),
        }
    }
}

/// Stops the server of `layout` by PID, if it runs (SIGTERM, then SIGKILL after `grace`).
/// Blocking: call it from `spawn_blocking` in async code.
pub fn stop(layout: &Layout, grace: Duration) -> Result<()> {
    if let Some(pid) = crate::running_pid(layout) {
        stop_pid(pid, layout.root(), grace)?;
    }
    Ok(())
}

/// Stops `pid` as [`stop`] does, when it is still a process of `dir`. Blocking.
pub fn stop_pid(pid: u32, dir: &Path, grace: Duration) -> Result<()> {
    if runs_in(pid, dir) {
        tracing::debug!(pid, dir = %dir.display(), "stopping mariadbd");
        process::stop(pid, grace)?;
    }
    Ok(())
}

/// How a [`Server::stop`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// It shut down after SIGTERM and logged `Shutdown complete`: its datadir is consistent.
    Clean,
    /// It exited after SIGTERM without logging a complete shutdown (it crashed meanwhile).
    Unclean,
    /// It did not exit within the grace period and was killed.
    Killed,
}

/// A server this process started and owns: dropped without [`Server::stop`] or
/// [`Server::detach`], it is killed (SIGKILL, blocking), so that a failed or cancelled owner
/// never leaves it running.
#[derive(Debug)]
pub struct Server {
    layout: Layout,
    pid: u32,
    owned: bool,
}

impl Server {
    /// [`spawn`], then [`wait_ready`]; a server that does not get ready is killed.
    pub async fn start(
        bins: &Binaries,
        layout: &Layout,
        args: &[OsString],
        probe: &Endpoint,
        timeout: Duration,
        cancel: &CancellationToken,
    ) -> Result<Server> {
        let server = Server {
            pid: spawn(bins, layout, args)?,
            layout: layout.clone(),
            owned: true,
        };
        wait_ready(layout, server.pid, probe, timeout, cancel).await?;
        Ok(server)
    }

    /// Its PID.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Its files.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Leaves the server running on its own (found again through its pid file). Returns its
    /// PID.
    pub fn detach(mut self) -> u32 {
        self.owned = false;
        self.pid
    }

    /// Shuts the server down: SIGTERM, then SIGKILL when it has not exited within `grace`, or
    /// at once when `cancel` fires ([`Error::Cancelled`]).
    pub async fn stop(mut self, grace: Duration, cancel: &CancellationToken) -> Result<Stopped> {
        let pid = self.pid;
        if !runs_in(pid, self.layout.root()) {
            self.owned = false;
            return Ok(self.exited());
        }
        if let Ok(raw) = i32::try_from(pid) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(raw),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        let deadline = Instant::now() + grace;
        while process::is_running(pid) {
            if Instant::now() >= deadline {
                tracing::warn!(
                    pid,
                    grace_s = grace.as_secs(),
                    "mariadbd ignored SIGTERM, sending SIGKILL"
                );
                self.kill_now().await?;
                return Ok(Stopped::Killed);
            }
            tokio::select! {
                () = tokio::time::sleep(POLL) => {}
                () = cancel.cancelled() => {
                    self.kill_now().await?;
                    return Err(Error::Cancelled { during: "shutting the server down" });
                }
            }
        }
        self.owned = false;
        Ok(self.exited())
    }

    /// How a server that exited after SIGTERM ended, by its error log.
    fn exited(&self) -> Stopped {
        if shutdown_complete(&self.layout.error_log()) {
            Stopped::Clean
        } else {
            Stopped::Unclean
        }
    }

    /// Kills the server at once (SIGKILL): its datadir is thrown away.
    pub async fn kill(mut self) -> Result<()> {
        self.kill_now().await
    }

    async fn kill_now(&mut self) -> Result<()> {
        let pid = self.pid;
        let killed = tokio::task::spawn_blocking(move || process::kill_now(pid)).await;
        self.owned = false;
        match killed {
            Ok(res) => Ok(res?),
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if !self.owned || !runs_in(self.pid, self.layout.root()) {
            return;
        }
        // Blocking on purpose: Drop cannot await, and a dropped owner must not leave it running.
        tracing::info!(pid = self.pid, dir = %self.layout.root().display(), "mariadbd dropped while running: killing it");
        if let Err(e) = process::kill_now(self.pid) {
            tracing::warn!(pid = self.pid, error = %e, "cannot kill a dropped mariadbd");
        }
    }
}

/// True when the log's last line says the server shut down completely.
fn shutdown_complete(log: &Path) -> bool {
    std::fs::read_to_string(log).is_ok_and(|text| {
        text.lines()
            .rfind(|l| !l.trim().is_empty())
            .is_some_and(|l| l.contains("Shutdown complete"))
    })
}

/// The error log's `[ERROR]` lines and last lines, joined with " | " for one message line (a
/// throwaway directory, log included, is removed after a failure, so the message must carry
/// them).
pub fn log_excerpt(log: &Path) -> String {
    let Ok(text) = std::fs::read_to_string(log) else {
        return "(no error log)".to_owned();
    };
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .collect();
    if lines.is_empty() {
        return "(empty)".to_owned();
    }
    // The server says what went wrong in [ERROR] lines, then a few generic ones ("Aborting").
    let errors: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].contains("[ERROR]"))
        .collect();
    let mut keep: Vec<usize> = errors[errors.len().saturating_sub(LOG_LINES / 2)..].to_vec();
    keep.extend(lines.len().saturating_sub(LOG_LINES / 2)..lines.len());
    keep.sort_unstable();
    keep.dedup();
    keep.iter()
        .map(|&i| lines[i])
        .collect::<Vec<_>>()
        .join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_excerpt_keeps_errors_and_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("err.log");
        let mut text = String::from("2026 [Note] start\n2026 [ERROR] InnoDB: bad page size\n");
        for i in 0..20 {
            text.push_str(&format!("2026 [Note] line {i}\n"));
        }
        text.push_str("2026 [ERROR] Aborting\n");
        std::fs::write(&log, text).unwrap();
        let excerpt = log_excerpt(&log);
        assert!(
            excerpt.starts_with("2026 [ERROR] InnoDB: bad page size"),
            "{excerpt}"
        );
        assert!(excerpt.ends_with("2026 [ERROR] Aborting"), "{excerpt}");
        assert!(!excerpt.contains("line 5"), "{excerpt}");
        assert_eq!(log_excerpt(&dir.path().join("none")), "(no error log)");
    }

    #[test]
    fn a_complete_shutdown_is_the_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("err.log");
        std::fs::write(&log, "[Note] /usr/sbin/mariadbd: Shutdown complete\n\n").unwrap();
        assert!(shutdown_complete(&log));
        std::fs::write(
            &log,
            "[Note] /usr/sbin/mariadbd: Shutdown complete\n[Note] starting\n",
        )
        .unwrap();
        assert!(!shutdown_complete(&log));
        assert!(!shutdown_complete(&dir.path().join("none")));
    }
}
