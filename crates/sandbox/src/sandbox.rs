//! A sandbox: bringing a topology up, reporting on it, stopping and destroying it; replacing a
//! replica with an empty server (`reinit`); free ports for a new one (`ports`).

pub(crate) mod ports;
mod reinit;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ferryman_db::replication::{self, Source};
use ferryman_db::{topology, Endpoint, ServerStatus, Session};
use futures_util::future::join_all;
use serde::Serialize;

use crate::accounts::{self, Passwords, ADMIN_USER, REPL_USER};
use crate::config_file::{self, ServicePorts};
use crate::layout::{write_file, Layout};
use crate::server::{self, Binaries};
use crate::state::{ServerSpec, State};
use crate::{Error, Result};
pub use ports::free_port;
pub(crate) use ports::free_ports;

/// Cluster name of every sandbox.
pub const CLUSTER: &str = "sandbox";
/// How long replicas may take to have both replication threads running.
const REPLICATION_TIMEOUT: Duration = Duration::from_secs(60);
/// Size of the legacy donor port pool written into the configuration.
const SENDER_POOL: usize = 4;

/// A sandbox directory and the servers it holds.
#[derive(Debug, Clone)]
pub struct Sandbox {
    layout: Layout,
    state: State,
    passwords: Passwords,
}

/// Whether starting replication may configure it (`CHANGE MASTER`) on a replica that has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Configure {
    /// Point it at the primary: `up`, which made the replica.
    OnFirstUse,
    /// Leave it alone: `start_server`, the servers' `service-start`.
    Never,
}

/// How [`Sandbox::up_with`] brings a sandbox up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpOptions {
    /// Number of replicas besides the primary.
    pub replicas: usize,
    /// The `ferryman` binary. When given, the generated configuration sets each server's
    /// `service-start`, `service-stop` and `service-restart` to `ferryman sandbox
    /// start|stop|restart --dir DIR --server NAME` through it; when `None` it sets none (a
    /// comment says why). Only used when the sandbox is created.
    pub ferryman_bin: Option<PathBuf>,
    /// Whether the generated configuration has the cluster's scheduler verify every new backup
    /// (`scheduler-db-servers-verify`, every 15 s, and the `monitoring-scheduler` switch on;
    /// the weekly logical backup stays off). The CLI sets it; tests leave it off and verify
    /// explicitly, since background verifications would slow and disturb them. Only used when
    /// the sandbox is created.
    pub auto_verify: bool,
}

/// One server's line in `sandbox status`.
#[derive(Debug, Clone, Serialize)]
pub struct ServerReport {
    /// Server name.
    pub name: String,
    /// TCP port on 127.0.0.1.
    pub port: u16,
    /// PID when running.
    pub pid: Option<u32>,
    /// Live status when the server answered.
    pub status: Option<ServerStatus>,
    /// Why the status could not be read, when it could not.
    pub error: Option<String>,
}

impl Sandbox {
    /// Brings up a primary and `replicas` replicas in `dir`: [`Sandbox::up_with`] without a
    /// `ferryman` binary, so the generated configuration has no service commands, and without
    /// scheduled verification.
    pub async fn up(dir: &Path, replicas: usize) -> Result<Sandbox> {
        Self::up_with(
            dir,
            &UpOptions {
                replicas,
                ferryman_bin: None,
                auto_verify: false,
            },
        )
        .await
    }

