//! `mariabackup` and `xtrabackup`: a physical backup streamed as xbstream to the receiver.
//!
//! Same shape as the reference donor script's `mariabackup … --stream=xbstream | socat -u stdio
//! TCP:…`, with what it lacks: the password in a 0600 option file instead of `-p…`, the
//! receiver reached before the backup starts, the tool killed when the receiver goes away, and
//! success only when the tool both exits 0 and says `completed OK!` (as replication-manager's
//! later script checks).

use std::ffi::OsString;
use std::path::Path;

use ferryman_exec::{ClientOptions, OptionFile, Program};
use ferryman_proto::StreamKind;

use self::galera::GaleraBackup;
use super::TaskCtx;
use crate::{Error, Result};

pub(crate) mod galera;

/// The last line of a successful mariabackup / xtrabackup run.
const COMPLETED: &str = "completed OK!";
/// What precedes the binlog coordinates in the tool's output.
const BINLOG_POSITION: &str = "MySQL binlog position: ";
/// How many stderr lines a failure message quotes.
const TAIL_LINES: usize = 6;

/// The physical backup tools, which share one command-line interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhysicalTool {
    /// MariaDB's `mariabackup` (package mariadb-backup).
    Mariabackup,
    /// Percona's `xtrabackup` (not in Debian: from Percona's repository).
    Xtrabackup,
}

impl PhysicalTool {
    /// The executable's name.
    pub fn program(self) -> &'static str {
        match self {
            PhysicalTool::Mariabackup => "mariabackup",
            PhysicalTool::Xtrabackup => "xtrabackup",
        }
    }

    /// The program that extracts the tool's xbstream: `mbstream` or `xbstream`.
    pub fn extractor(self) -> &'static str {
        match self {
            PhysicalTool::Mariabackup => "mbstream",
            PhysicalTool::Xtrabackup => "xbstream",
        }
    }

    /// Where to get it (and its extractor, which comes in the same package).
    pub(super) fn packages(self) -> &'static str {
        match self {
            PhysicalTool::Mariabackup => "mariadb-backup",
            PhysicalTool::Xtrabackup => {
                "percona-xtrabackup-80 (from Percona's apt repository; it is not in Debian)"
            }
        }
    }
}

/// The arguments of a streamed backup, after the program name.
///
/// `option_file_arg` comes first (`--defaults-file=…` with the server's `my.cnf` included, or
/// `--defaults-extra-file=…`): both tools refuse it anywhere else. `--slave-info` records a
/// replica's source coordinates (ignored, with a note, on a primary). xtrabackup gets
/// `--no-version-check` so a backup never calls out to Percona's servers.
pub fn backup_command(
    tool: PhysicalTool,
    option_file_arg: &str,
    datadir: Option<&Path>,
    target_dir: &Path,
) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec![
        option_file_arg.into(),
        "--backup".into(),
        "--stream=xbstream".into(),
        format!("--target-dir={}", target_dir.display()).into(),
        "--slave-info".into(),
    ];
    if let Some(datadir) = datadir {
        args.push(format!("--datadir={}", datadir.display()).into());
    }
    if tool == PhysicalTool::Xtrabackup {
        args.push("--no-version-check".into());
    }
    args
}

/// Runs the backup and streams it to the job's receiver; on a Galera node with
/// `--galera-info`, desynced while it runs when so configured (`physical/galera.rs`).
pub(super) async fn run(ctx: &TaskCtx<'_>, tool: PhysicalTool) -> Result<String> {
    let Some(galera) = GaleraBackup::begin(ctx).await? else {
        return stream(ctx, tool, false).await;
    };
    let backup = stream(ctx, tool, true).await;
    let note = galera.note.clone();
    let resynced = galera.end(ctx).await;
    match (backup, resynced) {
        (Ok(result), Ok(())) => Ok(format!("{result}; {note}")),
        (Err(e), _) => Err(e),
        // The backup is whole, but the node must not stay out of flow control unnoticed.
        (Ok(_), Err(e)) => Err(e),
    }
}

