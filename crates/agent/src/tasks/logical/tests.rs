use super::head_tail::{HEAD_KEEP, TAIL_KEEP};
use super::*;
use tokio::io::AsyncReadExt;

fn strings(args: Vec<OsString>) -> Vec<String> {
    args.into_iter().map(|a| a.into_string().unwrap()).collect()
}

#[test]
fn mysqldump_takes_a_snapshot_with_coordinates_and_no_password() {
    let args = strings(mysqldump_args(
        "--defaults-extra-file=/w/.ferryman-client-x.cnf",
        "replication_manager_schema.jobs",
    ));
    assert_eq!(args[0], "--defaults-extra-file=/w/.ferryman-client-x.cnf");
    for wanted in [
        "--single-transaction",
        "--master-data=2",
        "--gtid",
        "--all-databases",
        "--routines",
        "--events",
        "--triggers",
        "--comments",
        "--dump-date",
        "--ignore-table=replication_manager_schema.jobs",
    ] {
        assert!(
            args.iter().any(|a| a == wanted),
            "{wanted} missing: {args:?}"
        );
    }
    for unwanted in ["--flush-logs", "--lock-all-tables", "--lock-tables", "-x"] {
        assert!(!args.iter().any(|a| a == unwanted), "{unwanted}: {args:?}");
    }
    assert!(!args.iter().any(|a| a.contains("password")), "{args:?}");
    assert_eq!(
        jobs_table(&ferryman_jobs::Schema::default()),
        "replication_manager_schema.jobs"
    );
}

#[test]
fn mydumper_reads_only_our_option_file_and_skips_the_jobs_table() {
    let args = strings(mydumper_args(
        "--defaults-file=/w/.ferryman-client-x.cnf",
        Path::new("/w/dump"),
        "replication_manager_schema.jobs",
    ));
    assert_eq!(
        args,
        [
            "--defaults-file=/w/.ferryman-client-x.cnf",
            "--outputdir=/w/dump",
            "--threads=2",
            "--chunk-filesize=64",
            "--trx-consistency-only",
            "--triggers",
            "--events",
            "--routines",
            "--regex=^(?!replication_manager_schema\\.jobs$)",
        ]
    );
    assert!(!args.iter().any(|a| a.contains("password") || a == "-p"));
    assert!(!args.iter().any(|a| a.contains("compress")));
}

/// Head and tail of a real `mariadb-dump` 10.11.19 run with the options above.
const DUMP_HEAD: &str = "/*M!999999\\- enable the sandbox mode */ \n\
    -- MariaDB dump 10.19  Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)\n\
    --\n\
    -- Host: 127.0.0.1    Database: \n\
    /*!40101 SET NAMES utf8mb4 */;\n\
    -- CHANGE MASTER TO MASTER_USE_GTID=slave_pos;\n\
    \n\
    -- Alternately, following is the position of the binary logging from SHOW MASTER STATUS at point of backup.\n\
    --\n\
    \n\
    -- CHANGE MASTER TO MASTER_LOG_FILE='binlog.000001', MASTER_LOG_POS=35002285;\n\
    \n\
    --\n\
    -- Current Database: `app`\n";
const DUMP_TAIL: &str = "USE `sbtest`;\n\
    \n\
    -- The deferred gtid setting for slave corresponding to the master-data CHANGE-MASTER follows\n\
    \n\
    -- Preferably use GTID to start replication from GTID position:\n\
    \n\
    -- SET GLOBAL gtid_slave_pos='0-1-50';\n\
    /*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;\n\
    /*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;\n\
    \n\
    -- Dump completed on 2026-11-21  2:45:23\n";

#[test]
fn coordinates_are_read_from_the_dump_header_and_end() {
    let c = dump_coordinates(DUMP_HEAD, DUMP_TAIL);
    assert_eq!(
        c,
        Coordinates {
            gtid: Some("0-1-50".into()),
            file: Some("binlog.000001".into()),
            position: Some(35002285),
        }
    );
    assert_eq!(c.describe(), "GTID 0-1-50, binlog.000001:35002285");
    // A server without any GTID yet writes an empty position.
    let c = dump_coordinates("", "-- SET GLOBAL gtid_slave_pos='';\n");
    assert_eq!(c, Coordinates::default());
    assert!(c.describe().starts_with("no binlog coordinates"));
}

