//! What a pass costs the server when there is nothing to do, measured by the server.

use ferryman_jobs::{JobsConn, Task};
use ferryman_sandbox::testing::TestSandbox;

use super::*;

/// Statements an idle pass may run on its session: the read of abandoned claims and the read
/// of runnable rows. A `take` for each configured task would add at least one per task.
const IDLE_PASS_STATEMENTS: u64 = 2;

/// Statements the session in `slot` runs during a pass, the cost of counting taken away; and
/// what the pass did.
async fn pass(
    slot: &mut Option<JobsConn>,
    agent: &Agent,
    shutdown: &Shutdown,
) -> (u64, PassReport) {
    let conn = slot.as_mut().unwrap();
    let a = conn.questions().await.unwrap();
    let b = conn.questions().await.unwrap();
    let mut report = PassReport::default();
    agent.pass_on(slot, shutdown, &mut report).await.unwrap();
    let c = slot.as_mut().unwrap().questions().await.unwrap();
    ((c - b) - (b - a), report)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_pass_runs_two_statements_whatever_the_number_of_tasks() {
    let sb = TestSandbox::start(0).await;
    let config = sb.config();
    let agent = Agent::new(&config, &sb.primary().name).unwrap();
    assert!(
        agent.settings.tasks.len() >= 17,
        "{:?}",
        agent.settings.tasks
    );
    let shutdown = Shutdown::default();
    let mut slot = None;
    // The first pass opens the session, creates the table and looks for reseed leftovers.
    let mut report = PassReport::default();
    agent
        .pass_on(&mut slot, &shutdown, &mut report)
        .await
        .unwrap();
    for _ in 0..3 {
        let (n, report) = pass(&mut slot, &agent, &shutdown).await;
        assert!(report.ran.is_empty(), "{report:?}");
        assert!(n <= IDLE_PASS_STATEMENTS, "an idle pass ran {n} statements");
    }

    // A row whose task no runner knows could still be one of a configured task's, by the
    // server's collation: then every task is looked for, as before, and this one is taken.
    let id = slot
        .as_mut()
        .unwrap()
        .enqueue(Task::Optimize, "127.0.0.1", None, None, None)
        .await
        .unwrap();
    sb.sql(
        &sb.primary().name,
        &format!("UPDATE replication_manager_schema.jobs SET task = 'OPTIMIZE ' WHERE id = {id}"),
    )
    .await;
    let (n, report) = pass(&mut slot, &agent, &shutdown).await;
    assert!(n > IDLE_PASS_STATEMENTS, "{n}");
    assert_eq!(report.ran.len(), 1, "{report:?}");
    assert_eq!(report.ran[0].id, id, "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runnable_row_of_a_configured_task_is_taken_and_run_in_the_same_pass() {
    let sb = TestSandbox::start(0).await;
    let config = sb.config();
    let agent = Agent::new(&config, &sb.primary().name).unwrap();
    let shutdown = Shutdown::default();
    let mut slot = None;
    let mut report = PassReport::default();
    agent
        .pass_on(&mut slot, &shutdown, &mut report)
        .await
        .unwrap();
    let conn = slot.as_mut().unwrap();
    let older = conn
        .enqueue(Task::Optimize, "127.0.0.1", None, None, None)
        .await
        .unwrap();
    let newer = conn
        .enqueue(Task::Optimize, "127.0.0.1", None, None, None)
        .await
        .unwrap();
    let mut report = PassReport::default();
    agent
        .pass_on(&mut slot, &shutdown, &mut report)
        .await
        .unwrap();
    assert_eq!(report.ran.len(), 1, "{report:?}");
    assert_eq!(report.ran[0].id, newer, "{report:?}");
    assert_eq!(report.ran[0].verdict, Verdict::Success, "{report:?}");
    let conn = slot.as_mut().unwrap();
    let older = conn.get(older).await.unwrap();
    assert!(older.done, "{older:?}");
    assert_eq!(older.outcome.as_deref(), Some("superseded"), "{older:?}");
}
