//! Reseed and flashback end to end on a primary and two replicas: the manager (in this process)
//! streams the cluster's newest physical backup to the agents of the joiners, which restore it
//! and replicate again. Two replicas at once (one wiped, one diverged by a stray write), the
//! primary refused, a busy server refused, a damaged backup refused with the replica left as
//! it was, and a flashback to a chosen backup.
#![allow(clippy::unwrap_used, clippy::print_stderr)] // test code: panics and stderr are the report

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferryman_agent::{Agent, Shutdown};
use ferryman_config::Config;
use ferryman_manager::reseed::{Method, ReseedRequest};
use ferryman_manager::{JobRecord, JobState, Manager, Shared};
use ferryman_proto::Task;
use ferryman_repo::Kind;
use ferryman_sandbox::testing::TestSandbox;
use ferryman_sandbox::UpOptions;
use tokio_util::sync::CancellationToken;

const BIN: &str = env!("CARGO_BIN_EXE_ferryman");

/// `CHECKSUM TABLE` of the test's tables.
async fn checksums(sb: &TestSandbox, server: &str) -> Vec<(String, Option<u64>)> {
    sb.sql(server, "CHECKSUM TABLE shop.orders, shop.items")
        .await
        .into_iter()
        .map(ferryman_db::mysql_async::from_row::<(String, Option<u64>)>)
        .collect()
}

/// Waits until `server` replicates with both threads and has every GTID of the primary.
async fn caught_up(sb: &TestSandbox, server: &str) {
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

async fn wait_job(shared: &Shared, id: u64) -> JobRecord {
    let started = Instant::now();
    loop {
        let r = shared.registry.get(id).unwrap();
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

#[tokio::test(flavor = "multi_thread")]
async fn reseed_batch_flashback_and_safety_rails() {
    let sb = TestSandbox::start_with(&UpOptions {
        replicas: 2,
        ferryman_bin: Some(PathBuf::from(BIN)),
    })
    .await;
    sb.sql(
        "db1",
        "CREATE DATABASE shop;
         CREATE TABLE shop.orders (id INT PRIMARY KEY, v TEXT);
         CREATE TABLE shop.items (id INT PRIMARY KEY, n INT);
         INSERT INTO shop.orders SELECT seq, REPEAT('o', 200) FROM mysql.seq_1_to_4000;
         INSERT INTO shop.items SELECT seq, seq * 2 FROM mysql.seq_1_to_1000;",
    )
    .await;
    caught_up(&sb, "db2").await;
    caught_up(&sb, "db3").await;

    let config = Config::load(&sb.config_path()).unwrap();
    let manager = Manager::start(config.clone()).await.unwrap();
    let shared: Arc<Shared> = manager.shared();
    let stop = CancellationToken::new();
    let manager = {
        let stop = stop.clone();
        tokio::spawn(async move { manager.run(stop).await.unwrap() })
    };
    let mut agents = Vec::new();
    for name in ["db1", "db2", "db3"] {
        let agent = Agent::new(&config, name).unwrap();
        let shutdown = Shutdown::default();
        let s = shutdown.clone();
        agents.push((
            shutdown,
            tokio::spawn(async move { agent.run(&s).await.unwrap() }),
        ));
    }

    // A physical backup of the cluster (from a replica), then writes it does not have.
    let id = shared
        .start_backup("sandbox", None, Task::Mariabackup, "test")
        .await
        .unwrap();
    let job = wait_job(&shared, id).await;
    assert_eq!(job.state, JobState::Succeeded, "{job:?}");
    let first_backup: ferryman_repo::BackupId = job.backup_id.unwrap().parse().unwrap();
    sb.sql(
        "db1",
        "INSERT INTO shop.orders SELECT seq, 'after the backup' FROM mysql.seq_4001_to_4500",
    )
    .await;

    // The primary is refused.
    let err = shared
        .start_reseed(
            "sandbox",
            ReseedRequest {
                servers: vec!["db1".into()],
                method: Method::Physicalbackup,
                backup: None,
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
    let ids = shared
        .start_reseed(
            "sandbox",
            ReseedRequest {
                servers: vec!["db2".into(), "db3".into()],
                method: Method::Physicalbackup,
                backup: None,
            },
            "test",
        )
        .await
        .unwrap();
    assert_eq!(ids.len(), 2);
    // A server being reseeded is refused to a second reseed.
    let err = shared
        .start_reseed(
            "sandbox",
            ReseedRequest {
                servers: vec!["db3".into()],
                method: Method::Physicalbackup,
                backup: None,
            },
            "test",
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("already being reseeded"), "{err}");
    for id in &ids {
        let job = wait_job(&shared, *id).await;
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
    let manifest = shared.repo.get(&first_backup).await.unwrap();
    let payload = config
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
    let ids = shared
        .start_reseed(
            "sandbox",
            ReseedRequest {
                servers: vec!["db2".into()],
                method: Method::Physicalbackup,
                backup: Some(first_backup.clone()),
            },
            "test",
        )
        .await
        .unwrap();
    let job = wait_job(&shared, ids[0]).await;
    assert_eq!(job.state, JobState::Failed, "{job:#?}");
    let error = job.error.clone().unwrap();
    // Refused by the manager (checksum or decompression) or, when the damage reaches the
    // joiner first, by its extractor's chunk checksums: either way before the swap.
    assert!(
        error.contains("does not verify")
            || error.contains("cannot read backup")
            || (error.contains("invalid checksum") && error.contains("was not touched")),
        "{error}"
    );
    sb.sql("db1", "INSERT INTO shop.items VALUES (5001, 1)")
        .await;
    caught_up(&sb, "db2").await;
    assert_eq!(checksums(&sb, "db2").await, checksums(&sb, "db1").await);
    std::fs::rename(&good, &payload).unwrap();

    // Flashback of db3 to that backup (by id): rewound, then replicating again.
    let listed = shared.repo.list(Some("sandbox"), None).await.unwrap();
    assert!(listed.iter().any(|m| m.kind == Kind::Physical));
    let ids = shared
        .start_reseed(
            "sandbox",
            ReseedRequest {
                servers: vec!["db3".into()],
                method: Method::Flashback,
                backup: Some(first_backup.clone()),
            },
            "test",
        )
        .await
        .unwrap();
    let job = wait_job(&shared, ids[0]).await;
    assert_eq!(job.state, JobState::Succeeded, "{job:#?}");
    assert_eq!(job.task, Task::Flashbackmariabackup);
    caught_up(&sb, "db3").await;
    assert_eq!(checksums(&sb, "db3").await, checksums(&sb, "db1").await);

    for (s, _) in &agents {
        s.stop.cancel();
    }
    for (_, h) in agents {
        let _ = h.await;
    }
    stop.cancel();
    let _ = manager.await;
}
