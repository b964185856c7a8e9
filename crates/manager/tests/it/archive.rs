//! Continuous binlog archiving (point-in-time recovery) with the manager running in this
//! process and real servers: archived while writing, across a manager restarted mid-segment,
//! and across a switchover to the replica; the segments' chain stays whole and holds every
//! transaction exactly once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferryman_binlog::GtidPos;
use ferryman_db::mysql_async::from_row;
use ferryman_manager::Services;
use ferryman_repo::segments::chain;
use ferryman_sandbox::testing::{TestSandbox, Writer};

use crate::common::*;

/// Inserts rows into `pitr.t`, one transaction each, on `server` until stopped.
pub(crate) fn write_rows(sb: &TestSandbox, server: &str, next: Arc<AtomicU64>) -> Writer {
    Writer::start(
        sb,
        server,
        "INSERT INTO pitr.t VALUES (?, REPEAT('x', 200))",
        next,
        Duration::from_millis(5),
    )
}

pub(crate) async fn binlog_pos(sb: &TestSandbox, server: &str) -> GtidPos {
    let (pos,): (String,) = from_row(sb.sql(server, "SELECT @@gtid_binlog_pos").await.remove(0));
    pos.parse().unwrap()
}

/// Waits until the archiver follows the primary (within 20 s).
pub(crate) async fn wait_following(services: &Services) {
    let started = Instant::now();
    while !services
        .archives
        .get("sandbox")
        .is_some_and(|s| s.following)
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the archiver does not follow"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the archiver's durable position is `pos`; returns how long it took.
pub(crate) async fn wait_durable(services: &Services, pos: &GtidPos, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let status = services.archives.get("sandbox");
        if status
            .as_ref()
            .is_some_and(|s| s.position == pos.to_string())
        {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "the archive did not reach {pos} in {within:?}: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the stored segments end at `pos`; returns them.
pub(crate) async fn wait_stored(
    services: &Services,
    pos: &GtidPos,
    within: Duration,
) -> Vec<ferryman_repo::segments::SegmentManifest> {
    let started = Instant::now();
    let repo = services.repo("sandbox").unwrap();
    loop {
        let segments = repo.list_segments("sandbox").await.unwrap();
        let end = ferryman_repo::segments::end_position(&segments).unwrap();
        if end == *pos {
            return segments;
        }
        assert!(
            started.elapsed() < within,
            "the segments end at {end}, not {pos}, after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_archive_follows_the_primary_through_a_kill_and_a_switchover() {
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
    let next = Arc::new(AtomicU64::new(1));
    wait_following(&services).await;
    let start_pos = binlog_pos(&sb, "db1").await;

    // 1. Archived while writing: durable within the flush interval of the last commit.
    let writer = write_rows(&sb, "db1", next.clone());
    tokio::time::sleep(Duration::from_secs(3)).await;
    writer.stop().await;
    let pos = binlog_pos(&sb, "db1").await;
    let took = wait_durable(&services, &pos, Duration::from_secs(10)).await;
    eprintln!("durable {took:?} after the last commit");
    assert!(took < Duration::from_secs(3), "{took:?}");
    let stored = wait_stored(&services, &pos, Duration::from_secs(15)).await;
    assert!(!stored.is_empty());
    assert_eq!(
        stored[0].before.as_deref(),
        Some(start_pos.to_string().as_str())
    );

    // 2. The manager stopped mid-segment while writes go on, then started again: it resumes
    // where its spool's last whole transaction ended (killed: `crates/ferryman/tests/pitr.rs`).
    let writer = write_rows(&sb, "db1", next.clone());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    running.stop().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let running = start(&config, &[]).await;
    let services = running.services.clone();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    writer.stop().await;
    let pos = binlog_pos(&sb, "db1").await;
    wait_durable(&services, &pos, Duration::from_secs(20)).await;

    // 3. Switchover: db2 caught up, db1 stopped, db2 promoted; writes on db2. The archiver
    // follows db2 from the last archived GTID.
    let caught_up = Instant::now();
    loop {
        let (slave,): (String,) =
            from_row(sb.sql("db2", "SELECT @@gtid_slave_pos").await.remove(0));
        if slave.parse::<GtidPos>().unwrap() == pos {
            break;
        }
        assert!(
            caught_up.elapsed() < Duration::from_secs(20),
            "db2 at {slave}, db1 at {pos}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    sb.stop_server("db1").await.unwrap();
    sb.sql(
        "db2",
        "STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = 0",
    )
    .await;
    let writer = write_rows(&sb, "db2", next.clone());
    tokio::time::sleep(Duration::from_secs(2)).await;
    writer.stop().await;
    let pos = binlog_pos(&sb, "db2").await;
    wait_durable(&services, &pos, Duration::from_secs(60)).await;
    let status = services.archives.get("sandbox").unwrap();
    assert_eq!(status.source.as_deref(), Some("db2"), "{status:?}");
    let segments = wait_stored(&services, &pos, Duration::from_secs(20)).await;

    // The chain: whole, from where the archive started to db2's position, every insert
    // exactly once, read from db1 then from db2.
    let domains = chain(&segments).unwrap();
    assert_eq!(domains.len(), 1, "{domains:?}");
    assert!(domains[&0].gaps.is_empty(), "{domains:?}");
    assert_eq!(domains[&0].last, pos.to_string());
    let transactions: u64 = segments.iter().map(|s| s.transactions).sum();
    let before: GtidPos = segments[0].before.as_deref().unwrap().parse().unwrap();
    assert_eq!(before, start_pos);
    let span = pos.get(0).unwrap().seq - before.get(0).unwrap().seq;
    assert_eq!(transactions, span);
    assert_eq!(span, next.load(Ordering::SeqCst) - 1);
    let sources: Vec<&str> = segments.iter().map(|s| s.source.as_str()).collect();
    let switch = sources.iter().position(|s| *s == "db2").unwrap();
    assert!(sources[..switch].iter().all(|s| *s == "db1"), "{sources:?}");
    assert!(sources[switch..].iter().all(|s| *s == "db2"), "{sources:?}");
    let kinds: Vec<_> = services
        .events
        .since(0)
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert!(
        kinds.contains(&ferryman_manager::events::EventKind::ArchiveSourceChanged),
        "{kinds:?}"
    );
    running.stop().await;

    // The segments' manifests are signed: one whose last GTID is changed by hand makes the
    // chain unreadable, naming the key, rather than lie about what the archive holds.
    assert!(segments.iter().all(|s| s.signature.is_some()));
    let datadir = ferryman_config::Config::load(&config)
        .unwrap()
        .manager
        .monitoring_datadir;
    let edited = datadir
        .join("Binlogs/sandbox")
        .join(&segments[0].name)
        .join("manifest.json");
    let mut value: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&edited).unwrap()).unwrap();
    value["last"] = "0-1-999999".into();
    std::fs::write(&edited, serde_json::to_vec_pretty(&value).unwrap()).unwrap();
    let e = services
        .repo("sandbox")
        .unwrap()
        .list_segments("sandbox")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("cannot be trusted") && e.contains("changed after it was written"),
        "{e}"
    );
    // An unsigned one (an archive of before signatures) is signed by `sign_unsigned`; the
    // edited one is left as it is.
    let unsigned = datadir
        .join("Binlogs/sandbox")
        .join(&segments[1].name)
        .join("manifest.json");
    let mut value: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&unsigned).unwrap()).unwrap();
    value.as_object_mut().unwrap().remove("signature");
    std::fs::write(&unsigned, serde_json::to_vec_pretty(&value).unwrap()).unwrap();
    let report = services
        .repo("sandbox")
        .unwrap()
        .sign_unsigned()
        .await
        .unwrap();
    assert_eq!(
        report.signed,
        vec![format!("Binlogs/sandbox/{}", segments[1].name)],
        "{report:?}"
    );
    assert_eq!(report.refused.len(), 1, "{report:?}");
    assert!(report.refused[0].contains(&segments[0].name), "{report:?}");
}

/// Takes a logical backup of db1 through the manager and its agent; returns its GTID.
async fn backup(services: &Arc<Services>) -> String {
    let id = services
        .start_backup(
            "sandbox",
            Some("db1"),
            ferryman_jobs::Task::Mysqldump,
            "test",
        )
        .await
        .unwrap();
    let done = wait_job(services, id, Duration::from_secs(120)).await;
    assert_eq!(
        done.state,
        ferryman_manager::JobState::Succeeded,
        "{done:?}"
    );
    let newest = services
        .repos
        .list(Some("sandbox"), None)
        .await
        .unwrap()
        .remove(0);
    newest.gtid.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_binlog_purged_before_it_was_archived_is_a_reported_gap_that_ends_a_window() {
    let sb = TestSandbox::start(0).await;
    sb.sql(
        "db1",
        "CREATE DATABASE pitr; CREATE TABLE pitr.t (id BIGINT PRIMARY KEY, v TEXT)",
    )
    .await;
    let config = config_with(
        &sb,
        "binlog-archive = true\nbinlog-archive-segment-age = \"1s\"",
        "",
    );
    let next = Arc::new(AtomicU64::new(1));
    let running = start(&config, &["db1"]).await;
    let services = running.services.clone();
    let first_backup = backup(&services).await;
    let writer = write_rows(&sb, "db1", next.clone());
    tokio::time::sleep(Duration::from_secs(1)).await;
    writer.stop().await;
    let archived = binlog_pos(&sb, "db1").await;
    wait_stored(&services, &archived, Duration::from_secs(20)).await;
    running.stop().await;

    // While the manager is away: writes, then the binlogs holding them purged.
    let writer = write_rows(&sb, "db1", next.clone());
    tokio::time::sleep(Duration::from_millis(500)).await;
    writer.stop().await;
    let purged_to = binlog_pos(&sb, "db1").await;
    sb.sql("db1", "FLUSH BINARY LOGS").await;
    // The server keeps a binlog until InnoDB's checkpoint passes it: try until it is gone.
    let purging = Instant::now();
    loop {
        let status = sb.sql("db1", "SHOW MASTER STATUS").await.remove(0);
        let newest: String = status.get(0).unwrap();
        sb.sql("db1", &format!("PURGE BINARY LOGS TO '{newest}'"))
            .await;
        if sb.sql("db1", "SHOW BINARY LOGS").await.len() == 1 {
            break;
        }
        assert!(
            purging.elapsed() < Duration::from_secs(20),
            "the binlogs are not purged"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // The archiver comes back: the gap is an event, the archive goes on after it.
    let running = start(&config, &["db1"]).await;
    let services = running.services.clone();
    let writer = write_rows(&sb, "db1", next.clone());
    tokio::time::sleep(Duration::from_secs(1)).await;
    writer.stop().await;
    let end = binlog_pos(&sb, "db1").await;
    wait_stored(&services, &end, Duration::from_secs(30)).await;
    let gap_events: Vec<_> = services
        .events
        .since(0)
        .into_iter()
        .filter(|e| e.kind == ferryman_manager::events::EventKind::ArchiveGap)
        .collect();
    assert_eq!(gap_events.len(), 1, "{gap_events:?}");
    assert!(
        gap_events[0].message.contains(&archived.to_string())
            && gap_events[0].message.contains(&purged_to.to_string()),
        "{}",
        gap_events[0].message
    );
    let second_backup = backup(&services).await;

    // pitr status: the gap with its range; two windows, the older one ending at the gap.
    let status = ferryman_manager::pitr::status(&services, "sandbox")
        .await
        .unwrap();
    assert_eq!(status.report.gaps.len(), 1, "{status:#?}");
    let gap = &status.report.gaps[0];
    assert_eq!(gap.after, archived.to_string());
    let next_seq = purged_to.get(0).unwrap().seq + 1;
    assert_eq!(
        gap.next.parse::<ferryman_binlog::Gtid>().unwrap().seq,
        next_seq
    );
    let windows = &status.report.windows;
    assert_eq!(windows.len(), 2, "{windows:#?}");
    assert_eq!(windows[0].backup_gtid, second_backup);
    assert!(windows[0].ends_at_gap.is_none());
    assert_eq!(windows[1].backup_gtid, first_backup);
    assert_eq!(windows[1].to_gtid, archived.to_string());
    assert!(windows[1].ends_at_gap.is_some());
    assert!(!status.warnings.is_empty());
    assert_eq!(status.rpo_lag_seconds, Some(0), "{status:#?}");

    // A restore into the gap is refused with the reason, before anything is written.
    let backups = services.repos.list(Some("sandbox"), None).await.unwrap();
    let segments = services
        .repo("sandbox")
        .unwrap()
        .list_segments("sandbox")
        .await
        .unwrap();
    let inside: GtidPos = format!("0-1-{}", next_seq - 1).parse().unwrap();
    let err = ferryman_repo::pitr::plan(
        &backups,
        &segments,
        &ferryman_repo::pitr::Point::Gtid(inside),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("outside every recoverable window"), "{err}");

    // Retention keeping only the newer backup: the segments wholly before it go (dry run
    // first), the ones that roll it forward stay, and its window is whole.
    let repo = services.repo("sandbox").unwrap();
    let policy = ferryman_repo::RetentionPolicy {
        keep_last: 1,
        keep_hourly: 0,
        keep_daily: 0,
        keep_weekly: 0,
        keep_monthly: 0,
        keep_yearly: 0,
    };
    let dry = repo.prune("sandbox", &policy, true).await.unwrap();
    assert_eq!(dry.delete.len(), 1, "{dry:#?}");
    assert!(!dry.segments_delete.is_empty(), "{dry:#?}");
    assert_eq!(
        repo.list_segments("sandbox").await.unwrap().len(),
        segments.len()
    );
    let done = repo.prune("sandbox", &policy, false).await.unwrap();
    assert_eq!(done.segments_delete, dry.segments_delete);
    let left = repo.list_segments("sandbox").await.unwrap();
    assert_eq!(left.len(), segments.len() - done.segments_delete.len());
    let kept_at: GtidPos = second_backup.parse().unwrap();
    for segment in &segments {
        let last: GtidPos = segment.last.parse().unwrap();
        let before_kept = last.get(0).unwrap().seq <= kept_at.get(0).unwrap().seq;
        assert_eq!(
            done.segments_delete.contains(&segment.name),
            before_kept,
            "{}",
            segment.name
        );
    }
    let status = ferryman_manager::pitr::status(&services, "sandbox")
        .await
        .unwrap();
    assert!(status.report.gaps.is_empty(), "{status:#?}");
    assert_eq!(status.report.windows.len(), 1);
    assert!(status.report.windows[0].ends_at_gap.is_none());
    running.stop().await;
}

/// Bytes of the cluster's spool files on the manager's disk.
fn spool_bytes(root: &std::path::Path) -> u64 {
    std::fs::read_dir(root.join("BinlogSpool").join("sandbox"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".binlog"))
        .map(|e| e.metadata().unwrap().len())
        .sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_repository_that_refuses_segments_bounds_the_spool_and_the_archive_catches_up_after() {
    let sb = TestSandbox::start(0).await;
    sb.sql(
        "db1",
        "CREATE DATABASE pitr; CREATE TABLE pitr.t (id BIGINT PRIMARY KEY, v LONGTEXT)",
    )
    .await;
    let config = config_with(
        &sb,
        "binlog-archive = true\nbinlog-archive-segment-size = 1\nbinlog-archive-spool-max = 2\n\
         binlog-archive-segment-age = \"1s\"",
        "",
    );
    let root = ferryman_config::Config::load(&config)
        .unwrap()
        .manager
        .monitoring_datadir;
    let start_pos = binlog_pos(&sb, "db1").await;
    let running = start(&config, &[]).await;
    let services = running.services.clone();
    wait_following(&services).await;
    sb.sql("db1", "INSERT INTO pitr.t VALUES (1000, 'first')")
        .await;
    let first = binlog_pos(&sb, "db1").await;
    wait_stored(&services, &first, Duration::from_secs(30)).await;
    // The repository's binlog directory becomes a file: every segment is refused.
    let segments_dir = root.join("Binlogs").join("sandbox");
    let away = root.join("Binlogs").join("sandbox.away");
    std::fs::rename(&segments_dir, &away).unwrap();
    std::fs::write(&segments_dir, "not a directory").unwrap();

    // About 8 MiB of binlog while nothing can be stored: the archiver says why, and its spool
    // stays within binlog-archive-spool-max (2 MiB) and about one transaction.
    for i in 0..80 {
        sb.sql(
            "db1",
            &format!("INSERT INTO pitr.t VALUES ({i}, REPEAT('x', 100000))"),
        )
        .await;
    }
    let pos = binlog_pos(&sb, "db1").await;
    // The error is cleared while a new session follows, so it is waited for, not sampled.
    let started = Instant::now();
    let status = loop {
        let status = services.archives.get("sandbox").unwrap();
        if status
            .error
            .as_deref()
            .is_some_and(|e| e.contains("storing a binlog segment"))
        {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no refusal reported: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_ne!(status.position, pos.to_string());
    let held = spool_bytes(&root);
    assert!(
        held <= (2 << 20) + (512 << 10),
        "the spool holds {held} bytes"
    );

    // The repository takes segments again: the archive catches up, whole.
    std::fs::remove_file(&segments_dir).unwrap();
    std::fs::rename(&away, &segments_dir).unwrap();
    wait_durable(&services, &pos, Duration::from_secs(60)).await;
    let segments = wait_stored(&services, &pos, Duration::from_secs(60)).await;
    let domains = chain(&segments).unwrap();
    assert!(domains[&0].gaps.is_empty(), "{domains:?}");
    let before: GtidPos = segments[0].before.as_deref().unwrap().parse().unwrap();
    assert_eq!(before, start_pos);
    assert!(segments.len() >= 4, "{}", segments.len());
    running.stop().await;
}
