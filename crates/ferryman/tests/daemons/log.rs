//! The daemons' logs, checked when the test ends: an ERROR line the test did not declare
//! expected fails it (a WARN line too, for the tests that ask for it), like a daemon that
//! needed an operator would fail in production.
//!
//! The manager and the agents of [`super::Daemons`] run in the test's process: one
//! process-wide `tracing` subscriber writes each event to the log of the test whose runtime
//! it happened on (each `#[tokio::test]` has its own runtime, and its blocking threads belong
//! to it). Agents run as child processes write their stderr to their own file. Both use the
//! binary's format (`tracing_subscriber::fmt`, no colours): a timestamp, then the level word.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use tokio::runtime::{Handle, Id};

use super::lines;

/// The logs of one test's daemons; checked when dropped, unless the test is already failing.
pub struct Logs {
    dir: Option<tempfile::TempDir>,
    runtime: Id,
    /// Every log to check: the in-process one first, then the child processes'.
    files: Mutex<Vec<PathBuf>>,
    expected_errors: Mutex<Vec<String>>,
    expected_warnings: Mutex<Vec<String>>,
    deny_warnings: AtomicBool,
}

impl Logs {
    /// Starts collecting what the current runtime logs; panics outside a runtime or when the
    /// runtime already has a collector (one `Daemons` per test).
    pub fn start() -> Logs {
        let dir = tempfile::Builder::new()
            .prefix("ferryman-daemons-")
            .tempdir()
            .unwrap();
        let path = dir.path().join("in-process.log");
        let runtime = Handle::current().id();
        install_subscriber();
        let sink = Arc::new(Mutex::new(File::create(&path).unwrap()));
        let previous = sinks().insert(runtime, sink);
        assert!(
            previous.is_none(),
            "a test runtime has one Daemons (and one log) at a time"
        );
        Logs {
            dir: Some(dir),
            runtime,
            files: Mutex::new(vec![path]),
            expected_errors: Mutex::default(),
            expected_warnings: Mutex::default(),
            deny_warnings: AtomicBool::new(false),
        }
    }

    /// A new log file for a child process named `name` (`agent-db1`).
    pub fn child_log(&self, name: &str) -> PathBuf {
        let dir = self.dir.as_ref().map(|d| d.path()).unwrap();
        let mut files = lock(&self.files);
        let path = dir.join(format!("{name}-{}.log", files.len()));
        files.push(path.clone());
        path
    }

    /// Every log file checked.
    pub fn files(&self) -> Vec<PathBuf> {
        lock(&self.files).clone()
    }

    /// Checks the log at `path` too (a child process the test started with its own file).
    pub fn watch(&self, path: &Path) {
        lock(&self.files).push(path.to_owned());
    }

    /// ERROR lines containing `substring` are part of the scenario.
    pub fn expect_error(&self, substring: &str) {
        lock(&self.expected_errors).push(substring.to_owned());
    }

    /// WARN lines containing `substring` are part of the scenario (see [`Logs::deny_warnings`]).
    pub fn expect_warning(&self, substring: &str) {
        lock(&self.expected_warnings).push(substring.to_owned());
    }

    /// Unexpected WARN lines fail the test too.
    pub fn deny_warnings(&self) {
        self.deny_warnings.store(true, Ordering::Relaxed);
    }

    /// The log lines the test did not expect, each after its file's name; an unreadable log
    /// is one too.
    fn unexpected(&self) -> Vec<String> {
        let errors = lock(&self.expected_errors);
        let warnings = lock(&self.expected_warnings);
        let deny_warnings = self.deny_warnings.load(Ordering::Relaxed);
        let mut found = Vec::new();
        for path in lock(&self.files).iter() {
            let text = match std::fs::read(path) {
                Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                Err(e) => {
                    found.push(format!(
                        "{}: cannot read this log: {e} (keep it until the Daemons are dropped)",
                        path.display()
                    ));
                    continue;
                }
            };
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            let warnings = deny_warnings.then_some(warnings.as_slice());
            for entry in lines::unexpected(&text, &errors, warnings) {
                found.push(format!("{name}: {entry}"));
            }
        }
        found
    }
}

impl Drop for Logs {
    #[allow(clippy::print_stderr)] // the test harness shows stderr of failed tests
    fn drop(&mut self) {
        sinks().remove(&self.runtime);
        if std::thread::panicking() {
            if let Some(dir) = self.dir.take() {
                eprintln!("test failed: daemon logs kept at {}", dir.keep().display());
            }
            return;
        }
        let unexpected = self.unexpected();
        if unexpected.is_empty() {
            return;
        }
        let kept = self.dir.take().map(|d| d.keep()).unwrap_or_default();
        let what = if self.deny_warnings.load(Ordering::Relaxed) {
            "ERROR or WARN"
        } else {
            "ERROR"
        };
        panic!(
            "the daemons logged {} unexpected {what} line(s) (declare the ones the scenario \
             causes with `expect_error`/`expect_warning`); logs kept at {}:\n{}",
            unexpected.len(),
            kept.display(),
            unexpected.join("\n")
        );
    }
}

type Sink = Arc<Mutex<File>>;

/// The in-process log of each runtime that has one.
fn sinks() -> std::sync::MutexGuard<'static, HashMap<Id, Sink>> {
    static SINKS: OnceLock<Mutex<HashMap<Id, Sink>>> = OnceLock::new();
    lock(SINKS.get_or_init(Mutex::default))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The process-wide subscriber, as the binary sets it up (`FERRYMAN_LOG`, `info` by default),
/// writing to the log of the runtime the event happened on.
fn install_subscriber() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let filter = tracing_subscriber::EnvFilter::try_from_env("FERRYMAN_LOG")
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(false)
            .with_writer(|| RuntimeLog)
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("the daemons' log subscriber is the test binary's only one");
    });
}

/// Writes to the log of the current runtime; elsewhere (no runtime, or a runtime without
/// daemons) to the test's captured stderr.
struct RuntimeLog;

impl std::io::Write for RuntimeLog {
    #[allow(clippy::print_stderr)] // captured by the test harness like the test's own output
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let sink = Handle::try_current()
            .ok()
            .and_then(|h| sinks().get(&h.id()).cloned());
        match sink {
            Some(file) => lock(&file).write_all(buf)?,
            None => eprint!("{}", String::from_utf8_lossy(buf)),
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
