//! Finding the server programs.

use std::path::Path;

use ferryman_exec::Program;

/// Debian packages that provide the server programs, named when one is missing.
pub const SERVER_PACKAGES: &str = "mariadb-server mariadb-client";

/// Environment variable naming a directory that holds `mariadbd` and `mariadb-install-db` (e.g.
/// an unpacked MariaDB tarball's `bin/`), to run private servers of another version than the
/// installed one. Unset: the installed programs.
pub const BINDIR_ENV: &str = "FERRYMAN_MARIADB_BINDIR";

/// The server programs.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// `mariadbd`.
    pub mariadbd: Program,
    /// `mariadb-install-db`.
    pub install_db: Program,
}

impl Binaries {
    /// Finds `mariadbd` and `mariadb-install-db` (in `$FERRYMAN_MARIADB_BINDIR` when set, else
    /// on `PATH` and in the sbin directories); a missing one is an error naming the packages to
    /// install.
    pub fn find() -> ferryman_exec::Result<Binaries> {
        let bindir = std::env::var_os(BINDIR_ENV);
        let find = |name: &str| match &bindir {
            Some(dir) => Program::at(&Path::new(dir).join(name), SERVER_PACKAGES),
            None => Program::find(name, SERVER_PACKAGES),
        };
        Ok(Binaries {
            mariadbd: find("mariadbd")?,
            install_db: find("mariadb-install-db")?,
        })
    }
}