/// The backup itself.
async fn stream(ctx: &TaskCtx<'_>, tool: PhysicalTool, galera_info: bool) -> Result<String> {
    let program = Program::find(tool.program(), tool.packages())?;
    // `/usr/bin/mariabackup based on MariaDB server 10.11.19-MariaDB …`: the path adds nothing.
    let version = program.version().await.unwrap_or_default();
    let version = version
        .strip_prefix(&program.path().display().to_string())
        .map(|rest| format!("{}{rest}", tool.program()))
        .unwrap_or(version);
    let ssl = ferryman_db::ssl::option_lines(&ctx.endpoint.ssl);
    let options = ClientOptions {
        user: Some(&ctx.endpoint.user),
        password: ctx.endpoint.password.as_ref().map(|p| p.expose_secret()),
        host: Some(&ctx.endpoint.host),
        port: Some(ctx.endpoint.port),
        socket: None,
        ssl: &ssl,
    };
    // The server's my.cnf gives the tool the datadir and InnoDB layout; the credential comes
    // from our file. The tools accept a single defaults option, hence the `!include`.
    let option_file = match &ctx.server.defaults_file {
        Some(defaults) => OptionFile::create_including(ctx.scratch, defaults, &options)?,
        None => OptionFile::create(ctx.scratch, &options)?,
    };
    let option_arg = match &ctx.server.defaults_file {
        Some(_) => option_file.defaults_file_arg(),
        None => option_file.arg(),
    };
    let target = ctx.scratch.join("target");
    std::fs::create_dir_all(&target).map_err(Error::io("create directory", &target))?;

    // Reach the receiver first: a backup with nowhere to go is wasted I/O on the server.
    let mut stream = ctx.connect(StreamKind::Backup).await?;
    let mut args = backup_command(tool, &option_arg, ctx.server.datadir.as_deref(), &target);
    if galera_info {
        args.push("--galera-info".into());
    }
    let spawned = ctx.spawn_tool(&program, tool.program(), args);
    let (mut running, log) = match spawned {
        Ok(r) => r,
        Err(e) => {
            // Reset, not end-of-file: an empty stream must not look like a complete one.
            stream.abort();
            return Err(e);
        }
    };
    ctx.progress.set_phase(format!(
        "{} streaming to {}",
        tool.program(),
        stream.address()
    ));
    let Some(mut stdout) = running.take_stdout() else {
        let _ = running.kill().await;
        stream.abort();
        return Err(Error::Read {
            what: format!("{}'s output", tool.program()),
            source: std::io::Error::other("stdout was not captured"),
        });
    };
    let what = format!("{}'s output", tool.program());
    if let Err(e) = stream
        .send(&mut stdout, &what, ctx.progress, ctx.cancel)
        .await
    {
        // The receiver is gone or we were told to stop: the backup cannot complete.
        let _ = running.kill().await;
        stream.abort();
        return Err(e);
    }
    let finished = running.wait().await?;
    let stderr_tail = finished.stderr_tail(TAIL_LINES);
    if !finished.status.success() {
        stream.abort();
        return Err(Error::ToolFailed {
            tool: tool.program().to_owned(),
            status: finished.status,
            stderr_tail,
            log: Some(log),
        });
    }
    if !finished.stderr_tail(3).contains(COMPLETED) {
        stream.abort();
        return Err(Error::ToolIncomplete {
            tool: tool.program().to_owned(),
            detail: format!("no `{COMPLETED}` at the end of its output"),
            stderr_tail,
            log: Some(log),
        });
    }
    let sent = stream.finish().await?;
    drop(option_file);
    let coordinates = binlog_position(&finished.stderr)
        .map(|p| format!("; binlog position: {p}"))
        .unwrap_or_default();
    Ok(format!(
        "{}: xbstream of {}{coordinates}; {COMPLETED} ({version})",
        tool.program(),
        sent.describe(),
    ))
}

/// The coordinates the tool printed: `filename 'binlog.000002', position '1234', GTID of the
/// last change '0-1-5'`.
fn binlog_position(stderr: &str) -> Option<&str> {
    stderr
        .lines()
        .rev()
        .find_map(|line| line.split_once(BINLOG_POSITION).map(|(_, p)| p.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: Vec<OsString>) -> Vec<String> {
        args.into_iter().map(|a| a.into_string().unwrap()).collect()
    }

    #[test]
    fn mariabackup_command_puts_the_option_file_first_and_streams_xbstream() {
        let args = strings(backup_command(
            PhysicalTool::Mariabackup,
            "--defaults-file=/w/job/.ferryman-client-x.cnf",
            Some(Path::new("/var/lib/mysql")),
            Path::new("/w/job/target"),
        ));
        assert_eq!(
            args,
            [
                "--defaults-file=/w/job/.ferryman-client-x.cnf",
                "--backup",
                "--stream=xbstream",
                "--target-dir=/w/job/target",
                "--slave-info",
                "--datadir=/var/lib/mysql",
            ]
        );
    }

    #[test]
    fn xtrabackup_command_has_the_same_interface_and_never_phones_home() {
        let args = strings(backup_command(
            PhysicalTool::Xtrabackup,
            "--defaults-extra-file=/w/c.cnf",
            None,
            Path::new("/w/t"),
        ));
        assert_eq!(
            args,
            [
                "--defaults-extra-file=/w/c.cnf",
                "--backup",
                "--stream=xbstream",
                "--target-dir=/w/t",
                "--slave-info",
                "--no-version-check",
            ]
        );
        assert!(!args.iter().any(|a| a.contains("password")));
        assert_eq!(PhysicalTool::Xtrabackup.program(), "xtrabackup");
    }

    #[test]
    fn a_missing_xtrabackup_names_where_to_get_it() {
        let err = Program::find(
            "xtrabackup-surely-missing",
            PhysicalTool::Xtrabackup.packages(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("percona-xtrabackup-80"), "{err}");
    }

    #[test]
    fn binlog_position_is_read_from_the_tool_output() {
        let out = "[00] 2026-11-21 02:42:45 Streaming xtrabackup_binlog_info\n\
                   [00] 2026-11-21 02:42:45 MySQL binlog position: filename 'binlog.000001', position '325', GTID of the last change '0-1-9'\n\
                   [00] 2026-11-21 02:42:45 completed OK!\n";
        assert_eq!(
            binlog_position(out),
            Some("filename 'binlog.000001', position '325', GTID of the last change '0-1-9'")
        );
        assert_eq!(binlog_position("nothing"), None);
    }
}
