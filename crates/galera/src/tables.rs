//! The keepers' shared tables, in the Galera cluster itself (Galera replicates them to every
//! node, so every keeper sees the same rows):
//!
//! - `SCHEMA.TABLE` (default `percona.replication`), one row per node, laid out like reference
//!   004: `host` (`@@wsrep_node_name`), `localIndex`, `isSlave` (`No`, `Yes`, `Proposed`,
//!   `Failed`), `lastUpdate` (time of the last state change: heartbeats keep it), `lastHeartbeat`
//!   and `cluster` (`@@wsrep_cluster_name`).
//! - `TABLE_lease`, one row per cluster: which node replicates (`owner`), its `term` (raised by
//!   every takeover), `beat` (raised by every renewal), the master it reads from and when the
//!   lease expires. A takeover is one `UPDATE ... WHERE term = ? AND beat = ?`: on one node the
//!   row lock serialises competing keepers, across nodes Galera's certification lets exactly one
//!   of two concurrent writers of the row commit (the other gets a deadlock error). This is what
//!   reference 004's `SELECT ... FOR UPDATE` could not do: that lock is local to one node.
//! - `TABLE_events`: what the keepers did (new replica, failover, ...), for `galera-link status`
//!   and the notifications.
//!
//! Every key includes the cluster: the tables are binary-logged, so the remote cluster's rows
//! arrive here through the link itself, and must never collide with ours (an event id alone
//! would, and would stop the replica with a duplicate key).
//!
//! Schema and table names come from the configuration, which allows only `[A-Za-z0-9_]`, so
//! they are safe inside backquotes; every value is a bound parameter.

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row};
use serde::Serialize;

use ferryman_config::GaleraLinkConfig;
use ferryman_db::Endpoint;

use crate::event::LinkEvent;
use crate::Result;

/// MariaDB's error for a transaction that lost a conflict (also Galera's certification
/// failure): the competing keeper won, try again next round.
pub const ER_LOCK_DEADLOCK: u16 = 1213;

/// The `isSlave` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum NodeState {
    /// Not replicating (the resting state).
    No,
    /// Replicating for the cluster.
    Yes,
    /// Holds the lease and is connecting to a master.
    Proposed,
    /// Could replicate from no master: left out of elections for `failed-cool-down`.
    Failed,
}

impl NodeState {
    /// The column's text.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeState::No => "No",
            NodeState::Yes => "Yes",
            NodeState::Proposed => "Proposed",
            NodeState::Failed => "Failed",
        }
    }

    fn parse(s: &str) -> NodeState {
        match s {
            "Yes" => NodeState::Yes,
            "Proposed" => NodeState::Proposed,
            "Failed" => NodeState::Failed,
            _ => NodeState::No,
        }
    }
}

/// One node's row, with ages computed by the server that was read (one clock).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeRow {
    /// `host`: the node's `wsrep_node_name`.
    pub host: String,
    /// `localIndex`: its `wsrep_local_index` when it last wrote.
    pub local_index: Option<i64>,
    /// `isSlave`.
    pub state: NodeState,
    /// Seconds since `lastHeartbeat`.
    pub heartbeat_age_s: i64,
    /// Seconds since `lastUpdate` (the last state change).
    pub state_age_s: i64,
}

/// The cluster's lease row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lease {
    /// The replicating node, if any.
    pub owner: Option<String>,
    /// Raised by every takeover.
    pub term: u64,
    /// Raised by every renewal.
    pub beat: u64,
    /// The master the owner reads from, `host:port`.
    pub master: Option<String>,
    /// Whether it has not expired (by the clock of the server read).
    pub live: bool,
    /// Seconds since the owner took it.
    pub held_s: Option<i64>,
}

/// One event row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventRow {
    /// Row id (increasing).
    pub id: u64,
    /// When, `YYYY-MM-DD hh:mm:ss.fff` in the server's time zone.
    pub at: String,
    /// Node that wrote it.
    pub host: String,
    /// Event kind.
    pub kind: String,
    /// Lease term at the time.
    pub term: u64,
    /// What happened.
    pub detail: String,
}

/// A node of a cluster, as the tables key it.
#[derive(Debug, Clone, Copy)]
pub struct Member<'a> {
    /// `wsrep_cluster_name`.
    pub cluster: &'a str,
    /// `wsrep_node_name`.
    pub host: &'a str,
}

/// One node's row as read: `(host, localIndex, isSlave, heartbeat age, state age)`.
type RawNodeRow = (String, Option<i64>, Option<String>, i64, i64);

