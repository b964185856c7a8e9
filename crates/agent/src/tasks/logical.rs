//! `mysqldump` and `mydumper`: logical backups of every database, streamed to the receiver.
//!
//! - `mysqldump` runs `mariadb-dump` (or `mysqldump` where only the old name exists) and streams
//!   its SQL as it comes, like the donor script's `mysqldump … | socat`. Success needs exit 0
//!   *and* the `-- Dump completed` footer as the last line: the stream's first and last few KiB
//!   are kept (never the whole dump) to check it and to read the binlog/GTID coordinates.
//! - `mydumper` dumps into the job's scratch directory while `tar` sends the files it has
//!   finished, as one archive ([`mydumper`]); its `metadata` file gives the coordinates.
//!
//! Both take a transactional snapshot with minimal locking (`--single-transaction`,
//! `--trx-consistency-only`), as replication-manager does, and leave out the jobs table: its
//! rows belong to the dumped server, and restored elsewhere they would be run there again.

use std::ffi::OsString;
use std::io;
use std::path::Path;

use ferryman_exec::{Finished, Program, Running};
use ferryman_proto::StreamKind;

use self::coordinates::{dump_coordinates, Coordinates};
use self::head_tail::{HeadTail, FOOTER};
use super::TaskCtx;
use crate::progress;
use crate::sender::Stream;
use crate::{Error, Result};

mod coordinates;
mod head_tail;
mod mydumper;
#[cfg(test)]
mod tests;

pub(crate) use self::coordinates::{dump_gtid, Metadata};
pub(crate) use self::head_tail::ends_with_footer;
pub(super) use self::mydumper::mydumper;
#[cfg(test)]
pub(crate) use self::mydumper::mydumper_args;

/// Debian package of `mariadb-dump` / `mysqldump`.
const DUMP_PACKAGE: &str = "mariadb-client";
/// How many stderr lines a failure message quotes.
const TAIL_LINES: usize = 6;

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

/// The error of a job cancelled while `tool` ran (and was killed).
fn interrupted(ctx: &TaskCtx<'_>, tool: &str) -> Error {
    Error::Interrupted {
        elapsed: progress::seconds(ctx.progress.elapsed()),
        reason: format!("cancelled while {tool} was running; {tool} was killed"),
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

/// `mariadb-dump  Ver 10.19 …` with runs of blanks made one, for the one-line result.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
