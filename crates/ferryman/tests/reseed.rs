//! Reseed and flashback end to end on a primary and two replicas: the manager (in this process)
//! streams the cluster's newest physical backup to the agents of the joiners, which restore it
//! and replicate again. Two replicas at once (one wiped, one diverged by a stray write), the
//! primary refused, a busy server refused, a damaged backup refused with the replica left as
//! it was, and a flashback to a chosen backup.
#![allow(clippy::unwrap_used, clippy::print_stderr)] // test code: panics and stderr are the report

use std::path::PathBuf;

use ferryman_manager::reseed::{Method, ReseedRequest};
use ferryman_manager::{JobRecord, JobState};
use ferryman_proto::Task;
use ferryman_repo::Kind;
use ferryman_sandbox::testing::TestSandbox;
use ferryman_sandbox::UpOptions;

mod audit;
mod daemons;
mod node;
mod tasks;
mod tls;
use daemons::{caught_up, wait_job, Daemons};

const BIN: &str = env!("CARGO_BIN_EXE_ferryman");

/// `CHECKSUM TABLE` of the test's tables.
async fn checksums(sb: &TestSandbox, server: &str) -> Vec<(String, Option<u64>)> {
    sb.sql(server, "CHECKSUM TABLE shop.orders, shop.items")
        .await
        .into_iter()
        .map(ferryman_db::mysql_async::from_row::<(String, Option<u64>)>)
        .collect()
}

/// A primary and two replicas with schema `shop` replicated to both.
async fn shop_sandbox() -> TestSandbox {
    let sb = TestSandbox::start_with(&UpOptions {
        replicas: 2,
        ferryman_bin: Some(PathBuf::from(BIN)),
        auto_verify: false,
    })
    .await;
    seed_shop(&sb).await;
    sb
}

