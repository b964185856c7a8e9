//! Upgrading the manager: a `monitoring-datadir` as the first releases left it (manifests in
//! format 1 with only the fields those releases wrote, a job counter but no history, a jobs
//! table with an older manager's rows) under today's manager: the backups are listed, verify
//! and restore, ids continue, nothing is called lost; and a history deleted afterwards is.

use std::path::Path;
use std::time::{Duration, Instant};

use ferryman_manager::events::EventKind;
use ferryman_manager::verification::{self, RunState, Target};
use ferryman_manager::JobState;
use ferryman_proto::Task;
use ferryman_sandbox::testing::TestSandbox;

use crate::common::*;

/// The fields of a manifest as the first release (format 1) wrote them.
const FIRST_RELEASE_FIELDS: [&str; 26] = [
    "format_version",
    "id",
    "cluster",
    "server",
    "host",
    "kind",
    "tool",
    "tool_version",
    "server_version",
    "format",
    "payload",
    "job_id",
    "started_at",
    "ended_at",
    "raw_bytes",
    "stored_bytes",
    "raw_sha256",
    "stored_sha256",
    "compression",
    "gtid",
    "binlog_file",
    "binlog_pos",
    "coordinates_source",
    "captured",
    "verification",
    "extra",
];

/// Every `manifest.json` under `dir`.
fn manifests(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(manifests(&path));
        } else if path.file_name().is_some_and(|n| n == "manifest.json") {
            out.push(path);
        }
    }
    out
}

async fn verify(services: &std::sync::Arc<ferryman_manager::Services>, id: &str) -> bool {
    let run = verification::start(services, Target::Backup(id.parse().unwrap()), "api")
        .await
        .unwrap();
    let started = Instant::now();
    loop {
        let r = services.verify_runs.get(run.id).unwrap();
        if r.state == RunState::Done {
            return r.ok == Some(true);
        }
        assert!(started.elapsed() < Duration::from_secs(300), "{r:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_datadir_of_the_first_releases_runs_under_todays_manager() {
    let sb = TestSandbox::start(1).await;
    sb.sql(
        "db1",
        "CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY); INSERT INTO app.t SELECT seq FROM mysql.seq_1_to_500;",
    )
    .await;
    let config = config_with(&sb, "", "job-claim-timeout = \"5s\"\n");
    let datadir = ferryman_config::Config::load(&config)
        .unwrap()
        .manager
        .monitoring_datadir;

    // Backups taken, then the datadir turned into what the first releases left.
    let running = start(&config, &["db2"]).await;
    let services = running.services.clone();
    let mut ids = Vec::new();
    for task in [Task::Mysqldump, Task::Mariabackup] {
        let job = run_job(&services, "db2", task, Duration::from_secs(180)).await;
        assert_eq!(job.state, JobState::Succeeded, "{job:?}");
        ids.push(job.backup_id.clone().unwrap());
    }
    let last_job = services.registry.list().iter().map(|j| j.id).max().unwrap();
    running.stop().await;
    drop(services);
    let rewritten = manifests(&datadir.join("Backups"));
    assert_eq!(rewritten.len(), 2, "{rewritten:?}");
    for path in rewritten {
        let mut m: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        m.retain(|k, _| FIRST_RELEASE_FIELDS.contains(&k.as_str()));
        m.insert("format_version".into(), 1.into());
        m.insert("verification".into(), serde_json::json!([]));
        std::fs::write(&path, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    }
    std::fs::remove_file(datadir.join("state.db")).unwrap();
    std::fs::remove_file(datadir.join("state.db.begun")).unwrap();
    // Nor had they manifest signatures.
    for file in [
        "manifest-signing.key",
        "manifest-signing.pub",
        "manifest-signing.adopted",
    ] {
        std::fs::remove_file(datadir.join(file)).unwrap();
    }
    // An older manager's rows: one done, one still pending with its token (nobody listens).
    sb.sql(
        "db2",
        "SET SESSION sql_log_bin = 0; DROP TABLE replication_manager_schema.ferryman_agents;
         INSERT INTO replication_manager_schema.jobs (task, port, server, done, result, outcome, token)
         VALUES ('optimize', 0, '127.0.0.1', 1, 'done', 'success', NULL),
                ('mysqldump', 10002, '127.0.0.1', 0, NULL, NULL, 'old-manager-token');",
    )
    .await;

    // Today's manager over it.
    let running = start(&config, &["db2"]).await;
    let services = running.services.clone();
    let events = services.events.since(0);
    assert!(
        !events.iter().any(|e| matches!(
            e.kind,
            EventKind::HistoryLost | EventKind::HistoryUnavailable
        )),
        "an upgrade is no lost history: {events:#?}"
    );
    let listed: Vec<String> = services
        .repos
        .list(Some("sandbox"), None)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id.to_string())
        .collect();
    // Their manifests were signed with the new key at the start.
    for path in manifests(&datadir.join("Backups")) {
        let m: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert!(m.get("signature").is_some(), "{} unsigned", path.display());
    }
    for id in &ids {
        assert!(listed.contains(id), "{id} not listed: {listed:?}");
        assert!(verify(&services, id).await, "{id} does not verify");
    }
    // The old pending row was cancelled; the agents' table is back.
    let rows = sb
        .sql(
            "db2",
            "SELECT done, result FROM replication_manager_schema.jobs WHERE token = 'old-manager-token'",
        )
        .await;
    let (done, result): (i64, String) = ferryman_db::mysql_async::from_row(rows[0].clone());
    assert_eq!(done, 1);
    assert!(result.contains("the manager restarted"), "{result}");
    // New jobs continue after the old ids, and a new backup is taken beside the old ones.
    let job = run_job(&services, "db2", Task::Mysqldump, Duration::from_secs(180)).await;
    assert_eq!(job.state, JobState::Succeeded, "{job:?}");
    assert!(job.id > last_job, "{} after {last_job}", job.id);
    let seen = services.agents.get("sandbox", "db2");
    running.stop().await;
    drop(services);
    assert!(
        seen.is_some() || {
            let rows = sb
                .sql(
                    "db2",
                    "SELECT COUNT(*) FROM replication_manager_schema.ferryman_agents",
                )
                .await;
            ferryman_db::mysql_async::from_row::<(i64,)>(rows[0].clone()).0 == 1
        },
        "the agent's heartbeat table was not created again"
    );

    // Now a history was begun: deleting it is a loss, and said.
    std::fs::remove_file(datadir.join("state.db")).unwrap();
    let running = start(&config, &[]).await;
    let lost: Vec<_> = running
        .services
        .events
        .since(0)
        .into_iter()
        .filter(|e| e.kind == EventKind::HistoryLost)
        .collect();
    assert_eq!(lost.len(), 1, "{lost:#?}");
    assert!(lost[0].message.contains("state.db"), "{}", lost[0].message);
    running.stop().await;
}
