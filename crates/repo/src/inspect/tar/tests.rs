//! The inspector on archives made by the real `tar`, fed in small pieces (split inside
//! headers), and on hand-made damage.

use std::path::Path;

use ferryman_exec::Program;

use super::header::{gnu, BLOCK};
use super::*;

const FINISHED: &str = "Started dump at: 2026-12-05 13:01:31\nSHOW MASTER STATUS:\n\
                        \tLog: binlog.000008\n\tPos: 1570\n\tGTID:0-1-3530\n\n\
                        Finished dump at: 2026-12-05 13:01:31\n";
const LONG: &str =
    "a_table_whose_name_is_long_enough_that_with_its_database_and_chunk_it_needs_gnu_long_names";

fn inspect(data: &[u8], piece: usize) -> Result<Findings, Refusal> {
    let mut inspector = Box::new(TarInspector::new());
    for chunk in data.chunks(piece) {
        inspector.feed(chunk)?;
    }
    inspector.finish()
}

/// A mydumper 0.10 directory: two chunks of `shop.t`, an empty table, a view with its
/// placeholder, a trigger, a table with a long name, and `metadata` saying `metadata`.
fn mydumper_dir(dir: &Path, metadata: &str) {
    let files: [(&str, String); 9] = [
        ("metadata", metadata.to_owned()),
        (
            "shop-schema-create.sql",
            "CREATE DATABASE `shop` /*!40100 DEFAULT CHARACTER SET latin1 */;\n".to_owned(),
        ),
        (
            "shop.t-schema.sql",
            "/*!40101 SET NAMES binary*/;\nCREATE TABLE `t` (\n  `id` int(11) NOT NULL,\n  \
             `v` text,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB;\n"
                .to_owned(),
        ),
        (
            "shop.t.00001.sql",
            "/*!40101 SET NAMES binary*/;\nINSERT INTO `t` VALUES\n(1,'a;b'),\n(2,'(x)');\n"
                .to_owned(),
        ),
        (
            "shop.t.00002.sql",
            "INSERT INTO `t` VALUES\n(3,'c'),\n(4,'it''s'),\n(5,'\\\\');\n".to_owned(),
        ),
        (
            "shop.e-schema.sql",
            "CREATE TABLE `e` (\n  `id` int(11) NOT NULL\n) ENGINE=InnoDB;\n".to_owned(),
        ),
        (
            "shop.v-schema.sql",
            "/*!40101 SET NAMES binary*/;\nCREATE TABLE `v`(\n`id` int\n)ENGINE=MyISAM;\n"
                .to_owned(),
        ),
        (
            "shop.v-schema-view.sql",
            "DROP TABLE IF EXISTS `v`;\nCREATE ALGORITHM=UNDEFINED VIEW `v` AS select 1 AS \
             `id`;\n"
                .to_owned(),
        ),
        (
            "shop.t-schema-triggers.sql",
            "CREATE TRIGGER tr AFTER INSERT ON t FOR EACH ROW INSERT INTO e VALUES (1);\n"
                .to_owned(),
        ),
    ];
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    std::fs::write(
        dir.join(format!("shop.{LONG}-schema.sql")),
        format!("CREATE TABLE `{LONG}` (`id` int);\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join(format!("shop.{LONG}.sql")),
        format!("INSERT INTO `{LONG}` VALUES (7);\n"),
    )
    .unwrap();
}

async fn tar(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = dir.with_extension("tar");
    Program::find("tar", "tar")
        .unwrap()
        .command()
        .args(["-C", dir.to_str().unwrap(), "-cf", out.to_str().unwrap()])
        .args(args)
        .run()
        .await
        .unwrap();
    std::fs::read(out).unwrap()
}

#[tokio::test]
async fn rows_databases_and_coordinates_come_from_the_members() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("dump");
    std::fs::create_dir(&dir).unwrap();
    mydumper_dir(&dir, FINISHED);
    let data = tar(&dir, &["."]).await;
    for piece in [7, 512, 100_000] {
        let f = inspect(&data, piece).unwrap();
        let rows: Vec<(&str, u64)> = f.table_rows.iter().map(|(k, n)| (k.as_str(), *n)).collect();
        let long = format!("shop.{LONG}");
        assert_eq!(
            rows,
            [(long.as_str(), 1), ("shop.e", 0), ("shop.t", 5)],
            "piece {piece}"
        );
        assert_eq!(f.databases, ["shop"]);
        assert_eq!(f.coordinates.gtid.as_deref(), Some("0-1-3530"));
        assert_eq!(f.coordinates.binlog_file.as_deref(), Some("binlog.000008"));
        assert_eq!(f.coordinates.binlog_pos, Some(1570));
        assert!(f.captured["metadata"].contains("Finished dump at"));
    }
    // As the agent sends them: named without `./`, `metadata` last, in GNU format (`L`
    // members) and in POSIX format (pax `path` records for the long names).
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort_by_key(|n| (n == "metadata", n.clone()));
    assert_eq!(names.last().map(String::as_str), Some("metadata"));
    for format in ["--format=gnu", "--format=posix"] {
        let mut args = vec![format];
        args.extend(names.iter().map(String::as_str));
        let f = inspect(&tar(&dir, &args).await, 333).unwrap();
        assert_eq!(f.table_rows.get("shop.t"), Some(&5), "{format}");
        assert_eq!(f.table_rows.get("shop.e"), Some(&0), "{format}");
        assert_eq!(
            f.table_rows.get(&format!("shop.{LONG}")),
            Some(&1),
            "{format}"
        );
        assert_eq!(f.coordinates.gtid.as_deref(), Some("0-1-3530"), "{format}");
    }
}

