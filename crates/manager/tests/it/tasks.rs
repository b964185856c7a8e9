//! The API a DBA drives in the first hour, on a sandbox with its agents: node tasks queued on
//! one server (`POST .../servers/{server}/tasks`: run to success; destructive ones only with
//! `confirm`; backups, reseeds and unknown names refused with the route or name to use), a
//! collected error log listed and streamed back (`GET .../logs/{server}/{name}`) with a line the
//! server wrote, and a backup deleted (`DELETE /api/v1/backups/...`: the newest verified one
//! only with `force`, one being read never, the files gone).

use std::time::{Duration, Instant};

use ferryman_db::Session;
use ferryman_manager::verification::{self, RunState, Target};
use ferryman_manager::JobState;
use ferryman_proto::Task;
use ferryman_repo::BackupId;
use ferryman_sandbox::testing::TestSandbox;
use serde_json::{json, Value};

use crate::common::*;

const TOKEN: &str = "tasks-test-token";

/// The API on `base`, with the token.
struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    async fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        let r = request.bearer_auth(TOKEN).send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn task(&self, server: &str, body: Value) -> (u16, Value) {
        let url = format!(
            "{}/api/v1/clusters/sandbox/servers/{server}/tasks",
            self.base
        );
        self.send(self.http.post(url).json(&body)).await
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.send(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    async fn delete(&self, id: &BackupId, force: bool) -> (u16, Value) {
        let url = format!("{}/api/v1/backups/{id}", self.base);
        let mut request = self.http.delete(url);
        if force {
            request = request.query(&[("force", "true")]);
        }
        self.send(request).await
    }
}

/// The error message of an error answer.
fn error(body: &Value) -> &str {
    body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error: {body}"))
}

/// A failed login as a user named `user`: the server notes it in its error log.
async fn failed_login(sb: &TestSandbox, server: &str, user: &str) {
    sb.sql(server, "SET GLOBAL log_warnings = 4").await;
    let mut ep = sb.endpoint(sb.server(server).unwrap());
    ep.socket = None;
    ep.user = user.to_owned();
    ep.password = Some(ferryman_config::Secret::new("not-the-password".to_owned()));
    assert!(ep.connect(Session::Plain).await.is_err());
    sb.sql(server, "SET GLOBAL log_warnings = 2").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn node_tasks_collected_logs_and_deleting_a_backup_through_the_api() {
    let started = Instant::now();
    let sb = TestSandbox::start(1).await;
    let config = config_with(&sb, "", "");
    let running = start(&config, &["db1", "db2"]).await;
    let services = running.services.clone();
    let (address, stop_api) = serve_api(&services, TOKEN).await;
    let api = Api {
        http: reqwest::Client::new(),
        base: format!("http://{address}"),
    };
    let limit = Duration::from_secs(120);

    // An optimize and an error-log collection, queued and run to their end by the agents.
    let probe = "ferryman_probe_user";
    failed_login(&sb, "db1", probe).await;
    for (server, task, expected) in [
        ("db2", "optimize", Task::Optimize),
        ("db1", "error-log", Task::Error),
    ] {
        let (status, body) = api.task(server, json!({ "task": task })).await;
        assert_eq!(status, 202, "{task}: {body}");
        let id = body["job_id"].as_u64().unwrap();
        let job = wait_job(&services, id, limit).await;
        assert_eq!(job.state, JobState::Succeeded, "{job:?}");
        assert_eq!((job.task, job.server.as_str()), (expected, server));
        assert_eq!(job.trigger, "api");
    }

    // Refused before anything is queued, each saying what to send instead.
    let jobs_before = services.registry.list().len();
    for (server, body, status, said) in [
        ("db2", json!({"task": "stop"}), 400, "\"confirm\": true"),
        (
            "db2",
            json!({"task": "restart", "confirm": false}),
            400,
            "\"confirm\": true",
        ),
        (
            "db2",
            json!({"task": "zfssnapback"}),
            400,
            "\"confirm\": true",
        ),
        (
            "db2",
            json!({"task": "mariabackup", "confirm": true}),
            400,
            "is a backup: POST /api/v1/clusters/{cluster}/backups",
        ),
        (
            "db2",
            json!({"task": "reseedmysqldump"}),
            400,
            "POST /api/v1/clusters/{cluster}/reseed",
        ),
        (
            "db2",
            json!({"task": "error"}),
            400,
            "\"task\": \"error-log\"",
        ),
        (
            "db2",
            json!({"task": "nope"}),
            400,
            "no task `nope`: tasks here: optimize, error-log",
        ),
        ("db2", json!({"kind": "optimize"}), 400, "send JSON like"),
        ("db9", json!({"task": "optimize"}), 404, "db9"),
    ] {
        let (got, answer) = api.task(server, body.clone()).await;
        assert_eq!(got, status, "{body}: {answer}");
        assert!(error(&answer).contains(said), "{body}: {answer}");
    }
    assert_eq!(services.registry.list().len(), jobs_before);
    // The document names the tasks the route takes.
    let doc = serde_json::to_value(ferryman_manager::api::openapi_document()).unwrap();
    let names = doc["components"]["schemas"]["NodeTask"].to_string();
    for name in ["optimize", "error-log", "slow-query-log", "zfssnapback"] {
        assert!(names.contains(&format!("\"{name}\"")), "{names}");
    }

    // The collected error log: listed, and streamed back decompressed with the server's lines.
    let (status, logs) = api.get("/api/v1/clusters/sandbox/logs").await;
    assert_eq!(status, 200, "{logs}");
    let entry = logs
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["server"] == "db1" && l["kind"] == "error")
        .unwrap_or_else(|| panic!("no error log of db1: {logs}"));
    let name = entry["name"].as_str().unwrap();
    let r = api
        .http
        .get(format!(
            "{}/api/v1/clusters/sandbox/logs/db1/{name}",
            api.base
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/plain; charset=utf-8");
    let text = r.text().await.unwrap();
    assert!(text.contains("ready for connections"), "{text}");
    assert!(text.contains(probe), "the failed login is not in:\n{text}");
    for (path, said) in [
        (
            "db1/error-20200101T000000Z-j9.log.zst",
            "no collected log `error-20200101T000000Z-j9.log.zst` of `db1`",
        ),
        (
            "db1/manifest.json",
            "`ferryman logs list --cluster sandbox --server db1`",
        ),
        ("db9/error-20200101T000000Z-j9.log.zst", "db9"),
    ] {
        let (status, body) = api
            .get(&format!("/api/v1/clusters/sandbox/logs/{path}"))
            .await;
        assert_eq!(status, 404, "{path}: {body}");
        assert!(error(&body).contains(said), "{path}: {body}");
    }

    // Deleting: two dumps of db2, the newer verified.
    let mut ids = Vec::new();
    for _ in 0..2 {
        let job = run_job(&services, "db2", Task::Mysqldump, limit).await;
        assert_eq!(job.state, JobState::Succeeded, "{job:?}");
        ids.push(job.backup_id.unwrap().parse::<BackupId>().unwrap());
    }
    let (older, newer) = (ids[0].clone(), ids[1].clone());
    let run = verification::start(&services, Target::Backup(newer.clone()), "test")
        .await
        .unwrap();
    let verified = loop {
        let r = services.verify_runs.get(run.id).unwrap();
        if r.state == RunState::Done {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(verified.ok, Some(true), "{verified:#?}");
    let dir = |id: &BackupId| {
        services
            .config
            .manager
            .monitoring_datadir
            .join("Backups")
            .join(id.to_string())
    };

    // The newest verified one is what a restore would take: only with force.
    let (status, body) = api.delete(&newer, false).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        error(&body).contains("newest verified logical backup of `db2`"),
        "{body}"
    );
    assert!(error(&body).contains("--force"), "{body}");
    assert!(dir(&newer).join("manifest.json").exists());
    // An older one goes without, from the one repository that holds it.
    let (status, body) = api.delete(&older, false).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({ "id": older.to_string(), "repositories": ["local"] })
    );
    assert!(!dir(&older).exists());
    // One a job reads (as a reseed's job names its backup) is never deleted, not even forced.
    let reader = services
        .registry
        .create("sandbox", "db2", Task::Reseedmysqldump, "test");
    reader.update(|r| r.backup_id = Some(newer.to_string()));
    let (status, body) = api.delete(&newer, true).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        error(&body).contains(&format!("is read by job {}", reader.id())),
        "{body}"
    );
    reader.finish(JobState::Cancelled, Some("test: done reading".to_owned()));
    let (status, body) = api.delete(&newer, true).await;
    assert_eq!(status, 200, "{body}");
    assert!(!dir(&newer).exists());
    let left = services.repos.list(Some("sandbox"), None).await.unwrap();
    assert!(left.is_empty(), "{left:?}");
    let (status, body) = api.delete(&newer, true).await;
    assert_eq!(status, 404, "{body}");

    stop_api.cancel();
    running.stop().await;
    eprintln!("tasks test took {:?}", started.elapsed());
}
