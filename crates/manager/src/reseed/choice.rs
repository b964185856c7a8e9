//! Which stored backup a reseed restores when none is named, and whether a named one may be.
//!
//! A reseed replaces a replica's data, so the backup it restores must be the one most likely to
//! be whole: the newest backup of the method's kind whose payload is present and whose newest
//! verification passed; only when no such backup exists, the newest one never verified (the
//! caller says so); never one whose newest verification failed, unless it is named and the
//! request says `force`.

use ferryman_config::{ClusterConfig, ServerConfig};
use ferryman_proto::Method;
use ferryman_repo::{Kind, Manifest, Tool};
use ferryman_verify::{Status, Verification};

use super::ReseedRequest;
use crate::repositories::Repositories;
use crate::{Error, Result};

/// The backup a reseed restores, with notes for the DBA: the one asked for (checked to be
/// the cluster's, and refused when its newest verification failed unless `force`), else the
/// cluster's newest usable one of the method's kind (`reseed/choice.rs`). The notes say when
/// it was never verified, and which copy will be read when it is not the first repository's.
pub(super) async fn backup_for(
    repos: &Repositories,
    c: &ClusterConfig,
    request: &ReseedRequest,
) -> Result<(Manifest, Vec<String>)> {
    let (manifest, notes) = match &request.backup {
        Some(id) => {
            if id.cluster() != c.name {
                return Err(Error::Refused(format!(
                    "backup {id} belongs to cluster `{}`, not `{}`",
                    id.cluster(),
                    c.name
                )));
            }
            let m = repos.get(id).await?;
            let note = check_named(&m, request.force)?;
            let (_, source) = repos.source_for(&m).await?;
            (m, note.into_iter().chain(source).collect())
        }
        None if request.method == Method::Flashback => return Err(Error::Refused(
            "a flashback needs the backup to rewind to: give its id (see `ferryman backup list`)"
                .to_owned(),
        )),
        None => {
            // A dump is imported, a mydumper backup loaded with myloader: the newest of either.
            let (kind, usable): (Kind, fn(&Manifest) -> bool) = match request.method {
                Method::Logicalbackup => (Kind::Logical, |m| {
                    matches!(m.tool, Tool::Mysqldump | Tool::Mydumper)
                }),
                _ => (Kind::Physical, |_| true),
            };
            let of_kind: Vec<Manifest> = repos
                .list(Some(&c.name), None)
                .await?
                .into_iter()
                .filter(|m| m.kind == kind && usable(m))
                .collect();
            if of_kind.is_empty() {
                return Err(Error::Refused(format!(
                    "cluster `{}` has no {} backup to reseed from: take one with \
                         `ferryman backup run --cluster {} --kind {}`",
                    c.name,
                    if kind == Kind::Logical {
                        "logical"
                    } else {
                        "physical"
                    },
                    c.name,
                    kind.as_str()
                )));
            }
            newest_usable(repos, &c.name, of_kind).await?
        }
    };
    let wanted = match request.method {
        Method::Physicalbackup => Some(Kind::Physical),
        Method::Logicalbackup => Some(Kind::Logical),
        _ => None,
    };
    if let Some(kind) = wanted.filter(|k| *k != manifest.kind) {
        return Err(Error::Refused(format!(
            "backup {} is a {} backup, and `{}` restores {} ones; use `{}`",
            manifest.id,
            manifest.kind.as_str(),
            request.method,
            kind.as_str(),
            if manifest.kind == Kind::Physical {
                "physicalbackup"
            } else {
                "logicalbackup"
            }
        )));
    }
    Ok((manifest, notes))
}

/// What the newest verification of a backup said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verified {
    /// It passed.
    Passed,
    /// It failed.
    Failed,
    /// The backup was never verified.
    Never,
}

impl Verified {
    /// The newest verification recorded in `m`.
    pub fn of(m: &Manifest) -> Verified {
        match Verification::latest_of(m).map(|v| v.status) {
            Some(Status::Ok) => Verified::Passed,
            Some(Status::Failed) => Verified::Failed,
            None => Verified::Never,
        }
    }
}

/// One backup a reseed could restore, newest first in a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Candidate {
    /// Its newest verification.
    pub verified: Verified,
    /// Its payload is in the repository.
    pub present: bool,
}

/// The index of the backup to restore among `candidates` (newest first), with a note when it
/// was never verified; `Err` says why each was passed over.
pub(super) fn pick(candidates: &[Candidate]) -> std::result::Result<(usize, bool), Vec<String>> {
    let usable = |want: Verified| {
        candidates
            .iter()
            .position(|c| c.present && c.verified == want)
    };
    if let Some(i) = usable(Verified::Passed) {
        return Ok((i, false));
    }
    if let Some(i) = usable(Verified::Never) {
        return Ok((i, true));
    }
    Err(candidates
        .iter()
        .map(|c| match (c.present, c.verified) {
            (false, _) => "its payload is missing".to_owned(),
            (true, _) => "its newest verification failed".to_owned(),
        })
        .collect())
}