/// Schema `shop` on the primary, replicated to both replicas.
async fn seed_shop(sb: &TestSandbox) {
    sb.sql(
        "db1",
        "CREATE DATABASE shop;
         CREATE TABLE shop.orders (id INT PRIMARY KEY, v TEXT);
         CREATE TABLE shop.items (id INT PRIMARY KEY, n INT);
         INSERT INTO shop.orders SELECT seq, REPEAT('o', 200) FROM mysql.seq_1_to_4000;
         INSERT INTO shop.items SELECT seq, seq * 2 FROM mysql.seq_1_to_1000;",
    )
    .await;
    caught_up(sb, "db2").await;
    caught_up(sb, "db3").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reseed_batch_flashback_and_safety_rails() {
    let sb = shop_sandbox().await;

    let d = Daemons::start(sb.config(), &["db1", "db2", "db3"]).await;
    // The scenario's failed reseeds are told as `reseed-failed` events.
    d.expect_error("reseedmariabackup of `db2` failed");
    let services = &d.services;

    // A physical backup of the cluster (from a replica), then writes it does not have.
    let first_backup = d.backup(Task::Mariabackup).await;
    sb.sql(
        "db1",
        "INSERT INTO shop.orders SELECT seq, 'after the backup' FROM mysql.seq_4001_to_4500",
    )
    .await;

    // The primary is refused.
    let err = services
        .start_reseed(
            "sandbox",
            ReseedRequest {
                servers: vec!["db1".into()],
                method: Method::Physicalbackup,
                backup: None,
                force: false,
                to: None,
            },
            "test",
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("is the primary"), "{err}");

    // db2 diverges by a stray write; db3's replication is broken and it has a stray row too.
    // (A replica stopped and wiped while its joiner waits: tests/agent/reseed.rs. A server
    // that cannot start has no jobs table to receive the job.)
    sb.sql(
        "db2",
        "SET sql_log_bin = 0; UPDATE shop.items SET n = -1 WHERE id = 7",
    )
    .await;
    sb.sql(
        "db3",
        "STOP SLAVE; SET sql_log_bin = 0; INSERT INTO shop.items VALUES (9999, 9)",
    )
    .await;
    assert_ne!(checksums(&sb, "db2").await, checksums(&sb, "db1").await);

    // Both at once, from one read of the backup.
    let ids = services
        .start_reseed(
            "sandbox",
            ReseedRequest {
                servers: vec!["db2".into(), "db3".into()],
                method: Method::Physicalbackup,
                backup: None,
                force: false,
                to: None,
            },
            "test",
        )
        .await
        .unwrap();
    assert_eq!(ids.len(), 2);
    // A server being reseeded is refused to a second reseed.
    let err = services
        .start_reseed(
            "sandbox",
            ReseedRequest {
                servers: vec!["db3".into()],
                method: Method::Physicalbackup,
                backup: None,
                force: false,
                to: None,
            },
            "test",
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("already being reseeded"), "{err}");
    for id in &ids {
        let job = wait_job(services, *id).await;
        assert_eq!(job.state, JobState::Succeeded, "{job:#?}");
        assert_eq!(
            job.backup_id.as_deref(),
            Some(first_backup.to_string().as_str())
        );
    }
    sb.sql("db1", "INSERT INTO shop.items VALUES (5000, 1)")
        .await;
    for server in ["db2", "db3"] {
        caught_up(&sb, server).await;
        assert_eq!(
            checksums(&sb, server).await,
            checksums(&sb, "db1").await,
            "{server}"
        );
    }

    // A damaged backup is refused and the replica stays as it was.
    let manifest = services.repos.get(&first_backup).await.unwrap();
    let payload = sb
        .config()
        .manager
        .monitoring_datadir
        .join("Backups")
        .join(first_backup.to_string())
        .join(&manifest.payload);
    let mut bytes = std::fs::read(&payload).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    let damaged = payload.with_extension("damaged");
    std::fs::write(&damaged, &bytes).unwrap();
    let good = payload.with_extension("good");
    std::fs::rename(&payload, &good).unwrap();
    std::fs::rename(&damaged, &payload).unwrap();
    let ids = services
        .start_reseed(
            "sandbox",
            ReseedRequest {
                servers: vec!["db2".into()],
                method: Method::Physicalbackup,
                backup: Some(first_backup.clone()),
                force: false,
                to: None,
            },
            "test",
        )
        .await
        .unwrap();
    let job = wait_job(services, ids[0]).await;
    assert_eq!(job.state, JobState::Failed, "{job:#?}");
    let error = job.error.clone().unwrap();
    // Refused by the manager (decompression) or by the joiner: its extractor's chunk checksums,
    // or the payload's sha256 against the manifest's in the end marker. Either way before the
    // swap.
    assert!(
        error.contains("does not verify")
            || error.contains("cannot read backup")
            || ((error.contains("invalid checksum")
                || error.contains("does not match its trailer"))
                && error.contains("was not touched")),
        "{error}"
    );
    sb.sql("db1", "INSERT INTO shop.items VALUES (5001, 1)")
        .await;
    caught_up(&sb, "db2").await;
    assert_eq!(checksums(&sb, "db2").await, checksums(&sb, "db1").await);
    std::fs::rename(&good, &payload).unwrap();

    // Flashback of db3 to that backup (by id): rewound, then replicating again.
    let listed = services.repos.list(Some("sandbox"), None).await.unwrap();
    assert!(listed.iter().any(|m| m.kind == Kind::Physical));
    let ids = services
        .start_reseed(
            "sandbox",
            ReseedRequest {
                servers: vec!["db3".into()],
                method: Method::Flashback,
                backup: Some(first_backup.clone()),
                force: false,
                to: None,
            },
            "test",
        )
        .await
        .unwrap();
    let job = wait_job(services, ids[0]).await;
    assert_eq!(job.state, JobState::Succeeded, "{job:#?}");
    assert_eq!(job.task, Task::Flashbackmariabackup);
    caught_up(&sb, "db3").await;
    assert_eq!(checksums(&sb, "db3").await, checksums(&sb, "db1").await);

    d.stop().await;
}

/// The user tables of the primary (every schema but the system ones and the per-server jobs
/// table's), as `schema.table`.
async fn user_tables(sb: &TestSandbox) -> Vec<String> {
    sb.sql(
        "db1",
        "SELECT CONCAT(table_schema, '.', table_name) FROM information_schema.TABLES \
         WHERE table_type = 'BASE TABLE' AND table_schema NOT IN \
         ('mysql', 'information_schema', 'performance_schema', 'sys', \
          'replication_manager_schema') ORDER BY 1",
    )
    .await
    .into_iter()
    .map(ferryman_db::mysql_async::from_row::<String>)
    .collect()
}

/// `CHECKSUM TABLE` of `tables` on `server`.
async fn checksums_of(
    sb: &TestSandbox,
    server: &str,
    tables: &[String],
) -> Vec<(String, Option<u64>)> {
    sb.sql(server, &format!("CHECKSUM TABLE {}", tables.join(", ")))
        .await
        .into_iter()
        .map(ferryman_db::mysql_async::from_row::<(String, Option<u64>)>)
        .collect()
}

/// A replica whose data was lost cannot start, so its agent (which reads its jobs from that
/// server) cannot receive a reseed. An empty server provisioned in its place can: the reseed
/// then makes it a replica with the primary's data again. Its agent runs throughout.
#[tokio::test(flavor = "multi_thread")]
async fn a_replica_whose_data_was_lost_is_replaced_by_an_empty_server_then_reseeded() {
    let sb = shop_sandbox().await;

    let d = Daemons::start(sb.config(), &["db1", "db2", "db3"]).await;
    let services = &d.services;

    d.backup(Task::Mariabackup).await;
    sb.sql(
        "db1",
        "INSERT INTO shop.orders SELECT seq, 'after the backup' FROM mysql.seq_4001_to_4500",
    )
    .await;

    // The loss: db2 stopped and its datadir deleted. It cannot start any more.
    sb.stop_server("db2").await.unwrap();
    let datadir = sb.layout().server("db2").datadir();
    std::fs::remove_dir_all(&datadir).unwrap();
    let err = sb.start_server("db2").await.unwrap_err();
    assert!(err.to_string().contains("did not start"), "{err}");
    assert_eq!(sb.pid(sb.server("db2").unwrap()), None);

    // An empty server in its place: the accounts work, nothing of the old data is there, and
    // it replicates from no one.
    let pid = sb.reinit_server("db2").await.unwrap();
    assert_eq!(sb.pid(sb.server("db2").unwrap()), Some(pid));
    assert!(sb.sql("db2", "SHOW SLAVE STATUS").await.is_empty());
    assert!(sb.sql("db2", "SHOW DATABASES LIKE 'shop'").await.is_empty());

    // Reseeded through the manager, as any replica: its agent took the job from the new
    // server's jobs table.
    let ids = services
        .start_reseed(
            "sandbox",
            ReseedRequest {
                servers: vec!["db2".into()],
                method: Method::Physicalbackup,
                backup: None,
                force: false,
                to: None,
            },
            "test",
        )
        .await
        .unwrap();
    let job = wait_job(services, ids[0]).await;
    assert_eq!(job.state, JobState::Succeeded, "{job:#?}");

    // A new write on the primary reaches it; every user table matches the primary's.
    sb.sql("db1", "INSERT INTO shop.items VALUES (5000, 1)")
        .await;
    caught_up(&sb, "db2").await;
    let tables = user_tables(&sb).await;
    assert_eq!(tables, ["shop.items", "shop.orders"]);
    assert_eq!(
        checksums_of(&sb, "db2", &tables).await,
        checksums_of(&sb, "db1", &tables).await
    );
    let row = sb
        .sql("db2", "SELECT n FROM shop.items WHERE id = 5000")
        .await;
    assert_eq!(row.len(), 1);

    d.stop().await;
}

impl Daemons {
    /// Reseeds `servers` and waits for every job; returns the final records.
    async fn reseed(
        &self,
        servers: &[&str],
        method: Method,
        backup: Option<ferryman_repo::BackupId>,
    ) -> Vec<JobRecord> {
        let ids = self
            .services
            .start_reseed(
                "sandbox",
                ReseedRequest {
                    servers: servers.iter().map(|s| s.to_string()).collect(),
                    method,
                    backup,
                    force: false,
                    to: None,
                },
                "test",
            )
            .await
            .unwrap();
        let mut jobs = Vec::new();
        for id in ids {
            jobs.push(wait_job(&self.services, id).await);
        }
        jobs
    }
}

/// Asserts that `server` replicates, has caught up, and holds the primary's user tables.
async fn same_as_primary(sb: &TestSandbox, server: &str) {
    caught_up(sb, server).await;
    let tables = user_tables(sb).await;
    assert_eq!(
        checksums_of(sb, server, &tables).await,
        checksums_of(sb, "db1", &tables).await,
        "{server}"
    );
    let on_replica: Vec<String> = sb
        .sql(
            server,
            "SELECT CONCAT(table_schema, '.', table_name) FROM information_schema.TABLES \
             WHERE table_type = 'BASE TABLE' AND table_schema NOT IN \
             ('mysql', 'information_schema', 'performance_schema', 'sys', \
              'replication_manager_schema') ORDER BY 1",
        )
        .await
        .into_iter()
        .map(ferryman_db::mysql_async::from_row::<String>)
        .collect();
    assert_eq!(on_replica, tables, "{server}: tables");
}

/// A primary and two replicas with schema `shop` (binary strings, a trigger, a routine, a
/// view; with `empty`, an empty table too), caught up, and the daemons of all three.
async fn logical_sandbox(empty: bool) -> (TestSandbox, Daemons) {
    let sb = TestSandbox::start_with(&UpOptions {
        replicas: 2,
        ferryman_bin: Some(PathBuf::from(BIN)),
        auto_verify: false,
    })
    .await;
    let empty = if empty {
        "CREATE TABLE shop.empty (id INT PRIMARY KEY);"
    } else {
        ""
    };
    sb.sql(
        "db1",
        &format!(
            "CREATE DATABASE shop;
             CREATE TABLE shop.orders (id INT PRIMARY KEY, v TEXT, b BLOB);
             CREATE TABLE shop.items (id INT PRIMARY KEY, n INT);
             CREATE TABLE shop.audit (id INT AUTO_INCREMENT PRIMARY KEY, item INT);
             {empty}
             CREATE TRIGGER shop.items_ai AFTER INSERT ON shop.items FOR EACH ROW \
               INSERT INTO shop.audit (item) VALUES (NEW.id);
             CREATE PROCEDURE shop.add_item(i INT) INSERT INTO shop.items VALUES (i, i);
             CREATE VIEW shop.big_items AS SELECT id FROM shop.items WHERE n > 100;
             INSERT INTO shop.orders SELECT seq, REPEAT('o\\r\\n', 70), UNHEX('00FF0D0A5C27') \
               FROM mysql.seq_1_to_4000;
             INSERT INTO shop.items SELECT seq, seq * 2 FROM mysql.seq_1_to_1000;"
        ),
    )
    .await;
    caught_up(&sb, "db2").await;
    caught_up(&sb, "db3").await;
    let d = Daemons::start(sb.config(), &["db1", "db2", "db3"]).await;
    (sb, d)
}

/// db2 diverges (a stray table and a stray row), then `logicalbackup` rebuilds it from
/// `backup` with `task`: it equals the primary, and the routine and the trigger came along and
/// work on its copy (`shop.add_item(2000)` was called on the primary after the backup).
async fn reseed_diverged_db2(
    sb: &TestSandbox,
    d: &Daemons,
    backup: &ferryman_repo::BackupId,
    task: Task,
) -> JobRecord {
    sb.sql(
        "db2",
        "SET sql_log_bin = 0; CREATE TABLE shop.stray (id INT PRIMARY KEY); \
         UPDATE shop.items SET n = -1 WHERE id = 7",
    )
    .await;
    let jobs = d.reseed(&["db2"], Method::Logicalbackup, None).await;
    assert_eq!(jobs[0].state, JobState::Succeeded, "{:#?}", jobs[0]);
    assert_eq!(jobs[0].task, task);
    assert_eq!(
        jobs[0].backup_id.as_deref(),
        Some(backup.to_string().as_str())
    );
    same_as_primary(sb, "db2").await;
    let audit = sb
        .sql("db2", "SELECT COUNT(*) FROM shop.audit WHERE item = 2000")
        .await;
    assert_eq!(
        ferryman_db::mysql_async::from_row::<u64>(audit[0].clone()),
        1
    );
    assert_eq!(
        sb.sql("db2", "SELECT * FROM shop.big_items").await.len(),
        951
    );
    jobs[0].clone()
}

/// The logical methods: a diverged replica (a stray table and a stray row) rebuilt from the
/// newest mysqldump backup; two replicas at once from one dump of the primary taken now
/// (`logicalmaster`); a flashback to the dump by id. Routines, triggers and views come along;
/// stray tables do not survive (the dump is imported into a fresh server, then swapped in).
#[tokio::test(flavor = "multi_thread")]
async fn logical_reseeds_from_a_dump_backup_and_from_the_primary() {
    let (sb, d) = logical_sandbox(false).await;

    let dump = d.backup(Task::Mysqldump).await;
    sb.sql("db1", "CALL shop.add_item(2000)").await;

    let job = reseed_diverged_db2(&sb, &d, &dump, Task::Reseedmysqldump).await;
    let result = job.node_result.clone().unwrap_or_default();
    assert!(result.contains("imported in"), "{result}");

    // Both replicas from one dump of the primary, taken now and stored nowhere.
    sb.sql(
        "db3",
        "STOP SLAVE; SET sql_log_bin = 0; INSERT INTO shop.items VALUES (9999, 9)",
    )
    .await;
    let before = d
        .services
        .repos
        .list(Some("sandbox"), None)
        .await
        .unwrap()
        .len();
    let jobs = d.reseed(&["db2", "db3"], Method::Logicalmaster, None).await;
    for job in &jobs {
        assert_eq!(job.state, JobState::Succeeded, "{job:#?}");
        assert_eq!(job.backup_id, None);
    }
    let dumps: Vec<JobRecord> = d
        .services
        .registry
        .list()
        .into_iter()
        .filter(|j| j.task == Task::Mysqldump && j.server == "db1")
        .collect();
    assert_eq!(
        dumps.len(),
        1,
        "one dump of the primary for both: {dumps:#?}"
    );
    assert_eq!(dumps[0].state, JobState::Succeeded, "{:#?}", dumps[0]);
    assert_eq!(
        d.services
            .repos
            .list(Some("sandbox"), None)
            .await
            .unwrap()
            .len(),
        before
    );
    sb.sql("db1", "CALL shop.add_item(2001)").await;
    same_as_primary(&sb, "db2").await;
    same_as_primary(&sb, "db3").await;

    // Flashback to the dump by id: rewound, then replicating again.
    let jobs = d.reseed(&["db3"], Method::Flashback, Some(dump)).await;
    assert_eq!(jobs[0].state, JobState::Succeeded, "{:#?}", jobs[0]);
    assert_eq!(jobs[0].task, Task::Flashbackmysqldump);
    same_as_primary(&sb, "db3").await;

    d.stop().await;
}

/// A mydumper backup, sent while mydumper runs: its rows are counted from the archive, a
/// diverged replica is rebuilt from it with myloader's threads (routines, triggers, views and
/// binary strings included), and a flashback to it by id rewinds the other replica.
#[tokio::test(flavor = "multi_thread")]
async fn a_mydumper_backup_reseeds_a_replica_with_myloader() {
    let (sb, d) = logical_sandbox(true).await;

    let backup = d.backup(Task::Mydumper).await;
    let manifest = d.services.repos.get(&backup).await.unwrap();
    assert_eq!(manifest.table_rows.get("shop.orders"), Some(&4000));
    assert_eq!(manifest.table_rows.get("shop.items"), Some(&1000));
    assert_eq!(manifest.table_rows.get("shop.empty"), Some(&0));
    assert!(manifest.gtid.is_some(), "{manifest:?}");
    sb.sql("db1", "CALL shop.add_item(2000)").await;

    reseed_diverged_db2(&sb, &d, &backup, Task::Reseedmydumper).await;

    // Flashback to the backup by id: rewound, then replicating again.
    sb.sql(
        "db3",
        "SET sql_log_bin = 0; DELETE FROM shop.orders WHERE id < 10",
    )
    .await;
    let jobs = d.reseed(&["db3"], Method::Flashback, Some(backup)).await;
    assert_eq!(jobs[0].state, JobState::Succeeded, "{:#?}", jobs[0]);
    assert_eq!(jobs[0].task, Task::Flashbackmydumper);
    same_as_primary(&sb, "db3").await;

    d.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_joiner_agent_killed_mid_swap_ends_the_job_in_30_s_and_its_successor_finishes_it() {
    use std::os::unix::process::ExitStatusExt;
    use std::time::{Duration, Instant};

    let sb = shop_sandbox().await;
    // Before the daemons: they check the dying agent's log when dropped.
    let logs = tempfile::tempdir().unwrap();
    let d = Daemons::start(sb.config(), &["db1"]).await;
    // The killed joiner's reseed is told as a `reseed-failed` event.
    d.expect_error("reseedmariabackup of `db2` failed");
    let backup = d
        .services
        .start_backup("sandbox", Some("db1"), Task::Mariabackup, "test")
        .await
        .unwrap();
    assert_eq!(
        wait_job(&d.services, backup).await.state,
        JobState::Succeeded
    );
    sb.sql(
        "db1",
        "INSERT INTO shop.orders SELECT seq, 'after the backup' FROM mysql.seq_4001_to_4100",
    )
    .await;
    // db2's agent dies right after its server came up on the restored data, before it put
    // db2's job rows back: the manager finds the donor's table there and no heartbeat.
    let mut dying = d.agent_process(
        &sb,
        "db2",
        Some(&logs.path().join("dying.log")),
        &[(ferryman_agent::tasks::CRASH_AT_ENV, "restoring")],
    );
    let ids = d
        .services
        .start_reseed(
            "sandbox",
            ReseedRequest {
                servers: vec!["db2".into()],
                method: Method::Physicalbackup,
                backup: None,
                force: false,
                to: None,
            },
            "test",
        )
        .await
        .unwrap();
    let status = tokio::task::spawn_blocking(move || dying.wait().unwrap())
        .await
        .unwrap();
    let killed_at = Instant::now();
    assert_eq!(
        status.signal(),
        Some(9),
        "{}",
        std::fs::read_to_string(logs.path().join("dying.log")).unwrap()
    );
    let job = wait_job(&d.services, ids[0]).await;
    let took = killed_at.elapsed();
    eprintln!("ended {took:?} after the kill: {job:#?}");
    assert_eq!(job.state, JobState::Failed, "{job:#?}");
    assert!(took < Duration::from_secs(45), "{took:?}");
    let error = job.error.unwrap_or_default();
    assert!(error.contains("its jobs row has been missing"), "{error}");
    assert!(
        error.contains("restart `ferryman agent --server db2`"),
        "{error}"
    );
    // Meanwhile the restored server refuses writes, and no backup is taken from it.
    assert_eq!(
        sb.sql("db2", "SELECT @@read_only").await[0].get::<i64, _>(0),
        Some(1)
    );

    // The agent restarted: it finishes the swap and records the outcome in db2's row.
    let next = tokio::task::spawn_blocking({
        let config = sb.config_path();
        move || {
            #[allow(clippy::disallowed_methods)] // running the binary under test
            std::process::Command::new(BIN)
                .args(["agent", "--config", config.to_str().unwrap()])
                .args(["--server", "db2", "--once"])
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    eprintln!("{}", String::from_utf8_lossy(&next.stderr));
    let node_id = job.node_job_id.unwrap();
    let row = sb
        .sql(
            "db2",
            &format!(
                "SELECT outcome, result FROM replication_manager_schema.jobs WHERE id = {node_id}"
            ),
        )
        .await;
    let (outcome, result): (String, String) = ferryman_db::mysql_async::from_row(row[0].clone());
    assert_eq!(outcome, "success", "{result}");
    assert!(
        result.contains("the agent that found it finished the swap"),
        "{result}"
    );
    same_as_primary(&sb, "db2").await;
    d.stop().await;
}
