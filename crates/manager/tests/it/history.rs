//! The manager restarted: the jobs, verification runs and events of before are still listed,
//! and new ids continue after theirs.

use std::time::{Duration, Instant};

use ferryman_manager::events::EventKind;
use ferryman_manager::verification::{self, RunState, Target};
use ferryman_manager::JobState;
use ferryman_proto::Task;
use ferryman_sandbox::testing::TestSandbox;

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_restarted_manager_lists_the_jobs_runs_and_events_of_before() {
    let sb = TestSandbox::start(1).await;
    sb.sql(
        "db1",
        "CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY); INSERT INTO app.t SELECT seq FROM mysql.seq_1_to_100;",
    )
    .await;
    let config = config_with(&sb, "", "");

    let running = start(&config, &["db1", "db2"]).await;
    let services = running.services.clone();
    let done = run_job(&services, "db2", Task::Mysqldump, Duration::from_secs(120)).await;
    let backup = done.id;
    assert_eq!(done.state, JobState::Succeeded, "{done:?}");
    let backup_id = done.backup_id.clone().unwrap();
    let run = verification::start(&services, Target::Backup(backup_id.parse().unwrap()), "api")
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
    let events_before = services.events.since(0);
    assert!(
        events_before
            .iter()
            .any(|e| e.kind == EventKind::VerificationPassed),
        "{events_before:?}"
    );
    running.stop().await;
    drop(services);

    // A new manager over the same monitoring-datadir.
    let running = start(&config, &["db1", "db2"]).await;
    let services = running.services.clone();
    let job = services.registry.get(backup).expect("the job of before");
    assert_eq!(job.state, JobState::Succeeded);
    assert_eq!(job.backup_id.as_deref(), Some(backup_id.as_str()));
    assert_eq!(job.node_result, done.node_result);
    assert!(services.registry.list().iter().any(|j| j.id == backup));
    let again = services.verify_runs.get(run.id).expect("the run of before");
    assert_eq!(again.ok, Some(true));
    assert_eq!(again.items[0].backup.as_deref(), Some(backup_id.as_str()));
    let events_after = services.events.since(0);
    assert_eq!(
        events_after.iter().map(|e| e.id).collect::<Vec<_>>(),
        events_before.iter().map(|e| e.id).collect::<Vec<_>>(),
        "{events_after:?}"
    );
    // New ids continue after the old ones.
    let next = run_job(&services, "db2", Task::Mysqldump, Duration::from_secs(120)).await;
    assert!(next.id > backup);
    assert_eq!(next.state, JobState::Succeeded, "{next:?}");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_damaged_history_never_stops_a_backup() {
    let sb = TestSandbox::start(1).await;
    let config = config_with(&sb, "", "");
    let datadir = ferryman_config::Config::load(&config)
        .unwrap()
        .manager
        .monitoring_datadir;
    std::fs::create_dir_all(&datadir).unwrap();
    let file = datadir.join(ferryman_manager::state::FILE);
    std::fs::write(&file, vec![0x5a_u8; 16384]).unwrap();

    let running = start(&config, &["db1", "db2"]).await;
    let services = running.services.clone();
    let events = services.events.since(0);
    let problem = events
        .iter()
        .find(|e| e.kind == EventKind::HistoryUnavailable)
        .unwrap_or_else(|| panic!("{events:?}"));
    assert!(problem.message.contains(".broken"), "{}", problem.message);
    let job = run_job(&services, "db2", Task::Mysqldump, Duration::from_secs(120)).await;
    assert_eq!(job.state, JobState::Succeeded, "{job:?}");
    running.stop().await;
    // The damaged file is left as it was, for the DBA to look at.
    assert_eq!(std::fs::read(&file).unwrap(), vec![0x5a_u8; 16384]);
}
