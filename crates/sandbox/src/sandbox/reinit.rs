//! Replacing a replica with an empty server, as a newly provisioned host would be.
//!
//! A replica whose data was lost cannot start, so its agent, which reads its jobs from a table
//! on that very server, cannot receive a reseed. A DBA provisions an empty server in its place
//! (install an empty datadir, start it, create the administrative accounts) and reseeds that.
//! [`Sandbox::reinit_server`] is that step for a sandbox server, through the same code as
//! `up` (`server::install`, `server::start`, `accounts::create`).

use crate::accounts;
use crate::server::{self, Binaries};
use crate::{Error, Result};

use super::Sandbox;

impl Sandbox {
    /// Replaces the replica called `name` with an empty server: stops it by PID if it runs,
    /// deletes its datadir and tmpdir, installs an empty datadir (`mariadb-install-db` with
    /// its defaults file, as `up` does), starts it and creates the sandbox accounts, so its
    /// agent and the manager can log in again. Returns its PID.
    ///
    /// Replication is not configured: like a newly provisioned host it replicates from no one
    /// until a reseed restores a backup and points it at the primary.
    ///
    /// The sandbox's primary is refused: every replica reads from it. Once the old data is
    /// deleted, a failure says so and that running this again is the way on.
    pub async fn reinit_server(&self, name: &str) -> Result<u32> {
        let spec = self.server_named(name)?;
        if spec.primary {
            return Err(Error::ReinitPrimary {
                dir: self.layout.dir().to_owned(),
                name: spec.name.clone(),
            });
        }
        let bins = Binaries::find()?;
        self.stop_server(name).await?;
        let paths = self.layout.server(&spec.name);
        // The whole datadir goes, not only its contents: binary logs, relay logs and InnoDB
        // files of the old server must not be mixed with the new one's. `install` recreates
        // it (and the tmpdir) as `up` does.
        for dir in [paths.datadir(), paths.tmpdir()] {
            match std::fs::remove_dir_all(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("remove", &dir)(e)),
            }
        }
        let provision = async {
            server::install(&bins, spec, &paths).await?;
            // The new server has only root over the socket until the accounts exist.
            let root = accounts::root_endpoint(&spec.name, spec.port, &paths.socket());
            let pid = server::start(&bins, spec, &paths, &root).await?;
            accounts::create(&root, &self.passwords).await?;
            Ok(pid)
        };
        match provision.await {
            Ok(pid) => {
                tracing::info!(server = %spec.name, pid, "replaced by an empty server");
                Ok(pid)
            }
            Err(e) => {
                // Not left running half-provisioned: without the accounts nothing can use it.
                let _ = self.stop_server(name).await;
                Err(Error::ReinitFailed {
                    dir: self.layout.dir().to_owned(),
                    name: spec.name.clone(),
                    cause: Box::new(e),
                })
            }
        }
    }
}
