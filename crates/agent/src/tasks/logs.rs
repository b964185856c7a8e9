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

use std::ffi::OsStr;
use std::path::{Component, Path, PathBuf};

use ferryman_db::mysql_async;
use ferryman_db::mysql_async::prelude::Queryable;
use ferryman_db::Connection;
use ferryman_proto::StreamKind;

use super::TaskCtx;
use crate::sender::Stream;
use crate::{Error, Result};

/// What follows the live file's name in a rotated file's name, before the job id.
const ROTATED_MARK: &str = ".ferryman-";
/// `ER_SPECIFIC_ACCESS_DENIED_ERROR`: "you need (at least one of) the RELOAD privilege(s)".
const ACCESS_DENIED: u16 = 1227;

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
    fn name(self) -> &'static str {
        match self {
            LogKind::Error => "error log",
            LogKind::Slow => "slow-query log",
        }
    }

    /// The statement that makes the server reopen the log; never binary-logged.
    fn flush_statement(self) -> &'static str {
        match self {
            LogKind::Error => "FLUSH NO_WRITE_TO_BINLOG ERROR LOGS",
            LogKind::Slow => "FLUSH NO_WRITE_TO_BINLOG SLOW LOGS",
        }
    }

    /// The statement as a DBA would name it.
    fn flush_words(self) -> &'static str {
        match self {
            LogKind::Error => "FLUSH ERROR LOGS",
            LogKind::Slow => "FLUSH SLOW LOGS",
        }
    }
}

/// Where the server writes the log, as it says.
#[derive(Debug)]
struct Located {
    /// The live file.
    live: PathBuf,
    /// False when the server has no file open (`slow_query_log` OFF): a flush recreates nothing.
    open: bool,
}

/// A file left by an earlier job (or renamed by this one), with the job id in its name.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rotated {
    path: PathBuf,
    job_id: u64,
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
    let located = locate(ctx, conn, kind).await?;
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

/// `@@slow_query_log_file, @@log_output, @@slow_query_log, @@datadir`.
type SlowLogSettings = (Option<String>, Option<String>, Option<i64>, Option<String>);

/// Asks the server where it writes the log. Refuses, with the next step, when it writes none.
async fn locate(ctx: &TaskCtx<'_>, conn: &mut Connection, kind: LogKind) -> Result<Located> {
    let server = &ctx.server.name;
    let unsuitable = |problem: String, next_step: &str| Error::Unsuitable {
        server: server.clone(),
        problem,
        next_step: next_step.to_owned(),
    };
    match kind {
        LogKind::Error => {
            let row: Option<(Option<String>, Option<String>)> = conn
                .query_first("SELECT @@log_error, @@datadir")
                .await
                .map_err(|e| Error::sql(server, "read @@log_error and @@datadir", e))?;
            let (file, datadir) = row.unwrap_or_default();
            let file = file.unwrap_or_default();
            if file.trim().is_empty() {
                return Err(unsuitable(
                    "the server writes its error log to stderr (the systemd journal or a console), not to a file: @@log_error is empty".to_owned(),
                    "set `log_error = /var/log/mysql/error.log` in the [mysqld] section of its my.cnf and restart it",
                ));
            }
            Ok(Located {
                live: resolve(Path::new(&datadir.unwrap_or_default()), &file),
                open: true,
            })
        }
        LogKind::Slow => {
            let row: Option<SlowLogSettings> = conn
                .query_first(
                    "SELECT @@slow_query_log_file, @@log_output, @@slow_query_log, @@datadir",
                )
                .await
                .map_err(|e| {
                    Error::sql(server, "read @@slow_query_log_file and @@log_output", e)
                })?;
            let (file, output, on, datadir) = row.unwrap_or_default();
            let output = output.unwrap_or_default();
            if !writes_to_file(&output) {
                return Err(unsuitable(
                    format!("the server writes its slow-query log to `{output}` (@@log_output), not to a file"),
                    "SET GLOBAL log_output = 'FILE' (and `log_output = FILE` in my.cnf), or use the mysql.slow_log table",
                ));
            }
            let file = file.unwrap_or_default();
            if file.trim().is_empty() {
                return Err(unsuitable(
                    "@@slow_query_log_file is empty".to_owned(),
                    "set `slow_query_log_file` in the [mysqld] section of its my.cnf",
                ));
            }
            Ok(Located {
                live: resolve(Path::new(&datadir.unwrap_or_default()), &file),
                open: on.unwrap_or(0) != 0,
            })
        }
    }
}

