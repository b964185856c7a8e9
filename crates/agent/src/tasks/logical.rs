//! `mysqldump` and `mydumper`: logical backups of every database, streamed to the receiver.
//!
//! - `mysqldump` runs `mariadb-dump` (or `mysqldump` where only the old name exists) and streams
//!   its SQL as it comes, like the donor script's `mysqldump … | socat`. Success needs exit 0
//!   *and* the `-- Dump completed` footer as the last line: the stream's first and last few KiB
//!   are kept (never the whole dump) to check it and to read the binlog/GTID coordinates.
//! - `mydumper` dumps into the job's scratch directory, then streams that directory as one tar
//!   (`tar -cf -`); its `metadata` file gives the coordinates.
//!
//! Both take a transactional snapshot with minimal locking (`--single-transaction`,
//! `--trx-consistency-only`), as replication-manager does, and leave out the jobs table: its
//! rows belong to the dumped server, and restored elsewhere they would be run there again.

use std::ffi::OsString;
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use ferryman_exec::{Finished, Program, Running};
use ferryman_proto::StreamKind;

use self::coordinates::{dump_coordinates, Coordinates, Metadata};
use self::head_tail::{HeadTail, FOOTER};
use super::TaskCtx;
use crate::progress;
use crate::sender::{Sent, Stream};
use crate::{Error, Result};

mod coordinates;
mod head_tail;
#[cfg(test)]
mod tests;

pub(crate) use self::coordinates::dump_gtid;
pub(crate) use self::head_tail::ends_with_footer;

/// Debian package of `mariadb-dump` / `mysqldump`.
const DUMP_PACKAGE: &str = "mariadb-client";
/// How many stderr lines a failure message quotes.
const TAIL_LINES: usize = 6;
/// mydumper's threads: parallel enough, without loading the server a backup should spare.
const MYDUMPER_THREADS: u32 = 2;

/// `schema.table` of the jobs table, left out of every dump.
fn jobs_table(schema: &ferryman_jobs::Schema) -> String {
    format!("{}.{}", schema.as_str(), ferryman_jobs::table::TABLE)
}

/// The arguments of `mariadb-dump`, after the program name.
///
/// `--single-transaction` is the consistent InnoDB snapshot; with it mariadb-dump takes neither
/// table locks nor (since the server reports `binlog_snapshot_*`) FLUSH TABLES WITH READ LOCK.
/// `--master-data=2 --gtid` write the snapshot's binlog position and GTID as comments.
/// `--flush-privileges` because `--all-databases` includes the `mysql` schema (accounts).
/// `--comments --dump-date` override a `skip-comments` in the server's option files: the
/// footer check depends on them. `--quick` keeps the tool's memory flat on big tables.
pub(crate) fn mysqldump_args(option_file_arg: &str, ignore_table: &str) -> Vec<OsString> {
    [
        option_file_arg,
        "--single-transaction",
        "--master-data=2",
        "--gtid",
        "--all-databases",
        "--routines",
        "--events",
        "--triggers",
        "--hex-blob",
        "--flush-privileges",
        "--quick",
        "--comments",
        "--dump-date",
    ]
    .into_iter()
    .map(OsString::from)
    .chain(std::iter::once(
        format!("--ignore-table={ignore_table}").into(),
    ))
    .collect()
}

/// The arguments of `mydumper`, after the program name.
///
/// Debian 12's mydumper (0.10) knows only `--defaults-file`, read through the client library
/// (groups `[client]` and `[mydumper]`), so the option file is the only one it reads.
/// `--trx-consistency-only` releases FLUSH TABLES WITH READ LOCK as soon as every thread has
/// its snapshot (InnoDB consistent, like `--single-transaction`). No `--compress`: the
/// receiver compresses. `--regex` leaves out `exclude` (`schema.table`).
pub(crate) fn mydumper_args(
    defaults_file_arg: &str,
    outputdir: &Path,
    exclude: &str,
) -> Vec<OsString> {
    vec![
        defaults_file_arg.into(),
        format!("--outputdir={}", outputdir.display()).into(),
        format!("--threads={MYDUMPER_THREADS}").into(),
        "--trx-consistency-only".into(),
        "--triggers".into(),
        "--events".into(),
        "--routines".into(),
        format!("--regex=^(?!{}$)", exclude.replace('.', "\\.")).into(),
    ]
}

