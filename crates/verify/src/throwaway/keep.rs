//! A throwaway server kept as a restored copy (`ferryman restore`): stopped cleanly, its
//! directory moved to where the DBA asked, its defaults file rewritten for the new place,
//! and, on request, started again there and left running.
//!
//! ```text
//! TARGET/        0700, the throwaway's layout (see `layout.rs`)
//!     my.cnf     the defaults file: `mariadbd --defaults-file=TARGET/my.cnf` starts it
//!     data/      the datadir
//!     sock       the socket, once started (no TCP)
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use ferryman_db::Endpoint;
use ferryman_mariadbd::server::stop_pid;
use ferryman_mariadbd::{Binaries, Layout};
use tokio_util::sync::CancellationToken;

use super::{layout, worker, Throwaway, STOP_GRACE};
use crate::{Error, Result};

/// A restored copy in its own directory, no longer a throwaway.
#[derive(Debug, Clone)]
pub struct Kept {
    paths: Layout,
}

/// What a throwaway directory holds only while it is one.
const TRANSIENT: [&str; 6] = [
    "sock",
    "pid",
    "load",
    "replay",
    "myloader.cnf",
    "install.log",
];

impl Throwaway {
    /// Stops the server cleanly (what it applied is in its files), moves its directory to
    /// `target` (which must not exist; on the same file system as the work directory),
    /// rewrites the defaults file for the new place, and gives up ownership: nothing is
    /// removed any more. On error the throwaway is removed as usual.
    pub async fn keep(mut self, target: &Path) -> Result<Kept> {
        let dir = self.paths.root().to_owned();
        if let Some(pid) = self.pid() {
            let at = dir.clone();
            tokio::task::spawn_blocking(move || stop_pid(pid, &at, STOP_GRACE))
                .await
                .map_err(worker)??;
            self.pid.store(0, std::sync::atomic::Ordering::Relaxed);
        }
        for name in TRANSIENT {
            let path = dir.join(name);
            let removed = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            match removed {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("remove", &path)(e)),
            }
        }
        std::fs::rename(&dir, target).map_err(Error::io("move the restored copy to", target))?;
        self.removed = true;
        let paths = layout::paths(target.to_owned());
        self.cnf.durable = true;
        self.cnf.write(&paths)?;
        Ok(Kept { paths })
    }
}

impl Kept {
    /// The copy's directory.
    pub fn dir(&self) -> &Path {
        self.paths.root()
    }

    /// Its datadir.
    pub fn datadir(&self) -> PathBuf {
        self.paths.datadir()
    }

    /// Its defaults file.
    pub fn defaults_file(&self) -> PathBuf {
        self.paths.defaults_file()
    }

    /// The socket it listens on once started.
    pub fn socket(&self) -> PathBuf {
        self.paths.socket()
    }

    /// Starts `mariadbd` on the copy, detached (it outlives this process), and waits until it
    /// answers; returns its PID.
    pub async fn start(&self, timeout: Duration) -> Result<u32> {
        let bins = Binaries::find()?;
        let args = [self.paths.defaults_file_arg()];
        let pid = ferryman_mariadbd::spawn(&bins, &self.paths, &args)?;
        let endpoint = Endpoint {
            name: format!("the restored copy in {}", self.dir().display()),
            host: "localhost".into(),
            port: 0,
            socket: Some(self.socket()),
            user: "root".into(),
            password: None,
            ssl: Default::default(),
        };
        ferryman_mariadbd::wait_ready(
            &self.paths,
            pid,
            &endpoint,
            timeout,
            &CancellationToken::new(),
        )
        .await
        .map_err(|e| Error::Restore {
            step: "start",
            reason: format!(
                "{e}; the restored copy in {} does not start: its error log is {}",
                self.dir().display(),
                self.paths.error_log().display()
            ),
        })?;
        Ok(pid)
    }
}
