//! The node agents' HTTP API through the manager's CLI (`ferryman node ...`), on a primary and
//! two replicas whose agents serve it: status, detection (a wrong `defaults-file` reported),
//! disk, the error log's tail and a follow across a rotation, the replicas of the primary (one
//! the configuration lacks reported, exit 1), a restart, and a second one refused meanwhile. Included by `reseed.rs` (its sandbox and daemons).

use std::io::{BufRead, BufReader, Write};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use super::daemons::Daemons;

mod snapshots;

// The CLI run as the tasks test runs it.
use super::tasks::{cli, text};

fn json(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", text(out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A port nothing listens on now.
fn free_port() -> u16 {
    ferryman_sandbox::free_port().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_node_api_through_the_cli() {
    let sb = super::shop_sandbox().await;
    let config_path = sb.config_path().display().to_string();
    let mut config = sb.config();
    // The manager's generated token is the agents' too (the file is 0600 already).
    let token_file = config.manager.monitoring_datadir.join("api.token");
    config.agent.api_token_file = Some(token_file);
    config.agent.api_bind_address = "127.0.0.1".to_owned();
    let cluster = &mut config.clusters[0];
    for server in &mut cluster.servers {
        server.agent_api_port = Some(free_port());
    }
    // db3 is left out of the manager's configuration: a replica it does not know.
    cluster.servers.retain(|s| s.name != "db3");
    let db2 = &mut cluster.servers[1];
    db2.defaults_file = Some("/etc/ferryman-test-not-this.cnf".into());
    let mut slow = vec![
        "sh".to_owned(),
        "-c".to_owned(),
        "sleep 2; exec \"$0\" \"$@\"".to_owned(),
    ];
    slow.append(&mut db2.service_restart);
    db2.service_restart = slow;
    let d = Daemons::start(config, &["db1", "db2"]).await;
    let db2 = sb.server("db2").unwrap().clone();

    // Status: up, its version and process.
    let status = json(
        &cli(
            &config_path,
            &["node", "status", "--server", "db2", "--json"],
        )
        .await,
    );
    assert_eq!(status["answering"], true, "{status}");
    assert!(
        status["version"].as_str().unwrap().contains("MariaDB"),
        "{status}"
    );
    assert_eq!(
        status["pid"].as_u64(),
        sb.pid(&db2).map(u64::from),
        "{status}"
    );
    assert_eq!(status["process_alive"], true, "{status}");
    let out = cli(&config_path, &["node", "status", "--server", "db1"]).await;
    assert!(
        out.status.success() && text(&out).contains("db1: up"),
        "{}",
        text(&out)
    );

    // Detection: the running server's port and datadir, its option file from its command
    // line, and the configured defaults-file that is not the one in use (exit 1).
    let out = cli(
        &config_path,
        &["node", "detect", "--server", "db2", "--json"],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let found: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(found["running"]["port"].as_u64(), Some(u64::from(db2.port)));
    let files = found["option_files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{found}");
    assert!(found["option_files_from"]
        .as_str()
        .unwrap()
        .contains("command line"));
    assert_eq!(
        found["configured_in_files"]["port"].as_u64(),
        Some(u64::from(db2.port)),
        "my_print_defaults read the file: {found}"
    );
    let mismatches = found["mismatches"].as_array().unwrap();
    assert_eq!(mismatches.len(), 1, "{found}");
    assert_eq!(mismatches[0]["setting"], "defaults-file");
    let out = cli(&config_path, &["node", "detect", "--server", "db1"]).await;
    assert!(out.status.success(), "db1 matches: {}", text(&out));
    assert!(
        text(&out).contains("the configuration matches"),
        "{}",
        text(&out)
    );

    // Disk: the datadir's and the staging directory's file systems.
    let disk = json(&cli(&config_path, &["node", "disk", "--server", "db2", "--json"]).await);
    let roles: Vec<&str> = disk["file_systems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["datadir", "staging"], "{disk}");
    assert!(
        disk["datadir_bytes"].as_u64().unwrap() > 1_000_000,
        "{disk}"
    );

    // The error log's last lines, as in the file.
    let log = std::path::PathBuf::from(found["running"]["log_error"].as_str().unwrap());
    let out = cli(
        &config_path,
        &["node", "error-log", "--server", "db2", "-n", "4"],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let whole = std::fs::read_to_string(&log).unwrap();
    let last: Vec<&str> = whole
        .lines()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .collect::<Vec<_>>(),
        last
    );

    // Followed: a line appended, then the file rotated and a line in the new one.
    let mut follower = {
        #[allow(clippy::disallowed_methods)] // running the binary under test
        std::process::Command::new(super::BIN)
            .args([
                "node",
                "error-log",
                "--server",
                "db2",
                "-n",
                "1",
                "--follow",
            ])
            .args(["--config", &config_path])
            .env_remove("FERRYMAN_API_TOKEN")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let stdout = follower.stdout.take().unwrap();
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if lines_tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let wait_for = |marker: &str| {
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match lines_rx.recv_timeout(left) {
                Ok(line) if line.contains(marker) => return,
                Ok(_) => {}
                Err(e) => panic!("{marker} not followed: {e}"),
            }
        }
    };
    std::thread::sleep(Duration::from_secs(1));
    let append = |path: &std::path::Path, line: &str| {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .unwrap();
        writeln!(f, "{line}").unwrap();
    };
    append(&log, "ferryman-test marker one");
    wait_for("marker one");
    std::fs::rename(&log, log.with_extension("old")).unwrap();
    append(&log, "ferryman-test marker two");
    wait_for("marker two");
    let _ = follower.kill();
    let _ = follower.wait();

    // The primary's replicas: db2 named, db3 not configured (exit 1).
    let out = cli(
        &config_path,
        &["node", "replicas", "--server", "db1", "--json"],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let replicas: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let named: Vec<Option<&str>> = replicas["replicas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["configured_as"].as_str())
        .collect();
    assert!(
        named.contains(&Some("db2")) && named.contains(&None),
        "{replicas}"
    );
    let db3_port = sb.server("db3").unwrap().port;
    let missing = replicas["not_configured"][0].as_str().unwrap();
    assert!(
        missing.contains(&format!("127.0.0.1:{db3_port}")),
        "{missing}"
    );

    // A restart: refused without --yes; done with it (the sandbox's command, slowed by two
    // seconds), and a second one meanwhile refused: one action at a time on a server.
    let out = cli(&config_path, &["node", "restart", "--server", "db2"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let first_pid = sb.pid(&db2).unwrap();
    let restart = {
        let config_path = config_path.clone();
        tokio::spawn(async move {
            cli(
                &config_path,
                &["node", "restart", "--server", "db2", "--yes"],
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(800)).await;
    let out = cli(
        &config_path,
        &["node", "restart", "--server", "db2", "--yes"],
    )
    .await;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(
        text(&out).contains("is busy with the API's restart"),
        "{}",
        text(&out)
    );
    let out = restart.await.unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("server accepting connections"),
        "{}",
        text(&out)
    );
    assert_ne!(sb.pid(&db2), Some(first_pid), "a new process");
    drop(d);
}
