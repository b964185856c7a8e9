//! Backups that must fail and leave nothing: a corrupt stream, a cut stream, a full disk, a
//! manager stopped mid-job. Each time: no manifest, the job failed with its reason, no file.

use std::path::Path;
use std::time::Duration;

use ferryman_jobs::{ClaimedJob, JobsConn, Schema, Task, Verdict};
use ferryman_manager::{JobState, Services};
use ferryman_proto::{StreamHeader, StreamKind};
use ferryman_sandbox::testing::TestSandbox;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::*;

/// Every file under `dir`.
fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// A real xbstream of the sandbox's db1, taken through the manager and read back.
async fn good_stream(sb: &TestSandbox, config: &Path) -> Vec<u8> {
    let running = start(config, &["db1"]).await;
    let services = running.services.clone();
    let id = services
        .start_task("sandbox", "db1", Task::Mariabackup, "test")
        .unwrap();
    let done = wait_job(&services, id, Duration::from_secs(60)).await;
    assert_eq!(done.state, JobState::Succeeded, "{done:?}");
    let backup = services.repos.list(None, None).await.unwrap().remove(0);
    let mut reader = services
        .repo("sandbox")
        .unwrap()
        .payload_reader(&backup.id)
        .await
        .unwrap();
    let bytes = tokio::task::spawn_blocking(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut reader, &mut v).unwrap();
        v
    })
    .await
    .unwrap();
    services
        .repo("sandbox")
        .unwrap()
        .delete(&backup.id)
        .await
        .unwrap();
    running.stop().await;
    let _ = sb;
    bytes
}

