//! `mariabackup` jobs: the stream extracts and prepares; the password never shows.

use std::time::Duration;

use ferryman_exec::{Program, Streaming};
use ferryman_jobs::{Task, Token};
use ferryman_proto::{read_start, StreamStart};
use tokio::io::AsyncReadExt;

use crate::common::*;

/// `mbstream -x -C dir < file`, then `mariabackup --prepare --target-dir=dir`.
async fn extract_and_prepare(stream: &std::path::Path, dir: &std::path::Path) {
    std::fs::create_dir_all(dir).unwrap();
    let mbstream = Program::find("mbstream", "mariadb-backup").unwrap();
    let mut running = mbstream
        .command()
        .args(["-x", "-C", dir.to_str().unwrap()])
        .spawn_streaming(&Streaming {
            stdin: true,
            ..Streaming::default()
        })
        .unwrap();
    let mut stdin = running.take_stdin().unwrap();
    let mut file = tokio::fs::File::open(stream).await.unwrap();
    tokio::io::copy(&mut file, &mut stdin).await.unwrap();
    drop(stdin);
    let done = running.wait().await.unwrap();
    assert!(done.status.success(), "mbstream -x failed: {}", done.stderr);
    let prepare = Program::find("mariabackup", "mariadb-backup")
        .unwrap()
        .command()
        .args(["--prepare", &format!("--target-dir={}", dir.display())])
        .run()
        .await;
    assert!(prepare.is_ok(), "prepare failed: {prepare:?}");
    let checkpoints = std::fs::read_to_string(dir.join("xtrabackup_checkpoints")).unwrap();
    // MariaDB 10.11 writes `log-applied` once prepared (older tools: `full-prepared`).
    assert!(
        checkpoints.contains("backup_type = log-applied")
            || checkpoints.contains("backup_type = full-prepared"),
        "{checkpoints}"
    );
    assert!(dir.join("shop/items.ibd").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mariabackup_job_streams_a_backup_that_extracts_and_prepares() {
    let sb = sandbox(0).await;
    seed(&sb, "db1").await;
    let tmp = tempfile::tempdir().unwrap();

    // A legacy row (no token): raw xbstream, as replication-manager's socat listener expects.
    let file = tmp.path().join("raw.xbstream");
    let listener = listen(&sb, &file, None, None).await;
    let id = enqueue(&sb, "db1", Task::Mariabackup, Some(listener.port), None).await;
    let out = agent_once(&sb, "db1").await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("job {id} mariabackup: ok")),
        "{}",
        text(&out)
    );
    let received = listener.handle.await.unwrap().unwrap();
    let result = ended(&job(&sb, "db1", id).await, "success");
    assert!(result.contains("completed OK!"), "{result}");
    assert!(
        result.contains(&format!("to 127.0.0.1:{}", listener.port)),
        "{result}"
    );
    assert!(result.contains("binlog position"), "{result}");
    assert!(received > 1_000_000, "{received} bytes");
    extract_and_prepare(&file, &tmp.path().join("raw")).await;

    // A row with a token (our manager): the stream opens with the header, then the same bytes.
    let token = Token::generate().unwrap();
    let file = tmp.path().join("auth.stream");
    let listener = listen(&sb, &file, None, None).await;
    let id = enqueue(
        &sb,
        "db1",
        Task::Mariabackup,
        Some(listener.port),
        Some(&token),
    )
    .await;
    let out = agent_once(&sb, "db1").await;
    assert!(out.status.success(), "{}", text(&out));
    listener.handle.await.unwrap().unwrap();
    ended(&job(&sb, "db1", id).await, "success");
    let mut f = tokio::fs::File::open(&file).await.unwrap();
    let StreamStart::Ferryman(header) = read_start(&mut f).await.unwrap() else {
        panic!("no Ferryman header");
    };
    assert_eq!(header.job_id, id.0);
    assert!(header.token.ct_eq(&token.stream_token().unwrap()));
    let mut rest = Vec::new();
    f.read_to_end(&mut rest).await.unwrap();
    let payload = tmp.path().join("auth.xbstream");
    std::fs::write(&payload, rest).unwrap();
    extract_and_prepare(&payload, &tmp.path().join("auth")).await;

    // Nothing is left behind in the agent's scratch space; the tool's log is kept.
    let work = sb.path().join("agent/db1");
    assert_eq!(std::fs::read_dir(work.join("jobs")).unwrap().count(), 0);
    assert!(std::fs::read_dir(work.join("tool-logs")).unwrap().count() >= 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_command_line_holds_the_password_while_a_backup_runs() {
    let sb = sandbox(0).await;
    seed(&sb, "db1").await;
    let password = sb.passwords().admin.expose_secret().to_owned();
    assert!(password.len() >= 12);
    let tmp = tempfile::tempdir().unwrap();
    // A slow receiver (about 25 MiB/s) keeps the backup running while we look.
    let listener = listen(&sb, &tmp.path().join("b.xbstream"), Some(256 * 1024), None).await;
    let id = enqueue(&sb, "db1", Task::Mariabackup, Some(listener.port), None).await;
    let log = tmp.path().join("agent.log");
    let mut agent = agent_daemon(&sb.config_path(), "db1", &log);

    let mut saw_backup = false;
    let mut scans = 0;
    while !listener.handle.is_finished() {
        for (pid, cmdline) in all_cmdlines() {
            assert!(
                !cmdline.contains(&password),
                "process {pid} has the password on its command line: {cmdline}"
            );
            if cmdline.contains("mariabackup") && cmdline.contains("--backup") {
                saw_backup = true;
                assert!(cmdline.contains("--defaults-file="), "{cmdline}");
            }
        }
        scans += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    listener.handle.await.unwrap().unwrap();
    assert!(
        saw_backup,
        "mariabackup was never seen running ({scans} scans)"
    );
    wait_for(Duration::from_secs(30), "the job to end", || async {
        job(&sb, "db1", id).await.done
    })
    .await;
    ended(&job(&sb, "db1", id).await, "success");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(agent.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = agent.wait().unwrap();
    assert!(status.success(), "agent exit: {status:?}");
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        !logged.contains(&password),
        "the agent's log holds the password"
    );
    assert!(logged.contains("job succeeded"), "{logged}");
    crate::lines::assert_no_unexpected_errors(&log, &[]);
    // The 0600 option file went away with the job.
    let leftovers: Vec<_> = walk(&sb.path().join("agent"))
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".ferryman-client-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            }
            out.push(p);
        }
    }
    out
}
