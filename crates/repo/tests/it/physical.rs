//! Physical backups: a real mariabackup stream, piped straight from the tool into the ingest,
//! is parsed, catalogued with its coordinates and captured files, and extracts again; the
//! same stream corrupted, cut mid-chunk, or cut cleanly before its last file is refused.

use ferryman_db::mysql_async::prelude::Queryable;
use ferryman_db::Session;
use ferryman_exec::{ClientOptions, OptionFile, Program, Streaming};
use ferryman_repo::{CoordinatesSource, Error, Format, Kind, Tool};
use ferryman_sandbox::testing::TestSandbox;
use tokio_util::sync::CancellationToken;

use crate::*;

/// Some writes, so the backup has a GTID position; returns `@@gtid_binlog_pos`.
async fn write_some(sb: &TestSandbox) -> String {
    let mut conn = sb
        .endpoint(sb.primary())
        .connect(Session::Plain)
        .await
        .unwrap();
    conn.query_drop(
        "CREATE DATABASE shop; CREATE TABLE shop.items (id INT PRIMARY KEY, v VARCHAR(50));
         INSERT INTO shop.items VALUES (1, 'a'), (2, 'b'), (3, 'c');",
    )
    .await
    .unwrap();
    let gtid: String = conn
        .query_first("SELECT @@gtid_binlog_pos")
        .await
        .unwrap()
        .unwrap();
    conn.disconnect().await.unwrap();
    gtid
}

#[tokio::test(flavor = "multi_thread")]
async fn a_real_mariabackup_stream_is_parsed_catalogued_and_extracts() {
    let sb = TestSandbox::start(0).await;
    let gtid = write_some(&sb).await;
    let (tmp, repo) = repo();

    // mariabackup --backup --stream=xbstream, its stdout read by the ingest as it runs.
    let endpoint = sb.endpoint(sb.primary());
    let options = ClientOptions {
        user: Some(&endpoint.user),
        password: endpoint.password.as_ref().map(|p| p.expose_secret()),
        host: Some(&endpoint.host),
        port: Some(endpoint.port),
        socket: None,
        ssl: &[],
    };
    let defaults = sb.layout().server("db1").defaults_file();
    let option_file = OptionFile::create_including(tmp.path(), &defaults, &options).unwrap();
    let target = tmp.path().join("target");
    std::fs::create_dir(&target).unwrap();
    let mariabackup = Program::find("mariabackup", "mariadb-backup").unwrap();
    let mut running = mariabackup
        .command()
        .args([
            option_file.defaults_file_arg(),
            "--backup".into(),
            "--stream=xbstream".into(),
            format!("--target-dir={}", target.display()),
        ])
        .spawn_streaming(&Streaming::default())
        .unwrap();
    let stdout = running.take_stdout().unwrap();
    let m = repo
        .ingest(
            meta(Tool::Mariabackup, 5, "2026-11-21T03:00:00Z"),
            stdout,
            &CancellationToken::new(),
        )
        .await
        .unwrap();
    let done = running.wait().await.unwrap();
    assert!(done.status.success(), "{}", done.stderr);

    assert_eq!(
        (m.kind, m.tool, m.format),
        (Kind::Physical, Tool::Mariabackup, Format::Xbstream)
    );
    assert_eq!(m.payload, "payload.xbstream.zst");
    for file in [
        "xtrabackup_info",
        "xtrabackup_checkpoints",
        "xtrabackup_binlog_info",
        "backup-my.cnf",
    ] {
        assert!(
            m.captured.contains_key(file),
            "{file} not captured: {:?}",
            m.captured.keys()
        );
    }
    assert_eq!(m.gtid.as_deref(), Some(gtid.as_str()));
    let binlog_info = &m.captured["xtrabackup_binlog_info"];
    assert!(
        binlog_info.starts_with(m.binlog_file.as_deref().unwrap()),
        "{binlog_info}"
    );
    assert!(
        binlog_info.contains(&m.binlog_pos.unwrap().to_string()),
        "{binlog_info}"
    );
    assert_eq!(m.coordinates_source, Some(CoordinatesSource::Stream));
    assert!(
        m.tool_version
            .as_deref()
            .unwrap()
            .starts_with("mariabackup "),
        "{:?}",
        m.tool_version
    );
    assert!(
        m.server_version.as_deref().unwrap().contains("MariaDB"),
        "{:?}",
        m.server_version
    );
    assert!(m.raw_bytes > 1_000_000, "{}", m.raw_bytes);
    assert!(repo.verify_checksum(&m.id).await.unwrap().is_ok());

    // The stored payload is the stream: mbstream extracts it.
    let raw = payload(&repo, &m.id).await;
    assert_eq!(sha(&raw), m.raw_sha256);
    let raw_file = tmp.path().join("raw.xbstream");
    std::fs::write(&raw_file, &raw).unwrap();
    let extracted = tmp.path().join("extracted");
    std::fs::create_dir(&extracted).unwrap();
    let mbstream = Program::find("mbstream", "mariadb-backup").unwrap();
    let mut running = mbstream
        .command()
        .args(["-x", "-C", extracted.to_str().unwrap()])
        .spawn_streaming(&Streaming {
            stdin: true,
            ..Streaming::default()
        })
        .unwrap();
    let mut stdin = running.take_stdin().unwrap();
    tokio::io::copy(&mut &raw[..], &mut stdin).await.unwrap();
    drop(stdin);
    let done = running.wait().await.unwrap();
    assert!(done.status.success(), "mbstream -x: {}", done.stderr);
    // (A table created just before the backup may come as `items.new`, renamed by --prepare.)
    assert!(
        extracted.join("shop/items.frm").exists(),
        "{:?}",
        files(&extracted)
    );
    assert_eq!(
        std::fs::read_to_string(extracted.join("xtrabackup_info")).unwrap(),
        m.captured["xtrabackup_info"]
    );

    // One flipped payload byte: the chunk's CRC catches it.
    let mut flipped = raw.clone();
    flipped[raw.len() / 2] ^= 0x40;
    let err = ingest(
        &repo,
        meta(Tool::Mariabackup, 6, "2026-11-21T03:00:00Z"),
        &flipped,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    assert!(
        err.to_string().contains("shop/db1/20261121T030000Z-j6"),
        "{err}"
    );

    // Cut inside a chunk.
    let err = ingest(
        &repo,
        meta(Tool::Mariabackup, 7, "2026-11-21T03:00:00Z"),
        &raw[..raw.len() * 3 / 5],
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Incomplete { .. }), "{err}");

    // Cut cleanly before the last file (xtrabackup_info): the xbstream parses, but the
    // backup is not whole.
    let mut header = b"XBSTCK01\x00P".to_vec();
    header.extend_from_slice(&15u32.to_le_bytes());
    header.extend_from_slice(b"xtrabackup_info");
    let at = raw
        .windows(header.len())
        .rposition(|w| w == header)
        .unwrap();
    let err = ingest(
        &repo,
        meta(Tool::Mariabackup, 8, "2026-11-21T03:00:00Z"),
        &raw[..at],
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Incomplete { .. }), "{err}");
    assert!(err.to_string().contains("xtrabackup_info"), "{err}");

    // Only the good backup is left.
    let listed = repo.list(None, None).await.unwrap();
    assert_eq!(
        listed.iter().map(|m| m.id.to_string()).collect::<Vec<_>>(),
        ["shop/db1/20261121T030000Z-j5"]
    );
    assert_eq!(files(&root(&repo).join("Backups")).len(), 2);
}
