//! The decisions of one round: the node's health, its row, and what it does about the lease
//! (renew it, stand by, stop a second replica, campaign and take it); and stopping at once when
//! the lease was taken from under it.

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use crate::election::{owner_alive, Rules};
use crate::event::EventKind;
use crate::masters;
use crate::node::{self, NodeView};
use crate::tables::NodeState;
use crate::{Error, Result};

use super::{secs, Ctx, Keeper, Role, Round, Takeover};

impl Keeper {
    pub(super) async fn round_on(&mut self, conn: &mut Conn) -> Result<Round> {
        let ep = self.local.clone();
        let node = node::read(&ep, conn).await?;
        self.membership = Some((
            node.wsrep.conf_id.clone(),
            node.wsrep.cluster_status.clone(),
        ));
        if !node.wsrep_on {
            return Err(Error::NotGalera {
                server: ep.name.clone(),
                cluster: node.wsrep.cluster_name.clone(),
            });
        }
        let mut ctx = Ctx {
            me: node.wsrep.node_name.clone(),
            cluster: node.wsrep.cluster_name.clone(),
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
            .heartbeat(&ep, conn, ctx.who(), node.wsrep.local_index)
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

    /// Another node took the lease from under this one: stop at once.
    pub(super) async fn lost_lease(
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
}