/// Streams a consistent `mariadb-dump` of every database to the job's receiver.
pub(super) async fn mysqldump(ctx: &TaskCtx<'_>) -> Result<String> {
    let program = Program::find("mariadb-dump", DUMP_PACKAGE)
        .or_else(|_| Program::find("mysqldump", DUMP_PACKAGE))?;
    let version = one_line(&program.version().await.unwrap_or_default());
    let option_file = ctx.option_file()?;
    // Reach the receiver first: a dump with nowhere to go holds a snapshot open for nothing.
    let mut stream = ctx.connect(StreamKind::Backup).await?;
    let coordinates = match dump_into(ctx, &program, &option_file.arg(), &mut stream).await {
        Ok(coordinates) => coordinates,
        Err(e) => {
            // A reset, not an end-of-file: the receiver must not keep a partial dump.
            stream.abort();
            return Err(e);
        }
    };
    let sent = stream.finish().await?;
    drop(option_file);
    Ok(format!(
        "mysqldump: {}; {}; completed ({version})",
        sent.describe(),
        coordinates.describe()
    ))
}

/// Runs the dump into `stream`, killing the tool if the stream fails; checks exit status and
/// footer. The caller aborts the stream on error.
async fn dump_into(
    ctx: &TaskCtx<'_>,
    program: &Program,
    option_file_arg: &str,
    stream: &mut Stream,
) -> Result<Coordinates> {
    let (mut running, log) = ctx.spawn_tool(
        program,
        "mysqldump",
        mysqldump_args(option_file_arg, &jobs_table(ctx.jobs_schema)),
    )?;
    ctx.progress.set_phase(format!(
        "{} streaming to {}",
        program.name(),
        stream.address()
    ));
    let mut output = HeadTail::new(take_stdout(&mut running, program.name())?);
    let what = format!("{}'s output", program.name());
    if let Err(e) = stream
        .send(&mut output, &what, ctx.progress, ctx.cancel)
        .await
    {
        let _ = running.kill().await;
        return Err(e);
    }
    let finished = running.wait().await?;
    check_exit(program.name(), &finished, &log)?;
    if !ends_with_footer(&output.tail) {
        return Err(Error::ToolIncomplete {
            tool: program.name().to_owned(),
            detail: format!(
                "its output does not end with `{FOOTER} on …`, so the dump was cut short; \
                 enqueue the job again"
            ),
            stderr_tail: finished.stderr_tail(TAIL_LINES),
            log: Some(log),
        });
    }
    Ok(dump_coordinates(
        &String::from_utf8_lossy(&output.head),
        &String::from_utf8_lossy(&output.tail),
    ))
}

/// Runs mydumper into the scratch directory, then streams the directory as one tar.
pub(super) async fn mydumper(ctx: &TaskCtx<'_>) -> Result<String> {
    let mydumper = Program::find("mydumper", "mydumper")?;
    let tar = Program::find("tar", "tar")?;
    // A row without a usable receiver is refused before minutes of dumping, not after.
    ctx.receiver(StreamKind::Backup)?;
    let version = one_line(&mydumper.version().await.unwrap_or_default());
    let dir = ctx.scratch.join("dump");
    let outcome = dump_then_send(ctx, &mydumper, &tar, &dir).await;
    // The runner removes the scratch directory too; a dump can be large, so free it now.
    if let Err(e) = tokio::fs::remove_dir_all(&dir).await {
        if e.kind() != io::ErrorKind::NotFound {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot remove mydumper's directory");
        }
    }
    let done = outcome?;
    Ok(format!(
        "mydumper: {} files dumped in {}, tar of {}; {}; completed ({version})",
        done.files,
        progress::seconds(done.dumped_in),
        done.sent.describe(),
        done.coordinates.describe()
    ))
}

/// What a mydumper job did.
#[derive(Debug)]
struct DumpedAndSent {
    /// Files in mydumper's directory.
    files: usize,
    /// How long mydumper took.
    dumped_in: Duration,
    /// The tar stream.
    sent: Sent,
    /// From the `metadata` file.
    coordinates: Coordinates,
}

