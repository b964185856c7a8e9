//! The history's rows: a job, an event, a verification run written and read back.
//!
//! States and kinds are stored as the API spells them (`succeeded`, `verification-failed`), so
//! the file reads plainly with `sqlite3`. A row this Ferryman cannot read back (a value only a
//! newer release writes, which the schema version keeps out) is skipped with a warning rather
//! than failing the whole list.

use ferryman_repo::Timestamp;
use rusqlite::{params, Connection, Row};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::events::Event;
use crate::registry::JobRecord;
use crate::verification::VerifyRun;

/// The text serde gives a unit enum variant (`"succeeded"`): how states and kinds are stored
/// here and spelt by the API.
pub(crate) fn serde_name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// The variant named `s`, as serde reads it.
fn variant<T: DeserializeOwned>(s: &str) -> rusqlite::Result<T> {
    serde_json::from_value(serde_json::Value::String(s.to_owned())).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
    })
}

/// SQLite's integers are signed; ids, sizes and times fit.
fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(super) fn save_job(conn: &Connection, r: &JobRecord) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO jobs (id, cluster, server, task, node_job_id, state, phase, bytes,
            bytes_total, node_result, error, backup_id, trigger, created_at, ended_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )?
    .execute(params![
        int(r.id),
        r.cluster,
        r.server,
        r.task.as_str(),
        r.node_job_id.map(int),
        serde_name(&r.state),
        r.phase,
        int(r.bytes),
        r.bytes_total.map(int),
        r.node_result,
        r.error,
        r.backup_id,
        r.trigger,
        int(r.created_at),
        r.ended_at.map(int),
    ])?;
    Ok(())
}

const JOB_COLUMNS: &str = "id, cluster, server, task, node_job_id, state, phase, bytes, bytes_total, node_result, error, backup_id, trigger, created_at, ended_at";

fn job(row: &Row<'_>) -> rusqlite::Result<JobRecord> {
    let task: String = row.get(3)?;
    Ok(JobRecord {
        id: row.get::<_, i64>(0)? as u64,
        cluster: row.get(1)?,
        server: row.get(2)?,
        task: task.parse().map_err(|e: ferryman_proto::Error| {
            rusqlite::Error::FromSqlConversionFailure(3, rusqlite::types::Type::Text, e.into())
        })?,
        node_job_id: row.get::<_, Option<i64>>(4)?.map(|n| n as u64),
        state: variant(&row.get::<_, String>(5)?)?,
        phase: row.get(6)?,
        bytes: row.get::<_, i64>(7)? as u64,
        bytes_total: row.get::<_, Option<i64>>(8)?.map(|n| n as u64),
        node_result: row.get(9)?,
        error: row.get(10)?,
        backup_id: row.get(11)?,
        trigger: row.get(12)?,
        created_at: row.get::<_, i64>(13)? as u64,
        ended_at: row.get::<_, Option<i64>>(14)?.map(|n| n as u64),
    })
}

/// The newest `limit` jobs, newest first.
pub(super) fn recent_jobs(conn: &Connection, limit: usize) -> rusqlite::Result<Vec<JobRecord>> {
    let sql = format!("SELECT {JOB_COLUMNS} FROM jobs ORDER BY id DESC LIMIT ?1");
    read_all(conn, &sql, int(limit as u64), job, "job")
}

/// Job `id`.
pub(super) fn job_by_id(conn: &Connection, id: u64) -> rusqlite::Result<Option<JobRecord>> {
    let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1");
    Ok(read_all(conn, &sql, int(id), job, "job")?.pop())
}

pub(super) fn save_event(conn: &Connection, e: &Event) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO events (id, at, kind, severity, cluster, server, backup, subject, message)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        int(e.id),
        e.at.unix(),
        serde_name(&e.kind),
        serde_name(&e.severity),
        e.cluster,
        e.server,
        e.backup,
        e.subject,
        e.message,
    ])?;
    Ok(())
}

fn event(row: &Row<'_>) -> rusqlite::Result<Event> {
    Ok(Event {
        id: row.get::<_, i64>(0)? as u64,
        at: Timestamp::from_unix(row.get(1)?),
        kind: variant(&row.get::<_, String>(2)?)?,
        severity: variant(&row.get::<_, String>(3)?)?,
        cluster: row.get(4)?,
        server: row.get(5)?,
        backup: row.get(6)?,
        subject: row.get(7)?,
        message: row.get(8)?,
    })
}

/// The newest `limit` events, newest first.
pub(super) fn recent_events(conn: &Connection, limit: usize) -> rusqlite::Result<Vec<Event>> {
    read_all(
        conn,
        "SELECT id, at, kind, severity, cluster, server, backup, subject, message FROM events ORDER BY id DESC LIMIT ?1",
        int(limit as u64),
        event,
        "event",
    )
}

pub(super) fn save_run(conn: &Connection, r: &VerifyRun) -> rusqlite::Result<()> {
    let items = serde_json::to_string(&r.items)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?;
    conn.prepare_cached(
        "INSERT OR REPLACE INTO verify_runs (id, trigger, state, ok, started_at, ended_at, items)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        int(r.id),
        r.trigger,
        serde_name(&r.state),
        r.ok,
        r.started_at.unix(),
        r.ended_at.map(Timestamp::unix),
        items,
    ])?;
    Ok(())
}

