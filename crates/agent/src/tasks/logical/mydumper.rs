//! `mydumper`: a parallel logical backup, sent while it is taken.
//!
//! # Sequence
//! 1. Connect to the receiver first: a dump with nowhere to go would hold a snapshot for
//!    nothing, and from here on bytes flow.
//! 2. `mydumper` dumps into the job's scratch directory with its threads, cutting every table
//!    into files of [`CHUNK_MIB`] (`--chunk-filesize`), so that files are finished often.
//! 3. Every [`FEED_EVERY`], the files mydumper has finished are named, NUL-terminated, to
//!    `tar -c --null -T - --remove-files`, which reads its list as it comes: it archives each
//!    file to its stdout, the job's stream, and removes it. The dump and the transfer overlap,
//!    and the scratch directory holds only what the link has not taken yet.
//! 4. Once mydumper has exited 0 and its `metadata` file says `Finished dump at`, the files
//!    left are named, then `metadata` last, and the list ends; tar ends the archive and exits.
//!
//! # Why a file no longer open is finished
//! mydumper opens each output file once, writes it and closes it (a chunk of a table, a
//! schema). A name seen in the directory *before* its file descriptors are read
//! (`/proc/PID/fd`) was already created, which opened it; if no descriptor then points at it,
//! it was closed, so it is whole. The order of the two reads is what makes this safe. The
//! `metadata` file is left to the end whatever its state, since it is what says the dump
//! finished. An empty file is left to the end too: mydumper removes a chunk file it closed
//! without rows.
//!
//! # Nothing lost on the way
//! Every file named to tar is measured once closed; the archive must be at least as long as
//! those files stored whole (a 512-byte header each, their content padded to 512 bytes), or the
//! job fails. This catches what tar could leave
//! out without an error, such as a file archived as a hard link to an earlier one whose inode
//! number it reused (tar is told `--hard-dereference` for that very case).
//!
//! # Failure
//! A failed or cancelled dump, or a stream the receiver stops taking, kills both programs (kill
//! on drop) and the caller resets the stream: the receiver keeps nothing. The repository also
//! refuses an archive whose `metadata` lacks `Finished dump at` or whose data files are cut.

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ferryman_exec::{Program, Running};
use ferryman_proto::mydumper::{METADATA, METADATA_PARTIAL};
use ferryman_proto::StreamKind;
use tokio::io::AsyncWriteExt;
use tokio::process::ChildStdin;

use super::coordinates::{Coordinates, Metadata};
use super::{check_exit, interrupted, jobs_table, one_line, take_stdout, TAIL_LINES};
use crate::progress;
use crate::sender::{Sent, Stream};
use crate::tasks::TaskCtx;
use crate::{Error, Result};

/// mydumper's threads: parallel enough, without loading the server a backup should spare.
const MYDUMPER_THREADS: u32 = 2;
/// The size at which mydumper starts a table's next file, MiB: small enough that files are
/// finished (and sent) every few seconds, large enough that their count stays modest.
const CHUNK_MIB: u32 = 64;
/// A tar block: each member's header, and the unit its content is padded to.
const TAR_BLOCK: u64 = 512;
/// How often finished files are looked for.
const FEED_EVERY: Duration = Duration::from_millis(200);

/// The arguments of `mydumper`, after the program name.
///
/// Debian 12's mydumper (0.10) knows only `--defaults-file`, read through the client library
/// (groups `[client]` and `[mydumper]`), so the option file is the only one it reads.
/// `--trx-consistency-only` releases FLUSH TABLES WITH READ LOCK as soon as every thread has
/// its snapshot (InnoDB consistent, like `--single-transaction`). No `--compress`: the stream
/// is compressed on the node or by the receiver. `--regex` leaves out `exclude`
/// (`schema.table`).
pub(crate) fn mydumper_args(
    defaults_file_arg: &str,
    outputdir: &Path,
    exclude: &str,
) -> Vec<OsString> {
    vec![
        defaults_file_arg.into(),
        format!("--outputdir={}", outputdir.display()).into(),
        format!("--threads={MYDUMPER_THREADS}").into(),
        format!("--chunk-filesize={CHUNK_MIB}").into(),
        "--trx-consistency-only".into(),
        "--triggers".into(),
        "--events".into(),
        "--routines".into(),
        format!("--regex=^(?!{}$)", exclude.replace('.', "\\.")).into(),
    ]
}

