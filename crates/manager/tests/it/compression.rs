//! Compression on the node, end to end: a physical backup compressed by the agent is checked,
//! stored as the node's frames and restores on a throwaway server; with
//! `backup-stream-compression = "manager"` the agent sends the raw stream as before.

use std::time::{Duration, Instant};

use ferryman_manager::verification::{self, RunState, Target};
use ferryman_manager::JobState;
use ferryman_proto::Task;
use ferryman_repo::NODE_COMPRESSED;
use ferryman_sandbox::testing::TestSandbox;

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_backup_compressed_on_the_node_is_stored_as_sent_and_restores() {
    let sb = TestSandbox::start(0).await;
    sb.sql(
        "db1",
        "CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v TEXT); \
         INSERT INTO app.t SELECT seq, REPEAT('ferryman', 40) FROM mysql.seq_1_to_20000;",
    )
    .await;
    let config = config_with(
        &sb,
        "backup-stream-compression = \"node\"\nbackup-stream-compression-threads = 1",
        "",
    );
    let running = start(&config, &["db1"]).await;
    let services = running.services.clone();

    let done = run_job(
        &services,
        "db1",
        Task::Mariabackup,
        Duration::from_secs(180),
    )
    .await;
    assert_eq!(done.state, JobState::Succeeded, "{done:?}");
    let result = done.node_result.clone().unwrap_or_default();
    assert!(
        result.contains("zstd 1 on the node (node, 1 threads): 100 % of the raw bytes"),
        "{result}"
    );
    let m = stored_manifest(&services, &done).await;
    assert_eq!(
        m.extra.get(NODE_COMPRESSED).map(String::as_str),
        Some(format!("{} of {} raw bytes", m.raw_bytes, m.raw_bytes).as_str()),
        "{m:?}"
    );
    assert!(m.stored_bytes < m.raw_bytes / 2, "{m:?}");

    // The node's frames restore like the manager's own.
    let run = verification::start(&services, Target::Backup(m.id.clone()), "api")
        .await
        .unwrap();
    let started = Instant::now();
    let run = loop {
        let r = services.verify_runs.get(run.id).unwrap();
        if r.state == RunState::Done {
            break r;
        }
        assert!(started.elapsed() < Duration::from_secs(300), "{r:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(run.ok, Some(true), "{run:?}");
    running.stop().await;

    // Left to the manager: the raw stream, as before.
    let config = config_with(&sb, "backup-stream-compression = \"manager\"", "");
    let running = start(&config, &["db1"]).await;
    let services = running.services.clone();
    let done = run_job(&services, "db1", Task::Mysqldump, Duration::from_secs(180)).await;
    assert_eq!(done.state, JobState::Succeeded, "{done:?}");
    let result = done.node_result.clone().unwrap_or_default();
    assert!(!result.contains("on the node"), "{result}");
    let m = stored_manifest(&services, &done).await;
    assert!(!m.extra.contains_key(NODE_COMPRESSED), "{m:?}");
    running.stop().await;
}