/// Renames the live file away and has the server reopen it. When the flush fails the rename
/// is undone if the original path is still free; otherwise the file stays as a leftover.
async fn rotate(
    ctx: &TaskCtx<'_>,
    conn: &mut Connection,
    kind: LogKind,
    live: &Path,
) -> Result<Rotated> {
    let job_id = ctx.job.id.0;
    let mut target = rotated_name(live, job_id, 0);
    // A name left by a job of the same id (the jobs table was recreated) must not be
    // overwritten: it has not been sent yet. Only the job running now creates these names.
    let mut n = 0;
    while exists(&target).await {
        n += 1;
        target = rotated_name(live, job_id, n);
    }
    tokio::fs::rename(live, &target)
        .await
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::PermissionDenied => Error::Unsuitable {
                server: ctx.server.name.clone(),
                problem: format!("cannot rename `{}` to rotate it: {source}", live.display()),
                next_step: "run the agent as the server's user (mysql), or give it write access to the log's directory".to_owned(),
            },
            _ => Error::io("rename", live)(source),
        })?;
    match conn.query_drop(kind.flush_statement()).await {
        Ok(()) => Ok(Rotated {
            path: target,
            job_id,
        }),
        Err(e) => {
            let undone = if exists(live).await {
                format!(
                    "the log stays as `{}`, sent by the next job",
                    target.display()
                )
            } else {
                match tokio::fs::rename(&target, live).await {
                    Ok(()) => "the log was renamed back".to_owned(),
                    Err(back) => format!(
                        "the log stays as `{}` (renaming it back failed: {back}), sent by the next job",
                        target.display()
                    ),
                }
            };
            Err(flush_error(ctx, kind, e, &undone))
        }
    }
}

fn flush_error(ctx: &TaskCtx<'_>, kind: LogKind, e: mysql_async::Error, undone: &str) -> Error {
    match &e {
        mysql_async::Error::Server(se) if se.code == ACCESS_DENIED => Error::Unsuitable {
            server: ctx.server.name.clone(),
            problem: format!(
                "the account `{}` may not run {}, which needs the RELOAD privilege ({}); {undone}",
                ctx.endpoint.user,
                kind.flush_words(),
                se.message
            ),
            next_step: "GRANT RELOAD ON *.* to the cluster's db-servers-credential account, then enqueue the job again".to_owned(),
        },
        _ => Error::sql(
            &ctx.server.name,
            format!("rotate the {} with {} ({undone})", kind.name(), kind.flush_words()),
            e,
        ),
    }
}

async fn exists(path: &Path) -> bool {
    tokio::fs::symlink_metadata(path).await.is_ok()
}

/// `value` as the server means it: a relative path is relative to the datadir (the server's
/// working directory).
fn resolve(datadir: &Path, value: &str) -> PathBuf {
    let value = Path::new(value.trim());
    let joined = if value.is_absolute() {
        value.to_path_buf()
    } else {
        datadir.join(value)
    };
    // `./host.err` reads better as `host.err`; `..` is left alone (symlinks make it unsafe
    // to fold).
    joined
        .components()
        .filter(|c| *c != Component::CurDir)
        .collect()
}

/// True when `@@log_output` (a SET such as `FILE,TABLE`) includes FILE.
fn writes_to_file(log_output: &str) -> bool {
    log_output
        .split(',')
        .any(|v| v.trim().eq_ignore_ascii_case("FILE"))
}

