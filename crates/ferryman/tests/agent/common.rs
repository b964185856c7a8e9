//! What every agent test uses: sandboxes with service commands, job rows, TCP receivers, and
//! running the binary.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use ferryman_jobs::{Job, JobId, JobsConn, Schema, Task, Token};
use ferryman_sandbox::testing::TestSandbox;
use ferryman_sandbox::UpOptions;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub const BIN: &str = env!("CARGO_BIN_EXE_ferryman");

/// A sandbox whose configuration runs this build's `ferryman` for service commands.
pub async fn sandbox(replicas: usize) -> TestSandbox {
    TestSandbox::start_with(&UpOptions {
        replicas,
        ferryman_bin: Some(PathBuf::from(BIN)),
        auto_verify: false,
    })
    .await
}

/// `ferryman ARGS`, to completion.
pub fn ferryman(args: &[&str]) -> Output {
    #[allow(clippy::disallowed_methods)] // running the binary under test
    Command::new(BIN).args(args).output().unwrap()
}

/// `ferryman agent --once` for `server` of the sandbox, off the async runtime.
pub async fn agent_once(sb: &TestSandbox, server: &str) -> Output {
    agent_once_with(&sb.config_path(), server).await
}

/// `ferryman agent --config CONFIG --once` for `server`.
pub async fn agent_once_with(config: &Path, server: &str) -> Output {
    let config = config.to_str().unwrap().to_owned();
    let server = server.to_owned();
    tokio::task::spawn_blocking(move || {
        ferryman(&["agent", "--config", &config, "--server", &server, "--once"])
    })
    .await
    .unwrap()
}

/// The agent as a daemon, its log in `log`.
pub fn agent_daemon(config: &Path, server: &str, log: &Path) -> Child {
    let log = std::fs::File::create(log).unwrap();
    #[allow(clippy::disallowed_methods)] // running the binary under test
    Command::new(BIN)
        .args([
            "agent",
            "--config",
            config.to_str().unwrap(),
            "--server",
            server,
        ])
        .env("FERRYMAN_LOG", "info")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .unwrap()
}

pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A jobs session on the sandbox server `name`, the table created.
pub async fn jobs(sb: &TestSandbox, name: &str) -> JobsConn {
    let spec = sb.server(name).unwrap();
    let mut conn = JobsConn::open(&sb.endpoint(spec), &Schema::default())
        .await
        .unwrap();
    conn.ensure().await.unwrap();
    conn
}

/// Inserts a job for `task` on server `name` streaming to 127.0.0.1:`port`, as a legacy
/// manager would (no token) or as ours (with one).
pub async fn enqueue(
    sb: &TestSandbox,
    name: &str,
    task: Task,
    port: Option<u16>,
    token: Option<&Token>,
) -> JobId {
    let mut conn = jobs(sb, name).await;
    let id = conn
        .enqueue(task, "127.0.0.1", port, token, None)
        .await
        .unwrap();
    conn.close().await.unwrap();
    id
}

pub async fn job(sb: &TestSandbox, name: &str, id: JobId) -> Job {
    let mut conn = jobs(sb, name).await;
    let job = conn.get(id).await.unwrap();
    conn.close().await.unwrap();
    job
}

/// Asserts that `job` ended with `outcome` and returns its result.
pub fn ended(job: &Job, outcome: &str) -> String {
    assert!(job.done, "job not done: {job:?}");
    assert_eq!(job.outcome.as_deref(), Some(outcome), "{job:?}");
    assert!(job.end.is_some(), "{job:?}");
    job.result.clone().unwrap_or_default()
}

/// A TCP receiver for one stream, written to `path`. `pace` slows the reading down (bytes per
/// 10 ms) so a test can act while the stream runs; `cut_after` drops the connection after
/// that many bytes, like a manager that dies.
pub struct Listener {
    pub port: u16,
    pub handle: JoinHandle<std::io::Result<u64>>,
}

