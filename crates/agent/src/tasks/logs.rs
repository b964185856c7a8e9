//! `error` and `slowquery`: the server's error log or slow-query log, sent to the job's
//! receiver, then rotated without losing a line.
//!
//! The reference donor script runs `cat $LOG | socat …; > $LOG`, which loses every line written
//! between the `cat` and the truncation. Here the log is rotated first and a file nobody writes
//! any more is sent:
//! 1. The live file is renamed to `<file>.ferryman-<job id>`. The server keeps its descriptor,
//!    so it goes on writing into the renamed file: nothing is lost while we work.
//! 2. `FLUSH NO_WRITE_TO_BINLOG ERROR LOGS` (or `SLOW LOGS`) makes the server reopen the
//!    original path, creating a new file. It reopens under the lock its log writers take, so
//!    once the statement returns the renamed file is complete. `NO_WRITE_TO_BINLOG` matters: on
//!    MariaDB 10.11 a plain `FLUSH ERROR LOGS` is written to the binary log, and every replica
//!    would rotate its own log behind its agent's back.
//! 3. The renamed file is streamed, and deleted only once the stream finished.
//!
//! A file whose send failed stays where it is (a leftover). The next job of the same kind sends
//! every leftover first, oldest job first, then its own file, in one stream, and deletes each
//! only after that stream finished: a line is deleted only after it was sent whole.

use ferryman_db::Connection;
use ferryman_proto::StreamKind;

use self::locate::locate;
use self::rotation::{exists, leftovers, rotate, Rotated};
use super::TaskCtx;
use crate::sender::Stream;
use crate::{Error, Result};

pub(crate) mod locate;
mod rotation;
#[cfg(test)]
mod tests;

/// Which log.
#[derive(Debug, Clone, Copy)]
pub(crate) enum LogKind {
    /// The error log.
    Error,
    /// The slow-query log.
    Slow,
}

impl LogKind {
    /// For messages.
    pub(super) fn name(self) -> &'static str {
        match self {
            LogKind::Error => "error log",
            LogKind::Slow => "slow-query log",
        }
    }

    /// The statement that makes the server reopen the log; never binary-logged.
    pub(super) fn flush_statement(self) -> &'static str {
        match self {
            LogKind::Error => "FLUSH NO_WRITE_TO_BINLOG ERROR LOGS",
            LogKind::Slow => "FLUSH NO_WRITE_TO_BINLOG SLOW LOGS",
        }
    }

    /// The statement as a DBA would name it.
    pub(super) fn flush_words(self) -> &'static str {
        match self {
            LogKind::Error => "FLUSH ERROR LOGS",
            LogKind::Slow => "FLUSH SLOW LOGS",
        }
    }
}

/// What is ready to send once the log is rotated.
#[derive(Debug)]
struct Ready {
    /// Connected to the receiver.
    stream: Stream,
    /// Leftovers (oldest job first), then this job's file.
    files: Vec<Rotated>,
    /// How many of `files` are leftovers.
    earlier: usize,
    /// What happened to the live file, for the result.
    rotation: String,
}

/// Sends the log to the job's receiver and rotates it.
pub(super) async fn run(ctx: &TaskCtx<'_>, kind: LogKind) -> Result<String> {
    ctx.progress
        .set_phase(format!("asking the server where its {} is", kind.name()));
    // A plain session: the FLUSH is the only statement that could be binary-logged, and
    // NO_WRITE_TO_BINLOG keeps it out (checked on 10.11).
    let mut conn = ctx.sql().await?;
    let ready = prepare(ctx, &mut conn, kind).await;
    // Closed politely on every path: a dropped session is an "Aborted connection" warning in
    // the very error log this task ships. A failed goodbye changes nothing.
    let _ = conn.disconnect().await;
    send(ctx, kind, ready?).await
}

