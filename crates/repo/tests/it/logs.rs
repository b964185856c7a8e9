//! The logs area: logs stored compressed under `cluster/server/`, listed newest first, rotated
//! per kind; a broken log stream leaves nothing.

use ferryman_repo::{Compression, LogKind, LogMeta, Repository, Timestamp};
use tokio_util::sync::CancellationToken;

use crate::*;

fn log_meta(kind: LogKind, job: u64, at: &str) -> LogMeta {
    LogMeta {
        cluster: "shop".into(),
        server: "db1".into(),
        kind,
        job_id: job,
        received_at: Timestamp::parse_rfc3339(at).unwrap(),
        compression: Compression::default(),
    }
}

async fn store(repo: &Repository, kind: LogKind, job: u64, at: &str, text: &str) -> String {
    repo.ingest_log(
        log_meta(kind, job, at),
        text.as_bytes(),
        &CancellationToken::new(),
    )
    .await
    .unwrap()
    .key
    .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_are_stored_compressed_listed_and_rotated_per_kind() {
    let (_tmp, repo) = repo();
    let text = "2026-11-21  2:58:00 0 [Warning] Aborted connection 12 to db: 'shop'\n".repeat(500);
    let first = store(&repo, LogKind::Error, 1, "2026-11-21T01:00:00Z", &text).await;
    assert_eq!(first, "shop/db1/error-20261121T010000Z-j1.log.zst");
    let stored = std::fs::read(root(&repo).join(&first)).unwrap();
    assert_eq!(zstd::decode_all(&stored[..]).unwrap(), text.as_bytes());
    assert!(stored.len() * 10 < text.len());

    store(&repo, LogKind::Error, 2, "2026-11-21T02:00:00Z", "b").await;
    store(&repo, LogKind::Error, 3, "2026-11-21T03:00:00Z", "c").await;
    store(&repo, LogKind::Error, 4, "2026-11-21T04:00:00Z", "d").await;
    store(
        &repo,
        LogKind::Slow,
        5,
        "2026-11-21T01:30:00Z",
        "# Query_time: 12\n",
    )
    .await;
    store(
        &repo,
        LogKind::Slow,
        6,
        "2026-11-21T02:30:00Z",
        "# Query_time: 13\n",
    )
    .await;
    // Another server's logs are rotated on their own.
    let mut other = log_meta(LogKind::Error, 7, "2026-11-20T00:00:00Z");
    other.server = "db2".into();
    repo.ingest_log(other, &b"x"[..], &CancellationToken::new())
        .await
        .unwrap();

    let listed: Vec<(LogKind, u64)> = repo
        .list_logs("shop", "db1")
        .await
        .unwrap()
        .iter()
        .map(|l| (l.kind, l.job_id))
        .collect();
    assert_eq!(
        listed,
        [
            (LogKind::Error, 4),
            (LogKind::Error, 3),
            (LogKind::Slow, 6),
            (LogKind::Error, 2),
            (LogKind::Slow, 5),
            (LogKind::Error, 1)
        ]
    );

    let mut deleted: Vec<String> = repo
        .rotate_logs(2)
        .await
        .unwrap()
        .iter()
        .map(|k| k.to_string())
        .collect();
    deleted.sort();
    assert_eq!(
        deleted,
        [
            "shop/db1/error-20261121T010000Z-j1.log.zst",
            "shop/db1/error-20261121T020000Z-j2.log.zst"
        ]
    );
    assert_eq!(
        files(&root(&repo)),
        [
            "shop/db1/error-20261121T030000Z-j3.log.zst",
            "shop/db1/error-20261121T040000Z-j4.log.zst",
            "shop/db1/slow-20261121T013000Z-j5.log.zst",
            "shop/db1/slow-20261121T023000Z-j6.log.zst",
            "shop/db2/error-20261120T000000Z-j7.log.zst",
        ]
    );
    // The same log twice is refused; a cluster named like the backups directory too.
    let again = repo
        .ingest_log(
            log_meta(LogKind::Error, 4, "2026-11-21T04:00:00Z"),
            &b"d"[..],
            &CancellationToken::new(),
        )
        .await;
    assert!(matches!(
        again,
        Err(ferryman_repo::Error::AlreadyExists { .. })
    ));
    let mut reserved = log_meta(LogKind::Error, 8, "2026-11-21T04:00:00Z");
    reserved.cluster = "Backups".into();
    assert!(matches!(
        repo.ingest_log(reserved, &b"d"[..], &CancellationToken::new())
            .await,
        Err(ferryman_repo::Error::InvalidName { .. })
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_log_stream_leaves_nothing() {
    let (_tmp, repo) = repo();
    let reader = BrokenReader {
        data: noise(1_000_000, 3),
        pos: 0,
    };
    let err = repo
        .ingest_log(
            log_meta(LogKind::Slow, 9, "2026-11-21T04:00:00Z"),
            reader,
            &CancellationToken::new(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, ferryman_repo::Error::StreamBroken { .. }),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("slow log shop/db1/slow-20261121T040000Z-j9.log.zst"),
        "{err}"
    );
    assert_eq!(files(&root(&repo)), Vec::<String>::new());
}
