//! Reseeds: the joiner side. The test plays the manager: a physical backup of the primary
//! taken with `mariabackup --stream=xbstream`, a reseed row on the replica, the stream sent to
//! the agent's joiner port with the header and framing the manager uses.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use ferryman_db::mysql_async::prelude::Queryable;
use ferryman_db::{topology, Session};
use ferryman_exec::{Program, Streaming};
use ferryman_jobs::{JobId, Task, Token};
use ferryman_proto::{write_header, FrameWriter, ReseedParams, StreamHeader, StreamKind};
use ferryman_sandbox::testing::TestSandbox;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::*;

/// A physical backup as the manager would send it.
pub(crate) struct Backup {
    pub payload: Vec<u8>,
    /// `GTID of the last change` in mariabackup's output.
    pub gtid: String,
}

/// `mariabackup --backup --stream=xbstream` of sandbox server `name`, as root over its socket.
pub(crate) async fn backup_of(sb: &TestSandbox, name: &str) -> Backup {
    let cnf = sb.layout().server(name).defaults_file();
    let target = tempfile::tempdir().unwrap();
    let mut running = Program::find("mariabackup", "mariadb-backup")
        .unwrap()
        .command()
        .arg(format!("--defaults-file={}", cnf.display()))
        .args(["--user=root", "--backup", "--stream=xbstream"])
        .arg(format!("--target-dir={}", target.path().display()))
        .spawn_streaming(&Streaming::default())
        .unwrap();
    let mut stdout = running.take_stdout().unwrap();
    let mut payload = Vec::new();
    stdout.read_to_end(&mut payload).await.unwrap();
    let done = running.wait().await.unwrap();
    assert!(done.status.success(), "mariabackup failed: {}", done.stderr);
    let gtid = done
        .stderr
        .lines()
        .find_map(|l| l.split_once("GTID of the last change '"))
        .and_then(|(_, rest)| rest.split_once('\''))
        .map(|(gtid, _)| gtid.to_owned())
        .unwrap_or_else(|| panic!("no GTID in mariabackup's output: {}", done.stderr));
    Backup { payload, gtid }
}

/// The joiner port of sandbox server `name` (one per server, in server order).
fn joiner_port(sb: &TestSandbox, name: &str) -> u16 {
    let config = sb.config();
    let cluster = &config.clusters[0];
    let index = cluster.servers.iter().position(|s| s.name == name).unwrap();
    cluster.receiver_ports[index]
}

/// A reseed row on `name` from the primary `primary` with `backup`'s GTID.
pub(crate) async fn enqueue_reseed(
    sb: &TestSandbox,
    name: &str,
    primary: &str,
    backup: &Backup,
) -> (JobId, Token, u16) {
    let port = joiner_port(sb, name);
    let token = Token::generate().unwrap();
    let params = ReseedParams {
        method: ferryman_proto::Method::Physicalbackup,
        backup_id: Some(format!("sandbox/{primary}/test")),
        gtid: Some(backup.gtid.clone()),
        primary_host: "127.0.0.1".to_owned(),
        primary_port: sb.server(primary).unwrap().port,
        payload_bytes: Some(backup.payload.len() as u64),
        hold: false,
        target: None,
        issued_at: None,
        seal: None,
    };
    let params = sealed(sb, name, Task::Reseedmariabackup, port, &token, params);
    let id = insert_reseed_row(sb, name, Task::Reseedmariabackup, port, &token, &params).await;
    (id, token, port)
}

/// Inserts a reseed row with `params` (sealed or not) on server `name`.
pub(crate) async fn insert_reseed_row(
    sb: &TestSandbox,
    name: &str,
    task: Task,
    port: u16,
    token: &Token,
    params: &ReseedParams,
) -> JobId {
    let mut conn = jobs(sb, name).await;
    let id = conn
        .enqueue(
            task,
            "127.0.0.1",
            Some(port),
            Some(token),
            Some(&serde_json::to_value(params).unwrap()),
        )
        .await
        .unwrap();
    conn.close().await.unwrap();
    id
}

