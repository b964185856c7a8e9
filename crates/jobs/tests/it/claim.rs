//! Atomic claims: of many concurrent claimers on separate connections, exactly one wins.

use std::sync::Arc;

use ferryman_jobs::{ClaimedJob, JobId, JobStatus, JobsConn, Outcome, Schema, Task, Verdict};
use ferryman_sandbox::testing::TestSandbox;
use tokio::sync::Barrier;

use crate::{get, jobs};

const CLAIMERS: usize = 8;
const ROUNDS: usize = 5;

/// Opens `CLAIMERS` sessions, then runs `op` on all of them at once (released by a barrier).
async fn race<F, Fut>(sb: &TestSandbox, op: F) -> Vec<(String, Option<ClaimedJob>, JobsConn)>
where
    F: Fn(JobsConn, String) -> Fut,
    Fut: std::future::Future<Output = (Option<ClaimedJob>, JobsConn)> + Send + 'static,
{
    let barrier = Arc::new(Barrier::new(CLAIMERS));
    let mut handles = Vec::new();
    for i in 0..CLAIMERS {
        let conn = JobsConn::open(&sb.endpoint(sb.primary()), &Schema::default())
            .await
            .unwrap();
        let name = format!("agent-{i}");
        let fut = op(conn, name.clone());
        let barrier = barrier.clone();
        handles.push(tokio::spawn(async move {
            barrier.wait().await;
            let (claimed, conn) = fut.await;
            (name, claimed, conn)
        }));
    }
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

fn single_winner(
    results: &mut Vec<(String, Option<ClaimedJob>, JobsConn)>,
) -> (String, ClaimedJob, JobsConn) {
    let winners: Vec<&str> = results
        .iter()
        .filter(|r| r.1.is_some())
        .map(|r| r.0.as_str())
        .collect();
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    let idx = results.iter().position(|r| r.1.is_some()).unwrap();
    let (name, claimed, conn) = results.swap_remove(idx);
    (name, claimed.unwrap(), conn)
}

#[tokio::test(flavor = "multi_thread")]
async fn of_eight_concurrent_claimers_exactly_one_wins() {
    let sb = TestSandbox::start(0).await;
    let mut jobs = jobs(&sb, "replication_manager_schema").await;

    for _ in 0..ROUNDS {
        let id = jobs
            .enqueue(Task::Optimize, "127.0.0.1", None, None, None)
            .await
            .unwrap();
        let mut results = race(&sb, |mut conn, name| async move {
            let claimed = conn.claim(id, &name).await.unwrap();
            (claimed, conn)
        })
        .await;
        let (name, claimed, mut conn) = single_winner(&mut results);
        assert_eq!(claimed.id(), id);
        let row = get(&mut jobs, id).await;
        assert_eq!(
            row.status(),
            JobStatus::Running {
                claimed_by: Some(name.clone())
            }
        );
        assert!(row.heartbeat.is_some());
        // The losers cannot take it either, now.
        assert!(jobs.claim(id, "late").await.unwrap().is_none());
        claimed
            .finish(&mut conn, Verdict::Success, "optimized")
            .await
            .unwrap();
        assert!(jobs.claim(id, "after-done").await.unwrap().is_none());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn of_eight_concurrent_takers_exactly_one_gets_the_job() {
    let sb = TestSandbox::start(0).await;
    let mut jobs = jobs(&sb, "replication_manager_schema").await;

    for round in 0..ROUNDS {
        // Round 0: one job. Later rounds: three, of which the newest is run and two superseded.
        let count = if round == 0 { 1 } else { 3 };
        let mut ids: Vec<JobId> = Vec::new();
        for _ in 0..count {
            ids.push(
                jobs.enqueue(Task::Mysqldump, "127.0.0.1", Some(4000), None, None)
                    .await
                    .unwrap(),
            );
        }
        let mut results = race(&sb, |mut conn, name| async move {
            let claimed = conn.take(Task::Mysqldump, &name).await.unwrap();
            (claimed, conn)
        })
        .await;
        let (name, claimed, mut conn) = single_winner(&mut results);
        let newest = *ids.last().unwrap();
        assert_eq!(claimed.id(), newest);
        assert_eq!(claimed.claimant(), name);
        assert_eq!(claimed.task().unwrap(), Task::Mysqldump);
        for older in &ids[..ids.len() - 1] {
            let row = get(&mut jobs, *older).await;
            assert_eq!(
                row.status(),
                JobStatus::Done(Outcome::Superseded),
                "{row:?}"
            );
            assert_eq!(row.result.unwrap(), format!("superseded by job {newest}"));
        }
        claimed
            .finish(&mut conn, Verdict::Success, "dumped")
            .await
            .unwrap();
        assert!(jobs.find(Task::Mysqldump).await.unwrap().is_none());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn claimed_lists_only_rows_a_ferryman_runner_holds_with_their_heartbeat_age() {
    let sb = TestSandbox::start(0).await;
    let mut jobs = jobs(&sb, "replication_manager_schema").await;
    let pending = jobs
        .enqueue(Task::Optimize, "127.0.0.1", None, None, None)
        .await
        .unwrap();
    let held = jobs
        .enqueue(Task::Mariabackup, "127.0.0.1", Some(4000), None, None)
        .await
        .unwrap();
    let claimed = jobs.claim(held, "agent@host:1").await.unwrap().unwrap();
    let list = jobs.claimed().await.unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0].job.id, held);
    assert_eq!(list[0].job.claimed_by.as_deref(), Some("agent@host:1"));
    let age = list[0].heartbeat_age_s.unwrap();
    assert!((0..5).contains(&age), "{age}");
    claimed
        .finish(&mut jobs, Verdict::Failure, "x")
        .await
        .unwrap();
    assert!(jobs.claimed().await.unwrap().is_empty());
    let _ = pending;
}
