//! The scheduler: one cron entry per task kind per cluster (replication-manager's
//! `scheduler-db-servers-*-cron`), each enabled or not, under the cluster's
//! `monitoring-scheduler` switch.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use ferryman_config::{ClusterConfig, ScheduleEntry};
use ferryman_proto::Task;
use tokio_util::sync::CancellationToken;

use crate::Services;

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
}

impl Scheduled {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Scheduled::PhysicalBackup => "physical-backup",
            Scheduled::LogicalBackup => "logical-backup",
            Scheduled::Logs => "logs",
            Scheduled::Optimize => "optimize",
            Scheduled::Verify => "verify",
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
    ]
    .into_iter()
    .filter(|(_, e)| e.is_active(s))
    .map(|(k, e)| (k, e.clone()))
    .collect()
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
    loop {
        let now = Utc::now();
        let next = match entry.schedule().find_next_occurrence(&now, false) {
            Ok(next) => next,
            Err(e) => {
                tracing::error!(%cluster, entry = what.name(), cron = %entry.cron, error = %e, "no next occurrence: this schedule entry stops");
                return;
            }
        };
        let wait = (next - now).to_std().unwrap_or(Duration::ZERO);
        tracing::debug!(%cluster, entry = what.name(), next = %next, "next scheduled run");
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = cancel.cancelled() => return,
        }
        tracing::info!(%cluster, entry = what.name(), "scheduled run");
        let this = Arc::clone(&services);
        let cluster_name = cluster.clone();
        services.spawn(tracing::Span::current(), async move {
            if let Err(e) = fire(&this, &cluster_name, what).await {
                tracing::warn!(cluster = %cluster_name, entry = what.name(), error = %e, "scheduled run failed");
            }
        });
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
