//! The catalogue: listing (newest first, filtered, only directories with a manifest), clean-up
//! of a crashed manager's leftovers, checksum verification, verification results, deletion.

use std::time::Duration;

use ferryman_repo::{BackupId, Error, Repository, Status, Tool};
use tokio_util::sync::CancellationToken;

use crate::*;

async fn backup(
    repo: &Repository,
    cluster: &str,
    server: &str,
    job: u64,
    started: &str,
) -> BackupId {
    let mut meta = meta(Tool::Mysqldump, job, started);
    meta.cluster = cluster.into();
    meta.server = server.into();
    ingest(repo, meta, &dump(100, true)).await.unwrap().id
}

#[tokio::test(flavor = "multi_thread")]
async fn the_listing_is_newest_first_filtered_and_only_of_complete_backups() {
    let (_tmp, repo) = repo();
    let a = backup(&repo, "shop", "db1", 1, "2026-11-20T01:00:00Z").await;
    let b = backup(&repo, "shop", "db2", 2, "2026-11-21T01:00:00Z").await;
    let c = backup(&repo, "blog", "db1", 3, "2026-11-19T01:00:00Z").await;
    // Same second, two jobs: the higher job id is the newer.
    let d = backup(&repo, "shop", "db1", 10, "2026-11-20T01:00:00Z").await;
    // A directory without a manifest is not a backup.
    let dir = root(&repo).join("Backups/shop/db1/20261122T000000Z-j99");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("payload.sql.zst"), b"x").unwrap();

    let ids = |v: Vec<ferryman_repo::Manifest>| v.into_iter().map(|m| m.id).collect::<Vec<_>>();
    assert_eq!(
        ids(repo.list(None, None).await.unwrap()),
        [b.clone(), d.clone(), a.clone(), c.clone()]
    );
    assert_eq!(
        ids(repo.list(Some("shop"), None).await.unwrap()),
        [b.clone(), d.clone(), a.clone()]
    );
    assert_eq!(
        ids(repo.list(Some("shop"), Some("db1")).await.unwrap()),
        [d, a]
    );
    assert_eq!(ids(repo.list(None, Some("db1")).await.unwrap()).len(), 3);
    assert!(repo.list(Some("nope"), None).await.unwrap().is_empty());
    assert!(matches!(
        repo.list(Some("../x"), None).await,
        Err(Error::InvalidName { .. })
    ));
    let missing: BackupId = "shop/db1/20261122T000000Z-j99".parse().unwrap();
    let err = repo.get(&missing).await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn clean_incomplete_removes_leftovers_only() {
    let (_tmp, repo) = repo();
    let kept = backup(&repo, "shop", "db1", 1, "2026-11-20T01:00:00Z").await;
    let root = root(&repo);
    // What a manager killed mid-ingest leaves.
    let crashed = root.join("Backups/shop/db1/20261121T030000Z-j9");
    std::fs::create_dir_all(&crashed).unwrap();
    std::fs::write(crashed.join("payload.sql.zst.partial"), b"half").unwrap();
    std::fs::create_dir_all(root.join("shop/db1")).unwrap();
    std::fs::write(
        root.join("shop/db1/error-20261121T030000Z-j3.log.zst.partial"),
        b"half",
    )
    .unwrap();
    // What is not ours is left alone.
    std::fs::create_dir_all(root.join("Backups/shop/db1/notes")).unwrap();
    std::fs::write(root.join("shop/db1/readme.partial"), b"mine").unwrap();

    // An ingest in progress is not a leftover.
    let cancel = CancellationToken::new();
    let running = {
        let repo = repo.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move {
            let reader = StallingReader {
                data: dump(10, false),
                pos: 0,
            };
            repo.ingest(
                meta(Tool::Mysqldump, 50, "2026-11-22T00:00:00Z"),
                reader,
                &cancel,
            )
            .await
        })
    };
    let in_progress = root.join("Backups/shop/db1/20261122T000000Z-j50");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !in_progress.join("payload.sql.zst.partial").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the ingest never started writing"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let mut removed: Vec<String> = repo
        .clean_incomplete()
        .await
        .unwrap()
        .removed
        .iter()
        .map(|k| k.to_string())
        .collect();
    removed.sort();
    assert_eq!(
        removed,
        [
            "Backups/shop/db1/20261121T030000Z-j9",
            "shop/db1/error-20261121T030000Z-j3.log.zst.partial"
        ]
    );
    assert!(in_progress.exists());
    assert!(root.join("Backups/shop/db1/notes").exists());
    assert!(root.join("shop/db1/readme.partial").exists());
    assert_eq!(repo.list(None, None).await.unwrap()[0].id, kept);

    cancel.cancel();
    assert!(running.await.unwrap().unwrap_err().is_cancelled());
    assert!(!in_progress.exists());
    assert!(repo.clean_incomplete().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_checksum_catches_a_flipped_byte() {
    let (_tmp, repo) = repo();
    let m = ingest(
        &repo,
        meta(Tool::Mysqldump, 1, "2026-11-20T01:00:00Z"),
        &dump(50_000, true),
    )
    .await
    .unwrap();
    assert!(repo.verify_checksum(&m.id).await.unwrap().is_ok());

    let file = root(&repo).join("Backups/shop/db1/20261120T010000Z-j1/payload.sql.zst");
    let mut stored = std::fs::read(&file).unwrap();
    let at = stored.len() / 2;
    stored[at] ^= 0x01;
    std::fs::write(&file, &stored).unwrap();
    let report = repo.verify_checksum(&m.id).await.unwrap();
    assert!(!report.is_ok());
    assert!(!report.stored_ok);
    assert!(!report.raw_ok);
    assert_eq!(report.stored_bytes, m.stored_bytes);
    assert!(report.summary().contains("DAMAGED"), "{}", report.summary());
}

#[tokio::test(flavor = "multi_thread")]
async fn verification_results_append_durably_and_delete_removes_everything() {
    let (_tmp, repo) = repo();
    let id = backup(&repo, "shop", "db1", 1, "2026-11-20T01:00:00Z").await;
    repo.append_verification(&id, verification(Status::Ok, "restore"))
        .await
        .unwrap();
    let m = repo
        .append_verification(&id, verification(Status::Failed, "rows"))
        .await
        .unwrap();
    assert_eq!(m.verification.len(), 2);
    let reopened = Repository::open(root(&repo)).unwrap();
    let m = reopened.get(&id).await.unwrap();
    assert_eq!(m.verification[0].checks[0].name, "restore");
    assert_eq!(m.verification[1].status, Status::Failed);
    let dir = root(&repo).join("Backups/shop/db1/20261120T010000Z-j1");
    assert_eq!(files(&dir), ["manifest.json", "payload.sql.zst"]);

    reopened.delete(&id).await.unwrap();
    assert!(!dir.exists());
    assert!(reopened.get(&id).await.unwrap_err().is_not_found());
    assert!(reopened.delete(&id).await.unwrap_err().is_not_found());
}
