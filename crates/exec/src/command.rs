//! Running a program: to completion with captured output, or as a detached daemon.

use std::ffi::{OsStr, OsString};
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};

use tracing::debug;

use crate::{Error, Program, Result};

/// How many trailing stderr lines a failure message keeps: enough for the tool's own diagnosis.
const STDERR_TAIL_LINES: usize = 15;

/// What a finished program wrote and how it exited.
#[derive(Debug, Clone)]
pub struct Output {
    /// Exit status.
    pub status: ExitStatus,
    /// Everything written on stdout (lossy UTF-8).
    pub stdout: String,
    /// Everything written on stderr (lossy UTF-8).
    pub stderr: String,
}

/// A command line to run, built argument by argument (never through a shell).
#[derive(Debug, Clone)]
pub struct Command {
    program: Program,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    /// Names only: the values are secrets and never appear in logs or `Debug`.
    secret_env: Vec<(OsString, Secret)>,
    current_dir: Option<PathBuf>,
    /// Start from an empty environment instead of this process's.
    clear_env: bool,
}

#[derive(Clone)]
struct Secret(OsString);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[SECRET]")
    }
}

impl Command {
    /// A command running `program` with no arguments.
    pub fn new(program: &Program) -> Self {
        Command {
            program: program.clone(),
            args: Vec::new(),
            env: Vec::new(),
            secret_env: Vec::new(),
            current_dir: None,
            clear_env: false,
        }
    }

    /// Appends one argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Appends several arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets an environment variable that may appear in logs.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Sets an environment variable holding a secret (e.g. `MYSQL_PWD`): the environment of a
    /// process is readable only by its owner, unlike its command line; the value is never logged.
    pub fn secret_env(mut self, key: impl AsRef<OsStr>, value: &str) -> Self {
        self.secret_env
            .push((key.as_ref().to_owned(), Secret(value.into())));
        self
    }

    /// Gives the program only the variables set on this command (and those of `keep` that this
    /// process has), not this process's whole environment: for a program that must not see the
    /// secrets this process was given through its environment (`password-env`).
    pub fn env_clear_keeping(mut self, keep: &[&str]) -> Self {
        self.clear_env = true;
        let kept: Vec<(OsString, OsString)> = keep
            .iter()
            .filter_map(|k| std::env::var_os(k).map(|v| (OsString::from(k), v)))
            .collect();
        self.env.splice(0..0, kept);
        self
    }

