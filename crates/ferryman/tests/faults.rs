//! Faults a dying host inflicts on the manager's jobs: an agent killed in the middle of a
//! backup. The manager (in this process) must end the job as soon as the agent's heartbeat is
//! stale, keep nothing of the cut stream, and say why.
#![allow(clippy::unwrap_used, clippy::print_stderr)] // test code: panics and stderr are the report

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferryman_manager::JobState;
use ferryman_proto::Task;
use ferryman_sandbox::testing::TestSandbox;
use ferryman_sandbox::UpOptions;

mod daemons;
use daemons::{wait_job, Daemons};

const BIN: &str = env!("CARGO_BIN_EXE_ferryman");

/// `ferryman agent` for `server` as its own process.
fn agent_process(sb: &TestSandbox, server: &str) -> Child {
    #[allow(clippy::disallowed_methods)] // running the binary under test
    Command::new(BIN)
        .args(["agent", "--config", sb.config_path().to_str().unwrap()])
        .args(["--server", server])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .stdin(Stdio::null())
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_agent_killed_mid_backup_ends_the_job_at_its_stale_heartbeat_with_nothing_kept() {
    let sb = TestSandbox::start_with(&UpOptions {
        replicas: 0,
        ferryman_bin: Some(PathBuf::from(BIN)),
        auto_verify: false,
    })
    .await;
    // Enough data that the stream lasts a moment.
    sb.sql(
        "db1",
        "CREATE DATABASE shop; CREATE TABLE shop.items (id INT PRIMARY KEY, v TEXT);
         INSERT INTO shop.items SELECT seq, REPEAT(MD5(seq), 12) FROM mysql.seq_1_to_300000;",
    )
    .await;
    let d = Daemons::start(sb.config(), &[]).await;
    let mut agent = agent_process(&sb, "db1");
    let id = d
        .shared
        .start_backup("sandbox", Some("db1"), Task::Mysqldump, "test")
        .await
        .unwrap();
    let started = Instant::now();
    loop {
        let r = d.shared.registry.get(id).unwrap();
        if r.state == JobState::Receiving && r.bytes > 0 {
            break;
        }
        assert!(!r.state.is_final(), "ended before the kill: {r:?}");
        assert!(started.elapsed() < Duration::from_secs(60), "{r:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    agent.kill().unwrap();
    agent.wait().unwrap();
    let killed = Instant::now();
    let job = wait_job(&d.shared, id).await;
    let took = killed.elapsed();
    eprintln!("ended {took:?} after the kill: {job:#?}");
    assert_eq!(job.state, JobState::Failed, "{job:?}");
    // The heartbeat is refreshed every 3 s; 15 s of silence end the job (not 120 s).
    assert!(took < Duration::from_secs(30), "{took:?}");
    let error = job.error.unwrap_or_default();
    assert!(error.contains("has not reported for"), "{error}");
    assert!(error.contains("nothing of this stream is kept"), "{error}");
    assert!(d.shared.repo.list(None, None).await.unwrap().is_empty());
    d.stop().await;
}
