//! A throwaway server's data streamed out as a physical backup: `mariabackup --backup
//! --stream=xbstream` run against it, so that a copy restored and rolled forward on the
//! manager (a flashback to a point) reaches a replica in the form every joiner already
//! restores, extracted and prepared there like any stored backup.
//!
//! The stream is trusted only once `mariabackup` exited 0 and said `completed OK!`
//! ([`BackupStream::finish`]); whoever passes the bytes on must not vouch for them before.
//! The server is removed when the stream is finished or dropped, whatever happened.

use tokio::process::ChildStdout;

use ferryman_exec::{Program, Running, Streaming};

use super::{feed, layout, Throwaway};
use crate::{Error, Result};

/// The tool's last words on success.
const COMPLETED: &str = "completed OK!";

/// A physical backup of a throwaway server, on its way out.
#[derive(Debug)]
pub struct BackupStream {
    running: Running,
    server: Throwaway,
}

impl Throwaway {
    /// Starts `mariabackup --backup --stream=xbstream` against this server (its own defaults
    /// file: datadir and InnoDB layout; its socket, as `root`), with temporary files inside
    /// the server's directory. Take the stream with [`BackupStream::take_stdout`].
    pub async fn backup_stream(self) -> Result<BackupStream> {
        let program = Program::find("mariabackup", "mariadb-backup")?;
        let scratch = layout::backup_scratch(&self.paths);
        let fresh = scratch.clone();
        tokio::task::spawn_blocking(move || std::fs::create_dir_all(&fresh))
            .await
            .map_err(super::worker)?
            .map_err(Error::io("create", &scratch))?;
        let args: Vec<std::ffi::OsString> = vec![
            // The tool accepts its defaults option only first.
            self.paths.defaults_file_arg(),
            "--backup".into(),
            "--stream=xbstream".into(),
            format!("--target-dir={}", scratch.display()).into(),
            format!("--tmpdir={}", scratch.display()).into(),
            format!("--socket={}", self.paths.socket().display()).into(),
            "--user=root".into(),
            // The server runs with skip-grant-tables (the restored accounts' passwords are
            // unknown), where SHOW GRANTS fails; root may do everything anyway.
            "--skip-check-privileges".into(),
        ];
        let running = program
            .command()
            .args(&args)
            .spawn_streaming(&Streaming::default())?;
        tracing::info!(dir = %self.dir().display(), "streaming the copy with mariabackup --backup");
        Ok(BackupStream {
            running,
            server: self,
        })
    }
}

impl BackupStream {
    /// The stream (once).
    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.running.take_stdout()
    }

    /// Waits for the tool, then removes the server. `Ok` only when the tool exited 0 and said
    /// `completed OK!`: only then is what it wrote a whole backup.
    pub async fn finish(self) -> Result<()> {
        let BackupStream { running, server } = self;
        let ended = running.wait().await;
        let removed = server.remove().await;
        let ended = ended?;
        if !ended.status.success() || !ended.stderr.contains(COMPLETED) {
            return Err(Error::Restore {
                step: "backup",
                reason: format!(
                    "`mariabackup --backup` of the restored copy failed ({}): {}",
                    ended.status,
                    feed::or_nothing(&ended.stderr_tail(feed::TAIL_LINES))
                ),
            });
        }
        if let Err(e) = removed {
            tracing::warn!(error = %e, "the copy was streamed whole, but its throwaway server was not removed cleanly");
        }
        Ok(())
    }

    /// Stops the tool and removes the server, when the stream is abandoned.
    pub async fn abandon(self) {
        let BackupStream { running, server } = self;
        let _ = running.kill().await;
        if let Err(e) = server.remove().await {
            tracing::warn!(error = %e, "the abandoned copy's throwaway server was not removed cleanly");
        }
    }
}
