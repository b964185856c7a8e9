//! Choosing the job to run and superseding older ones, as the reference donor script does,
//! with our documented deviation for rows being run and rows newer than the chosen one.

use ferryman_db::mysql_async::prelude::Queryable;
use ferryman_jobs::{JobStatus, Outcome, Task};
use ferryman_sandbox::testing::TestSandbox;

use crate::{get, jobs, legacy_insert, raw};

#[tokio::test(flavor = "multi_thread")]
async fn the_newest_runnable_row_is_chosen_and_older_ones_superseded() {
    let sb = TestSandbox::start(0).await;
    let mut jobs = jobs(&sb, "replication_manager_schema").await;
    let mut raw = raw(&sb).await;
    // A row a legacy donor script is running (it sets result='processing', nothing else).
    let t = Task::Mariabackup;
    let running = add(&mut jobs, t).await;
    raw.exec_drop(
        "UPDATE replication_manager_schema.jobs SET result='processing' WHERE id=?",
        (running.0,),
    )
    .await
    .unwrap();
    let r1 = add(&mut jobs, t).await;
    let r2 = add(&mut jobs, t).await;
    let cancelled = add(&mut jobs, t).await;
    assert!(jobs.cancel(cancelled, "not needed").await.unwrap());
    let other = add(&mut jobs, Task::Mysqldump).await;
    let r3 = add(&mut jobs, t).await;

    let chosen = jobs.find(Task::Mariabackup).await.unwrap().unwrap();
    assert_eq!(chosen.id, r3, "newest undone, not processing");

    // A row enqueued after the choice is new work: the reference (`id <> chosen`) would drop it.
    let r4 = add(&mut jobs, t).await;
    assert_eq!(jobs.supersede(Task::Mariabackup, r3).await.unwrap(), 2);
    for id in [r1, r2] {
        let row = get(&mut jobs, id).await;
        assert!(row.done && row.end.is_some(), "{row:?}");
        assert_eq!(row.status(), JobStatus::Done(Outcome::Superseded));
        assert_eq!(
            row.result.as_deref(),
            Some(format!("superseded by job {r3}").as_str())
        );
    }
    // Deviation: the reference marks the running row done too; we leave it running.
    let row = get(&mut jobs, running).await;
    assert_eq!(row.status(), JobStatus::Running { claimed_by: None });
    assert_eq!(row.result.as_deref(), Some("processing"));
    assert!(row.end.is_none() && row.outcome.is_none());
    // Other tasks' rows and done rows are untouched.
    assert_eq!(get(&mut jobs, other).await.status(), JobStatus::Pending);
    let row = get(&mut jobs, cancelled).await;
    assert_eq!(row.status(), JobStatus::Done(Outcome::Cancelled));
    assert_eq!(row.result.as_deref(), Some("not needed"));
    assert_eq!(get(&mut jobs, r3).await.status(), JobStatus::Pending);
    assert_eq!(get(&mut jobs, r4).await.status(), JobStatus::Pending);

    // `take` now runs r4 and supersedes r3; the running row is never chosen.
    let claimed = jobs
        .take(Task::Mariabackup, "agent")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.id(), r4);
    assert_eq!(
        get(&mut jobs, r3).await.status(),
        JobStatus::Done(Outcome::Superseded)
    );
    assert!(jobs.find(Task::Mariabackup).await.unwrap().is_none());
    assert!(jobs
        .take(Task::Mariabackup, "agent-2")
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        get(&mut jobs, running).await.status(),
        JobStatus::Running { claimed_by: None }
    );
    // The other task still has its job.
    assert_eq!(jobs.find(Task::Mysqldump).await.unwrap().unwrap().id, other);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_accepted_spelling_of_a_task_is_found() {
    let sb = TestSandbox::start(0).await;
    let mut jobs = jobs(&sb, "replication_manager_schema").await;
    let mut raw = raw(&sb).await;
    let schema = "replication_manager_schema";

    // replication-manager's manager writes `errorlog` and `flashbackmariabackup`.
    let errorlog = legacy_insert(&mut raw, schema, "errorlog").await;
    assert_eq!(jobs.find(Task::Error).await.unwrap().unwrap().id, errorlog);
    let error = legacy_insert(&mut raw, schema, "error").await;
    let claimed = jobs.take(Task::Error, "agent").await.unwrap().unwrap();
    assert_eq!(claimed.id(), error);
    assert_eq!(claimed.task().unwrap(), Task::Error);
    let row = get(&mut jobs, errorlog).await;
    assert_eq!(
        row.status(),
        JobStatus::Done(Outcome::Superseded),
        "both spellings superseded"
    );
    assert_eq!(row.task.as_deref(), Some("errorlog"));

    let flashback = legacy_insert(&mut raw, schema, "flashbackmariabackup").await;
    let found = jobs
        .find(Task::Flashbackmariabackup)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, flashback);
    assert_eq!(found.parse_task().unwrap(), Task::Flashbackmariabackup);

    // The donor script's `flashbackmariadbackup` (21 characters) does not fit the reference's
    // `task VARCHAR(20)` (strict mode refuses it); in a table with a wider column it is found.
    assert!(legacy_insert_err(&mut raw, schema, "flashbackmariadbackup").await);
    raw.query_drop("CREATE DATABASE wide").await.unwrap();
    raw.query_drop(
        "CREATE TABLE wide.jobs (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, task VARCHAR(32), \
         port INT, server VARCHAR(255), done TINYINT NOT NULL DEFAULT 0, result VARCHAR(1000), \
         start DATETIME, end DATETIME, KEY (task))",
    )
    .await
    .unwrap();
    let donor_spelling = legacy_insert(&mut raw, "wide", "flashbackmariadbackup").await;
    let mut wide = crate::jobs(&sb, "wide").await;
    let claimed = wide
        .take(Task::Flashbackmariabackup, "agent")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.id(), donor_spelling);
    assert_eq!(claimed.job().task.as_deref(), Some("flashbackmariadbackup"));
    assert_eq!(claimed.task().unwrap(), Task::Flashbackmariabackup);

    // What we write is the canonical spelling.
    let id = jobs
        .enqueue(
            Task::Flashbackmariabackup,
            "127.0.0.1",
            Some(4444),
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        get(&mut jobs, id).await.task.as_deref(),
        Some("flashbackmariabackup")
    );
}

