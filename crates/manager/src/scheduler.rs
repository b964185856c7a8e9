//! The scheduler: one cron entry per task kind per cluster (replication-manager's
//! `scheduler-db-servers-*-cron`), each enabled or not, under the cluster's
//! `monitoring-scheduler` switch.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use croner::errors::CronError;
use croner::Cron;
use ferryman_config::{ClusterConfig, ScheduleEntry};
use ferryman_proto::Task;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::{missing, Services};

/// What a schedule entry starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheduled {
    /// A physical backup of the cluster's backup source.
    PhysicalBackup,
    /// A logical backup of the cluster's backup source.
    LogicalBackup,
    /// Error and slow-query logs of every server.
    Logs,
    /// OPTIMIZE on every replica (the primary is left alone, like replication-manager's
    /// rolling optimize).
    Optimize,
    /// Verify every backup of the cluster not verified yet.
    Verify,
    /// A consistent snapshot of every server with a `snapshot-method`.
    Snapshot,
}

impl Scheduled {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Scheduled::PhysicalBackup => "physical-backup",
            Scheduled::LogicalBackup => "logical-backup",
            Scheduled::Logs => "logs",
            Scheduled::Optimize => "optimize",
            Scheduled::Verify => "verify",
            Scheduled::Snapshot => "snapshot",
        }
    }
}

/// The active entries of `cluster`.
pub fn entries(cluster: &ClusterConfig) -> Vec<(Scheduled, ScheduleEntry)> {
    let s = &cluster.scheduler;
    [
        (Scheduled::PhysicalBackup, &s.physical_backup),
        (Scheduled::LogicalBackup, &s.logical_backup),
        (Scheduled::Logs, &s.logs),
        (Scheduled::Optimize, &s.optimize),
        (Scheduled::Verify, &s.verify),
        (Scheduled::Snapshot, &s.snapshot),
    ]
    .into_iter()
    .filter(|(_, e)| e.is_active(s))
    .map(|(k, e)| (k, e.clone()))
    .collect()
}

/// Runs every cluster's schedule entries and `backup-missing` alarm from the live
/// configuration until `shutdown`; when a reload changes it, stops them (jobs they started run
/// on) and starts the new ones.
pub async fn supervise(services: Arc<Services>, shutdown: CancellationToken) {
    let mut live = services.live.subscribe();
    loop {
        let config = live.borrow_and_update().clone();
        let round = shutdown.child_token();
        let tracker = TaskTracker::new();
        for cluster in &config.clusters {
            tracker.spawn(
                missing::run(Arc::clone(&services), cluster.clone(), round.clone())
                    .instrument(tracing::info_span!("backup-missing", cluster = %cluster.name)),
            );
            for (what, entry) in entries(cluster) {
                tracker.spawn(run_entry(
                    Arc::clone(&services),
                    cluster.name.clone(),
                    what,
                    entry,
                    round.clone(),
                ));
            }
        }
        tracker.close();
        let reloaded = tokio::select! {
            changed = live.changed() => changed.is_ok(),
            _ = shutdown.cancelled() => false,
        };
        round.cancel();
        tracker.wait().await;
        if !reloaded {
            return;
        }
        tracing::info!("schedules restarted from the reloaded configuration");
    }
}

/// Runs one entry's schedule until `cancel`: sleeps until the next occurrence, starts the work
/// in the background (a slow backup does not delay the next tick of another entry), repeats.
pub async fn run_entry(
    services: Arc<Services>,
    cluster: String,
    what: Scheduled,
    entry: ScheduleEntry,
    cancel: CancellationToken,
) {
    let span = tracing::info_span!("schedule", %cluster, entry = what.name());
    let ticks = each_occurrence(entry.schedule(), Utc::now, &cancel, |_| {
        tracing::info!("scheduled run");
        let this = Arc::clone(&services);
        let cluster_name = cluster.clone();
        services.spawn(tracing::Span::current(), async move {
            if let Err(e) = fire(&this, &cluster_name, what).await {
                tracing::warn!(cluster = %cluster_name, entry = what.name(), error = %e, "scheduled run failed");
            }
        });
    });
    if let Err(e) = ticks.instrument(span).await {
        tracing::error!(%cluster, entry = what.name(), cron = %entry.cron, error = %e, "no next occurrence: this schedule entry stops");
    }
}

/// Calls `tick` with each occurrence of `schedule` once the clock `now` reaches it, until
/// `cancel` (then `Ok`) or until there is no next occurrence (the error).
///
/// An occurrence is never ticked twice: the next one is looked for after the later of `now`
/// and the last one ticked, so a wake-up a little early by the wall clock (the sleep is
/// measured on the monotonic clock) does not fire the same occurrence again.
async fn each_occurrence(
    schedule: &Cron,
    now: impl Fn() -> DateTime<Utc>,
    cancel: &CancellationToken,
    mut tick: impl FnMut(DateTime<Utc>),
) -> Result<(), CronError> {
    let mut last: Option<DateTime<Utc>> = None;
    loop {
        let now = now();
        let after = last.map_or(now, |last| last.max(now));
        let next = schedule.find_next_occurrence(&after, false)?;
        let wait = (next - now).to_std().unwrap_or(Duration::ZERO);
        tracing::debug!(next = %next, "next scheduled run");
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = cancel.cancelled() => return Ok(()),
        }
        last = Some(next);
        tick(next);
    }
}

