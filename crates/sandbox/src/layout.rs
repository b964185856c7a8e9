//! Where everything lives under a sandbox directory.
//!
//! ```text
//! DIR/sandbox.json            which servers exist (state of a plain sandbox)
//! DIR/galera.json             which clusters and nodes exist (state of a Galera sandbox)
//! DIR/ferryman.toml           configuration for this topology
//! DIR/secrets/*.pass          0600 password files of the accounts the sandbox created
//! DIR/manager/                the manager's data directory (backups, logs)
//! DIR/agent/                  the agents' scratch directory
//! DIR/verify/                 the verifier's throwaway servers
//! DIR/servers/NAME/           one server: the standard layout of `ferryman_mariadbd::Layout`
//!     my.cnf  data/  tmp/  sock  mariadbd.pid  err.log  slow.log  stdout.log  install.log
//!     sst-log-archive/        a Galera node's SST logs
//! ```

use std::path::{Path, PathBuf};

/// Paths of one sandbox.
#[derive(Debug, Clone)]
pub struct Layout {
    dir: PathBuf,
}

impl Layout {
    /// The layout of the sandbox rooted at `dir` (made absolute so that paths written into
    /// configuration files stay valid from any working directory).
    pub fn new(dir: &Path) -> Layout {
        let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned());
        Layout { dir }
    }

    /// The sandbox directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The state file.
    pub fn state_file(&self) -> PathBuf {
        self.dir.join("sandbox.json")
    }

    /// The state file of a Galera sandbox.
    pub fn galera_state_file(&self) -> PathBuf {
        self.dir.join("galera.json")
    }

    /// The directory holding one directory per server.
    pub fn servers_dir(&self) -> PathBuf {
        self.dir.join("servers")
    }

    /// The generated configuration.
    pub fn config_file(&self) -> PathBuf {
        self.dir.join("ferryman.toml")
    }

    /// Directory of the password files.
    pub fn secrets_dir(&self) -> PathBuf {
        self.dir.join("secrets")
    }

    /// The key reseed rows are sealed with (`jobs.row-key-file`).
    pub fn row_key_file(&self) -> PathBuf {
        self.secrets_dir().join("row.key")
    }

    /// Password file of `account`.
    pub fn password_file(&self, account: &str) -> PathBuf {
        self.secrets_dir().join(format!("{account}.pass"))
    }

    /// The manager's data directory.
    pub fn manager_dir(&self) -> PathBuf {
        self.dir.join("manager")
    }

    /// The agents' scratch directory.
    pub fn agent_dir(&self) -> PathBuf {
        self.dir.join("agent")
    }

    /// The verifier's work directory, where throwaway servers are created.
    pub fn verify_dir(&self) -> PathBuf {
        self.dir.join("verify")
    }

    /// Files of one server.
    pub fn server(&self, name: &str) -> ServerPaths {
        ServerPaths::new(self.servers_dir().join(name))
    }
}

/// Paths of one sandbox server: the standard layout of a private server in
/// `DIR/servers/NAME`.
pub type ServerPaths = ferryman_mariadbd::Layout;

/// Writes `bytes` to `path` with `mode` durably (temp file, fsync, rename, fsync of the
/// directory): readers see the old file or the new one, never half of it.
pub(crate) fn write_file(path: &Path, bytes: &[u8], mode: u32) -> crate::Result<()> {
    Ok(ferryman_mariadbd::defaults_file::write_file(
        path, bytes, mode,
    )?)
}
