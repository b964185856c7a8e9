//! One sandbox `mariadbd`: its defaults file, installation, start, readiness and stop by PID.

use std::path::Path;
use std::time::{Duration, Instant};

use ferryman_db::{Endpoint, Session};
use ferryman_exec::{process, Program};

use crate::layout::{write_file, ServerPaths};
use crate::state::ServerSpec;
use crate::{Error, Result};

/// Packages that provide the server programs, for "not installed" errors.
pub const SERVER_PACKAGES: &str = "mariadb-server mariadb-client";
/// How long a server may take to accept connections after it was started.
const START_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a server may take to shut down after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(60);

/// The installed server programs.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// `mariadbd`.
    pub mariadbd: Program,
    /// `mariadb-install-db`.
    pub install_db: Program,
}

/// Environment variable naming a directory that holds `mariadbd` and `mariadb-install-db`
/// (e.g. an unpacked MariaDB tarball's `bin/`), to run sandboxes of another version than the
/// installed one. Unset: the installed programs.
pub const BINDIR_ENV: &str = "FERRYMAN_MARIADB_BINDIR";

impl Binaries {
    /// Finds `mariadbd` and `mariadb-install-db` (in `$FERRYMAN_MARIADB_BINDIR` when set),
    /// naming the packages to install if they are missing.
    pub fn find() -> Result<Binaries> {
        let find = |name: &str| match std::env::var_os(BINDIR_ENV) {
            Some(dir) => Program::at(&Path::new(&dir).join(name), SERVER_PACKAGES),
            None => Program::find(name, SERVER_PACKAGES),
        };
        Ok(Binaries {
            mariadbd: find("mariadbd")?,
            install_db: find("mariadb-install-db")?,
        })
    }
}

/// The server's only defaults file: everything it reads comes from here, never `/etc/mysql`.
pub fn defaults_file(spec: &ServerSpec, paths: &ServerPaths) -> String {
    let p = |path: std::path::PathBuf| path.display().to_string();
    format!(
        "# Written by `ferryman sandbox`: this server reads no other option file.\n\
         [client]\n\
         socket={socket}\n\
         port={port}\n\
         \n\
         [mysqld]\n\
         user=root\n\
         datadir={datadir}\n\
         tmpdir={tmpdir}\n\
         socket={socket}\n\
         pid-file={pid}\n\
         log-error={err}\n\
         port={port}\n\
         bind-address=127.0.0.1\n\
         skip-name-resolve\n\
         server-id={server_id}\n\
         log-bin=binlog\n\
         log-slave-updates=ON\n\
         binlog-format=ROW\n\
         gtid-domain-id=0\n\
         gtid-strict-mode=ON\n\
         # replication is started by the sandbox, so a restarted replica never races its setup\n\
         skip-slave-start\n\
         slow-query-log=ON\n\
         slow-query-log-file={slow}\n\
         long-query-time=1\n\
         innodb-buffer-pool-size=64M\n\
         innodb-log-file-size=64M\n\
         innodb-flush-log-at-trx-commit=2\n\
         performance-schema=OFF\n\
         max-connections=200\n\
         \n\
         [mariadb-backup]\n\
         # mariabackup reads [mysqld] for the datadir; it connects through the socket\n\
         socket={socket}\n",
        socket = p(paths.socket()),
        port = spec.port,
        datadir = p(paths.datadir()),
        tmpdir = p(paths.tmpdir()),
        pid = p(paths.pid_file()),
        err = p(paths.error_log()),
        slow = p(paths.slow_log()),
        server_id = spec.server_id,
    )
}