fn run(row: &Row<'_>) -> rusqlite::Result<VerifyRun> {
    let items: String = row.get(6)?;
    Ok(VerifyRun {
        id: row.get::<_, i64>(0)? as u64,
        trigger: row.get(1)?,
        state: variant(&row.get::<_, String>(2)?)?,
        ok: row.get(3)?,
        started_at: Timestamp::from_unix(row.get(4)?),
        ended_at: row.get::<_, Option<i64>>(5)?.map(Timestamp::from_unix),
        items: serde_json::from_str(&items).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(6, rusqlite::types::Type::Text, e.into())
        })?,
    })
}

/// The newest `limit` verification runs, newest first.
pub(super) fn recent_runs(conn: &Connection, limit: usize) -> rusqlite::Result<Vec<VerifyRun>> {
    read_all(
        conn,
        "SELECT id, trigger, state, ok, started_at, ended_at, items FROM verify_runs ORDER BY id DESC LIMIT ?1",
        int(limit as u64),
        run,
        "verification run",
    )
}

/// Forgets what ended before `before` (seconds since the epoch), and rows beyond `max_rows`
/// per table, but never the newest row of a table: its id is where the next one continues.
pub(super) fn prune(conn: &Connection, before: i64, max_rows: i64) -> rusqlite::Result<usize> {
    let mut gone = 0;
    for (table, time) in [
        ("jobs", "coalesce(ended_at, created_at)"),
        ("events", "at"),
        ("verify_runs", "coalesce(ended_at, started_at)"),
        ("dead_letters", "at"),
    ] {
        gone += conn.execute(
            &format!(
                "DELETE FROM {table} WHERE id < (SELECT max(id) FROM {table})
                 AND ({time} < ?1 OR id <= (SELECT max(id) FROM {table}) - ?2)"
            ),
            params![before, max_rows],
        )?;
    }
    Ok(gone)
}

fn read_all<T>(
    conn: &Connection,
    sql: &str,
    arg: i64,
    map: fn(&Row<'_>) -> rusqlite::Result<T>,
    what: &str,
) -> rusqlite::Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map([arg], map)?;
    let mut out = Vec::new();
    for row in rows {
        match row {
            Ok(v) => out.push(v),
            Err(e) => {
                tracing::warn!(error = %e, "skipped a {what} of the history database that cannot be read")
            }
        }
    }
    Ok(out)
}

/// A problem told and not resolved: its key, the event that opened it, when it was last told,
/// and how many events of it were not told since.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenProblem {
    /// `family/cluster/subject`.
    pub key: String,
    /// The event that opened it.
    pub opened_by: u64,
    /// When it was last told, seconds since the epoch.
    pub told_at: i64,
    /// Events of it not told since.
    pub quiet: u64,
}

pub(super) fn save_problem(conn: &Connection, p: &OpenProblem) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO problems (key, opened_by, told_at, quiet) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![p.key, int(p.opened_by), p.told_at, int(p.quiet)])?;
    Ok(())
}

pub(super) fn close_problem(conn: &Connection, key: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM problems WHERE key = ?1")?
        .execute([key])?;
    Ok(())
}

/// Every open problem.
pub(super) fn problems(conn: &Connection) -> rusqlite::Result<Vec<OpenProblem>> {
    let mut stmt = conn.prepare_cached("SELECT key, opened_by, told_at, quiet FROM problems")?;
    let rows = stmt.query_map([], |r| {
        Ok(OpenProblem {
            key: r.get(0)?,
            opened_by: r.get::<_, i64>(1)? as u64,
            told_at: r.get(2)?,
            quiet: r.get::<_, i64>(3)? as u64,
        })
    })?;
    rows.collect()
}

/// A message no try could deliver (or one held back by a channel's rate limit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DeadLetter {
    /// Increasing.
    pub id: u64,
    /// When it was given up, seconds since the epoch.
    pub at: i64,
    /// The channel (`[notifications.email.NAME]` or `[notifications.webhook.NAME]`).
    pub channel: String,
    /// The event it told.
    pub event_id: u64,
    /// How many tries were made.
    pub tries: u32,
    /// The last try's error.
    pub error: String,
    /// What would have been sent (the webhook's JSON body, or the mail's text).
    pub body: String,
}

pub(super) fn save_dead_letter(conn: &Connection, d: &DeadLetter) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO dead_letters (at, channel, event_id, tries, error, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![d.at, d.channel, int(d.event_id), d.tries, d.error, d.body])?;
    Ok(())
}

/// The newest `limit` dead letters, newest first.
pub(super) fn dead_letters(conn: &Connection, limit: usize) -> rusqlite::Result<Vec<DeadLetter>> {
    read_all(
        conn,
        "SELECT id, at, channel, event_id, tries, error, body FROM dead_letters ORDER BY id DESC LIMIT ?1",
        int(limit as u64),
        |r| {
            Ok(DeadLetter {
                id: r.get::<_, i64>(0)? as u64,
                at: r.get(1)?,
                channel: r.get(2)?,
                event_id: r.get::<_, i64>(3)? as u64,
                tries: r.get(4)?,
                error: r.get(5)?,
                body: r.get(6)?,
            })
        },
        "dead letter",
    )
}
