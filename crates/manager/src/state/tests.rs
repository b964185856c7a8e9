use ferryman_proto::Task;
use ferryman_repo::Timestamp;

use super::*;
use crate::events::{EventKind, Severity};
use crate::registry::JobState;
use crate::verification::{RunItem, RunState};

fn job(id: u64, state: JobState, created_at: u64) -> JobRecord {
    JobRecord {
        id,
        cluster: "c".into(),
        server: "db1".into(),
        task: Task::Mariabackup,
        node_job_id: Some(7),
        state,
        phase: "receiving".into(),
        bytes: 1 << 40,
        bytes_total: None,
        node_result: None,
        error: None,
        backup_id: Some("c/db1/x".into()),
        trigger: "api".into(),
        created_at,
        ended_at: None,
    }
}

fn event(id: u64, at: i64) -> Event {
    Event {
        id,
        at: Timestamp::from_unix(at),
        kind: EventKind::ArchiveDiverged,
        severity: Severity::Error,
        cluster: "c".into(),
        server: None,
        backup: Some("c/db1/x".into()),
        subject: Some("physical".into()),
        message: "it's \"quoted\"; DROP TABLE events; --".into(),
    }
}

#[test]
fn what_is_saved_reads_back_after_a_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let now = Timestamp::now().unix();
    {
        let state = State::open(dir.path()).expect("open");
        state.save_job(&job(1, JobState::Receiving, now as u64));
        let mut done = job(1, JobState::Succeeded, now as u64);
        done.ended_at = Some(now as u64);
        state.save_job(&done);
        state.save_job(&job(2, JobState::Failed, now as u64));
        state.save_event(&event(5, now));
        let mut item = RunItem::new("c");
        item.reasons = vec!["rows: differ".into()];
        item.done = true;
        state.save_run(&VerifyRun {
            id: 3,
            trigger: "api".into(),
            state: RunState::Done,
            ok: Some(false),
            started_at: Timestamp::from_unix(now),
            ended_at: Some(Timestamp::from_unix(now)),
            items: vec![item],
        });
        state.close();
    }
    let state = State::open(dir.path()).expect("reopen");
    let jobs = state.recent_jobs(10);
    assert_eq!(jobs.iter().map(|j| j.id).collect::<Vec<_>>(), [2, 1]);
    assert_eq!(jobs[1].state, JobState::Succeeded);
    assert_eq!(jobs[1].bytes, 1 << 40);
    assert_eq!(jobs[1].backup_id.as_deref(), Some("c/db1/x"));
    assert_eq!(state.job(1).map(|j| j.ended_at), Some(Some(now as u64)));
    assert!(state.job(9).is_none());
    let events = state.recent_events(10);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, EventKind::ArchiveDiverged);
    assert_eq!(events[0].message, event(5, now).message);
    let runs = state.recent_runs(10);
    assert_eq!(runs[0].items[0].reasons, ["rows: differ"]);
    assert_eq!(runs[0].ok, Some(false));
}

#[test]
fn pruning_forgets_old_rows_but_never_the_newest_id() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = State::open(dir.path()).expect("open");
    let old = Timestamp::now().unix() - 200 * 86_400;
    for id in 1..=3 {
        state.save_event(&event(id, old));
    }
    state.save_event(&event(4, Timestamp::now().unix()));
    state.save_job(&job(8, JobState::Failed, old as u64));
    state.prune(Duration::from_secs(90 * 86_400));
    state.flush();
    assert_eq!(
        state
            .recent_events(10)
            .iter()
            .map(|e| e.id)
            .collect::<Vec<_>>(),
        [4]
    );
    // The only job is old but the newest: kept, so ids continue after it.
    assert_eq!(state.recent_jobs(10).len(), 1);
}

#[test]
fn without_a_file_records_go_nowhere_and_nothing_waits() {
    let state = State::unavailable("broken");
    state.save_job(&job(1, JobState::Queued, 0));
    state.flush();
    assert!(state.recent_jobs(10).is_empty());
    assert_eq!(state.problem(), Some("broken"));
}
