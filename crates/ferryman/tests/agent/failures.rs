//! Failure paths: a receiver that dies, one that never comes, two agents, SIGTERM, and claims
//! left by an agent that died. In every case the job ends with a reason; none stays
//! `processing`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ferryman_jobs::{JobStatus, Task};
use ferryman_sandbox::testing::TestSandbox;

use crate::common::*;

/// A copy of the sandbox's configuration with `edit` applied (e.g. shorter timeouts).
fn config_with(sb: &TestSandbox, dir: &Path, edit: impl Fn(String) -> String) -> PathBuf {
    let text = std::fs::read_to_string(sb.config_path()).unwrap();
    let edited = edit(text.clone());
    assert_ne!(edited, text, "the edit changed nothing");
    let path = dir.join("ferryman.toml");
    std::fs::write(&path, edited).unwrap();
    path
}

async fn nothing_processing(sb: &TestSandbox, name: &str) {
    let mut conn = jobs(sb, name).await;
    let running: Vec<_> = conn
        .list(100)
        .await
        .unwrap()
        .into_iter()
        .filter(|j| matches!(j.status(), JobStatus::Running { .. } | JobStatus::Pending))
        .collect();
    assert!(running.is_empty(), "jobs not ended: {running:?}");
}

fn no_backup_tool_running(sb: &TestSandbox) {
    let dir = sb.path().display().to_string();
    let left: Vec<_> = all_cmdlines()
        .into_iter()
        .filter(|(_, c)| c.contains("mariabackup") && c.contains(&dir))
        .collect();
    assert!(left.is_empty(), "tools left running: {left:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_receiver_killed_mid_stream_fails_the_job_with_the_reason() {
    let sb = sandbox(0).await;
    seed(&sb, "db1").await;
    let tmp = tempfile::tempdir().unwrap();
    let listener = listen(
        &sb,
        &tmp.path().join("cut"),
        Some(64 * 1024),
        Some(2 * 1024 * 1024),
    )
    .await;
    let id = enqueue(&sb, "db1", Task::Mariabackup, Some(listener.port), None).await;
    let out = agent_once(&sb, "db1").await;
    assert!(out.status.success(), "{}", text(&out));
    let got = listener.handle.await.unwrap().unwrap();
    assert!(got >= 2 * 1024 * 1024);
    let result = ended(&job(&sb, "db1", id).await, "failure");
    assert!(
        result.contains(&format!(
            "the receiver at 127.0.0.1:{} stopped taking the stream after",
            listener.port
        )),
        "{result}"
    );
    assert!(result.contains("enqueue the job again"), "{result}");
    nothing_processing(&sb, "db1").await;
    no_backup_tool_running(&sb);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_receiver_that_never_listens_fails_the_job_at_the_deadline() {
    let sb = sandbox(0).await;
    let tmp = tempfile::tempdir().unwrap();
    let config = config_with(&sb, tmp.path(), |t| {
        t.replace("connect-timeout = \"20s\"", "connect-timeout = \"2s\"")
    });
    // An allowed destination nobody listens on (no manager runs in these tests).
    let port = sb.config().manager.stream_port;
    let id = enqueue(&sb, "db1", Task::Mariabackup, Some(port), None).await;
    let out = agent_once_with(&config, "db1").await;
    assert!(out.status.success(), "{}", text(&out));
    let result = ended(&job(&sb, "db1", id).await, "failure");
    assert!(
        result.contains(&format!(
            "cannot connect to the receiver at 127.0.0.1:{port} within 2 s"
        )),
        "{result}"
    );
    // And a row without a receiver at all says what is missing.
    let id = enqueue(&sb, "db1", Task::Mariabackup, None, None).await;
    agent_once_with(&config, "db1").await;
    let result = ended(&job(&sb, "db1", id).await, "failure");
    assert!(result.contains("names no receiver"), "{result}");
    nothing_processing(&sb, "db1").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_agents_on_one_server_never_run_the_same_job() {
    let sb = sandbox(0).await;
    let tmp = tempfile::tempdir().unwrap();
    for round in 0..4 {
        let listener = listen(&sb, &tmp.path().join(format!("r{round}")), None, None).await;
        let id = enqueue(&sb, "db1", Task::Mariabackup, Some(listener.port), None).await;
        let (a, b) = tokio::join!(agent_once(&sb, "db1"), agent_once(&sb, "db1"));
        let ran: Vec<String> = [&a, &b]
            .iter()
            .map(|o| text(o))
            .filter(|t| t.contains(&format!("job {id} mariabackup")))
            .collect();
        assert_eq!(
            ran.len(),
            1,
            "round {round}: {}\n---\n{}",
            text(&a),
            text(&b)
        );
        // The listener accepts one connection only: a second runner would have failed its
        // job (connection refused) or hung; exactly one stream arrived, whole.
        listener.handle.await.unwrap().unwrap();
        let result = ended(&job(&sb, "db1", id).await, "success");
        assert!(result.contains("completed OK!"), "{result}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_interrupts_a_running_backup_after_the_grace_and_records_it() {
    let sb = sandbox(0).await;
    seed(&sb, "db1").await;
    let tmp = tempfile::tempdir().unwrap();
    let config = config_with(&sb, tmp.path(), |t| {
        t.replace("shutdown-grace = \"10s\"", "shutdown-grace = \"1s\"")
    });
    // A receiver so slow the backup cannot finish within the grace period.
    let listener = listen(&sb, &tmp.path().join("slow"), Some(4096), None).await;
    let id = enqueue(&sb, "db1", Task::Mariabackup, Some(listener.port), None).await;
    let log = tmp.path().join("agent.log");
    let mut agent = agent_daemon(&config, "db1", &log);
    wait_for(Duration::from_secs(30), "the job to be claimed", || async {
        matches!(
            job(&sb, "db1", id).await.status(),
            JobStatus::Running { .. }
        )
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let signalled = std::time::Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(agent.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = tokio::task::spawn_blocking(move || agent.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "agent exit: {status:?}");
    assert!(
        signalled.elapsed() < Duration::from_secs(15),
        "the agent took {:?} to stop",
        signalled.elapsed()
    );
    let result = ended(&job(&sb, "db1", id).await, "failure");
    assert!(
        result.contains("the agent was shut down while the job ran"),
        "{result}"
    );
    crate::lines::assert_no_unexpected_errors(&log, &[]);
    nothing_processing(&sb, "db1").await;
    no_backup_tool_running(&sb);
    let _ = listener.handle.await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_left_processing_by_a_dead_agent_is_failed_with_the_reason() {
    let sb = sandbox(0).await;
    let mut conn = jobs(&sb, "db1").await;
    let id = conn
        .enqueue(Task::Optimize, "127.0.0.1", None, None, None)
        .await
        .unwrap();
    // Claimed by an agent of this host whose process no longer exists.
    let host = nix::unistd::gethostname().unwrap().into_string().unwrap();
    let dead = format!("ferryman-agent@{host}:{}", u32::MAX - 7);
    let _claimed = conn.claim(id, &dead).await.unwrap().unwrap();
    conn.close().await.unwrap();
    let out = agent_once(&sb, "db1").await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("1 job(s) abandoned by a stopped agent marked failed"),
        "{}",
        text(&out)
    );
    let result = ended(&job(&sb, "db1", id).await, "failure");
    assert!(
        result.contains(&format!(
            "the agent that ran this job ({dead}) is no longer running"
        )),
        "{result}"
    );
    assert!(result.contains("enqueue it again"), "{result}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_row_naming_a_receiver_the_configuration_does_not_allow_gets_nothing() {
    let sb = sandbox(0).await;
    seed(&sb, "db1").await;
    // Someone with INSERT on the jobs table asks for a backup to a host of their choosing.
    let thief = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = thief.local_addr().unwrap().port();
    let id = enqueue(&sb, "db1", Task::Mariabackup, Some(port), None).await;
    let out = agent_once(&sb, "db1").await;
    let result = ended(&job(&sb, "db1", id).await, "failure");
    eprintln!("{result}\n{}", text(&out));
    assert!(
        result.contains(&format!(
            "names the receiver 127.0.0.1:{port}, which is not one this agent streams to"
        )),
        "{result}"
    );
    assert!(result.contains("agent.stream-destinations"), "{result}");
    // Nothing was even connected.
    let accepted =
        tokio::time::timeout(std::time::Duration::from_millis(500), thief.accept()).await;
    assert!(accepted.is_err(), "the agent connected to the thief");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_row_with_an_unknown_task_is_reported_once_with_its_id() {
    let sb = sandbox(0).await;
    jobs(&sb, "db1").await.close().await.unwrap();
    sb.sql(
        "db1",
        "SET sql_log_bin = 0; INSERT INTO replication_manager_schema.jobs (task, done, start) \
         VALUES ('mariabakup', 0, NOW())",
    )
    .await;
    let id = query(
        &sb,
        "db1",
        "SELECT id FROM replication_manager_schema.jobs WHERE task = 'mariabakup'",
    )
    .await
    .join("");
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("agent.log");
    let mut agent = agent_daemon(&sb.config_path(), "db1", &log);
    // Several passes (poll-interval 1s).
    tokio::time::sleep(Duration::from_secs(4)).await;
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(agent.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    agent.wait().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    crate::lines::assert_no_unexpected_errors(&log, &[]);
    let warnings: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("names a task no agent knows"))
        .collect();
    assert_eq!(warnings.len(), 1, "{text}");
    assert!(
        warnings[0].contains(&format!("job_id={id}")),
        "{}",
        warnings[0]
    );
    assert!(warnings[0].contains("mariabakup"), "{}", warnings[0]);
}

/// `Aborted connection` warnings in `name`'s error log (sessions dropped without a goodbye).
fn aborted_connections(sb: &TestSandbox, name: &str) -> Vec<String> {
    let log = sb.layout().server(name).root().join("err.log");
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("Aborted connection"))
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn agent_jobs_close_their_sessions_properly() {
    let sb = sandbox(0).await;
    seed(&sb, "db1").await;
    let before = aborted_connections(&sb, "db1");
    let tmp = tempfile::tempdir().unwrap();
    // A streamed backup, a dump, an optimize and an idle pass, each by a one-pass agent.
    let listener = listen(&sb, &tmp.path().join("b"), None, None).await;
    let token = ferryman_jobs::Token::generate().unwrap();
    enqueue(
        &sb,
        "db1",
        Task::Mariabackup,
        Some(listener.port),
        Some(&token),
    )
    .await;
    assert!(agent_once(&sb, "db1").await.status.success());
    listener.handle.await.unwrap().unwrap();
    let listener = listen(&sb, &tmp.path().join("d"), None, None).await;
    enqueue(&sb, "db1", Task::Mysqldump, Some(listener.port), None).await;
    assert!(agent_once(&sb, "db1").await.status.success());
    listener.handle.await.unwrap().unwrap();
    enqueue(&sb, "db1", Task::Optimize, None, None).await;
    assert!(agent_once(&sb, "db1").await.status.success());
    assert!(agent_once(&sb, "db1").await.status.success());
    // The server writes the warning when it notices: give it a moment.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = aborted_connections(&sb, "db1");
    assert_eq!(after[before.len()..], [] as [String; 0], "{after:#?}");
}
