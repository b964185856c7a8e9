//! The daemons of an end-to-end test, in the test's process: a manager with its HTTP API, and
//! one agent per server of a sandbox; agents as child processes on request. Shared by the test
//! binaries that need them. When the test ends, an ERROR any of them logged that the test did
//! not declare expected fails it (`log`).
#![allow(dead_code)] // each test binary uses its own part

mod lines;
mod log;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ferryman_agent::{Agent, Shutdown};
use ferryman_config::Config;
use ferryman_manager::{JobRecord, JobState, Manager, Services};
use ferryman_proto::Task;
use ferryman_repo::BackupId;
use ferryman_sandbox::testing::TestSandbox;
use tokio_util::sync::CancellationToken;

/// A manager (with its HTTP API) and agents. Dropping it checks their logs: see `log`.
pub struct Daemons {
    pub services: Arc<Services>,
    pub config: Config,
    stop: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    agents: Vec<Shutdown>,
    logs: log::Logs,
}

impl Daemons {
    /// Starts the manager of `config`, its API, and an agent for each of `servers`.
    pub async fn start(config: Config, servers: &[&str]) -> Daemons {
        // First, so that the manager's first words are in the log.
        let logs = log::Logs::start();
        let manager = Manager::start(config.clone()).await.unwrap();
        let services = manager.services();
        let stop = CancellationToken::new();
        let token = ferryman_manager::api::load_or_create_token(&config).unwrap();
        let address = format!(
            "{}:{}",
            config.manager.http_bind_address, config.manager.http_port
        );
        let listener = tokio::net::TcpListener::bind(&address).await.unwrap();
        let mut tasks = vec![
            {
                let stop = stop.clone();
                tokio::spawn(async move { manager.run(stop).await.unwrap() })
            },
            {
                let (services, stop) = (Arc::clone(&services), stop.clone());
                tokio::spawn(async move {
                    ferryman_manager::api::serve(services, listener, token, stop)
                        .await
                        .unwrap()
                })
            },
        ];
        let mut agents = Vec::new();
        for name in servers {
            let agent = Agent::new(&config, name).unwrap();
            let shutdown = Shutdown::default();
            let s = shutdown.clone();
            tasks.push(tokio::spawn(async move { agent.run(&s).await.unwrap() }));
            agents.push(shutdown);
        }
        Daemons {
            services,
            config,
            stop,
            tasks,
            agents,
            logs,
        }
    }

    /// The log files of the daemons (the in-process one, then the child processes').
    pub fn log_files(&self) -> Vec<std::path::PathBuf> {
        self.logs.files()
    }

    /// ERROR lines containing `substring` are part of the test's scenario: they do not fail it.
    pub fn expect_error(&self, substring: &str) {
        self.logs.expect_error(substring);
    }

    /// WARN lines containing `substring` are part of the scenario (with [`Self::deny_warnings`]).
    pub fn expect_warning(&self, substring: &str) {
        self.logs.expect_warning(substring);
    }

    /// A WARN line the test did not expect fails it too.
    pub fn deny_warnings(&self) {
        self.logs.deny_warnings();
    }

    /// Takes a backup of cluster `sandbox` with `task`, waits for it; returns its id.
    pub async fn backup(&self, task: Task) -> BackupId {
        let id = self
            .services
            .start_backup("sandbox", None, task, "test")
            .await
            .unwrap();
        let job = wait_job(&self.services, id).await;
        assert_eq!(job.state, JobState::Succeeded, "{job:?}");
        job.backup_id.unwrap().parse().unwrap()
    }

    /// `ferryman agent` for `server` of the sandbox as its own process (it may be killed like a
    /// real one), with `env` set. Its output goes to `log`, or to a file of the daemons' logs; it is
    /// checked with theirs.
    pub fn agent_process(
        &self,
        sb: &TestSandbox,
        server: &str,
        log: Option<&std::path::Path>,
        env: &[(&str, &str)],
    ) -> std::process::Child {
        use std::process::Stdio;
        let path = match log {
            Some(path) => {
                self.logs.watch(path);
                path.to_owned()
            }
            None => self.logs.child_log(&format!("agent-{server}")),
        };
        let file = std::fs::File::create(path).unwrap();
        #[allow(clippy::disallowed_methods)] // running the binary under test
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_ferryman"));
        cmd.args(["agent", "--config", sb.config_path().to_str().unwrap()])
            .args(["--server", server])
            .env("FERRYMAN_LOG", "info")
            .stdout(Stdio::from(file.try_clone().unwrap()))
            .stderr(Stdio::from(file))
            .stdin(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.spawn().unwrap()
    }

    /// Stops the agents, then the manager and its API, waits for them, and checks their logs.
    pub async fn stop(mut self) {
        for s in &self.agents {
            s.stop.cancel();
        }
        self.stop.cancel();
        for t in std::mem::take(&mut self.tasks) {
            let _ = t.await;
        }
    }
}

/// Waits (up to 4 minutes) until manager job `id` has ended; returns its record.
pub async fn wait_job(services: &Services, id: u64) -> JobRecord {
    let started = Instant::now();
    loop {
        let r = services.registry.get(id).unwrap();
        if r.state.is_final() {
            return r;
        }
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "job {id} not done: {r:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until `server` replicates with both threads and has every GTID of the primary.
pub async fn caught_up(sb: &TestSandbox, server: &str) {
    let target: String = ferryman_db::mysql_async::from_row(
        sb.sql("db1", "SELECT @@gtid_binlog_pos").await.remove(0),
    );
    let started = Instant::now();
    loop {
        let rows = sb.sql(server, "SHOW SLAVE STATUS").await;
        let running = rows.first().is_some_and(|r| {
            r.get::<String, _>("Slave_IO_Running").as_deref() == Some("Yes")
                && r.get::<String, _>("Slave_SQL_Running").as_deref() == Some("Yes")
        });
        let pos: String = ferryman_db::mysql_async::from_row(
            sb.sql(server, "SELECT @@gtid_slave_pos").await.remove(0),
        );
        if running && pos == target {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{server} not caught up: running {running}, slave pos {pos}, primary {target}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
