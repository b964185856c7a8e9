//! What the link keeper's tests share: keepers run in the test's process, readers of the
//! nodes' replication, a writer of explicit ids, row counts and GTID positions.
#![allow(dead_code)] // each test binary uses its part

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferryman_config::Config;
use ferryman_db::mysql_async::prelude::Queryable;
use ferryman_db::topology::{self, SlaveStatus};
use ferryman_db::Session;
use ferryman_galera::{EventKind, Keeper, LinkEvent};
use ferryman_sandbox::galera::GaleraSandbox;
use ferryman_sandbox::testing::TestGalera;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The sandbox configuration with the test's short timings.
pub fn fast_config(g: &TestGalera) -> Config {
    let mut config = g.config();
    for cluster in &mut config.clusters {
        if let Some(link) = &mut cluster.galera_link {
            link.interval = Duration::from_secs(1);
            link.heartbeat_timeout = Duration::from_secs(6);
            link.master_connect_timeout = Duration::from_secs(4);
            link.failed_cool_down = Duration::from_secs(10);
        }
    }
    config
}

/// Keepers running in this process, one per node.
pub struct Keepers {
    pub config: Config,
    running: HashMap<String, (CancellationToken, JoinHandle<()>)>,
    events: Arc<Mutex<Vec<LinkEvent>>>,
}

impl Keepers {
    pub fn new(config: Config) -> Keepers {
        Keepers {
            config,
            running: HashMap::new(),
            events: Arc::default(),
        }
    }

    /// Starts keepers on `nodes`, their first rounds at the same instant.
    pub fn start(&mut self, nodes: &[&str]) {
        let barrier = Arc::new(tokio::sync::Barrier::new(nodes.len()));
        for &name in nodes {
            let node = name;
            let keeper = Keeper::new(&self.config, node).unwrap();
            let node = node.to_owned();
            let token = CancellationToken::new();
            let events = self.events.clone();
            let barrier = barrier.clone();
            let t = token.clone();
            let handle = tokio::spawn(async move {
                barrier.wait().await;
                let mut last = String::new();
                keeper
                    .run(t, |res| {
                        // What each keeper says, when it changes: the test's log on failure.
                        let now = match res {
                            Ok(round) => {
                                events.lock().unwrap().extend(round.events.iter().cloned());
                                format!("{:?}: {}", round.role, round.detail)
                            }
                            Err(e) => format!("error: {e}"),
                        };
                        if now != last {
                            eprintln!("keeper {node}: {now}");
                            last = now;
                        }
                    })
                    .await;
            });
            self.running.insert(name.to_owned(), (token, handle));
        }
    }

    pub async fn stop(&mut self, node: &str) {
        if let Some((token, handle)) = self.running.remove(node) {
            token.cancel();
            handle.await.unwrap();
        }
    }

    pub async fn stop_all(&mut self) {
        let nodes: Vec<String> = self.running.keys().cloned().collect();
        for n in nodes {
            self.stop(&n).await;
        }
    }

