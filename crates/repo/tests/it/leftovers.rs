//! What a crashed manager left: a backup directory whose payload is whole but whose manifest
//! was never written is quarantined intact; provably partial ones are removed.

use ferryman_repo::{Repository, Tool};

use crate::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_whole_payload_without_manifest_is_quarantined_and_a_partial_one_removed() {
    let (_tmp, repo) = repo();
    let root = root(&repo);
    let kept = ingest(
        &repo,
        meta(Tool::Mysqldump, 1, "2026-11-20T01:00:00Z"),
        &dump(100, true),
    )
    .await
    .unwrap();
    // A manager killed between the payload's rename and the manifest's: the payload is whole.
    let whole = ingest(
        &repo,
        meta(Tool::Mysqldump, 2, "2026-11-21T01:00:00Z"),
        &dump(5_000, true),
    )
    .await
    .unwrap();
    let whole_dir = root.join("Backups/shop/db1/20261121T010000Z-j2");
    std::fs::remove_file(whole_dir.join("manifest.json")).unwrap();
    let stored = std::fs::read(whole_dir.join("payload.sql.zst")).unwrap();
    // Killed mid-payload: only the temporary name (and a leftover temporary manifest, hidden).
    let partial = root.join("Backups/shop/db1/20261121T020000Z-j3");
    std::fs::create_dir_all(&partial).unwrap();
    std::fs::write(partial.join("payload.xbstream.zst.partial"), b"half").unwrap();
    // Killed before the payload's first byte.
    let empty = root.join("Backups/shop/db1/20261121T030000Z-j4");
    std::fs::create_dir_all(&empty).unwrap();
    // A payload with a file nobody knows: not provably partial either.
    let odd = root.join("Backups/shop/db2/20261121T040000Z-j5");
    std::fs::create_dir_all(&odd).unwrap();
    std::fs::write(odd.join("payload.sql.zst.partial"), b"half").unwrap();
    std::fs::write(odd.join("notes.txt"), b"the DBA's").unwrap();

    let left = repo.clean_incomplete().await.unwrap();
    let mut removed: Vec<String> = left.removed.iter().map(|k| k.to_string()).collect();
    removed.sort();
    assert_eq!(
        removed,
        [
            "Backups/shop/db1/20261121T020000Z-j3",
            "Backups/shop/db1/20261121T030000Z-j4"
        ]
    );
    assert!(!partial.exists() && !empty.exists());
    let mut moved: Vec<_> = left.quarantined.iter().collect();
    moved.sort_by(|a, b| a.from.cmp(&b.from));
    assert_eq!(moved.len(), 2, "{moved:?}");
    assert_eq!(
        moved[0].from.as_str(),
        "Backups/shop/db1/20261121T010000Z-j2"
    );
    assert!(
        moved[0]
            .to
            .as_str()
            .starts_with("Quarantine/shop/db1/20261121T010000Z-j2-q"),
        "{}",
        moved[0].to
    );
    assert_eq!(
        moved[0].describe(),
        format!("payload.sql.zst ({} bytes)", stored.len())
    );
    assert_eq!(
        moved[1].from.as_str(),
        "Backups/shop/db2/20261121T040000Z-j5"
    );
    assert_eq!(
        moved[1].describe(),
        "notes.txt (9 bytes), payload.sql.zst.partial (4 bytes)"
    );
    // Moved whole, byte for byte; nothing left where it was.
    assert!(!whole_dir.exists() && !odd.exists());
    let there = root.join(moved[0].to.as_str());
    assert_eq!(files(&there), ["payload.sql.zst"]);
    assert_eq!(
        std::fs::read(there.join("payload.sql.zst")).unwrap(),
        stored
    );
    assert_eq!(
        std::fs::read(root.join(moved[1].to.as_str()).join("notes.txt")).unwrap(),
        b"the DBA's"
    );

    // The rest of the repository ignores the quarantine: the listing, the next start, logs.
    let reopened = Repository::open(&root).unwrap();
    let ids: Vec<_> = reopened
        .list(None, None)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(ids, [kept.id]);
    assert!(reopened.clean_incomplete().await.unwrap().is_empty());
    assert!(reopened.rotate_logs(1).await.unwrap().is_empty());
    assert!(reopened.list_logs("Quarantine", "shop").await.is_err());
    assert!(reopened.get(&whole.id).await.unwrap_err().is_not_found());
    assert_eq!(files(&there), ["payload.sql.zst"]);
}