///
/// It listens where the sandbox's agents may stream (the manager's stream port, else a free
/// legacy sender port of the cluster: `agent.stream-destinations` by default), as nothing else
/// listens there in these tests.
pub async fn listen(
    sb: &TestSandbox,
    path: &Path,
    pace: Option<usize>,
    cut_after: Option<u64>,
) -> Listener {
    let config = sb.config();
    let ports = std::iter::once(config.manager.stream_port)
        .chain(config.clusters[0].sender_ports.iter().copied());
    let mut bound = None;
    for port in ports {
        if let Ok(l) = TcpListener::bind(("127.0.0.1", port)).await {
            bound = Some(l);
            break;
        }
    }
    let listener = bound.expect("a free stream destination of the sandbox");
    let port = listener.local_addr().unwrap().port();
    let path = path.to_owned();
    let handle = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await?;
        let mut file = tokio::fs::File::create(&path).await?;
        let mut buf = vec![0u8; pace.unwrap_or(256 * 1024)];
        let mut total = 0u64;
        loop {
            let n = sock.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            tokio::io::AsyncWriteExt::write_all(&mut file, &buf[..n]).await?;
            total += n as u64;
            if cut_after.is_some_and(|c| total >= c) {
                // Reset, not a clean close: a receiver that died.
                let std = sock.into_std()?;
                socket_reset(std);
                return Ok(total);
            }
            if pace.is_some() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        tokio::io::AsyncWriteExt::flush(&mut file).await?;
        Ok(total)
    });
    Listener { port, handle }
}

fn socket_reset(sock: std::net::TcpStream) {
    // Dropping with unread data in the receive buffer makes the kernel send RST.
    drop(sock);
}

/// Waits until `cond` holds, or panics after `limit` with `what`.
pub async fn wait_for<F, Fut>(limit: Duration, what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !cond().await {
        assert!(
            started.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every process's command line on this machine.
pub fn all_cmdlines() -> Vec<(u32, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) {
            out.push((pid, String::from_utf8_lossy(&raw).replace('\0', " ")));
        }
    }
    out
}

/// Runs SQL on sandbox server `name` and returns the first column of every row as text.
#[allow(dead_code)]
pub async fn query(sb: &TestSandbox, name: &str, sql: &str) -> Vec<String> {
    sb.sql(name, sql)
        .await
        .into_iter()
        .map(|mut r| {
            let v: Option<ferryman_db::mysql_async::Value> = r.take(0);
            match v {
                Some(ferryman_db::mysql_async::Value::Bytes(b)) => {
                    String::from_utf8_lossy(&b).into_owned()
                }
                Some(ferryman_db::mysql_async::Value::Int(i)) => i.to_string(),
                Some(ferryman_db::mysql_async::Value::UInt(i)) => i.to_string(),
                Some(other) => format!("{other:?}"),
                None => String::new(),
            }
        })
        .collect()
}

/// Some data of every kind a logical backup must carry: two schemas, rows, a view, a
/// routine, a trigger, an event.
pub async fn seed(sb: &TestSandbox, name: &str) {
    sb.sql(name,
        "CREATE DATABASE shop; CREATE DATABASE `odd name`;
         CREATE TABLE shop.items (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(50), price DECIMAL(8,2), pic BLOB);
         CREATE TABLE shop.audit (id INT PRIMARY KEY AUTO_INCREMENT, item INT, at DATETIME);
         CREATE TABLE `odd name`.`t-1` (k INT PRIMARY KEY, v TEXT);
         CREATE TRIGGER shop.items_ai AFTER INSERT ON shop.items FOR EACH ROW INSERT INTO shop.audit (item, at) VALUES (NEW.id, NOW());
         CREATE FUNCTION shop.double_it(x INT) RETURNS INT DETERMINISTIC RETURN x * 2;
         CREATE EVENT shop.tick ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM shop.audit WHERE at < NOW() - INTERVAL 1 YEAR;
         CREATE VIEW shop.cheap AS SELECT id, name FROM shop.items WHERE price < 10;",
    )
    .await;
    let mut values = Vec::new();
    for i in 0..2000 {
        values.push(format!(
            "('item {i} é\\'\"', {}.{:02}, UNHEX('00FF{:04X}'))",
            i % 50,
            i % 100,
            i
        ));
    }
    sb.sql(
        name,
        &format!(
            "INSERT INTO shop.items (name, price, pic) VALUES {}",
            values.join(",")
        ),
    )
    .await;
    let mut kv = Vec::new();
    for i in 0..500 {
        kv.push(format!("({i}, REPEAT('x', {}))", i * 7));
    }
    sb.sql(
        name,
        &format!("INSERT INTO `odd name`.`t-1` VALUES {}", kv.join(",")),
    )
    .await;
}

/// Row counts of the seeded tables.
#[allow(dead_code)]
pub async fn counts(sb: &TestSandbox, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for t in ["shop.items", "shop.audit", "`odd name`.`t-1`"] {
        out.extend(query(sb, name, &format!("SELECT COUNT(*) FROM {t}")).await);
    }
    out
}
