//! A failover that loses transactions the archive has: the new primary reuses their sequence
//! numbers with its own server id. The archiver waits while the new primary is behind, goes on
//! with its history once it is past, and the two histories are never mixed by a roll-forward.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferryman_binlog::GtidPos;
use ferryman_db::mysql_async::from_row;
use ferryman_manager::events::EventKind;
use ferryman_repo::pitr::roll_forward;
use ferryman_sandbox::testing::TestSandbox;

use crate::archive::{binlog_pos, wait_durable, wait_following, wait_stored, write_rows};
use crate::common::*;

/// Waits until `check` holds, or fails with `what`.
async fn wait_for(what: &str, within: Duration, mut check: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < within, "{what} within {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_failover_that_lost_transactions_the_archive_goes_on_with_the_new_history_apart() {
    let sb = TestSandbox::start(1).await;
    sb.sql(
        "db1",
        "CREATE DATABASE pitr; CREATE TABLE pitr.t (id BIGINT PRIMARY KEY, v TEXT)",
    )
    .await;
    let config = config_with(
        &sb,
        "binlog-archive = true\nbinlog-archive-segment-age = \"2s\"",
        "",
    );
    let running = start(&config, &[]).await;
    let services = running.services.clone();
    wait_following(&services).await;

    // The shared history: written on db1, replicated to db2.
    let next = Arc::new(AtomicU64::new(1));
    let writer = write_rows(&sb, "db1", next.clone());
    tokio::time::sleep(Duration::from_secs(1)).await;
    writer.stop().await;
    let shared = binlog_pos(&sb, "db1").await;
    wait_for(
        "db2 replicates the shared history",
        Duration::from_secs(20),
        async || {
            let (slave,): (String,) =
                from_row(sb.sql("db2", "SELECT @@gtid_slave_pos").await.remove(0));
            slave.parse::<GtidPos>().unwrap() == shared
        },
    )
    .await;
    // db2 stops replicating: what db1 writes now is archived, and lost in the failover.
    sb.sql("db2", "STOP SLAVE").await;
    let writer = write_rows(&sb, "db1", next.clone());
    tokio::time::sleep(Duration::from_secs(1)).await;
    writer.stop().await;
    let old_end = binlog_pos(&sb, "db1").await;
    wait_durable(&services, &old_end, Duration::from_secs(10)).await;
    let lost = old_end.get(0).unwrap().seq - shared.get(0).unwrap().seq;
    assert!(lost > 5, "{lost} transactions to lose");

    // The failover: db1 gone, db2 promoted without them; it writes past the archive's end.
    sb.stop_server("db1").await.unwrap();
    sb.sql("db2", "RESET SLAVE ALL; SET GLOBAL read_only = 0")
        .await;
    let writer = write_rows(&sb, "db2", next.clone());
    wait_for(
        "the archiver goes on with db2's history",
        Duration::from_secs(90),
        async || {
            services
                .archives
                .get("sandbox")
                .is_some_and(|s| s.following && s.source.as_deref() == Some("db2"))
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    writer.stop().await;
    let new_end = binlog_pos(&sb, "db2").await;
    wait_durable(&services, &new_end, Duration::from_secs(20)).await;
    let segments = wait_stored(&services, &new_end, Duration::from_secs(30)).await;
    let diverged: Vec<String> = services
        .events
        .since(0)
        .into_iter()
        .filter(|e| e.kind == EventKind::ArchiveDiverged)
        .map(|e| e.message)
        .collect();
    assert_eq!(diverged.len(), 1, "{diverged:?}");
    assert!(diverged[0].contains(&old_end.to_string()), "{diverged:?}");

    // Both histories are in the archive: db1's to its end, db2's from where the archive went on.
    let first_new = segments.iter().position(|s| s.source == "db2").unwrap();
    assert!(segments[..first_new].iter().all(|s| s.source == "db1"));
    let fork: GtidPos = segments[first_new]
        .before
        .as_deref()
        .unwrap()
        .parse()
        .unwrap();
    let (db2_id,): (u32,) = from_row(sb.sql("db2", "SELECT @@server_id").await.remove(0));
    assert_eq!(fork.get(0).unwrap().server, db2_id);
    assert!(fork.get(0).unwrap().seq > old_end.get(0).unwrap().seq);

    // A backup of the shared history rolls forward through db1's history, to its end only.
    let c = roll_forward(&shared, &segments).unwrap();
    assert_eq!(c.reached, old_end, "{c:?}");
    assert!(c.segments.iter().all(|&i| segments[i].source == "db1"));
    assert!(c.gap.is_some(), "{c:?}");
    // A backup of db2's history taken inside the lost range never replays db1's lost
    // transactions (the same sequence numbers, another server).
    let inside: GtidPos = format!("0-{db2_id}-{}", shared.get(0).unwrap().seq + 2)
        .parse()
        .unwrap();
    let c = roll_forward(&inside, &segments).unwrap();
    assert!(c.segments.is_empty(), "{c:?}");
    assert!(c.other_history.is_some(), "{c:?}");
    // From where the archive went on, to db2's end.
    let c = roll_forward(&fork, &segments).unwrap();
    assert_eq!(
        (c.reached.clone(), c.gap.clone()),
        (new_end.clone(), None),
        "{c:?}"
    );
    assert!(c.segments.iter().all(|&i| segments[i].source == "db2"));
    running.stop().await;
}
