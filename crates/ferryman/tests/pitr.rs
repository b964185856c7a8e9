//! Point-in-time recovery with `ferryman manager` as a process: the binlog archiver killed
//! (SIGKILL) mid-segment under writes and started again resumes without a gap or a duplicate,
//! and every segment's checksum holds.
#![allow(clippy::unwrap_used, clippy::print_stderr)] // test code: panics and stderr are the report

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferryman_binlog::GtidPos;
use ferryman_db::mysql_async::from_row;
use ferryman_repo::segments::{chain, end_position, SegmentManifest};
use ferryman_repo::Repository;
use ferryman_sandbox::testing::{TestSandbox, Writer};

#[path = "daemons/lines.rs"]
mod lines;
#[path = "daemons/process.rs"]
mod process;
use process::Daemon;

/// Waits until the repository's segments end at `pos`.
async fn wait_stored(repo: &Repository, pos: &GtidPos, within: Duration) -> Vec<SegmentManifest> {
    let started = Instant::now();
    loop {
        let segments = repo.list_segments("sandbox").await.unwrap();
        let end = end_position(&segments).unwrap();
        if end == *pos {
            return segments;
        }
        assert!(
            started.elapsed() < within,
            "the segments end at {end}, not {pos}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// `ferryman pitr status --json` on the sandbox's configuration, off the runtime.
async fn pitr_status(config: &std::path::Path) -> std::process::Output {
    let config = config.to_owned();
    tokio::task::spawn_blocking(move || {
        #[allow(clippy::disallowed_methods)] // running the binary under test
        std::process::Command::new(env!("CARGO_BIN_EXE_ferryman"))
            .args(["pitr", "status", "--json", "--config"])
            .arg(&config)
            .env_remove("FERRYMAN_API_TOKEN")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_archiver_killed_mid_segment_resumes_without_a_gap_or_a_duplicate() {
    let sb = TestSandbox::start(0).await;
    sb.sql(
        "db1",
        "CREATE DATABASE pitr; CREATE TABLE pitr.t (id BIGINT PRIMARY KEY, v TEXT)",
    )
    .await;
    let config_path = sb.config_path();
    let text = std::fs::read_to_string(&config_path).unwrap();
    std::fs::write(
        &config_path,
        text.replacen(
            "[clusters.sandbox]\n",
            "[clusters.sandbox]\nbinlog-archive = true\nbinlog-archive-segment-age = \"2s\"\n",
            1,
        ),
    )
    .unwrap();
    let config = sb.config();
    let repo = Repository::from_config(&config.all_repositories()[0]).unwrap();
    let next = Arc::new(AtomicU64::new(1));
    let writer = Writer::start(
        &sb,
        "db1",
        "INSERT INTO pitr.t VALUES (?, REPEAT('k', 300))",
        next.clone(),
        Duration::from_millis(2),
    );

    let mut daemon = Daemon::start(&config_path, sb.path().join("manager-1.log"));
    // Killed once a segment is stored and the spool holds more (the writes go on).
    let started = Instant::now();
    while repo.list_segments("sandbox").await.unwrap().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no segment:\n{}",
            daemon.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1300)).await;
    daemon.kill();
    let spool = config
        .manager
        .monitoring_datadir
        .join("BinlogSpool/sandbox");
    let held: u64 = std::fs::read_dir(&spool)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".binlog"))
        .map(|e| e.metadata().unwrap().len())
        .sum();
    eprintln!("killed with {held} bytes in the spool");
    assert!(held > 4, "the spool was empty at the kill");
    tokio::time::sleep(Duration::from_secs(1)).await;

    let mut daemon = Daemon::start(&config_path, sb.path().join("manager-2.log"));
    tokio::time::sleep(Duration::from_secs(2)).await;
    writer.stop().await;
    let (pos,): (String,) = from_row(sb.sql("db1", "SELECT @@gtid_binlog_pos").await.remove(0));
    let pos: GtidPos = pos.parse().unwrap();
    let segments = wait_stored(&repo, &pos, Duration::from_secs(30)).await;

    // `pitr status` through the manager: following, caught up, no gap.
    let out = pitr_status(&config_path).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = &all[0];
    assert_eq!(s["cluster"], "sandbox");
    assert_eq!(s["archiving"], true);
    assert_eq!(s["archiver"]["following"], true, "{s:#}");
    assert_eq!(s["archiver"]["source"], "db1");
    assert_eq!(s["archived_to_gtid"], pos.to_string());
    assert_eq!(s["gaps"].as_array().unwrap().len(), 0);
    assert_eq!(s["rpo_lag_seconds"], 0, "{s:#}");
    let status = daemon.stop();
    assert!(status.success(), "{status}:\n{}", daemon.log());

    let domains = chain(&segments).unwrap();
    assert!(domains[&0].gaps.is_empty(), "{domains:?}");
    // Every transaction from where the archive started to the end, each once: as many as
    // the sequence numbers in between (a duplicate or a loss would also be a break).
    let transactions: u64 = segments.iter().map(|s| s.transactions).sum();
    let before: GtidPos = segments[0].before.as_deref().unwrap().parse().unwrap();
    let span = pos.get(0).unwrap().seq - before.get(0).unwrap().seq;
    assert_eq!(transactions, span, "{segments:#?}");
    assert!(span > 100, "{span}");
    // Without a manager: from the repository alone, the same history.
    let out = pitr_status(&config_path).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("no manager listens"));
    let all: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(all[0]["archived_to_gtid"], pos.to_string());
    assert!(all[0]["archiver"].is_null());
    for segment in &segments {
        let bytes = repo.read_segment(segment).await.unwrap();
        assert_eq!(bytes.len() as u64, segment.raw_bytes);
    }
}
