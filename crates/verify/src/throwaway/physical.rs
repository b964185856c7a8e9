//! A physical backup on a throwaway server: the xbstream extracted into the datadir,
//! prepared with the backup's own `backup-my.cnf`, started with its InnoDB layout.

use std::io::Read;
use std::time::Instant;

use ferryman_exec::Program;

use super::{defaults_file, feed, layout, worker, Throwaway, Timings};
use crate::{Error, Result};

/// The last line of a successful prepare (on stderr).
const PREPARED: &str = "completed OK!";

impl Throwaway {
    /// Extracts, prepares and starts: the body of [`Throwaway::physical`].
    pub(super) async fn restore_physical(
        &mut self,
        extractor: &Program,
        preparer: &Program,
        payload: Box<dyn Read + Send>,
        timings: &mut Timings,
    ) -> Result<()> {
        let datadir = self.paths.datadir();
        let started = Instant::now();
        let args = ["-x".as_ref(), "-C".as_ref(), datadir.as_os_str()];
        tracing::debug!(dir = %self.dir().display(), "extracting a physical backup");
        let fed = feed::feed(extractor, args, payload, "extracting").await?;
        timings.bytes = fed.bytes;
        fed.check(extractor).map_err(|what| Error::Restore {
            step: "extract",
            reason: format!(
                "{what}; the stream is cut short or damaged: verify the backup's checksums, and take a new backup"
            ),
        })?;
        timings.record("extract", started);

        let started = Instant::now();
        let finished = feed::run(preparer, self.prepare_args()).await?;
        if !finished.status.success() || !finished.stderr_tail(5).contains(PREPARED) {
            return Err(Error::Restore {
                step: "prepare",
                reason: format!(
                    "`{} --prepare` {}: {}; the backup cannot be made consistent, or was taken by a server of another major version than the installed `{}`",
                    preparer.name(),
                    if finished.status.success() {
                        format!("did not end with `{PREPARED}`")
                    } else {
                        format!("failed ({})", finished.status)
                    },
                    feed::or_nothing(&finished.stderr_tail(feed::TAIL_LINES)),
                    preparer.name()
                ),
            });
        }
        timings.record("prepare", started);

        let started = Instant::now();
        let backup_cnf = layout::backup_cnf(&self.paths);
        self.cnf.layout =
            tokio::task::spawn_blocking(move || defaults_file::backup_layout(&backup_cnf))
                .await
                .map_err(worker)??;
        self.cnf.skip_grant_tables = true;
        self.start().await.map_err(|reason| Error::Restore {
            step: "start",
            reason: format!(
                "{reason}; the prepared backup does not start on the installed MariaDB (damaged, or from another version)"
            ),
        })?;
        timings.record("start", started);
        Ok(())
    }

    /// The prepare's arguments. The only option file read is the backup's own
    /// (`backup-my.cnf`: page size, log and undo layout), first, as the tools require; never
    /// `/etc/mysql`, whose `innodb_*` paths belong to the host's server.
    fn prepare_args(&self) -> Vec<std::ffi::OsString> {
        let cnf = layout::backup_cnf(&self.paths);
        let defaults = if cnf.is_file() {
            format!("--defaults-file={}", cnf.display())
        } else {
            "--no-defaults".to_owned()
        };
        vec![
            defaults.into(),
            "--prepare".into(),
            format!("--target-dir={}", self.paths.datadir().display()).into(),
            format!("--use-memory={}M", self.cnf.buffer_pool_mib).into(),
        ]
    }
}
