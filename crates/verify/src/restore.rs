//! `ferryman restore`: a stored backup restored into a directory of the DBA's choosing, rolled
//! forward to a point through the archived binlog segments, and kept (optionally running).
//!
//! # Sequence
//! 1. The target is checked before anything is written: it must not exist (or be an empty
//!    directory), its parent must, and its socket path must fit.
//! 2. The backup is restored on a throwaway server built beside the target (same file system:
//!    the last step is a rename), exactly as a verification restores it.
//! 3. Each segment of the plan is read from the first repository holding a good copy (a
//!    damaged or missing copy is passed over, and said), checked against its manifest, and
//!    written into the server's directory; for a time, the stop is found in them (the GTID
//!    before the first transaction written after the time).
//! 4. `mariadb-binlog --start-position=BACKUP --stop-position=STOP | mariadb` replays them;
//!    `gtid_slave_pos` is set to where the copy now is, so it can replicate from there.
//! 5. The server is stopped cleanly and its directory moved to the target; with `start`, it is
//!    started again there and left running.
//!
//! Steps 2 to 4 are [`roll_forward`], which a flashback to a point also takes (on the
//! manager, then streamed to the replica with `mariabackup --backup`, see
//! [`crate::throwaway::BackupStream`]).
//!
//! # Safety
//! Until step 5 everything is in the throwaway's own directory, removed on any error: a
//! failed restore leaves nothing, and the target is never half-written.

use std::path::{Path, PathBuf};

use ferryman_binlog::GtidPos;
use ferryman_db::mysql_async::prelude::Queryable;
use ferryman_db::Session;
use ferryman_repo::pitr::{Point, TimeStop};
use ferryman_repo::segments::SegmentManifest;
use ferryman_repo::{Manifest, Repository};

use crate::throwaway::{Kept, Throwaway, ThrowawayOptions, SOCKET_PATH_MAX};
use crate::{Error, Result};

/// What to restore.
#[derive(Debug)]
pub struct Request<'a> {
    /// The backup.
    pub backup: &'a Manifest,
    /// The repository its payload is read from.
    pub backup_repo: &'a Repository,
    /// The segments to replay, in order (none for the backup as it is).
    pub segments: &'a [SegmentManifest],
    /// The repositories holding segments, in the order they are tried.
    pub segment_repos: &'a [(String, Repository)],
    /// Where replay stops; `None`: the backup as it is.
    pub point: Option<Point>,
    /// The throwaway server's settings (for [`restore`], its work directory is the target's
    /// parent whatever is given here).
    pub options: ThrowawayOptions,
}

