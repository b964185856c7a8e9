//! One sandbox `mariadbd`: its defaults file, installation, start and readiness, stop by PID;
//! through `ferryman_mariadbd`, which runs every private server.

use std::time::Duration;

use ferryman_db::Endpoint;
use ferryman_mariadbd::Server;
use tokio_util::sync::CancellationToken;

pub use ferryman_mariadbd::{log_excerpt, running_pid, Binaries};

use crate::layout::{write_file, ServerPaths};
use crate::state::ServerSpec;
use crate::{Error, Result};

/// How long a server may take to accept connections after it was started.
const START_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a server may take to shut down after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(60);

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
         {paths}\
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
         # each replica names itself to its primary (SHOW SLAVE HOSTS: `ferryman node replicas`)\n\
         report-host=127.0.0.1\n\
         report-port={port}\n\
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
        paths = paths.mysqld_paths(),
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
    Ok(ferryman_mariadbd::install(bins, paths, &[paths.defaults_file_arg()]).await?)
}

/// Starts the server (unless it already runs) and waits until it accepts connections through
/// `probe`, an endpoint that can log in; one that does not within 90 s is killed.
/// Returns its PID; the server then runs on its own.
pub async fn start(
    bins: &Binaries,
    spec: &ServerSpec,
    paths: &ServerPaths,
    probe: &Endpoint,
) -> Result<u32> {
    if let Some(pid) = running_pid(paths) {
        return Ok(pid);
    }
    let args = [paths.defaults_file_arg()];
    let started = std::time::Instant::now();
    match Server::start(
        bins,
        paths,
        &args,
        probe,
        START_TIMEOUT,
        &CancellationToken::new(),
    )
    .await
    {
        Ok(server) => {
            tracing::debug!(server = %spec.name, pid = server.pid(), port = spec.port, "mariadbd ready");
            Ok(server.detach())
        }
        Err(e) => Err(Error::StartFailed {
            server: spec.name.clone(),
            seconds: started.elapsed().as_secs(),
            reason: e.to_string(),
            log: paths.error_log(),
        }),
    }
}

/// Starts `mariadbd` with the server's defaults file (and `extra` options after it, e.g.
/// `--wsrep-new-cluster`) as a daemon, without waiting for it. Returns its PID.
pub(crate) fn spawn(bins: &Binaries, paths: &ServerPaths, extra: &[&str]) -> Result<u32> {
    let mut args = vec![paths.defaults_file_arg()];
    args.extend(extra.iter().map(Into::into));
    Ok(ferryman_mariadbd::spawn(bins, paths, &args)?)
}

/// Stops the server by PID (SIGTERM, then SIGKILL after a grace period). Blocking.
pub fn stop(paths: &ServerPaths) -> Result<()> {
    Ok(ferryman_mariadbd::stop(paths, STOP_GRACE)?)
}
