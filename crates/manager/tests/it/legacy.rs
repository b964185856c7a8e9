//! Legacy compatibility: replication-manager's own donor script (reference 000, adapted only
//! in its variables: `legacy_donor.sh`) streams with socat to a per-job port of
//! `scheduler-db-servers-sender-ports`, and the backup lands and is catalogued like any other.
//! An intruder on that port is refused, and a job no donor serves in time fails and is taken
//! off the node's queue, so a late donor does not stream into a closed port.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ferryman_jobs::{JobId, JobsConn, Schema, Task};
use ferryman_manager::JobState;
use ferryman_repo::{Kind, Tool};
use ferryman_sandbox::testing::TestSandbox;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpSocket;

use crate::common::*;

/// The reference's donor script, with its variables adapted (see the file's header).
pub const DONOR_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/legacy_donor.sh");

/// How long the manager waits for a legacy donor's connection in this test.
const ACCEPT_TIMEOUT_S: u64 = 20;

/// A 0600 file.
fn private_file(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// What a DBA sets up on the node for the script: `MYSQL_CONF/my.cnf` for mariabackup (the
/// server's my.cnf plus the account), `MYSQL_HOME/my.cnf` for the mysql client. Returns
/// (MYSQL_CONF, MYSQL_HOME).
pub fn node_files(sb: &TestSandbox, dir: &Path) -> (PathBuf, PathBuf) {
    let server = &sb.config().clusters[0].servers[0];
    let password = sb.passwords().admin.expose_secret().to_owned();
    let conf = dir.join("conf");
    let home = dir.join("home");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::create_dir_all(&home).unwrap();
    let defaults = server.defaults_file.as_ref().unwrap();
    private_file(
        &conf.join("my.cnf"),
        &format!(
            "!include {}\n[client]\nuser=ferryman\npassword={password}\n\
             [mariabackup]\nuser=ferryman\npassword={password}\n",
            defaults.display()
        ),
    );
    private_file(
        &home.join("my.cnf"),
        &format!("[client]\npassword={password}\n"),
    );
    (conf, home)
}

/// Runs the donor script once, as a crontab would; returns its output (it runs with `set -x`).
async fn run_donor(sb: &TestSandbox, dir: &Path, conf: &Path, home: &Path) -> String {
    let config = sb.config();
    let server = &config.clusters[0].servers[0];
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let bash = ferryman_exec::Program::find("bash", "bash").unwrap();
    let command = bash
        .command()
        .arg(DONOR_SCRIPT)
        .current_dir(&work)
        .env("MYSQL_HOME", home)
        .env("DONOR_USER", "ferryman")
        .env("DONOR_MYSQL_PORT", server.port.to_string())
        .env("DONOR_CLUSTER_NAME", &config.clusters[0].name)
        .env(
            "DONOR_REPLICATION_MANAGER_ADDR",
            format!("127.0.0.1:{}", config.manager.http_port),
        )
        .env("DONOR_MYSQL_CONF", conf)
        .env("DONOR_DATADIR", server.datadir.as_ref().unwrap())
        .env("DONOR_SST_RECEIVER_PORT", "1");
    let out = tokio::time::timeout(Duration::from_secs(120), command.output())
        .await
        .expect("the donor script ran for more than 120 s")
        .unwrap();
    let text = format!("{}{}", out.stdout, out.stderr);
    // Keep it for a failing test's reader.
    std::fs::write(dir.join("donor.out"), &text).unwrap();
    text
}

async fn gtid_binlog_pos(sb: &TestSandbox) -> String {
    let row = sb.sql("db1", "SELECT @@gtid_binlog_pos").await.remove(0);
    ferryman_db::mysql_async::from_row(row)
}

async fn node_row(sb: &TestSandbox, id: u64) -> ferryman_jobs::Job {
    let mut conn = JobsConn::open(&sb.endpoint(sb.server("db1").unwrap()), &Schema::default())
        .await
        .unwrap();
    let row = conn.get(JobId(id)).await.unwrap();
    conn.close().await.unwrap();
    row
}

#[tokio::test(flavor = "multi_thread")]
async fn the_reference_donor_script_backs_up_through_a_legacy_port() {
    let sb = TestSandbox::start(0).await;
    sb.sql(
        "db1",
        "CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY, v TEXT);
         INSERT INTO shop.orders SELECT seq, REPEAT('o', 200) FROM mysql.seq_1_to_3000;",
    )
    .await;
    let config = config_with(
        &sb,
        "",
        &format!("stream-accept-timeout = \"{ACCEPT_TIMEOUT_S}s\""),
    );
    // db1 is a legacy donor: its rows carry a port of the pool and no token.
    let text = std::fs::read_to_string(&config).unwrap();
    let datadir_line = text
        .lines()
        .find(|l| l.starts_with("datadir = "))
        .unwrap()
        .to_owned();
    std::fs::write(
        &config,
        text.replacen(
            &datadir_line,
            &format!("{datadir_line}\nlegacy-donor = true"),
            1,
        ),
    )
    .unwrap();
    let pool = sb.config().clusters[0].sender_ports.clone();
    let (conf, home) = node_files(&sb, &sb.path());
    let running = start(&config, &[]).await;
    let services = running.services.clone();
    assert!(services.config.clusters[0].servers[0].legacy_donor);

    // 1. A backup the donor script serves.
    let id = services
        .start_backup("sandbox", Some("db1"), Task::Mariabackup, "test")
        .await
        .unwrap();
    let node_id = wait_node_id(&services, id).await;
    let row = node_row(&sb, node_id).await;
    assert!(row.token.is_none(), "{row:?}");
    assert_eq!(row.server.as_deref(), Some("127.0.0.1"));
    let port = u16::try_from(row.port.unwrap()).unwrap();
    assert!(pool.contains(&port), "{port} not in {pool:?}");

    // An intruder from another address is refused; the port stays open for the donor.
    let sock = TcpSocket::new_v4().unwrap();
    sock.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    if let Ok(mut s) = sock
        .connect(format!("127.0.0.1:{port}").parse().unwrap())
        .await
    {
        let _ = s.write_all(b"not a backup").await;
        let _ = s.shutdown().await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!services.registry.get(id).unwrap().state.is_final());

    let output = run_donor(&sb, &sb.path(), &conf, &home).await;
    assert!(output.contains("Processing mariabackup"), "{output}");
    let job = wait_job(&services, id, Duration::from_secs(120)).await;
    assert_eq!(
        job.state,
        JobState::Succeeded,
        "{job:?}\ndonor script:\n{output}"
    );
    let backup_id = job.backup_id.clone().unwrap();

    // Catalogued like any other backup.
    let list = services
        .repos
        .list(Some("sandbox"), Some("db1"))
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
    let m = &list[0];
    assert_eq!(m.id.to_string(), backup_id);
    assert_eq!(m.kind, Kind::Physical);
    assert_eq!(m.tool, Tool::Mariabackup);
    assert_eq!(m.job_id, node_id);
    assert!(m.captured.contains_key("xtrabackup_info"), "{m:?}");
    assert!(m.stored_bytes < m.raw_bytes, "{m:?}");
    // The GTID comes from the stream itself (a legacy donor reports none): nothing was
    // written since, so it is the server's position.
    assert_eq!(m.gtid.as_deref(), Some(gtid_binlog_pos(&sb).await.as_str()));
    let report = services
        .repo("sandbox")
        .unwrap()
        .verify_checksum(&m.id)
        .await
        .unwrap();
    assert!(report.stored_ok && report.raw_ok, "{report:?}");
    // The script marked its row done (it records no outcome: the stream checks decided).
    let row = node_row(&sb, node_id).await;
    assert!(row.done, "{row:?}");

    // 2. A job no donor serves in time fails with the reason and leaves the node's queue.
    let id = services
        .start_backup("sandbox", Some("db1"), Task::Mariabackup, "test")
        .await
        .unwrap();
    let node_id = wait_node_id(&services, id).await;
    let job = wait_job(&services, id, Duration::from_secs(ACCEPT_TIMEOUT_S + 30)).await;
    assert_eq!(job.state, JobState::Failed, "{job:?}");
    let error = job.error.unwrap();
    assert!(error.contains(&format!("{ACCEPT_TIMEOUT_S} s")), "{error}");
    let row = node_row(&sb, node_id).await;
    assert!(row.done, "{row:?}");
    let output = run_donor(&sb, &sb.path(), &conf, &home).await;
    assert!(output.contains("No mariabackup needed"), "{output}");
    assert_eq!(
        services
            .repos
            .list(Some("sandbox"), None)
            .await
            .unwrap()
            .len(),
        1
    );

    running.stop().await;
}