    /// Brings up a primary and `options.replicas` replicas in `dir`: creates them on first use
    /// (and writes `ferryman.toml`), starts stopped servers of an existing sandbox (data and
    /// configuration kept). Returns once every replica replicates.
    pub async fn up_with(dir: &Path, options: &UpOptions) -> Result<Sandbox> {
        let layout = Layout::new(dir);
        let bins = Binaries::find()?;
        let sandbox = match State::read(&layout.state_file(), layout.dir()) {
            Ok(state) => {
                let existing = state.replicas().count();
                if existing != options.replicas {
                    return Err(Error::TopologyMismatch {
                        dir: layout.dir().to_owned(),
                        existing,
                        requested: options.replicas,
                    });
                }
                let passwords = Passwords::read(&layout)?;
                Sandbox {
                    layout,
                    state,
                    passwords,
                }
            }
            Err(Error::NotASandbox { .. }) => {
                // Absolute: the configuration is read from other working directories.
                let ferryman_bin = options
                    .ferryman_bin
                    .as_deref()
                    .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.to_owned()));
                Self::create(
                    layout,
                    &bins,
                    options.replicas,
                    ferryman_bin.as_deref(),
                    options.auto_verify,
                )
                .await?
            }
            Err(e) => return Err(e),
        };
        if let Err(e) = sandbox.start_all(&bins).await {
            // Nothing half-up is left running; the directory stays for inspection.
            let _ = sandbox.down().await;
            return Err(e);
        }
        Ok(sandbox)
    }

    /// Opens an existing sandbox without starting anything.
    pub fn open(dir: &Path) -> Result<Sandbox> {
        let layout = Layout::new(dir);
        let state = State::read(&layout.state_file(), layout.dir())?;
        let passwords = Passwords::read(&layout)?;
        Ok(Sandbox {
            layout,
            state,
            passwords,
        })
    }

    async fn create(
        layout: Layout,
        bins: &Binaries,
        replicas: usize,
        ferryman_bin: Option<&Path>,
        auto_verify: bool,
    ) -> Result<Sandbox> {
        let dir = layout.dir().to_owned();
        std::fs::create_dir_all(&dir).map_err(Error::io("create directory", &dir))?;
        for d in [
            layout.manager_dir(),
            layout.agent_dir(),
            layout.verify_dir(),
        ] {
            std::fs::create_dir_all(&d).map_err(Error::io("create directory", &d))?;
        }
        let servers = replicas + 1;
        let ports = free_ports(servers * 2 + 2 + SENDER_POOL)?;
        let state = State::new(CLUSTER, &ports[..servers]);
        let service = ServicePorts {
            http: ports[servers],
            stream: ports[servers + 1],
            sender: ports[servers + 2..servers + 2 + SENDER_POOL].to_vec(),
            receiver: ports[servers + 2 + SENDER_POOL..].to_vec(),
        };
        let passwords = Passwords::generate(&layout)?;
        // Install every datadir in parallel: mariadb-install-db is the slow part (~1 s each).
        let installs = state.servers.iter().map(|spec| {
            let paths = layout.server(&spec.name);
            async move { server::install(bins, spec, &paths).await }
        });
        for res in join_all(installs).await {
            res?;
        }
        let sandbox = Sandbox {
            layout,
            state,
            passwords,
        };
        // Accounts are created on first start, through root's socket (see `accounts`).
        for spec in &sandbox.state.servers {
            let paths = sandbox.layout.server(&spec.name);
            let root = accounts::root_endpoint(&spec.name, spec.port, &paths.socket());
            let res = async {
                server::start(bins, spec, &paths, &root).await?;
                accounts::create(&root, &sandbox.passwords).await
            }
            .await;
            if let Err(e) = res {
                let _ = sandbox.down().await;
                return Err(e);
            }
        }
        sandbox.state.write(&sandbox.layout.state_file())?;
        let config = config_file::render(
            &sandbox.layout,
            &sandbox.state,
            &service,
            ferryman_bin,
            auto_verify,
        );
        write_file(&sandbox.layout.config_file(), config.as_bytes(), 0o644)?;
        Ok(sandbox)
    }

    /// Starts every server that is not running, then makes every replica replicate from the
    /// primary (`master_use_gtid=slave_pos`) and waits until both threads run.
    async fn start_all(&self, bins: &Binaries) -> Result<()> {
        let starts = self.state.servers.iter().map(|spec| {
            let paths = self.layout.server(&spec.name);
            let probe = self.endpoint(spec);
            async move { server::start(bins, spec, &paths, &probe).await }
        });
        for res in join_all(starts).await {
            res?;
        }
        for replica in self.state.replicas() {
            self.start_replication(replica, Configure::OnFirstUse)
                .await?;
        }
        Ok(())
    }

    /// Makes `replica` replicate from the primary and waits until both threads run. `START
    /// SLAVE` on a running replica changes nothing. A replica with no replication configured
    /// is pointed at the primary only with [`Configure::OnFirstUse`]; with
    /// [`Configure::Never`] it is left as it is.
    async fn start_replication(&self, replica: &ServerSpec, configure: Configure) -> Result<()> {
        let primary = self.primary();
        let ep = self.endpoint(replica);
        let mut conn = ep.connect(Session::Plain).await?;
        let configured = topology::read_slave_status(&ep, &mut conn).await?;
        if configured.is_none() {
            if configure == Configure::Never {
                let _ = conn.disconnect().await;
                return Ok(());
            }
            replication::change_master(
                &ep,
                &mut conn,
                &Source {
                    host: "127.0.0.1",
                    port: primary.port,
                    user: REPL_USER,
                    password: self.passwords.repl.expose_secret(),
                    connect_retry_s: 1,
                    ssl: None,
                    ignore_domain_ids: None,
                },
            )
            .await?;
        }
        replication::start(&ep, &mut conn).await?;
        self.wait_replicating(replica, &ep, &mut conn).await?;
        let _ = conn.disconnect().await;
        Ok(())
    }

    /// Starts the server called `name` unless it runs, and waits until it accepts connections;
    /// a replica whose replication is configured is then made to replicate (the servers run
    /// with `skip-slave-start`), and waits until both threads run. Returns its PID.
    ///
    /// Unlike [`Sandbox::up`], this never points an unconfigured replica at the primary: that
    /// is how a replica looks after its datadir was replaced (a reseed), whose joiner sets the
    /// GTID position and the primary itself once the server is up. Replicating from an empty
    /// position on its own would replay the primary's whole binary log over restored data.
    /// (`service-start` of a real server does not configure replication either.)
    pub async fn start_server(&self, name: &str) -> Result<u32> {
        let spec = self.server_named(name)?;
        let bins = Binaries::find()?;
        let pid = server::start(
            &bins,
            spec,
            &self.layout.server(&spec.name),
            &self.endpoint(spec),
        )
        .await?;
        if !spec.primary {
            self.start_replication(spec, Configure::Never).await?;
        }
        Ok(pid)
    }

    /// Stops the server called `name` by PID (SIGTERM, then SIGKILL after a grace period);
    /// a server that does not run is not an error.
    pub async fn stop_server(&self, name: &str) -> Result<()> {
        let paths = self.layout.server(&self.server_named(name)?.name);
        match tokio::task::spawn_blocking(move || server::stop(&paths)).await {
            Ok(res) => res,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }

    /// [`Sandbox::stop_server`] then [`Sandbox::start_server`]. Returns the new PID.
    pub async fn restart_server(&self, name: &str) -> Result<u32> {
        self.stop_server(name).await?;
        self.start_server(name).await
    }

    /// The server called `name`, or an error naming the servers there are.
    fn server_named(&self, name: &str) -> Result<&ServerSpec> {
        self.server(name).ok_or_else(|| Error::UnknownServer {
            dir: self.layout.dir().to_owned(),
            name: name.to_owned(),
            known: self.state.servers.iter().map(|s| s.name.clone()).collect(),
        })
    }

    async fn wait_replicating(
        &self,
        spec: &ServerSpec,
        ep: &Endpoint,
        conn: &mut ferryman_db::mysql_async::Conn,
    ) -> Result<()> {
        let started = Instant::now();
        loop {
            let status = topology::read_slave_status(ep, conn).await?;
            if status.as_ref().is_some_and(|s| s.running()) {
                return Ok(());
            }
            if started.elapsed() > REPLICATION_TIMEOUT {
                let threads = match status {
                    Some(s) => format!(
                        "io: {}, sql: {}, last error: {}{}",
                        s.io_running, s.sql_running, s.last_io_error, s.last_sql_error
                    ),
                    None => "replication is not configured".to_owned(),
                };
                return Err(Error::ReplicationFailed {
                    server: spec.name.clone(),
                    seconds: started.elapsed().as_secs(),
                    threads,
                    log: self.layout.server(&spec.name).error_log(),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The sandbox directory.
    pub fn dir(&self) -> &Path {
        self.layout.dir()
    }

    /// The paths of this sandbox.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The generated configuration file.
    pub fn config_path(&self) -> PathBuf {
        self.layout.config_file()
    }

    /// What the sandbox consists of.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The server created as primary.
    pub fn primary(&self) -> &ServerSpec {
        // `State::new` puts the primary first and `State::read` refuses a state without it.
        &self.state.servers[0]
    }

    /// The servers created as replicas.
    pub fn replicas(&self) -> Vec<&ServerSpec> {
        self.state.replicas().collect()
    }

    /// The server called `name`.
    pub fn server(&self, name: &str) -> Option<&ServerSpec> {
        self.state.servers.iter().find(|s| s.name == name)
    }

    /// The sandbox's passwords.
    pub fn passwords(&self) -> &Passwords {
        &self.passwords
    }

    /// The administrative endpoint of a server (TCP, the `ferryman` account).
    pub fn endpoint(&self, spec: &ServerSpec) -> Endpoint {
        Endpoint {
            name: spec.name.clone(),
            host: "127.0.0.1".into(),
            port: spec.port,
            socket: None,
            user: ADMIN_USER.into(),
            password: Some(self.passwords.admin.clone()),
            ssl: Default::default(),
        }
    }

    /// The PID of a server, when it runs.
    pub fn pid(&self, spec: &ServerSpec) -> Option<u32> {
        server::running_pid(&self.layout.server(&spec.name))
    }

    /// Each server's PID and live status.
    pub async fn status(&self) -> Vec<ServerReport> {
        let mut out = Vec::new();
        for spec in &self.state.servers {
            let pid = self.pid(spec);
            let (status, error) = match pid {
                None => (None, Some("not running".to_owned())),
                Some(_) => match topology::read_endpoint(&self.endpoint(spec)).await {
                    Ok(s) => (Some(s), None),
                    Err(e) => (None, Some(e.to_string())),
                },
            };
            out.push(ServerReport {
                name: spec.name.clone(),
                port: spec.port,
                pid,
                status,
                error,
            });
        }
        out
    }

    /// Stops every server by PID (replicas first, so they do not log a lost primary).
    pub async fn down(&self) -> Result<()> {
        let this = self.clone();
        match tokio::task::spawn_blocking(move || this.stop_all_blocking()).await {
            Ok(res) => res,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }

    /// [`Sandbox::down`] for callers that cannot await (`Drop` of test fixtures): stops every
    /// server by PID, replicas first, blocking until they are gone; the first error is returned
    /// after every server was tried.
    pub fn stop_all_blocking(&self) -> Result<()> {
        // The S3 server of `sandbox s3-up`, if any (its objects are in memory anyway).
        crate::offsite::down(&self.layout);
        let mut first_error = None;
        for spec in self.state.servers.iter().rev() {
            if let Err(e) = server::stop(&self.layout.server(&spec.name)) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Stops every server and removes the sandbox directory.
    pub async fn destroy(self) -> Result<()> {
        self.down().await?;
        let dir = self.layout.dir().to_owned();
        std::fs::remove_dir_all(&dir).map_err(Error::io("remove", &dir))
    }
}
