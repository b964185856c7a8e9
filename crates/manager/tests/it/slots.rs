//! Bounded concurrency: with a cluster's `backup-concurrency = 1`, a second backup of the
//! cluster waits, queued (its phase says why, no row is written for it), until the first ends,
//! then runs; a queued backup cancelled leaves the queue at once.

use std::time::{Duration, Instant};

use ferryman_manager::JobState;
use ferryman_proto::Task;
use ferryman_sandbox::testing::TestSandbox;

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_clusters_second_backup_waits_for_the_first() {
    let sb = TestSandbox::start(0).await;
    // About 7 MiB of dump read at 2 MiB/s: the first backup streams for a few seconds.
    sb.sql(
        "db1",
        "CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v TEXT); \
         INSERT INTO app.t SELECT seq, HEX(RANDOM_BYTES(512)) FROM mysql.seq_1_to_7000;",
    )
    .await;
    let config = config_with(
        &sb,
        "backup-concurrency = 1\nbackup-stream-compression = \"manager\"\n\
         backup-throttle-rate-mib = 2",
        "",
    );
    let running = start(&config, &["db1"]).await;
    let services = running.services.clone();
    let start_one = || services.start_backup("sandbox", Some("db1"), Task::Mysqldump, "api");
    let first = start_one().await.unwrap();
    // The first has its slot once it has a row on the server.
    let waited = Instant::now();
    while services.registry.get(first).unwrap().node_job_id.is_none() {
        assert!(
            waited.elapsed() < Duration::from_secs(30),
            "the first never started"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let second = start_one().await.unwrap();
    let third = start_one().await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    for id in [second, third] {
        let queued = services.registry.get(id).unwrap();
        assert!(
            queued.phase.contains("queued") && queued.phase.contains("backup-concurrency = 1"),
            "{queued:?}"
        );
        assert_eq!(
            queued.node_job_id, None,
            "a queued backup writes no row: {queued:?}"
        );
    }
    assert_eq!(services.backup_slots.streaming(), 1);

    // A queued backup cancelled leaves at once; the first is still streaming.
    assert!(services.registry.cancel(third));
    let cancelled = wait_job(&services, third, Duration::from_secs(5)).await;
    assert_eq!(cancelled.state, JobState::Cancelled, "{cancelled:?}");
    assert!(!services.registry.get(first).unwrap().state.is_final());

    // The second gets its row only once the first has ended (its end is recorded just after
    // its slot is freed; it would otherwise stream for seconds more).
    let waited = Instant::now();
    while services.registry.get(second).unwrap().node_job_id.is_none() {
        assert!(
            waited.elapsed() < Duration::from_secs(240),
            "the second never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let first = wait_job(&services, first, Duration::from_secs(1)).await;
    assert_eq!(first.state, JobState::Succeeded, "{first:?}");
    let second = wait_job(&services, second, Duration::from_secs(120)).await;
    assert_eq!(second.state, JobState::Succeeded, "{second:?}");
    assert_eq!(services.backup_slots.streaming(), 0);
    running.stop().await;
}