/// The arguments of the `tar` that archives `dir` from a NUL-separated list on stdin.
fn tar_args(dir: &Path) -> Vec<OsString> {
    vec![
        "-C".into(),
        dir.as_os_str().to_owned(),
        "-c".into(),
        "-f".into(),
        "-".into(),
        "--null".into(),
        // A name starting with `-` (a database's) is a name, not an option.
        "--verbatim-files-from".into(),
        // Every name archived with its content: a file removed once archived frees its inode,
        // the next file mydumper creates may get the same number, and tar would otherwise
        // record that one as a hard link to the first (its content lost).
        "--hard-dereference".into(),
        "-T".into(),
        "-".into(),
        "--remove-files".into(),
    ]
}

/// Dumps with mydumper into the scratch directory while tar sends its finished files.
pub(in crate::tasks) async fn mydumper(ctx: &TaskCtx<'_>) -> Result<String> {
    let mydumper = Program::find("mydumper", "mydumper")?;
    let tar = Program::find("tar", "tar")?;
    let version = one_line(&mydumper.version().await.unwrap_or_default());
    let dir = ctx.scratch.join("dump");
    std::fs::create_dir(&dir).map_err(Error::io("create mydumper's directory", &dir))?;
    let mut stream = ctx.connect(StreamKind::Backup).await?;
    let outcome = dump_and_send(ctx, &mydumper, &tar, &dir, &mut stream).await;
    // The runner removes the scratch directory too; what is left can be large, so free it now.
    if let Err(e) = tokio::fs::remove_dir_all(&dir).await {
        if e.kind() != io::ErrorKind::NotFound {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot remove mydumper's directory");
        }
    }
    let done = match outcome {
        Ok(done) => done,
        Err(e) => {
            // A reset, not an end-of-file: the receiver must not keep a partial archive.
            stream.abort();
            return Err(e);
        }
    };
    let sent: Sent = stream.finish().await?;
    Ok(format!(
        "mydumper: {} files dumped in {} and sent as they were finished, tar of {}; {}; \
         completed ({version})",
        done.files,
        progress::seconds(done.dumped_in),
        sent.describe(),
        done.coordinates.describe()
    ))
}

/// What the dump was.
#[derive(Debug)]
struct Dumped {
    /// Files archived.
    files: usize,
    /// Their bytes, once mydumper had closed them.
    bytes: u64,
    /// The shortest archive holding them whole.
    min_archive: u64,
    /// From mydumper's start to its exit.
    dumped_in: Duration,
    /// From the `metadata` file.
    coordinates: Coordinates,
}

async fn dump_and_send(
    ctx: &TaskCtx<'_>,
    mydumper: &Program,
    tar: &Program,
    dir: &Path,
    stream: &mut Stream,
) -> Result<Dumped> {
    let option_file = ctx.option_file()?;
    let (mut archiver, tar_log) = ctx.spawn_tool_with(tar, "tar", tar_args(dir), true)?;
    let names = archiver.take_stdin().ok_or_else(|| Error::Read {
        what: "tar's file list".to_owned(),
        source: io::Error::other("stdin was not captured"),
    })?;
    let mut archive = take_stdout(&mut archiver, tar.name())?;
    let dumper = ctx.spawn_tool(
        mydumper,
        "mydumper",
        mydumper_args(
            &option_file.defaults_file_arg(),
            dir,
            &jobs_table(ctx.jobs_schema),
        ),
    )?;
    ctx.progress.set_phase(format!(
        "mydumper dumping, its finished files sent to {}",
        stream.address()
    ));
    let feed = Feed {
        ctx,
        tool: mydumper.name(),
        dir,
        names,
        sent: HashSet::new(),
        bytes: 0,
        min_archive: 0,
    };
    let send = stream.send(&mut archive, "tar's output", ctx.progress, ctx.cancel);
    // The first error drops the other side: mydumper and tar are killed on drop.
    let (dumped, archived) = tokio::try_join!(feed.run(dumper), send)?;
    drop(option_file);
    let finished = archiver.wait().await?;
    check_exit(tar.name(), &finished, &tar_log)?;
    if archived < dumped.min_archive {
        return Err(Error::ToolIncomplete {
            tool: tar.name().to_owned(),
            detail: format!(
                "its archive holds {archived} bytes, less than the {} bytes the {} files \
                 mydumper wrote ({} bytes) take stored whole, so some were left out; see {} and \
                 enqueue the job again",
                dumped.min_archive,
                dumped.files,
                dumped.bytes,
                tar_log.display()
            ),
            stderr_tail: finished.stderr_tail(TAIL_LINES),
            log: Some(tar_log),
        });
    }
    Ok(dumped)
}

