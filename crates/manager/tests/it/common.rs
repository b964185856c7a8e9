//! Sandboxes with a manager and agents running in this process.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferryman_agent::{Agent, Shutdown};
use ferryman_config::Config;
use ferryman_manager::{JobRecord, Manager, Services};
use ferryman_proto::Task;
use ferryman_sandbox::testing::TestSandbox;
use tokio_util::sync::CancellationToken;

/// A configuration file next to the sandbox's, with `extra` lines added to the cluster's table
/// (they must be cluster keys) and `manager` lines to `[manager]`.
pub fn config_with(sb: &TestSandbox, cluster_extra: &str, manager_extra: &str) -> PathBuf {
    let text = std::fs::read_to_string(sb.config_path()).unwrap();
    let marker = "scheduler-db-servers-receiver-ports";
    let at = text.find(marker).unwrap();
    let line_end = at + text[at..].find('\n').unwrap() + 1;
    let mut out = String::new();
    out.push_str(&text[..line_end]);
    out.push_str(cluster_extra);
    out.push('\n');
    out.push_str(&text[line_end..]);
    let out = out.replacen("[manager]\n", &format!("[manager]\n{manager_extra}\n"), 1);
    let path = sb.path().join("ferryman-test.toml");
    std::fs::write(&path, out).unwrap();
    path
}

/// A running manager and agents.
pub struct Running {
    pub services: Arc<Services>,
    pub manager_stop: CancellationToken,
    pub manager: tokio::task::JoinHandle<()>,
    pub agents: Vec<(Shutdown, tokio::task::JoinHandle<()>)>,
}

impl Running {
    /// Starts the agent of `name` beside the running manager.
    pub fn add_agent(&mut self, config_path: &Path, name: &str) {
        let config = Config::load(config_path).unwrap();
        let agent = Agent::new(&config, name).unwrap();
        let shutdown = Shutdown::default();
        let s = shutdown.clone();
        self.agents.push((
            shutdown,
            tokio::spawn(async move {
                agent.run(&s).await.unwrap();
            }),
        ));
    }

    pub async fn stop(self) {
        for (s, _) in &self.agents {
            s.stop.cancel();
            s.interrupt.cancel();
        }
        for (_, h) in self.agents {
            let _ = h.await;
        }
        self.manager_stop.cancel();
        let _ = self.manager.await;
    }
}

pub async fn start(config_path: &Path, agents_for: &[&str]) -> Running {
    let config = Config::load(config_path).unwrap();
    let manager = Manager::start(config.clone()).await.unwrap();
    let services = manager.services();
    let manager_stop = CancellationToken::new();
    let stop = manager_stop.clone();
    let manager = tokio::spawn(async move {
        manager.run(stop).await.unwrap();
    });
    let mut running = Running {
        services,
        manager_stop,
        manager,
        agents: Vec::new(),
    };
    for name in agents_for {
        running.add_agent(config_path, name);
    }
    running
}

/// Starts `task` on `server` of the sandbox cluster and waits (at most `limit`) for its end.
pub async fn run_job(
    services: &Arc<Services>,
    server: &str,
    task: Task,
    limit: Duration,
) -> JobRecord {
    let id = services
        .start_backup("sandbox", Some(server), task, "api")
        .await
        .unwrap();
    wait_job(services, id, limit).await
}

/// The API of `services` on a free loopback port, taking `token`: its address, and what stops
/// it.
pub async fn serve_api(services: &Arc<Services>, token: &str) -> (SocketAddr, CancellationToken) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    tokio::spawn(ferryman_manager::api::serve(
        Arc::clone(services),
        listener,
        ferryman_config::Secret::new(token.to_owned()),
        stop.clone(),
    ));
    (address, stop)
}

/// Waits until manager job `id` is final.
pub async fn wait_job(services: &Services, id: u64, limit: Duration) -> JobRecord {
    let started = Instant::now();
    loop {
        let r = services.registry.get(id).unwrap();
        if r.state.is_final() {
            return r;
        }
        assert!(
            started.elapsed() < limit,
            "job {id} not done after {limit:?}: {r:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until manager job `id` has inserted its node row; returns the row's id.
pub async fn wait_node_id(services: &ferryman_manager::Services, id: u64) -> u64 {
    for _ in 0..200 {
        if let Some(n) = services.registry.get(id).and_then(|r| r.node_job_id) {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("job {id} never inserted its row");
}

/// The GTID the tool reported in the agent's result line.
pub fn reported_gtid(result: &str) -> Option<String> {
    if let Some((_, rest)) = result.split_once("GTID of the last change '") {
        return rest.split_once('\'').map(|(g, _)| g.to_owned());
    }
    if let Some((_, rest)) = result.split_once("GTID ") {
        return rest.split([',', ';', ' ']).next().map(str::to_owned);
    }
    None
}

/// The manifest of the backup `job` stored in the sandbox cluster's repository.
pub async fn stored_manifest(services: &Services, job: &JobRecord) -> ferryman_repo::Manifest {
    let list = services
        .repos
        .list(Some("sandbox"), Some(&job.server))
        .await
        .unwrap();
    list.into_iter()
        .find(|m| Some(m.id.to_string()) == job.backup_id)
        .unwrap_or_else(|| panic!("backup of job {} not catalogued: {job:?}", job.id))
}
