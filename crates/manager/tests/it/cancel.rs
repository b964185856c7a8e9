//! Cancelling a job: while it waits for an agent and while its stream arrives, it ends
//! `cancelled` and its row on the node says it was cancelled; and job ids, which a restarted
//! manager never gives again.

use std::time::Duration;

use ferryman_jobs::{JobId, JobStatus, JobsConn, Outcome, Schema, Task, Verdict};
use ferryman_manager::{JobState, Services};
use ferryman_proto::{StreamHeader, StreamKind};
use ferryman_sandbox::testing::TestSandbox;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::common::*;

async fn jobs_conn(sb: &TestSandbox) -> JobsConn {
    JobsConn::open(&sb.endpoint(sb.server("db1").unwrap()), &Schema::default())
        .await
        .unwrap()
}

/// The node row of a cancelled manager job: ended `cancelled`, with the reason.
async fn assert_row_cancelled(sb: &TestSandbox, node_id: u64) {
    let mut conn = jobs_conn(sb).await;
    let row = conn.get(JobId(node_id)).await.unwrap();
    assert_eq!(row.status(), JobStatus::Done(Outcome::Cancelled), "{row:?}");
    assert_eq!(
        row.result.as_deref(),
        Some("cancelled by request"),
        "{row:?}"
    );
    conn.close().await.unwrap();
}

/// Plays a slow agent for the next mysqldump row of db1: claims it, sends the start of a dump
/// and then a line every 100 ms until the manager closes the stream, then records a failure as
/// an agent whose stream broke would. Returns whether that record was taken.
async fn slow_agent(sb: &TestSandbox, services: &Services) -> bool {
    let mut conn = jobs_conn(sb).await;
    let claimed = loop {
        if let Some(c) = conn.take(Task::Mysqldump, "slow-agent").await.unwrap() {
            break c;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let token = claimed.job().token.clone().unwrap().stream_token().unwrap();
    let mut s = TcpStream::connect(("127.0.0.1", services.config.manager.stream_port))
        .await
        .unwrap();
    s.write_all(&StreamHeader::new(StreamKind::Backup, claimed.id().0, token).encode())
        .await
        .unwrap();
    let mut line = b"-- MariaDB dump 10.19  Distrib 10.11.6-MariaDB\n".to_vec();
    for i in 0..300 {
        if s.write_all(&line).await.is_err() {
            break;
        }
        line = format!("INSERT INTO `t` VALUES ({i});\n").into_bytes();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recorded = claimed
        .finish(&mut conn, Verdict::Failure, "the stream broke")
        .await
        .is_ok();
    conn.close().await.unwrap();
    recorded
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancelled_job_ends_cancelled_and_ids_survive_a_restart() {
    let sb = TestSandbox::start(0).await;
    let config = config_with(&sb, "", "");
    let running = start(&config, &[]).await;
    let services = running.services.clone();

    // Cancelled while no agent has taken it.
    let waiting = services
        .start_task("sandbox", "db1", Task::Mysqldump, "test")
        .unwrap();
    let node_id = wait_node_id(&services, waiting).await;
    assert!(services.registry.cancel(waiting));
    let done = wait_job(&services, waiting, Duration::from_secs(10)).await;
    assert_eq!(done.state, JobState::Cancelled, "{done:?}");
    assert_eq!(done.error.as_deref(), Some("cancelled by request"));
    assert_row_cancelled(&sb, node_id).await;

    // Cancelled while its stream arrives: the row is ended before the socket closes, so the
    // agent cannot record a failure over it.
    let receiving = services
        .start_task("sandbox", "db1", Task::Mysqldump, "test")
        .unwrap();
    // The agent runs beside the test's own steps below.
    let agent = tokio::time::timeout(Duration::from_secs(60), slow_agent(&sb, &services));
    let steps = async {
        for _ in 0..200 {
            if services.registry.get(receiving).unwrap().state == JobState::Receiving {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let record = services.registry.get(receiving).unwrap();
        assert_eq!(record.state, JobState::Receiving, "{record:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(services.registry.cancel(receiving));
        wait_job(&services, receiving, Duration::from_secs(20)).await
    };
    let (recorded, done) = tokio::join!(agent, steps);
    assert_eq!(done.state, JobState::Cancelled, "{done:?}");
    assert_eq!(done.error.as_deref(), Some("cancelled by request"));
    assert_eq!(
        done.node_result.as_deref(),
        Some("cancelled by request"),
        "{done:?}"
    );
    assert!(
        !recorded.unwrap(),
        "the agent recorded over a cancelled row"
    );
    assert_row_cancelled(&sb, done.node_job_id.unwrap()).await;
    assert!(services.repos.list(None, None).await.unwrap().is_empty());

    // A restarted manager gives ids above every id the last one gave.
    running.stop().await;
    let again = start(&config, &[]).await;
    let next = again
        .services
        .start_task("sandbox", "db1", Task::Mysqldump, "test")
        .unwrap();
    assert!(next > receiving, "id {next} after {receiving}");
    let counter = sb
        .path()
        .join("manager")
        .join(ferryman_manager::registry::IDS_FILE);
    let reserved: u64 = std::fs::read_to_string(&counter)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(reserved > next, "{counter:?} holds {reserved}");
    assert!(again.services.registry.cancel(next));
    wait_job(&again.services, next, Duration::from_secs(10)).await;
    again.stop().await;
}