/// `params` sealed for server `name` as the sandbox's manager would (its row key).
pub(crate) fn sealed(
    sb: &TestSandbox,
    name: &str,
    task: Task,
    port: u16,
    token: &Token,
    mut params: ReseedParams,
) -> ReseedParams {
    let key = ferryman_proto::RowKey::load(&sb.config().jobs.row_key_file).unwrap();
    params.target = Some(name.to_owned());
    params.issued_at = Some(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    );
    params.seal = Some(key.seal(task, port, token.expose(), &params));
    params
}

/// Connects to the joiner (retrying while it is not listening yet) and sends the header.
pub(crate) async fn connect_joiner(port: u16, id: JobId, token: &Token) -> TcpStream {
    let started = Instant::now();
    let mut sock = loop {
        match TcpStream::connect(("127.0.0.1", port)).await {
            Ok(s) => break s,
            Err(e) => {
                assert!(
                    started.elapsed() < Duration::from_secs(30),
                    "the joiner never listened on {port}: {e}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let header = StreamHeader::new(StreamKind::Reseed, id.0, token.stream_token().unwrap());
    write_header(&mut sock, &header).await.unwrap();
    sock
}

/// Sends the whole payload, framed, with its trailer.
pub(crate) async fn send_all(port: u16, id: JobId, token: &Token, payload: &[u8]) {
    let sock = connect_joiner(port, id, token).await;
    let mut frames = FrameWriter::new(sock);
    for chunk in payload.chunks(300 * 1024) {
        frames.write(chunk).await.unwrap();
    }
    let mut sock = frames.finish().await.unwrap();
    sock.shutdown().await.unwrap();
}

/// `ferryman agent --once` for `name`, in the background.
fn agent_in_background(
    sb: &TestSandbox,
    name: &str,
) -> tokio::task::JoinHandle<std::process::Output> {
    let config = sb.config_path();
    let name = name.to_owned();
    tokio::spawn(async move { agent_once_with(&config, &name).await })
}

/// `CHECKSUM TABLE` of every user table of server `name`, by table name.
pub(crate) async fn checksums(sb: &TestSandbox, name: &str) -> Vec<(String, Option<u64>)> {
    let spec = sb.server(name).unwrap();
    let mut conn = sb.endpoint(spec).connect(Session::Plain).await.unwrap();
    let tables: Vec<String> = conn
        .query(
            "SELECT CONCAT('`', TABLE_SCHEMA, '`.`', TABLE_NAME, '`') FROM information_schema.TABLES \
             WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA NOT IN \
             ('mysql', 'information_schema', 'performance_schema', 'sys', 'replication_manager_schema') \
             ORDER BY 1",
        )
        .await
        .unwrap();
    let mut out = Vec::new();
    for table in tables {
        let row: Option<(String, Option<u64>)> = conn
            .query_first(format!("CHECKSUM TABLE {table}"))
            .await
            .unwrap();
        out.push(row.unwrap());
    }
    conn.disconnect().await.unwrap();
    assert!(out.len() >= 3, "{out:?}");
    out
}

/// Waits until `name` replicates with both threads running and no lag.
pub(crate) async fn replicating(sb: &TestSandbox, name: &str) {
    let ep = sb.endpoint(sb.server(name).unwrap());
    let started = Instant::now();
    loop {
        let mut conn = ep.connect(Session::Plain).await.unwrap();
        let status = topology::read_slave_status(&ep, &mut conn).await.unwrap();
        conn.disconnect().await.unwrap();
        if status
            .as_ref()
            .is_some_and(|s| s.running() && s.seconds_behind_master == Some(0))
        {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{name} does not replicate: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A write on the primary shows on `name`.
pub(crate) async fn a_new_write_arrives(sb: &TestSandbox, name: &str, marker: &str) {
    sb.sql(
        "db1",
        &format!("INSERT INTO shop.items (name, price) VALUES ('{marker}', 1)"),
    )
    .await;
    let sql = format!("SELECT COUNT(*) FROM shop.items WHERE name = '{marker}'");
    wait_for(
        Duration::from_secs(30),
        "the new write to replicate",
        || async { query(sb, name, &sql).await == ["1"] },
    )
    .await;
}

/// Leftovers of a reseed next to the datadir of `name`.
pub(crate) fn leftovers(sb: &TestSandbox, name: &str) -> Vec<PathBuf> {
    let dir = sb.layout().server(name).root().to_owned();
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().contains(".ferryman-"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_diverged_replica_is_reseeded_from_the_primary_and_replicates_again() {
    let sb = sandbox(1).await;
    seed(&sb, "db1").await;
    replicating(&sb, "db2").await;
    // db2's own history, and a pending job of db1's that its backup will carry along.
    let mut db2_jobs = jobs(&sb, "db2").await;
    let history = db2_jobs
        .enqueue(Task::Optimize, "127.0.0.1", None, None, None)
        .await
        .unwrap();
    db2_jobs.cancel(history, "an old job of db2").await.unwrap();
    db2_jobs.close().await.unwrap();
    let mut db1_jobs = jobs(&sb, "db1").await;
    db1_jobs
        .enqueue(Task::Stop, "127.0.0.1", None, None, None)
        .await
        .unwrap();
    db1_jobs.close().await.unwrap();
    // The stray write: db2 gets a row db1 never had, then db1 writes the same key and db2's
    // replication breaks on it.
    sb.sql(
        "db2",
        "SET sql_log_bin = 0; INSERT INTO shop.items (id, name, price) VALUES (100000, 'stray', 1)",
    )
    .await;
    sb.sql(
        "db1",
        "INSERT INTO shop.items (id, name, price) VALUES (100000, 'primary', 2)",
    )
    .await;
    assert_ne!(checksums(&sb, "db1").await, checksums(&sb, "db2").await);

    let backup = backup_of(&sb, "db1").await;
    let (id, token, port) = enqueue_reseed(&sb, "db2", "db1", &backup).await;
    let started = Instant::now();
    let agent = agent_in_background(&sb, "db2");
    send_all(port, id, &token, &backup.payload).await;
    let out = agent.await.unwrap();
    let took = started.elapsed();

    let job = job(&sb, "db2", id).await;
    let result = ended(&job, "success");
    eprintln!("reseed took {took:?}: {result}\n{}", text(&out));
    let db1_port = sb.server("db1").unwrap().port;
    assert!(result.starts_with("reseedmariabackup: "), "{result}");
    assert!(
        result.contains(&format!(
            "replicating from 127.0.0.1:{db1_port} from GTID {}",
            backup.gtid
        )),
        "{result}"
    );
    assert!(result.contains("backup sandbox/db1/test"), "{result}");
    assert!(result.contains("; old datadir removed in "), "{result}");
    replicating(&sb, "db2").await;
    assert_eq!(checksums(&sb, "db1").await, checksums(&sb, "db2").await);
    assert_eq!(
        query(&sb, "db2", "SELECT name FROM shop.items WHERE id = 100000").await,
        ["primary"]
    );
    a_new_write_arrives(&sb, "db2", "after the reseed").await;
    assert_eq!(checksums(&sb, "db1").await, checksums(&sb, "db2").await);

    // db2's jobs table is db2's: its history kept, db1's pending stop not brought along.
    let mut db2_jobs = jobs(&sb, "db2").await;
    let rows = db2_jobs.list(100).await.unwrap();
    db2_jobs.close().await.unwrap();
    assert_eq!(
        rows.iter().map(|j| j.id).collect::<Vec<_>>(),
        [id, history],
        "{rows:?}"
    );
    assert!(
        leftovers(&sb, "db2").is_empty(),
        "{:?}",
        leftovers(&sb, "db2")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replica_stopped_and_wiped_while_the_joiner_waits_is_rebuilt() {
    let sb = sandbox(1).await;
    seed(&sb, "db1").await;
    replicating(&sb, "db2").await;
    let backup = backup_of(&sb, "db1").await;
    let (id, token, port) = enqueue_reseed(&sb, "db2", "db1", &backup).await;
    let agent = agent_in_background(&sb, "db2");
    wait_for(
        Duration::from_secs(30),
        "the joiner to wait for the backup",
        || async {
            job(&sb, "db2", id)
                .await
                .progress
                .is_some_and(|p| p.starts_with("Waiting backup."))
        },
    )
    .await;
    // The server dies and its datadir is lost while the joiner waits.
    sb.stop_server("db2").await.unwrap();
    let datadir = sb.layout().server("db2").datadir();
    for entry in std::fs::read_dir(&datadir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            std::fs::remove_dir_all(&path).unwrap();
        } else {
            std::fs::remove_file(&path).unwrap();
        }
    }
    send_all(port, id, &token, &backup.payload).await;
    let out = agent.await.unwrap();
    let result = ended(&job(&sb, "db2", id).await, "success");
    eprintln!("{result}\n{}", text(&out));
    assert!(result.contains("replicating from 127.0.0.1:"), "{result}");
    replicating(&sb, "db2").await;
    assert_eq!(checksums(&sb, "db1").await, checksums(&sb, "db2").await);
    a_new_write_arrives(&sb, "db2", "after the rebuild").await;
    assert!(sb.pid(sb.server("db2").unwrap()).is_some());
    assert!(
        leftovers(&sb, "db2").is_empty(),
        "{:?}",
        leftovers(&sb, "db2")
    );
}

/// db2's own marker, which no backup of db1 holds: present means the old datadir.
async fn mark(sb: &TestSandbox, name: &str) {
    sb.sql(
        name,
        "SET sql_log_bin = 0; CREATE DATABASE mine; CREATE TABLE mine.marker (v VARCHAR(20)); \
         INSERT INTO mine.marker VALUES ('old data')",
    )
    .await;
}

async fn marked(sb: &TestSandbox, name: &str) -> bool {
    query(
        sb,
        name,
        "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'mine'",
    )
    .await
        == ["1"]
        && query(sb, name, "SELECT v FROM mine.marker").await == ["old data"]
}

/// db2 after a failed reseed: its own data (the marker), replicating, nothing left next to
/// its datadir; with a `write` marker, a new write on the primary reaches it too.
async fn back_as_it_was(sb: &TestSandbox, write: &str) {
    assert!(marked(sb, "db2").await);
    replicating(sb, "db2").await;
    if !write.is_empty() {
        a_new_write_arrives(sb, "db2", write).await;
    }
    assert!(
        leftovers(sb, "db2").is_empty(),
        "{:?}",
        leftovers(sb, "db2")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_cut_midway_fails_the_reseed_and_leaves_the_replica_as_it_was() {
    let sb = sandbox(1).await;
    seed(&sb, "db1").await;
    replicating(&sb, "db2").await;
    mark(&sb, "db2").await;
    let pid = sb.pid(sb.server("db2").unwrap());
    let backup = backup_of(&sb, "db1").await;
    let (id, token, port) = enqueue_reseed(&sb, "db2", "db1", &backup).await;
    let agent = agent_in_background(&sb, "db2");
    let sock = connect_joiner(port, id, &token).await;
    let mut frames = FrameWriter::new(sock);
    let half = &backup.payload[..backup.payload.len() / 2];
    for chunk in half.chunks(300 * 1024) {
        frames.write(chunk).await.unwrap();
    }
    // The manager dies: its socket closes without the end marker.
    drop(frames.into_inner());
    let out = agent.await.unwrap();
    let result = ended(&job(&sb, "db2", id).await, "failure");
    eprintln!("{result}\n{}", text(&out));
    assert!(result.contains("while receiving the backup"), "{result}");
    assert!(
        result.contains("without its end marker: the sender stopped or the connection was cut"),
        "{result}"
    );
    assert!(
        result.contains("the server was not touched: it runs on its old data as before"),
        "{result}"
    );
    assert_eq!(sb.pid(sb.server("db2").unwrap()), pid, "db2 was restarted");
    back_as_it_was(&sb, "after the cut").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replica_that_cannot_catch_up_gets_its_old_data_back_and_replicates_again() {
    let sb = sandbox(1).await;
    seed(&sb, "db1").await;
    replicating(&sb, "db2").await;
    mark(&sb, "db2").await;
    let mut backup = backup_of(&sb, "db1").await;
    // A position the primary never reached: its I/O thread stops with error 1236 at once.
    backup.gtid = "0-1-999999".to_owned();
    let (id, token, port) = enqueue_reseed(&sb, "db2", "db1", &backup).await;
    let agent = agent_in_background(&sb, "db2");
    send_all(port, id, &token, &backup.payload).await;
    let out = agent.await.unwrap();
    let result = ended(&job(&sb, "db2", id).await, "failure");
    eprintln!("{result}\n{}", text(&out));
    assert!(
        result.contains("while catching up with the primary"),
        "{result}"
    );
    assert!(result.contains("its I/O thread stopped"), "{result}");
    assert!(
        result.contains("the old data is back in")
            && result.contains("the server was started on it"),
        "{result}"
    );
    back_as_it_was(&sb, "after the rollback").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reseed_of_the_primary_is_refused_and_touches_nothing() {
    let sb = sandbox(1).await;
    seed(&sb, "db1").await;
    let pid = sb.pid(sb.primary());
    let before = checksums(&sb, "db1").await;
    let backup = backup_of(&sb, "db2").await;
    let (id, _token, port) = enqueue_reseed(&sb, "db1", "db1", &backup).await;
    let out = agent_once(&sb, "db1").await;
    let result = ended(&job(&sb, "db1", id).await, "failure");
    eprintln!("{result}\n{}", text(&out));
    assert!(
        result.contains("refusing to reseed it: it is the primary the job names"),
        "{result}"
    );
    assert!(result.contains("nothing was changed"), "{result}");
    assert!(
        TcpStream::connect(("127.0.0.1", port)).await.is_err(),
        "the joiner port is open"
    );

    // Named as the replica of db2, it is still refused: db2 reads from it.
    let (id, _token, _) = enqueue_reseed(&sb, "db1", "db2", &backup).await;
    agent_once(&sb, "db1").await;
    let result = ended(&job(&sb, "db1", id).await, "failure");
    assert!(
        result.contains("refusing to reseed it: 1 replica(s) read from it"),
        "{result}"
    );
    // An account that cannot see other sessions cannot tell: refused too (fail closed).
    sb.sql_as_root(
        "db1",
        "SET sql_log_bin = 0; REVOKE PROCESS ON *.* FROM 'ferryman'@'127.0.0.1'; \
         REVOKE PROCESS ON *.* FROM 'ferryman'@'localhost'",
    )
    .await;
    let (id, _token, _) = enqueue_reseed(&sb, "db1", "db2", &backup).await;
    agent_once(&sb, "db1").await;
    let result = ended(&job(&sb, "db1", id).await, "failure");
    sb.sql_as_root(
        "db1",
        "SET sql_log_bin = 0; GRANT PROCESS ON *.* TO 'ferryman'@'127.0.0.1'; \
         GRANT PROCESS ON *.* TO 'ferryman'@'localhost'",
    )
    .await;
    assert!(
        result.contains("lacks the PROCESS privilege") && result.contains("config/grants.sql"),
        "{result}"
    );
    assert_eq!(sb.pid(sb.primary()), pid);
    assert_eq!(checksums(&sb, "db1").await, before);
    assert!(
        leftovers(&sb, "db1").is_empty(),
        "{:?}",
        leftovers(&sb, "db1")
    );
}

/// `mariadb-dump` of sandbox server `name` with the options the agent's mysqldump task uses
/// (`--master-data=2 --gtid`: the GTID position is in a comment near the end).
async fn dump_of(sb: &TestSandbox, name: &str) -> Vec<u8> {
    let cnf = sb.layout().server(name).defaults_file();
    let mut running = Program::find("mariadb-dump", "mariadb-client")
        .unwrap()
        .command()
        .arg(format!("--defaults-file={}", cnf.display()))
        .args([
            "--user=root",
            "--single-transaction",
            "--master-data=2",
            "--gtid",
            "--all-databases",
            "--routines",
            "--events",
            "--triggers",
            "--hex-blob",
            "--flush-privileges",
            "--ignore-table=replication_manager_schema.jobs",
        ])
        .spawn_streaming(&Streaming::default())
        .unwrap();
    let mut stdout = running.take_stdout().unwrap();
    let mut dump = Vec::new();
    stdout.read_to_end(&mut dump).await.unwrap();
    let done = running.wait().await.unwrap();
    assert!(
        done.status.success(),
        "mariadb-dump failed: {}",
        done.stderr
    );
    dump
}

/// A `reseedmysqldump` row on `name`, from the primary `primary`, with no GTID in its params
/// (the joiner reads it from the dump, as for `logicalmaster`).
async fn enqueue_logical(sb: &TestSandbox, name: &str, primary: &str) -> (JobId, Token, u16) {
    let port = joiner_port(sb, name);
    let token = Token::generate().unwrap();
    let params = ReseedParams {
        method: ferryman_proto::Method::Logicalmaster,
        backup_id: None,
        gtid: None,
        primary_host: "127.0.0.1".to_owned(),
        primary_port: sb.server(primary).unwrap().port,
        payload_bytes: None,
        hold: false,
        target: None,
        issued_at: None,
        seal: None,
    };
    let params = sealed(sb, name, Task::Reseedmysqldump, port, &token, params);
    let id = insert_reseed_row(sb, name, Task::Reseedmysqldump, port, &token, &params).await;
    (id, token, port)
}

/// Processes whose command line names a reseed directory of `name` (an import server).
fn import_servers(sb: &TestSandbox, name: &str) -> Vec<String> {
    let root = sb.layout().server(name).root().display().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|raw| String::from_utf8_lossy(&raw).replace('\0', " "))
        .filter(|cmd| cmd.contains(&root) && cmd.contains(".ferryman-"))
        .collect()
}

/// A logical reseed that fails before the swap leaves the replica as it was, and nothing
/// behind: no import server, no staging or run directory.
async fn logical_reseed_fails_untouched(
    sb: &TestSandbox,
    payload: &[u8],
    cut: bool,
    expect: &[&str],
) {
    let pid = sb.pid(sb.server("db2").unwrap());
    let (id, token, port) = enqueue_logical(sb, "db2", "db1").await;
    let agent = agent_in_background(sb, "db2");
    if cut {
        let sock = connect_joiner(port, id, &token).await;
        let mut frames = FrameWriter::new(sock);
        frames.write(payload).await.unwrap();
        // The manager dies: its socket closes without the end marker.
        drop(frames.into_inner());
    } else {
        // The joiner may refuse the data before it is all sent (the client stops at the bad
        // statement, then the connection is reset): a write error is part of the test.
        let sock = connect_joiner(port, id, &token).await;
        let mut frames = FrameWriter::new(sock);
        let mut sent = Ok(());
        for chunk in payload.chunks(300 * 1024) {
            sent = frames.write(chunk).await;
            if sent.is_err() {
                break;
            }
        }
        if sent.is_ok() {
            if let Ok(mut sock) = frames.finish().await {
                let _ = sock.shutdown().await;
            }
        }
    }
    let out = agent.await.unwrap();
    let result = ended(&job(sb, "db2", id).await, "failure");
    eprintln!("{result}\n{}", text(&out));
    for e in expect {
        assert!(result.contains(e), "expected `{e}` in: {result}");
    }
    assert!(
        result.contains("the server was not touched: it runs on its old data as before"),
        "{result}"
    );
    assert_eq!(sb.pid(sb.server("db2").unwrap()), pid, "db2 was restarted");
    back_as_it_was(sb, "").await;
    assert!(
        import_servers(sb, "db2").is_empty(),
        "{:?}",
        import_servers(sb, "db2")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cut_truncated_or_broken_dump_fails_the_logical_reseed_and_leaves_the_replica_as_it_was()
{
    let sb = sandbox(1).await;
    seed(&sb, "db1").await;
    replicating(&sb, "db2").await;
    mark(&sb, "db2").await;
    let dump = dump_of(&sb, "db1").await;

    // Cut mid-way: no end marker.
    logical_reseed_fails_untouched(
        &sb,
        &dump[..dump.len() / 2],
        true,
        &["while importing the dump", "without its end marker"],
    )
    .await;
    // Whole stream, but the dump lacks its completion footer (cut short at its source).
    let text_dump = String::from_utf8_lossy(&dump).into_owned();
    let footer = text_dump.rfind("-- Dump completed").unwrap();
    logical_reseed_fails_untouched(
        &sb,
        &dump[..footer],
        false,
        &["does not end with mariadb-dump's `-- Dump completed` line"],
    )
    .await;
    // A statement the server refuses: the client's error is the reason.
    let at = text_dump.find("\nINSERT INTO").unwrap() + 1;
    let mut broken = dump[..at].to_vec();
    broken.extend_from_slice(b"THIS IS NOT SQL;\n");
    broken.extend_from_slice(&dump[at..]);
    logical_reseed_fails_untouched(&sb, &broken, false, &["`mariadb` failed", "ERROR 1064"]).await;
    a_new_write_arrives(&sb, "db2", "after the failed imports").await;

    // The same dump whole: db2 is rebuilt from it (its marker gone), GTID from the dump.
    let (id, token, port) = enqueue_logical(&sb, "db2", "db1").await;
    let agent = agent_in_background(&sb, "db2");
    send_all(port, id, &token, &dump).await;
    let out = agent.await.unwrap();
    let result = ended(&job(&sb, "db2", id).await, "success");
    eprintln!("{result}\n{}", text(&out));
    assert!(result.contains("imported in"), "{result}");
    assert!(!marked(&sb, "db2").await);
    replicating(&sb, "db2").await;
    a_new_write_arrives(&sb, "db2", "after the logical reseed").await;
    assert_eq!(checksums(&sb, "db2").await, checksums(&sb, "db1").await);
    assert!(
        leftovers(&sb, "db2").is_empty(),
        "{:?}",
        leftovers(&sb, "db2")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hand_written_reseed_row_is_refused_and_touches_nothing() {
    let sb = sandbox(1).await;
    seed(&sb, "db1").await;
    replicating(&sb, "db2").await;
    mark(&sb, "db2").await;
    let pid = sb.pid(sb.server("db2").unwrap());
    // Anyone with INSERT on the jobs table: a complete reseed row, a token of their choosing,
    // a primary of their choosing, no seal (or one made with a key of their own).
    let port = joiner_port(&sb, "db2");
    let token = Token::generate().unwrap();
    let forged = |seal: Option<String>| ReseedParams {
        method: ferryman_proto::Method::Physicalbackup,
        backup_id: None,
        gtid: Some("0-1-1".to_owned()),
        primary_host: "127.0.0.2".to_owned(),
        primary_port: 3306,
        payload_bytes: None,
        hold: false,
        target: Some("db2".to_owned()),
        issued_at: Some(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs(),
        ),
        seal,
    };
    let own_key = tempfile::tempdir().unwrap();
    let (key, _) = ferryman_proto::RowKey::load_or_create(&own_key.path().join("k")).unwrap();
    let unsealed = forged(None);
    let mut with_own_key = forged(None);
    with_own_key.seal =
        Some(key.seal(Task::Reseedmariabackup, port, token.expose(), &with_own_key));
    for (params, expected) in [
        (unsealed, "its seal is missing"),
        (with_own_key, "its seal does not match"),
    ] {
        let id =
            insert_reseed_row(&sb, "db2", Task::Reseedmariabackup, port, &token, &params).await;
        let out = agent_once(&sb, "db2").await;
        let result = ended(&job(&sb, "db2", id).await, "failure");
        eprintln!("{result}\n{}", text(&out));
        assert!(result.contains(expected), "{result}");
        assert!(result.contains("nothing was touched"), "{result}");
        // Nobody listened for a stream.
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    }
    assert_eq!(sb.pid(sb.server("db2").unwrap()), pid, "db2 was restarted");
    back_as_it_was(&sb, "after the forged rows").await;
}