/// Whether mydumper still runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Running,
    Exited,
}

/// Names mydumper's finished files to tar.
struct Feed<'a> {
    ctx: &'a TaskCtx<'a>,
    tool: &'a str,
    dir: &'a Path,
    names: ChildStdin,
    /// Names already given to tar.
    sent: HashSet<OsString>,
    /// Their bytes.
    bytes: u64,
    /// What they take in an archive at least.
    min_archive: u64,
}

impl Feed<'_> {
    /// Until mydumper exits: its finished files. Then, if it succeeded, the rest and
    /// `metadata`, and the end of the list.
    async fn run(mut self, dumper: (Running, PathBuf)) -> Result<Dumped> {
        let started = Instant::now();
        let (mut running, log) = dumper;
        let pid = running.pid();
        // mydumper logs on stderr (drained by exec); stdout is read too, so that output there
        // could never block it on a full pipe.
        let drain = crate::tasks::drain_stdout(&mut running);
        let dir = std::fs::canonicalize(self.dir).map_err(Error::io("read", self.dir))?;
        let wait = running.wait();
        tokio::pin!(wait);
        let finished = loop {
            tokio::select! {
                finished = &mut wait => break finished?,
                // Dropping `wait` drops `Running`, which kills mydumper.
                () = self.ctx.cancel.cancelled() => {
                    return Err(interrupted(self.ctx, self.tool));
                }
                () = tokio::time::sleep(FEED_EVERY) => {
                    if let Some(pid) = pid {
                        let done = finished_files(&dir, pid, &self.sent)?;
                        self.give(done, Stage::Running).await?;
                    }
                }
            }
        };
        if let Some(d) = drain {
            let _ = d.await;
        }
        check_exit(self.tool, &finished, &log)?;
        let dumped_in = started.elapsed();
        let incomplete = |detail: &str| Error::ToolIncomplete {
            tool: self.tool.to_owned(),
            detail: detail.to_owned(),
            stderr_tail: finished.stderr_tail(TAIL_LINES),
            log: Some(log.clone()),
        };
        // mydumper writes `metadata` last (0.10: with a closing `Finished dump at`; from 0.14
        // it renames `metadata.partial`): a directory without a complete one is not a backup.
        let metadata = match std::fs::read_to_string(dir.join(METADATA)) {
            Ok(text) => Metadata::parse(&text),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(incomplete(
                    "no `metadata` file in its output directory; enqueue the job again",
                ))
            }
            Err(e) => return Err(Error::io("read", dir.join(METADATA))(e)),
        };
        if !metadata.finished {
            return Err(incomplete(
                "its `metadata` file has no `Finished dump at` line; enqueue the job again",
            ));
        }
        let rest = listed(&dir, &self.sent).map_err(Error::io("list", &dir))?;
        self.give(rest, Stage::Exited).await?;
        self.give(vec![OsString::from(METADATA)], Stage::Exited)
            .await?;
        self.names
            .shutdown()
            .await
            .map_err(|e| self.list_error(e))?;
        Ok(Dumped {
            files: self.sent.len(),
            bytes: self.bytes,
            min_archive: self.min_archive,
            dumped_in,
            coordinates: metadata.coordinates,
        })
    }

    /// Names `files` to tar, each ended by a NUL.
    /// Names `files` to tar, each ended by a NUL. While mydumper runs, an empty file is left
    /// for later: mydumper removes a chunk file it closed without rows.
    async fn give(&mut self, files: Vec<OsString>, stage: Stage) -> Result<()> {
        let mut list = Vec::new();
        let mut given = Vec::new();
        for name in files {
            let path = self.dir.join(&name);
            let len = match std::fs::metadata(&path) {
                Ok(m) => m.len(),
                // Removed by mydumper (an empty chunk): nothing to send.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io("read", &path)(e)),
            };
            if len == 0 && stage == Stage::Running {
                continue;
            }
            self.bytes += len;
            self.min_archive += TAR_BLOCK + len.div_ceil(TAR_BLOCK) * TAR_BLOCK;
            list.extend_from_slice(name.as_bytes());
            list.push(0);
            given.push(name);
        }
        if given.is_empty() {
            return Ok(());
        }
        self.names
            .write_all(&list)
            .await
            .map_err(|e| self.list_error(e))?;
        self.sent.extend(given);
        self.ctx
            .progress
            .set_phase(format!("mydumper dumping, {} files sent", self.sent.len()));
        Ok(())
    }

    fn list_error(&self, source: io::Error) -> Error {
        let log = self.ctx.tool_log("tar");
        Error::Read {
            what: format!(
                "tar's file list (tar stopped reading it; see {})",
                log.display()
            ),
            source,
        }
    }
}

