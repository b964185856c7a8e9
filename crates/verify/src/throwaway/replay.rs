//! Archived binlog replayed on a restored server: `mariadb-binlog` decodes the segments from
//! after the backup's GTID position up to the point (inclusive), and its output is piped into
//! the `mariadb` client, as a DBA would by hand.

use std::path::PathBuf;
use std::time::Instant;

use ferryman_exec::{Program, Streaming};
use tokio_util::io::SyncIoBridge;

use super::{feed, Throwaway, Timings};
use crate::{Error, Result};

impl Throwaway {
    /// Replays the binlog `files` (in order) after GTID position `start` up to `stop`
    /// (inclusive). Step `replay`; bytes: the decoded SQL the client took.
    pub async fn replay_binlogs(
        &self,
        files: &[PathBuf],
        start: &str,
        stop: &str,
    ) -> Result<Timings> {
        let decoder = Program::find("mariadb-binlog", "mariadb-client")
            .or_else(|_| Program::find("mysqlbinlog", "mariadb-client"))?;
        let mut args: Vec<std::ffi::OsString> = vec![
            "--no-defaults".into(),
            format!("--start-position={start}").into(),
            format!("--stop-position={stop}").into(),
        ];
        args.extend(files.iter().map(|f| f.as_os_str().to_owned()));
        let mut timings = Timings::default();
        let started = Instant::now();
        let mut decoding = decoder
            .command()
            .args(&args)
            .spawn_streaming(&Streaming::default())?;
        let Some(stdout) = decoding.take_stdout() else {
            let _ = decoding.kill().await;
            return Err(Error::Worker(
                "mariadb-binlog's stdout was not captured".to_owned(),
            ));
        };
        let (client, client_args) = self.client()?;
        let fed = feed::feed(
            &client,
            client_args,
            Box::new(SyncIoBridge::new(stdout)),
            "replaying",
        )
        .await;
        let decoded = decoding.wait().await?;
        let fed = fed?;
        timings.bytes = fed.bytes;
        if !decoded.status.success() {
            return Err(Error::Restore {
                step: "replay",
                reason: format!(
                    "`{}` failed ({}): {}; the archived segments cannot be decoded from {start} to {stop}",
                    decoder.name(),
                    decoded.status,
                    feed::or_nothing(&decoded.stderr_tail(feed::TAIL_LINES))
                ),
            });
        }
        if let Err(what) = fed.check(&client) {
            return Err(Error::Restore {
                step: "replay",
                reason: format!(
                    "{what}; a replayed transaction failed on the restored backup (the segments do not continue this backup, or the data differs)"
                ),
            });
        }
        timings.record("replay", started);
        tracing::info!(dir = %self.dir().display(), bytes = timings.bytes, %start, %stop, "binlog replayed");
        Ok(timings)
    }
}
