//! A Galera cluster of three real nodes as a backup source:
//!
//! 1. a job row written on one node never reaches its peers (Galera replicates write sets
//!    whatever `sql_log_bin` says: the jobs session turns wsrep off), while an ordinary write
//!    made after it does;
//! 2. the manager picks a synced node that is not desynced (the last in the configuration),
//!    and passes over one desynced by hand;
//! 3. the agent backs it up with `--galera-info`, desynced while it runs
//!    (`backup-galera-desync`), synced again afterwards; the manifest holds the node's
//!    cluster UUID and seqno;
//! 4. the backup restores and verifies on a throwaway server like any other; a logical backup
//!    records its GTID position too; a desync left by a dead agent is undone by the next.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use ferryman_config::Config;
use ferryman_db::mysql_async::prelude::Queryable;
use ferryman_db::{Endpoint, Session};
use ferryman_jobs::{JobsConn, Schema};
use ferryman_manager::verification::{self, RunState, Target};
use ferryman_manager::JobState;
use ferryman_proto::Task;
use ferryman_sandbox::galera::GaleraOptions;
use ferryman_sandbox::testing::TestGalera;

use crate::common::*;

const NODES: [&str; 3] = ["a1", "a2", "a3"];

/// The sandbox's configuration with `extra` lines in the cluster's table.
fn config_with_galera(g: &TestGalera, extra: &str) -> PathBuf {
    let text = std::fs::read_to_string(g.config_path()).unwrap();
    let out = text.replacen(
        "[clusters.alpha]\n",
        &format!("[clusters.alpha]\n{extra}\n"),
        1,
    );
    assert_ne!(out, text, "no [clusters.alpha] table in:\n{text}");
    let path = g.path().join("ferryman-test.toml");
    std::fs::write(&path, out).unwrap();
    path
}

fn endpoint(config: &Config, name: &str) -> Endpoint {
    let (cluster, server) = config.server(name).unwrap();
    Endpoint::from_config(server, &cluster.db_servers_credential)
}

