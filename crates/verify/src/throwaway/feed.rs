//! Feeding a payload (a blocking [`Read`]) into a tool's stdin, and running tools to the end.
//!
//! The payload's reads block (a file being decompressed), so they run on a blocking thread
//! that hands chunks over a small bounded channel to the task writing the tool's stdin: memory
//! stays at a few chunks whatever the payload's size, and a slow tool slows the reader down.

use std::io::Read;

use ferryman_exec::{Finished, Program, Running, Streaming};
use tokio::io::AsyncWriteExt;

use crate::{Error, Result};

/// Bytes read from the payload at a time.
const CHUNK: usize = 256 * 1024;
/// Chunks in flight between the reader thread and the tool.
const IN_FLIGHT: usize = 4;
/// How many stderr lines a failure message quotes.
pub(crate) const TAIL_LINES: usize = 8;

/// How a fed tool ended.
#[derive(Debug)]
pub(crate) struct Fed {
    /// Payload bytes the tool took.
    pub bytes: u64,
    /// Its exit status and stderr.
    pub finished: Finished,
    /// False when the tool stopped reading before the payload's end (it exited, or closed its
    /// stdin): then its own words (`finished`) say why, not the broken pipe.
    pub whole: bool,
}

impl Fed {
    /// `Ok` when the tool took the whole payload and exited 0; else what went wrong, in words
    /// for an error message: its exit status and stderr's last lines.
    pub fn check(&self, tool: &Program) -> std::result::Result<(), String> {
        self.check_exit(tool)?;
        if !self.whole {
            return Err(format!(
                "`{}` exited before reading the whole payload (it took {} bytes): {}",
                tool.name(),
                self.bytes,
                or_nothing(&self.finished.stderr_tail(TAIL_LINES))
            ));
        }
        Ok(())
    }

    /// [`Fed::check`] for a tool that may rightly stop reading before the payload's end:
    /// `tar` stops at the archive's end-of-archive blocks, whatever padding follows.
    pub fn check_exit(&self, tool: &Program) -> std::result::Result<(), String> {
        if !self.finished.status.success() {
            Err(format!(
                "`{}` failed ({}) after {} bytes: {}",
                tool.name(),
                self.finished.status,
                self.bytes,
                or_nothing(&self.finished.stderr_tail(TAIL_LINES))
            ))
        } else {
            Ok(())
        }
    }
}

/// Starts `tool` with `args` and a stdin pipe, and feeds it `payload` to its end. A payload
/// that cannot be read kills the tool and is an [`Error::Payload`] (`step` names what was
/// being done). Never fails on the tool's own failure: the caller judges [`Fed`].
pub(crate) async fn feed<I, S>(
    tool: &Program,
    args: I,
    payload: Box<dyn Read + Send>,
    step: &'static str,
) -> Result<Fed>
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut running = tool.command().args(args).spawn_streaming(&Streaming {
        stdin: true,
        ..Streaming::default()
    })?;
    let drain = drain_stdout(&mut running);
    let Some(mut stdin) = running.take_stdin() else {
        let _ = running.kill().await;
        return Err(Error::Worker(format!(
            "{}'s stdin was not captured",
            tool.name()
        )));
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(IN_FLIGHT);
    let reader = tokio::task::spawn_blocking(move || read_into(payload, &tx));
    let mut bytes = 0u64;
    let mut whole = true;
    while let Some(chunk) = rx.recv().await {
        if let Err(e) = stdin.write_all(&chunk).await {
            // The tool is gone or stopped reading: what it said is the reason, found below.
            tracing::debug!(tool = tool.name(), error = %e, bytes, "the tool stopped taking input");
            whole = false;
            break;
        }
        bytes += chunk.len() as u64;
    }
    // Dropping the receiver stops the reader at its next chunk, when the tool quit early.
    drop(rx);
    drop(stdin);
    if whole {
        let read = reader
            .await
            .map_err(|e| Error::Worker(format!("the payload reader failed: {e}")))?;
        if let Err(source) = read {
            let _ = running.kill().await;
            abort(drain);
            return Err(Error::Payload {
                step,
                bytes,
                source,
            });
        }
    }
    // A reader still blocked in a read is not waited for: it ends on its next chunk.
    let finished = running.wait().await?;
    if let Some(drain) = drain {
        let _ = drain.await;
    }
    Ok(Fed {
        bytes,
        finished,
        whole,
    })
}

/// Reads `payload` chunk by chunk into `tx` until its end, or until nobody receives.
fn read_into(
    mut payload: Box<dyn Read + Send>,
    tx: &tokio::sync::mpsc::Sender<Vec<u8>>,
) -> std::io::Result<()> {
    loop {
        let mut buf = vec![0u8; CHUNK];
        let n = match payload.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        buf.truncate(n);
        if tx.blocking_send(buf).is_err() {
            return Ok(());
        }
    }
}

/// Runs `tool` with `args` (stdin empty) to its end; its stdout is read and dropped, the tail
/// of its stderr kept.
pub(crate) async fn run<I, S>(tool: &Program, args: I) -> Result<Finished>
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut running = tool
        .command()
        .args(args)
        .spawn_streaming(&Streaming::default())?;
    let drain = drain_stdout(&mut running);
    let finished = running.wait().await?;
    if let Some(drain) = drain {
        let _ = drain.await;
    }
    Ok(finished)
}

/// Reads the tool's stdout to nowhere, so that it never blocks on a full pipe (the `mariadb`
/// client prints the result of any `SELECT` in a dump).
fn drain_stdout(running: &mut Running) -> Option<tokio::task::JoinHandle<()>> {
    running.take_stdout().map(|mut out| {
        tokio::spawn(async move {
            let _ = tokio::io::copy(&mut out, &mut tokio::io::sink()).await;
        })
    })
}

fn abort(drain: Option<tokio::task::JoinHandle<()>>) {
    if let Some(drain) = drain {
        drain.abort();
    }
}

/// `(nothing on stderr)` for an empty tail.
pub(crate) fn or_nothing(tail: &str) -> &str {
    if tail.is_empty() {
        "(nothing on stderr)"
    } else {
        tail
    }
}
