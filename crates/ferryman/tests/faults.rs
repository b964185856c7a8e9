//! Faults a dying host inflicts on the manager's jobs: an agent killed in the middle of a
//! backup. The manager (in this process) must end the job as soon as the agent's heartbeat is
//! stale, keep nothing of the cut stream, and say why.
#![allow(clippy::unwrap_used, clippy::print_stderr)] // test code: panics and stderr are the report

use std::path::PathBuf;
use std::time::{Duration, Instant};

use ferryman_manager::JobState;
use ferryman_proto::Task;
use ferryman_sandbox::testing::TestSandbox;
use ferryman_sandbox::UpOptions;

mod daemons;
use daemons::{wait_job, Daemons};

const BIN: &str = env!("CARGO_BIN_EXE_ferryman");

#[tokio::test(flavor = "multi_thread")]
async fn an_agent_killed_mid_backup_ends_the_job_at_its_stale_heartbeat_with_nothing_kept() {
    let sb = TestSandbox::start_with(&UpOptions {
        replicas: 0,
        ferryman_bin: Some(PathBuf::from(BIN)),
        auto_verify: false,
    })
    .await;
    // Enough data that the stream lasts a moment.
    sb.sql(
        "db1",
        "CREATE DATABASE shop; CREATE TABLE shop.items (id INT PRIMARY KEY, v TEXT);
         INSERT INTO shop.items SELECT seq, REPEAT(MD5(seq), 12) FROM mysql.seq_1_to_300000;",
    )
    .await;
    let d = Daemons::start(sb.config(), &[]).await;
    // The scenario's failed backup is told as a `backup-failed` event.
    d.expect_error("backup of `sandbox` from `db1` failed");
    let mut agent = d.agent_process(&sb, "db1", None, &[]);
    let id = d
        .services
        .start_backup("sandbox", Some("db1"), Task::Mysqldump, "test")
        .await
        .unwrap();
    let started = Instant::now();
    loop {
        let r = d.services.registry.get(id).unwrap();
        if r.state == JobState::Receiving && r.bytes > 0 {
            break;
        }
        assert!(!r.state.is_final(), "ended before the kill: {r:?}");
        assert!(started.elapsed() < Duration::from_secs(60), "{r:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    agent.kill().unwrap();
    agent.wait().unwrap();
    let killed = Instant::now();
    let job = wait_job(&d.services, id).await;
    let took = killed.elapsed();
    eprintln!("ended {took:?} after the kill: {job:#?}");
    assert_eq!(job.state, JobState::Failed, "{job:?}");
    // The heartbeat is refreshed every 3 s; 15 s of silence end the job (not 120 s).
    assert!(took < Duration::from_secs(30), "{took:?}");
    let error = job.error.unwrap_or_default();
    assert!(error.contains("has not reported for"), "{error}");
    assert!(error.contains("nothing of this stream is kept"), "{error}");
    assert!(d.services.repos.list(None, None).await.unwrap().is_empty());
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replica_that_lost_its_replication_is_never_a_backup_source_and_its_dump_is_refused() {
    let sb = TestSandbox::start_with(&UpOptions {
        replicas: 1,
        ferryman_bin: Some(PathBuf::from(BIN)),
        auto_verify: false,
    })
    .await;
    sb.sql(
        "db1",
        "CREATE DATABASE shop; CREATE TABLE shop.items (id INT PRIMARY KEY);
         INSERT INTO shop.items SELECT seq FROM mysql.seq_1_to_100;",
    )
    .await;
    daemons::caught_up(&sb, "db2").await;
    // db2 as an interrupted reseed would leave it: replicating from no one, no GTID history.
    sb.sql(
        "db2",
        "STOP SLAVE; RESET SLAVE ALL; RESET MASTER; SET GLOBAL gtid_slave_pos = ''",
    )
    .await;
    let d = Daemons::start(sb.config(), &["db1", "db2"]).await;
    // The split is the scenario: the manager says an operator must find the primary.
    d.expect_error("has a split topology");
    // The refused dump is told as a `backup-failed` event.
    d.expect_error("backup of `sandbox` from `db2` failed");
    d.services.topology.refresh(&d.config).await;

    // Chosen by the manager: refused, with the reason and an event.
    let refused = d
        .services
        .start_backup("sandbox", None, Task::Mysqldump, "test")
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("split topology"), "{refused}");
    assert!(
        refused.contains("db1, db2 replicate from no one"),
        "{refused}"
    );
    let events = d.services.events.since(0);
    assert!(
        events
            .iter()
            .any(|e| e.kind == ferryman_manager::events::EventKind::TopologySplit),
        "{events:?}"
    );

    // Named by hand: its dump carries no GTID while the cluster writes GTIDs, so it is refused
    // and nothing is stored.
    let id = d
        .services
        .start_backup("sandbox", Some("db2"), Task::Mysqldump, "test")
        .await
        .unwrap();
    let job = wait_job(&d.services, id).await;
    assert_eq!(job.state, JobState::Failed, "{job:?}");
    let error = job.error.unwrap_or_default();
    assert!(error.contains("records no GTID position"), "{error}");
    assert!(d.services.repos.list(None, None).await.unwrap().is_empty());
    // The primary's own dump is fine.
    let id = d
        .services
        .start_backup("sandbox", Some("db1"), Task::Mysqldump, "test")
        .await
        .unwrap();
    let job = wait_job(&d.services, id).await;
    assert_eq!(job.state, JobState::Succeeded, "{job:?}");
    d.stop().await;
}
