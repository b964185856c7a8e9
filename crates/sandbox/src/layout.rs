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
//! DIR/servers/NAME/my.cnf     the server's only defaults file
//! DIR/servers/NAME/data/      datadir
//! DIR/servers/NAME/{tmp/,sock,mariadbd.pid,err.log,slow.log,stdout.log}
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
        ServerPaths {
            root: self.servers_dir().join(name),
        }
    }
}

/// Paths of one sandbox server.
#[derive(Debug, Clone)]
pub struct ServerPaths {
    root: PathBuf,
}

impl ServerPaths {
    /// The server's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// Its defaults file.
    pub fn defaults_file(&self) -> PathBuf {
        self.root.join("my.cnf")
    }
    /// Its datadir.
    pub fn datadir(&self) -> PathBuf {
        self.root.join("data")
    }
    /// Its tmpdir.
    pub fn tmpdir(&self) -> PathBuf {
        self.root.join("tmp")
    }
    /// Its unix socket.
    pub fn socket(&self) -> PathBuf {
        self.root.join("sock")
    }
    /// Its pid file.
    pub fn pid_file(&self) -> PathBuf {
        self.root.join("mariadbd.pid")
    }
    /// Its error log.
    pub fn error_log(&self) -> PathBuf {
        self.root.join("err.log")
    }
    /// Its slow-query log.
    pub fn slow_log(&self) -> PathBuf {
        self.root.join("slow.log")
    }
    /// Where the daemon's stdout/stderr go (normally nearly empty: mariadbd logs to `err.log`).
    pub fn stdout_log(&self) -> PathBuf {
        self.root.join("stdout.log")
    }
    /// The install log of `mariadb-install-db`.
    pub fn install_log(&self) -> PathBuf {
        self.root.join("install.log")
    }
    /// Where the SST scripts of a Galera node archive their logs (their default,
    /// `/tmp/sst_log_archive`, would be shared by every node on the host).
    pub fn sst_log_archive(&self) -> PathBuf {
        self.root.join("sst-log-archive")
    }
}

/// Writes `bytes` to `path` with `mode` durably: temp file in the same directory, fsync, rename,
/// fsync of the directory. Readers see the old file or the new one, never half of it.
pub(crate) fn write_file(path: &Path, bytes: &[u8], mode: u32) -> crate::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = path.with_extension("tmp");
    let err = |action| crate::Error::io(action, path);
    {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)
            .map_err(err("create"))?;
        f.write_all(bytes).map_err(err("write"))?;
        f.sync_all().map_err(err("sync"))?;
    }
    std::fs::rename(&tmp, path).map_err(err("rename into place"))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(err("sync the directory of"))
}
