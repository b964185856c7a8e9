//! The history database's file: opened, checked, migrated.
//!
//! # Versions
//! `PRAGMA user_version` is the number of [`MIGRATIONS`] applied; each runs in its own
//! transaction with the version bump, so a crash between two leaves a file at one version or the
//! next, never in between. A file of a newer Ferryman (a version this one does not know) is
//! refused rather than guessed at: a downgrade keeps the file for the newer release. Migrations
//! only ever append to this list.
//!
//! `PRAGMA application_id` marks the file as Ferryman's, so a path that names some other SQLite
//! database is refused instead of being given our tables.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::StateError;

/// "FRYM": the file is Ferryman's history.
const APPLICATION_ID: i64 = 0x4652_594d;

/// Every migration, oldest first. Version N is the file after the first N.
const MIGRATIONS: &[&str] = &[
    // 1: jobs, events, verification runs.
    "CREATE TABLE jobs (
        id INTEGER PRIMARY KEY,
        cluster TEXT NOT NULL,
        server TEXT NOT NULL,
        task TEXT NOT NULL,
        node_job_id INTEGER,
        state TEXT NOT NULL,
        phase TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        bytes_total INTEGER,
        node_result TEXT,
        error TEXT,
        backup_id TEXT,
        trigger TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        ended_at INTEGER
    );
    CREATE INDEX jobs_created_at ON jobs (created_at);
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        kind TEXT NOT NULL,
        severity TEXT NOT NULL,
        cluster TEXT NOT NULL,
        server TEXT,
        backup TEXT,
        subject TEXT,
        message TEXT NOT NULL
    );
    CREATE INDEX events_at ON events (at);
    CREATE TABLE verify_runs (
        id INTEGER PRIMARY KEY,
        trigger TEXT NOT NULL,
        state TEXT NOT NULL,
        ok INTEGER,
        started_at INTEGER NOT NULL,
        ended_at INTEGER,
        items TEXT NOT NULL
    );
    CREATE INDEX verify_runs_started_at ON verify_runs (started_at);",
    // 2: notifications: the problems told and not yet resolved, the messages that could not be
    // delivered.
    "CREATE TABLE problems (
        key TEXT PRIMARY KEY,
        opened_by INTEGER NOT NULL,
        told_at INTEGER NOT NULL,
        quiet INTEGER NOT NULL
    );
    CREATE TABLE dead_letters (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        channel TEXT NOT NULL,
        event_id INTEGER NOT NULL,
        tries INTEGER NOT NULL,
        error TEXT NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX dead_letters_at ON dead_letters (at);",
];

/// The version this Ferryman writes.
pub(super) const VERSION: i64 = MIGRATIONS.len() as i64;

/// Opens (creating when missing) the history at `path` for writing, checks it, and brings its
/// schema to [`VERSION`].
pub(super) fn open_writer(path: &Path) -> Result<Connection, StateError> {
    let broken = |source| StateError::Broken {
        path: path.to_owned(),
        source,
    };
    let conn = Connection::open(path).map_err(broken)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(broken)?;
    // WAL: readers never wait for the writer; NORMAL: a commit is durable against a crash of
    // the manager (not of the host, where the last commits may be lost: history, not data).
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(broken)?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(broken)?;
    let check: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(broken)?;
    if check != "ok" {
        return Err(StateError::Corrupt {
            path: path.to_owned(),
            detail: check,
        });
    }
    let app: i64 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(broken)?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(broken)?;
    if app != APPLICATION_ID && (app != 0 || version != 0 || has_tables(&conn).map_err(broken)?) {
        return Err(StateError::Foreign {
            path: path.to_owned(),
        });
    }
    if version > VERSION {
        return Err(StateError::Newer {
            path: path.to_owned(),
            found: version,
            known: VERSION,
        });
    }
    migrate(&conn, version).map_err(broken)?;
    Ok(conn)
}

/// A second connection to the same file that only reads (the writer's thread owns the other).
pub(super) fn open_reader(path: &Path) -> Result<Connection, StateError> {
    Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .and_then(|c| {
        c.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(c)
    })
    .map_err(|source| StateError::Broken {
        path: path.to_owned(),
        source,
    })
}

fn has_tables(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })
    .map(|n| n > 0)
}

/// Applies the migrations after `from`, each with its version bump in one transaction.
fn migrate(conn: &Connection, from: i64) -> rusqlite::Result<()> {
    for (done, sql) in MIGRATIONS.iter().enumerate().skip(from as usize) {
        let to = done as i64 + 1;
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {sql}; PRAGMA user_version = {to}; PRAGMA application_id = {APPLICATION_ID}; COMMIT;"
        ))?;
        tracing::info!(version = to, "history database migrated");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_file_gets_every_migration_and_reopens_unchanged() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.db");
        let conn = open_writer(&path).expect("open");
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("version");
        assert_eq!(v, VERSION);
        drop(conn);
        open_writer(&path).expect("reopen");
    }

    #[test]
    fn a_file_of_an_older_release_is_migrated_with_its_rows() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.db");
        let c = Connection::open(&path).expect("sqlite");
        migrate_to(&c, 1);
        c.execute_batch(
            "INSERT INTO jobs (id, cluster, server, task, state, phase, bytes, trigger, created_at)
             VALUES (4, 'c', 'db1', 'mariabackup', 'succeeded', 'done', 10, 'api', 1)",
        )
        .expect("row");
        drop(c);
        let conn = open_writer(&path).expect("migrate");
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("version");
        assert_eq!(v, VERSION);
        let jobs = super::super::rows::recent_jobs(&conn, 10).expect("jobs");
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].id, 4);
        conn.execute_batch("SELECT count(*) FROM dead_letters")
            .expect("new table");
    }

    /// A file as release `version` left it.
    fn migrate_to(conn: &Connection, version: usize) {
        for (done, sql) in MIGRATIONS.iter().enumerate().take(version) {
            conn.execute_batch(&format!(
                "{sql}; PRAGMA user_version = {}; PRAGMA application_id = {APPLICATION_ID};",
                done + 1
            ))
            .expect("migration");
        }
    }

    #[test]
    fn a_newer_file_another_database_and_garbage_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let newer = dir.path().join("newer.db");
        drop(open_writer(&newer).expect("open"));
        let c = Connection::open(&newer).expect("sqlite");
        c.pragma_update(None, "user_version", VERSION + 1)
            .expect("bump");
        drop(c);
        let e = open_writer(&newer).expect_err("newer");
        assert!(
            matches!(e, StateError::Newer { found, .. } if found == VERSION + 1),
            "{e}"
        );

        let other = dir.path().join("other.db");
        let c = Connection::open(&other).expect("sqlite");
        c.execute_batch("CREATE TABLE t (x INTEGER)")
            .expect("table");
        drop(c);
        let e = open_writer(&other).expect_err("foreign");
        assert!(matches!(e, StateError::Foreign { .. }), "{e}");

        let garbage = dir.path().join("garbage.db");
        std::fs::write(&garbage, vec![0x5a; 8192]).expect("write");
        let e = open_writer(&garbage).expect_err("garbage");
        assert!(e.to_string().contains("mv "), "{e}");
    }
}
