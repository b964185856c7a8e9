//! The remote masters: probing one, and pointing the node's replication at one until both
//! threads run and the master serves its binary log.

use std::time::{Duration, Instant};

use mysql_async::Conn;

use ferryman_config::{RemoteMaster, Secret};
use ferryman_db::replication::{self, Source};
use ferryman_db::{topology, Endpoint, Session};

/// How often the replication threads are looked at while connecting.
const POLL: Duration = Duration::from_millis(200);
/// Seconds between the I/O thread's reconnection attempts to a master that went away; short,
/// because the keeper decides about moving to another master, not the retry count.
const CONNECT_RETRY_S: u32 = 1;

/// The account the replica uses on the remote masters.
#[derive(Debug, Clone)]
pub struct ReplicationAccount {
    /// User.
    pub user: String,
    /// Password, if any.
    pub password: Option<Secret>,
}

impl ReplicationAccount {
    fn endpoint(&self, master: &RemoteMaster) -> Endpoint {
        Endpoint {
            name: master.to_string(),
            host: master.host.clone(),
            port: master.port,
            socket: None,
            user: self.user.clone(),
            password: self.password.clone(),
            ssl: Default::default(),
        }
    }
}

/// Whether `master` accepts a login of the replication account within `timeout`: the cheap
/// test that keeps a dead master from costing a whole replication attempt. With `ignored`
/// domains (a master-master link), also checks the master's cluster does not write GTIDs in
/// one of them: the link would silently apply nothing of it.
pub async fn probe(
    account: &ReplicationAccount,
    master: &RemoteMaster,
    ignored: &[u32],
    timeout: Duration,
) -> Result<(), String> {
    let ep = account.endpoint(master);
    match tokio::time::timeout(timeout, ep.connect(Session::Plain)).await {
        Ok(Ok(mut conn)) => {
            let domains = if ignored.is_empty() {
                Ok(Vec::new())
            } else {
                writes_domains(&mut conn).await
            };
            let _ = conn.disconnect().await;
            match domains?.into_iter().find(|d| ignored.contains(d)) {
                Some(d) => Err(format!(
                    "{master} writes GTID domain {d}, which this cluster's ignore-domain-ids \
                     lists: replicating from it would apply none of its transactions; give each \
                     cluster its own wsrep_gtid_domain_id and list only this cluster's own"
                )),
                None => Ok(()),
            }
        }
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "no answer within {} s",
            timeout.as_secs_f64().round()
        )),
    }
}

/// The GTID domain a node's Galera transactions carry (`wsrep_gtid_domain_id`, with
/// `wsrep_gtid_mode`) and its own `gtid_domain_id`.
async fn writes_domains(conn: &mut mysql_async::Conn) -> Result<Vec<u32>, String> {
    use mysql_async::prelude::Queryable;
    let row: Option<(i64, u32, u32)> = conn
        .query_first("SELECT @@wsrep_gtid_mode, @@wsrep_gtid_domain_id, @@gtid_domain_id")
        .await
        .map_err(|e| format!("cannot read the master's GTID domains: {e}"))?;
    Ok(match row {
        Some((1, wsrep, own)) => vec![wsrep, own],
        Some((_, _, own)) => vec![own],
        None => Vec::new(),
    })
}

/// Points the local node (`ep`, `conn`) at `master` with `master_use_gtid = slave_pos` and
/// starts replication; succeeds once both threads run and the master has sent its binary log
/// (so it accepted our GTID position), within `timeout`. On failure replication is stopped
/// again and the reason returned.
pub async fn attempt(
    ep: &Endpoint,
    conn: &mut Conn,
    account: &ReplicationAccount,
    master: &RemoteMaster,
    ignore_domain_ids: &[u32],
    timeout: Duration,
) -> Result<(), String> {
    let started = Instant::now();
    probe(account, master, ignore_domain_ids, timeout).await?;
    let password = account
        .password
        .as_ref()
        .map(|p| p.expose_secret().to_owned())
        .unwrap_or_default();
    let point = async {
        // STOP SLAVE on a node with no replication is only a warning.
        replication::stop(ep, conn).await?;
        replication::change_master(
            ep,
            conn,
            &Source {
                host: &master.host,
                port: master.port,
                user: &account.user,
                password: &password,
                connect_retry_s: CONNECT_RETRY_S,
                ssl: None,
                ignore_domain_ids: Some(ignore_domain_ids),
            },
        )
        .await?;
        replication::start(ep, conn).await
    };
    point.await.map_err(|e| e.to_string())?;
    loop {
        let status = topology::read_slave_status(ep, conn)
            .await
            .map_err(|e| e.to_string())?;
        let Some(status) = status else {
            return Err(
                "replication vanished while connecting (RESET SLAVE ALL by someone?)".into(),
            );
        };
        if status.receiving() {
            return Ok(());
        }
        let failed = status.io_running == "No" || status.sql_running == "No";
        if failed || started.elapsed() >= timeout {
            let _ = replication::stop(ep, conn).await;
            let error = [
                status.last_io_error.as_str(),
                status.last_sql_error.as_str(),
            ]
            .into_iter()
            .filter(|e| !e.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
            return Err(format!(
                "{} after {:.1} s (io: {}, sql: {}){}",
                if failed {
                    "replication stopped"
                } else {
                    "not serving us"
                },
                started.elapsed().as_secs_f64(),
                status.io_running,
                status.sql_running,
                if error.is_empty() {
                    String::new()
                } else {
                    format!(": {error}")
                }
            ));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The order in which masters are tried: the configured order, except that `current` (the
/// master that just stopped serving) goes last.
pub fn order<'a>(masters: &'a [RemoteMaster], current: Option<&str>) -> Vec<&'a RemoteMaster> {
    let (mut rest, mut last): (Vec<_>, Vec<_>) = masters
        .iter()
        .partition(|m| Some(m.to_string().as_str()) != current);
    rest.append(&mut last);
    rest
}

/// `host:port` of the master a slave status points at.
pub fn address(status: &topology::SlaveStatus) -> String {
    RemoteMaster {
        host: status.master_host.clone(),
        port: status.master_port,
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_master_that_failed_is_tried_last() {
        let m = |p| RemoteMaster {
            host: "10.0.0.1".into(),
            port: p,
        };
        let masters = [m(1), m(2), m(3)];
        let ports = |o: Vec<&RemoteMaster>| o.iter().map(|m| m.port).collect::<Vec<_>>();
        assert_eq!(ports(order(&masters, None)), [1, 2, 3]);
        assert_eq!(ports(order(&masters, Some("10.0.0.1:1"))), [2, 3, 1]);
        assert_eq!(ports(order(&masters, Some("10.0.0.1:2"))), [1, 3, 2]);
        assert_eq!(ports(order(&masters, Some("elsewhere:1"))), [1, 2, 3]);
    }
}