    /// Waits until at least `n` events of `kind` were reported (a round reports after the
    /// replication it started is visible).
    pub async fn wait_events(&self, kind: EventKind, n: usize) -> Vec<LinkEvent> {
        let started = Instant::now();
        loop {
            let events = self.events(kind);
            if events.len() >= n {
                return events;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{n} {kind:?} events expected, got {events:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn events(&self, kind: EventKind) -> Vec<LinkEvent> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.kind == kind)
            .cloned()
            .collect()
    }
}

/// The node's replication status, `None` when not configured or the node does not answer.
pub async fn slave(g: &GaleraSandbox, node: &str) -> Option<SlaveStatus> {
    let ep = g.endpoint(node).unwrap();
    let mut conn = tokio::time::timeout(Duration::from_secs(2), ep.connect(Session::Plain))
        .await
        .ok()?
        .ok()?;
    let status = topology::read_slave_status(&ep, &mut conn).await.ok()?;
    let _ = conn.disconnect().await;
    status
}

/// The `nodes` whose replication runs (I/O thread not stopped, SQL thread running).
pub async fn replicating_in(g: &GaleraSandbox, nodes: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for &node in nodes {
        if slave(g, node)
            .await
            .is_some_and(|s| s.io_running != "No" && s.sql_running == "Yes")
        {
            out.push(node.to_owned());
        }
    }
    out
}

/// The single node of `nodes` that replicates and receives, once there is exactly one.
pub async fn wait_replica_in(
    g: &GaleraSandbox,
    nodes: &[&str],
    within: Duration,
    not: Option<&str>,
) -> (String, SlaveStatus) {
    let started = Instant::now();
    loop {
        let mut found = Vec::new();
        for &node in nodes {
            if let Some(s) = slave(g, node).await {
                if s.receiving() && Some(node) != not {
                    found.push((node.to_owned(), s));
                }
            }
        }
        if found.len() == 1 {
            return found.pop().unwrap();
        }
        assert!(
            started.elapsed() < within,
            "no single replica after {:?}: {:?}",
            within,
            found.iter().map(|f| &f.0).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Reads every node of a cluster every 150 ms; records every time two replicate at once.
pub struct Sampler {
    token: CancellationToken,
    handle: JoinHandle<Vec<String>>,
}

impl Sampler {
    pub fn start_in(g: &GaleraSandbox, nodes: &'static [&'static str]) -> Sampler {
        let g = g.clone();
        let token = CancellationToken::new();
        let t = token.clone();
        let handle = tokio::spawn(async move {
            let mut violations = Vec::new();
            while !t.is_cancelled() {
                let now = replicating_in(&g, nodes).await;
                if now.len() > 1 {
                    violations.push(format!("{now:?}"));
                }
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
            violations
        });
        Sampler { token, handle }
    }

    pub async fn stop(self) -> Vec<String> {
        self.token.cancel();
        self.handle.await.unwrap()
    }
}

/// Inserts rows with increasing ids on a node until stopped; returns the last id
/// committed. Ids are explicit, so a row applied twice would stop the replica (duplicate key).
pub struct Writer {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<u64>,
}

impl Writer {
    pub fn start(g: &GaleraSandbox, node: &str, next: Arc<AtomicU64>) -> Writer {
        let ep = g.endpoint(node).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let handle = tokio::spawn(async move {
            let mut conn = ep.connect(Session::Plain).await.unwrap();
            while !s.load(Ordering::SeqCst) {
                let id = next.load(Ordering::SeqCst);
                conn.exec_drop(
                    "INSERT INTO app.t (id, v) VALUES (?, ?)",
                    (id, format!("row {id}")),
                )
                .await
                .unwrap();
                next.store(id + 1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            next.load(Ordering::SeqCst) - 1
        });
        Writer { stop, handle }
    }

    pub async fn stop(self) -> u64 {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.await.unwrap()
    }
}

pub async fn count(g: &TestGalera, node: &str) -> u64 {
    let rows = g
        .sql(node, "SELECT COUNT(*), COUNT(DISTINCT v) FROM app.t")
        .await;
    let (n, distinct): (u64, u64) = ferryman_db::mysql_async::from_row(rows[0].clone());
    assert_eq!(n, distinct, "{node}: a row is there twice");
    n
}

pub async fn wait_count(g: &TestGalera, nodes: &[&str], expected: u64, within: Duration) {
    let started = Instant::now();
    for node in nodes {
        loop {
            let n = count(g, node).await;
            if n == expected {
                break;
            }
            assert!(
                started.elapsed() < within,
                "{node} has {n} rows, expected {expected}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The seqno of GTID domain `domain` in a position like `10-101-57,1-11-3`.
pub fn seqno(pos: &str, domain: &str) -> Option<u64> {
    pos.split(',')
        .map(str::trim)
        .find(|g| g.split('-').next() == Some(domain))
        .and_then(|g| g.rsplit('-').next()?.parse().ok())
}

pub async fn var(g: &TestGalera, node: &str, sql: &str) -> String {
    let rows = g.sql(node, sql).await;
    ferryman_db::mysql_async::from_row::<Option<String>>(rows[0].clone()).unwrap_or_default()
}
