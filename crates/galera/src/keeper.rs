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

use std::time::Duration;

use futures_util::future::join_all;
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use ferryman_config::{Config, GaleraLinkConfig};
use ferryman_db::{topology, Endpoint, Session};

use crate::election::{owner_alive, Rules};
use crate::event::{EventKind, LinkEvent};
use crate::masters::{self, ReplicationAccount};
use crate::node::{self, NodeView};
use crate::tables::{Member, NodeState, Tables};
use crate::watch::Watch;
use crate::{Error, Result};

/// How long fencing waits for a peer that does not answer (a dead peer cannot replicate).
const FENCE_TIMEOUT: Duration = Duration::from_secs(3);
/// Consecutive failed probes of a master whose threads still say `Yes` before it counts as
/// dead (a host that vanished without closing connections looks alive to the I/O thread until
/// `slave_net_timeout`, a minute by default).
const PROBE_FAILURES: u32 = 2;

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
        loop {
            let res = self.round().await;
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

    async fn round_on(&mut self, conn: &mut Conn) -> Result<Round> {
        let ep = self.local.clone();
        let node = node::read(&ep, conn).await?;
        self.membership = Some((node.conf_id.clone(), node.cluster_status.clone()));
        if !node.wsrep_on {
            return Err(Error::NotGalera {
                server: ep.name.clone(),
                cluster: node.cluster.clone(),
            });
        }
        let mut ctx = Ctx {
            me: node.name.clone(),
            cluster: node.cluster.clone(),
            events: Vec::new(),
        };
        let manages = !self.settings.masters.is_empty();
        if !node.healthy() {
            let mut detail = format!("not in a synced Primary component ({})", node.health());
            if let (true, Some(slave)) = (manages, &node.slave) {
                let from = masters::address(slave);
                node::stop_outside_cluster(&ep, conn).await?;
                ctx.event(
                    EventKind::LeftCluster,
                    0,
                    format!(
                        "{} left the Primary component ({}): stopped replicating from {from}",
                        ctx.me,
                        node.health()
                    ),
                );
                detail.push_str(&format!("; stopped replicating from {from}"));
            }
            return Ok(ctx.round(Role::Unhealthy, None, None, 0, detail));
        }
        if !self.schema_ready {
            self.tables.ensure(&ep, conn).await?;
            self.schema_ready = true;
        }
        // Reads wait until this node has applied everything committed in the cluster before
        // they started: a keeper never decides on a lease another node already changed.
        conn.query_drop("SET SESSION wsrep_sync_wait = 1")
            .await
            .map_err(|e| ep.query_error("set wsrep_sync_wait", e))?;
        let new_in_table = self
            .tables
            .heartbeat(&ep, conn, ctx.who(), node.local_index)
            .await?;
        let rows = self.tables.nodes(&ep, conn, &ctx.cluster).await?;
        let rules = Rules {
            heartbeat_timeout_s: secs(self.settings.heartbeat_timeout),
            failed_cool_down_s: secs(self.settings.failed_cool_down),
        };
        let mine = rows.iter().find(|r| r.host == ctx.me);
        if let Some(row) = mine {
            if row.state == NodeState::Failed && !rules.cooling_down(row) {
                self.tables
                    .set_state(&ep, conn, ctx.who(), NodeState::No)
                    .await?;
            }
        }
        let my_state = mine.map(|r| r.state);
        if !manages {
            return Ok(ctx.round(
                Role::Idle,
                None,
                None,
                0,
                "this cluster replicates from no one (no masters configured)".into(),
            ));
        }
        let lease = self.tables.lease(&ep, conn, &ctx.cluster).await?;
        let expiry = secs(self.settings.heartbeat_timeout).unsigned_abs();
        if lease.owner.as_deref() == Some(ctx.me.as_str()) {
            if !self
                .tables
                .renew(&ep, conn, ctx.who(), lease.term, None, expiry)
                .await?
            {
                return self.lost_lease(conn, &node, ctx, lease.term).await;
            }
            return self
                .replicate(conn, ctx, lease.term, Takeover::Holding)
                .await;
        }

        let members = node.members.as_ref();
        let alive = owner_alive(&lease, members);
        if let Some(slave) = &node.slave {
            let from = masters::address(slave);
            if !alive && slave.running() {
                // Replicating while nobody holds the link: a link started by hand, or ours
                // from before a keeper restart. Keep it if the lease can be had.
                if self
                    .tables
                    .take_lease(&ep, conn, ctx.who(), &lease, expiry)
                    .await?
                {
                    self.fence_peers(&mut ctx).await;
                    return self
                        .replicate(conn, ctx, lease.term + 1, Takeover::Adopted)
                        .await;
                }
            }
            node::stop_and_forget(&ep, conn).await?;
            // Threads that were started count, even while still connecting: someone made this
            // node a second replica. A configuration left stopped is only tidied away.
            if slave.io_running != "No" || slave.sql_running == "Yes" {
                let holder = lease.owner.clone().unwrap_or_else(|| "another node".into());
                ctx.event(
                    EventKind::TwoReplicasFixed,
                    lease.term,
                    format!(
                        "{} replicated from {from} although {holder} holds the link: stopped it",
                        ctx.me
                    ),
                );
            }
        }
        if matches!(my_state, Some(NodeState::Yes | NodeState::Proposed)) {
            self.tables
                .set_state(&ep, conn, ctx.who(), NodeState::No)
                .await?;
        }
        let failed = matches!(my_state, Some(NodeState::Failed))
            && mine.is_some_and(|r| rules.cooling_down(r));
        let role = if failed { Role::Failed } else { Role::Standby };
        if alive {
            let holder = lease.owner.clone();
            let detail = format!(
                "{} replicates (term {}){}",
                holder.as_deref().unwrap_or("?"),
                lease.term,
                lease
                    .master
                    .as_deref()
                    .map(|m| format!(" from {m}"))
                    .unwrap_or_default()
            );
            return Ok(ctx.round(role, holder, None, lease.term, detail));
        }
        if new_in_table {
            // Keepers started together would each see only their own row and all campaign:
            // the lease would still go to one, but not to the lowest index. A node new to
            // the table first lets the others see it, and campaigns from its next round.
            return Ok(ctx.round(
                role,
                None,
                None,
                lease.term,
                "joined the table; stands for election from the next round".into(),
            ));
        }
        let candidate = rules.candidate(&rows, members).map(|r| r.host.clone());
        if candidate.as_deref() != Some(ctx.me.as_str()) {
            let detail = match &candidate {
                Some(c) => format!("no node replicates; {c} is elected to"),
                None => "no node replicates and none is eligible (all failed or silent)".into(),
            };
            return Ok(ctx.round(role, None, None, lease.term, detail));
        }
        if !self
            .tables
            .take_lease(&ep, conn, ctx.who(), &lease, expiry)
            .await?
        {
            return Ok(ctx.round(
                role,
                None,
                None,
                lease.term,
                "another node took the link first".into(),
            ));
        }
        let takeover = match &lease.owner {
            Some(previous) => Takeover::From(previous.clone()),
            None => Takeover::New,
        };
        self.fence_peers(&mut ctx).await;
        self.replicate(conn, ctx, lease.term + 1, takeover).await
    }

    /// Holding the lease at `term`: keep the current master while it serves, else try the
    /// masters in order; give up as `Failed` when none serves.
    async fn replicate(
        &mut self,
        conn: &mut Conn,
        mut ctx: Ctx,
        term: u64,
        takeover: Takeover,
    ) -> Result<Round> {
        let ep = self.local.clone();
        let expiry = secs(self.settings.heartbeat_timeout).unsigned_abs();
        let slave = topology::read_slave_status(&ep, conn).await?;
        let current = slave.as_ref().map(masters::address);
        let mut lost = None;
        // An apply error: once per cool-down the node re-attaches (current master first).
        // Re-pointing drops the relay log and resumes from gtid_slave_pos, which cures an
        // error caused by a transaction another node applied already (a second replica's
        // brief life); an error that comes back is the data's, and the node gives up.
        let mut sql_error_first = false;
        if let Some(s) = &slave {
            if s.sql_running != "Yes" && !s.last_sql_error.is_empty() {
                let reason = format!("the SQL thread stopped: {}", s.last_sql_error);
                let retried_lately = self
                    .sql_retry_at
                    .is_some_and(|at| at.elapsed() < self.settings.failed_cool_down);
                if retried_lately {
                    return self.fail(conn, ctx, term, reason).await;
                }
                self.sql_retry_at = Some(std::time::Instant::now());
                lost = Some(reason);
                sql_error_first = true;
            }
        }
        if let (Some(s), Some(cur), false) = (&slave, &current, sql_error_first) {
            if s.running() {
                let master = self.settings.masters.iter().find(|m| &m.to_string() == cur);
                let probe = match master {
                    Some(m) => {
                        masters::probe(&self.account, m, self.settings.master_connect_timeout).await
                    }
                    // A master outside the list (set by hand): trust the threads.
                    None => Ok(()),
                };
                match probe {
                    Ok(()) => self.probe_failures = 0,
                    Err(e) => {
                        self.probe_failures += 1;
                        tracing::warn!(master = %cur, failures = self.probe_failures, error = %e, "the master does not answer a probe");
                        if self.probe_failures >= PROBE_FAILURES {
                            lost = Some(format!("{cur} does not answer: {e}"));
                        }
                    }
                }
                if lost.is_none() {
                    self.tables
                        .set_state(&ep, conn, ctx.who(), NodeState::Yes)
                        .await?;
                    self.tables
                        .renew(&ep, conn, ctx.who(), term, Some(cur), expiry)
                        .await?;
                    match &takeover {
                        Takeover::Adopted => ctx.event(
                            EventKind::NewReplica,
                            term,
                            format!(
                                "{} replicates from {cur} (adopted a running link, term {term})",
                                ctx.me
                            ),
                        ),
                        Takeover::Holding => {}
                        // A fresh holder was fenced and reset: it cannot be running already.
                        Takeover::New | Takeover::From(_) => {}
                    }
                    let detail = format!("replicating from {cur} (term {term})");
                    let me = ctx.me.clone();
                    return Ok(ctx.round(Role::Replica, Some(me), Some(cur.clone()), term, detail));
                }
            } else {
                let error = [s.last_io_error.as_str(), s.last_sql_error.as_str()]
                    .into_iter()
                    .filter(|e| !e.is_empty())
                    .collect::<Vec<_>>()
                    .join("; ");
                lost = Some(format!(
                    "{cur} stopped serving (io: {}, sql: {}){}",
                    s.io_running,
                    s.sql_running,
                    if error.is_empty() {
                        String::new()
                    } else {
                        format!(": {error}")
                    }
                ));
            }
        }
        self.probe_failures = 0;
        let mut reasons = Vec::new();
        let mut order = masters::order(&self.settings.masters, current.as_deref());
        if sql_error_first && order.last().map(|m| m.to_string()) == current {
            // Not the master's fault: it comes first.
            order.rotate_right(1);
        }
        for master in order {
            // Renewed before each attempt: an attempt is shorter than the lease, so no other
            // node can take over while it runs.
            if !self
                .tables
                .renew(&ep, conn, ctx.who(), term, None, expiry)
                .await?
            {
                let node = node::read(&ep, conn).await?;
                return self.lost_lease(conn, &node, ctx, term).await;
            }
            match masters::attempt(
                &ep,
                conn,
                &self.account,
                master,
                self.settings.master_connect_timeout,
            )
            .await
            {
                Ok(()) => {
                    let m = master.to_string();
                    self.tables
                        .set_state(&ep, conn, ctx.who(), NodeState::Yes)
                        .await?;
                    self.tables
                        .renew(&ep, conn, ctx.who(), term, Some(&m), expiry)
                        .await?;
                    let why = if reasons.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", reasons.join("; "))
                    };
                    match &takeover {
                        Takeover::New | Takeover::Adopted => ctx.event(
                            EventKind::NewReplica,
                            term,
                            format!("{} replicates from {m} (term {term}){why}", ctx.me),
                        ),
                        Takeover::From(previous) => ctx.event(
                            EventKind::Failover,
                            term,
                            format!("{} took the link over from {previous} and replicates from {m} (term {term}){why}", ctx.me),
                        ),
                        Takeover::Holding => ctx.event(
                            EventKind::MasterChanged,
                            term,
                            format!(
                                "{} {} {m}: {}{why}",
                                ctx.me,
                                if current.as_deref() == Some(m.as_str()) {
                                    "re-attached to"
                                } else {
                                    "moved to"
                                },
                                lost.as_deref().unwrap_or("replication was not running")
                            ),
                        ),
                    }
                    let detail = format!("replicating from {m} (term {term})");
                    let me = ctx.me.clone();
                    return Ok(ctx.round(Role::Replica, Some(me), Some(m), term, detail));
                }
                Err(reason) => {
                    tracing::warn!(master = %master, %reason, "cannot replicate from this master");
                    reasons.push(format!("{master}: {reason}"));
                }
            }
        }
        let mut reason = format!("no master serves this node: {}", reasons.join("; "));
        if let Some(lost) = lost {
            reason = format!("{lost}; {reason}");
        }
        self.fail(conn, ctx, term, reason).await
    }

    /// Gives up: stop and forget replication, mark `Failed` (left out of elections for the
    /// cool-down), free the lease for another node.
    async fn fail(
        &mut self,
        conn: &mut Conn,
        mut ctx: Ctx,
        term: u64,
        reason: String,
    ) -> Result<Round> {
        let ep = self.local.clone();
        node::stop_and_forget(&ep, conn).await?;
        self.tables
            .set_state(&ep, conn, ctx.who(), NodeState::Failed)
            .await?;
        self.tables.release(&ep, conn, ctx.who(), term).await?;
        let cool = humantime_secs(self.settings.failed_cool_down);
        ctx.event(
            EventKind::Failed,
            term,
            format!(
                "{} stopped replicating and is left out of elections for {cool}: {reason}",
                ctx.me
            ),
        );
        Ok(ctx.round(Role::Failed, None, None, term, reason))
    }

    /// Another node took the lease from under this one: stop at once.
    async fn lost_lease(
        &mut self,
        conn: &mut Conn,
        node: &NodeView,
        mut ctx: Ctx,
        term: u64,
    ) -> Result<Round> {
        let ep = self.local.clone();
        if node.slave.is_some() {
            node::stop_and_forget(&ep, conn).await?;
        }
        self.tables
            .set_state(&ep, conn, ctx.who(), NodeState::No)
            .await?;
        ctx.event(
            EventKind::LostLease,
            term,
            format!(
                "{} no longer holds the link (term {term} was taken over): stopped replicating",
                ctx.me
            ),
        );
        Ok(ctx.round(
            Role::Standby,
            None,
            None,
            term,
            "the link was taken over by another node".into(),
        ))
    }

    /// Stops replication on every other reachable node of the cluster before this one starts.
    async fn fence_peers(&self, ctx: &mut Ctx) {
        let fences = self.peers.iter().map(|peer| async move {
            let res = tokio::time::timeout(FENCE_TIMEOUT, async {
                let mut conn = peer.connect(Session::Plain).await?;
                let status = topology::read_slave_status(peer, &mut conn).await?;
                if status.is_some() {
                    node::stop_and_forget(peer, &mut conn).await?;
                }
                let _ = conn.disconnect().await;
                Ok::<_, Error>(status)
            })
            .await;
            (peer, res)
        });
        for (peer, res) in join_all(fences).await {
            match res {
                Ok(Ok(Some(status)))
                    if status.io_running != "No" || status.sql_running == "Yes" =>
                {
                    ctx.event(
                        EventKind::TwoReplicasFixed,
                        0,
                        format!(
                            "{} still replicated from {} when {} took the link: stopped it",
                            peer.name,
                            masters::address(&status),
                            ctx.me
                        ),
                    )
                }
                Ok(Ok(_)) => {}
                // Unreachable: it is down, or cut off (then not Primary, and it stops itself).
                Ok(Err(e)) => tracing::debug!(peer = %peer.name, error = %e, "cannot fence a peer"),
                Err(_) => {
                    tracing::debug!(peer = %peer.name, "a peer did not answer in time for fencing")
                }
            }
        }
    }
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

fn humantime_secs(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 && s.is_multiple_of(60) {
        format!("{} min", s / 60)
    } else {
        format!("{s} s")
    }
}

/// Logs an event: alerts as warnings, the rest as information.
fn log_event(e: &LinkEvent) {
    if e.kind.is_alert() {
        tracing::warn!(event = e.kind.as_str(), cluster = %e.cluster, node = %e.host, term = e.term, "{}", e.detail);
    } else {
        tracing::info!(event = e.kind.as_str(), cluster = %e.cluster, node = %e.host, term = e.term, "{}", e.detail);
    }
}