/// The names of the three tables of one configuration.
#[derive(Debug, Clone)]
pub struct Tables {
    nodes: String,
    lease: String,
    events: String,
    schema: String,
}

impl Tables {
    /// The tables named by `config`.
    pub fn new(config: &GaleraLinkConfig) -> Tables {
        let q = |t: &str| format!("`{}`.`{t}`", config.schema);
        Tables {
            nodes: q(&config.table),
            lease: q(&config.lease_table()),
            events: q(&config.events_table()),
            schema: format!("`{}`", config.schema),
        }
    }

    /// Creates the schema and tables when missing (DDL replicates through Galera).
    pub async fn ensure(&self, ep: &Endpoint, conn: &mut Conn) -> Result<()> {
        let statements = [
            format!("CREATE DATABASE IF NOT EXISTS {}", self.schema),
            format!(
                "CREATE TABLE IF NOT EXISTS {} (\
                 `host` varchar(64) NOT NULL, \
                 `localIndex` int(11) DEFAULT NULL, \
                 `isSlave` enum('No','Yes','Proposed','Failed') DEFAULT 'No', \
                 `lastUpdate` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP, \
                 `lastHeartbeat` timestamp NOT NULL DEFAULT '1971-01-01 00:00:00', \
                 `cluster` varchar(64) NOT NULL, \
                 PRIMARY KEY (`host`,`cluster`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
                self.nodes
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {} (\
                 `cluster` varchar(64) NOT NULL PRIMARY KEY, \
                 `owner` varchar(64) DEFAULT NULL, \
                 `term` bigint unsigned NOT NULL DEFAULT 0, \
                 `beat` bigint unsigned NOT NULL DEFAULT 0, \
                 `master` varchar(300) DEFAULT NULL, \
                 `since` timestamp NULL DEFAULT NULL, \
                 `expires` timestamp NULL DEFAULT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
                self.lease
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {} (\
                 `id` bigint unsigned NOT NULL AUTO_INCREMENT, \
                 `at` timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), \
                 `cluster` varchar(64) NOT NULL, \
                 `host` varchar(64) NOT NULL, \
                 `kind` varchar(32) NOT NULL, \
                 `term` bigint unsigned NOT NULL DEFAULT 0, \
                 `detail` text NOT NULL, \
                 PRIMARY KEY (`cluster`, `id`), KEY `id` (`id`)) \
                 ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
                self.events
            ),
        ];
        for sql in statements {
            conn.query_drop(sql)
                .await
                .map_err(|e| ep.query_error("create the galera-link tables", e))?;
        }
        Ok(())
    }

    /// Writes the node's heartbeat (inserting its row as `No` the first time); the state and
    /// `lastUpdate` are kept. True when the row was inserted (the node is new to the table). A
    /// certification conflict (another node wrote the row at the same instant) is retried once.
    pub async fn heartbeat(
        &self,
        ep: &Endpoint,
        conn: &mut Conn,
        who: Member<'_>,
        local_index: i64,
    ) -> Result<bool> {
        let sql = format!(
            "INSERT INTO {} (host, cluster, localIndex, isSlave, lastUpdate, lastHeartbeat) \
             VALUES (?, ?, ?, 'No', NOW(), NOW()) ON DUPLICATE KEY UPDATE \
             localIndex = VALUES(localIndex), lastHeartbeat = NOW(), lastUpdate = lastUpdate",
            self.nodes
        );
        let params = (who.host, who.cluster, local_index);
        let res = match conn.exec_drop(&sql, params).await {
            Err(e) if is_conflict(&e) => conn.exec_drop(&sql, params).await,
            other => other,
        };
        res.map_err(|e| ep.query_error("write the node's heartbeat", e))?;
        // INSERT ... ON DUPLICATE KEY UPDATE: 1 row affected for an insert, 2 for an update.
        Ok(conn.affected_rows() == 1)
    }

    /// Sets the node's state; `lastUpdate` changes only when the state does.
    pub async fn set_state(
        &self,
        ep: &Endpoint,
        conn: &mut Conn,
        who: Member<'_>,
        state: NodeState,
    ) -> Result<()> {
        conn.exec_drop(
            format!(
                "UPDATE {} SET isSlave = ?, lastHeartbeat = NOW(), \
                 lastUpdate = IF(isSlave = ?, lastUpdate, NOW()) WHERE host = ? AND cluster = ?",
                self.nodes
            ),
            (state.as_str(), state.as_str(), who.host, who.cluster),
        )
        .await
        .map_err(|e| ep.query_error("write the node's state", e).into())
    }

