//! Rotating a log without losing a line: the live file renamed to
//! `<file>.ferryman-<job id>`, the server made to reopen it, and the renamed files earlier jobs
//! left unsent found again, oldest job first.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use ferryman_db::mysql_async;
use ferryman_db::mysql_async::prelude::Queryable;
use ferryman_db::Connection;

use super::LogKind;
use crate::tasks::TaskCtx;
use crate::{Error, Result};

/// What follows the live file's name in a rotated file's name, before the job id.
const ROTATED_MARK: &str = ".ferryman-";
/// `ER_SPECIFIC_ACCESS_DENIED_ERROR`: "you need (at least one of) the RELOAD privilege(s)".
const ACCESS_DENIED: u16 = 1227;

/// A file left by an earlier job (or renamed by this one), with the job id in its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Rotated {
    pub(super) path: PathBuf,
    pub(super) job_id: u64,
}

/// Renames the live file away and has the server reopen it. When the flush fails the rename
/// is undone if the original path is still free; otherwise the file stays as a leftover.
pub(super) async fn rotate(
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

pub(super) async fn exists(path: &Path) -> bool {
    tokio::fs::symlink_metadata(path).await.is_ok()
}

/// `<live>.ferryman-<job id>`, or `<live>.ferryman-<job id>.<n>` for the `n`th name taken.
pub(super) fn rotated_name(live: &Path, job_id: u64, n: u32) -> PathBuf {
    let mut name = live.as_os_str().to_owned();
    name.push(format!("{ROTATED_MARK}{job_id}"));
    if n > 0 {
        name.push(format!(".{n}"));
    }
    PathBuf::from(name)
}

/// The job id and counter in `name` when it is a rotated name of `live_name`.
pub(super) fn rotated_id(live_name: &str, name: &str) -> Option<(u64, u32)> {
    let rest = name.strip_prefix(live_name)?.strip_prefix(ROTATED_MARK)?;
    let (id, n) = rest.split_once('.').unwrap_or((rest, "0"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(id) || !digits(n) {
        return None;
    }
    Some((id.parse().ok()?, n.parse().ok()?))
}

/// Rotated names of `live_name` among `names`, oldest job first.
pub(super) fn order_leftovers<'a>(
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
pub(super) async fn leftovers(live: &Path) -> Result<Vec<Rotated>> {
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
