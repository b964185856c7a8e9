//! Segments stored in the cluster's repositories: the first of `backup-repositories` before
//! the spool is cut, then the others; a copy that failed is made later from the first.

use std::collections::HashSet;

use ferryman_binlog::{GtidPos, Spool};
use ferryman_config::ClusterConfig;

use super::{emit, ArchiveError};
use crate::events::{EventKind, Severity};
use crate::Services;

/// Stores the spool's whole groups as a segment read from `source`, then cuts the spool.
/// Nothing to do when it has none.
pub(super) async fn segment(
    services: &Services,
    cluster: &ClusterConfig,
    source: &str,
    spool: &mut Spool,
) -> Result<(), ArchiveError> {
    let Some((bytes, before)) = spool.segment()? else {
        return Ok(());
    };
    let first = services.repo(&cluster.name)?;
    let manifest = first
        .store_segment(
            &cluster.name,
            source,
            Some(before.clone()),
            bytes.clone(),
            services.compression(),
        )
        .await?;
    spool.cut()?;
    tracing::info!(segment = %manifest.name, first = %manifest.first, last = %manifest.last, bytes = manifest.raw_bytes, "binlog segment stored");
    let pending = services
        .archives
        .get(&cluster.name)
        .is_some_and(|s| s.copies_pending);
    services.archives.update(&cluster.name, |s| {
        s.segments_stored += 1;
        s.last_segment = Some(manifest.name.clone());
    });
    let mut failed = Vec::new();
    for name in cluster.backup_repositories.iter().skip(1) {
        let stored = services
            .repos
            .named(name)?
            .store_segment(
                &cluster.name,
                source,
                Some(before.clone()),
                bytes.clone(),
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
                services,
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
        match copy_missing(services, &cluster.name).await {
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
    Ok(())
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
