//! Stopping processes by PID and checking that they are alive.
//!
//! Daemons such as `mariadbd` are found again through their pid files, possibly by another
//! invocation of `ferryman` than the one that started them; so liveness is read from `/proc`
//! (a zombie counts as gone) rather than from a child handle.

use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::{Error, Result};

/// How often a stop polls for the process to be gone.
const POLL: Duration = Duration::from_millis(50);
/// How long to wait after SIGKILL before giving up.
const AFTER_KILL: Duration = Duration::from_secs(10);

/// True when `pid` exists and is not a zombie.
pub fn is_running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state is the first field after the parenthesised command name, which may itself
        // contain spaces or parentheses: read from the last ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// The command line of `pid`, arguments joined by spaces (empty if the process is gone).
pub fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| {
            raw.split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

/// Sends SIGTERM, waits up to `grace` for the process to exit, then SIGKILLs it. Blocking: call
/// it from `spawn_blocking` in async code. A process that is already gone is not an error.
pub fn stop(pid: u32, grace: Duration) -> Result<()> {
    if !signal(pid, Signal::SIGTERM)? {
        return Ok(());
    }
    if wait_gone(pid, grace) {
        return Ok(());
    }
    tracing::warn!(
        pid,
        grace_s = grace.as_secs(),
        "process ignored SIGTERM, sending SIGKILL"
    );
    if !signal(pid, Signal::SIGKILL)? || wait_gone(pid, AFTER_KILL) {
        return Ok(());
    }
    Err(Error::StillRunning {
        pid,
        seconds: AFTER_KILL.as_secs(),
    })
}

/// Sends SIGKILL and waits for the process to be gone (tests that simulate crashes use it).
pub fn kill_now(pid: u32) -> Result<()> {
    if !signal(pid, Signal::SIGKILL)? || wait_gone(pid, AFTER_KILL) {
        return Ok(());
    }
    Err(Error::StillRunning {
        pid,
        seconds: AFTER_KILL.as_secs(),
    })
}

/// Sends `sig`; false when the process no longer exists.
fn signal(pid: u32, sig: Signal) -> Result<bool> {
    let Ok(raw) = i32::try_from(pid) else {
        return Ok(false);
    };
    match kill(Pid::from_raw(raw), sig) {
        Ok(()) => Ok(true),
        Err(Errno::ESRCH) => Ok(false),
        Err(source) => Err(Error::Signal { pid, source }),
    }
}

fn wait_gone(pid: u32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if !is_running(pid) {
            return true;
        }
        std::thread::sleep(POLL);
    }
    !is_running(pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_process_is_not_running_and_stops_fine() {
        // PIDs above pid_max (4194304 at most) cannot exist.
        assert!(!is_running(4_999_999));
        stop(4_999_999, Duration::from_millis(10)).unwrap();
        assert_eq!(cmdline(4_999_999), "");
    }

    #[test]
    fn this_process_is_running() {
        assert!(is_running(std::process::id()));
        assert!(!cmdline(std::process::id()).is_empty());
    }
}