/// A backup restored on a throwaway server and rolled forward: the server still runs.
#[derive(Debug)]
pub struct RolledForward {
    /// The server, running on the copy.
    pub server: Throwaway,
    /// The backup restored.
    pub backup: String,
    /// Its GTID position.
    pub from: String,
    /// The position the copy is at (its `gtid_slave_pos`).
    pub reached: String,
    /// The segments replayed.
    pub segments: Vec<String>,
    /// Seconds per step.
    pub steps: Vec<(&'static str, f64)>,
    /// Copies passed over and similar things the DBA should know.
    pub notes: Vec<String>,
}

/// What a restore did.
#[derive(Debug, Clone)]
pub struct Restored {
    /// The copy.
    pub kept: Kept,
    /// The backup restored.
    pub backup: String,
    /// Its GTID position.
    pub from: String,
    /// The position the copy is at (its `gtid_slave_pos`).
    pub reached: String,
    /// The segments replayed.
    pub segments: Vec<String>,
    /// Seconds per step.
    pub steps: Vec<(&'static str, f64)>,
    /// Copies passed over and similar things the DBA should know.
    pub notes: Vec<String>,
    /// The running server's PID, with `start`.
    pub pid: Option<u32>,
}

/// Restores `req` into `target` and, with `start`, starts the copy there (see the module
/// documentation).
pub async fn restore(req: Request<'_>, target: &Path, start: bool) -> Result<Restored> {
    let work_dir = check_target(target)?;
    let start_timeout = req.options.start_timeout;
    let rolled = roll_forward(Request {
        options: ThrowawayOptions {
            work_dir,
            ..req.options.clone()
        },
        ..req
    })
    .await?;
    let kept = rolled.server.keep(target).await?;
    let pid = if start {
        Some(kept.start(start_timeout).await?)
    } else {
        None
    };
    Ok(Restored {
        kept,
        backup: rolled.backup,
        from: rolled.from,
        reached: rolled.reached,
        segments: rolled.segments,
        steps: rolled.steps,
        notes: rolled.notes,
        pid,
    })
}

/// Steps 2 to 4: the backup restored on a throwaway server under `req.options.work_dir`,
/// rolled forward to the point, `gtid_slave_pos` set; the server is left running. On error
/// nothing is left.
pub async fn roll_forward(req: Request<'_>) -> Result<RolledForward> {
    let (server, mut steps) = crate::verifier::start_restore(
        req.backup_repo.payload_reader(&req.backup.id).await?,
        req.backup,
        &req.options,
        "restore",
    )
    .await?;
    let from: GtidPos = req
        .backup
        .gtid
        .as_deref()
        .unwrap_or_default()
        .parse()
        .map_err(|e| Error::Restore {
            step: "replay",
            reason: format!("the backup's GTID position does not parse: {e}"),
        })?;
    let mut notes = Vec::new();
    let mut reached = from.clone();
    let mut replayed = Vec::new();
    if let Some(point) = &req.point {
        let dir = server.dir().join("replay");
        std::fs::create_dir_all(&dir).map_err(Error::io("create", &dir))?;
        let mut files = Vec::new();
        let mut time = match point {
            Point::Time(t) => Some(TimeStop::new(&from, t.unix())),
            Point::Gtid(_) => None,
        };
        for (i, segment) in req.segments.iter().enumerate() {
            let bytes = read_segment(req.segment_repos, segment, &mut notes).await?;
            let more = match &mut time {
                Some(stop) => stop.take(&bytes)?,
                None => true,
            };
            let file = dir.join(format!("{i:05}.binlog"));
            std::fs::write(&file, &bytes).map_err(Error::io("write", &file))?;
            files.push(file);
            replayed.push(segment.name.clone());
            if !more {
                break;
            }
        }
        let stop = match (point, &time) {
            (Point::Gtid(g), _) => g.clone(),
            (_, Some(t)) => t.stop().clone(),
            (Point::Time(_), None) => from.clone(),
        };
        if stop != from && !files.is_empty() {
            let t = server
                .replay_binlogs(&files, &from.to_string(), &stop.to_string())
                .await?;
            steps.extend(t.steps);
        } else {
            replayed.clear();
        }
        reached = stop;
        std::fs::remove_dir_all(&dir).map_err(Error::io("remove", &dir))?;
    }
    let mut conn = server.endpoint().connect(Session::Plain).await?;
    conn.exec_drop("SET GLOBAL gtid_slave_pos = ?", (reached.to_string(),))
        .await
        .map_err(|e| server.endpoint().query_error("set gtid_slave_pos", e))?;
    let _ = conn.disconnect().await;
    Ok(RolledForward {
        server,
        backup: req.backup.id.to_string(),
        from: from.to_string(),
        reached: reached.to_string(),
        segments: replayed,
        steps,
        notes,
    })
}

/// The target's parent, once the target is known to be free: absent, or an empty directory
/// (removed, so that the finished copy can be renamed there).
fn check_target(target: &Path) -> Result<PathBuf> {
    let refuse = |reason: String| Error::Restore {
        step: "target",
        reason,
    };
    let parent = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_owned();
    if !parent.is_dir() {
        return Err(refuse(format!(
            "{} does not exist: create it, or choose a --target-dir whose parent exists",
            parent.display()
        )));
    }
    if target.join("sock").as_os_str().len() > SOCKET_PATH_MAX {
        return Err(refuse(format!(
            "{} is too deep for the server's socket (at most {SOCKET_PATH_MAX} bytes): choose a shorter --target-dir",
            target.display()
        )));
    }
    match std::fs::read_dir(target) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(refuse(format!(
                    "{} exists and is not empty: nothing is ever restored over files; choose a new --target-dir",
                    target.display()
                )));
            }
            std::fs::remove_dir(target).map_err(Error::io("remove the empty", target))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io("read", target)(e)),
    }
    Ok(parent)
}

/// `segment`'s bytes from the first repository holding a good copy; copies passed over are
/// noted.
async fn read_segment(
    repos: &[(String, Repository)],
    segment: &SegmentManifest,
    notes: &mut Vec<String>,
) -> Result<Vec<u8>> {
    let mut failures = Vec::new();
    for (name, repo) in repos {
        match repo.read_segment(segment).await {
            Ok(bytes) => {
                if !failures.is_empty() {
                    notes.push(format!(
                        "segment {}: read from `{name}` ({})",
                        segment.name,
                        failures.join("; ")
                    ));
                }
                return Ok(bytes);
            }
            Err(e) => failures.push(format!("`{name}`: {e}")),
        }
    }
    Err(Error::Restore {
        step: "replay",
        reason: format!(
            "no repository has a good copy of binlog segment {}: {}",
            segment.name,
            failures.join("; ")
        ),
    })
}
