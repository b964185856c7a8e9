//! Where the archive starts, and where it goes on after the primary refused to serve it.

use std::sync::Arc;

use ferryman_binlog::{Gtid, GtidPos, Spool};
use ferryman_config::ClusterConfig;
use ferryman_db::Endpoint;

use super::{emit, store, ArchiveError};
use crate::events::{EventKind, Severity};
use crate::Services;

/// Where a new spool starts: where the archive's segments end; without segments, the
/// newest backup's GTID position (so that it can be rolled forward); without either, the
/// primary's binlog position now (nothing before it can be recovered to).
pub(super) async fn initial(
    services: &Services,
    cluster: &ClusterConfig,
    endpoint: &Endpoint,
) -> Result<GtidPos, ArchiveError> {
    let segments = services
        .repo(&cluster.name)?
        .list_segments(&cluster.name)
        .await?;
    if !segments.is_empty() {
        let position = ferryman_repo::segments::end_position(&segments)?;
        tracing::info!(%position, "a new spool starts where the archive's segments end");
        return Ok(position);
    }
    let backups = services.repos.list(Some(&cluster.name), None).await?;
    let newest = backups.iter().find_map(|m| {
        m.gtid
            .as_deref()
            .filter(|g| !g.trim().is_empty())
            .map(|g| (m, g))
    });
    if let Some((backup, gtid)) = newest {
        if let Ok(position) = gtid.parse::<GtidPos>() {
            tracing::info!(%position, backup = %backup.id, "the archive starts at the newest backup's GTID position");
            return Ok(position);
        }
    }
    let range = endpoint.binlog_range().await?;
    let position: GtidPos = range.current.parse()?;
    tracing::info!(%position, "no archived segment and no backup with a GTID position: the archive starts at the primary's binlog position now");
    Ok(position)
}

/// After the primary refused the dump from the spool's position (`refusal`): when it purged
/// binlogs the archive lacks, the transactions in between are lost to the archive. The spool's
/// whole groups are stored, the spool restarts past the gap (at the oldest binlog the primary
/// has), and the gap is reported. Any other refusal (a primary without transactions the archive
/// has, a diverged history) stops the archive with the reason.
pub(super) async fn after_refusal(
    services: &Arc<Services>,
    cluster: &ClusterConfig,
    primary: &str,
    endpoint: &Endpoint,
    spool: &mut Spool,
    refusal: ferryman_db::Error,
) -> Result<(), ArchiveError> {
    let position = spool.position();
    let range = endpoint.binlog_range().await?;
    let oldest: GtidPos = range.oldest.parse()?;
    let gaps = purged(&position, &oldest);
    if gaps.is_empty() {
        return Err(ArchiveError::Diverged {
            server: primary.to_owned(),
            position: position.to_string(),
            reason: refusal.to_string(),
        });
    }
    store::segment(services, cluster, primary, spool).await?;
    let mut skip = spool.position();
    for (_, to) in &gaps {
        skip.set(*to);
    }
    spool.restart(&skip, primary)?;
    let ranges: Vec<String> = gaps
        .iter()
        .map(|(after, to)| match after {
            Some(after) => format!("after {after} up to {to}"),
            None => format!("domain {} up to {to}", to.domain),
        })
        .collect();
    emit(
        services,
        &cluster.name,
        EventKind::ArchiveGap,
        Severity::Error,
        format!(
            "`{primary}` purged binary logs before they were archived (its oldest, {}, starts after {oldest}): transactions {} are not in the archive, and no point among them can be recovered; the archive goes on after them. Keep binary logs longer on the primary (expire_logs_days, binlog_expire_logs_seconds) than the archiver may be away, and take a backup to start a whole window after the gap",
            range.oldest_file,
            ranges.join(", ")
        ),
    );
    Ok(())
}

/// Per domain, where `position` is behind the oldest binlog the primary has: (the archive's
/// last GTID of the domain, if any; the last purged GTID).
fn purged(position: &GtidPos, oldest: &GtidPos) -> Vec<(Option<Gtid>, Gtid)> {
    oldest
        .iter()
        .filter_map(|first| match position.get(first.domain) {
            Some(ours) if ours.seq < first.seq => Some((Some(ours), first)),
            None if first.seq > 0 => Some((None, first)),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_domains_behind_the_oldest_binlog_are_gaps() {
        let ours: GtidPos = "0-1-10,1-2-5".parse().unwrap();
        let oldest: GtidPos = "0-1-20,1-2-3,2-3-7".parse().unwrap();
        let gaps = purged(&ours, &oldest);
        let text: Vec<String> = gaps.iter().map(|(a, b)| format!("{a:?}->{b}")).collect();
        assert_eq!(gaps.len(), 2, "{text:?}");
        assert_eq!(gaps[0].0.map(|g| g.seq), Some(10));
        assert_eq!(gaps[0].1.to_string(), "0-1-20");
        assert_eq!(
            (gaps[1].0, gaps[1].1.to_string()),
            (None, "2-3-7".to_owned())
        );
        // At or past the oldest binlog's start in every domain: nothing was purged from it.
        let ahead: GtidPos = "0-1-20,1-2-9,2-3-8".parse().unwrap();
        assert!(purged(&ahead, &oldest).is_empty());
    }
}
