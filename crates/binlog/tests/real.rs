//! Binlogs written by a real `mariadbd` (the sandbox's primary): every file reads to its end
//! with its checksums, the GTIDs found are the server's `@@gtid_binlog_pos`, each file's GTID
//! list follows the previous file without a gap, transactions and DDL are counted as groups,
//! two domains are kept apart; a flipped byte, a cut file and a file that is no binlog are
//! errors that say where.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use ferryman_binlog::{Error, GtidPos, Kind, Reader, Summary};
use ferryman_db::mysql_async::from_row;
use ferryman_sandbox::testing::TestSandbox;

/// Reads a whole binlog file.
fn summarize(path: &std::path::Path) -> Result<Summary, Error> {
    let file = std::fs::File::open(path).unwrap();
    let mut reader = Reader::new(std::io::BufReader::new(file), &path.display().to_string())?;
    let mut summary = Summary::default();
    while let Some(event) = reader.next_event()? {
        summary.add(&event);
    }
    assert!(
        reader.checksums(),
        "binlog_checksum=CRC32 is MariaDB's default"
    );
    Ok(summary)
}

fn now() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as u32
}

#[tokio::test(flavor = "multi_thread")]
async fn a_real_servers_binlogs_read_whole_with_their_gtids_times_and_groups() {
    let started = now();
    let sb = TestSandbox::start(0).await;
    sb.sql(
        "db1",
        "CREATE DATABASE pitr; CREATE TABLE pitr.t (id INT PRIMARY KEY, v TEXT)",
    )
    .await;
    for i in 0..40 {
        sb.sql(
            "db1",
            &format!("INSERT INTO pitr.t VALUES ({i}, REPEAT('x', 2000))"),
        )
        .await;
    }
    sb.sql("db1", "FLUSH BINARY LOGS").await;
    // Domain 1: a multi-statement transaction and a DDL, then domain 0 again.
    sb.sql(
        "db1",
        "SET SESSION gtid_domain_id = 1; \
         BEGIN; INSERT INTO pitr.t VALUES (100, 'a'); INSERT INTO pitr.t VALUES (101, 'b'); COMMIT; \
         CREATE TABLE pitr.u (id INT PRIMARY KEY); \
         SET SESSION gtid_domain_id = 0; UPDATE pitr.t SET v = 'y' WHERE id < 5",
    )
    .await;
    let (pos, datadir): (String, String) = from_row(
        sb.sql("db1", "SELECT @@gtid_binlog_pos, @@datadir")
            .await
            .remove(0),
    );
    let files: Vec<String> = sb
        .sql("db1", "SHOW BINARY LOGS")
        .await
        .into_iter()
        .map(|row| from_row::<(String, u64)>(row).0)
        .collect();
    assert!(files.len() >= 2, "{files:?}");
    let paths: Vec<PathBuf> = files
        .iter()
        .map(|f| PathBuf::from(&datadir).join(f))
        .collect();

    let mut last = GtidPos::new();
    let mut groups = 0;
    let mut summaries = Vec::new();
    for path in &paths {
        let s = summarize(path).unwrap();
        assert!(s.breaks.is_empty(), "{path:?}: {:?}", s.breaks);
        assert_eq!(s.open, None, "{path:?} ends inside a transaction");
        assert!(s.server_version.as_deref().unwrap().contains("MariaDB"));
        // Each file's GTID list is the position the files before it ended at.
        let before = s.before.clone().unwrap();
        assert!(
            s.gaps_after(&last).is_empty(),
            "{path:?}: {:?}",
            s.gaps_after(&last)
        );
        for gtid in before.iter() {
            assert_eq!(
                last.get(gtid.domain),
                Some(gtid),
                "{path:?}: {before} after {last}"
            );
        }
        for gtid in s.last.iter() {
            last.set(gtid);
        }
        groups += s.transactions;
        summaries.push(s);
    }
    assert_eq!(last.to_string(), pos, "the files end where the server says");
    // 2 DDL + 40 inserts in the first file; 1 transaction, 1 DDL, 1 update after.
    assert!(groups >= 45, "{groups} groups");
    let first = &summaries[0];
    assert!(first.transactions >= 42, "{first:?}");
    let second = summaries.iter().find(|s| s.last.get(1).is_some()).unwrap();
    let d1 = second.last.get(1).unwrap();
    assert_eq!(
        (d1.domain, d1.seq),
        (1, 2),
        "a transaction and a DDL in domain 1"
    );
    assert_eq!(second.first.get(1).unwrap().seq, 1);
    let (t0, t1) = (first.first_time.unwrap(), second.last_time.unwrap());
    assert!(
        started - 5 <= t0 && t0 <= t1 && t1 <= now() + 5,
        "{t0}..{t1}"
    );

    // A flipped byte inside an event fails its CRC32, named with the event's offset.
    let copy = sb.path().join("copy.bin");
    let mut bytes = std::fs::read(&paths[0]).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x20;
    std::fs::write(&copy, &bytes).unwrap();
    let err = summarize(&copy).unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("CRC32"), "{err}");
    // A cut file: the events before the cut read, then the cut is named.
    bytes[middle] ^= 0x20;
    std::fs::write(&copy, &bytes[..middle]).unwrap();
    let file = std::fs::File::open(&copy).unwrap();
    let mut reader = Reader::new(file, "copy.bin").unwrap();
    let mut read = 0;
    let err = loop {
        match reader.next_event() {
            Ok(Some(event)) => {
                read += 1;
                assert!(event.offset < middle as u64);
                if read == 1 {
                    assert!(matches!(
                        event.kind,
                        Kind::FormatDescription {
                            checksums: true,
                            ..
                        }
                    ));
                }
            }
            Ok(None) => panic!("the cut was not noticed"),
            Err(e) => break e,
        }
    };
    assert!(
        read > 10 && matches!(err, Error::Truncated { .. }),
        "{read}: {err}"
    );
    assert!(Reader::new(&b"not a binlog"[..], "x").is_err());
}

