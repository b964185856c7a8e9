//! What a running task has done so far, shared between the task (which updates it) and the
//! reporter (which writes it into the job's `progress` column every few seconds).
//!
//! A task can also hold the reporter off ([`Progress::hold_reports`]) while the jobs table is
//! out of reach in a way the reporter must not misread: during a reseed's datadir swap the
//! server runs for a moment on a datadir whose jobs table does not have the job yet, and a
//! reporter finding its row gone would take the job for cancelled.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::HumanBytes;

/// A running task's progress: a phase in words and a byte count.
#[derive(Debug)]
pub struct Progress {
    started: Instant,
    bytes: AtomicU64,
    phase: Mutex<String>,
    /// Read-held by the reporter while it writes; write-held by a task to hold it off.
    reports: tokio::sync::RwLock<()>,
}

/// While alive, the reporter writes nothing (see [`Progress::hold_reports`]).
#[derive(Debug)]
pub struct ReportsHeld<'a> {
    _guard: tokio::sync::RwLockWriteGuard<'a, ()>,
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}

impl Progress {
    /// Progress of a task starting now.
    pub fn new() -> Progress {
        Progress {
            started: Instant::now(),
            bytes: AtomicU64::new(0),
            phase: Mutex::new("starting".to_owned()),
            reports: tokio::sync::RwLock::new(()),
        }
    }

    /// Holds the reporter off until the returned guard is dropped: no progress, heartbeat or
    /// claim check is written meanwhile. Waits for a report being written to end.
    pub async fn hold_reports(&self) -> ReportsHeld<'_> {
        ReportsHeld {
            _guard: self.reports.write().await,
        }
    }

    /// For the reporter: `None` while reports are held, else a guard to keep while writing.
    pub(crate) fn may_report(&self) -> Option<tokio::sync::RwLockReadGuard<'_, ()>> {
        self.reports.try_read().ok()
    }

    /// Sets the phase ("streaming to 10.0.0.5:4001", "optimizing db.t").
    pub fn set_phase(&self, phase: impl Into<String>) {
        if let Ok(mut p) = self.phase.lock() {
            *p = phase.into();
        }
    }

    /// Counts `n` more bytes sent or received.
    pub fn add_bytes(&self, n: u64) {
        self.bytes.fetch_add(n, Ordering::Relaxed);
    }

    /// Bytes counted so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Time since the task started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// One line for the `progress` column: `phase; 1.20 GiB in 30s (40.10 MiB/s)`.
    pub fn render(&self) -> String {
        let phase = self
            .phase
            .lock()
            .map(|p| p.clone())
            .unwrap_or_else(|_| "running".to_owned());
        let bytes = self.bytes();
        if bytes == 0 {
            format!("{phase}; {}", seconds(self.elapsed()))
        } else {
            format!("{phase}; {}", throughput(bytes, self.elapsed()))
        }
    }
}

/// `1.50 GiB`, `512 B`: indicatif's binary units, as the CLI and the verifier write them.
pub fn bytes(n: u64) -> String {
    HumanBytes(n).to_string()
}

/// `12s 300ms`, `1h 2m 3s`: humantime's form, rounded to the tenth of a second.
pub fn seconds(d: Duration) -> String {
    let tenths = (d.as_millis() + 50) / 100;
    let rounded = Duration::from_millis(u64::try_from(tenths * 100).unwrap_or(u64::MAX));
    humantime::format_duration(rounded).to_string()
}

/// `1.20 GiB in 30s (40.10 MiB/s)`.
pub fn throughput(n: u64, d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 0.001 {
        return format!("{} in {}", bytes(n), seconds(d));
    }
    let rate = (n as f64 / secs) as u64;
    format!("{} in {} ({}/s)", bytes(n), seconds(d), bytes(rate))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_a_human_wrote_them() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1536), "1.50 KiB");
        assert_eq!(bytes(3 * 1024 * 1024 * 1024), "3.00 GiB");
        assert_eq!(
            throughput(10 * 1024 * 1024, Duration::from_secs(2)),
            "10.00 MiB in 2s (5.00 MiB/s)"
        );
    }

    #[test]
    fn durations_read_like_humantime_to_the_tenth() {
        assert_eq!(seconds(Duration::ZERO), "0s");
        assert_eq!(seconds(Duration::from_millis(2349)), "2s 300ms");
        assert_eq!(seconds(Duration::from_millis(2350)), "2s 400ms");
        assert_eq!(seconds(Duration::from_millis(3_723_040)), "1h 2m 3s");
    }

    #[test]
    fn render_shows_phase_and_bytes() {
        let p = Progress::new();
        assert!(p.render().starts_with("starting; "));
        p.set_phase("streaming to 127.0.0.1:1");
        p.add_bytes(2048);
        assert!(
            p.render()
                .starts_with("streaming to 127.0.0.1:1; 2.00 KiB in "),
            "{}",
            p.render()
        );
    }
}
