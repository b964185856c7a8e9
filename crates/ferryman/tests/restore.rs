//! `ferryman restore` end to end: a manager (in this process) archives a real primary's binlog
//! into two repositories and takes a physical backup through its agent; after a `DROP TABLE`,
//! the binary restores to one second before it and to the GTID of that moment: the table is
//! there and every table checksums equal to the reference taken then. A damaged segment in the
//! first repository is read from the second (and said); damaged in both, and a point outside
//! every window, are refused with the reason, and nothing is written.
#![allow(clippy::unwrap_used, clippy::print_stderr)] // test code: panics and stderr are the report

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use ferryman_binlog::GtidPos;
use ferryman_config::Config;
use ferryman_db::mysql_async::prelude::Queryable;
use ferryman_db::mysql_async::{from_row, Row};
use ferryman_db::{Endpoint, Session};
use ferryman_proto::Task;
use ferryman_repo::segments::end_position;
use ferryman_repo::{Repository, Timestamp};
use ferryman_sandbox::testing::TestSandbox;
use ferryman_sandbox::UpOptions;

mod daemons;
use daemons::Daemons;

const BIN: &str = env!("CARGO_BIN_EXE_ferryman");
const TABLES: &str = "shop.orders, shop.customers";

/// `ferryman ARGS`, off the runtime.
async fn ferryman(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        #[allow(clippy::disallowed_methods)] // running the binary under test
        let out = std::process::Command::new(BIN)
            .args(&args)
            .output()
            .unwrap();
        eprintln!(
            "$ ferryman {}\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    })
    .await
    .unwrap()
}

/// A restored server left running by `--start`: stopped by PID however the test ends.
struct Started(u32);

impl Drop for Started {
    fn drop(&mut self) {
        let _ = ferryman_exec::process::stop(self.0, Duration::from_secs(60));
    }
}

/// `CHECKSUM TABLE` of the shop's tables on `endpoint`.
async fn checksums(endpoint: &Endpoint) -> Vec<(String, Option<u64>)> {
    let mut conn = endpoint.connect(Session::Plain).await.unwrap();
    let rows: Vec<Row> = conn
        .query(format!("CHECKSUM TABLE {TABLES}"))
        .await
        .unwrap();
    rows.into_iter().map(from_row).collect()
}

/// The socket endpoint of a restored copy.
fn copy_at(socket: &str) -> Endpoint {
    Endpoint {
        name: "restored copy".into(),
        host: "localhost".into(),
        port: 0,
        socket: Some(PathBuf::from(socket)),
        user: "root".into(),
        password: None,
        ssl: Default::default(),
    }
}

/// Restores with `args` into `dir`, started; returns the copy's checksums and gtid_slave_pos
/// and the restore's JSON.
async fn restore_and_read(
    config: &Path,
    dir: &Path,
    args: &[&str],
) -> (Vec<(String, Option<u64>)>, String, serde_json::Value) {
    let mut argv = vec!["--start", "--json"];
    argv.extend(args);
    let out = restore_cli(config, dir, &argv).await;
    assert!(out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let _running = Started(u32::try_from(report["pid"].as_u64().unwrap()).unwrap());
    let copy = copy_at(report["socket"].as_str().unwrap());
    let sums = checksums(&copy).await;
    let mut conn = copy.connect(Session::Plain).await.unwrap();
    let pos: Option<String> = conn.query_first("SELECT @@gtid_slave_pos").await.unwrap();
    // The copy runs durable again, whatever the restore ran with.
    let durable: Option<(u8, u8)> = conn
        .query_first("SELECT @@innodb_flush_log_at_trx_commit, @@innodb_doublewrite")
        .await
        .unwrap();
    assert_eq!(durable, Some((1, 1)));
    (sums, pos.unwrap(), report)
}

/// Flips one byte in the middle of every segment payload under `root`.
fn damage_segments(root: &Path) {
    let dir = root.join("Binlogs/sandbox");
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let payload = entry.path().join("segment.binlog.zst");
        let mut bytes = std::fs::read(&payload).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x20;
        std::fs::write(&payload, bytes).unwrap();
    }
}

/// A sandbox with `replicas`, the shop's tables, and its binlog archived into `local` and
/// `offsite` (segments closed every second); returns it with its configuration and the
/// off-site repository's root.
async fn archived_sandbox(replicas: usize) -> (TestSandbox, Config, PathBuf) {
    // The servers' service commands are `ferryman sandbox start|stop` (a flashback restarts
    // its replica).
    let sb = TestSandbox::start_with(&UpOptions {
        replicas,
        ferryman_bin: Some(PathBuf::from(BIN)),
        auto_verify: false,
    })
    .await;
    sb.sql(
        "db1",
        "CREATE DATABASE shop; \
         CREATE TABLE shop.orders (id INT PRIMARY KEY, amount INT NOT NULL); \
         CREATE TABLE shop.customers (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL); \
         INSERT INTO shop.customers VALUES (1, 'ada'), (2, 'grace')",
    )
    .await;
    let offsite = sb.path().join("offsite");
    std::fs::create_dir_all(&offsite).unwrap();
    let config_path = sb.config_path();
    let text = std::fs::read_to_string(&config_path).unwrap();
    let text = text.replacen(
        "[clusters.sandbox]\n",
        "[clusters.sandbox]\nbinlog-archive = true\nbinlog-archive-segment-age = \"1s\"\n\
         backup-repositories = [\"local\", \"offsite\"]\n",
        1,
    );
    std::fs::write(
        &config_path,
        format!(
            "{text}\n[repositories.offsite]\nkind = \"local\"\npath = \"{}\"\n",
            offsite.display()
        ),
    )
    .unwrap();
    let config = Config::load(&config_path).unwrap();
    (sb, config, offsite)
}

/// After a backup: 50 orders and a changed customer, then (a quiet second later) the
/// reference checksums and GTID, then (another second later) `DROP TABLE shop.customers` and
/// 10 more orders, all archived in every repository. Returns the reference, its GTID, and
/// the time of the `DROP`.
async fn history_with_a_drop(
    sb: &TestSandbox,
    roots: &[&Path],
) -> (Vec<(String, Option<u64>)>, String, i64) {
    for i in 0..50 {
        sb.sql(
            "db1",
            &format!("INSERT INTO shop.orders VALUES ({i}, {})", i * 7),
        )
        .await;
    }
    sb.sql(
        "db1",
        "UPDATE shop.customers SET name = 'hopper' WHERE id = 2",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let reference = checksums(&daemons_endpoint(sb)).await;
    let (ref_pos,): (String,) = from_row(sb.sql("db1", "SELECT @@gtid_binlog_pos").await.remove(0));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (dropped_at,): (i64,) = from_row(sb.sql("db1", "SELECT UNIX_TIMESTAMP()").await.remove(0));
    sb.sql("db1", "DROP TABLE shop.customers").await;
    for i in 50..60 {
        sb.sql("db1", &format!("INSERT INTO shop.orders VALUES ({i}, 0)"))
            .await;
    }
    archived_now(sb, roots).await;
    (reference, ref_pos, dropped_at)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restore_to_just_before_a_drop_table_has_the_table_and_the_data_of_that_moment() {
    let (sb, config, offsite) = archived_sandbox(0).await;
    let config_path = sb.config_path();
    let local_root = config.manager.monitoring_datadir.clone();
    let daemons = Daemons::start(config.clone(), &["db1"]).await;
    let backup = daemons.backup(Task::Mariabackup).await;
    eprintln!("backup {backup}");

    let (reference, ref_pos, dropped_at) = history_with_a_drop(&sb, &[&local_root, &offsite]).await;

    // 1. To one second before the DROP: the table is there, every checksum the reference's.
    let before = Timestamp::from_unix(dropped_at - 1).rfc3339();
    let (sums, pos, report) =
        restore_and_read(&config_path, &sb.path().join("r1"), &["--to-time", &before]).await;
    assert_eq!(sums, reference);
    assert_eq!(pos, ref_pos);
    assert_eq!(report["backup"], backup.to_string());
    assert!(!report["segments"].as_array().unwrap().is_empty());

    // 2. To the GTID of that moment: the same.
    let (sums, pos, _) = restore_and_read(
        &config_path,
        &sb.path().join("r2"),
        &["--to-gtid", &ref_pos],
    )
    .await;
    assert_eq!((sums, pos), (reference.clone(), ref_pos.clone()));

    // The backup as it is: no order yet, the customers as they were, at the backup's GTID.
    let (sums, pos, report) = restore_and_read(
        &config_path,
        &sb.path().join("r0"),
        &["--backup", &backup.to_string()],
    )
    .await;
    assert_eq!(report["segments"].as_array().unwrap().len(), 0);
    assert_eq!(pos, report["from_gtid"].as_str().unwrap());
    assert_ne!(sums, reference);

    // 3. The first repository's segments damaged: read from the second, and said.
    damage_segments(&local_root);
    let (sums, _, report) = restore_and_read(
        &config_path,
        &sb.path().join("r3"),
        &["--to-gtid", &ref_pos],
    )
    .await;
    assert_eq!(sums, reference);
    let notes = report["notes"].to_string();
    assert!(notes.contains("read from `offsite`"), "{notes}");

    // 4. Damaged everywhere: refused with the reason; nothing written.
    damage_segments(&offsite);
    let r4 = sb.path().join("r4");
    let out = restore_cli(&config_path, &r4, &["--to-gtid", &ref_pos]).await;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no repository has a good copy"), "{err}");
    assert!(!r4.exists());
    assert!(
        leftovers(&sb.path()).is_empty(),
        "{:?}",
        leftovers(&sb.path())
    );

    // 5. Before every backup: refused before anything is done.
    let r5 = sb.path().join("r5");
    let out = restore_cli(&config_path, &r5, &["--to-time", "2001-01-01T00:00:00Z"]).await;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("outside every recoverable window"), "{err}");
    assert!(!r5.exists());
    daemons.stop().await;
}

/// `ferryman restore` into `dir` with `args` (not started); `--cluster` left out: the
/// sandbox's configuration has one.
async fn restore_cli(config: &Path, dir: &Path, args: &[&str]) -> Output {
    let mut argv: Vec<String> = vec![
        "restore".into(),
        "--config".into(),
        config.display().to_string(),
        "--target-dir".into(),
        dir.display().to_string(),
    ];
    argv.extend(args.iter().map(|a| a.to_string()));
    ferryman(argv).await
}

/// Throwaway directories left in `dir`.
fn leftovers(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("tw-"))
        })
        .collect()
}