/// The files of `dir` not yet `sent`, other than the metadata files, sorted.
fn listed(dir: &Path, sent: &HashSet<OsString>) -> io::Result<Vec<OsString>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if !entry.file_type()?.is_file() {
            continue;
        }
        let name = entry.file_name();
        if name == OsStr::new(METADATA) || name == OsStr::new(METADATA_PARTIAL) {
            continue;
        }
        if !sent.contains(&name) {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// The files of `dir` (canonical) not yet `sent` that process `pid` no longer has open: see
/// the module documentation for why the directory is read first.
fn finished_files(dir: &Path, pid: u32, sent: &HashSet<OsString>) -> Result<Vec<OsString>> {
    let names = listed(dir, sent).map_err(Error::io("list", dir))?;
    if names.is_empty() {
        return Ok(names);
    }
    let Some(open) = open_files(pid) else {
        // Not readable (the process is going away): wait for the next round or the end.
        return Ok(Vec::new());
    };
    Ok(names
        .into_iter()
        .filter(|name| !open.contains(&dir.join(name)))
        .collect())
}

/// The paths process `pid` has open, or `None` when its descriptors cannot be read.
fn open_files(pid: u32) -> Option<HashSet<PathBuf>> {
    let fds = PathBuf::from(format!("/proc/{pid}/fd"));
    let entries = std::fs::read_dir(&fds).ok()?;
    // A descriptor closed between the listing and its readlink is simply not open any more.
    Some(
        entries
            .filter_map(|e| e.ok())
            .filter_map(|e| std::fs::read_link(e.path()).ok())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_files_no_longer_open_are_finished() {
        let dir = tempfile::tempdir().unwrap();
        let dir = std::fs::canonicalize(dir.path()).unwrap();
        for name in ["a.t.00000.sql", "a.t.00001.sql", METADATA, METADATA_PARTIAL] {
            std::fs::write(dir.join(name), b"x").unwrap();
        }
        std::fs::create_dir(dir.join("sub")).unwrap();
        // This process holds the second chunk open, as mydumper holds the file it writes.
        let held = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.join("a.t.00001.sql"))
            .unwrap();
        let me = std::process::id();
        let mut sent = HashSet::new();
        let done = finished_files(&dir, me, &sent).unwrap();
        assert_eq!(done, vec![OsString::from("a.t.00000.sql")]);
        sent.extend(done);
        assert!(finished_files(&dir, me, &sent).unwrap().is_empty());
        drop(held);
        assert_eq!(
            finished_files(&dir, me, &sent).unwrap(),
            vec![OsString::from("a.t.00001.sql")]
        );
    }

    #[test]
    fn tar_reads_its_list_verbatim_and_removes_what_it_archived() {
        let args: Vec<String> = tar_args(Path::new("/s/dump"))
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        let joined = args.join(" ");
        assert!(
            joined.contains(
                "-C /s/dump -c -f - --null --verbatim-files-from --hard-dereference -T - \
                 --remove-files"
            ),
            "{joined}"
        );
    }
}
