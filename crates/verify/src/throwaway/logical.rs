//! Logical restores on a running throwaway server: a SQL dump piped into the `mariadb`
//! client, a mydumper archive extracted with `tar` and loaded with `myloader`.

use std::io::Read;
use std::path::Path;
use std::time::Instant;

use ferryman_db::Session;
use ferryman_exec::Program;

use ferryman_mariadbd::defaults_file::MAX_PACKET;
use ferryman_mariadbd::load::{
    find_metadata, loader_threads, myloader_args, myloader_failed, write_myloader_cnf,
};
use ferryman_mariadbd::sweep::remove_dir;

use super::{feed, layout, worker, Throwaway, Timings};
use crate::{Error, Result};

/// Debian package of the `mariadb` client.
const CLIENT_PACKAGE: &str = "mariadb-client";

impl Throwaway {
    /// [`Throwaway::import_sql`].
    pub(super) async fn import_dump(&self, payload: Box<dyn Read + Send>) -> Result<Timings> {
        let (client, args) = self.client()?;
        let mut timings = Timings::default();
        let started = Instant::now();
        tracing::debug!(dir = %self.dir().display(), "importing a dump");
        let fed = feed::feed(&client, args, payload, "importing").await?;
        timings.bytes = fed.bytes;
        if let Err(what) = fed.check(&client) {
            return Err(Error::Restore {
                step: "import",
                reason: format!(
                    "{what}{}; the dump is damaged or incompatible with this MariaDB version",
                    self.death_notice()
                ),
            });
        }
        timings.record("import", started);
        self.ensure_root_access(&mut timings, "import").await?;
        tracing::info!(dir = %self.dir().display(), bytes = timings.bytes, "dump imported");
        Ok(timings)
    }

    /// The `mariadb` client and its arguments for a session of ours on the server's socket.
    pub(super) fn client(&self) -> Result<(Program, Vec<String>)> {
        let client = Program::find("mariadb", CLIENT_PACKAGE)
            .or_else(|_| Program::find("mysql", CLIENT_PACKAGE))?;
        let args = vec![
            // Nothing from option files: this session is ours alone.
            "--no-defaults".to_owned(),
            format!("--socket={}", self.paths.socket().display()),
            "--user=root".to_owned(),
            // Bytes as they are (a dump's strings may hold \r\n and \0); DELIMITER still works.
            "--binary-mode".to_owned(),
            format!("--max-allowed-packet={}", MAX_PACKET),
        ];
        Ok((client, args))
    }

    /// [`Throwaway::load_mydumper`].
    pub(super) async fn load_archive(&self, payload: Box<dyn Read + Send>) -> Result<Timings> {
        let tar = Program::find("tar", "tar")?;
        let myloader = Program::find("myloader", "mydumper")?;
        let mut timings = Timings::default();
        let load = layout::load_dir(&self.paths);
        let started = Instant::now();
        let fresh = load.clone();
        tokio::task::spawn_blocking(move || fresh_dir(&fresh))
            .await
            .map_err(worker)??;
        let args = [
            "-x".as_ref(),
            "-f".as_ref(),
            "-".as_ref(),
            // The files are read by myloader as this user, whoever made the archive.
            "--no-same-owner".as_ref(),
            "-C".as_ref(),
            load.as_os_str(),
        ];
        let fed = feed::feed(&tar, args, payload, "extracting").await?;
        timings.bytes = fed.bytes;
        // tar stops reading at the end-of-archive blocks; padding after them is no harm (the
        // repository checked the archive's end when it stored it).
        if let Err(what) = fed.check_exit(&tar) {
            return Err(Error::Restore {
                step: "extract",
                reason: format!(
                    "{what}; the archive is cut short or damaged: verify the backup's checksums"
                ),
            });
        }
        let search = load.clone();
        let Some(dump_dir) = tokio::task::spawn_blocking(move || find_metadata(&search))
            .await
            .map_err(worker)?
        else {
            return Err(Error::Restore {
                step: "extract",
                reason: "the archive holds no mydumper `metadata` file, so it is not a mydumper \
                         backup (or was cut short before mydumper finished)"
                    .to_owned(),
            });
        };
        timings.record("extract", started);

        let started = Instant::now();
        let cnf = layout::myloader_cnf(&self.paths);
        write_myloader_cnf(&cnf).map_err(Error::io("write", &cnf))?;
        let args = myloader_args(&cnf, &dump_dir, &self.paths.socket(), loader_threads());
        tracing::debug!(dir = %self.dir().display(), "loading a mydumper backup");
        let finished = feed::run(&myloader, args).await?;
        // Free the space now: the extracted files are as large as the loaded data.
        let extracted = load.clone();
        if let Err(e) = tokio::task::spawn_blocking(move || remove_dir(&extracted))
            .await
            .map_err(worker)?
        {
            tracing::warn!(dir = %load.display(), error = %e, "cannot remove the extracted mydumper files");
        }
        if myloader_failed(&finished) {
            return Err(Error::Restore {
                step: "import",
                reason: format!(
                    "`myloader` failed ({}): {}{}; the dump is damaged or incompatible with this MariaDB version",
                    finished.status,
                    feed::or_nothing(&finished.stderr_tail(feed::TAIL_LINES)),
                    self.death_notice()
                ),
            });
        }
        // myloader writes the `mysql` schema's tables like any other, but (unlike a dump's
        // `FLUSH PRIVILEGES`) does not make the server use them: views and routines whose
        // definer is one of the loaded accounts would fail with "definer does not exist".
        self.flush_privileges().await?;
        timings.record("import", started);
        self.ensure_root_access(&mut timings, "import").await?;
        tracing::info!(dir = %self.dir().display(), bytes = timings.bytes, "mydumper backup loaded");
        Ok(timings)
    }

    /// `FLUSH PRIVILEGES`: the server uses the accounts now in the `mysql` schema.
    async fn flush_privileges(&self) -> Result<()> {
        use ferryman_db::mysql_async::prelude::Queryable;
        let endpoint = self.endpoint();
        let mut conn = endpoint
            .connect(Session::Plain)
            .await
            .map_err(|e| Error::Restore {
                step: "import",
                reason: format!("cannot connect after the load: {e}{}", self.death_notice()),
            })?;
        let flushed = conn.query_drop("FLUSH PRIVILEGES").await;
        let _ = conn.disconnect().await;
        flushed.map_err(|e| Error::Restore {
            step: "import",
            reason: format!(
                "the loaded accounts (`mysql` schema) are not usable, FLUSH PRIVILEGES failed: {e}"
            ),
        })
    }
}

/// Removes `dir` if it exists and creates it empty (0700).
fn fresh_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    remove_dir(dir).map_err(Error::io("remove", dir))?;
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(dir)
        .map_err(Error::io("create", dir))
}
