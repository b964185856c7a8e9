//! Logical backups: a dump round-trips with both checksums and its coordinates; a dump without
//! its footer, a cut tar, or a second ingest of the same backup is refused.

use std::collections::BTreeMap;

use ferryman_exec::Program;
use ferryman_repo::{
    Coordinates, CoordinatesSource, Error, Format, Kind, Manifest, Repository, Tool,
};

use crate::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_dump_round_trips_with_both_checksums_and_its_coordinates() {
    let (_tmp, repo) = repo();
    let data = dump(60_000, true);
    let mut meta = meta(Tool::Mysqldump, 42, "2026-11-21T02:58:00Z");
    meta.extra.insert("result".into(), "mysqldump: ok".into());
    let m = ingest(&repo, meta, &data).await.unwrap();

    assert_eq!(m.id.to_string(), "shop/db1/20261121T025800Z-j42");
    assert_eq!(
        (m.kind, m.tool, m.format),
        (Kind::Logical, Tool::Mysqldump, Format::Sql)
    );
    assert_eq!(
        (m.cluster.as_str(), m.server.as_str(), m.host.as_str()),
        ("shop", "db1", "10.0.0.5")
    );
    assert_eq!(m.format_version, 1);
    assert_eq!(m.raw_bytes, data.len() as u64);
    assert_eq!(m.raw_sha256, sha(&data));
    assert_eq!(m.gtid.as_deref(), Some("0-1-50"));
    assert_eq!(m.binlog_file.as_deref(), Some("binlog.000001"));
    assert_eq!(m.binlog_pos, Some(123));
    assert_eq!(m.coordinates_source, Some(CoordinatesSource::Stream));
    assert!(m
        .tool_version
        .as_deref()
        .unwrap()
        .starts_with("MariaDB dump 10.19"));
    assert_eq!(
        m.server_version.as_deref(),
        Some("10.11.19-MariaDB-0+deb12u1-log")
    );
    assert_eq!(m.compression.algorithm, "zstd");
    assert_eq!(m.compression.level, 3);
    assert_eq!(m.extra["result"], "mysqldump: ok");
    assert!(m.ended_at >= m.started_at);
    assert!(m.verification.is_empty() && m.captured.is_empty());
    // The dump has no `USE`: the table is keyed by its name alone.
    assert_eq!(m.table_rows, BTreeMap::from([("items".to_owned(), 60_000)]));
    assert!(m.databases.is_empty());

    // On disk: exactly the payload and the manifest, nothing partial or temporary.
    let dir = root(&repo).join("Backups/shop/db1/20261121T025800Z-j42");
    assert_eq!(files(&dir), ["manifest.json", "payload.sql.zst"]);
    let stored = std::fs::read(dir.join("payload.sql.zst")).unwrap();
    assert_eq!(m.stored_bytes, stored.len() as u64);
    assert_eq!(m.stored_sha256, sha(&stored));
    assert!(
        m.stored_bytes * 2 < m.raw_bytes,
        "{} -> {}",
        m.raw_bytes,
        m.stored_bytes
    );
    // Plain zstd can read it (frame with checksum).
    assert_eq!(zstd::decode_all(&stored[..]).unwrap(), data);
    let on_disk: Manifest =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(on_disk, m);
    let text = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    assert!(
        text.contains("\"started_at\": \"2026-11-21T02:58:00Z\""),
        "{text}"
    );
    assert!(text.contains("\"kind\": \"logical\""), "{text}");

    // Through the catalogue, and from a repository opened afresh.
    let again = Repository::open(root(&repo)).unwrap();
    assert_eq!(again.get(&m.id).await.unwrap(), m);
    assert_eq!(again.list(None, None).await.unwrap(), vec![m.clone()]);
    assert_eq!(payload(&again, &m.id).await, data);
    let report = again.verify_checksum(&m.id).await.unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert!(
        report.summary().contains("checksums match"),
        "{}",
        report.summary()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dump_without_its_footer_is_refused_and_leaves_nothing() {
    let (_tmp, repo) = repo();
    let err = ingest(
        &repo,
        meta(Tool::Mysqldump, 7, "2026-11-21T02:58:00Z"),
        &dump(20_000, false),
    )
    .await
    .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Incomplete { .. }), "{msg}");
    assert!(msg.contains("backup shop/db1/20261121T025800Z-j7"), "{msg}");
    assert!(msg.contains("-- Dump completed"), "{msg}");
    assert!(msg.contains("nothing was kept"), "{msg}");
    assert!(msg.contains("run the backup again"), "{msg}");
    assert_eq!(files(&root(&repo)), Vec::<String>::new());
    assert!(repo.list(None, None).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_agents_coordinates_fill_in_when_the_dump_has_none() {
    let (_tmp, repo) = repo();
    let data = b"-- MySQL dump 10.13\nCREATE TABLE t (a int);\n-- Dump completed\n".to_vec();
    let mut meta = meta(Tool::Mysqldump, 8, "2026-11-21T02:58:00Z");
    meta.coordinates = Coordinates {
        gtid: Some("0-1-9".into()),
        binlog_file: Some("mysql-bin.000004".into()),
        binlog_pos: Some(4),
    };
    meta.tool_version = Some("mysqldump from the agent".into());
    let m = ingest(&repo, meta, &data).await.unwrap();
    assert_eq!(
        m.coordinates(),
        Coordinates {
            gtid: Some("0-1-9".into()),
            binlog_file: Some("mysql-bin.000004".into()),
            binlog_pos: Some(4),
        }
    );
    assert_eq!(m.coordinates_source, Some(CoordinatesSource::Agent));
    // The stream's own word on the version wins.
    assert_eq!(m.tool_version.as_deref(), Some("MySQL dump 10.13"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dumps_databases_and_rows_per_table_are_in_its_manifest() {
    let (_tmp, repo) = repo();
    let data = b"-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)\n\
        CREATE DATABASE /*!32312 IF NOT EXISTS*/ `app` /*!40100 DEFAULT CHARACTER SET utf8mb4 */;\n\
        USE `app`;\nCREATE TABLE `t` (\n  `id` int(11) NOT NULL\n);\n\
        INSERT INTO `t` VALUES (1),(2),(3);\nCREATE TABLE `empty` (`id` int);\n\
        -- Dump completed on 2026-11-21  2:58:00\n";
    let m = ingest(
        &repo,
        meta(Tool::Mysqldump, 13, "2026-11-21T02:58:00Z"),
        data,
    )
    .await
    .unwrap();
    assert_eq!(m.databases, ["app"]);
    assert_eq!(
        m.table_rows,
        BTreeMap::from([("app.empty".to_owned(), 0), ("app.t".to_owned(), 3)])
    );
    let dir = root(&repo).join("Backups/shop/db1/20261121T025800Z-j13");
    let text = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["databases"], serde_json::json!(["app"]));
    assert_eq!(
        json["table_rows"],
        serde_json::json!({"app.empty": 0, "app.t": 3})
    );

    // A manifest written before these fields existed still loads, with both empty.
    let mut old = json.clone();
    let fields = old.as_object_mut().unwrap();
    fields.remove("databases");
    fields.remove("table_rows");
    let old = Manifest::from_json(&serde_json::to_vec(&old).unwrap(), &m.id).unwrap();
    assert!(old.databases.is_empty() && old.table_rows.is_empty());
    // And a manifest without them does not write them.
    let text = String::from_utf8(old.to_json()).unwrap();
    assert!(
        !text.contains("databases") && !text.contains("table_rows"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backup_is_stored_once() {
    let (_tmp, repo) = repo();
    let data = dump(10, true);
    ingest(
        &repo,
        meta(Tool::Mysqldump, 9, "2026-11-21T02:58:00Z"),
        &data,
    )
    .await
    .unwrap();
    let err = ingest(
        &repo,
        meta(Tool::Mysqldump, 9, "2026-11-21T02:58:00Z"),
        &data,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::AlreadyExists { .. }), "{err}");
    assert!(err.to_string().contains("enqueue a new job"), "{err}");
    assert_eq!(repo.list(None, None).await.unwrap().len(), 1);
    // A bad name never reaches the disk.
    let mut bad = meta(Tool::Mysqldump, 10, "2026-11-21T02:58:00Z");
    bad.server = "../etc".into();
    assert!(matches!(
        ingest(&repo, bad, &data).await,
        Err(Error::InvalidName { .. })
    ));
    let mut bad = meta(Tool::Mysqldump, 10, "2026-11-21T02:58:00Z");
    bad.compression.level = 40;
    assert!(matches!(
        ingest(&repo, bad, &data).await,
        Err(Error::InvalidRequest { .. })
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mydumper_tar_must_end_with_its_end_marker() {
    let (tmp, repo) = repo();
    let src = tmp.path().join("dump");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(
        src.join("metadata"),
        "Started dump at: 2026-11-21 02:45:31\nFinished dump at: 2026-11-21 02:45:32\n",
    )
    .unwrap();
    std::fs::write(src.join("shop.items.00000.sql"), dump(2000, true)).unwrap();
    let tar_file = tmp.path().join("dump.tar");
    let tar = Program::find("tar", "tar").unwrap();
    tar.command()
        .args([
            "-C",
            src.to_str().unwrap(),
            "-cf",
            tar_file.to_str().unwrap(),
            ".",
        ])
        .run()
        .await
        .unwrap();
    let data = std::fs::read(&tar_file).unwrap();

    let m = ingest(
        &repo,
        meta(Tool::Mydumper, 11, "2026-11-21T02:58:00Z"),
        &data,
    )
    .await
    .unwrap();
    assert_eq!(
        (m.kind, m.format, m.payload.as_str()),
        (Kind::Logical, Format::Tar, "payload.tar.zst")
    );
    assert_eq!(payload(&repo, &m.id).await, data);
    // Its SQL files are counted under the database their names give.
    assert_eq!(m.table_rows.get("shop.items"), Some(&2000), "{m:?}");

    // Cut after the first member: whole blocks, no end marker.
    let cut = &data[..data.len() / 2 / 512 * 512];
    let err = ingest(&repo, meta(Tool::Mydumper, 12, "2026-11-21T02:58:00Z"), cut)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Incomplete { .. }), "{err}");
    assert_eq!(repo.list(None, None).await.unwrap().len(), 1);
}
