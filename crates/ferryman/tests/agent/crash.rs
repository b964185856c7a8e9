//! A joiner's agent killed (SIGKILL) at every step boundary of the datadir swap: the agent
//! started next finishes or undoes the swap, and every time the replica ends on good data,
//! replicating, with its job ended.

use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command};

use ferryman_agent::tasks::CRASH_AT_ENV;
use ferryman_jobs::Task;
use ferryman_sandbox::testing::TestSandbox;

use crate::common::*;
use crate::reseed::{
    a_new_write_arrives, backup_of, checksums, enqueue_reseed, leftovers, replicating, sealed,
    send_all,
};

/// `ferryman agent --once` for `server` as a child process (it may be killed or frozen), its
/// output discarded, with `env` set.
fn agent_child(sb: &TestSandbox, server: &str, env: &[(&str, &str)]) -> Child {
    #[allow(clippy::disallowed_methods)] // running the binary under test
    let mut cmd = Command::new(BIN);
    cmd.args(["agent", "--config", sb.config_path().to_str().unwrap()])
        .args(["--server", server, "--once"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().unwrap()
}

/// `ferryman agent --once` for `server`, told to kill itself at swap step `step`.
async fn agent_dying_at(sb: &TestSandbox, server: &str, step: &str) -> std::process::ExitStatus {
    let mut child = agent_child(sb, server, &[(CRASH_AT_ENV, step)]);
    tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap()
}

/// db2's own data, which no backup of db1 holds (written outside the binary log).
async fn mark_old_data(sb: &TestSandbox) {
    sb.sql(
        "db2",
        "SET sql_log_bin = 0; DROP DATABASE IF EXISTS mine; CREATE DATABASE mine; \
         CREATE TABLE mine.marker (v VARCHAR(20)); INSERT INTO mine.marker VALUES ('old data')",
    )
    .await;
}

async fn on_old_data(sb: &TestSandbox) -> bool {
    query(
        sb,
        "db2",
        "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'mine'",
    )
    .await
        == ["1"]
}

/// The primary's tables, compared with db2's (db2's own marker left out).
async fn same_data_as_primary(sb: &TestSandbox) {
    let mine = |t: &(String, Option<u64>)| !t.0.starts_with("mine.");
    let primary: Vec<_> = checksums(sb, "db1")
        .await
        .into_iter()
        .filter(mine)
        .collect();
    let replica: Vec<_> = checksums(sb, "db2")
        .await
        .into_iter()
        .filter(mine)
        .collect();
    assert_eq!(primary, replica);
}

async fn read_only(sb: &TestSandbox) -> String {
    query(sb, "db2", "SELECT @@read_only").await.join("")
}

#[tokio::test(flavor = "multi_thread")]
async fn an_agent_killed_at_any_step_of_the_swap_is_finished_or_undone_by_the_next_one() {
    let sb = sandbox(1).await;
    seed(&sb, "db1").await;
    replicating(&sb, "db2").await;
    let read_only_before = read_only(&sb).await;
    let backup = backup_of(&sb, "db1").await;
    let swaps = sb.config().agent.work_dir.join("db2").join("swaps");
    // (step, whether the restored data is kept: the swap is finished rather than undone)
    let steps = [
        ("stopping", false),
        ("swapping", false),
        ("starting", true),
        ("restoring", true),
        ("pointing", true),
        ("catching-up", true),
        ("removing-old", true),
        ("finished", true),
        ("rolling-back", false),
    ];
    for (round, (step, kept)) in steps.into_iter().enumerate() {
        eprintln!("--- killing the agent at `{step}`");
        mark_old_data(&sb).await;
        // Rows the backup does not hold: the reseeded replica must catch up on them.
        sb.sql(
            "db1",
            &format!("INSERT INTO shop.items (name, price) VALUES ('before round {round}', 1)"),
        )
        .await;
        let (id, token, port) = enqueue_reseed(&sb, "db2", "db1", &backup).await;
        if step == "rolling-back" {
            // A failing reseed: the primary refuses the replica's position (a GTID it never had).
            let row = job(&sb, "db2", id).await;
            let mut params: ferryman_proto::ReseedParams =
                serde_json::from_str(row.params.as_deref().unwrap()).unwrap();
            params.gtid = Some("0-999-1".to_owned());
            let params = sealed(&sb, "db2", Task::Reseedmariabackup, port, &token, params);
            sb.sql(
                "db2",
                &format!(
                    "SET sql_log_bin = 0; \
                     UPDATE replication_manager_schema.jobs SET params = '{}' WHERE id = {}",
                    params.to_json(),
                    id.0
                ),
            )
            .await;
        }
        let (agent, ()) = tokio::join!(
            agent_dying_at(&sb, "db2", step),
            send_all(port, id, &token, &backup.payload)
        );
        assert_eq!(
            agent.signal(),
            Some(9),
            "the agent was to kill itself at `{step}`"
        );
        assert!(
            swaps.join(format!("job-{}.json", id.0)).exists(),
            "no swap record after a kill at `{step}`"
        );
        if step == "restoring" || step == "pointing" {
            // The restored server runs, does not replicate yet, and refuses writes.
            assert_eq!(read_only(&sb).await, "1", "after a kill at `{step}`");
        }

        let next = agent_once(&sb, "db2").await;
        let job = job(&sb, "db2", id).await;
        let expected = if kept { "success" } else { "failure" };
        let result = ended(&job, expected);
        eprintln!("{step}: {result}\n{}", text(&next));
        assert_eq!(
            on_old_data(&sb).await,
            !kept,
            "after a kill at `{step}`: {result}"
        );
        if !matches!(step, "finished" | "removing-old") {
            assert!(
                result.contains(if kept {
                    "the agent that found it finished the swap"
                } else {
                    "old data is back"
                }) || result.contains("put the old datadir back")
                    || result.contains("runs on its old data"),
                "after a kill at `{step}`: {result}"
            );
        }
        replicating(&sb, "db2").await;
        a_new_write_arrives(&sb, "db2", &format!("after round {round}")).await;
        same_data_as_primary(&sb).await;
        assert_eq!(read_only(&sb).await, read_only_before, "after `{step}`");
        assert!(
            leftovers(&sb, "db2").is_empty(),
            "after `{step}`: {:?}",
            leftovers(&sb, "db2")
        );
        let records: Vec<_> = std::fs::read_dir(&swaps).unwrap().flatten().collect();
        assert!(records.is_empty(), "after `{step}`: {records:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_staging_directory_of_an_agent_killed_mid_receive_is_removed_by_the_next_one() {
    use tokio::io::AsyncWriteExt;

    let sb = sandbox(1).await;
    seed(&sb, "db1").await;
    replicating(&sb, "db2").await;
    let backup = backup_of(&sb, "db1").await;
    let (id, token, port) = enqueue_reseed(&sb, "db2", "db1", &backup).await;
    let mut agent = agent_child(&sb, "db2", &[]);
    // Half the payload arrives, then the agent dies.
    let sock = crate::reseed::connect_joiner(port, id, &token).await;
    let mut frames = ferryman_proto::FrameWriter::new(sock);
    for chunk in backup.payload[..backup.payload.len() / 2].chunks(300 * 1024) {
        frames.write(chunk).await.unwrap();
    }
    let staging = sb
        .layout()
        .server("db2")
        .root()
        .join(format!(".data.ferryman-reseed-{}", id.0));
    wait_for(
        std::time::Duration::from_secs(20),
        "the staging directory to fill",
        || async { std::fs::read_dir(&staging).is_ok_and(|mut d| d.next().is_some()) },
    )
    .await;
    agent.kill().unwrap();
    agent.wait().unwrap();
    let mut sock = frames.into_inner();
    let _ = sock.shutdown().await;
    assert!(staging.exists());
    // An old datadir of an earlier reseed is never removed by this clean-up.
    let old = sb
        .layout()
        .server("db2")
        .root()
        .join(".data.ferryman-old-1");
    std::fs::create_dir(&old).unwrap();

    let next = agent_once(&sb, "db2").await;
    eprintln!("{}", text(&next));
    assert!(!staging.exists(), "{}", text(&next));
    assert!(
        text(&next).contains("removed a reseed directory left by an agent that stopped"),
        "{}",
        text(&next)
    );
    let result = ended(&job(&sb, "db2", id).await, "failure");
    assert!(result.contains("is no longer running"), "{result}");
    assert!(old.exists());
    // A reseed with that old datadir next to the datadir (no record of its swap) is refused,
    // naming it and the commands to keep or put back either copy.
    let (id, _, _) = enqueue_reseed(&sb, "db2", "db1", &backup).await;
    let next = agent_once(&sb, "db2").await;
    let result = ended(&job(&sb, "db2", id).await, "failure");
    eprintln!("{result}\n{}", text(&next));
    assert!(
        result.contains(&format!("left an old datadir at `{}`", old.display())),
        "{result}"
    );
    assert!(
        result.contains(&format!("rm -rf {}", old.display())),
        "{result}"
    );
    assert!(
        result.contains(&format!("mv {} ", old.display())),
        "{result}"
    );
    std::fs::remove_dir(&old).unwrap();
    replicating(&sb, "db2").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_agent_leaves_alone_the_swap_a_live_agent_is_making() {
    let sb = sandbox(1).await;
    seed(&sb, "db1").await;
    replicating(&sb, "db2").await;
    let backup = backup_of(&sb, "db1").await;
    let (id, token, port) = enqueue_reseed(&sb, "db2", "db1", &backup).await;
    let record = sb
        .config()
        .agent
        .work_dir
        .join("db2/swaps")
        .join(format!("job-{}.json", id.0));
    let mut first = agent_child(&sb, "db2", &[]);
    send_all(port, id, &token, &backup.payload).await;
    wait_for(
        std::time::Duration::from_secs(30),
        "the swap record",
        || async { record.exists() },
    )
    .await;
    // The first agent is frozen mid-swap; a second one of the same server starts.
    let pid = nix::unistd::Pid::from_raw(first.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP).unwrap();
    let second = agent_once(&sb, "db2").await;
    assert!(
        text(&second).contains("a swap record of an agent that still runs: left to it"),
        "{}",
        text(&second)
    );
    assert!(record.exists());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT).unwrap();
    let status = tokio::task::spawn_blocking(move || first.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success());
    let result = ended(&job(&sb, "db2", id).await, "success");
    assert!(!result.contains("the agent that found it"), "{result}");
    replicating(&sb, "db2").await;
    assert!(!record.exists());
}
