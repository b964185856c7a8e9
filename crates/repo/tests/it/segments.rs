//! Archived binlog segments from a real server's binlog files: stored after an event-by-event
//! check, listed in order, chained without gaps up to the server's `@@gtid_binlog_pos`; a
//! missing segment is a gap named by its GTIDs; a damaged stretch is refused and leaves
//! nothing; read back, a segment is the very bytes stored, and a damaged copy is refused.

use std::path::PathBuf;

use ferryman_db::mysql_async::from_row;
use ferryman_repo::segments::chain;
use ferryman_repo::{Compression, Error};
use ferryman_sandbox::testing::TestSandbox;

use crate::*;

#[tokio::test(flavor = "multi_thread")]
async fn binlog_files_stored_as_segments_chain_up_to_the_servers_position() {
    let (_tmp, repo) = repo();
    let sb = TestSandbox::start(0).await;
    sb.sql(
        "db1",
        "CREATE DATABASE s; CREATE TABLE s.t (id INT PRIMARY KEY)",
    )
    .await;
    for round in 0..3 {
        for i in 0..5 {
            sb.sql(
                "db1",
                &format!("INSERT INTO s.t VALUES ({})", round * 10 + i),
            )
            .await;
        }
        sb.sql("db1", "FLUSH BINARY LOGS").await;
    }
    let (pos, datadir): (String, String) = from_row(
        sb.sql("db1", "SELECT @@gtid_binlog_pos, @@datadir")
            .await
            .remove(0),
    );
    let files: Vec<PathBuf> = sb
        .sql("db1", "SHOW BINARY LOGS")
        .await
        .into_iter()
        .map(|row| PathBuf::from(&datadir).join(from_row::<(String, u64)>(row).0))
        .collect();

    let mut stored = Vec::new();
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        match repo
            .store_segment("shop", "db1", None, bytes, Compression::default())
            .await
        {
            Ok(m) => stored.push(m),
            // The newest file holds no transaction yet.
            Err(Error::InvalidRequest { detail }) if detail.contains("without any GTID") => {}
            Err(e) => panic!("{file:?}: {e}"),
        }
    }
    assert!(stored.len() >= 3, "{stored:#?}");
    let listed = repo.list_segments("shop").await.unwrap();
    assert_eq!(listed, stored);
    let domains = chain(&listed).unwrap();
    assert_eq!(domains.len(), 1);
    let zero = &domains[&0];
    assert!(zero.gaps.is_empty(), "{zero:?}");
    assert_eq!(zero.last, pos);
    assert!(listed
        .iter()
        .all(|m| m.ends_inside.is_none() && m.transactions > 0));
    // The same stretch again: the segment is there already, not stored twice.
    let again = repo
        .store_segment(
            "shop",
            "db1",
            None,
            std::fs::read(&files[1]).unwrap(),
            Compression::default(),
        )
        .await
        .unwrap();
    assert_eq!(again, listed[1]);
    assert_eq!(
        repo.list_segments("shop").await.unwrap().len(),
        listed.len()
    );

    // A segment lost: the chain names the gap by its GTIDs.
    let mut holed = listed.clone();
    let lost = holed.remove(1);
    let zero = chain(&holed).unwrap()[&0].clone();
    assert_eq!(zero.gaps.len(), 1, "{zero:?}");
    assert_eq!(zero.gaps[0].segment, holed[1].name);
    assert_eq!(zero.gaps[0].next, holed[1].first);
    assert_eq!(zero.gaps[0].after, holed[0].last);
    assert!(lost.first != holed[1].first);

    // A damaged stretch is refused with where and why; nothing is stored.
    let mut bytes = std::fs::read(&files[0]).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    let err = repo
        .store_segment("shop", "db1", None, bytes, Compression::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("refused") && err.contains("CRC32"), "{err}");
    assert_eq!(
        repo.list_segments("shop").await.unwrap().len(),
        listed.len()
    );
    let left = files_under(&root(&repo).join("Binlogs/shop"));
    assert_eq!(left.len(), 2 * listed.len(), "{left:?}");

    // Read back: the very bytes of the binlog file; a flipped byte at rest is a damaged
    // copy, and nothing of it is handed out.
    let read = repo.read_segment(&listed[0]).await.unwrap();
    assert_eq!(read, std::fs::read(&files[0]).unwrap());
    let payload = root(&repo)
        .join("Binlogs/shop")
        .join(&listed[0].name)
        .join(&listed[0].payload);
    let mut stored = std::fs::read(&payload).unwrap();
    let at = stored.len() / 2;
    stored[at] ^= 0x01;
    std::fs::write(&payload, &stored).unwrap();
    match repo.read_segment(&listed[0]).await {
        Err(Error::DamagedCopy { .. }) => {}
        other => panic!("a damaged segment was read as {other:?}"),
    }
}

/// Every file under `dir`.
fn files_under(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}
