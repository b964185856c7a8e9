//! Thresholds watched every [`EVERY`] (and the manager's certificates' ends, in
//! `certificates.rs`): the free space of each local repository's file system
//! (`storage-almost-full` under `manager.storage-free-alert` percent, `storage-ok` once it is
//! 2 points above again, so a disk hovering at the threshold does not flap) and each archived
//! cluster's recovery point lag (`rpo-over-threshold` above `binlog-archive-rpo-alert` on two
//! looks in a row, `rpo-ok` back under it). Two looks, because the lag of an archive a moment
//! behind an idle primary's first write in a while is the age of the write before it: one
//! reading can be far over and mean nothing.
//!
//! Each is said once when it crosses, in either direction, and at start when it is already
//! over (the notifications' problems keep a restart from telling it twice). S3 and restic
//! repositories have no free space to read: their failures are `copy-failed` and failed
//! backups.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ferryman_config::RepositoryKind;
use tokio_util::sync::CancellationToken;

use crate::events::{EventKind, NewEvent, Severity};
use crate::Services;

/// How often the thresholds are looked at.
pub const EVERY: Duration = Duration::from_secs(30);
/// Percentage points above the threshold a file system must reach to be `storage-ok`.
const HYSTERESIS_PERCENT: f64 = 2.0;

/// Which thresholds are crossed now, by subject.
#[derive(Debug, Default)]
pub struct Crossed {
    /// Repository name → its file system is almost full.
    storage: BTreeMap<String, bool>,
    /// Cluster name → its recovery point lag is over the threshold (said), and whether the
    /// last look found it over.
    rpo: BTreeMap<String, (bool, bool)>,
    /// Certificate key → said to expire (`certificates.rs`).
    certificates: BTreeMap<String, bool>,
}

/// Looks every [`EVERY`] until `shutdown`.
pub async fn run(services: Arc<Services>, shutdown: CancellationToken) {
    let mut crossed = Crossed::default();
    loop {
        check(&services, &mut crossed);
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

/// One look at every threshold; emits the events of those that crossed since `crossed`.
pub fn check(services: &Services, crossed: &mut Crossed) {
    crate::certificates::check(services, &mut crossed.certificates);
    let config = &services.config;
    let threshold = f64::from(config.manager.storage_free_alert_percent);
    if threshold > 0.0 {
        for repo in config.all_repositories() {
            let RepositoryKind::Local { path } = &repo.kind else {
                continue;
            };
            let Some((free, total)) = space(path) else {
                continue;
            };
            let percent = free as f64 * 100.0 / total.max(1) as f64;
            let was = crossed.storage.get(&repo.name).copied().unwrap_or(false);
            let now = over(was, threshold - percent, HYSTERESIS_PERCENT);
            crossed.storage.insert(repo.name.clone(), now);
            if now == was {
                continue;
            }
            let (kind, severity, message) = if now {
                (
                    EventKind::StorageAlmostFull,
                    Severity::Error,
                    format!(
                        "repository `{}` ({}): {percent:.1} % free ({} of {}), under `storage-free-alert` = {threshold} %: backups and archived binlogs fail once it is full; delete old backups (`ferryman backup prune`), lower the retention, or grow the file system",
                        repo.name,
                        path.display(),
                        crate::fleet::bytes(free),
                        crate::fleet::bytes(total),
                    ),
                )
            } else {
                (
                    EventKind::StorageOk,
                    Severity::Info,
                    format!(
                        "repository `{}` ({}): {percent:.1} % free again ({} of {})",
                        repo.name,
                        path.display(),
                        crate::fleet::bytes(free),
                        crate::fleet::bytes(total),
                    ),
                )
            };
            services.events.emit(NewEvent {
                kind,
                severity,
                cluster: String::new(),
                server: None,
                backup: None,
                subject: Some(repo.name.clone()),
                message,
            });
        }
    }
    for cluster in config.clusters.iter().filter(|c| c.binlog_archive.enabled) {
        let Some(lag) = crate::pitr::rpo_lag(services, &cluster.name) else {
            continue;
        };
        let limit = cluster.binlog_archive.rpo_alert.as_secs();
        let before = crossed.rpo.get(&cluster.name).copied().unwrap_or_default();
        let after = twice(before, lag > limit);
        crossed.rpo.insert(cluster.name.clone(), after);
        let (was, now) = (before.0, after.0);
        if now == was {
            continue;
        }
        let ago = |s: u64| crate::fleet::ago(i64::try_from(s).unwrap_or(i64::MAX));
        let (kind, severity, message) = if now {
            (
                EventKind::RpoOverThreshold,
                Severity::Error,
                format!(
                    "the binlog archive of `{}` is {} behind its primary (over `binlog-archive-rpo-alert` = {}): a point-in-time recovery now would lose that much; `ferryman pitr status --cluster {}` says why",
                    cluster.name,
                    ago(lag),
                    ago(limit),
                    cluster.name
                ),
            )
        } else {
            (
                EventKind::RpoOk,
                Severity::Info,
                format!(
                    "the binlog archive of `{}` is {} behind its primary again",
                    cluster.name,
                    ago(lag)
                ),
            )
        };
        services.events.emit(NewEvent {
            kind,
            severity,
            cluster: cluster.name.clone(),
            server: None,
            backup: None,
            subject: None,
            message,
        });
    }
}

/// Whether a watched value is over its threshold now, from `excess` (how far past the
/// threshold it is, negative under it) and whether it `was`: it goes over at any excess above
/// 0, and comes back only `hysteresis` under the threshold.
fn over(was: bool, excess: f64, hysteresis: f64) -> bool {
    if was {
        excess > -hysteresis
    } else {
        excess > 0.0
    }
}

/// `(said, last look over)` after a look that found the value `over_now`, from the state
/// `before`: over is said on the second look over in a row, and ends at the first look under.
fn twice((said, last_over): (bool, bool), over_now: bool) -> (bool, bool) {
    (over_now && (said || last_over), over_now)
}

/// Bytes free to unprivileged writers and the size of the file system holding `path`.
fn space(path: &Path) -> Option<(u64, u64)> {
    let stat = nix::sys::statvfs::statvfs(path).ok()?;
    #[allow(clippy::useless_conversion)] // the field types differ between platforms
    let (avail, blocks, size) = (
        u64::from(stat.blocks_available()),
        u64::from(stat.blocks()),
        u64::from(stat.fragment_size()),
    );
    Some((avail.saturating_mul(size), blocks.saturating_mul(size)))
}

#[cfg(test)]
mod tests {
    use super::{over, twice};

    #[test]
    fn a_lag_is_said_over_on_the_second_look_in_a_row() {
        let once = twice((false, false), true);
        assert_eq!(once, (false, true), "one look over is not said");
        assert_eq!(twice(once, false), (false, false), "a blip is forgotten");
        let said = twice(once, true);
        assert_eq!(said, (true, true));
        assert_eq!(twice(said, true), (true, true));
        assert_eq!(
            twice(said, false),
            (false, false),
            "ok at the first look under"
        );
    }

    #[test]
    fn a_threshold_is_crossed_past_it_and_left_only_past_the_hysteresis() {
        assert!(!over(false, 0.0, 2.0), "at the threshold is not over it");
        assert!(over(false, 0.5, 2.0));
        assert!(over(true, -1.0, 2.0), "within the hysteresis it stays over");
        assert!(!over(true, -2.5, 2.0));
        assert!(!over(true, -0.1, 0.0), "without hysteresis under is ok");
    }
}
