//! The lease holder's work: keeping its master while it serves, else trying the masters in
//! order; giving up as `Failed` when none serves; and fencing the other nodes before it starts.

use std::time::Duration;

use futures_util::future::join_all;
use mysql_async::Conn;

use ferryman_db::{topology, Session};

use crate::event::EventKind;
use crate::masters;
use crate::node;
use crate::tables::NodeState;
use crate::{Error, Result};

use super::{secs, Ctx, Keeper, Role, Round, Takeover};

/// How long fencing waits for a peer that does not answer (a dead peer cannot replicate).
const FENCE_TIMEOUT: Duration = Duration::from_secs(3);
/// Consecutive failed probes of a master whose threads still say `Yes` before it counts as
/// dead (a host that vanished without closing connections looks alive to the I/O thread until
/// `slave_net_timeout`, a minute by default).
const PROBE_FAILURES: u32 = 2;

impl Keeper {
    /// Holding the lease at `term`: keep the current master while it serves, else try the
    /// masters in order; give up as `Failed` when none serves.
    pub(super) async fn replicate(
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
                    // Liveness only: the domains were checked when replication was set up.
                    Some(m) => {
                        let timeout = self.settings.master_connect_timeout;
                        masters::probe(&self.account, m, &[], timeout).await
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
                &self.settings.ignore_domain_ids,
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
        let cool = humantime::format_duration(self.settings.failed_cool_down);
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

    /// Stops replication on every other reachable node of the cluster before this one starts.
    pub(super) async fn fence_peers(&self, ctx: &mut Ctx) {
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
