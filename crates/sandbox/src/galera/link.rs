//! The asynchronous link of a two-cluster sandbox: beta's first node replicates from alpha's
//! first node with GTIDs (`master_use_gtid=slave_pos`), and a row written on alpha is seen on
//! beta's last node before `up` returns.
//!
//! `mysql.gtid_slave_pos` is replicated through Galera, so every beta node knows the link's
//! position: the link keeper (`ferryman galera-link`) adopts this link when it starts and moves
//! it to another node with a plain `CHANGE MASTER ... slave_pos`.

use std::time::{Duration, Instant};

use ferryman_db::mysql_async::prelude::Queryable;
use ferryman_db::replication::{self, Source};
use ferryman_db::{topology, Session};
use rand::distr::{Alphanumeric, SampleString};

use super::state::{ClusterSpec, GaleraState, NodeSpec};
use super::GaleraSandbox;
use crate::accounts::REPL_USER;
use crate::{Error, Result};

/// How long the link may take to receive, then to carry the probe row.
const LINK_TIMEOUT: Duration = Duration::from_secs(60);
/// Where the probe row lives (on both clusters, through the link).
const PROBE_DB: &str = "sandbox_link";

impl GaleraSandbox {
    /// Sets the link up unless a beta node already replicates (the link keeper may have moved
    /// it): `CHANGE MASTER` on b1 to a1 and `START SLAVE`, waits until a1 serves its binary
    /// log, then checks that a write on alpha reaches beta's last node.
    /// In a master-master sandbox, the same from b1 to a1, each replica ignoring its own
    /// cluster's GTID domains.
    pub(super) async fn ensure_link(&self) -> Result<()> {
        let [alpha, beta] = self.state.clusters.as_slice() else {
            return Ok(());
        };
        if !self.state.link {
            return Ok(());
        }
        if !self.state.master_master {
            return self.link_one(alpha, beta, None).await;
        }
        self.link_one(alpha, beta, Some(&GaleraState::own_domains(beta)))
            .await?;
        self.link_one(beta, alpha, Some(&GaleraState::own_domains(alpha)))
            .await
    }

    /// `to`'s first node replicating from `from`'s first, unless a node of `to` replicates.
    async fn link_one(
        &self,
        from: &ClusterSpec,
        to: &ClusterSpec,
        ignore_domain_ids: Option<&[u32]>,
    ) -> Result<()> {
        for n in &to.nodes {
            if self.replicating(n).await {
                return Ok(());
            }
        }
        let (Some(master), Some(replica)) = (from.nodes.first(), to.nodes.first()) else {
            return Ok(()); // never: a cluster has at least one node (`GaleraState`)
        };
        let ep = self.admin(replica);
        let mut conn = ep.connect(Session::Plain).await?;
        // A stale configuration (an earlier link) must be stopped before CHANGE MASTER; there
        // may be none, which makes STOP SLAVE a warning only.
        let _ = replication::stop(&ep, &mut conn).await;
        replication::change_master(
            &ep,
            &mut conn,
            &Source {
                host: "127.0.0.1",
                port: master.port,
                user: REPL_USER,
                password: self.passwords.repl.expose_secret(),
                connect_retry_s: 1,
                ssl: None,
                ignore_domain_ids,
            },
        )
        .await?;
        replication::start(&ep, &mut conn).await?;
        let started = Instant::now();
        loop {
            let status = topology::read_slave_status(&ep, &mut conn).await?;
            if status.as_ref().is_some_and(|s| s.receiving()) {
                break;
            }
            if started.elapsed() > LINK_TIMEOUT {
                let detail = match status {
                    Some(s) => format!(
                        "io: {}, sql: {}, last error: {}{}",
                        s.io_running, s.sql_running, s.last_io_error, s.last_sql_error
                    ),
                    None => "replication is not configured".to_owned(),
                };
                return Err(self.link_failed(master, replica, started, detail));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = conn.disconnect().await;
        let last = to.nodes.last().unwrap_or(replica);
        self.probe_link(master, replica, last).await
    }

    /// Whether `node` answers with both replication threads running.
    async fn replicating(&self, node: &NodeSpec) -> bool {
        let ep = self.admin(node);
        let Ok(mut conn) = ep.connect(Session::Plain).await else {
            return false;
        };
        let status = topology::read_slave_status(&ep, &mut conn).await;
        let _ = conn.disconnect().await;
        matches!(status, Ok(Some(s)) if s.running())
    }

    /// Writes a random value on `master` and waits until `last` has it: it crossed the link
    /// (to `replica`) and beta's Galera replication.
    async fn probe_link(
        &self,
        master: &NodeSpec,
        replica: &NodeSpec,
        last: &NodeSpec,
    ) -> Result<()> {
        let token = Alphanumeric.sample_string(&mut rand::rng(), 16);
        let ep = self.admin(master);
        let mut conn = ep.connect(Session::Plain).await?;
        for sql in [
            format!("CREATE DATABASE IF NOT EXISTS {PROBE_DB}"),
            format!(
                "CREATE TABLE IF NOT EXISTS {PROBE_DB}.probe \
                 (id INT PRIMARY KEY, token VARCHAR(32) NOT NULL)"
            ),
        ] {
            conn.query_drop(sql)
                .await
                .map_err(|e| ep.query_error("create the link probe table", e))?;
        }
        conn.exec_drop(
            // One row per direction (keyed by the master's server id): in a master-master
            // sandbox each side's probe crosses the link its own way.
            format!("REPLACE INTO {PROBE_DB}.probe VALUES (?, ?)"),
            (master.server_id, &token),
        )
        .await
        .map_err(|e| ep.query_error("write the link probe row", e))?;
        let _ = conn.disconnect().await;

        let ep = self.admin(last);
        let started = Instant::now();
        loop {
            let got: Result<Option<String>> = async {
                let mut conn = ep.connect(Session::Plain).await?;
                let got = conn
                    .exec_first(
                        format!("SELECT token FROM {PROBE_DB}.probe WHERE id = ?"),
                        (master.server_id,),
                    )
                    .await
                    .map_err(|e| ep.query_error("read the link probe row", e));
                let _ = conn.disconnect().await;
                Ok(got?)
            }
            .await;
            let seen = match got {
                Ok(Some(t)) if t == token => return Ok(()),
                Ok(other) => format!("probe row on {}: {other:?}", last.name),
                Err(e) => e.to_string(),
            };
            if started.elapsed() > LINK_TIMEOUT {
                return Err(self.link_failed(
                    master,
                    replica,
                    started,
                    format!(
                        "a row written on {} did not reach {} ({seen})",
                        master.name, last.name
                    ),
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn link_failed(
        &self,
        master: &NodeSpec,
        replica: &NodeSpec,
        started: Instant,
        detail: String,
    ) -> Error {
        Error::LinkFailed {
            replica: replica.name.clone(),
            master: master.name.clone(),
            seconds: started.elapsed().as_secs(),
            detail,
            log: self.layout.server(&replica.name).error_log(),
        }
    }
}
