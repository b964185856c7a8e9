//! `stop`, `start`, `restart`, `zfssnapback` through the configured commands (the sandbox's
//! own), with outcomes recorded even when the server was down at the end of the job.

use std::time::Duration;

use ferryman_jobs::Task;

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn stop_start_and_restart_run_the_configured_commands() {
    let sb = sandbox(1).await;
    let db2 = sb.server("db2").unwrap().clone();
    let first_pid = sb.pid(&db2).unwrap();

    // restart: the server comes back with a new PID; the outcome is recorded after it.
    let id = enqueue(&sb, "db2", Task::Restart, None, None).await;
    let out = agent_once(&sb, "db2").await;
    assert!(out.status.success(), "{}", text(&out));
    let result = ended(&job(&sb, "db2", id).await, "success");
    assert!(result.contains("sandbox restart"), "{result}");
    assert!(
        result.contains("server accepting connections after"),
        "{result}"
    );
    let second_pid = sb.pid(&db2).unwrap();
    assert_ne!(first_pid, second_pid);

    // stop: the server is down when the job ends, so the outcome waits on disk…
    let id = enqueue(&sb, "db2", Task::Stop, None, None).await;
    let out = agent_once(&sb, "db2").await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("outcome kept on disk"),
        "{}",
        text(&out)
    );
    assert_eq!(sb.pid(&db2), None, "db2 still runs");
    // …and a pass while the server is still down fails without losing it…
    let out = agent_once(&sb, "db2").await;
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("cannot"), "{}", text(&out));
    // …and is recorded once the server is back.
    sb.start_server("db2").await.unwrap();
    let out = agent_once(&sb, "db2").await;
    assert!(
        text(&out).contains("1 outcome(s) kept from earlier runs recorded"),
        "{}",
        text(&out)
    );
    let result = ended(&job(&sb, "db2", id).await, "success");
    assert!(
        result.contains("server no longer accepting connections"),
        "{result}"
    );

    // start on a running server: the command runs (idempotent) and the server answers.
    let id = enqueue(&sb, "db2", Task::Start, None, None).await;
    agent_once(&sb, "db2").await;
    let result = ended(&job(&sb, "db2", id).await, "success");
    assert!(result.contains("start"), "{result}");
}

#[tokio::test(flavor = "multi_thread")]
async fn zfssnapback_needs_its_command_and_restarts_the_server_around_it() {
    let sb = sandbox(0).await;
    let id = enqueue(&sb, "db1", Task::Zfssnapback, None, None).await;
    agent_once(&sb, "db1").await;
    let result = ended(&job(&sb, "db1", id).await, "failure");
    assert!(
        result.contains("has no `zfs-snapback` configured"),
        "{result}"
    );

    // A rollback command that records when it ran, and whether the server was down then.
    let tmp = tempfile::tempdir().unwrap();
    let marker = tmp.path().join("rolled");
    let port = sb.primary().port;
    let script = tmp.path().join("rollback.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nif (echo > /dev/tcp/127.0.0.1/{port}) 2>/dev/null; then echo up > {m}; else echo down > {m}; fi\necho rolled back to daily-1\n",
            m = marker.display()
        ),
    )
    .unwrap();
    // bash for /dev/tcp; the script itself is run by bash through the array form.
    let config_text = std::fs::read_to_string(sb.config_path()).unwrap();
    let config = tmp.path().join("ferryman.toml");
    std::fs::write(
        &config,
        format!(
            "{config_text}zfs-snapback = [\"/bin/bash\", \"{}\"]\n",
            script.display()
        ),
    )
    .unwrap();
    let id = enqueue(&sb, "db1", Task::Zfssnapback, None, None).await;
    let out = agent_once_with(&config, "db1").await;
    assert!(out.status.success(), "{}", text(&out));
    let result = ended(&job(&sb, "db1", id).await, "success");
    assert!(result.contains("rolled back to daily-1"), "{result}");
    assert!(result.contains("server accepting connections"), "{result}");
    assert_eq!(std::fs::read_to_string(&marker).unwrap().trim(), "down");
    wait_for(Duration::from_secs(5), "db1 up", || async {
        sb.pid(sb.primary()).is_some()
    })
    .await;
}