    /// The rows of `cluster`, by `localIndex` then host.
    pub async fn nodes(
        &self,
        ep: &Endpoint,
        conn: &mut Conn,
        cluster: &str,
    ) -> Result<Vec<NodeRow>> {
        let rows: Vec<RawNodeRow> = conn
            .exec(
                format!(
                    "SELECT host, localIndex, isSlave, \
                     TIMESTAMPDIFF(SECOND, lastHeartbeat, NOW()), \
                     TIMESTAMPDIFF(SECOND, lastUpdate, NOW()) \
                     FROM {} WHERE cluster = ? ORDER BY localIndex, host",
                    self.nodes
                ),
                (cluster,),
            )
            .await
            .map_err(|e| ep.query_error("read the nodes' rows", e))?;
        Ok(rows
            .into_iter()
            .map(|(host, local_index, state, hb, st)| NodeRow {
                host,
                local_index,
                state: NodeState::parse(state.as_deref().unwrap_or("No")),
                heartbeat_age_s: hb,
                state_age_s: st,
            })
            .collect())
    }

    /// The lease of `cluster`, created free when missing.
    pub async fn lease(&self, ep: &Endpoint, conn: &mut Conn, cluster: &str) -> Result<Lease> {
        let select = format!(
            "SELECT owner, term, beat, master, COALESCE(expires > NOW(), 0), \
             TIMESTAMPDIFF(SECOND, since, NOW()) FROM {} WHERE cluster = ?",
            self.lease
        );
        type LeaseRow = (Option<String>, u64, u64, Option<String>, i64, Option<i64>);
        let mut row: Option<LeaseRow> = conn
            .exec_first(&select, (cluster,))
            .await
            .map_err(|e| ep.query_error("read the lease", e))?;
        if row.is_none() {
            // Two nodes inserting at once conflict in certification; the loser sees the row.
            match conn
                .exec_drop(
                    format!("INSERT IGNORE INTO {} (cluster) VALUES (?)", self.lease),
                    (cluster,),
                )
                .await
            {
                Ok(()) => {}
                Err(e) if is_conflict(&e) => {}
                Err(e) => return Err(ep.query_error("create the lease row", e).into()),
            }
            row = conn
                .exec_first(&select, (cluster,))
                .await
                .map_err(|e| ep.query_error("read the lease", e))?;
        }
        let (owner, term, beat, master, live, held_s) = row.unwrap_or_default();
        Ok(Lease {
            owner,
            term,
            beat,
            master,
            live: live != 0,
            held_s,
        })
    }

    /// Takes the lease for `host` if it is still exactly as read (`term` and `beat`), and marks
    /// the node `Proposed`, in one transaction. False when another keeper changed the lease
    /// first (here or on another node: then the commit fails certification).
    pub async fn take_lease(
        &self,
        ep: &Endpoint,
        conn: &mut Conn,
        who: Member<'_>,
        read: &Lease,
        expiry_s: u64,
    ) -> Result<bool> {
        let attempt = async {
            let mut tx = conn
                .start_transaction(mysql_async::TxOpts::default())
                .await?;
            tx.exec_drop(
                format!(
                    "UPDATE {} SET owner = ?, term = term + 1, beat = beat + 1, master = NULL, \
                     since = NOW(), expires = NOW() + INTERVAL ? SECOND \
                     WHERE cluster = ? AND term = ? AND beat = ?",
                    self.lease
                ),
                (who.host, expiry_s, who.cluster, read.term, read.beat),
            )
            .await?;
            if tx.affected_rows() != 1 {
                tx.rollback().await?;
                return Ok(false);
            }
            tx.exec_drop(
                format!(
                    "UPDATE {} SET isSlave = 'Proposed', lastHeartbeat = NOW(), lastUpdate = NOW() \
                     WHERE host = ? AND cluster = ?",
                    self.nodes
                ),
                (who.host, who.cluster),
            )
            .await?;
            tx.commit().await?;
            Ok::<bool, mysql_async::Error>(true)
        };
        match attempt.await {
            Ok(won) => Ok(won),
            Err(e) if is_conflict(&e) => Ok(false),
            Err(e) => Err(ep.query_error("take the lease", e).into()),
        }
    }