/// Plays the agent for the manager's next mariabackup job on db1: claims the row, sends
/// `data` (all of it, or `cut_at` bytes then a reset), and records `verdict`.
async fn fake_agent(
    sb: &TestSandbox,
    services: &Services,
    data: &[u8],
    cut_at: Option<usize>,
    verdict: Verdict,
) {
    let mut conn = JobsConn::open(&sb.endpoint(sb.server("db1").unwrap()), &Schema::default())
        .await
        .unwrap();
    let claimed: ClaimedJob = loop {
        if let Some(c) = conn.take(Task::Mariabackup, "fake-agent").await.unwrap() {
            break c;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let token = claimed.job().token.clone().unwrap().stream_token().unwrap();
    let mut s = TcpStream::connect(("127.0.0.1", services.config.manager.stream_port))
        .await
        .unwrap();
    let header = StreamHeader::new(StreamKind::Backup, claimed.id().0, token);
    s.write_all(&header.encode()).await.unwrap();
    let end = cut_at.unwrap_or(data.len());
    // The manager may stop reading early (corruption): write errors are expected then.
    let _ = s.write_all(&data[..end]).await;
    match cut_at {
        Some(_) => {
            #[allow(deprecated)] // zero linger: reset at once, like a crashed agent
            let _ = s.set_linger(Some(Duration::ZERO));
            drop(s);
        }
        None => {
            let _ = s.shutdown().await;
            let mut sink = Vec::new();
            let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut sink)).await;
        }
    }
    let _ = claimed.finish(&mut conn, verdict, "fake agent done").await;
    conn.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn corrupt_and_cut_streams_fail_their_backup_and_leave_nothing() {
    let sb = TestSandbox::start(0).await;
    let config = config_with(&sb, "", "");
    let stream = good_stream(&sb, &config).await;
    assert!(stream.len() > 1_000_000);
    let backups_dir = sb.path().join("manager/Backups");

    let running = start(&config, &[]).await;
    let services = running.services.clone();

    // One flipped byte inside a chunk's payload: the chunk's CRC no longer matches.
    let mut flipped = stream.clone();
    let at = flipped.len() / 2;
    flipped[at] ^= 0x40;
    let id = services
        .start_task("sandbox", "db1", Task::Mariabackup, "test")
        .unwrap();
    fake_agent(&sb, &services, &flipped, None, Verdict::Success).await;
    let done = wait_job(&services, id, Duration::from_secs(30)).await;
    assert_eq!(done.state, JobState::Failed, "{done:?}");
    let error = done.error.unwrap();
    assert!(error.contains("the xbstream is corrupt"), "{error}");

    // A stream cut in the middle (the agent crashed).
    let id = services
        .start_task("sandbox", "db1", Task::Mariabackup, "test")
        .unwrap();
    fake_agent(
        &sb,
        &services,
        &stream,
        Some(stream.len() / 3),
        Verdict::Failure,
    )
    .await;
    let done = wait_job(&services, id, Duration::from_secs(30)).await;
    assert_eq!(done.state, JobState::Failed, "{done:?}");

    // A whole, good stream whose agent reports failure is not kept either.
    let id = services
        .start_task("sandbox", "db1", Task::Mariabackup, "test")
        .unwrap();
    fake_agent(&sb, &services, &stream, None, Verdict::Failure).await;
    let done = wait_job(&services, id, Duration::from_secs(30)).await;
    assert_eq!(done.state, JobState::Failed, "{done:?}");
    assert!(done.error.unwrap().contains("fake agent done"));

    assert!(services.repos.list(None, None).await.unwrap().is_empty());
    assert_eq!(files(&backups_dir), Vec::<std::path::PathBuf>::new());
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_manager_stopped_mid_job_leaves_nothing_and_a_restart_is_clean() {
    let sb = TestSandbox::start(0).await;
    let config = config_with(&sb, "", "");
    let stream = good_stream(&sb, &config).await;
    let backups_dir = sb.path().join("manager/Backups");

    let running = start(&config, &[]).await;
    let services = running.services.clone();
    let id = services
        .start_task("sandbox", "db1", Task::Mariabackup, "test")
        .unwrap();
    // Half a stream, then the manager stops while the agent would still be sending.
    let sender = {
        let services = services.clone();
        let stream = stream.clone();
        let sb_endpoint = sb.endpoint(sb.server("db1").unwrap());
        tokio::spawn(async move {
            let mut conn = JobsConn::open(&sb_endpoint, &Schema::default())
                .await
                .unwrap();
            let claimed = loop {
                if let Some(c) = conn.take(Task::Mariabackup, "slow-agent").await.unwrap() {
                    break c;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            };
            let token = claimed.job().token.clone().unwrap().stream_token().unwrap();
            let mut s = TcpStream::connect(("127.0.0.1", services.config.manager.stream_port))
                .await
                .unwrap();
            s.write_all(&StreamHeader::new(StreamKind::Backup, claimed.id().0, token).encode())
                .await
                .unwrap();
            let _ = s.write_all(&stream[..stream.len() / 2]).await;
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(s);
        })
    };
    for _ in 0..100 {
        if services.registry.get(id).unwrap().state == JobState::Receiving {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    running.stop().await;
    let done = services.registry.get(id).unwrap();
    assert!(
        matches!(done.state, JobState::Cancelled | JobState::Failed),
        "{done:?}"
    );
    assert_eq!(files(&backups_dir), Vec::<std::path::PathBuf>::new());
    sender.abort();

    // A new manager starts clean and finds no backup.
    let again = start(&config, &[]).await;
    assert!(again
        .services
        .repos
        .list(None, None)
        .await
        .unwrap()
        .is_empty());
    again.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_repository_disk_fails_the_backup_with_the_reason() {
    let sb = TestSandbox::start(0).await;
    // Incompressible data, more than the repository's file system holds.
    sb.sql(
        "db1",
        "CREATE DATABASE big; CREATE TABLE big.r (id INT PRIMARY KEY, b BLOB);
         INSERT INTO big.r SELECT seq, RANDOM_BYTES(1024) FROM mysql.seq_1_to_20000;",
    )
    .await;
    let full = sb.path().join("full");
    std::fs::create_dir_all(&full).unwrap();
    let mounted = nix::mount::mount(
        Some("tmpfs"),
        &full,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        Some("size=8m"),
    );
    if let Err(e) = mounted {
        eprintln!("skipping: cannot mount a tmpfs ({e}); this test needs root");
        return;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
        }
    }
    let _unmount = Unmount(full.clone());
    let text = std::fs::read_to_string(config_with(&sb, "", "")).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("monitoring-datadir"))
        .unwrap()
        .to_owned();
    let config = sb.path().join("full.toml");
    std::fs::write(
        &config,
        text.replace(
            &line,
            &format!("monitoring-datadir = \"{}\"", full.display()),
        ),
    )
    .unwrap();

    let running = start(&config, &["db1"]).await;
    let services = running.services.clone();
    let id = services
        .start_task("sandbox", "db1", Task::Mariabackup, "test")
        .unwrap();
    let done = wait_job(&services, id, Duration::from_secs(90)).await;
    running.stop().await;
    assert_eq!(done.state, JobState::Failed, "{done:?}");
    let error = done.error.unwrap();
    assert!(error.contains("is full"), "{error}");
    assert_eq!(
        files(&full.join("Backups")),
        Vec::<std::path::PathBuf>::new()
    );
}