#[test]
fn the_footer_must_be_the_last_line() {
    assert!(ends_with_footer(DUMP_TAIL.as_bytes()));
    assert!(ends_with_footer(b"x;\n\n-- Dump completed\n\n"));
    assert!(!ends_with_footer(
        b"-- Dump completed on 2026-11-21\nINSERT INTO t VALUES (1);\n"
    ));
    assert!(!ends_with_footer(b"INSERT INTO `t` VALUES\n(1,'a'),\n(2,"));
    assert!(!ends_with_footer(b""));
}

#[tokio::test]
async fn head_tail_passes_everything_through_and_keeps_both_ends() {
    let mut data = DUMP_HEAD.as_bytes().to_vec();
    data.extend((0..3_000_000u32).map(|i| b'a' + (i % 26) as u8));
    data.extend_from_slice(DUMP_TAIL.as_bytes());
    // Small reads, as from a pipe, cross both boundaries many times.
    let (mut tx, rx) = tokio::io::duplex(4096);
    let source = data.clone();
    let writer = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        tx.write_all(&source).await.unwrap();
    });
    let mut ht = HeadTail::new(rx);
    let mut out = Vec::new();
    ht.read_to_end(&mut out).await.unwrap();
    writer.await.unwrap();
    assert_eq!(out, data);
    assert_eq!(ht.head, data[..HEAD_KEEP]);
    assert!(ht.tail.len() >= TAIL_KEEP && ht.tail.len() < 2 * TAIL_KEEP);
    assert!(data.ends_with(&ht.tail));
    assert!(ends_with_footer(&ht.tail));
    let c = dump_coordinates(
        &String::from_utf8_lossy(&ht.head),
        &String::from_utf8_lossy(&ht.tail),
    );
    assert_eq!(c.describe(), "GTID 0-1-50, binlog.000001:35002285");
}

#[test]
fn head_tail_of_a_short_stream_is_all_of_it() {
    let mut ht = HeadTail::new(());
    ht.record(b"-- Dump ");
    ht.record(b"completed\n");
    assert_eq!(ht.head, b"-- Dump completed\n");
    assert_eq!(ht.tail, b"-- Dump completed\n");
    // A chunk larger than the tail: only its end is copied; memory stays under 2 × TAIL_KEEP.
    ht.record(&vec![b'x'; 3 * TAIL_KEEP]);
    assert_eq!(ht.tail.len(), 18 + TAIL_KEEP);
    ht.record(&vec![b'y'; TAIL_KEEP]);
    assert_eq!(ht.tail, vec![b'y'; TAIL_KEEP]);
    assert_eq!(ht.head.len(), HEAD_KEEP);
}

#[test]
fn metadata_gives_the_coordinates_the_result_describes() {
    // Real file from mydumper 0.10.0 (Debian 12) against MariaDB 10.11; both layouts are
    // parsed by `ferryman_proto::mydumper`, tested there.
    let text = "Started dump at: 2026-11-21 02:45:31\n\
                SHOW MASTER STATUS:\n\tLog: binlog.000001\n\tPos: 35002285\n\tGTID:0-1-50\n\n\
                Finished dump at: 2026-11-21 02:45:31\n";
    let m = Metadata::parse(text);
    assert!(m.finished);
    assert_eq!(
        m.coordinates.describe(),
        "GTID 0-1-50, binlog.000001:35002285"
    );
}

#[test]
fn version_lines_fit_one_line() {
    assert_eq!(
        one_line("mariadb-dump  Ver 10.19 Distrib 10.11.19-MariaDB\n"),
        "mariadb-dump Ver 10.19 Distrib 10.11.19-MariaDB"
    );
}