/// Writes the defaults file and creates an empty datadir with `mariadb-install-db`.
pub async fn install(bins: &Binaries, spec: &ServerSpec, paths: &ServerPaths) -> Result<()> {
    for dir in [paths.root().to_owned(), paths.tmpdir()] {
        std::fs::create_dir_all(&dir).map_err(Error::io("create directory", &dir))?;
    }
    write_file(
        &paths.defaults_file(),
        defaults_file(spec, paths).as_bytes(),
        0o644,
    )?;
    let out = bins
        .install_db
        .command()
        .arg(format!(
            "--defaults-file={}",
            paths.defaults_file().display()
        ))
        .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
        .run()
        .await?;
    let log = format!("{}{}", out.stdout, out.stderr);
    write_file(&paths.install_log(), log.as_bytes(), 0o644)
}

/// The PID of the server if it runs: read from its pid file and checked to be *this* sandbox's
/// `mariadbd` (its command line names our defaults file), so a recycled PID is never signalled.
pub fn running_pid(paths: &ServerPaths) -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(paths.pid_file())
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let ours = process::cmdline(pid).contains(&paths.defaults_file().display().to_string());
    (process::is_running(pid) && ours).then_some(pid)
}

/// Starts the server (unless it already runs) and waits until it accepts connections through
/// `probe`, an endpoint that can log in. Returns its PID.
pub async fn start(
    bins: &Binaries,
    spec: &ServerSpec,
    paths: &ServerPaths,
    probe: &Endpoint,
) -> Result<u32> {
    if let Some(pid) = running_pid(paths) {
        return Ok(pid);
    }
    let pid = spawn(bins, paths, &[])?;
    tracing::debug!(server = %spec.name, pid, port = spec.port, "mariadbd started");
    wait_ready(spec, paths, probe, pid).await?;
    Ok(pid)
}

/// Starts `mariadbd` with the server's defaults file (and `extra` options after it, e.g.
/// `--wsrep-new-cluster`) as a daemon, without waiting for it. Returns its PID.
pub(crate) fn spawn(bins: &Binaries, paths: &ServerPaths, extra: &[&str]) -> Result<u32> {
    // A stale pid file from a crash would make mariadbd refuse nothing, but a stale socket
    // could confuse our readiness probe: remove both before starting.
    let _ = std::fs::remove_file(paths.pid_file());
    let _ = std::fs::remove_file(paths.socket());
    // --defaults-file must come first: mariadbd ignores it anywhere else.
    Ok(bins
        .mariadbd
        .command()
        .arg(format!(
            "--defaults-file={}",
            paths.defaults_file().display()
        ))
        .args(extra)
        .spawn_daemon(&paths.stdout_log())?)
}

async fn wait_ready(
    spec: &ServerSpec,
    paths: &ServerPaths,
    probe: &Endpoint,
    pid: u32,
) -> Result<()> {
    let started = Instant::now();
    let fail = |reason: String| Error::StartFailed {
        server: spec.name.clone(),
        seconds: started.elapsed().as_secs(),
        reason: format!("{reason}; log ends: {}", log_tail(&paths.error_log())),
        log: paths.error_log(),
    };
    loop {
        if !process::is_running(pid) {
            return Err(fail(format!("mariadbd (pid {pid}) exited")));
        }
        match probe.connect(Session::Plain).await {
            Ok(conn) => {
                let _ = conn.disconnect().await;
                return Ok(());
            }
            Err(e) if started.elapsed() > START_TIMEOUT => {
                // Do not leave a half-started server behind (stopping blocks: off the runtime).
                let _ = tokio::task::spawn_blocking(move || process::stop(pid, STOP_GRACE)).await;
                return Err(fail(format!("last connection error: {e}")));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Stops the server by PID (SIGTERM, then SIGKILL after a grace period). Blocking.
pub fn stop(paths: &ServerPaths) -> Result<()> {
    if let Some(pid) = running_pid(paths) {
        process::stop(pid, STOP_GRACE)?;
    }
    Ok(())
}

/// The last lines of a log file, for error messages.
pub fn log_tail(path: &Path) -> String {
    std::fs::read_to_string(path)
        .map(|t| ferryman_exec::command::tail(&t, 5))
        .unwrap_or_else(|_| "(no log)".into())
}
