//! Starting a throwaway `mariadbd`, waiting until it answers, and making sure nothing of a
//! throwaway directory keeps running: its server, and any tool working in it.
//!
//! A process counts as the directory's only when its command line names a path inside the
//! directory (`--defaults-file=DIR/my.cnf`, `-C DIR/data`, …): directory names are unique
//! (creating process's PID and a counter), so a PID recycled by an unrelated process is never
//! signalled, whatever a pid file says.

use std::path::Path;
use std::time::{Duration, Instant};

use ferryman_db::{Endpoint, Session};
use ferryman_exec::{process, Program};

use super::layout::Paths;

/// How long a server may take to shut down after SIGTERM before it is killed.
pub(crate) const STOP_GRACE: Duration = Duration::from_secs(120);
/// How many error-log lines a failure quotes.
const LOG_LINES: usize = 8;

/// Starts `mariadbd` on the directory's defaults file as a daemon; returns its PID at once.
pub(crate) fn spawn(mariadbd: &Program, paths: &Paths) -> ferryman_exec::Result<u32> {
    // Stale ones (a restart) would confuse the readiness probe.
    let _ = std::fs::remove_file(paths.pid_file());
    let _ = std::fs::remove_file(paths.socket());
    mariadbd
        .command()
        // The only option file it reads, so first.
        .arg(paths.defaults_file_arg())
        .spawn_daemon(&paths.stdout_log())
}