/// `<live>.ferryman-<job id>`, or `<live>.ferryman-<job id>.<n>` for the `n`th name taken.
fn rotated_name(live: &Path, job_id: u64, n: u32) -> PathBuf {
    let mut name = live.as_os_str().to_owned();
    name.push(format!("{ROTATED_MARK}{job_id}"));
    if n > 0 {
        name.push(format!(".{n}"));
    }
    PathBuf::from(name)
}

/// The job id and counter in `name` when it is a rotated name of `live_name`.
fn rotated_id(live_name: &str, name: &str) -> Option<(u64, u32)> {
    let rest = name.strip_prefix(live_name)?.strip_prefix(ROTATED_MARK)?;
    let (id, n) = rest.split_once('.').unwrap_or((rest, "0"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(id) || !digits(n) {
        return None;
    }
    Some((id.parse().ok()?, n.parse().ok()?))
}

/// Rotated names of `live_name` among `names`, oldest job first.
fn order_leftovers<'a>(
    live_name: &str,
    names: impl IntoIterator<Item = &'a str>,
) -> Vec<(&'a str, u64)> {
    let mut found: Vec<(u64, u32, &str)> = names
        .into_iter()
        .filter_map(|name| rotated_id(live_name, name).map(|(id, n)| (id, n, name)))
        .collect();
    found.sort_unstable();
    found.into_iter().map(|(id, _, name)| (name, id)).collect()
}

/// The files earlier jobs renamed but could not send, oldest job first.
async fn leftovers(live: &Path) -> Result<Vec<Rotated>> {
    let (Some(dir), Some(live_name)) = (live.parent(), live.file_name().and_then(OsStr::to_str))
    else {
        return Ok(Vec::new());
    };
    let mut entries = match tokio::fs::read_dir(dir).await {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("list the log directory", dir)(e)),
    };
    let mut names = Vec::new();
    while let Some(entry) = entries
        .next_entry()
        .await
        .map_err(Error::io("list the log directory", dir))?
    {
        if let Ok(name) = entry.file_name().into_string() {
            names.push(name);
        }
    }
    Ok(order_leftovers(live_name, names.iter().map(String::as_str))
        .into_iter()
        .map(|(name, job_id)| Rotated {
            path: dir.join(name),
            job_id,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relative_log_path_is_relative_to_the_datadir() {
        let datadir = Path::new("/var/lib/mysql/");
        assert_eq!(
            resolve(datadir, "/var/log/mysql/error.log"),
            Path::new("/var/log/mysql/error.log")
        );
        assert_eq!(
            resolve(datadir, "db1-slow.log"),
            Path::new("/var/lib/mysql/db1-slow.log")
        );
        assert_eq!(
            resolve(datadir, "./db1.err"),
            Path::new("/var/lib/mysql/db1.err")
        );
        assert_eq!(
            resolve(datadir, "logs/x.log\n"),
            Path::new("/var/lib/mysql/logs/x.log")
        );
        assert_eq!(
            resolve(datadir, "../log/x.log"),
            Path::new("/var/lib/mysql/../log/x.log")
        );
    }

    #[test]
    fn log_output_must_include_file() {
        assert!(writes_to_file("FILE"));
        assert!(writes_to_file("TABLE,FILE"));
        assert!(writes_to_file("file"));
        assert!(!writes_to_file("TABLE"));
        assert!(!writes_to_file("NONE"));
        assert!(!writes_to_file(""));
    }

    #[test]
    fn rotated_names_carry_the_job_id() {
        let live = Path::new("/var/log/mysql/slow.log");
        assert_eq!(
            rotated_name(live, 42, 0),
            Path::new("/var/log/mysql/slow.log.ferryman-42")
        );
        assert_eq!(
            rotated_name(live, 42, 2),
            Path::new("/var/log/mysql/slow.log.ferryman-42.2")
        );
        assert_eq!(
            rotated_id("slow.log", "slow.log.ferryman-42"),
            Some((42, 0))
        );
        assert_eq!(
            rotated_id("slow.log", "slow.log.ferryman-42.2"),
            Some((42, 2))
        );
        for other in [
            "slow.log",
            "slow.log.ferryman-",
            "slow.log.ferryman-x",
            "slow.log.ferryman-+4",
            "slow.log.ferryman-4.",
            "slow.log.ferryman-4.tmp",
            "slow.log.ferryman-4.1.1",
            "slow.log.1",
            "other.log.ferryman-4",
            "xslow.log.ferryman-4",
            "slow.log.ferryman-99999999999999999999999",
        ] {
            assert_eq!(rotated_id("slow.log", other), None, "{other}");
        }
    }

    #[test]
    fn leftovers_come_oldest_job_first_by_number_not_by_text() {
        let names = [
            "err.log",
            "err.log.ferryman-100",
            "err.log.ferryman-9",
            "err.log.ferryman-9.1",
            "slow.log.ferryman-1",
            "err.log.1",
            "err.log.ferryman-10",
            "err.log.ferryman-junk",
        ];
        assert_eq!(
            order_leftovers("err.log", names),
            [
                ("err.log.ferryman-9", 9),
                ("err.log.ferryman-9.1", 9),
                ("err.log.ferryman-10", 10),
                ("err.log.ferryman-100", 100),
            ]
        );
        assert!(order_leftovers("none.log", names).is_empty());
    }

    #[tokio::test]
    async fn leftovers_are_found_next_to_the_live_file() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("slow.log");
        for name in [
            "slow.log",
            "slow.log.ferryman-12",
            "slow.log.ferryman-3",
            "x",
        ] {
            std::fs::write(dir.path().join(name), name).unwrap();
        }
        let found = leftovers(&live).await.unwrap();
        assert_eq!(
            found,
            [
                Rotated {
                    path: dir.path().join("slow.log.ferryman-3"),
                    job_id: 3
                },
                Rotated {
                    path: dir.path().join("slow.log.ferryman-12"),
                    job_id: 12
                },
            ]
        );
        assert!(leftovers(&dir.path().join("gone/slow.log"))
            .await
            .unwrap()
            .is_empty());
    }

    /// With a real server: writers keep the slow log busy while log jobs run back to back,
    /// one of them cancelled mid-send; every line reaches a receiver or the live file
    /// exactly once. Then the error log, and a FLUSH refused for lack of RELOAD.
    mod with_a_server {
        use std::collections::HashMap;
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;
        use std::time::Duration;

        use ferryman_config::ServerConfig;
        use ferryman_db::{Endpoint, Session};
        use ferryman_jobs::{Job, JobId};
        use ferryman_proto::Task;
        use ferryman_sandbox::testing::TestSandbox;
        use tokio::io::AsyncReadExt;
        use tokio::net::TcpListener;
        use tokio::task::JoinHandle;
        use tokio_util::sync::CancellationToken;

        use super::super::*;
        use crate::progress::Progress;

        fn job(id: u64, task: Task, port: u16) -> Job {
            Job {
                id: JobId(id),
                task: Some(task.to_string()),
                port: Some(i32::from(port)),
                server: Some("127.0.0.1".into()),
                result: Some("processing".into()),
                ..Job::default()
            }
        }

        async fn run_job(
            server: &ServerConfig,
            endpoint: &Endpoint,
            id: u64,
            kind: LogKind,
            port: u16,
            cancel: &CancellationToken,
        ) -> Result<String> {
            let scratch = tempfile::tempdir().unwrap();
            let task = match kind {
                LogKind::Error => Task::Error,
                LogKind::Slow => Task::Slowquery,
            };
            let job = job(id, task, port);
            let progress = Progress::new();
            let destinations = crate::Destinations::new(vec![("127.0.0.1".to_owned(), port)]);
            let ctx = TaskCtx {
                job: &job,
                task,
                server,
                endpoint,
                scratch: scratch.path(),
                tool_logs: scratch.path(),
                swaps: scratch.path(),
                destinations: &destinations,
                progress: &progress,
                cancel,
                connect_timeout: Duration::from_secs(5),
                jobs_schema: &ferryman_jobs::Schema::default(),
                joiner: &crate::tasks::JoinerSettings::for_tests(),
            };
            run(&ctx, kind).await
        }

        /// A listener taking one stream whole.
        async fn receiver() -> (u16, JoinHandle<Vec<u8>>) {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let got = tokio::spawn(async move {
                let (mut sock, _) = listener.accept().await.unwrap();
                let mut all = Vec::new();
                let _ = sock.read_to_end(&mut all).await;
                all
            });
            (port, got)
        }

        /// `<mk-W-N>` markers in `text`, counted.
        fn count_markers(text: &[u8], counts: &mut HashMap<String, usize>) {
            let text = String::from_utf8_lossy(text);
            for (at, _) in text.match_indices("<mk-") {
                if let Some(len) = text[at..].find('>') {
                    *counts.entry(text[at..=at + len].to_owned()).or_default() += 1;
                }
            }
        }

        fn rotated_files(live: &Path) -> Vec<String> {
            let dir = live.parent().unwrap();
            let prefix = format!("{}.ferryman-", live.file_name().unwrap().to_str().unwrap());
            let mut found: Vec<String> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .filter(|n| n.starts_with(&prefix))
                .collect();
            found.sort();
            found
        }

        async fn variable(endpoint: &Endpoint, query: &str) -> String {
            let mut c = endpoint.connect(Session::Plain).await.unwrap();
            let v: Option<String> = c.query_first(query).await.unwrap();
            c.disconnect().await.unwrap();
            v.unwrap_or_default()
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn no_line_is_lost_or_sent_twice() {
            let sb = TestSandbox::start(0).await;
            let config = sb.config();
            let server = config.clusters[0].servers[0].clone();
            let endpoint = sb.endpoint(sb.primary());
            let never = CancellationToken::new();
            let slow = PathBuf::from(variable(&endpoint, "SELECT @@slow_query_log_file").await);
            let gtid_before = variable(&endpoint, "SELECT @@gtid_binlog_pos").await;

            let stop = Arc::new(AtomicBool::new(false));
            let writers: Vec<JoinHandle<u64>> = (0..4)
                .map(|w| {
                    let (endpoint, stop) = (endpoint.clone(), stop.clone());
                    tokio::spawn(async move {
                        let mut c = endpoint.connect(Session::Plain).await.unwrap();
                        c.query_drop("SET SESSION long_query_time = 0")
                            .await
                            .unwrap();
                        let mut n = 0u64;
                        while !stop.load(Ordering::Relaxed) {
                            c.query_drop(format!("SELECT '<mk-{w}-{n}>'"))
                                .await
                                .unwrap();
                            n += 1;
                            tokio::time::sleep(Duration::from_millis(1)).await;
                        }
                        // The server reads a session's next command only once the previous one
                        // is done, slow-log line included.
                        c.query_drop("DO 0").await.unwrap();
                        c.disconnect().await.unwrap();
                        n
                    })
                })
                .collect();
            let mut received = Vec::new();
            tokio::time::sleep(Duration::from_millis(300)).await;

            for id in [101, 102] {
                let (port, got) = receiver().await;
                let result = run_job(&server, &endpoint, id, LogKind::Slow, port, &never)
                    .await
                    .unwrap();
                assert!(result.starts_with("slow-query log: 1 file, "), "{result}");
                assert!(
                    result.ends_with(&format!(
                        "rotated ({} reopened by FLUSH SLOW LOGS)",
                        slow.display()
                    )),
                    "{result}"
                );
                received.push(got.await.unwrap());
                tokio::time::sleep(Duration::from_millis(200)).await;
            }

            // A leftover too big for the socket buffers and a receiver that never reads: the
            // job is cancelled mid-send, and keeps both files.
            let filler = b"# leftover of job 50\n".repeat(48 * 1024 * 1024 / 21);
            std::fs::write(rotated_name(&slow, 50, 0), &filler).unwrap();
            let stuck = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = stuck.local_addr().unwrap().port();
            let holder = tokio::spawn(async move {
                let (sock, _) = stuck.accept().await.unwrap();
                tokio::time::sleep(Duration::from_secs(5)).await;
                drop(sock);
            });
            let cancel = CancellationToken::new();
            let canceller = {
                let cancel = cancel.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    cancel.cancel();
                })
            };
            let err = run_job(&server, &endpoint, 103, LogKind::Slow, port, &cancel)
                .await
                .unwrap_err()
                .to_string();
            assert!(err.contains("cancelled after sending"), "{err}");
            canceller.await.unwrap();
            holder.abort();
            let live_name = slow.file_name().unwrap().to_str().unwrap();
            assert_eq!(
                rotated_files(&slow),
                [
                    format!("{live_name}.ferryman-103"),
                    format!("{live_name}.ferryman-50")
                ]
            );
            tokio::time::sleep(Duration::from_millis(200)).await;

            let (port, got) = receiver().await;
            let result = run_job(&server, &endpoint, 104, LogKind::Slow, port, &never)
                .await
                .unwrap();
            assert!(
                result.starts_with("slow-query log: 3 files (2 left by earlier jobs: 50, 103), "),
                "{result}"
            );
            let d = got.await.unwrap();
            assert!(d.starts_with(&filler), "the oldest leftover comes first");
            received.push(d);
            assert!(
                rotated_files(&slow).is_empty(),
                "{:?}",
                rotated_files(&slow)
            );

            stop.store(true, Ordering::Relaxed);
            let mut issued = 0;
            let mut expected = Vec::new();
            for (w, writer) in writers.into_iter().enumerate() {
                let n = writer.await.unwrap();
                issued += n;
                expected.extend((0..n).map(|i| format!("<mk-{w}-{i}>")));
            }
            let mut counts = HashMap::new();
            let per_stream: Vec<usize> = received
                .iter()
                .map(|r| {
                    let before: usize = counts.values().sum();
                    count_markers(r, &mut counts);
                    counts.values().sum::<usize>() - before
                })
                .collect();
            count_markers(&std::fs::read(&slow).unwrap(), &mut counts);
            assert!(per_stream.iter().all(|n| *n > 0), "{per_stream:?}");
            assert!(issued > 1000, "only {issued} queries");
            for marker in &expected {
                assert_eq!(counts.get(marker), Some(&1), "{marker}");
            }
            assert_eq!(counts.len(), expected.len(), "markers nobody issued");
            assert_eq!(
                variable(&endpoint, "SELECT @@gtid_binlog_pos").await,
                gtid_before,
                "FLUSH must not be binary-logged"
            );

            // The error log, then a FLUSH the account may not run: the log is renamed back.
            let err_log = PathBuf::from(variable(&endpoint, "SELECT @@log_error").await);
            let (port, got) = receiver().await;
            let result = run_job(&server, &endpoint, 201, LogKind::Error, port, &never)
                .await
                .unwrap();
            assert!(result.starts_with("error log: 1 file, "), "{result}");
            assert!(result.contains("reopened by FLUSH ERROR LOGS"), "{result}");
            let sent = String::from_utf8(got.await.unwrap()).unwrap();
            assert!(sent.contains("ready for connections"), "{sent}");
            assert!(err_log.exists() && rotated_files(&err_log).is_empty());

            let mut admin = endpoint.connect(Session::NoBinlog).await.unwrap();
            admin
                .query_drop("CREATE USER 'noreload'@'127.0.0.1'")
                .await
                .unwrap();
            admin.disconnect().await.unwrap();
            let weak = Endpoint {
                user: "noreload".into(),
                password: None,
                ..endpoint.clone()
            };
            use std::os::unix::fs::MetadataExt;
            let inode = std::fs::metadata(&err_log).unwrap().ino();
            let (port, _got) = receiver().await;
            let err = run_job(&server, &weak, 202, LogKind::Error, port, &never)
                .await
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(
                    "`noreload` may not run FLUSH ERROR LOGS, which needs the RELOAD privilege"
                ),
                "{err}"
            );
            assert!(err.contains("the log was renamed back"), "{err}");
            assert_eq!(std::fs::metadata(&err_log).unwrap().ino(), inode);
            assert!(rotated_files(&err_log).is_empty());
        }
    }
}
