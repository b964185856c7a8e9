//! Success and failure are told apart; a claim taken away (cancelled, marked done by a legacy
//! script, re-claimed) makes progress and finish fail instead of overwriting.

use ferryman_db::mysql_async::prelude::Queryable;
use ferryman_jobs::{
    ClaimedJob, Error, JobId, JobStatus, JobsConn, Outcome, Schema, Task, Verdict,
};
use ferryman_sandbox::testing::TestSandbox;

use crate::{get, jobs, legacy_insert, raw};

async fn add(jobs: &mut JobsConn, task: Task) -> JobId {
    jobs.enqueue(task, "127.0.0.1", Some(4000), None, None)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn outcomes_are_distinguishable_and_a_lost_claim_cannot_finish() {
    let sb = TestSandbox::start(0).await;
    let mut jobs = jobs(&sb, "replication_manager_schema").await;
    let mut raw = raw(&sb).await;

    // Success and failure: both `done = 1`, told apart by `outcome`.
    let ok = add(&mut jobs, Task::Mariabackup).await;
    let bad = add(&mut jobs, Task::Mysqldump).await;
    let c = jobs
        .take(Task::Mariabackup, "agent-a")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.id(), ok);
    c.finish(&mut jobs, Verdict::Success, "completed OK!")
        .await
        .unwrap();
    let c = jobs
        .take(Task::Mysqldump, "agent-a")
        .await
        .unwrap()
        .unwrap();
    c.finish(&mut jobs, Verdict::Failure, "mysqldump: Got error: 1045")
        .await
        .unwrap();
    let (ok_row, bad_row) = (get(&mut jobs, ok).await, get(&mut jobs, bad).await);
    assert!(ok_row.done && bad_row.done && ok_row.end.is_some() && bad_row.end.is_some());
    assert_eq!(ok_row.status(), JobStatus::Done(Outcome::Success));
    assert_eq!(bad_row.status(), JobStatus::Done(Outcome::Failure));
    assert_eq!(ok_row.outcome.as_deref(), Some("success"));
    assert_eq!(bad_row.outcome.as_deref(), Some("failure"));
    assert_eq!(
        bad_row.result.as_deref(),
        Some("mysqldump: Got error: 1045")
    );

    // Cancelled while running: progress and finish fail, the cancellation stays.
    let id = add(&mut jobs, Task::Optimize).await;
    let c = jobs.take(Task::Optimize, "agent-a").await.unwrap().unwrap();
    c.progress(&mut jobs, "table 1 of 9").await.unwrap();
    // Same text in the same second changes no row: still fine while we hold the claim.
    c.progress(&mut jobs, "table 1 of 9").await.unwrap();
    c.heartbeat(&mut jobs).await.unwrap();
    assert!(jobs
        .cancel(id, "operator: maintenance window closed")
        .await
        .unwrap());
    assert!(!jobs.cancel(id, "again").await.unwrap(), "already done");
    let err = c.progress(&mut jobs, "table 2 of 9").await.unwrap_err();
    assert!(
        matches!(err, Error::Cancelled { .. }) && err.is_claim_gone(),
        "{err:?}"
    );
    assert!(c.heartbeat(&mut jobs).await.is_err());
    let err = c
        .finish(&mut jobs, Verdict::Success, "done")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Cancelled { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains(&format!(
            "job {id} was cancelled (operator: maintenance window closed) while agent-a ran it"
        )) && msg.contains("stop the work"),
        "{msg}"
    );
    let row = get(&mut jobs, id).await;
    assert_eq!(row.status(), JobStatus::Done(Outcome::Cancelled));
    assert_eq!(row.progress.as_deref(), Some("table 1 of 9"));

    // A legacy donor script's purge (`SET done=1 WHERE done=0 AND task=... AND ID<>$ID`) marks
    // our running row done: finish must not overwrite it.
    let id = add(&mut jobs, Task::Xtrabackup).await;
    let c = jobs
        .take(Task::Xtrabackup, "agent-a")
        .await
        .unwrap()
        .unwrap();
    let legacy = legacy_insert(&mut raw, "replication_manager_schema", "xtrabackup").await;
    raw.exec_drop(
        "UPDATE replication_manager_schema.jobs set done=1 WHERE done=0 AND task='xtrabackup' AND ID<>?",
        (legacy.0,),
    )
    .await
    .unwrap();
    let err = c
        .finish(&mut jobs, Verdict::Success, "completed OK!")
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::AlreadyDone { ref outcome, .. } if outcome == "NULL"),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("already marked done by someone else"),
        "{err}"
    );
    let row = get(&mut jobs, id).await;
    assert_eq!(row.status(), JobStatus::DoneUnknown);
    assert_eq!(
        row.result.as_deref(),
        Some("processing"),
        "untouched by finish"
    );

    // Released behind our back and claimed by another agent: ours fails, theirs works.
    let id = add(&mut jobs, Task::Slowquery).await;
    let a = jobs
        .take(Task::Slowquery, "agent-a")
        .await
        .unwrap()
        .unwrap();
    raw.exec_drop(
        "UPDATE replication_manager_schema.jobs SET result = NULL WHERE id = ?",
        (id.0,),
    )
    .await
    .unwrap();
    let mut other = JobsConn::open(&sb.endpoint(sb.primary()), &Schema::default())
        .await
        .unwrap();
    let b = other.claim(id, "agent-b").await.unwrap().unwrap();
    let err = a.progress(&mut jobs, "still here").await.unwrap_err();
    assert!(
        matches!(err, Error::ClaimLost { ref claimed_by, .. } if claimed_by.as_deref() == Some("agent-b")),
        "{err:?}"
    );
    let err = a
        .finish(&mut jobs, Verdict::Success, "mine")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ClaimLost { .. }), "{err:?}");

    // The holder can resume its claim on a new connection; nobody else can.
    let err = ClaimedJob::resume(&mut jobs, id, "agent-a")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ClaimLost { .. }), "{err:?}");
    drop(b);
    let b = ClaimedJob::resume(&mut jobs, id, "agent-b").await.unwrap();
    b.finish(&mut jobs, Verdict::Success, "theirs")
        .await
        .unwrap();
    assert_eq!(get(&mut jobs, id).await.result.as_deref(), Some("theirs"));
    let err = ClaimedJob::resume(&mut jobs, id, "agent-b")
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::AlreadyDone { ref outcome, .. } if outcome == "success"),
        "{err:?}"
    );

    // Missing rows and unknown task names.
    let missing = JobId(999_999);
    let err = jobs.get(missing).await.unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("job 999999 does not exist in `replication_manager_schema`.`jobs`"),
        "{err}"
    );
    assert!(matches!(
        jobs.cancel(missing, "x").await.unwrap_err(),
        Error::NotFound { .. }
    ));
    assert!(jobs.claim(missing, "agent-a").await.unwrap().is_none());
    let bogus = legacy_insert(&mut raw, "replication_manager_schema", "mariadbbackup").await;
    let err = get(&mut jobs, bogus).await.parse_task().unwrap_err();
    assert!(
        err.to_string().contains("unknown task `mariadbbackup`"),
        "{err}"
    );
    // Nothing but `Task` values can be enqueued: names are parsed, strictly, before that.
    assert!("mariadbbackup".parse::<Task>().is_err());
    other.close().await.unwrap();
}