/// Waits until the server `pid` accepts `endpoint`'s connections. `Err` says why not, in
/// words for a message, with the error log's last lines: it exited, or `timeout` passed (the
/// caller stops it).
pub(crate) async fn wait_ready(
    paths: &Paths,
    endpoint: &Endpoint,
    pid: u32,
    timeout: Duration,
) -> std::result::Result<(), String> {
    let started = Instant::now();
    loop {
        if !process::is_running(pid) {
            return Err(format!(
                "mariadbd (pid {pid}) exited while starting; its error log ends: {}",
                log_excerpt(&paths.error_log())
            ));
        }
        match endpoint.connect(Session::Plain).await {
            Ok(conn) => {
                let _ = conn.disconnect().await;
                return Ok(());
            }
            Err(e) if started.elapsed() > timeout => {
                return Err(format!(
                    "mariadbd (pid {pid}) did not accept connections within {} s ({e}); its error log ends: {}",
                    timeout.as_secs(),
                    log_excerpt(&paths.error_log())
                ));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// The error log's `[ERROR]` lines and last lines, joined with " | " for one message line
/// (the directory, log included, is removed, so the message must carry them).
pub(crate) fn log_excerpt(log: &Path) -> String {
    let Ok(text) = std::fs::read_to_string(log) else {
        return "(no error log)".to_owned();
    };
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .collect();
    if lines.is_empty() {
        return "(empty)".to_owned();
    }
    // The server says what went wrong in [ERROR] lines, then a few generic ones ("Aborting").
    let errors: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].contains("[ERROR]"))
        .collect();
    let mut keep: Vec<usize> = errors[errors.len().saturating_sub(LOG_LINES / 2)..].to_vec();
    keep.extend(lines.len().saturating_sub(LOG_LINES / 2)..lines.len());
    keep.sort_unstable();
    keep.dedup();
    keep.iter()
        .map(|&i| lines[i])
        .collect::<Vec<_>>()
        .join(" | ")
}

/// True when `pid` runs and its command line names something inside `dir`.
pub(crate) fn runs_in(pid: u32, dir: &Path) -> bool {
    process::is_running(pid) && names(&process::cmdline(pid), dir)
}

fn names(cmdline: &str, dir: &Path) -> bool {
    cmdline.contains(&format!("{}/", dir.display()))
}

/// Every live process whose command line names something inside `dir`, except this one.
pub(crate) fn processes_in(dir: &Path) -> Vec<u32> {
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me && pid > 1 && runs_in(pid, dir))
        .collect()
}

/// Stops the directory's server `pid` (when it is still this directory's) with SIGTERM, then
/// SIGKILL after `grace`. Blocking.
pub(crate) fn stop(pid: u32, dir: &Path, grace: Duration) -> ferryman_exec::Result<()> {
    if runs_in(pid, dir) {
        tracing::debug!(pid, dir = %dir.display(), "stopping the throwaway server");
        process::stop(pid, grace)?;
    }
    Ok(())
}

/// Kills (SIGKILL) `pid`, when it is this directory's, and every other process working in the
/// directory, then removes the directory. Blocking. Returns what could not be done.
pub(crate) fn kill_and_remove(dir: &Path, pid: Option<u32>) -> Vec<String> {
    let mut problems = Vec::new();
    let mut pids: Vec<u32> = pid.into_iter().filter(|&p| runs_in(p, dir)).collect();
    for other in processes_in(dir) {
        if !pids.contains(&other) {
            pids.push(other);
        }
    }
    for pid in pids {
        tracing::debug!(pid, dir = %dir.display(), "killing a process of a throwaway directory");
        if let Err(e) = process::kill_now(pid) {
            problems.push(format!("process {pid}: {e}"));
        }
    }
    if let Err(e) = remove_dir(dir) {
        problems.push(format!("cannot remove the directory: {e}"));
    }
    problems
}

/// Removes `dir` and everything in it; gone already is fine. Retried a few times: a tool
/// killed an instant ago may still create a file while the tree is walked.
pub(crate) fn remove_dir(dir: &Path) -> std::io::Result<()> {
    let mut last = None;
    for attempt in 0..5u64 {
        match std::fs::remove_dir_all(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => last = Some(e),
        }
        std::thread::sleep(Duration::from_millis(50 * (attempt + 1)));
    }
    match last {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// What is left of a throwaway directory after its removal: a process working in it, the
/// directory itself. Empty when nothing is.
pub(crate) fn leftovers(dir: &Path, pid: Option<u32>) -> Vec<String> {
    let mut pids: Vec<u32> = pid
        .into_iter()
        .chain(processes_in(dir))
        .filter(|&p| runs_in(p, dir))
        .collect();
    pids.sort_unstable();
    pids.dedup();
    let mut left: Vec<String> = pids
        .into_iter()
        .map(|p| format!("process {p} still runs (`kill -9 {p}`)"))
        .collect();
    if std::fs::symlink_metadata(dir).is_ok() {
        left.push("the directory still exists".to_owned());
    }
    left
}

/// The pid file's PID, if it holds one.
pub(crate) fn read_pid_file(file: &Path) -> Option<u32> {
    std::fs::read_to_string(file).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_inside_the_directory_count() {
        let dir = Path::new("/w/tw-a-1-1");
        assert!(names(
            "/usr/sbin/mariadbd --defaults-file=/w/tw-a-1-1/my.cnf",
            dir
        ));
        assert!(!names(
            "/usr/sbin/mariadbd --defaults-file=/w/tw-a-1-10/my.cnf",
            dir
        ));
        assert!(!names("/usr/bin/sleep 100", dir));
        // This process names no throwaway directory: never a candidate.
        assert!(!runs_in(std::process::id(), dir));
    }

    #[test]
    fn the_excerpt_keeps_errors_and_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("err.log");
        let mut text = String::from("2026 [Note] start\n2026 [ERROR] InnoDB: bad page size\n");
        for i in 0..20 {
            text.push_str(&format!("2026 [Note] line {i}\n"));
        }
        text.push_str("2026 [ERROR] Aborting\n");
        std::fs::write(&log, text).unwrap();
        let excerpt = log_excerpt(&log);
        assert!(
            excerpt.starts_with("2026 [ERROR] InnoDB: bad page size"),
            "{excerpt}"
        );
        assert!(excerpt.ends_with("2026 [ERROR] Aborting"), "{excerpt}");
        assert!(!excerpt.contains("line 5"), "{excerpt}");
        assert_eq!(log_excerpt(&dir.path().join("none")), "(no error log)");
    }
}