/// Follows db1's binlog from a GTID position, as the archiver will: the events after it come
/// whole with the server's own checksums (this crate's reader checks them), the first group
/// is the one after the position, and the stream goes on with what is written meanwhile.
#[tokio::test(flavor = "multi_thread")]
async fn a_followed_binlog_starts_after_its_gtid_and_checks_out_event_by_event() {
    let sb = TestSandbox::start(0).await;
    sb.sql(
        "db1",
        "CREATE DATABASE f; CREATE TABLE f.t (id INT PRIMARY KEY, v TEXT)",
    )
    .await;
    for i in 0..10 {
        sb.sql("db1", &format!("INSERT INTO f.t VALUES ({i}, 'a')"))
            .await;
    }
    let from = binlog_pos(&sb).await;
    let from: GtidPos = from.parse().unwrap();
    for i in 10..30 {
        sb.sql("db1", &format!("INSERT INTO f.t VALUES ({i}, 'b')"))
            .await;
    }
    let to = binlog_pos(&sb).await;

    let endpoint = db1(&sb);
    let mut follower = endpoint
        .follow_binlog(4242, &from.to_string())
        .await
        .unwrap();
    // The events as a segment: the magic, then every event as it came.
    let mut segment = ferryman_binlog::MAGIC.to_vec();
    let mut summary = Summary::default();
    let mut checked = 0;
    while summary.last.to_string() != to || summary.open.is_some() {
        let event = tokio::time::timeout(std::time::Duration::from_secs(20), follower.next_event())
            .await
            .expect("the dump stalled before the last GTID")
            .unwrap()
            .unwrap();
        segment.extend_from_slice(&event);
        // Read back everything so far: every event checks out (CRC32 included).
        let mut reader = Reader::new(&segment[..], "dump").unwrap();
        summary = Summary::default();
        checked = 0;
        while let Some(e) = reader.next_event().unwrap() {
            summary.add(&e);
            checked += 1;
        }
    }
    assert!(
        summary.server_version.is_some(),
        "the dump starts with a format description"
    );
    let first = summary.first.get(0).unwrap();
    assert_eq!(first.seq, from.get(0).unwrap().seq + 1, "{summary:?}");
    assert!(summary.gaps_after(&from).is_empty());
    assert_eq!(summary.transactions, 20);
    assert!(summary.breaks.is_empty());
    assert!(checked > 40, "{checked}");
    // The stream goes on: a write made now arrives.
    sb.sql("db1", "INSERT INTO f.t VALUES (1000, 'c')").await;
    let mut next = Summary::default();
    let mut more = ferryman_binlog::MAGIC.to_vec();
    // The format description of the dump precedes what comes next.
    let fde_end = 4 + u32::from_le_bytes(segment[4 + 9..4 + 13].try_into().unwrap()) as usize;
    more.extend_from_slice(&segment[4..fde_end]);
    while next.transactions == 0 {
        let event = tokio::time::timeout(std::time::Duration::from_secs(20), follower.next_event())
            .await
            .expect("a new write did not arrive")
            .unwrap()
            .unwrap();
        more.extend_from_slice(&event);
        let mut reader = Reader::new(&more[..], "dump").unwrap();
        next = Summary::default();
        while let Some(e) = reader.next_event().unwrap() {
            next.add(&e);
        }
    }
    assert_eq!(
        next.first.get(0).unwrap().seq,
        summary.last.get(0).unwrap().seq + 1
    );
    // An idle server sends heartbeats: taken in, not handed over, and the follower knows
    // it was heard from.
    let idle = tokio::time::timeout(std::time::Duration::from_secs(3), follower.next_event()).await;
    assert!(idle.is_err(), "an idle dump returned {idle:?}");
    assert!(
        follower.silent_for() < std::time::Duration::from_millis(1500),
        "no heartbeat for {:?}",
        follower.silent_for()
    );

    // A position the server never had: the dump is refused with the server's reason.
    let mut beyond = endpoint.follow_binlog(4243, "0-1-999999").await.unwrap();
    let err = loop {
        match beyond.next_event().await {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("the dump ended without an error"),
            Err(e) => break e.to_string(),
        }
    };
    assert!(err.contains("0-1-999999"), "{err}");
}