/// The newest usable backup among `backups` (the cluster's, of the method's kind, newest
/// first): the manifest and notes: when it was never verified, and which copy will be read
/// when it is not the first repository's.
pub(super) async fn newest_usable(
    repos: &Repositories,
    cluster: &str,
    backups: Vec<Manifest>,
) -> Result<(Manifest, Vec<String>)> {
    let mut candidates = Vec::with_capacity(backups.len());
    let mut sources = Vec::with_capacity(backups.len());
    for m in &backups {
        let source = readable_copy(repos, m).await;
        candidates.push(Candidate {
            verified: Verified::of(m),
            present: source.is_some(),
        });
        sources.push(source.flatten());
    }
    match pick(&candidates) {
        Ok((i, unverified)) => {
            let source = sources.swap_remove(i);
            let m = backups.into_iter().nth(i).ok_or_else(|| {
                Error::Refused("the backup list changed while choosing".to_owned())
            })?;
            let note = unverified.then(|| {
                format!(
                    "backup {} has never been verified (no verified backup of this kind exists \
                     in cluster `{cluster}`); its payload is still checked against its sha256 \
                     before anything is restored; `ferryman verify --backup {}` proves a \
                     backup restorable",
                    m.id, m.id
                )
            });
            Ok((m, note.into_iter().chain(source).collect()))
        }
        Err(reasons) => {
            let passed: Vec<String> = backups
                .iter()
                .zip(reasons)
                .map(|(m, why)| format!("{}: {why}", m.id))
                .collect();
            Err(Error::Refused(format!(
                "no backup of cluster `{cluster}` can be restored safely ({}); take a new one, \
                 or name one with --backup and --force if you have checked it",
                passed.join("; ")
            )))
        }
    }
}

/// Refuses a named backup whose newest verification failed, unless `force`.
pub(super) fn check_named(m: &Manifest, force: bool) -> Result<Option<String>> {
    match (Verified::of(m), force) {
        (Verified::Failed, false) => Err(Error::Refused(format!(
            "backup {} failed its newest verification ({}): restoring it could give the replica \
             damaged or missing data; choose another backup, or add --force if you have \
             checked it",
            m.id,
            Verification::latest_of(m)
                .map(|v| v.summary())
                .unwrap_or_default()
        ))),
        (Verified::Failed, true) => Ok(Some(format!(
            "backup {} failed its newest verification and is restored because of --force",
            m.id
        ))),
        (Verified::Never, _) => Ok(Some(format!("backup {} has never been verified", m.id))),
        (Verified::Passed, _) => Ok(None),
    }
}

/// Whether a repository of the cluster holds a copy of `m` whose payload is there with its
/// size (cheap checks; the bytes are checked against the manifest's sha256 as they are
/// streamed): `None` when none does, else the note naming the copy read when it is not the
/// first repository's.
async fn readable_copy(repos: &Repositories, m: &Manifest) -> Option<Option<String>> {
    match repos.source_for(m).await {
        Ok((_, note)) => Some(note),
        Err(e) => {
            tracing::warn!(backup = %m.id, error = %e, "the backup cannot be read");
            None
        }
    }
}

/// The donor of a `snapshot` reseed: the first server of the cluster (in the configuration's
/// order) with a `snapshot-method` that answers, is not the primary and is not a joiner.
pub(super) fn snapshot_donor<'a>(
    c: &'a ClusterConfig,
    views: &[ferryman_db::topology::ServerView],
    primary: &ServerConfig,
    joiners: &[&ServerConfig],
) -> Result<&'a ServerConfig> {
    let answering = |name: &str| views.iter().any(|v| v.name == name && v.status.is_some());
    c.servers
        .iter()
        .filter(|s| s.snapshot.is_some())
        .filter(|s| s.name != primary.name && !joiners.iter().any(|j| j.name == s.name))
        .find(|s| answering(&s.name))
        .ok_or_else(|| {
            let with: Vec<&str> = c
                .servers
                .iter()
                .filter(|s| s.snapshot.is_some())
                .map(|s| s.name.as_str())
                .collect();
            Error::Refused(format!(
                "no replica of cluster `{}` can give a snapshot: {}; a donor is a replica with \
                 `snapshot-method` that answers and is not being reseeded",
                c.name,
                if with.is_empty() {
                    "none has `snapshot-method`".to_owned()
                } else {
                    format!(
                        "those with `snapshot-method` ({}) are the primary, joiners or down",
                        with.join(", ")
                    )
                }
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn c(verified: Verified, present: bool) -> Candidate {
        Candidate { verified, present }
    }

    #[test]
    fn the_newest_verified_backup_wins_over_newer_unverified_or_failed_ones() {
        use Verified::*;
        // newest first
        assert_eq!(
            pick(&[
                c(Failed, true),
                c(Never, true),
                c(Passed, true),
                c(Passed, true)
            ]),
            Ok((2, false))
        );
        // A verified backup whose payload is gone is passed over.
        assert_eq!(
            pick(&[c(Passed, false), c(Never, true), c(Passed, true)]),
            Ok((2, false))
        );
        // Nothing verified: the newest unverified one, with a note.
        assert_eq!(
            pick(&[c(Failed, true), c(Never, true), c(Never, true)]),
            Ok((1, true))
        );
        // Only failed or missing ones: refused, each with its reason.
        assert_eq!(
            pick(&[c(Failed, true), c(Never, false)]),
            Err(vec![
                "its newest verification failed".to_owned(),
                "its payload is missing".to_owned()
            ])
        );
        assert!(pick(&[]).unwrap_err().is_empty());
    }
}
