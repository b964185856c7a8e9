//! Between rounds, a keeper watches its node's Galera membership once a second, so that a
//! change (a node died or left, this node left the Primary component) starts a round at once
//! instead of at the end of the interval: failover then waits for Galera, not for the keeper.

use std::time::Duration;

use mysql_async::prelude::Queryable;

use ferryman_db::{Connection, Endpoint, Session};

/// How often the membership is looked at between rounds.
pub const STEP: Duration = Duration::from_secs(1);
/// How long one look may take.
const LOOK_TIMEOUT: Duration = Duration::from_secs(2);

/// The membership as last seen: `wsrep_cluster_conf_id` (raised by every membership change)
/// and `wsrep_cluster_status`.
#[derive(Debug, Default)]
pub struct Watch {
    conn: Option<Connection>,
    seen: Option<(String, String)>,
}

impl Watch {
    /// Records the membership a round decided on: the one it read first, not the one after it
    /// (a change while the round waited, e.g. its reads held up during Galera's suspicion of
    /// a dead node, is then seen as a change at once). `None` (the round could not read its
    /// node): the membership now.
    pub async fn mark(&mut self, ep: &Endpoint, decided_on: Option<(String, String)>) {
        self.seen = match decided_on {
            Some(seen) => Some(seen),
            None => self.look(ep).await,
        };
    }

    /// Whether the membership differs from the one marked. A node that does not answer is no
    /// change: the next round finds out why.
    pub async fn changed(&mut self, ep: &Endpoint) -> bool {
        match (self.look(ep).await, &self.seen) {
            (Some(now), Some(seen)) => &now != seen,
            (Some(now), None) => {
                self.seen = Some(now);
                false
            }
            (None, _) => false,
        }
    }

    async fn look(&mut self, ep: &Endpoint) -> Option<(String, String)> {
        let res = tokio::time::timeout(LOOK_TIMEOUT, async {
            if self.conn.is_none() {
                self.conn = Some(ep.connect(Session::Plain).await.ok()?);
            }
            let conn = self.conn.as_mut()?;
            let rows: Vec<(String, String)> = conn
                .query(
                    "SHOW GLOBAL STATUS WHERE Variable_name IN \
                     ('wsrep_cluster_conf_id', 'wsrep_cluster_status')",
                )
                .await
                .ok()?;
            let get = |k: &str| {
                rows.iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(k))
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            Some((get("wsrep_cluster_conf_id"), get("wsrep_cluster_status")))
        })
        .await;
        match res {
            Ok(Some(seen)) => Some(seen),
            // Reconnect next time: the connection may be broken or stuck.
            _ => {
                self.conn = None;
                None
            }
        }
    }
}