    /// Runs the program in `dir`.
    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.current_dir = Some(dir.as_ref().to_owned());
        self
    }

    /// The command line for logs and messages: program and arguments, which never hold secrets.
    pub fn display(&self) -> String {
        std::iter::once(self.program.path().as_os_str())
            .chain(self.args.iter().map(OsString::as_os_str))
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Runs to completion and fails with the tail of stderr unless the exit status is 0.
    pub async fn run(&self) -> Result<Output> {
        let out = self.output().await?;
        if out.status.success() {
            Ok(out)
        } else {
            Err(Error::Failed {
                command: self.display(),
                status: out.status,
                stderr_tail: tail(&out.stderr, STDERR_TAIL_LINES),
            })
        }
    }

    /// Runs to completion and returns the output whatever the exit status.
    pub async fn output(&self) -> Result<Output> {
        self.check_argv()?;
        debug!(command = %self.display(), "running");
        let out = self
            .tokio_command()
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|source| self.spawn_error(source))?;
        Ok(Output {
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// Starts the program as a daemon that outlives this process: its own process group (so a
    /// Ctrl-C in the terminal that started it does not reach it), stdin from `/dev/null`,
    /// stdout and stderr appended to `log`. Returns its PID. A background thread reaps it when
    /// it exits, so that a stopped daemon never lingers as a zombie of a long-lived caller.
    pub fn spawn_daemon(&self, log: &Path) -> Result<u32> {
        use std::os::unix::process::CommandExt;
        self.check_argv()?;
        let log_error = |source| Error::Io {
            action: "open log file",
            path: log.to_owned(),
            source,
        };
        let stdout = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(log_error)?;
        let stderr = stdout.try_clone().map_err(log_error)?;
        let mut cmd = self.std_command();
        cmd.stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .process_group(0);
        debug!(command = %self.display(), log = %log.display(), "starting daemon");
        let mut child = cmd.spawn().map_err(|source| self.spawn_error(source))?;
        let pid = child.id();
        std::thread::Builder::new()
            .name(format!("reap-{pid}"))
            .spawn(move || {
                // The exit status is read by whoever stops the daemon (through its pid file and
                // /proc); this wait only releases the process-table entry.
                let _ = child.wait();
            })
            .map_err(|source| Error::Spawn {
                program: self.program.name().to_owned(),
                source,
            })?;
        Ok(pid)
    }

    /// Refuses arguments that carry a password: `/proc/*/cmdline` is world-readable.
    pub(crate) fn check_argv(&self) -> Result<()> {
        for arg in &self.args {
            let arg = arg.to_string_lossy();
            if let Some((key, value)) = arg.split_once('=') {
                if key.to_ascii_lowercase().contains("password") && !value.is_empty() {
                    return Err(Error::SecretOnCommandLine {
                        program: self.program.name().to_owned(),
                        argument: format!("{key}=…"),
                    });
                }
            }
        }
        Ok(())
    }

    pub(crate) fn spawn_error(&self, source: std::io::Error) -> Error {
        Error::Spawn {
            program: self.program.path().display().to_string(),
            source,
        }
    }

    fn std_command(&self) -> std::process::Command {
        #[allow(clippy::disallowed_methods)] // this module is the one place allowed to spawn
        let mut cmd = std::process::Command::new(self.program.path());
        cmd.args(&self.args);
        if self.clear_env {
            cmd.env_clear();
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd.envs(self.secret_env.iter().map(|(k, v)| (k, &v.0)));
        if let Some(dir) = &self.current_dir {
            cmd.current_dir(dir);
        }
        cmd
    }

    pub(crate) fn tokio_command(&self) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::from(self.std_command());
        // A cancelled caller must not leave the tool running behind its back.
        cmd.kill_on_drop(true);
        cmd
    }
}

/// The last `lines` non-empty lines of `text`, joined with " | " so they fit one message line.
pub fn tail(text: &str, lines: usize) -> String {
    let kept: Vec<&str> = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .collect();
    kept[kept.len().saturating_sub(lines)..].join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh() -> Program {
        Program::find("sh", "dash").unwrap()
    }

    #[tokio::test]
    async fn failure_reports_the_tail_of_stderr() {
        let err = sh()
            .command()
            .args(["-c", "echo one >&2; echo two >&2; exit 3"])
            .run()
            .await
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("failed (exit status: 3): one | two"), "{msg}");
    }

    #[tokio::test]
    async fn passwords_on_argv_are_refused_before_running() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("ran");
        let err = sh()
            .command()
            .args([
                "-c",
                &format!("touch {}", marker.display()),
                "--password=hunter2",
            ])
            .run()
            .await
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("--password=…"), "{msg}");
        assert!(!msg.contains("hunter2"), "{msg}");
        assert!(!marker.exists(), "the program must not have run");
    }

    #[tokio::test]
    async fn secret_env_reaches_the_program_but_not_debug_output() {
        let cmd = sh()
            .command()
            .args(["-c", "printf %s \"$MYSQL_PWD\""])
            .secret_env("MYSQL_PWD", "s3cr3t");
        assert!(!format!("{cmd:?}").contains("s3cr3t"));
        assert!(!cmd.display().contains("s3cr3t"));
        assert_eq!(cmd.run().await.unwrap().stdout, "s3cr3t");
    }

    #[tokio::test]
    async fn a_cleared_environment_keeps_only_what_is_named() {
        let out = sh()
            .command()
            .args(["-c", "env"])
            .env_clear_keeping(&["PATH", "FERRYMAN_NO_SUCH_VARIABLE"])
            .env("ONE", "1")
            .run()
            .await
            .unwrap()
            .stdout;
        let mut names: Vec<&str> = out
            .lines()
            .filter_map(|l| l.split_once('=').map(|(k, _)| k))
            .filter(|k| *k != "PWD" && *k != "SHLVL" && *k != "_")
            .collect();
        names.sort_unstable();
        assert_eq!(names, ["ONE", "PATH"], "{out}");
    }

    #[test]
    fn daemon_runs_detached_and_is_reaped() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("d.log");
        let pid = sh()
            .command()
            .args(["-c", "echo started; sleep 30"])
            .spawn_daemon(&log)
            .unwrap();
        assert!(crate::process::is_running(pid));
        // Its output reaches the log (wait for it: the daemon runs on its own schedule).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !std::fs::read_to_string(&log).unwrap().contains("started") {
            assert!(std::time::Instant::now() < deadline, "no output in the log");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        crate::process::stop(pid, std::time::Duration::from_secs(5)).unwrap();
        assert!(!crate::process::is_running(pid));
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\n\nb\nc\n", 2), "b | c");
        assert_eq!(tail("", 3), "");
    }
}