/// Finds the log and its leftovers, connects to the receiver, rotates the live file.
async fn prepare(ctx: &TaskCtx<'_>, conn: &mut Connection, kind: LogKind) -> Result<Ready> {
    let located = locate(&ctx.server.name, conn, kind).await?;
    let live = &located.live;
    let mut files = leftovers(live).await?;
    let earlier = files.len();
    let live_exists = exists(live).await;
    if !live_exists && files.is_empty() {
        let (off, next_step) = if located.open {
            ("", "the agent must run on the server's host, as a user that can read and rename that file")
        } else {
            (
                " (slow_query_log is OFF)",
                "turn slow_query_log ON (SET GLOBAL and my.cnf), or stop scheduling slowquery jobs for this server",
            )
        };
        return Err(Error::Unsuitable {
            server: ctx.server.name.clone(),
            problem: format!("there is no {} at `{}`{off}", kind.name(), live.display()),
            next_step: next_step.to_owned(),
        });
    }

    // Reach the receiver before rotating: a rotation with nowhere to send would only leave a
    // leftover behind.
    let stream = ctx.connect(StreamKind::Log).await?;
    if !live_exists {
        let rotation = format!("no live file at {}, nothing to rotate", live.display());
        return Ok(Ready {
            stream,
            files,
            earlier,
            rotation,
        });
    }
    ctx.progress
        .set_phase(format!("rotating `{}`", live.display()));
    let rotated = match rotate(ctx, conn, kind, live).await {
        Ok(rotated) => rotated,
        Err(e) => {
            stream.abort();
            return Err(e);
        }
    };
    let rotation = if exists(live).await {
        format!(
            "rotated ({} reopened by {})",
            live.display(),
            kind.flush_words()
        )
    } else if located.open {
        format!(
            "rotated ({} not recreated by {}: check the server's error log)",
            live.display(),
            kind.flush_words()
        )
    } else {
        format!(
            "rotated ({} not recreated: slow_query_log is OFF)",
            live.display()
        )
    };
    files.push(rotated);
    Ok(Ready {
        stream,
        files,
        earlier,
        rotation,
    })
}

/// Streams every file, then removes the ones sent. On failure every file stays.
async fn send(ctx: &TaskCtx<'_>, kind: LogKind, ready: Ready) -> Result<String> {
    let Ready {
        mut stream,
        files,
        earlier,
        rotation,
    } = ready;
    let address = ctx.receiver(StreamKind::Log)?.address().to_owned();
    let count = files.len();
    let mut sent_files = Vec::with_capacity(count);
    for (i, file) in files.iter().enumerate() {
        ctx.progress.set_phase(format!(
            "sending `{}` ({}/{count}) to {address}",
            file.path.display(),
            i + 1
        ));
        let mut reader = match tokio::fs::File::open(&file.path).await {
            Ok(f) => f,
            // Someone removed a leftover by hand: nothing of it can be sent any more.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && i < earlier => {
                tracing::warn!(file = %file.path.display(), "a leftover log vanished before it was sent");
                continue;
            }
            Err(e) => {
                stream.abort();
                keep_warning(kind, &files);
                return Err(Error::io("open", &file.path)(e));
            }
        };
        let what = format!("`{}`", file.path.display());
        if let Err(e) = stream
            .send(&mut reader, &what, ctx.progress, ctx.cancel)
            .await
        {
            stream.abort();
            keep_warning(kind, &files);
            return Err(e);
        }
        sent_files.push(file);
    }
    let sent = match stream.finish().await {
        Ok(sent) => sent,
        Err(e) => {
            keep_warning(kind, &files);
            return Err(e);
        }
    };

    ctx.progress.set_phase("removing the sent files");
    let mut not_removed = String::new();
    for file in &sent_files {
        if let Err(e) = tokio::fs::remove_file(&file.path).await {
            if e.kind() != std::io::ErrorKind::NotFound {
                // Sent but still there: the next job sends it again (a duplicate, never a loss).
                tracing::warn!(file = %file.path.display(), error = %e, "cannot remove a sent log file");
                not_removed.push_str(&format!(
                    "; cannot remove `{}` ({e}): the next job sends it again",
                    file.path.display()
                ));
            }
        }
    }
    let from_earlier = if earlier == 0 {
        String::new()
    } else {
        let ids: Vec<String> = files[..earlier]
            .iter()
            .map(|f| f.job_id.to_string())
            .collect();
        format!(" ({earlier} left by earlier jobs: {})", ids.join(", "))
    };
    Ok(format!(
        "{}: {} file{}{from_earlier}, {}; {rotation}{not_removed}",
        kind.name(),
        sent_files.len(),
        if sent_files.len() == 1 { "" } else { "s" },
        sent.describe(),
    ))
}

fn keep_warning(kind: LogKind, files: &[Rotated]) {
    let kept: Vec<String> = files.iter().map(|f| f.path.display().to_string()).collect();
    tracing::warn!(log = kind.name(), kept = %kept.join(", "), "send failed: the files are kept and the next job sends them first");
}
