//! Carrying rows across a reseed: read them all, replace a table's rows with them exactly.

use ferryman_jobs::{ClaimedJob, Task, Token, Verdict};
use ferryman_sandbox::testing::TestSandbox;
use serde_json::json;

use crate::jobs;

#[tokio::test(flavor = "multi_thread")]
async fn replace_all_puts_back_exactly_the_rows_read_and_claims_go_on() {
    let sb = TestSandbox::start(0).await;
    let mut conn = jobs(&sb, "replication_manager_schema").await;
    // This server's rows: one done, one pending, one being run (the reseed itself).
    let done = conn
        .enqueue(Task::Optimize, "127.0.0.1", None, None, None)
        .await
        .unwrap();
    let claimed = conn.claim(done, "agent@h:1").await.unwrap().unwrap();
    claimed
        .finish(&mut conn, Verdict::Success, "ok 'quoted'")
        .await
        .unwrap();
    let pending = conn
        .enqueue(Task::Error, "127.0.0.1", Some(4000), None, None)
        .await
        .unwrap();
    let token = Token::generate().unwrap();
    let reseed = conn
        .enqueue(
            Task::Reseedmariabackup,
            "127.0.0.1",
            Some(4444),
            Some(&token),
            Some(&json!({"method": "physicalbackup"})),
        )
        .await
        .unwrap();
    let running = conn.claim(reseed, "agent@h:2").await.unwrap().unwrap();
    running
        .progress(&mut conn, "Waiting backup.")
        .await
        .unwrap();
    let ours = conn.all().await.unwrap();
    assert_eq!(
        ours.iter().map(|j| j.id).collect::<Vec<_>>(),
        [done, pending, reseed]
    );

    // What the restored datadir brings: the donor's rows, ids overlapping ours.
    conn.replace_all(&[]).await.unwrap();
    for _ in 0..5 {
        conn.enqueue(Task::Stop, "127.0.0.1", None, None, None)
            .await
            .unwrap();
    }
    conn.replace_all(&ours).await.unwrap();
    assert_eq!(conn.all().await.unwrap(), ours, "every column round-trips");

    // The running claim carries on; new jobs continue after the largest id.
    let resumed = ClaimedJob::resume(&mut conn, reseed, "agent@h:2")
        .await
        .unwrap();
    resumed
        .finish(&mut conn, Verdict::Success, "reseeded")
        .await
        .unwrap();
    let next = conn
        .enqueue(Task::Optimize, "127.0.0.1", None, None, None)
        .await
        .unwrap();
    assert!(next > reseed, "{next:?}");
    assert!(conn.find(Task::Stop).await.unwrap().is_none());
    assert_eq!(conn.find(Task::Error).await.unwrap().unwrap().id, pending);
}
