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
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use ferryman_exec::{Finished, Program, Running};
use ferryman_proto::StreamKind;
use tokio::io::{AsyncRead, ReadBuf};

use super::TaskCtx;
use crate::progress;
use crate::sender::{Sent, Stream};
use crate::{Error, Result};

/// Debian package of `mariadb-dump` / `mysqldump`.
const DUMP_PACKAGE: &str = "mariadb-client";
/// What mysqldump writes as its last line (followed by the date unless `--skip-dump-date`).
const FOOTER: &str = "-- Dump completed";
/// How much of a dump's beginning is kept: the `CHANGE MASTER` comment is within the first
/// 2 KiB (mariadb-dump 10.11), well before any table.
const HEAD_KEEP: usize = 16 * 1024;
/// How much of a dump's end is kept: the footer, and before it (with `--gtid`) the deferred
/// `SET GLOBAL gtid_slave_pos` comment, about 600 bytes from the end; room for long GTID lists.
const TAIL_KEEP: usize = 8 * 1024;
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
    match send_tar(ctx, tar, dir, &mut stream).await {
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

/// Streams `tar -C dir -cf - .` into `stream`. The caller aborts the stream on error.
async fn send_tar(ctx: &TaskCtx<'_>, tar: &Program, dir: &Path, stream: &mut Stream) -> Result<()> {
    let (mut running, log) = ctx.spawn_tool(
        tar,
        "tar",
        [
            "-C".as_ref(),
            dir.as_os_str(),
            "-cf".as_ref(),
            "-".as_ref(),
            ".".as_ref(),
        ],
    )?;
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

/// Passes a stream through unchanged, keeping its first [`HEAD_KEEP`] and last [`TAIL_KEEP`]
/// bytes: bounded memory, whatever the dump's size.
#[derive(Debug)]
struct HeadTail<R> {
    inner: R,
    head: Vec<u8>,
    tail: Vec<u8>,
}

impl<R> HeadTail<R> {
    fn new(inner: R) -> Self {
        HeadTail {
            inner,
            head: Vec::with_capacity(HEAD_KEEP),
            tail: Vec::with_capacity(2 * TAIL_KEEP),
        }
    }

    fn record(&mut self, chunk: &[u8]) {
        let room = HEAD_KEEP - self.head.len();
        self.head.extend_from_slice(&chunk[..room.min(chunk.len())]);
        let chunk = &chunk[chunk.len().saturating_sub(TAIL_KEEP)..];
        self.tail.extend_from_slice(chunk);
        // Trim only once twice the size is reached: the copy stays amortised O(1) per byte.
        if self.tail.len() >= 2 * TAIL_KEEP {
            self.tail.drain(..self.tail.len() - TAIL_KEEP);
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for HeadTail<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        this.record(&buf.filled()[before..]);
        Poll::Ready(Ok(()))
    }
}

/// True when the last non-empty line is mysqldump's `-- Dump completed [on DATE]`.
pub(crate) fn ends_with_footer(tail: &[u8]) -> bool {
    String::from_utf8_lossy(tail)
        .trim_end()
        .lines()
        .next_back()
        .is_some_and(|line| line.starts_with(FOOTER))
}

/// Where a backup stands in the server's history.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Coordinates {
    /// GTID position (`gtid_slave_pos` for a new replica).
    gtid: Option<String>,
    /// Binary log file.
    file: Option<String>,
    /// Position in it.
    position: Option<u64>,
}

impl Coordinates {
    /// `GTID 0-1-42, binlog.000002:1234`.
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(gtid) = &self.gtid {
            parts.push(format!("GTID {gtid}"));
        }
        match (&self.file, self.position) {
            (Some(file), Some(pos)) => parts.push(format!("{file}:{pos}")),
            (Some(file), None) => parts.push(file.clone()),
            _ => {}
        }
        if parts.is_empty() {
            "no binlog coordinates recorded (is the binary log enabled?)".to_owned()
        } else {
            parts.join(", ")
        }
    }
}

/// The coordinates mariadb-dump wrote with `--master-data=2 --gtid`: `-- CHANGE MASTER TO
/// MASTER_LOG_FILE='…', MASTER_LOG_POS=…;` in the header, `-- SET GLOBAL gtid_slave_pos='…';`
/// near the end (deferred there since 10.x). The first occurrence wins.
fn dump_coordinates(head: &str, tail: &str) -> Coordinates {
    let mut c = Coordinates::default();
    for line in head.lines().chain(tail.lines()) {
        let line = line.strip_prefix("-- ").unwrap_or(line).trim();
        if let Some(rest) = line.strip_prefix("CHANGE MASTER TO ") {
            if c.file.is_none() {
                if let Some(file) = between(rest, "MASTER_LOG_FILE='", "'") {
                    c.file = Some(file.to_owned());
                    c.position = rest
                        .split_once("MASTER_LOG_POS=")
                        .and_then(|(_, p)| leading_number(p));
                }
            }
        } else if let Some(gtid) = line
            .strip_prefix("SET GLOBAL gtid_slave_pos=")
            .and_then(|rest| between(rest, "'", "'"))
        {
            if c.gtid.is_none() && !gtid.is_empty() {
                c.gtid = Some(gtid.to_owned());
            }
        }
    }
    c
}

/// The GTID position mariadb-dump wrote with `--gtid` (the deferred `SET GLOBAL
/// gtid_slave_pos` comment) in a dump's `tail`.
pub(crate) fn dump_gtid(tail: &str) -> Option<String> {
    dump_coordinates("", tail).gtid
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let (_, rest) = text.split_once(open)?;
    rest.split_once(close).map(|(value, _)| value)
}

fn leading_number(text: &str) -> Option<u64> {
    let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// What mydumper's `metadata` file says.
#[derive(Debug, Default, PartialEq, Eq)]
struct Metadata {
    /// The dumped server's own position (not its source's, on a replica).
    coordinates: Coordinates,
    /// The file says the dump finished.
    finished: bool,
}

impl Metadata {
    /// Reads both layouts. 0.10 (Debian 12):
    /// ```text
    /// Started dump at: 2026-11-21 02:45:31
    /// SHOW MASTER STATUS:
    /// <TAB>Log: binlog.000001
    /// <TAB>Pos: 35002285
    /// <TAB>GTID:0-1-50
    ///
    /// Finished dump at: 2026-11-21 02:45:31
    /// ```
    /// and 0.12+ (ini-like): a `[master]` (later `[source]`) section with `File = …`,
    /// `Position = …`, `Executed_Gtid_Set = …`. `SHOW SLAVE STATUS:` / replication sections
    /// (the source's position, on a replica) are skipped.
    fn parse(text: &str) -> Metadata {
        let mut c = Coordinates::default();
        let mut in_master = false;
        for line in text.lines() {
            let trimmed = line.trim();
            if trimmed.starts_with('[') {
                in_master = matches!(trimmed, "[master]" | "[source]");
                continue;
            }
            if !line.starts_with(char::is_whitespace) && trimmed.ends_with(':') {
                in_master = trimmed == "SHOW MASTER STATUS:";
                continue;
            }
            if !in_master || trimmed.starts_with('#') {
                continue;
            }
            let Some(split) = trimmed.find([':', '=']) else {
                continue;
            };
            let key = trimmed[..split].trim();
            let value = trimmed[split + 1..]
                .trim()
                .trim_matches('"')
                .trim_matches('\'');
            if value.is_empty() {
                continue;
            }
            match key {
                "Log" | "File" => c.file = Some(value.to_owned()),
                "Pos" | "Position" => c.position = leading_number(value),
                "GTID" | "Executed_Gtid_Set" => c.gtid = Some(value.to_owned()),
                _ => {}
            }
        }
        // Only the 0.10 layout says when it finished; later ones appear complete or not at all.
        let finished = !text.contains("Started dump at") || text.contains("Finished dump at");
        Metadata {
            coordinates: c,
            finished,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    fn strings(args: Vec<OsString>) -> Vec<String> {
        args.into_iter().map(|a| a.into_string().unwrap()).collect()
    }

    #[test]
    fn mysqldump_takes_a_snapshot_with_coordinates_and_no_password() {
        let args = strings(mysqldump_args(
            "--defaults-extra-file=/w/.ferryman-client-x.cnf",
            "replication_manager_schema.jobs",
        ));
        assert_eq!(args[0], "--defaults-extra-file=/w/.ferryman-client-x.cnf");
        for wanted in [
            "--single-transaction",
            "--master-data=2",
            "--gtid",
            "--all-databases",
            "--routines",
            "--events",
            "--triggers",
            "--comments",
            "--dump-date",
            "--ignore-table=replication_manager_schema.jobs",
        ] {
            assert!(
                args.iter().any(|a| a == wanted),
                "{wanted} missing: {args:?}"
            );
        }
        for unwanted in ["--flush-logs", "--lock-all-tables", "--lock-tables", "-x"] {
            assert!(!args.iter().any(|a| a == unwanted), "{unwanted}: {args:?}");
        }
        assert!(!args.iter().any(|a| a.contains("password")), "{args:?}");
        assert_eq!(
            jobs_table(&ferryman_jobs::Schema::default()),
            "replication_manager_schema.jobs"
        );
    }

    #[test]
    fn mydumper_reads_only_our_option_file_and_skips_the_jobs_table() {
        let args = strings(mydumper_args(
            "--defaults-file=/w/.ferryman-client-x.cnf",
            Path::new("/w/dump"),
            "replication_manager_schema.jobs",
        ));
        assert_eq!(
            args,
            [
                "--defaults-file=/w/.ferryman-client-x.cnf",
                "--outputdir=/w/dump",
                "--threads=2",
                "--trx-consistency-only",
                "--triggers",
                "--events",
                "--routines",
                "--regex=^(?!replication_manager_schema\\.jobs$)",
            ]
        );
        assert!(!args.iter().any(|a| a.contains("password") || a == "-p"));
        assert!(!args.iter().any(|a| a.contains("compress")));
    }

    /// Head and tail of a real `mariadb-dump` 10.11.19 run with the options above.
    const DUMP_HEAD: &str = "/*M!999999\\- enable the sandbox mode */ \n\
        -- MariaDB dump 10.19  Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)\n\
        --\n\
        -- Host: 127.0.0.1    Database: \n\
        /*!40101 SET NAMES utf8mb4 */;\n\
        -- CHANGE MASTER TO MASTER_USE_GTID=slave_pos;\n\
        \n\
        -- Alternately, following is the position of the binary logging from SHOW MASTER STATUS at point of backup.\n\
        --\n\
        \n\
        -- CHANGE MASTER TO MASTER_LOG_FILE='binlog.000001', MASTER_LOG_POS=35002285;\n\
        \n\
        --\n\
        -- Current Database: `app`\n";
    const DUMP_TAIL: &str = "USE `sbtest`;\n\
        \n\
        -- The deferred gtid setting for slave corresponding to the master-data CHANGE-MASTER follows\n\
        \n\
        -- Preferably use GTID to start replication from GTID position:\n\
        \n\
        -- SET GLOBAL gtid_slave_pos='0-1-50';\n\
        /*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;\n\
        /*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;\n\
        \n\
        -- Dump completed on 2026-11-21  2:45:23\n";

    #[test]
    fn coordinates_are_read_from_the_dump_header_and_end() {
        let c = dump_coordinates(DUMP_HEAD, DUMP_TAIL);
        assert_eq!(
            c,
            Coordinates {
                gtid: Some("0-1-50".into()),
                file: Some("binlog.000001".into()),
                position: Some(35002285),
            }
        );
        assert_eq!(c.describe(), "GTID 0-1-50, binlog.000001:35002285");
        // A server without any GTID yet writes an empty position.
        let c = dump_coordinates("", "-- SET GLOBAL gtid_slave_pos='';\n");
        assert_eq!(c, Coordinates::default());
        assert!(c.describe().starts_with("no binlog coordinates"));
    }

    #[test]
    fn the_footer_must_be_the_last_line() {
        assert!(ends_with_footer(DUMP_TAIL.as_bytes()));
        assert!(ends_with_footer(b"x;\n\n-- Dump completed\n\n"));
        assert!(!ends_with_footer(
            b"-- Dump completed on 2026-11-21\nINSERT INTO t VALUES (1);\n"
        ));
        assert!(!ends_with_footer(b"INSERT INTO `t` VALUES\n(1,'a'),\n(2,"));
        assert!(!ends_with_footer(b""));
    }

    #[tokio::test]
    async fn head_tail_passes_everything_through_and_keeps_both_ends() {
        let mut data = DUMP_HEAD.as_bytes().to_vec();
        data.extend((0..3_000_000u32).map(|i| b'a' + (i % 26) as u8));
        data.extend_from_slice(DUMP_TAIL.as_bytes());
        // Small reads, as from a pipe, cross both boundaries many times.
        let (mut tx, rx) = tokio::io::duplex(4096);
        let source = data.clone();
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            tx.write_all(&source).await.unwrap();
        });
        let mut ht = HeadTail::new(rx);
        let mut out = Vec::new();
        ht.read_to_end(&mut out).await.unwrap();
        writer.await.unwrap();
        assert_eq!(out, data);
        assert_eq!(ht.head, data[..HEAD_KEEP]);
        assert!(ht.tail.len() >= TAIL_KEEP && ht.tail.len() < 2 * TAIL_KEEP);
        assert!(data.ends_with(&ht.tail));
        assert!(ends_with_footer(&ht.tail));
        let c = dump_coordinates(
            &String::from_utf8_lossy(&ht.head),
            &String::from_utf8_lossy(&ht.tail),
        );
        assert_eq!(c.describe(), "GTID 0-1-50, binlog.000001:35002285");
    }

    #[test]
    fn head_tail_of_a_short_stream_is_all_of_it() {
        let mut ht = HeadTail::new(());
        ht.record(b"-- Dump ");
        ht.record(b"completed\n");
        assert_eq!(ht.head, b"-- Dump completed\n");
        assert_eq!(ht.tail, b"-- Dump completed\n");
        // A chunk larger than the tail: only its end is copied; memory stays under 2 × TAIL_KEEP.
        ht.record(&vec![b'x'; 3 * TAIL_KEEP]);
        assert_eq!(ht.tail.len(), 18 + TAIL_KEEP);
        ht.record(&vec![b'y'; TAIL_KEEP]);
        assert_eq!(ht.tail, vec![b'y'; TAIL_KEEP]);
        assert_eq!(ht.head.len(), HEAD_KEEP);
    }

    #[test]
    fn metadata_of_mydumper_0_10_is_parsed() {
        // Real file from mydumper 0.10.0 (Debian 12) against MariaDB 10.11.
        let text = "Started dump at: 2026-11-21 02:45:31\n\
                    SHOW MASTER STATUS:\n\tLog: binlog.000001\n\tPos: 35002285\n\tGTID:0-1-50\n\n\
                    Finished dump at: 2026-11-21 02:45:31\n";
        let m = Metadata::parse(text);
        assert!(m.finished);
        assert_eq!(
            m.coordinates.describe(),
            "GTID 0-1-50, binlog.000001:35002285"
        );
        // On a replica the source's position follows; the server's own one is kept.
        let replica = "Started dump at: 2026-11-21 02:45:31\n\
                       SHOW MASTER STATUS:\n\tLog: binlog.000007\n\tPos: 42\n\tGTID:0-1-9,1-2-3\n\n\
                       SHOW SLAVE STATUS:\n\tHost: 10.0.0.1\n\tLog: binlog.000100\n\tPos: 999\n\tGTID:0-1-9\n\n";
        let m = Metadata::parse(replica);
        assert!(!m.finished, "no `Finished dump at`: cut short");
        assert_eq!(
            m.coordinates.describe(),
            "GTID 0-1-9,1-2-3, binlog.000007:42"
        );
    }

    #[test]
    fn metadata_of_newer_mydumper_is_parsed() {
        let text = "[config]\nquote_character = BACKTICK\n\n\
                    [master]\n# Channel_Name = '' # It can be use to setup replication FOR CHANNEL\n\
                    File = binlog.000002\nPosition = 1234\nExecuted_Gtid_Set = 0-1-42\n\n\
                    [replication]\nFile = other.000001\nPosition = 1\n\n\
                    [`app`.`t`]\nreal_table_name=t\nrows = 2\n";
        let m = Metadata::parse(text);
        assert!(m.finished);
        assert_eq!(m.coordinates.describe(), "GTID 0-1-42, binlog.000002:1234");
        let source = Metadata::parse("[source]\nFile = b.000003\nPosition = 7\n");
        assert_eq!(source.coordinates.describe(), "b.000003:7");
    }

    #[test]
    fn version_lines_fit_one_line() {
        assert_eq!(
            one_line("mariadb-dump  Ver 10.19 Distrib 10.11.19-MariaDB\n"),
            "mariadb-dump Ver 10.19 Distrib 10.11.19-MariaDB"
        );
    }
}
