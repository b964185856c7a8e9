//! The manager's history: jobs, events and verification runs kept across restarts, in one
//! SQLite file, `monitoring-datadir/state.db`; and for notifications, the problems told and not
//! yet resolved and the messages that could not be delivered (dead letters).
//!
//! # Why it never stands in the way
//! The manifests are the catalogue of backups; this file is the record of what happened
//! around them. So nothing waits for it: the parts hand their records to [`State`], whose one
//! writer thread commits them (several per transaction when they come fast), and a write that
//! fails is logged with the fix while backups go on. A file that cannot be opened (corrupt, of
//! a newer Ferryman, not Ferryman's) leaves the manager running on its in-memory lists, with an
//! error event that says how to get the history back.
//!
//! # What is read back
//! At start only: the newest of each list, which the in-memory lists (`registry.rs`,
//! `events.rs`, `verification/runs.rs`) start from, and whose ids they continue after. Jobs and
//! runs the previous manager left running are recorded as interrupted.
//!
//! # Bounded
//! Rows older than `manager.history-retention` are deleted at start and every hour, and each
//! table keeps at most [`MAX_ROWS`]; the newest row of a table always stays (ids continue from
//! it).
//!
//! # Layout
//! - `state/schema.rs`: the file opened, checked (`quick_check`, whose file it is, its version)
//!   and migrated.
//! - `state/rows.rs`: the rows written and read back.

mod rows;
mod schema;

pub(crate) use rows::serde_name;
pub use rows::{DeadLetter, OpenProblem};

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use rusqlite::Connection;

use crate::events::Event;
use crate::registry::JobRecord;
use crate::verification::VerifyRun;

/// The file's name in `monitoring-datadir`.
pub const FILE: &str = "state.db";
/// Beside [`FILE`], written when a history is begun: with it, a missing [`FILE`] is a history
/// lost (`history-lost`); without it (a first start, or an upgrade from a release that kept no
/// history), a new history simply begins.
pub const BEGUN: &str = "state.db.begun";

/// Rows kept per table at most, whatever their age.
pub const MAX_ROWS: i64 = 1_000_000;

/// Why the history cannot be used. Every message ends with what to do.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// SQLite refused the file (not a database, unreadable, locked).
    #[error("{p}: the manager's history database cannot be used ({source}); backups go on, but jobs, events and verification runs are not kept across restarts: stop the manager, move the file aside (`mv {p} {p}.broken`) and start it again to begin a new history (backups are not affected: the repository's manifests are their catalogue)", p = .path.display())]
    Broken {
        /// The file.
        path: PathBuf,
        /// SQLite's reason.
        #[source]
        source: rusqlite::Error,
    },
    /// `quick_check` found damage.
    #[error("{p}: the manager's history database is damaged ({detail}); backups go on, but history is not kept: stop the manager, move the file aside (`mv {p} {p}.broken`) and start it again to begin a new history (backups are not affected: the repository's manifests are their catalogue)", p = .path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What `quick_check` said.
        detail: String,
    },
    /// The file was migrated by a newer Ferryman.
    #[error("{}: the history database has schema version {found}, written by a newer Ferryman (this one knows up to {known}); history is not kept until the newer release runs again: upgrade this manager, or move the file aside to begin a new history", .path.display())]
    Newer {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: i64,
        /// This release's.
        known: i64,
    },
    /// Some other program's SQLite database.
    #[error("{}: this SQLite database is not Ferryman's history; it is left alone and history is not kept: move it out of `manager.monitoring-datadir`", .path.display())]
    Foreign {
        /// The file.
        path: PathBuf,
    },
}

/// What the writer thread is given.
enum Write {
    Job(JobRecord),
    Event(Event),
    Run(VerifyRun),
    Problem(OpenProblem),
    Resolved(String),
    DeadLetter(DeadLetter),
    Prune { before: i64 },
    Flush(mpsc::Sender<()>),
}

/// The history: a writer thread and a connection for reading, or nothing (see
/// [`State::unavailable`]).
#[derive(Debug)]
pub struct State {
    writer: Mutex<Option<mpsc::Sender<Write>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    reader: Option<Mutex<Connection>>,
    /// Why there is no history, when there is none.
    unavailable: Option<String>,
}

impl std::fmt::Debug for Write {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Write")
    }
}

impl State {
    /// The history in `dir` (created when missing, migrated when older).
    pub fn open(dir: &Path) -> Result<State, StateError> {
        let path = dir.join(FILE);
        let conn = schema::open_writer(&path)?;
        let reader = schema::open_reader(&path)?;
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("ferryman-state".to_owned())
            .spawn(move || write_loop(conn, rx, path))
            .map_err(|e| StateError::Broken {
                path: dir.join(FILE),
                source: rusqlite::Error::ToSqlConversionFailure(e.into()),
            })?;
        Ok(State {
            writer: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
            reader: Some(Mutex::new(reader)),
            unavailable: None,
        })
    }

    /// No history (the file could not be opened: `why`): records go nowhere, nothing is read.
    pub fn unavailable(why: impl Into<String>) -> State {
        State {
            writer: Mutex::new(None),
            thread: Mutex::new(None),
            reader: None,
            unavailable: Some(why.into()),
        }
    }

    /// Why there is no history, when there is none.
    pub fn problem(&self) -> Option<&str> {
        self.unavailable.as_deref()
    }

    fn send(&self, write: Write) {
        let writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = writer.as_ref() {
            // The thread only ends when the sender is dropped (close): nothing to tell.
            let _ = tx.send(write);
        }
    }

