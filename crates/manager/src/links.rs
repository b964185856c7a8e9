//! The Galera link keepers' events told as `link-event`s: for each cluster with a
//! `[clusters.NAME.galera-link]` table, the keepers' events table (in the cluster itself, see
//! `ferryman_galera::tables`) is read every [`EVERY`].
//!
//! Each read covers the time since the previous one plus a margin (by the servers' clock),
//! and an event is told once by its id: ids from different Galera nodes interleave, so "ids
//! above the last one told" could skip an event committed late. At start the window reaches
//! back to the newest `link-event` the history kept (the events of a manager's downtime are
//! told after it), or to the start when there is none (the tables' older history stays in
//! `ferryman galera-link status`).
//!
//! Each round also reads the link's state (the lease and which nodes replicate) for the
//! metrics `ferryman_galera_link_replicating` and `ferryman_galera_link_term`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use ferryman_config::{ClusterConfig, GaleraLinkConfig};
use ferryman_galera::EventKind as LinkKind;
use ferryman_repo::Timestamp;
use tokio_util::sync::CancellationToken;

use crate::events::{EventKind, NewEvent, Severity};
use crate::Services;

/// How often the events table is read.
pub const EVERY: Duration = Duration::from_secs(15);
/// How far back each read reaches beyond the previous one.
const MARGIN_S: u64 = 120;
/// The longest window: the keepers prune their events after 30 days.
const MAX_WINDOW_S: u64 = 30 * 86_400;

/// One cluster's link as last read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkState {
    /// The node holding a live lease and replicating (both threads running), if any.
    pub replicating: Option<String>,
    /// The lease's term: raised by every takeover (failovers count up).
    pub term: u64,
}

/// The links' states, by cluster.
#[derive(Debug, Default)]
pub struct Links {
    states: RwLock<BTreeMap<String, LinkState>>,
}

impl Links {
    /// Every cluster's link state as last read.
    pub fn all(&self) -> Vec<(String, LinkState)> {
        self.states
            .read()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }

    fn set(&self, cluster: &str, state: LinkState) {
        if let Ok(mut m) = self.states.write() {
            m.insert(cluster.to_owned(), state);
        }
    }
}

/// The subject a told event carries: its table's id, to be told once across restarts.
fn subject(wsrep_cluster: &str, id: u64) -> String {
    format!("{wsrep_cluster}#{id}")
}

/// Tells `cluster`'s link events until `shutdown`.
pub async fn run(
    services: Arc<Services>,
    cluster: ClusterConfig,
    link: GaleraLinkConfig,
    shutdown: CancellationToken,
) {
    let told_before: Vec<(String, Timestamp)> = services
        .events
        .since(0)
        .into_iter()
        .filter(|e| e.kind == EventKind::LinkEvent && e.cluster == cluster.name)
        .filter_map(|e| Some((e.subject?, e.at)))
        .collect();
    let mut told: BTreeSet<String> = told_before.iter().map(|(s, _)| s.clone()).collect();
    let mut since = told_before
        .iter()
        .map(|(_, at)| *at)
        .max()
        .unwrap_or_else(Timestamp::now);
    let mut failing = false;
    loop {
        let now = Timestamp::now();
        let within = u64::try_from(now.unix() - since.unix())
            .unwrap_or(0)
            .saturating_add(MARGIN_S)
            .min(MAX_WINDOW_S);
        match ferryman_galera::status::recent_events(&cluster, &link, within).await {
            Ok((wsrep_cluster, rows)) => {
                failing = false;
                since = now;
                let mut seen = BTreeSet::new();
                for row in rows {
                    let key = subject(&wsrep_cluster, row.id);
                    seen.insert(key.clone());
                    if !told.insert(key.clone()) {
                        continue;
                    }
                    let severity = if LinkKind::is_alert_name(&row.kind) {
                        Severity::Error
                    } else {
                        Severity::Info
                    };
                    services.events.emit(NewEvent {
                        kind: EventKind::LinkEvent,
                        severity,
                        cluster: cluster.name.clone(),
                        server: None,
                        backup: None,
                        subject: Some(key),
                        message: format!(
                            "galera link of `{}`: {} on {} (term {}, {}): {}; `ferryman galera-link status --cluster {}` shows the link",
                            cluster.name, row.kind, row.host, row.term, row.at, row.detail, cluster.name
                        ),
                    });
                }
                // What left the window cannot come back: only ids still in it are kept.
                told.retain(|k| seen.contains(k));
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(cluster = %cluster.name, error = %e, "cannot read the galera link's events; trying again every {} s", EVERY.as_secs());
                }
                failing = true;
            }
        }
        if !link.masters.is_empty() {
            read_state(&services, &cluster.name).await;
        }
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

/// Reads the lease and the nodes of `cluster`'s link into [`Links`]; an unreadable link
/// leaves the last state (the events' reader says it cannot read the cluster).
async fn read_state(services: &Services, cluster: &str) {
    match ferryman_galera::status::read(&services.config, Some(cluster)).await {
        Ok(statuses) => {
            for s in statuses {
                let replicating = s
                    .lease
                    .owner
                    .clone()
                    .filter(|_| s.lease.live)
                    .filter(|owner| {
                        s.nodes
                            .iter()
                            .any(|n| n.replicating && n.node.as_deref() == Some(owner.as_str()))
                    });
                services.links.set(
                    &s.cluster,
                    LinkState {
                        replicating,
                        term: s.lease.term,
                    },
                );
            }
        }
        Err(e) => tracing::debug!(%cluster, error = %e, "cannot read the galera link's state"),
    }
}
