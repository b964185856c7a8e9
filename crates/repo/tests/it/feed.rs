//! The checksum pass feeding a restore (`verify_checksum_feeding`): the consumer reads exactly
//! the payload, a damaged payload is a read error for it and a finding for the pass, and a
//! consumer that stops early does not cut the pass short.

use std::io::Read;

use ferryman_repo::{payload_feed, BackupId, ChecksumReport, PayloadFeed, Repository, Tool};

use crate::*;

/// Runs the pass over `id` while a consumer reads its feed, at most `limit` bytes (then it
/// drops the feed); returns the report and what the consumer read or its error.
async fn feed_and_read(
    repo: &Repository,
    id: &BackupId,
    limit: Option<usize>,
) -> (ChecksumReport, Result<Vec<u8>, std::io::Error>) {
    let (tap, feed) = payload_feed();
    let consumer = tokio::task::spawn_blocking(move || read_from(feed, limit));
    let report = repo.verify_checksum_feeding(id, 64, tap).await.unwrap();
    (report, consumer.await.unwrap())
}

fn read_from(mut feed: PayloadFeed, limit: Option<usize>) -> Result<Vec<u8>, std::io::Error> {
    match limit {
        None => {
            let mut out = Vec::new();
            feed.read_to_end(&mut out).map(|_| out)
        }
        Some(limit) => {
            let mut out = vec![0; limit];
            feed.read_exact(&mut out).map(|()| out)
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_pass_feeds_exactly_the_payload_and_a_damaged_one_is_an_error_for_both() {
    let (_tmp, repo) = repo();
    let data = dump(120_000, true);
    assert!(data.len() > 8 << 20, "several chunks: {}", data.len());
    let m = ingest(
        &repo,
        meta(Tool::Mysqldump, 7, "2026-11-21T02:58:00Z"),
        &data,
    )
    .await
    .unwrap();

    let (report, read) = feed_and_read(&repo, &m.id, None).await;
    assert!(report.is_ok(), "{}", report.summary());
    assert_eq!(report.raw_bytes, data.len() as u64);
    assert_eq!(report.head, data[..64]);
    assert_eq!(report.tail, data[data.len() - 64..]);
    let read = read.unwrap();
    assert_eq!(read.len(), data.len());
    assert_eq!(
        sha(&read),
        sha(&data),
        "the consumer read the payload as ingested"
    );

    // A consumer that stops after 1 MiB: the pass still reads and hashes everything.
    let (report, read) = feed_and_read(&repo, &m.id, Some(1 << 20)).await;
    assert_eq!(read.unwrap(), data[..1 << 20]);
    assert!(report.is_ok(), "{}", report.summary());
    assert_eq!(report.stored_bytes, m.stored_bytes);

    // Damage in the middle of the stored payload.
    let file = root(&repo).join(format!("Backups/{}/payload.sql.zst", m.id));
    let mut stored = std::fs::read(&file).unwrap();
    let middle = stored.len() / 2;
    stored[middle] ^= 0x5a;
    stored[middle + 1] ^= 0xa5;
    std::fs::write(&file, &stored).unwrap();
    let (report, read) = feed_and_read(&repo, &m.id, None).await;
    assert!(!report.is_ok() && !report.stored_ok, "{}", report.summary());
    assert!(report.summary().contains("DAMAGED"), "{}", report.summary());
    assert_eq!(
        report.stored_bytes,
        stored.len() as u64,
        "hashed to the end"
    );
    let e = read.expect_err("a damaged payload must not read as a whole one");
    assert!(e.to_string().contains("does not decompress"), "{e}");
}
