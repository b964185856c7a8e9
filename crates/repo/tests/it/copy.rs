//! Copies between repositories: checked on the way, manifest last, idempotent, and never made
//! from a damaged payload; what each repository holds of a backup, checked cheaply.

use ferryman_repo::{CopyCheck, Error, Repository, Tool};

use crate::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_copy_is_whole_checked_and_made_once() {
    let (tmp, first) = repo();
    let second = Repository::open(tmp.path().join("second")).unwrap();
    let data = dump(20_000, true);
    let m = ingest(
        &first,
        meta(Tool::Mysqldump, 1, "2026-11-21T02:58:00Z"),
        &data,
    )
    .await
    .unwrap();
    assert_eq!(second.check_copy(&m).await, CopyCheck::Missing);

    let copied = second.copy_from(&first, &m.id).await.unwrap();
    assert_eq!(copied, m);
    assert_eq!(second.get(&m.id).await.unwrap(), m);
    assert_eq!(sha(&payload(&second, &m.id).await), sha(&data));
    assert_eq!(second.check_copy(&m).await, CopyCheck::Ok);
    // Again: nothing to do, the same manifest.
    assert_eq!(second.copy_from(&first, &m.id).await.unwrap(), m);

    // A payload of the wrong size is damaged; a missing one too.
    let payload_file = root(&second).join(m.id.payload_key(m.format).as_str());
    let mut bytes = std::fs::read(&payload_file).unwrap();
    bytes.truncate(bytes.len() - 1);
    std::fs::write(&payload_file, &bytes).unwrap();
    let check = second.check_copy(&m).await;
    assert!(
        matches!(&check, CopyCheck::Damaged { detail } if detail.contains("bytes")),
        "{check}"
    );
    std::fs::remove_file(&payload_file).unwrap();
    let check = second.check_copy(&m).await;
    assert!(
        matches!(&check, CopyCheck::Damaged { detail } if detail.contains("missing")),
        "{check}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_damaged_payload_is_never_copied() {
    let (tmp, first) = repo();
    let second = Repository::open(tmp.path().join("second")).unwrap();
    let m = ingest(
        &first,
        meta(Tool::Mysqldump, 2, "2026-11-21T03:58:00Z"),
        &dump(20_000, true),
    )
    .await
    .unwrap();
    // One flipped byte, same size: only the sha256 tells.
    let payload_file = root(&first).join(m.id.payload_key(m.format).as_str());
    let mut bytes = std::fs::read(&payload_file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&payload_file, &bytes).unwrap();

    let err = second.copy_from(&first, &m.id).await.unwrap_err();
    assert!(matches!(err, Error::DamagedCopy { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("is damaged") && msg.contains(&m.stored_sha256),
        "{msg}"
    );
    assert!(msg.contains("use another copy"), "{msg}");
    assert_eq!(second.check_copy(&m).await, CopyCheck::Missing);
    assert!(
        files(&root(&second)).is_empty(),
        "{:?}",
        files(&root(&second))
    );
}