/// Rows of the jobs table on `name`, or `None` when the node has no such table.
async fn job_rows(g: &TestGalera, schema: &str, name: &str) -> Option<i64> {
    let exists: Vec<i64> = {
        let rows = g
            .sql(
                name,
                &format!(
                    "SELECT COUNT(*) FROM information_schema.tables \
                     WHERE table_schema = '{schema}' AND table_name = 'jobs'"
                ),
            )
            .await;
        rows.into_iter().map(|r| r.get(0).unwrap()).collect()
    };
    if exists == [0] {
        return None;
    }
    let rows = g
        .sql(name, &format!("SELECT COUNT(*) FROM `{schema}`.jobs"))
        .await;
    rows.into_iter().next().map(|r| r.get(0).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_galera_cluster_is_backed_up_from_a_synced_node_and_its_job_rows_stay_on_their_node() {
    let g = TestGalera::start(&GaleraOptions {
        nodes: 3,
        clusters: 1,
        link: false,
        master_master: false,
        ferryman_bin: None,
    })
    .await;
    let config_path = config_with_galera(&g, "backup-galera-desync = true");
    let config = Config::load(&config_path).unwrap();
    let schema = Schema::new(&config.clusters[0].jobs_schema).unwrap();

    // 1. Job rows stay on their node. Every node gets its table first (as its agent would),
    // then a row is written on a1, then an ordinary write after it: once that write is on a2
    // and a3, a replicated row would be there too.
    for name in NODES {
        let mut jobs = JobsConn::open(&endpoint(&config, name), &schema)
            .await
            .unwrap();
        jobs.ensure().await.unwrap();
        jobs.close().await.unwrap();
    }
    let mut jobs = JobsConn::open(&endpoint(&config, "a1"), &schema)
        .await
        .unwrap();
    let row = jobs
        .enqueue(Task::Optimize, "127.0.0.1", None, None, None)
        .await
        .unwrap();
    jobs.close().await.unwrap();
    g.sql(
        "a1",
        "CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(40)); \
         INSERT INTO app.t SELECT seq, CONCAT('row ', seq) FROM mysql.seq_1_to_2000",
    )
    .await;
    for name in ["a2", "a3"] {
        let started = Instant::now();
        loop {
            let n: Vec<i64> = g
                .sql(
                    name,
                    "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'app'",
                )
                .await
                .into_iter()
                .map(|r| r.get(0).unwrap())
                .collect();
            if n == [1] {
                let rows: Vec<i64> = g
                    .sql(name, "SELECT COUNT(*) FROM app.t")
                    .await
                    .into_iter()
                    .map(|r| r.get(0).unwrap())
                    .collect();
                if rows == [2000] {
                    break;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{name}: no app.t"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            job_rows(&g, schema.as_str(), name).await,
            Some(0),
            "{name} received a1's job row {row:?}"
        );
    }
    assert_eq!(job_rows(&g, schema.as_str(), "a1").await, Some(1));

    // 2. The source: the last synced node (a3), unless it is desynced.
    let running = start(&config_path, &NODES).await;
    let services = running.services.clone();
    let monitor_sees = |desync: bool| {
        let services = services.clone();
        async move {
            let started = Instant::now();
            loop {
                let view = services.topology.cluster("alpha");
                let a3 = view.as_ref().and_then(|v| {
                    v.servers
                        .iter()
                        .find(|s| s.name == "a3")
                        .and_then(|s| s.status.as_ref())
                        .and_then(|st| st.galera.as_ref())
                        .map(|w| w.desync)
                });
                let all = view.as_ref().is_some_and(|v| {
                    v.servers.iter().all(|s| {
                        s.status
                            .as_ref()
                            .is_some_and(|st| st.galera.as_ref().is_some_and(|w| w.serving()))
                    })
                });
                if all && a3 == Some(desync) {
                    return view.unwrap();
                }
                assert!(started.elapsed() < Duration::from_secs(30), "{view:?}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    let cluster = config.cluster("alpha").unwrap();
    let view = monitor_sees(false).await;
    assert_eq!(
        ferryman_manager::monitor::backup_source(cluster, &view).unwrap(),
        "a3"
    );
    g.sql("a3", "SET GLOBAL wsrep_desync = ON").await;
    let view = monitor_sees(true).await;
    assert_eq!(
        ferryman_manager::monitor::backup_source(cluster, &view).unwrap(),
        "a2"
    );
    g.sql("a3", "SET GLOBAL wsrep_desync = OFF").await;
    monitor_sees(false).await;

    // 3. The backup, on the node the manager picks.
    let id = services
        .start_backup("alpha", None, Task::Mariabackup, "api")
        .await
        .unwrap();
    let job = wait_job(&services, id, Duration::from_secs(180)).await;
    assert_eq!(job.state, JobState::Succeeded, "{job:?}");
    assert_eq!(job.server, "a3", "{job:?}");
    let result = job.node_result.clone().unwrap_or_default();
    assert!(
        result.contains("Galera node desynced during the backup"),
        "{result}"
    );
    let mut conn = endpoint(&config, "a3")
        .connect(Session::Plain)
        .await
        .unwrap();
    let desync: Option<i64> = conn.query_first("SELECT @@wsrep_desync").await.unwrap();
    assert_eq!(desync, Some(0), "a3 left desynced");
    drop(conn);
    let backup = job.backup_id.clone().expect("a stored backup");
    let manifest = services
        .repo("alpha")
        .unwrap()
        .get(&backup.parse().unwrap())
        .await
        .unwrap();
    let galera = manifest
        .galera()
        .expect("the Galera position in the manifest");
    let uuid: Vec<String> = g
        .sql("a1", "SHOW GLOBAL STATUS LIKE 'wsrep_cluster_state_uuid'")
        .await
        .into_iter()
        .map(|r| r.get(1).unwrap())
        .collect();
    assert_eq!(
        uuid,
        std::slice::from_ref(&galera.cluster_uuid),
        "{manifest:?}"
    );
    assert!(galera.seqno > 0, "{galera:?}");

    // A logical backup of the cluster records the GTID position too.
    let id = services
        .start_backup("alpha", None, Task::Mysqldump, "api")
        .await
        .unwrap();
    let job = wait_job(&services, id, Duration::from_secs(180)).await;
    assert_eq!(job.state, JobState::Succeeded, "{job:?}");

    // A desync a dead agent's backup left (its mark in the agent's directory) is undone by
    // the node's next agent pass.
    g.sql("a2", "SET GLOBAL wsrep_desync = ON").await;
    std::fs::write(
        config.agent.work_dir.join("a2").join("desynced.json"),
        r#"{"desynced_by": "ferryman-agent@a-host-long-gone:4242"}"#,
    )
    .unwrap();
    let started = Instant::now();
    loop {
        let desync: Vec<i64> = g
            .sql("a2", "SELECT @@wsrep_desync")
            .await
            .into_iter()
            .map(|r| r.get(0).unwrap())
            .collect();
        if desync == [0] {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "a2 still desynced"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(!config.agent.work_dir.join("a2/desynced.json").exists());

    // 4. It restores and verifies.
    let run = verification::start(&services, Target::Backup(backup.parse().unwrap()), "api")
        .await
        .unwrap();
    let started = Instant::now();
    loop {
        let r = services.verify_runs.get(run.id).unwrap();
        if r.state == RunState::Done {
            assert_eq!(r.ok, Some(true), "{r:?}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(300), "{r:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    running.stop().await;
}