/// How the test reaches db1.
fn daemons_endpoint(sb: &TestSandbox) -> Endpoint {
    let config = sb.config();
    let cluster = &config.clusters[0];
    Endpoint::from_config(
        cluster.server("db1").unwrap(),
        &cluster.db_servers_credential,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flashback_to_just_before_a_drop_table_rewinds_a_replica_which_then_replicates_again() {
    let (sb, config, offsite) = archived_sandbox(1).await;
    let config_path = sb.config_path();
    let local_root = config.manager.monitoring_datadir.clone();
    let daemons = Daemons::start(config.clone(), &["db1", "db2"]).await;
    let backup = daemons.backup(Task::Mariabackup).await;
    eprintln!("backup {backup}");
    let (reference, ref_pos, dropped_at) = history_with_a_drop(&sb, &[&local_root, &offsite]).await;
    daemons::caught_up(&sb, "db2").await;
    let datadir = config.clusters[0]
        .server("db2")
        .unwrap()
        .datadir
        .clone()
        .unwrap();

    // Outside every window: refused before anything is written.
    let out = flashback_cli(&config_path, &["--to-time", "2001-01-01T00:00:00Z"]).await;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("outside every recoverable window"), "{err}");

    // One second before the DROP: db2 holds the table and the data of that moment, and stays
    // there (read-only, replication pointed at db1 from that GTID but stopped).
    let before = Timestamp::from_unix(dropped_at - 1).rfc3339();
    let out = flashback_cli(&config_path, &["--to-time", &before, "--wait"]).await;
    assert!(out.status.success());
    let db2 = Endpoint::from_config(
        config.clusters[0].server("db2").unwrap(),
        &config.clusters[0].db_servers_credential,
    );
    assert_eq!(checksums(&db2).await, reference);
    let (pos, read_only): (String, u8) = from_row(
        sb.sql("db2", "SELECT @@gtid_slave_pos, @@read_only")
            .await
            .remove(0),
    );
    assert_eq!((pos.as_str(), read_only), (ref_pos.as_str(), 1));
    let status = sb.sql("db2", "SHOW SLAVE STATUS").await.remove(0);
    assert_eq!(status.get::<String, _>("Slave_IO_Running").unwrap(), "No");
    assert_eq!(status.get::<String, _>("Using_Gtid").unwrap(), "Slave_Pos");
    // The old datadir is gone: the server runs on the new one.
    let parent = datadir.parent().unwrap();
    let old: Vec<_> = std::fs::read_dir(parent)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("ferryman-old"))
        .collect();
    assert!(old.is_empty(), "{old:?}");
    // Nothing is left of the copy on the manager.
    let work_dir = &config.verifier.work_dir;
    assert!(leftovers(work_dir).is_empty(), "{:?}", leftovers(work_dir));

    // Started again, it replays what came after, the DROP included, and follows db1.
    sb.sql("db2", "START SLAVE").await;
    sb.sql("db1", "INSERT INTO shop.orders VALUES (1000, 1)")
        .await;
    daemons::caught_up(&sb, "db2").await;
    let db1 = daemons_endpoint(&sb);
    let mut conn = db2.connect(Session::Plain).await.unwrap();
    let count: Option<u64> = conn
        .query_first("SELECT COUNT(*) FROM shop.orders")
        .await
        .unwrap();
    assert_eq!(count, Some(61));
    let tables: Option<u64> = conn
        .query_first(
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE table_schema = 'shop' \
             AND table_name = 'customers'",
        )
        .await
        .unwrap();
    assert_eq!(tables, Some(0));
    let mut primary = db1.connect(Session::Plain).await.unwrap();
    let sum = "SELECT SUM(amount), COUNT(*) FROM shop.orders";
    let a: Option<(Option<i64>, u64)> = primary.query_first(sum).await.unwrap();
    let b: Option<(Option<i64>, u64)> = conn.query_first(sum).await.unwrap();
    assert_eq!(a, b);
    daemons.stop().await;
}

