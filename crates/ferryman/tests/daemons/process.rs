//! `ferryman manager` as a child process, for the tests that stop or kill it. Included by
//! path (`#[path = "daemons/process.rs"] mod process;`) beside `daemons/lines.rs` as `lines`.
#![allow(dead_code)] // each test binary uses its own part

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

const BIN: &str = env!("CARGO_BIN_EXE_ferryman");

/// The manager daemon; killed by PID if the test ends before it was stopped. When the test
/// passes, an ERROR line in its log that the test did not declare (`expect_error`) fails it.
pub struct Daemon {
    pub child: Option<Child>,
    log: PathBuf,
    expected_errors: Vec<&'static str>,
}

impl Daemon {
    pub fn start(config: &Path, log: PathBuf) -> Daemon {
        let file = std::fs::File::create(&log).unwrap();
        #[allow(clippy::disallowed_methods)] // running the binary under test
        let child = Command::new(BIN)
            .args(["manager", "--config", config.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .unwrap();
        Daemon {
            child: Some(child),
            log,
            expected_errors: Vec::new(),
        }
    }

    /// ERROR lines containing `substring` are part of the scenario.
    #[allow(dead_code)] // for the scenarios that make the manager log an error
    pub fn expect_error(&mut self, substring: &'static str) {
        self.expected_errors.push(substring);
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, then the exit status (within 30 s).
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().unwrap();
        kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "the manager did not exit within 30 s of SIGTERM:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Daemon {
    /// SIGHUP: the manager reloads its configuration.
    pub fn hangup(&self) {
        let child = self.child.as_ref().unwrap();
        kill(Pid::from_raw(child.id() as i32), Signal::SIGHUP).unwrap();
    }

    /// SIGKILL, as a host's crash or the OOM killer would: nothing of the manager's runs after.
    pub fn kill(&mut self) {
        let mut child = self.child.take().unwrap();
        kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
        child.wait().unwrap();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            if std::thread::panicking() {
                eprintln!("manager log:\n{}", self.log());
            }
        }
        if !std::thread::panicking() {
            crate::lines::assert_no_unexpected_errors(&self.log, &self.expected_errors);
        }
    }
}
