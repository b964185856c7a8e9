//! Where one server's files are.
//!
//! ```text
//! ROOT/my.cnf            the server's only defaults file
//! ROOT/data/  ROOT/tmp/  datadir, tmpdir
//! ROOT/sock              unix socket
//! ROOT/mariadbd.pid      pid file
//! ROOT/err.log           error log
//! ROOT/slow.log          slow-query log (when the defaults file turns it on)
//! ROOT/stdout.log        the daemon's stdout and stderr (mariadbd logs to err.log)
//! ROOT/install.log       what mariadb-install-db printed
//! ```
//! An owner may move a file elsewhere (`with_*`): the agent's import server keeps its datadir
//! in a staging directory, the verifier names its pid file `pid`. Paths inside ROOT are what
//! makes a process this server's (see [`crate::process`]), so the command line of a server must
//! name at least one of them (its defaults file, or its socket).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Paths of one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    root: PathBuf,
    datadir: PathBuf,
    pid_file: PathBuf,
    stdout_log: PathBuf,
}

impl Layout {
    /// The standard layout in `root` (see the module documentation).
    pub fn new(root: impl Into<PathBuf>) -> Layout {
        let root = root.into();
        Layout {
            datadir: root.join("data"),
            pid_file: root.join("mariadbd.pid"),
            stdout_log: root.join("stdout.log"),
            root,
        }
    }

    /// The same with the datadir at `datadir`.
    pub fn with_datadir(mut self, datadir: impl Into<PathBuf>) -> Layout {
        self.datadir = datadir.into();
        self
    }

    /// The same with the pid file at `pid_file`.
    pub fn with_pid_file(mut self, pid_file: impl Into<PathBuf>) -> Layout {
        self.pid_file = pid_file.into();
        self
    }

    /// The same with the daemon's stdout and stderr going to `log`.
    pub fn with_stdout_log(mut self, log: impl Into<PathBuf>) -> Layout {
        self.stdout_log = log.into();
        self
    }

    /// The server's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Its defaults file.
    pub fn defaults_file(&self) -> PathBuf {
        self.root.join("my.cnf")
    }

    /// `--defaults-file=…` naming [`Layout::defaults_file`]: the first argument of every
    /// program that reads it (`mariadbd` ignores it anywhere else).
    pub fn defaults_file_arg(&self) -> OsString {
        path_arg("--defaults-file=", &self.defaults_file())
    }

    /// Its datadir.
    pub fn datadir(&self) -> PathBuf {
        self.datadir.clone()
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
        self.pid_file.clone()
    }

    /// Its error log.
    pub fn error_log(&self) -> PathBuf {
        self.root.join("err.log")
    }

    /// Its slow-query log.
    pub fn slow_log(&self) -> PathBuf {
        self.root.join("slow.log")
    }

    /// Where the daemon's stdout and stderr go (normally nearly empty: mariadbd logs to
    /// [`Layout::error_log`]).
    pub fn stdout_log(&self) -> PathBuf {
        self.stdout_log.clone()
    }

    /// What `mariadb-install-db` printed.
    pub fn install_log(&self) -> PathBuf {
        self.root.join("install.log")
    }

    /// `datadir`, `tmpdir`, `socket`, `pid-file` and `log-error` lines for the `[mysqld]`
    /// section of the defaults file.
    pub fn mysqld_paths(&self) -> String {
        self.paths()
            .iter()
            .map(|(key, path)| format!("{key}={}\n", path.display()))
            .collect()
    }

    /// The same as command-line options, for a server that reads another option file (the
    /// agent's import server reads the real server's, for its page size and file layout):
    /// later options win, so these keep its files apart. No `--tmpdir`: the real server's is
    /// shared harmlessly.
    pub fn path_args(&self) -> Vec<OsString> {
        self.paths()
            .iter()
            .filter(|(key, _)| *key != "tmpdir")
            .map(|(key, path)| path_arg(&format!("--{key}="), path))
            .collect()
    }

    fn paths(&self) -> [(&'static str, PathBuf); 5] {
        [
            ("datadir", self.datadir()),
            ("tmpdir", self.tmpdir()),
            ("socket", self.socket()),
            ("pid-file", self.pid_file()),
            ("log-error", self.error_log()),
        ]
    }
}

/// `option` followed by `path`, without a lossy conversion of the path.
pub fn path_arg(option: &str, path: &Path) -> OsString {
    let mut arg = OsString::from(option);
    arg.push(path);
    arg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_stay_in_the_root_unless_moved() {
        let layout = Layout::new("/srv/a");
        assert_eq!(
            layout.mysqld_paths(),
            "datadir=/srv/a/data\ntmpdir=/srv/a/tmp\nsocket=/srv/a/sock\n\
             pid-file=/srv/a/mariadbd.pid\nlog-error=/srv/a/err.log\n"
        );
        assert_eq!(layout.defaults_file_arg(), "--defaults-file=/srv/a/my.cnf");
        let moved = Layout::new("/srv/run")
            .with_datadir("/srv/staging")
            .with_pid_file("/srv/run/pid");
        assert_eq!(
            moved.path_args(),
            [
                "--datadir=/srv/staging",
                "--socket=/srv/run/sock",
                "--pid-file=/srv/run/pid",
                "--log-error=/srv/run/err.log"
            ]
            .map(OsString::from)
        );
    }
}
