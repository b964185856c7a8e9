//! Failures mid-ingest leave nothing behind: a stream that breaks, a full file system (a real
//! 8 MiB tmpfs), a cancellation.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ferryman_repo::{Error, Repository, Tool};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use tokio_util::sync::CancellationToken;

use crate::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_that_breaks_midway_leaves_nothing() {
    let (_tmp, repo) = repo();
    let reader = BrokenReader {
        data: dump(40_000, true)[..3_000_000].to_vec(),
        pos: 0,
    };
    let err = repo
        .ingest(
            meta(Tool::Mysqldump, 3, "2026-11-21T02:58:00Z"),
            reader,
            &CancellationToken::new(),
        )
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(
            err,
            Error::StreamBroken {
                bytes: 3_000_000,
                ..
            }
        ),
        "{msg}"
    );
    assert!(msg.contains("backup shop/db1/20261121T025800Z-j3"), "{msg}");
    assert!(msg.contains("connection reset by peer"), "{msg}");
    assert!(msg.contains("nothing was kept"), "{msg}");
    assert_eq!(files(&root(&repo)), Vec::<String>::new());
    assert!(!root(&repo)
        .join("Backups/shop/db1/20261121T025800Z-j3")
        .exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn cancellation_stops_the_ingest_and_leaves_nothing() {
    let (_tmp, repo) = repo();
    let cancel = CancellationToken::new();
    let reader = StallingReader {
        data: dump(20_000, false),
        pos: 0,
    };
    let canceller = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        canceller.cancel();
    });
    let started = Instant::now();
    let err = repo
        .ingest(
            meta(Tool::Mysqldump, 4, "2026-11-21T02:58:00Z"),
            reader,
            &cancel,
        )
        .await
        .unwrap_err();
    assert!(err.is_cancelled(), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(err.to_string().contains("cancelled after"), "{err}");
    assert_eq!(files(&root(&repo)), Vec::<String>::new());
}

/// A tmpfs mounted for one test, unmounted however the test ends.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        match mount(
            Some("tmpfs"),
            dir,
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some(format!("size={size}").as_str()),
        ) {
            Ok(()) => Some(Tmpfs(dir.to_owned())),
            #[allow(clippy::print_stderr)] // the harness shows it with --nocapture
            Err(e) => {
                eprintln!(
                    "SKIPPED: cannot mount a tmpfs on {} ({e}); this test needs root",
                    dir.display()
                );
                None
            }
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy: unmounts even if a file is still open somewhere.
        let _ = umount2(&self.0, MntFlags::MNT_DETACH);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_file_system_fails_cleanly_and_says_how_much_is_free() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(_mounted) = Tmpfs::mount(tmp.path(), "8m") else {
        return;
    };
    let root = tmp.path().join("repo");
    let repo = Repository::open(&root).unwrap();
    // 20 MB that zstd cannot shrink, in a dump that would otherwise be valid.
    let mut data = dump(10, false);
    data.extend_from_slice(&noise(20_000_000, 7));
    data.extend_from_slice(b"\n-- Dump completed\n");
    let err = ingest(
        &repo,
        meta(Tool::Mysqldump, 5, "2026-11-21T02:58:00Z"),
        &data,
    )
    .await
    .unwrap_err();
    let msg = err.to_string();
    assert!(err.is_storage_full(), "{msg}");
    assert!(
        msg.contains(&format!(
            "repository file system at {} is full",
            root.display()
        )),
        "{msg}"
    );
    assert!(msg.contains("bytes free"), "{msg}");
    assert!(msg.contains("backup shop/db1/20261121T025800Z-j5"), "{msg}");
    assert!(
        msg.contains("free space or move monitoring-datadir"),
        "{msg}"
    );
    assert_eq!(files(&root), Vec::<String>::new());

    // The space was given back: a backup that fits goes in.
    let small = dump(1000, true);
    let m = ingest(
        &repo,
        meta(Tool::Mysqldump, 6, "2026-11-21T02:59:00Z"),
        &small,
    )
    .await
    .unwrap();
    assert_eq!(payload(&repo, &m.id).await, small);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dump_without_a_gtid_from_a_server_with_gtids_is_refused_and_leaves_nothing() {
    let (_tmp, repo) = repo();
    let without: Vec<u8> = String::from_utf8(dump(100, true))
        .unwrap()
        .replace("-- SET GLOBAL gtid_slave_pos='0-1-50';\n", "")
        .into_bytes();
    let mut required = meta(Tool::Mysqldump, 4, "2026-11-21T02:58:00Z");
    required.require_gtid = Some("gtid_binlog_pos `0-1-50`".to_owned());
    let err = ingest(&repo, required, &without).await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::NoGtid { .. }), "{msg}");
    assert!(msg.contains("records no GTID position"), "{msg}");
    assert!(msg.contains("gtid_binlog_pos `0-1-50`"), "{msg}");
    assert_eq!(files(&root(&repo)), Vec::<String>::new());
    // The same dump with its GTID is stored; without the requirement, so is the GTID-less one.
    let mut required = meta(Tool::Mysqldump, 5, "2026-11-21T02:59:00Z");
    required.require_gtid = Some("gtid_binlog_pos `0-1-50`".to_owned());
    let stored = ingest(&repo, required, &dump(100, true)).await.unwrap();
    assert_eq!(stored.gtid.as_deref(), Some("0-1-50"));
    let plain = meta(Tool::Mysqldump, 6, "2026-11-21T03:00:00Z");
    assert_eq!(ingest(&repo, plain, &without).await.unwrap().gtid, None);
}