async fn fire(services: &Arc<Services>, cluster: &str, what: Scheduled) -> crate::Result<()> {
    let config = services.cluster(cluster)?;
    match what {
        Scheduled::Verify => {
            if let Some(run) = crate::verification::verify_new(services, cluster).await? {
                tracing::info!(%cluster, run = run.id, backups = run.items.len(), "verifying new backups");
            }
        }
        Scheduled::PhysicalBackup => {
            services
                .start_backup(cluster, None, config.backup_physical_type, "schedule")
                .await?;
        }
        Scheduled::LogicalBackup => {
            services
                .start_backup(cluster, None, config.backup_logical_type, "schedule")
                .await?;
        }
        Scheduled::Logs => {
            for server in &config.servers {
                for task in [Task::Error, Task::Slowquery] {
                    services.start_task(cluster, &server.name, task, "schedule")?;
                }
            }
        }
        Scheduled::Snapshot => {
            for server in config.servers.iter().filter(|s| s.snapshot.is_some()) {
                services.start_task(cluster, &server.name, Task::Snapshot, "schedule")?;
            }
        }
        Scheduled::Optimize => {
            let view = services.topology.cluster(cluster);
            for server in &config.servers {
                let is_primary = view.as_ref().is_some_and(|v| {
                    v.servers.iter().any(|s| {
                        s.name == server.name
                            && s.status
                                .as_ref()
                                .is_some_and(|st| st.role == ferryman_db::Role::Primary)
                    })
                });
                if !is_primary {
                    services.start_task(cluster, &server.name, Task::Optimize, "schedule")?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// Ticks of `cron` for `span` of paused tokio time from `start`, read on a wall clock that
    /// runs at `rate` times the monotonic one.
    async fn ticks(cron: &str, start: &str, span: Duration, rate: f64) -> Vec<String> {
        let entry = ScheduleEntry::new(true, cron).unwrap();
        let start: DateTime<Utc> = start.parse().unwrap();
        let t0 = tokio::time::Instant::now();
        let clock = move || {
            let elapsed = t0.elapsed().mul_f64(rate);
            start + chrono::Duration::from_std(elapsed).unwrap()
        };
        let seen = Mutex::new(Vec::new());
        let cancel = CancellationToken::new();
        let run = each_occurrence(entry.schedule(), clock, &cancel, |at| {
            let now = clock();
            seen.lock().unwrap().push(format!(
                "{} at {}",
                at.format("%H:%M:%S"),
                now.format("%H:%M:%S%.3f")
            ));
        });
        let stop = async {
            tokio::time::sleep(span).await;
            cancel.cancel();
        };
        let (ended, ()) = tokio::join!(run, stop);
        ended.unwrap();
        seen.into_inner().unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn each_occurrence_ticks_on_time_without_waiting_for_real() {
        let real = std::time::Instant::now();
        let seen = ticks(
            "0 */5 * * * *",
            "2026-11-20T01:02:30Z",
            Duration::from_secs(16 * 60),
            1.0,
        )
        .await;
        assert_eq!(
            seen,
            [
                "01:05:00 at 01:05:00.000",
                "01:10:00 at 01:10:00.000",
                "01:15:00 at 01:15:00.000"
            ]
        );
        // Sixteen minutes of schedule took no real time.
        assert!(
            real.elapsed() < Duration::from_secs(5),
            "{:?}",
            real.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn each_occurrence_ticks_the_replication_manager_seconds_field() {
        let seen = ticks(
            "*/15 * * * * *",
            "2026-11-20T01:00:05Z",
            Duration::from_secs(50),
            1.0,
        )
        .await;
        assert_eq!(
            seen,
            [
                "01:00:15 at 01:00:15.000",
                "01:00:30 at 01:00:30.000",
                "01:00:45 at 01:00:45.000"
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_early_wake_up_by_the_wall_clock_does_not_tick_an_occurrence_twice() {
        // The wall clock runs 0.1 % slow: every sleep ends just before the occurrence it
        // waited for, as the wall clock reads it.
        let seen = ticks(
            "0 */5 * * * *",
            "2026-11-20T01:02:30Z",
            Duration::from_secs(16 * 60),
            0.999,
        )
        .await;
        let occurrences: Vec<&str> = seen.iter().map(|s| &s[..8]).collect();
        assert_eq!(
            occurrences,
            ["01:05:00", "01:10:00", "01:15:00"],
            "{seen:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn each_occurrence_stops_when_cancelled() {
        let entry = ScheduleEntry::new(true, "0 0 3 * * *").unwrap();
        let cancel = CancellationToken::new();
        cancel.cancel();
        let mut ticked = false;
        let ended = tokio::time::timeout(
            Duration::from_secs(1),
            each_occurrence(entry.schedule(), Utc::now, &cancel, |_| ticked = true),
        )
        .await;
        assert!(matches!(ended, Ok(Ok(()))), "{ended:?}");
        assert!(!ticked);
    }
}