/// `ferryman flashback --server db2` of the sandbox with `args`, through the manager's API.
async fn flashback_cli(config: &Path, args: &[&str]) -> Output {
    let mut argv: Vec<String> = vec![
        "flashback".into(),
        "--config".into(),
        config.display().to_string(),
        "--cluster".into(),
        "sandbox".into(),
        "--server".into(),
        "db2".into(),
    ];
    argv.extend(args.iter().map(|a| a.to_string()));
    ferryman(argv).await
}

/// Waits until every repository in `roots` has archived db1's binlog to its current position.
async fn archived_now(sb: &TestSandbox, roots: &[&Path]) {
    let (end,): (String,) = from_row(sb.sql("db1", "SELECT @@gtid_binlog_pos").await.remove(0));
    let end: GtidPos = end.parse().unwrap();
    for root in roots {
        let repo = Repository::open(root).unwrap();
        let started = Instant::now();
        while end_position(&repo.list_segments("sandbox").await.unwrap()).unwrap() != end {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{} lags",
                root.display()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// `ferryman pitr prove --cluster sandbox --wait --json`: its exit status and the proof.
async fn prove_cli(config: &Path) -> (bool, serde_json::Value) {
    let out = ferryman(vec![
        "pitr".into(),
        "prove".into(),
        "--config".into(),
        config.display().to_string(),
        "--wait".into(),
        "--json".into(),
    ])
    .await;
    let proof = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.success(), proof)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_proof_replays_the_archive_between_two_backups_and_finds_writes_it_lacks() {
    let (sb, config, offsite) = archived_sandbox(0).await;
    let config_path = sb.config_path();
    let local_root = config.manager.monitoring_datadir.clone();
    let daemons = Daemons::start(config.clone(), &["db1"]).await;

    // Nothing to prove yet: one backup.
    let a = daemons.backup(Task::Mariabackup).await;
    let (ok, _) = prove_cli(&config_path).await;
    assert!(!ok);

    // A physical backup, writes, a dump (its rows recorded): the archive carries one to the other.
    for i in 0..40 {
        sb.sql("db1", &format!("INSERT INTO shop.orders VALUES ({i}, {i})"))
            .await;
    }
    sb.sql("db1", "DELETE FROM shop.customers WHERE id = 1")
        .await;
    let b = daemons.backup(Task::Mysqldump).await;
    archived_now(&sb, &[&local_root, &offsite]).await;
    let (ok, proof) = prove_cli(&config_path).await;
    assert!(ok, "{proof:#}");
    assert_eq!(proof["status"], "ok");
    assert_eq!(proof["base"], a.to_string());
    assert_eq!(proof["checkpoint"], b.to_string());
    assert!(proof["tables"].as_u64().unwrap() >= 2, "{proof:#}");
    assert!(proof["segments"].as_u64().unwrap() >= 1, "{proof:#}");

    // Rows written without the binlog before the next dump: the archive cannot carry the dump
    // before to it, and the proof names the table.
    daemons.expect_error("proof of");
    sb.sql(
        "db1",
        "SET SESSION sql_log_bin = 0; INSERT INTO shop.orders VALUES (9000, 1), (9001, 2)",
    )
    .await;
    sb.sql("db1", "INSERT INTO shop.orders VALUES (100, 100)")
        .await;
    let c = daemons.backup(Task::Mysqldump).await;
    archived_now(&sb, &[&local_root, &offsite]).await;
    let (ok, proof) = prove_cli(&config_path).await;
    assert!(!ok, "{proof:#}");
    assert_eq!(proof["status"], "failed");
    assert_eq!(proof["base"], b.to_string());
    assert_eq!(proof["checkpoint"], c.to_string());
    let detail = proof["detail"].as_str().unwrap();
    assert!(
        detail.contains("shop.orders has 41 rows after the replay, the checkpoint 43"),
        "{detail}"
    );

    // `pitr status` shows it, and warns.
    let out = ferryman(vec![
        "pitr".into(),
        "status".into(),
        "--config".into(),
        config_path.display().to_string(),
        "--json".into(),
    ])
    .await;
    assert!(!out.status.success());
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status[0]["proof"]["checkpoint"], c.to_string());
    assert!(status[0]["warnings"]
        .to_string()
        .contains("proof of recoverability"));
    daemons.stop().await;
}

/// Rows into `shop.orders` from `from` on, `n` of them, alternately in GTID domains 0 and 1.
async fn write_two_domains(sb: &TestSandbox, from: u32, n: u32) {
    for i in from..from + n {
        sb.sql(
            "db1",
            &format!(
                "SET SESSION gtid_domain_id = {}; INSERT INTO shop.orders VALUES ({i}, {i})",
                i % 2
            ),
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restore_with_two_gtid_domains_stops_at_the_point_in_both() {
    let (sb, config, offsite) = archived_sandbox(0).await;
    let config_path = sb.config_path();
    let local_root = config.manager.monitoring_datadir.clone();
    let daemons = Daemons::start(config.clone(), &["db1"]).await;
    daemons.backup(Task::Mariabackup).await;
    write_two_domains(&sb, 0, 30).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let reference = checksums(&daemons_endpoint(&sb)).await;
    let (ref_pos,): (String,) = from_row(sb.sql("db1", "SELECT @@gtid_binlog_pos").await.remove(0));
    assert_eq!(ref_pos.split(',').count(), 2, "{ref_pos}");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (later,): (i64,) = from_row(sb.sql("db1", "SELECT UNIX_TIMESTAMP()").await.remove(0));
    write_two_domains(&sb, 30, 20).await;
    archived_now(&sb, &[&local_root, &offsite]).await;

    // To the two-domain GTID position, inclusive in each domain.
    let (sums, pos, _) = restore_and_read(
        &config_path,
        &sb.path().join("d1"),
        &["--to-gtid", &ref_pos],
    )
    .await;
    assert_eq!(sums, reference);
    let pos: GtidPos = pos.parse().unwrap();
    assert_eq!(pos, ref_pos.parse().unwrap());
    // To a time between the reference and the later writes: the same in both domains.
    let between = Timestamp::from_unix(later - 1).rfc3339();
    let (sums, pos, _) = restore_and_read(
        &config_path,
        &sb.path().join("d2"),
        &["--to-time", &between],
    )
    .await;
    assert_eq!(sums, reference);
    let pos: GtidPos = pos.parse().unwrap();
    assert_eq!(pos, ref_pos.parse().unwrap());
    daemons.stop().await;
}
