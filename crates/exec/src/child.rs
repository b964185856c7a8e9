//! A running program whose stdout is streamed (and stdin optionally fed) while it runs: the
//! shape of `mariabackup --stream | socat`, without the shell.
//!
//! Its stderr is drained as it comes (a tool blocked on a full stderr pipe would stall the
//! stream) into a bounded buffer that keeps the tail, since a failing tool says why at the end,
//! and optionally into a log file that keeps everything for the DBA.

use std::collections::VecDeque;
use std::io::Write;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;

use tokio::io::AsyncReadExt;
use tokio::process::{ChildStdin, ChildStdout};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use crate::command::tail;
use crate::{Command, Error, Result};

/// How many bytes of stderr a running program keeps in memory (its tail).
pub const STDERR_KEEP: usize = 64 * 1024;
/// The capacity asked for the stdin and stdout pipes (Linux's default is 64 KiB, and 1 MiB is
/// the most an unprivileged process gets by default, `/proc/sys/fs/pipe-max-size`). A streamed
/// backup crosses these pipes at hundreds of MiB/s: with 64 KiB the writer and the reader
/// wake each other up for every 64 KiB, with 1 MiB each side works in large pieces while the
/// other is busy (a hash, a disk write).
pub const PIPE_CAPACITY: i32 = 1 << 20;

/// How a streaming program is started.
#[derive(Debug, Clone, Default)]
pub struct Streaming {
    /// Give the program a pipe on stdin (else `/dev/null`).
    pub stdin: bool,
    /// Append everything the program writes on stderr to this file too.
    pub stderr_log: Option<PathBuf>,
    /// Start the program in its own process group, so that a Ctrl-C in the terminal (SIGINT to
    /// the foreground group) does not kill it behind its caller's back: the caller decides.
    pub own_process_group: bool,
}

/// A program started by [`Command::spawn_streaming`]. Dropping it kills the program.
#[derive(Debug)]
pub struct Running {
    command: String,
    child: tokio::process::Child,
    stdout: Option<ChildStdout>,
    stdin: Option<ChildStdin>,
    stderr: Arc<Mutex<StderrTail>>,
    drain: Option<JoinHandle<()>>,
}

/// How a streaming program ended.
#[derive(Debug, Clone)]
pub struct Finished {
    /// Exit status.
    pub status: ExitStatus,
    /// The last [`STDERR_KEEP`] bytes of stderr (lossy UTF-8).
    pub stderr: String,
}

impl Finished {
    /// The last `lines` non-empty stderr lines joined with " | ", for messages.
    pub fn stderr_tail(&self, lines: usize) -> String {
        tail(&self.stderr, lines)
    }
}

#[derive(Debug, Default)]
struct StderrTail {
    bytes: VecDeque<u8>,
    log_error: Option<String>,
}

impl Command {
    /// Starts the program with stdout piped (take it with [`Running::take_stdout`]), stderr
    /// drained in the background, and stdin piped when `how.stdin`.
    pub fn spawn_streaming(&self, how: &Streaming) -> Result<Running> {
        self.check_argv()?;
        let log = match &how.stderr_log {
            Some(path) => Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|source| Error::Io {
                        action: "open log file",
                        path: path.clone(),
                        source,
                    })?,
            ),
            None => None,
        };
        let mut cmd = self.tokio_command();
        cmd.stdin(if how.stdin {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        if how.own_process_group {
            cmd.process_group(0);
        }
        tracing::debug!(command = %self.display(), "starting streaming program");
        let mut child = cmd.spawn().map_err(|source| self.spawn_error(source))?;
        let stdout = child.stdout.take();
        let stdin = child.stdin.take();
        if let Some(pipe) = &stdout {
            enlarge_pipe(pipe);
        }
        if let Some(pipe) = &stdin {
            enlarge_pipe(pipe);
        }
        let stderr = Arc::new(Mutex::new(StderrTail::default()));
        let drain = child
            .stderr
            .take()
            .map(|pipe| tokio::spawn(drain_stderr(pipe, Arc::clone(&stderr), log)));
        Ok(Running {
            command: self.display(),
            child,
            stdout,
            stdin,
            stderr,
            drain,
        })
    }
}

/// Asks for a [`PIPE_CAPACITY`] pipe; a refusal (a lower `pipe-max-size`, a per-user limit)
/// keeps the pipe as it is, which is only slower.
fn enlarge_pipe(pipe: &impl std::os::fd::AsRawFd) {
    use nix::fcntl::{fcntl, FcntlArg};
    if let Err(e) = fcntl(pipe.as_raw_fd(), FcntlArg::F_SETPIPE_SZ(PIPE_CAPACITY)) {
        tracing::debug!(error = %e, "the pipe keeps its default capacity");
    }
}

async fn drain_stderr(
    mut pipe: tokio::process::ChildStderr,
    keep: Arc<Mutex<StderrTail>>,
    mut log: Option<std::fs::File>,
) {
    let mut buf = vec![0u8; 8192];
    loop {
        let n = match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let chunk = &buf[..n];
        let mut keep = keep.lock().await;
        if let Some(file) = log.as_mut() {
            // A full disk must not stop the tool: note it once and keep the in-memory tail.
            if let Err(e) = file.write_all(chunk) {
                keep.log_error = Some(e.to_string());
                log = None;
            }
        }
        keep.bytes.extend(chunk);
        let excess = keep.bytes.len().saturating_sub(STDERR_KEEP);
        keep.bytes.drain(..excess);
    }
}