    /// Records a job as it is now.
    pub fn save_job(&self, job: &JobRecord) {
        self.send(Write::Job(job.clone()));
    }

    /// Records an event.
    pub fn save_event(&self, event: &Event) {
        self.send(Write::Event(event.clone()));
    }

    /// Records a verification run as it is now.
    pub fn save_run(&self, run: &VerifyRun) {
        self.send(Write::Run(run.clone()));
    }

    /// Records a problem told (opened, or told again).
    pub fn save_problem(&self, problem: &OpenProblem) {
        self.send(Write::Problem(problem.clone()));
    }

    /// Records that problem `key` is resolved.
    pub fn resolve_problem(&self, key: &str) {
        self.send(Write::Resolved(key.to_owned()));
    }

    /// Records a message that could not be delivered.
    pub fn save_dead_letter(&self, letter: &DeadLetter) {
        self.send(Write::DeadLetter(letter.clone()));
    }

    /// Every open problem.
    pub fn problems(&self) -> Vec<OpenProblem> {
        self.read("open problems", rows::problems)
            .unwrap_or_default()
    }

    /// The newest `limit` dead letters, newest first.
    pub fn dead_letters(&self, limit: usize) -> Vec<DeadLetter> {
        self.read("dead letters", |c| rows::dead_letters(c, limit))
            .unwrap_or_default()
    }

    /// Forgets what ended more than `keep` ago (and rows beyond [`MAX_ROWS`]).
    pub fn prune(&self, keep: Duration) {
        let before = SystemTime::now()
            .checked_sub(keep)
            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs() as i64);
        self.send(Write::Prune { before });
    }

    /// Waits (blocking, at most 30 s) until everything recorded so far is committed.
    pub fn flush(&self) {
        let (tx, rx) = mpsc::channel();
        self.send(Write::Flush(tx));
        if self.unavailable.is_none() && rx.recv_timeout(Duration::from_secs(30)).is_err() {
            tracing::warn!(
                "the history database did not commit within 30 s; the last records may be lost"
            );
        }
    }

    /// Commits what is queued and stops the writer thread (blocking). Records given later are
    /// dropped.
    pub fn close(&self) {
        drop(self.writer.lock().unwrap_or_else(|p| p.into_inner()).take());
        if let Some(thread) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = thread.join();
        }
    }

    fn read<T>(&self, what: &str, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Option<T> {
        let reader = self.reader.as_ref()?;
        let conn = reader.lock().unwrap_or_else(|p| p.into_inner());
        match f(&conn) {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the {what} from the history database");
                None
            }
        }
    }

    /// The newest `limit` jobs, newest first (empty without history).
    pub fn recent_jobs(&self, limit: usize) -> Vec<JobRecord> {
        self.read("jobs", |c| rows::recent_jobs(c, limit))
            .unwrap_or_default()
    }

    /// Job `id`, when the history has it.
    pub fn job(&self, id: u64) -> Option<JobRecord> {
        self.read("job", |c| rows::job_by_id(c, id)).flatten()
    }

    /// The newest `limit` events, newest first.
    pub fn recent_events(&self, limit: usize) -> Vec<Event> {
        self.read("events", |c| rows::recent_events(c, limit))
            .unwrap_or_default()
    }

    /// The newest `limit` verification runs, newest first.
    pub fn recent_runs(&self, limit: usize) -> Vec<VerifyRun> {
        self.read("verification runs", |c| rows::recent_runs(c, limit))
            .unwrap_or_default()
    }
}

impl Drop for State {
    fn drop(&mut self) {
        self.close();
    }
}

/// The writer thread: takes what is queued (up to 256 records per transaction), commits, and
/// says what failed at most once a minute.
fn write_loop(mut conn: Connection, rx: mpsc::Receiver<Write>, path: PathBuf) {
    let mut last_error: Option<Instant> = None;
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < 256 {
            match rx.try_recv() {
                Ok(w) => batch.push(w),
                Err(_) => break,
            }
        }
        let mut flushed = Vec::new();
        let result = (|| -> rusqlite::Result<()> {
            let tx = conn.transaction()?;
            for write in batch {
                match write {
                    Write::Job(j) => rows::save_job(&tx, &j)?,
                    Write::Event(e) => rows::save_event(&tx, &e)?,
                    Write::Run(r) => rows::save_run(&tx, &r)?,
                    Write::Problem(p) => rows::save_problem(&tx, &p)?,
                    Write::Resolved(key) => rows::close_problem(&tx, &key)?,
                    Write::DeadLetter(d) => rows::save_dead_letter(&tx, &d)?,
                    Write::Prune { before } => {
                        let gone = rows::prune(&tx, before, MAX_ROWS)?;
                        if gone > 0 {
                            tracing::info!(
                                rows = gone,
                                "history older than manager.history-retention deleted"
                            );
                        }
                    }
                    Write::Flush(done) => flushed.push(done),
                }
            }
            tx.commit()
        })();
        if let Err(e) = result {
            if last_error.is_none_or(|t| t.elapsed() > Duration::from_secs(60)) {
                last_error = Some(Instant::now());
                tracing::error!(file = %path.display(), error = %e, "cannot write the manager's history (backups go on; jobs and events since are not kept): check the file system of manager.monitoring-datadir (full? read-only?)");
            }
        }
        for done in flushed {
            let _ = done.send(());
        }
    }
}

#[cfg(test)]
mod tests;