    /// Renews the lease of `host` at `term` (and records its master when given). False when
    /// the lease is no longer this node's: it must stop replicating at once.
    pub async fn renew(
        &self,
        ep: &Endpoint,
        conn: &mut Conn,
        who: Member<'_>,
        term: u64,
        master: Option<&str>,
        expiry_s: u64,
    ) -> Result<bool> {
        let res = conn
            .exec_drop(
                format!(
                    "UPDATE {} SET beat = beat + 1, master = COALESCE(?, master), \
                     expires = NOW() + INTERVAL ? SECOND \
                     WHERE cluster = ? AND owner = ? AND term = ?",
                    self.lease
                ),
                (master, expiry_s, who.cluster, who.host, term),
            )
            .await;
        match res {
            Ok(()) => Ok(conn.affected_rows() == 1),
            Err(e) if is_conflict(&e) => Ok(false),
            Err(e) => Err(ep.query_error("renew the lease", e).into()),
        }
    }

    /// Gives the lease of `host` at `term` up (after a failure), so another node can take it.
    pub async fn release(
        &self,
        ep: &Endpoint,
        conn: &mut Conn,
        who: Member<'_>,
        term: u64,
    ) -> Result<()> {
        match conn
            .exec_drop(
                format!(
                    "UPDATE {} SET owner = NULL, master = NULL, beat = beat + 1, expires = NULL \
                     WHERE cluster = ? AND owner = ? AND term = ?",
                    self.lease
                ),
                (who.cluster, who.host, term),
            )
            .await
        {
            Ok(()) => Ok(()),
            Err(e) if is_conflict(&e) => Ok(()),
            Err(e) => Err(ep.query_error("release the lease", e).into()),
        }
    }

    /// Appends an event; events older than 30 days are pruned.
    pub async fn add_event(&self, ep: &Endpoint, conn: &mut Conn, e: &LinkEvent) -> Result<()> {
        conn.exec_drop(
            format!(
                "INSERT INTO {} (cluster, host, kind, term, detail) VALUES (?, ?, ?, ?, ?)",
                self.events
            ),
            (&e.cluster, &e.host, e.kind.as_str(), e.term, &e.detail),
        )
        .await
        .map_err(|e| ep.query_error("record an event", e))?;
        conn.exec_drop(
            format!(
                "DELETE FROM {} WHERE cluster = ? AND at < NOW() - INTERVAL 30 DAY",
                self.events
            ),
            (&e.cluster,),
        )
        .await
        .map_err(|e| ep.query_error("prune old events", e))?;
        Ok(())
    }

    /// The newest `limit` events of `cluster`, oldest first.
    pub async fn events(
        &self,
        ep: &Endpoint,
        conn: &mut Conn,
        cluster: &str,
        limit: u32,
    ) -> Result<Vec<EventRow>> {
        self.events_where(ep, conn, cluster, None, limit).await
    }

    /// The newest `limit` events of `cluster` of the last `within_s` seconds (by the server's
    /// clock), oldest first.
    pub async fn recent_events(
        &self,
        ep: &Endpoint,
        conn: &mut Conn,
        cluster: &str,
        within_s: u64,
        limit: u32,
    ) -> Result<Vec<EventRow>> {
        self.events_where(ep, conn, cluster, Some(within_s), limit)
            .await
    }

    async fn events_where(
        &self,
        ep: &Endpoint,
        conn: &mut Conn,
        cluster: &str,
        within_s: Option<u64>,
        limit: u32,
    ) -> Result<Vec<EventRow>> {
        let rows: Vec<Row> = conn
            .exec(
                format!(
                    "SELECT id, CAST(at AS CHAR), host, kind, term, detail FROM {} \
                     WHERE cluster = ? AND (? IS NULL OR at >= NOW(3) - INTERVAL ? SECOND) \
                     ORDER BY id DESC LIMIT ?",
                    self.events
                ),
                (cluster, within_s, within_s, limit),
            )
            .await
            .map_err(|e| ep.query_error("read the events", e))?;
        let mut out: Vec<EventRow> = rows
            .into_iter()
            .filter_map(|row| {
                let (id, at, host, kind, term, detail) =
                    mysql_async::from_row_opt::<(u64, String, String, String, u64, String)>(row)
                        .ok()?;
                Some(EventRow {
                    id,
                    at,
                    host,
                    kind,
                    term,
                    detail,
                })
            })
            .collect();
        out.reverse();
        Ok(out)
    }
}

/// True for a lost conflict: a lock deadlock or a Galera certification failure.
pub fn is_conflict(e: &mysql_async::Error) -> bool {
    matches!(e, mysql_async::Error::Server(s) if s.code == ER_LOCK_DEADLOCK)
}
