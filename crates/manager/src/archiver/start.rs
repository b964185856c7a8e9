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
/// has), and the gap is reported. When the primary says it lacks the archive's last GTID of a
/// domain and its binlog has gone past it, its history diverged from the archive's (a failover
/// lost transactions): the archive goes on with the primary's history from where it is now
/// ([`diverged`]). Any other refusal (a primary still behind the archive) stops the session
/// with the reason; it is tried again.
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
        let current: GtidPos = range.current.parse()?;
        if let Some((ours, now)) = diverged(&refusal.to_string(), &position, &current) {
            return go_on_after_divergence(services, cluster, primary, spool, ours, now).await;
        }
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

/// The archive's GTID the primary's `refusal` names (MariaDB says it is "not in the master's
/// binlog", or that the binlog "is missing" it), and the primary's last GTID of that domain,
/// when that one is past it: two histories with the same sequence numbers. `None` for a
/// refusal that names no GTID of the archive's, and while the primary is not past the archive
/// (it may still be applying what it received before it was promoted). Purged binlogs were
/// told apart before.
fn diverged(refusal: &str, position: &GtidPos, current: &GtidPos) -> Option<(Gtid, Gtid)> {
    let named = refusal
        .split(|c: char| c.is_whitespace() || c == ',' || c == '\'' || c == '"')
        .find_map(|word| word.parse::<Gtid>().ok())?;
    let ours = position.get(named.domain).filter(|ours| *ours == named)?;
    let now = current.get(named.domain).filter(|now| now.seq > ours.seq)?;
    Some((ours, now))
}

/// Stores the spool's whole groups, then restarts it at the primary's last GTID `now` of the
/// domain whose history diverged after the archive's `ours`, and says so.
async fn go_on_after_divergence(
    services: &Arc<Services>,
    cluster: &ClusterConfig,
    primary: &str,
    spool: &mut Spool,
    ours: Gtid,
    now: Gtid,
) -> Result<(), ArchiveError> {
    store::segment(services, cluster, primary, spool).await?;
    let mut from = spool.position();
    from.set(now);
    spool.restart(&from, primary)?;
    tracing::warn!(archived = %ours, primary_at = %now, %from, "the primary's history diverged from the archive's: the archive goes on with the primary's");
    emit(
        services,
        &cluster.name,
        EventKind::ArchiveDiverged,
        Severity::Error,
        format!(
            "`{primary}` does not have {ours}, which the archive has, and its binary log has gone on to {now}: its history diverged from the archive's (a failover lost transactions). The archived transactions of the old history stay in the archive and restores never mix the two; the archive goes on with `{primary}`'s history from {from}. What `{primary}` wrote between the divergence and {now} is not archived: take a backup now, since points of the new history are recoverable from backups taken after it"
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
    fn a_divergence_is_the_server_naming_the_archives_gtid_and_being_past_it() {
        let said = "Error: connecting slave requested to start from GTID 0-1-100, which is not in the master's binlog. Since the master's binlog contains GTIDs with higher sequence numbers, it probably means that the slave has diverged due to executing extra erroneous transactions";
        let ours: GtidPos = "0-1-100,1-3-7".parse().unwrap();
        let past: GtidPos = "0-2-104,1-3-9".parse().unwrap();
        let (a, b) = diverged(said, &ours, &past).unwrap();
        assert_eq!(
            (a.to_string(), b.to_string()),
            ("0-1-100".into(), "0-2-104".into())
        );
        // Not past it yet (still applying?): no.
        let behind: GtidPos = "0-2-99,1-3-9".parse().unwrap();
        assert!(diverged(said, &ours, &behind).is_none());
        // Another refusal, or a GTID that is not the archive's: no.
        assert!(diverged(
            "Could not find first log file name in binary log index file",
            &ours,
            &past
        )
        .is_none());
        let other: GtidPos = "0-1-90,1-3-7".parse().unwrap();
        assert!(diverged(said, &other, &past).is_none());
    }

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