impl Running {
    /// The command line, for messages (never holds secrets).
    pub fn command(&self) -> &str {
        &self.command
    }

    /// The program's PID (`None` once it has been reaped).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// The program's stdout; `None` after the first call.
    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.stdout.take()
    }

    /// The program's stdin when started with `stdin: true`; `None` after the first call. Drop
    /// it to send end-of-file.
    pub fn take_stdin(&mut self) -> Option<ChildStdin> {
        self.stdin.take()
    }

    /// What stderr holds so far (its tail).
    pub async fn stderr_so_far(&self) -> String {
        let keep = self.stderr.lock().await;
        lossy(&keep.bytes)
    }

    /// Waits for the program to exit and for its stderr to be fully read. Never fails on a
    /// non-zero exit status: the caller judges (see [`Finished::status`]).
    pub async fn wait(mut self) -> Result<Finished> {
        // Close our end of stdin so a program reading it sees end-of-file.
        drop(self.stdin.take());
        let status = self.child.wait().await.map_err(|source| Error::Io {
            action: "wait for",
            path: PathBuf::from(&self.command),
            source,
        })?;
        if let Some(drain) = self.drain.take() {
            let _ = drain.await;
        }
        let keep = self.stderr.lock().await;
        if let Some(e) = &keep.log_error {
            tracing::warn!(command = %self.command, error = %e, "could not write the program's stderr log");
        }
        Ok(Finished {
            status,
            stderr: lossy(&keep.bytes),
        })
    }

    /// Kills the program (SIGKILL) and waits for it, e.g. when the stream it feeds is gone.
    pub async fn kill(mut self) -> Result<Finished> {
        if let Err(source) = self.child.start_kill() {
            // Already exited: not an error, wait() below collects it.
            tracing::debug!(command = %self.command, error = %source, "kill: program already gone");
        }
        self.wait().await
    }
}

fn lossy(bytes: &VecDeque<u8>) -> String {
    let (a, b) = bytes.as_slices();
    let mut all = Vec::with_capacity(a.len() + b.len());
    all.extend_from_slice(a);
    all.extend_from_slice(b);
    String::from_utf8_lossy(&all).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Program;
    use tokio::io::AsyncWriteExt;

    fn sh() -> Program {
        Program::find("sh", "dash").unwrap()
    }

    #[tokio::test]
    async fn streams_stdout_and_keeps_the_stderr_tail() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("tool.log");
        // 200 KiB on stderr: more than STDERR_KEEP, and enough to block a tool whose stderr
        // nobody reads.
        let script = "i=0; while [ $i -lt 2000 ]; do printf '%0100d\\n' $i >&2; i=$((i+1)); done; \
                      echo last-line >&2; cat";
        let mut running = sh()
            .command()
            .args(["-c", script])
            .spawn_streaming(&Streaming {
                stdin: true,
                stderr_log: Some(log.clone()),
                own_process_group: true,
            })
            .unwrap();
        let mut stdin = running.take_stdin().unwrap();
        let mut stdout = running.take_stdout().unwrap();
        stdin.write_all(b"payload").await.unwrap();
        drop(stdin);
        let mut out = Vec::new();
        stdout.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, b"payload");
        let done = running.wait().await.unwrap();
        assert!(done.status.success());
        assert!(done.stderr.len() <= STDERR_KEEP);
        assert!(
            done.stderr_tail(1).ends_with("last-line"),
            "{}",
            done.stderr_tail(2)
        );
        let logged = std::fs::read_to_string(&log).unwrap();
        assert_eq!(logged.lines().count(), 2001, "the log keeps everything");
    }

    #[tokio::test]
    async fn stdin_and_stdout_pipes_get_the_large_capacity() {
        use nix::fcntl::{fcntl, FcntlArg};
        use std::os::fd::AsRawFd;
        let max: i32 = std::fs::read_to_string("/proc/sys/fs/pipe-max-size")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let mut running = sh()
            .command()
            .args(["-c", "cat"])
            .spawn_streaming(&Streaming {
                stdin: true,
                ..Streaming::default()
            })
            .unwrap();
        let stdin = running.take_stdin().unwrap();
        let stdout = running.take_stdout().unwrap();
        for fd in [stdin.as_raw_fd(), stdout.as_raw_fd()] {
            let capacity = fcntl(fd, FcntlArg::F_GETPIPE_SZ).unwrap();
            // Root may always enlarge; others up to pipe-max-size (1 MiB by default).
            if nix::unistd::geteuid().is_root() || max >= PIPE_CAPACITY {
                assert_eq!(capacity, PIPE_CAPACITY);
            }
        }
        drop(stdin);
        drop(stdout);
        assert!(running.wait().await.unwrap().status.success());
    }

    #[tokio::test]
    async fn kill_stops_a_program_that_would_run_forever() {
        let mut running = sh()
            .command()
            .args(["-c", "echo started >&2; exec sleep 600"])
            .spawn_streaming(&Streaming::default())
            .unwrap();
        let pid = running.pid().unwrap();
        let _ = running.take_stdout();
        let done = running.kill().await.unwrap();
        assert!(!done.status.success());
        assert!(!crate::process::is_running(pid));
    }

    #[tokio::test]
    async fn passwords_on_argv_are_refused() {
        let err = sh()
            .command()
            .args(["-c", "true", "--password=x"])
            .spawn_streaming(&Streaming::default())
            .unwrap_err();
        assert!(err.to_string().contains("--password=…"));
    }
}
