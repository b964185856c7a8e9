//! `repo check`'s reading back: all payloads, none, or fixed subsets that split the backups
//! between them; a flipped byte is found only by reading.

use ferryman_repo::{ReadData, Tool};

use crate::*;

#[tokio::test(flavor = "multi_thread")]
async fn subsets_split_the_backups_and_reading_finds_a_flipped_byte() {
    let (_tmp, repo) = repo();
    let mut ids = Vec::new();
    for job in 1..=6 {
        let started = format!("2026-11-2{job}T02:58:00Z");
        let m = ingest(
            &repo,
            meta(Tool::Mysqldump, job, &started),
            &dump(2_000, true),
        )
        .await
        .unwrap();
        ids.push(m);
    }
    let count = |r: &ferryman_repo::CheckReport| (r.backups, r.read_backups, r.is_ok());
    assert_eq!(
        count(&repo.check(ReadData::None, false).await.unwrap()),
        (6, 0, true)
    );
    assert_eq!(
        count(&repo.check(ReadData::All, false).await.unwrap()),
        (6, 6, true)
    );
    let mut read = 0;
    for n in 1..=3 {
        let subset = ReadData::Subset { n, m: 3 };
        let first = repo.check(subset, false).await.unwrap();
        // A backup stays in its subset.
        assert_eq!(
            first.read_backups,
            repo.check(subset, false).await.unwrap().read_backups
        );
        read += first.read_backups;
    }
    for m in &ids {
        let holding = (1..=3).filter(|k| ReadData::Subset { n: *k, m: 3 }.reads(&m.id));
        assert_eq!(holding.count(), 1, "{} is in exactly one subset", m.id);
    }
    assert_eq!(read, 6, "the subsets together read every backup once");

    // Same size, one byte flipped: the sizes check passes, reading fails it.
    let m = &ids[2];
    let payload_file = root(&repo).join(m.id.payload_key(m.format).as_str());
    let mut bytes = std::fs::read(&payload_file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&payload_file, &bytes).unwrap();
    assert!(repo.check(ReadData::None, false).await.unwrap().is_ok());
    let report = repo.check(ReadData::All, false).await.unwrap();
    assert!(!report.is_ok());
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert_eq!(report.problems[0].backup, m.id);
    assert!(
        report.problems[0].detail.contains("DAMAGED"),
        "{:?}",
        report.problems
    );
}
