//! The CLI from a newcomer's first hour, against a manager and agents on a sandbox: node tasks
//! queued (`ferryman task`, destructive ones only with --yes; a backup refused on the tasks
//! route), collected logs listed, downloaded and tailed (`ferryman logs`), a backup deleted
//! (`ferryman backup delete`: the newest verified one only with --force). Included by
//! `reseed.rs` (its sandbox and daemons).

use std::process::Output;
use std::time::Duration;

use ferryman_manager::verification::{self, RunState, Target};
use ferryman_proto::Task;

use super::daemons::Daemons;

/// `ferryman ARGS --config CONFIG`, off the runtime.
pub(super) async fn cli(config: &str, args: &[&str]) -> Output {
    let mut argv: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    argv.extend(["--config".to_owned(), config.to_owned()]);
    let out = tokio::task::spawn_blocking(move || {
        #[allow(clippy::disallowed_methods)] // running the binary under test
        std::process::Command::new(super::BIN)
            .args(&argv)
            .env_remove("FERRYMAN_API_TOKEN")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    eprintln!(
        "$ ferryman {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub(super) fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn tasks_logs_and_deleting_a_backup_from_the_cli() {
    let sb = super::shop_sandbox().await;
    let d = Daemons::start(sb.config(), &["db1", "db2", "db3"]).await;
    let config = sb.config_path().display().to_string();

    // Node tasks: optimize and an error-log collection run; stop wants --yes.
    let out = cli(&config, &["task", "optimize", "--server", "db2", "--wait"]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("succeeded"), "{}", text(&out));
    let out = cli(&config, &["task", "error-log", "--server", "db1", "--wait"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let out = cli(&config, &["task", "stop", "--server", "db2"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("add --yes"), "{}", text(&out));

    // The API refuses a backup on the tasks route, and a destructive task without confirm.
    let token =
        std::fs::read_to_string(d.config.manager.monitoring_datadir.join("api.token")).unwrap();
    let url = format!(
        "http://127.0.0.1:{}/api/v1/clusters/sandbox/servers/db2/tasks",
        d.config.manager.http_port
    );
    let http = reqwest::Client::new();
    for (body, said) in [
        (serde_json::json!({"task": "mariabackup"}), "is a backup"),
        (serde_json::json!({"task": "restart"}), "\"confirm\": true"),
        (serde_json::json!({"task": "nope"}), "no task `nope`"),
    ] {
        let r = http
            .post(&url)
            .bearer_auth(token.trim())
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let answer: serde_json::Value = r.json().await.unwrap();
        let error = answer["error"].as_str().unwrap();
        assert!(error.contains(said), "{error}");
    }

    // The collected error log: listed, downloaded whole, tailed.
    let out = cli(&config, &["logs", "list", "--server", "db1", "--json"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let logs: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(logs.len(), 1, "{logs:?}");
    let name = logs[0]["name"].as_str().unwrap().to_owned();
    let file = sb.path().join("db1-error.log");
    let out = cli(
        &config,
        &[
            "logs",
            "get",
            "--server",
            "db1",
            &name,
            "-o",
            file.to_str().unwrap(),
        ],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let whole = std::fs::read_to_string(&file).unwrap();
    // A log that is not there: refused (exit 4), and no empty file left behind.
    let missing = sb.path().join("missing.log");
    let out = cli(
        &config,
        &[
            "logs",
            "get",
            "--server",
            "db1",
            "error-20200101T000000Z-j9.log.zst",
            "-o",
            missing.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(!missing.exists());
    assert!(whole.contains("ready for connections"), "{whole}");
    let out = cli(&config, &["logs", "tail", "--server", "db1", "-n", "3"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    let last: Vec<&str> = whole.lines().rev().take(3).collect();
    for line in last {
        assert!(shown.contains(line), "{line:?} not in {shown}");
    }
    assert_eq!(shown.lines().count(), 4, "{shown}");
    let out = cli(&config, &["logs", "tail", "--server", "db2"]).await;
    assert!(!out.status.success());
    assert!(
        text(&out).contains("ferryman task error-log --server db2"),
        "{}",
        text(&out)
    );

    // Deleting: the newest verified backup only with --force; an older one without.
    let older = d.backup(Task::Mysqldump).await;
    let newer = d.backup(Task::Mysqldump).await;
    let run = verification::start(&d.services, Target::Backup(newer.clone()), "test")
        .await
        .unwrap();
    loop {
        let r = d.services.verify_runs.get(run.id).unwrap();
        if r.state == RunState::Done {
            assert_eq!(r.ok, Some(true), "{r:#?}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let out = cli(&config, &["backup", "delete", &newer.to_string()]).await;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(
        text(&out).contains("newest verified logical backup"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("--force"), "{}", text(&out));
    let out = cli(&config, &["backup", "delete", &older.to_string()]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("deleted {older} from local")),
        "{}",
        text(&out)
    );
    let out = cli(
        &config,
        &["backup", "delete", &newer.to_string(), "--force"],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let left = d.services.repos.list(Some("sandbox"), None).await.unwrap();
    assert!(
        left.iter().all(|m| m.id != older && m.id != newer),
        "{left:?}"
    );
    assert!(!d
        .config
        .manager
        .monitoring_datadir
        .join("Backups")
        .join(newer.to_string())
        .exists());
    d.stop().await;
}
