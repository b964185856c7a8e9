//! One node's keeper: each round it reads its node, keeps its row fresh, and acts on the
//! lease: renews it and keeps replicating when it holds it, stops replicating when another node
//! does, takes it when no live node holds it and it is the elected node.
//!
//! The rules that keep exactly one replica:
//! - replication is started only by the lease holder, after the takeover committed;
//! - a takeover is a compare-and-set on the lease row (see [`crate::tables`]);
//! - the holder renews before every attempt on a master, and an attempt is shorter than the
//!   lease (the configuration checks it), so a lease cannot lapse during an attempt;
//! - a new holder stops replication on every other reachable node of its cluster before it
//!   starts (fencing a holder whose keeper died while its threads kept running);
//! - every node that replicates without holding the lease stops (a `two-replicas-fixed` event);
//! - a node outside the Primary component stops replicating in its next round.
//!
//! # Layout
//! - `keeper.rs`: [`Keeper`], its loop of rounds, [`Role`] and [`Round`].
//! - `round.rs`: one round's decisions: the node's health and row, and what it does about the
//!   lease (renew, stand by, stop a second replica, campaign, take over).
//! - `replicate.rs`: the lease holder's work: its master, the others in order, giving up as
//!   `Failed`, and fencing the other nodes first.

use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use ferryman_config::{Config, GaleraLinkConfig};
use ferryman_db::{Endpoint, Session};

use crate::event::{EventKind, LinkEvent};
use crate::masters::ReplicationAccount;
use crate::tables::{Member, Tables};
use crate::watch::Watch;
use crate::{Error, Result};

mod replicate;
mod round;

/// The node's role after a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Not in the Primary component or not synced: it does nothing but stop replicating.
    Unhealthy,
    /// The cluster has no remote masters: the node only keeps its row fresh.
    Idle,
    /// Another node replicates, or will.
    Standby,
    /// This node replicates.
    Replica,
    /// This node could not replicate and cools down.
    Failed,
}

/// What one round found and did.
#[derive(Debug, Clone, Serialize)]
pub struct Round {
    /// The node (`wsrep_node_name`).
    pub node: String,
    /// Its cluster (`wsrep_cluster_name`).
    pub cluster: String,
    /// Its role now.
    pub role: Role,
    /// The node holding the link, if any.
    pub replica: Option<String>,
    /// The master this node replicates from, when it is the replica.
    pub master: Option<String>,
    /// The lease term.
    pub term: u64,
    /// What happened, in words.
    pub detail: String,
    /// State changes, already recorded and logged.
    pub events: Vec<LinkEvent>,
}

/// How the node came to hold the lease in this round.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Takeover {
    /// It held it already.
    Holding,
    /// It took a free lease.
    New,
    /// It took the lease of a node that died or stopped renewing.
    From(String),
    /// It was replicating with no holder (a link started by hand) and took the lease.
    Adopted,
}

/// The keeper of one node.
#[derive(Debug)]
pub struct Keeper {
    /// The cluster's name, for the rounds' spans.
    cluster: String,
    settings: GaleraLinkConfig,
    local: Endpoint,
    peers: Vec<Endpoint>,
    account: ReplicationAccount,
    tables: Tables,
    schema_ready: bool,
    probe_failures: u32,
    /// The membership (`wsrep_cluster_conf_id`, `wsrep_cluster_status`) the last round read.
    membership: Option<(String, String)>,
    /// When the node last re-attached after an apply error.
    sql_retry_at: Option<std::time::Instant>,
}

/// Facts of the round being run, passed between its steps.
struct Ctx {
    me: String,
    cluster: String,
    events: Vec<LinkEvent>,
}

impl Ctx {
    fn who(&self) -> Member<'_> {
        Member {
            cluster: &self.cluster,
            host: &self.me,
        }
    }

    fn event(&mut self, kind: EventKind, term: u64, detail: String) {
        self.events.push(LinkEvent {
            kind,
            cluster: self.cluster.clone(),
            host: self.me.clone(),
            term,
            detail,
        });
    }

    fn round(
        self,
        role: Role,
        replica: Option<String>,
        master: Option<String>,
        term: u64,
        detail: String,
    ) -> Round {
        Round {
            node: self.me,
            cluster: self.cluster,
            role,
            replica,
            master,
            term,
            detail,
            events: self.events,
        }
    }
}

