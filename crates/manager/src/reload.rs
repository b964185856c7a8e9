//! Reloading the configuration while the manager runs (SIGHUP, `systemctl reload`).
//!
//! # What a reload changes
//! The schedules (`monitoring-scheduler`, `scheduler-db-servers-*`), each cluster's
//! `backup-missing-grace`, and the whole `[notifications]` table (channels, routes,
//! `repeat-after`). These are read from [`Live`], which the scheduler and the notifications
//! watch: on a change they stop their entries and channels and start the new ones. Jobs already
//! running are not touched; a message already queued on a channel is still delivered (or kept
//! as a dead letter) by the channel it was queued on.
//!
//! # What it does not
//! Everything else (servers, credentials, ports, repositories, the verifier, the agent and jobs
//! tables) is held by running parts that cannot be swapped under a job: the reload says which
//! sections differ and that they take effect at the next restart, and keeps running with the
//! old ones. A file that does not load changes nothing: the running configuration stays, and
//! the error is a `config-reload-failed` event until a reload succeeds.

use std::sync::Arc;

use ferryman_config::{ClusterConfig, Config, SchedulerConfig};
use tokio::sync::watch;

use crate::events::{EventKind, NewEvent, Severity};
use crate::Services;

/// The configuration the reloadable parts follow: the one the manager started with, then each
/// reloaded one.
#[derive(Debug)]
pub struct Live {
    config: watch::Sender<Arc<Config>>,
}

impl Live {
    /// Starts with `config`.
    pub(crate) fn new(config: Arc<Config>) -> Live {
        Live {
            config: watch::Sender::new(config),
        }
    }

    /// The configuration now.
    pub fn current(&self) -> Arc<Config> {
        Arc::clone(&self.config.borrow())
    }

    /// A receiver that sees each new configuration.
    pub(crate) fn subscribe(&self) -> watch::Receiver<Arc<Config>> {
        self.config.subscribe()
    }
}

/// What a reload did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reloaded {
    /// What changed and now applies (`clusters.sandbox schedules`, `notifications`).
    pub applied: Vec<String>,
    /// Sections that differ but apply only after a restart (`manager`, `clusters.sandbox`).
    pub needs_restart: Vec<String>,
}

impl Reloaded {
    /// One line for the log and the event.
    pub fn summary(&self) -> String {
        let applied = if self.applied.is_empty() {
            "nothing to apply (schedules and notifications unchanged)".to_owned()
        } else {
            format!("applied: {}", self.applied.join(", "))
        };
        if self.needs_restart.is_empty() {
            format!("configuration reloaded; {applied}")
        } else {
            format!(
                "configuration reloaded; {applied}; changed but kept as they were until the manager restarts: {}",
                self.needs_restart.join(", ")
            )
        }
    }
}

/// Applies the reloadable parts of `new` (see the module's documentation) and emits
/// `config-reloaded`.
pub fn apply(services: &Services, new: Config) -> Reloaded {
    let old = services.live.current();
    let mut done = Reloaded {
        applied: Vec::new(),
        needs_restart: restart_only(&old, &new),
    };
    // The running configuration with the reloadable parts of the new one.
    let mut next = (*old).clone();
    for cluster in &new.clusters {
        match next.clusters.iter_mut().find(|c| c.name == cluster.name) {
            Some(running) => {
                if schedules(&running.scheduler) != schedules(&cluster.scheduler)
                    || running.backup_missing_grace != cluster.backup_missing_grace
                {
                    done.applied
                        .push(format!("clusters.{} schedules", cluster.name));
                    running.scheduler = cluster.scheduler.clone();
                    running.backup_missing_grace = cluster.backup_missing_grace;
                }
                if rest(running) != rest(cluster) {
                    done.needs_restart
                        .push(format!("clusters.{}", cluster.name));
                }
            }
            None => done
                .needs_restart
                .push(format!("clusters.{} (added)", cluster.name)),
        }
    }
    for cluster in &old.clusters {
        if new.cluster(&cluster.name).is_none() {
            done.needs_restart
                .push(format!("clusters.{} (removed)", cluster.name));
        }
    }
    if old.notifications != new.notifications {
        done.applied.push("notifications".to_owned());
        next.notifications = new.notifications;
    }
    if !done.applied.is_empty() {
        services.live.config.send_replace(Arc::new(next));
    }
    let summary = done.summary();
    tracing::info!(
        applied = ?done.applied,
        needs_restart = ?done.needs_restart,
        "{summary}"
    );
    services.events.emit(manager_event(
        Severity::Info,
        EventKind::ConfigReloaded,
        summary,
    ));
    done
}

/// Records that the file given to a reload did not load: nothing changed.
pub fn failed(services: &Services, error: &str) {
    let message = format!(
        "the configuration was not reloaded, the manager keeps running with the one it had: {error}; fix the file (`ferryman config check`) and reload again"
    );
    tracing::error!("{message}");
    services.events.emit(manager_event(
        Severity::Error,
        EventKind::ConfigReloadFailed,
        message,
    ));
}

fn manager_event(severity: Severity, kind: EventKind, message: String) -> NewEvent {
    NewEvent {
        kind,
        severity,
        cluster: String::new(),
        server: None,
        backup: None,
        subject: None,
        message,
    }
}

/// The sections outside the clusters that differ between `a` and `b`: none of them reloads.
fn restart_only(a: &Config, b: &Config) -> Vec<String> {
    let sections: [(&str, String, String); 5] = [
        ("manager", dbg(&a.manager), dbg(&b.manager)),
        ("agent", dbg(&a.agent), dbg(&b.agent)),
        ("jobs", dbg(&a.jobs), dbg(&b.jobs)),
        ("verifier", dbg(&a.verifier), dbg(&b.verifier)),
        ("repositories", dbg(&a.repositories), dbg(&b.repositories)),
    ];
    sections
        .into_iter()
        .filter(|(_, x, y)| x != y)
        .map(|(name, _, _)| name.to_owned())
        .collect()
}

/// What the scheduler runs, comparable.
fn schedules(s: &SchedulerConfig) -> Vec<(bool, String)> {
    let entries = [
        &s.physical_backup,
        &s.logical_backup,
        &s.logs,
        &s.optimize,
        &s.verify,
    ];
    std::iter::once((s.enabled, String::new()))
        .chain(entries.iter().map(|e| (e.enabled, e.cron.clone())))
        .collect()
}

/// A cluster without its reloadable parts, comparable. Secrets print redacted, so a changed
/// password is not seen here (it is read at start, like every credential).
fn rest(cluster: &ClusterConfig) -> String {
    let mut c = cluster.clone();
    c.scheduler = SchedulerConfig::default();
    c.backup_missing_grace = std::time::Duration::ZERO;
    dbg(&c)
}

fn dbg(value: &impl std::fmt::Debug) -> String {
    format!("{value:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_names_what_applied_and_what_waits_for_a_restart() {
        let r = Reloaded {
            applied: vec!["notifications".into()],
            needs_restart: vec!["manager".into()],
        };
        assert_eq!(
            r.summary(),
            "configuration reloaded; applied: notifications; changed but kept as they were until the manager restarts: manager"
        );
        assert!(Reloaded::default().summary().contains("nothing to apply"));
    }
}
