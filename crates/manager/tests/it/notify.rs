//! Notifications end to end: a real SMTP server (Debian's aiosmtpd) and webhook receivers on
//! loopback, real failed backups and a real failed verification.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use ferryman_manager::notify::signature;
use ferryman_manager::JobState;
use ferryman_proto::Task;
use ferryman_sandbox::testing::{TestSandbox, TestSmtp};

use crate::common::*;

/// A webhook receiver: answers `500` to its first `failures` requests, then `200`.
#[derive(Clone, Default)]
pub struct Hook {
    got: Arc<Mutex<Vec<(HeaderMap, String, StatusCode)>>>,
}

impl Hook {
    pub async fn start(failures: usize) -> (Hook, u16) {
        let hook = Hook::default();
        let h = hook.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let h = h.clone();
                async move {
                    let mut got = h.got.lock().unwrap();
                    let status = if got.len() < failures {
                        StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        StatusCode::OK
                    };
                    got.push((headers, body, status));
                    status
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (hook, port)
    }

    /// The bodies delivered (answered 200).
    pub fn delivered(&self) -> Vec<(HeaderMap, serde_json::Value)> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, _, s)| *s == StatusCode::OK)
            .map(|(h, b, _)| (h.clone(), serde_json::from_str(b).unwrap()))
            .collect()
    }
}

pub async fn until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let started = Instant::now();
    while !f() {
        assert!(started.elapsed() < limit, "{what} not seen after {limit:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_are_mailed_once_their_resolution_follows_and_webhooks_are_signed_and_retried() {
    let sb = TestSandbox::start(1).await;
    sb.sql(
        "db1",
        "CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY); CREATE TABLE app.empty (id INT);
         INSERT INTO app.t SELECT seq FROM mysql.seq_1_to_100;",
    )
    .await;
    let smtp = TestSmtp::start().await;
    let (hook, hook_port) = Hook::start(2).await;
    let (dead, dead_port) = Hook::start(usize::MAX).await;
    let secret = sb.path().join("hook.secret");
    std::fs::write(&secret, "s3cret-key\n").unwrap();
    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let config = config_with(
        &sb,
        "verify-nonempty-tables = [\"app.empty\"]\n",
        "job-claim-timeout = \"5s\"\n",
    );
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        r#"
[notifications.email.dba]
smtp-host = "127.0.0.1"
smtp-port = {}
tls = "none"
from = "ferryman@localhost"
to = ["dba@localhost"]

[notifications.webhook.hook]
url = "http://127.0.0.1:{hook_port}/hook"
secret-file = "{}"
retries = 3

[notifications.webhook.down]
url = "http://127.0.0.1:{dead_port}/hook"
retries = 1

[[notifications.route]]
channel = "dba"
kinds = ["backup-failed", "verification-failed"]

[[notifications.route]]
channel = "hook"

[[notifications.route]]
channel = "down"
kinds = ["backup-failed"]
"#,
        smtp.port(),
        secret.display()
    ));
    std::fs::write(&config, text).unwrap();

    // db2 has no agent: its backups are never claimed and fail.
    let mut running = start(&config, &["db1"]).await;
    let services = running.services.clone();
    for _ in 0..2 {
        let job = run_job(&services, "db2", Task::Mysqldump, Duration::from_secs(60)).await;
        assert_eq!(job.state, JobState::Failed, "{job:?}");
    }
    until(
        "the mail of the failed backup",
        Duration::from_secs(30),
        || !smtp.mails().is_empty(),
    )
    .await;

    // Its agent back, the backup succeeds: the problem is resolved.
    running.add_agent(&config, "db2");
    let job = run_job(&services, "db2", Task::Mysqldump, Duration::from_secs(120)).await;
    assert_eq!(job.state, JobState::Succeeded, "{job:?}");
    // Its verification fails: app.empty is empty.
    let backup = job.backup_id.clone().unwrap();
    ferryman_manager::verification::start(
        &services,
        ferryman_manager::verification::Target::Backup(backup.parse().unwrap()),
        "api",
    )
    .await
    .unwrap();
    until("three mails", Duration::from_secs(300), || {
        smtp.mails().len() >= 3
    })
    .await;
    until("three webhook deliveries", Duration::from_secs(60), || {
        hook.delivered().len() >= 3
    })
    .await;
    // Nothing more comes: one mail per problem.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let subjects: Vec<String> = smtp.mails().into_iter().map(|m| m.subject).collect();
    assert_eq!(subjects.len(), 3, "{subjects:#?}");
    assert!(
        subjects[0].starts_with("[ferryman] ERROR backup-failed sandbox db2 (logical)"),
        "{subjects:#?}"
    );
    assert!(
        subjects[1].starts_with("[ferryman] RESOLVED backup-succeeded sandbox db2 (logical)"),
        "{subjects:#?}"
    );
    assert!(
        subjects[2].starts_with("[ferryman] ERROR verification-failed sandbox"),
        "{subjects:#?}"
    );

    // The webhook: the first delivery came after two 500s, every body is signed.
    let delivered = hook.delivered();
    let states: Vec<(String, String)> = delivered
        .iter()
        .map(|(_, b)| {
            (
                b["event"]["kind"].as_str().unwrap().to_owned(),
                b["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("backup-failed".to_owned(), "opened".to_owned()),
            ("backup-succeeded".to_owned(), "resolved".to_owned()),
            ("verification-failed".to_owned(), "opened".to_owned()),
        ],
        "{delivered:#?}"
    );
    assert_eq!(
        hook.got.lock().unwrap()[0].2,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    let raw = hook.got.lock().unwrap().clone();
    for (headers, body, _) in &raw {
        let at: i64 = headers["x-ferryman-timestamp"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            headers["x-ferryman-signature"].to_str().unwrap(),
            signature(b"s3cret-key", at, body),
            "{body}"
        );
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["schema"], "ferryman.notification/1");
    }

    // The receiver that always fails: the failure and its resolution are dead letters after
    // 2 tries each.
    until("two dead letters", Duration::from_secs(30), || {
        services.state.flush();
        services.state.dead_letters(10).len() >= 2
    })
    .await;
    let letters = services.state.dead_letters(10);
    assert_eq!(letters.len(), 2, "{letters:#?}");
    for (letter, kind) in letters.iter().zip(["backup-succeeded", "backup-failed"]) {
        assert_eq!(letter.channel, "down");
        assert_eq!(letter.tries, 2);
        assert!(letter.error.contains("500"), "{letter:?}");
        let body: serde_json::Value = serde_json::from_str(&letter.body).unwrap();
        assert_eq!(body["event"]["kind"], kind, "{letter:?}");
    }
    assert_eq!(dead.got.lock().unwrap().len(), 4);
    running.stop().await;
}