async fn add(jobs: &mut ferryman_jobs::JobsConn, task: Task) -> ferryman_jobs::JobId {
    jobs.enqueue(task, "127.0.0.1", Some(4000), None, None)
        .await
        .unwrap()
}

async fn legacy_insert_err(
    raw: &mut ferryman_db::mysql_async::Conn,
    schema: &str,
    task: &str,
) -> bool {
    raw.exec_drop(
        format!("INSERT INTO `{schema}`.jobs(task, done, start) VALUES (?, 0, NOW())"),
        (task,),
    )
    .await
    .is_err()
}

/// Rows name the server they were written for (`node`): another server's rows in this table (a
/// Galera SST copies the donor's table, rows included) are never chosen nor superseded, and
/// are closed by `close_foreign`; rows of writers that name no server (legacy) still run.
#[tokio::test(flavor = "multi_thread")]
async fn rows_written_for_another_server_are_never_taken_and_are_closed() {
    let sb = TestSandbox::start(0).await;
    let mut jobs = jobs(&sb, "replication_manager_schema").await;
    let mut raw = raw(&sb).await;
    let t = Task::Mariabackup;
    let ours = add(&mut jobs, t).await;
    let node: Option<String> = raw
        .exec_first(
            "SELECT node FROM replication_manager_schema.jobs WHERE id = ?",
            (ours.0,),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(node.as_deref(), Some(jobs.server()));
    let legacy = legacy_insert(&mut raw, "replication_manager_schema", "mariabackup").await;
    let foreign = add(&mut jobs, t).await;
    raw.exec_drop(
        "UPDATE replication_manager_schema.jobs SET node = 'db9' WHERE id = ?",
        (foreign.0,),
    )
    .await
    .unwrap();

    // The newest row is db9's: the newest of ours is chosen; db9's is not superseded.
    let chosen = jobs.find(t).await.unwrap().unwrap();
    assert_eq!(chosen.id, legacy);
    assert!(!jobs
        .runnable()
        .await
        .unwrap()
        .rows()
        .iter()
        .any(|r| r.id == foreign));
    assert_eq!(jobs.supersede(t, legacy).await.unwrap(), 1);
    assert_eq!(get(&mut jobs, foreign).await.status(), JobStatus::Pending);
    assert_eq!(
        get(&mut jobs, ours).await.status(),
        JobStatus::Done(Outcome::Superseded)
    );

    assert_eq!(jobs.close_foreign().await.unwrap(), 1);
    let row = get(&mut jobs, foreign).await;
    assert_eq!(row.status(), JobStatus::Done(Outcome::Cancelled));
    assert!(
        row.result
            .as_deref()
            .unwrap_or("")
            .contains("written for another server"),
        "{row:?}"
    );
    assert_eq!(jobs.close_foreign().await.unwrap(), 0);
    assert_eq!(get(&mut jobs, legacy).await.status(), JobStatus::Pending);
}