async fn dump_then_send(
    ctx: &TaskCtx<'_>,
    mydumper: &Program,
    tar: &Program,
    dir: &Path,
) -> Result<DumpedAndSent> {
    let started = Instant::now();
    let option_file = ctx.option_file()?;
    ctx.progress.set_phase("mydumper dumping");
    let (running, log) = ctx.spawn_tool(
        mydumper,
        "mydumper",
        mydumper_args(
            &option_file.defaults_file_arg(),
            dir,
            &jobs_table(ctx.jobs_schema),
        ),
    )?;
    let finished = wait_or_cancel(ctx, running, mydumper.name()).await?;
    drop(option_file);
    check_exit(mydumper.name(), &finished, &log)?;
    let incomplete = |detail: &str| Error::ToolIncomplete {
        tool: mydumper.name().to_owned(),
        detail: detail.to_owned(),
        stderr_tail: finished.stderr_tail(TAIL_LINES),
        log: Some(log.clone()),
    };
    // mydumper writes `metadata` last (0.10: with a closing `Finished dump at`; from 0.14 it
    // renames `metadata.partial`): a directory without a complete one is not a backup.
    let metadata = match tokio::fs::read_to_string(dir.join("metadata")).await {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(incomplete(
                "no `metadata` file in its output directory; enqueue the job again",
            ))
        }
        Err(e) => return Err(Error::io("read", dir.join("metadata"))(e)),
    };
    let metadata = Metadata::parse(&metadata);
    if !metadata.finished {
        return Err(incomplete(
            "its `metadata` file has no `Finished dump at` line; enqueue the job again",
        ));
    }
    let files = count_files(dir).await?;
    let dumped_in = started.elapsed();

    // Connect only now. Until mydumper is done there is nothing to send, and a connection
    // left idle for the whole dump (minutes, hours) can be cut by the receiver's or a
    // firewall's idle timeout; the receiver gets one uninterrupted stream instead. The cost:
    // a vanished receiver is noticed after the dump, which only wasted local work: nothing
    // on the server is held once mydumper has exited.
    let mut stream = ctx.connect(StreamKind::Backup).await?;
    ctx.progress.set_phase(format!(
        "sending mydumper's directory as tar to {}",
        stream.address()
    ));
    let args = [
        "-C".as_ref(),
        dir.as_os_str(),
        "-cf".as_ref(),
        "-".as_ref(),
        ".".as_ref(),
    ];
    match send_tar(ctx, tar, &args, &mut stream).await {
        Ok(()) => Ok(DumpedAndSent {
            files,
            dumped_in,
            sent: stream.finish().await?,
            coordinates: metadata.coordinates,
        }),
        Err(e) => {
            stream.abort();
            Err(e)
        }
    }
}

/// Streams `tar ARGS` (which write the archive to stdout) into `stream`. The caller aborts the
/// stream on error.
pub(super) async fn send_tar(
    ctx: &TaskCtx<'_>,
    tar: &Program,
    args: &[&std::ffi::OsStr],
    stream: &mut Stream,
) -> Result<()> {
    let (mut running, log) = ctx.spawn_tool(tar, "tar", args)?;
    let mut stdout = take_stdout(&mut running, tar.name())?;
    if let Err(e) = stream
        .send(&mut stdout, "tar's output", ctx.progress, ctx.cancel)
        .await
    {
        let _ = running.kill().await;
        return Err(e);
    }
    let finished = running.wait().await?;
    check_exit(tar.name(), &finished, &log)
}

/// Waits for a tool that writes files (not stdout), killing it when the job is cancelled.
async fn wait_or_cancel(ctx: &TaskCtx<'_>, mut running: Running, tool: &str) -> Result<Finished> {
    let interrupted = || Error::Interrupted {
        elapsed: progress::seconds(ctx.progress.elapsed()),
        reason: format!("cancelled while {tool} was running; {tool} was killed"),
    };
    // mydumper logs on stderr (drained by exec); stdout is read too so that output there could
    // never block it on a full pipe. It ends when the tool exits.
    let mut stdout = running.take_stdout();
    let drain = async {
        if let Some(out) = stdout.as_mut() {
            let _ = tokio::io::copy(out, &mut tokio::io::sink()).await;
        }
    };
    tokio::select! {
        () = drain => {}
        () = ctx.cancel.cancelled() => {
            let _ = running.kill().await;
            return Err(interrupted());
        }
    }
    tokio::select! {
        finished = running.wait() => Ok(finished?),
        // Dropping the wait drops `Running`, which kills the tool (kill-on-drop).
        () = ctx.cancel.cancelled() => Err(interrupted()),
    }
}

fn take_stdout(running: &mut Running, tool: &str) -> Result<tokio::process::ChildStdout> {
    running.take_stdout().ok_or_else(|| Error::Read {
        what: format!("{tool}'s output"),
        source: io::Error::other("stdout was not captured"),
    })
}

fn check_exit(tool: &str, finished: &Finished, log: &Path) -> Result<()> {
    if finished.status.success() {
        Ok(())
    } else {
        Err(Error::ToolFailed {
            tool: tool.to_owned(),
            status: finished.status,
            stderr_tail: finished.stderr_tail(TAIL_LINES),
            log: Some(log.to_owned()),
        })
    }
}

async fn count_files(dir: &Path) -> Result<usize> {
    let mut entries = tokio::fs::read_dir(dir)
        .await
        .map_err(Error::io("list", dir))?;
    let mut n = 0;
    while entries
        .next_entry()
        .await
        .map_err(Error::io("list", dir))?
        .is_some()
    {
        n += 1;
    }
    Ok(n)
}

/// `mariadb-dump  Ver 10.19 …` with runs of blanks made one, for the one-line result.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