impl Keeper {
    /// The keeper of server `server` of `config`: its cluster must have a
    /// `[clusters.NAME.galera-link]` table.
    pub fn new(config: &Config, server: &str) -> Result<Keeper> {
        let (cluster, local) = config.server(server).ok_or_else(|| {
            Error::Config(format!(
                "no server `{server}` in {}: name one of its [[clusters.NAME.servers]]",
                config.path.display()
            ))
        })?;
        let settings = cluster.galera_link.clone().ok_or_else(|| {
            Error::Config(format!(
                "cluster `{}` has no [clusters.{}.galera-link] table in {}: add it (with the remote masters) to run the link keeper",
                cluster.name,
                cluster.name,
                config.path.display()
            ))
        })?;
        let credential = &cluster.db_servers_credential;
        let peers = cluster
            .servers
            .iter()
            .filter(|s| s.name != local.name)
            .map(|s| Endpoint::from_config(s, credential))
            .collect();
        Ok(Keeper {
            cluster: cluster.name.clone(),
            tables: Tables::new(&settings),
            settings,
            local: Endpoint::from_config(local, credential),
            peers,
            account: ReplicationAccount {
                user: cluster.replication_credential.user.clone(),
                password: cluster.replication_credential.password.clone(),
            },
            schema_ready: false,
            probe_failures: 0,
            membership: None,
            sql_retry_at: None,
        })
    }

    /// The settings in use.
    pub fn settings(&self) -> &GaleraLinkConfig {
        &self.settings
    }

    /// Runs rounds every `interval` until `cancel`; `report` sees each round's result. Between
    /// rounds the node's Galera membership is watched every second, and a change starts the
    /// next round at once ([`crate::watch`]). A round in progress is finished first: stopping
    /// halfway through an attempt on a master would leave replication half configured.
    pub async fn run(mut self, cancel: CancellationToken, mut report: impl FnMut(&Result<Round>)) {
        let mut watch = Watch::default();
        for number in 1u64.. {
            let span = tracing::info_span!(
                "galera_round",
                round = number,
                cluster = %self.cluster,
                server = %self.local.name
            );
            let res = self.round().instrument(span).await;
            report(&res);
            let decided_on = self.membership.take();
            watch.mark(&self.local, decided_on).await;
            let next = tokio::time::Instant::now() + self.settings.interval;
            loop {
                let step = next
                    .saturating_duration_since(tokio::time::Instant::now())
                    .min(crate::watch::STEP);
                tokio::select! {
                    () = tokio::time::sleep(step) => {}
                    () = cancel.cancelled() => return,
                }
                if tokio::time::Instant::now() >= next {
                    break;
                }
                if watch.changed(&self.local).await {
                    tracing::debug!("the Galera membership changed: next round now");
                    break;
                }
            }
        }
    }

    /// One round: connect, look, act, record the events.
    pub async fn round(&mut self) -> Result<Round> {
        let mut conn = self.local.connect(Session::Plain).await?;
        let res = self.round_on(&mut conn).await;
        if let Ok(round) = &res {
            for e in &round.events {
                log_event(e);
                // Best effort: a node outside the Primary component cannot write.
                if let Err(err) = self.tables.add_event(&self.local, &mut conn, e).await {
                    if round.role != Role::Unhealthy {
                        tracing::warn!(error = %err, "cannot record the event in the events table");
                    }
                }
            }
        }
        let _ = conn.disconnect().await;
        res
    }
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// Logs an event: alerts as warnings, the rest as information.
fn log_event(e: &LinkEvent) {
    if e.kind.is_alert() {
        tracing::warn!(event = e.kind.as_str(), cluster = %e.cluster, node = %e.host, term = e.term, "{}", e.detail);
    } else {
        tracing::info!(event = e.kind.as_str(), cluster = %e.cluster, node = %e.host, term = e.term, "{}", e.detail);
    }
}