#[tokio::test]
async fn a_dump_cut_short_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    // No `Finished dump at`.
    let dir = tmp.path().join("unfinished");
    std::fs::create_dir(&dir).unwrap();
    mydumper_dir(&dir, "Started dump at: 2026-12-05 13:01:31\n");
    let err = inspect(&tar(&dir, &["."]).await, 4096).unwrap_err();
    assert!(
        matches!(&err, Refusal::Incomplete(m) if m.contains("Finished dump at")),
        "{err:?}"
    );
    // No metadata at all.
    std::fs::remove_file(dir.join("metadata")).unwrap();
    let err = inspect(&tar(&dir, &["."]).await, 4096).unwrap_err();
    assert!(
        matches!(&err, Refusal::Incomplete(m) if m.contains("no mydumper `metadata`")),
        "{err:?}"
    );
    // A table's file ends in the middle of a statement.
    let dir = tmp.path().join("cut");
    std::fs::create_dir(&dir).unwrap();
    mydumper_dir(&dir, FINISHED);
    std::fs::write(
        dir.join("shop.t.00002.sql"),
        "INSERT INTO `t` VALUES\n(3,'c'),\n(4,",
    )
    .unwrap();
    let err = inspect(&tar(&dir, &["."]).await, 4096).unwrap_err();
    assert!(
        matches!(&err, Refusal::Incomplete(m) if m.contains("shop.t.00002.sql")),
        "{err:?}"
    );
    // The archive itself cut after whole blocks: no end marker.
    let dir = tmp.path().join("whole");
    std::fs::create_dir(&dir).unwrap();
    mydumper_dir(&dir, FINISHED);
    let data = tar(&dir, &["."]).await;
    let cut = &data[..data.len() / 2 / BLOCK * BLOCK];
    assert!(matches!(inspect(cut, 4096), Err(Refusal::Incomplete(_))));
    assert!(matches!(inspect(&[], 4096), Err(Refusal::Incomplete(_))));
}

#[tokio::test]
async fn links_and_damaged_headers_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("dump");
    std::fs::create_dir(&dir).unwrap();
    mydumper_dir(&dir, FINISHED);
    // What tar wrote when a removed file's inode was reused: the second name as a hard link.
    std::fs::hard_link(dir.join("shop.t.00001.sql"), dir.join("shop.u.00001.sql")).unwrap();
    let err = inspect(&tar(&dir, &["."]).await, 4096).unwrap_err();
    assert!(
        matches!(&err, Refusal::Corrupt { detail, .. } if detail.contains("link")),
        "{err:?}"
    );
    // One bit flipped in a header.
    let mut data = gnu("shop.t.sql", 3, b'0').to_vec();
    data[10] ^= 1;
    data.extend_from_slice(&[0; 3 * BLOCK]);
    let err = inspect(&data, 100).unwrap_err();
    assert!(
        matches!(&err, Refusal::Corrupt { offset: 0, detail } if detail.contains("checksum")),
        "{err:?}"
    );
}

#[test]
fn mydumper_names_give_databases_and_roles() {
    assert_eq!(role_of("./metadata"), Role::Metadata);
    assert_eq!(role_of("dump/metadata.partial"), Role::Skip);
    assert_eq!(
        role_of("./a-b-schema-create.sql"),
        Role::Sql { db: "a-b".into() }
    );
    assert_eq!(role_of("db.t.00003.sql"), Role::Sql { db: "db".into() });
    assert_eq!(role_of("db.t-schema.sql"), Role::Sql { db: "db".into() });
    assert_eq!(
        role_of("db.v-schema-view.sql"),
        Role::View { key: "db.v".into() }
    );
    assert_eq!(role_of("db-schema-post.sql"), Role::Skip);
    assert_eq!(role_of("db.t.sql.gz"), Role::Uncountable);
    assert_eq!(
        pax_path(b"30 path=./shop.very.long.sql\n20 ctime=1.5\n"),
        Some("./shop.very.long.sql".into())
    );
}