/// The spool of a followed binlog: appended and synced, recovered after a cut tail and after
/// an unfinished group to its last whole group, cut into a segment that starts where the
/// spool started, and going on after the cut.
#[tokio::test(flavor = "multi_thread")]
async fn a_spool_recovers_to_its_last_whole_group_and_cuts_segments() {
    use ferryman_binlog::Spool;
    let sb = TestSandbox::start(0).await;
    sb.sql(
        "db1",
        "CREATE DATABASE sp; CREATE TABLE sp.t (id INT PRIMARY KEY)",
    )
    .await;
    let from = binlog_pos(&sb).await;
    let from: GtidPos = from.parse().unwrap();
    for i in 0..12 {
        sb.sql("db1", &format!("INSERT INTO sp.t VALUES ({i})"))
            .await;
    }
    let to = binlog_pos(&sb).await;
    let endpoint = db1(&sb);
    let mut follower = endpoint
        .follow_binlog(4244, &from.to_string())
        .await
        .unwrap();
    let dir = sb.path().join("spool");
    let (mut spool, recovered) = Spool::open(&dir, "sandbox", &from).unwrap();
    assert_eq!((recovered.dropped, spool.position()), (0, from.clone()));
    while spool.position().to_string() != to {
        let event = next(&mut follower).await;
        spool.append(event).unwrap();
    }
    spool.sync().unwrap();
    let file = spool.file().to_owned();
    drop(spool);

    // A cut tail (a crash in the middle of a write) is cut off.
    let whole = std::fs::read(&file).unwrap();
    let mut torn = whole.clone();
    torn.extend_from_slice(&[0x42; 10]);
    std::fs::write(&file, &torn).unwrap();
    let (spool, recovered) = Spool::open(&dir, "sandbox", &GtidPos::new()).unwrap();
    assert_eq!(recovered.dropped, 10);
    assert!(recovered.damage.is_some());
    assert_eq!(spool.position().to_string(), to);
    assert_eq!(std::fs::read(&file).unwrap(), whole);
    drop(spool);

    // An unfinished group (its commit never written) is cut off: the follower resumes at it.
    let last_xid = Reader::new(&whole[..], "spool")
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.kind == Kind::Xid)
        .last()
        .unwrap();
    std::fs::write(&file, &whole[..last_xid.offset as usize]).unwrap();
    let (mut spool, recovered) = Spool::open(&dir, "sandbox", &GtidPos::new()).unwrap();
    assert!(
        recovered.dropped > 0 && recovered.damage.is_none(),
        "{recovered:?}"
    );
    let behind = spool.position().get(0).unwrap();
    let target: GtidPos = to.parse().unwrap();
    assert_eq!(behind.seq + 1, target.get(0).unwrap().seq);
    let mut again = endpoint
        .follow_binlog(4245, &spool.position().to_string())
        .await
        .unwrap();
    while spool.position().to_string() != to {
        let event = next(&mut again).await;
        spool.append(event).unwrap();
    }

    // The segment: a binlog from the spool's start to its last whole group.
    let seg = spool.segment(u64::MAX).unwrap().unwrap();
    let (segment, before) = (seg.bytes.clone(), seg.before.clone());
    assert_eq!(before, from);
    let summary = summary_of(&segment);
    assert!(summary.gaps_after(&from).is_empty() && summary.breaks.is_empty());
    assert_eq!(summary.last.to_string(), to);
    assert_eq!(summary.transactions, 12);
    spool.cut(&seg.cut).unwrap();
    assert!(spool.is_empty() && spool.segment(u64::MAX).unwrap().is_none());
    assert_eq!(spool.position().to_string(), to);

    // After the cut the spool goes on from there, and so does the next segment.
    sb.sql("db1", "INSERT INTO sp.t VALUES (100)").await;
    while spool.summary().transactions == 0 {
        let event = next(&mut again).await;
        spool.append(event).unwrap();
    }
    let seg = spool.segment(u64::MAX).unwrap().unwrap();
    let (segment, before) = (seg.bytes.clone(), seg.before.clone());
    assert_eq!(before.to_string(), to);
    let summary = summary_of(&segment);
    assert!(summary.gaps_after(&before).is_empty());
    assert_eq!(summary.transactions, 1);

    // A cut interrupted before its state was replaced: the next generation's file is a
    // leftover, removed at open; the spool is the old one, whose segment is the same again.
    let first_file = spool.file().to_owned();
    let position = spool.position();
    drop(spool);
    let leftover = first_file.with_file_name("sandbox.99.binlog");
    std::fs::write(&leftover, b"half a cut").unwrap();
    let (mut spool, _) = Spool::open(&dir, "sandbox", &GtidPos::new()).unwrap();
    assert!(!leftover.exists());
    assert_eq!(spool.file(), first_file);
    let stored = spool.segment(u64::MAX).unwrap().unwrap();
    assert_eq!(stored.bytes, segment);
    // Appending goes on while the segment is stored: the cut keeps what came after it.
    sb.sql("db1", "INSERT INTO sp.t VALUES (101)").await;
    while spool.summary().transactions < 2 {
        let event = next(&mut again).await;
        spool.append(event).unwrap();
    }
    let later = spool.position();
    spool.cut(&stored.cut).unwrap();
    assert_eq!(spool.summary().transactions, 1);
    assert_eq!(spool.position(), later);
    assert!(!first_file.exists());
    let kept = spool.segment(u64::MAX).unwrap().unwrap();
    assert_eq!(kept.before, position);
    assert!(summary_of(&kept.bytes).gaps_after(&position).is_empty());
    // A restart with whole groups not cut would lose them: refused.
    assert!(spool.restart(&later, "db1").is_err());
    spool.cut(&kept.cut).unwrap();
    let position = later;
    spool.restart(&position, "db1").unwrap();
    assert_eq!(std::fs::read(spool.file()).unwrap(), ferryman_binlog::MAGIC);
    drop(spool);
    let (mut spool, recovered) = Spool::open(&dir, "sandbox", &GtidPos::new()).unwrap();
    assert_eq!((recovered.dropped, spool.position()), (0, position.clone()));
    // The source recorded by the restart survives in the state.
    assert_eq!(spool.source(), Some("db1"));

    // A backlog larger than a segment: segments end at a group end near the limit, and
    // follow each other without a gap.
    sb.sql(
        "db1",
        "CREATE TABLE sp.big (id INT PRIMARY KEY, v LONGTEXT)",
    )
    .await;
    for i in 0..40 {
        sb.sql(
            "db1",
            &format!("INSERT INTO sp.big VALUES ({i}, REPEAT('b', 100000))"),
        )
        .await;
    }
    let to = binlog_pos(&sb).await;
    // After a restart a follower starts a new dump (its format description first).
    let mut third = db1(&sb)
        .follow_binlog(4246, &spool.position().to_string())
        .await
        .unwrap();
    while spool.position().to_string() != to {
        let event = next(&mut third).await;
        spool.append(event).unwrap();
    }
    assert!(spool.len() > 3 << 20, "{}", spool.len());
    let backlog_file = spool.file().to_owned();
    // With most of the backlog still after it, a cut leaves the file as it is (and records
    // where storing goes on); a segment handed out is given again, byte for byte, after a
    // crash, however much was appended since (storing it again finds it stored).
    let first = spool.segment(3 << 19).unwrap().unwrap();
    spool.cut(&first.cut).unwrap();
    assert_eq!(spool.file(), backlog_file);
    let second = spool.segment(3 << 19).unwrap().unwrap();
    assert!(second.bytes != first.bytes);
    assert_eq!(&second.before, first.cut.position());
    drop(spool);
    let (mut spool, _) = Spool::open(&dir, "sandbox", &GtidPos::new()).unwrap();
    let again = spool.segment(3 << 19).unwrap().unwrap();
    assert!(again.bytes == second.bytes && again.before == second.before);
    let mut before = first.cut.position().clone();
    let mut parts = 0;
    while let Some(seg) = spool.segment(3 << 19).unwrap() {
        assert!(
            seg.bytes.len() <= 3 << 19 || parts == 0,
            "{}",
            seg.bytes.len()
        );
        assert_eq!(seg.before, before);
        let summary = summary_of(&seg.bytes);
        assert!(summary.gaps_after(&before).is_empty() && summary.open.is_none());
        assert_eq!(seg.cut.position().to_string(), summary.last.to_string());
        before = seg.cut.position().clone();
        spool.cut(&seg.cut).unwrap();
        parts += 1;
    }
    assert!(parts >= 2, "{parts}");
    assert_eq!(before.to_string(), to);
    // The rest was small at the end: the file was rewritten once.
    assert_ne!(spool.file(), backlog_file);
    assert!(spool.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_spool_hands_out_only_durable_groups_while_a_sync_runs_beside_the_appends() {
    use ferryman_binlog::Spool;
    let sb = TestSandbox::start(0).await;
    sb.sql(
        "db1",
        "CREATE DATABASE sp; CREATE TABLE sp.t (id INT PRIMARY KEY)",
    )
    .await;
    let from: GtidPos = binlog_pos(&sb).await.parse().unwrap();
    for i in 0..3 {
        sb.sql("db1", &format!("INSERT INTO sp.t VALUES ({i})"))
            .await;
    }
    let first = binlog_pos(&sb).await;
    let mut follower = db1(&sb)
        .follow_binlog(4247, &from.to_string())
        .await
        .unwrap();
    let dir = sb.path().join("spool");
    let (mut spool, _) = Spool::open(&dir, "sandbox", &from).unwrap();
    // The format description and the events before the first group: no segment, durable
    // or not.
    let head = next(&mut follower).await;
    spool.append(head).unwrap();
    spool.sync().unwrap();
    assert!(spool.durable_segment(u64::MAX).unwrap().is_none());
    while spool.position().to_string() != first {
        let event = next(&mut follower).await;
        spool.append(event).unwrap();
    }
    // Appended, not synced: not durable, not handed out, not the recovery point.
    assert!(spool.durable_segment(u64::MAX).unwrap().is_none());
    assert_eq!(spool.durable_position(), &from);
    let ticket = spool.begin_sync().unwrap().unwrap();
    // Appends go on while the ticket runs; they are not covered by it.
    sb.sql("db1", "INSERT INTO sp.t VALUES (100)").await;
    let second = binlog_pos(&sb).await;
    while spool.position().to_string() != second {
        let event = next(&mut follower).await;
        spool.append(event).unwrap();
    }
    std::thread::spawn(move || {
        ticket.run().unwrap();
        ticket
    })
    .join()
    .map(|ticket| spool.end_sync(ticket))
    .unwrap();
    assert_eq!(spool.durable_position().to_string(), first);
    let seg = spool.durable_segment(u64::MAX).unwrap().unwrap();
    assert_eq!(summary_of(&seg.bytes).last.to_string(), first);
    assert_eq!(seg.before, from);
    // A ticket of the file before a cut changes nothing after it.
    let stale = spool.begin_sync().unwrap().unwrap();
    stale.run().unwrap();
    spool.cut(&seg.cut).unwrap();
    let durable = spool.durable_position().clone();
    spool.end_sync(stale);
    assert_eq!(spool.durable_position(), &durable);
    // `segment` syncs first: it holds everything appended.
    let rest = spool.segment(u64::MAX).unwrap().unwrap();
    assert_eq!(summary_of(&rest.bytes).last.to_string(), second);
    assert_eq!(spool.durable_position().to_string(), second);
}

/// The next event of `f`, within 20 s.
async fn next(f: &mut ferryman_db::binlog::BinlogFollower) -> Vec<u8> {
    tokio::time::timeout(std::time::Duration::from_secs(20), f.next_event())
        .await
        .expect("the dump stalled")
        .unwrap()
        .unwrap()
}

/// db1's `@@gtid_binlog_pos`.
async fn binlog_pos(sb: &TestSandbox) -> String {
    from_row::<(String,)>(sb.sql("db1", "SELECT @@gtid_binlog_pos").await.remove(0)).0
}

/// How the manager reaches db1.
fn db1(sb: &TestSandbox) -> ferryman_db::Endpoint {
    let config = sb.config();
    let cluster = &config.clusters[0];
    let server = cluster.servers.iter().find(|s| s.name == "db1").unwrap();
    ferryman_db::Endpoint::from_config(server, &cluster.db_servers_credential)
}

/// What the binlog bytes `bytes` hold, every event checked.
fn summary_of(bytes: &[u8]) -> Summary {
    let mut summary = Summary::default();
    for event in Reader::new(bytes, "segment").unwrap() {
        summary.add(&event.unwrap());
    }
    summary
}
