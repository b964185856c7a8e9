//! Segments stored in the cluster's repositories, on a task of their own while the follower
//! goes on: the first of `backup-repositories`, then the others (a copy that failed is made
//! later from the first); the spool is cut once they are stored.

use std::collections::HashSet;
use std::sync::Arc;

use ferryman_binlog::{Cut, GtidPos, Spool};
use ferryman_config::ClusterConfig;
use ferryman_repo::segments::SegmentManifest;
use tokio::task::{JoinError, JoinHandle};
use tracing::Instrument;

use super::{emit, ArchiveError};
use crate::events::{EventKind, Severity};
use crate::Services;

/// A segment being stored in the background while the follower goes on.
pub(super) struct Storing {
    /// Where the spool is cut once it is stored.
    pub cut: Cut,
    /// The storing task.
    pub task: JoinHandle<Result<SegmentManifest, ArchiveError>>,
}

/// Starts storing the spool's whole groups (read from `source`) on a task of their own;
/// `None` when there is no whole group. `Durable::Now` syncs the spool first (everything
/// appended goes), `Durable::Already` takes only what is durable without waiting (the
/// follower's path: the next sync brings the rest).
pub(super) fn start(
    services: &Arc<Services>,
    cluster: &ClusterConfig,
    source: &str,
    spool: &mut Spool,
    durable: Durable,
) -> Result<Option<Storing>, ArchiveError> {
    let limit = u64::from(cluster.binlog_archive.segment_size_mib) << 20;
    let segment = match durable {
        Durable::Now => spool.segment(limit)?,
        Durable::Already => spool.durable_segment(limit)?,
    };
    let Some(segment) = segment else {
        return Ok(None);
    };
    let task = tokio::spawn(
        store(
            Arc::clone(services),
            cluster.clone(),
            source.to_owned(),
            Arc::new(segment.bytes),
            segment.before,
        )
        .in_current_span(),
    );
    Ok(Some(Storing {
        cut: segment.cut,
        task,
    }))
}

/// What a segment may hold: [`start`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Durable {
    /// Everything appended, synced first.
    Now,
    /// What is durable already.
    Already,
}

/// Waits until `storing` is stored, then cuts the spool.
pub(super) async fn finish(
    services: &Services,
    cluster: &str,
    mut storing: Storing,
    spool: &mut Spool,
) -> Result<(), ArchiveError> {
    let joined = (&mut storing.task).await;
    cut_after(services, cluster, joined, &storing.cut, spool)
}

/// Once the storing task ended (`joined`): on success the spool is cut at `cut`.
pub(super) fn cut_after(
    services: &Services,
    cluster: &str,
    joined: Result<Result<SegmentManifest, ArchiveError>, JoinError>,
    cut: &Cut,
    spool: &mut Spool,
) -> Result<(), ArchiveError> {
    let manifest = joined
        .map_err(|e| ArchiveError::Worker(format!("the segment's storing task failed: {e}")))??;
    spool.cut(cut)?;
    services.archives.update(cluster, |s| {
        s.segments_stored += 1;
        s.last_segment = Some(manifest.name.clone());
    });
    Ok(())
}

/// The end of the storing task in flight, if any (never, without one).
pub(super) async fn stored(
    storing: &mut Option<Storing>,
) -> Result<Result<SegmentManifest, ArchiveError>, JoinError> {
    match storing {
        Some(s) => (&mut s.task).await,
        None => std::future::pending().await,
    }
}

/// Stores all the spool's whole groups and cuts it, waiting for both.
pub(super) async fn segment(
    services: &Arc<Services>,
    cluster: &ClusterConfig,
    source: &str,
    spool: &mut Spool,
) -> Result<(), ArchiveError> {
    // Until no whole group is left: a backlog larger than a segment goes as several.
    while let Some(storing) = start(services, cluster, source, spool, Durable::Now)? {
        finish(services, &cluster.name, storing, spool).await?;
    }
    Ok(())
}

/// Stores a segment in the first repository (its error is the task's), then in the others
/// (a failure there is reported, and the copy made later from the first).
async fn store(
    services: Arc<Services>,
    cluster: ClusterConfig,
    source: String,
    bytes: Arc<Vec<u8>>,
    before: GtidPos,
) -> Result<SegmentManifest, ArchiveError> {
    let first = services.repo(&cluster.name)?;
    let manifest = first
        .store_segment(
            &cluster.name,
            &source,
            Some(before.clone()),
            Arc::clone(&bytes),
            services.compression(),
        )
        .await?;
    tracing::info!(segment = %manifest.name, first = %manifest.first, last = %manifest.last, bytes = manifest.raw_bytes, "binlog segment stored");
    let pending = services
        .archives
        .get(&cluster.name)
        .is_some_and(|s| s.copies_pending);
    let mut failed = Vec::new();
    for name in cluster.backup_repositories.iter().skip(1) {
        let stored = services
            .repos
            .named(name)?
            .store_segment(
                &cluster.name,
                &source,
                Some(before.clone()),
                Arc::clone(&bytes),
                services.compression(),
            )
            .await;
        if let Err(e) = stored {
            failed.push(format!("{name}: {e}"));
        }
    }
    if !failed.is_empty() {
        tracing::warn!(segment = %manifest.name, failed = %failed.join("; "), "a binlog segment could not be copied; copied again after the next segment");
        if !pending {
            emit(
                &services,
                &cluster.name,
                EventKind::CopyFailed,
                Severity::Error,
                format!(
                    "binlog segment {} could not be stored in {}; the archiver copies it from the first repository after each segment until it can",
                    manifest.name,
                    failed.join("; ")
                ),
            );
        }
        services
            .archives
            .update(&cluster.name, |s| s.copies_pending = true);
    } else if pending {
        match copy_missing(&services, &cluster.name).await {
            Ok(copied) => {
                tracing::info!(
                    copied,
                    "the other repositories have every binlog segment again"
                )
            }
            Err(e) => {
                tracing::warn!(error = %e, "binlog segments still missing from another repository")
            }
        }
    }
    Ok(manifest)
}

/// Copies every segment the first repository of `cluster` has and another lacks; returns
/// how many. Clears the cluster's pending flag when every copy is made.
pub(super) async fn copy_missing(
    services: &Services,
    cluster: &str,
) -> Result<usize, ArchiveError> {
    let config = services.cluster(cluster)?;
    let first = services.repo(cluster)?;
    let mut copied = 0;
    let mut have = None;
    for name in config.backup_repositories.iter().skip(1) {
        let have = match &have {
            Some(have) => have,
            None => have.insert(first.list_segments(cluster).await?),
        };
        let repo = services.repos.named(name)?;
        let there: HashSet<String> = repo
            .list_segments(cluster)
            .await?
            .into_iter()
            .map(|m| m.name)
            .collect();
        for segment in have.iter().filter(|m| !there.contains(&m.name)) {
            let bytes = first.read_segment(segment).await?;
            let before = match segment.before.as_deref().filter(|b| !b.is_empty()) {
                Some(before) => Some(before.parse::<GtidPos>()?),
                None => None,
            };
            repo.store_segment(
                cluster,
                &segment.source,
                before,
                bytes,
                services.compression(),
            )
            .await?;
            copied += 1;
        }
    }
    services
        .archives
        .update(cluster, |s| s.copies_pending = false);
    Ok(copied)
}
