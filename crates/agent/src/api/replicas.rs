//! `GET replicas`: the replicas the server knows of: those registered with it (`SHOW SLAVE
//! HOSTS`: host, port and server id, as each replica reports them) and those reading its
//! binlog now (the processlist's `Binlog Dump` threads: the connection's host). The manager
//! compares them with the configuration.

use axum::extract::State;
use axum::Json;
use ferryman_db::mysql_async::prelude::Queryable;
use ferryman_db::mysql_async::Row;
use ferryman_db::Session;
use ferryman_http::ApiError;
use ferryman_proto::node_api::{KnownReplica, Replicas};

use super::{unavailable, Shared};
use crate::Error;

/// Where a replica was seen.
const REGISTERED: &str = "SHOW SLAVE HOSTS";
const DUMPING: &str = "processlist";

pub(super) async fn replicas(State(api): State<Shared>) -> Result<Json<Replicas>, ApiError> {
    let server = &api.server.name;
    let mut conn = api
        .endpoint
        .connect(Session::Plain)
        .await
        .map_err(|e| unavailable(&Error::Db(e)))?;
    let registered: Result<Vec<Row>, _> = conn.query("SHOW SLAVE HOSTS").await;
    let dumping: Result<Vec<Option<String>>, _> = conn
        .query(
            "SELECT HOST FROM information_schema.PROCESSLIST \
             WHERE COMMAND IN ('Binlog Dump', 'Binlog Dump GTID')",
        )
        .await;
    let _ = conn.disconnect().await;
    let sql = |what: &str, e| unavailable(&Error::sql(server, what, e));
    let registered = registered.map_err(|e| sql("run SHOW SLAVE HOSTS", e))?;
    let dumping = dumping.map_err(|e| sql("read the processlist", e))?;
    let registered = registered.into_iter().map(|row| {
        let host: Option<String> = row.get("Host").flatten();
        let port: Option<u16> = row.get("Port").flatten();
        let server_id: Option<u32> = row.get("Server_id").flatten();
        (host.unwrap_or_default(), port, server_id)
    });
    let dumping = dumping.into_iter().flatten().map(|h| connection_host(&h));
    Ok(Json(Replicas {
        server: server.clone(),
        replicas: merge(registered.collect(), dumping.collect()),
    }))
}

/// The host of a processlist `HOST` (`10.0.0.5:51234`, `[::1]:51234`, `localhost`).
fn connection_host(host: &str) -> String {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest).to_owned();
    }
    match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) && !h.contains(':') => {
            h.to_owned()
        }
        _ => host.to_owned(),
    }
}

/// One entry per replica: a dump thread from a host joins a registered replica of that host
/// not joined yet; the others are entries of their own (host only). A registered replica with
/// no `report_host` (empty) takes a dump thread's host.
fn merge(
    registered: Vec<(String, Option<u16>, Option<u32>)>,
    dumping: Vec<String>,
) -> Vec<KnownReplica> {
    let mut out: Vec<KnownReplica> = registered
        .into_iter()
        .map(|(host, port, server_id)| KnownReplica {
            host,
            port,
            server_id,
            seen_in: vec![REGISTERED.to_owned()],
            configured_as: None,
        })
        .collect();
    for host in dumping {
        let joined = |r: &KnownReplica| r.seen_in.iter().any(|s| s == DUMPING);
        if let Some(r) = out.iter_mut().find(|r| r.host == host && !joined(r)) {
            r.seen_in.push(DUMPING.to_owned());
        } else if let Some(r) = out.iter_mut().find(|r| r.host.is_empty() && !joined(r)) {
            r.host = host;
            r.seen_in.push(DUMPING.to_owned());
        } else {
            out.push(KnownReplica {
                host,
                port: None,
                server_id: None,
                seen_in: vec![DUMPING.to_owned()],
                configured_as: None,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_threads_join_registered_replicas_of_their_host() {
        let merged = merge(
            vec![
                ("10.0.0.2".to_owned(), Some(3306), Some(2)),
                ("10.0.0.2".to_owned(), Some(3307), Some(3)),
                (String::new(), Some(3306), Some(4)),
            ],
            vec![
                "10.0.0.2".to_owned(),
                "10.0.0.2".to_owned(),
                "10.0.0.9".to_owned(),
                "10.0.0.7".to_owned(),
            ],
        );
        assert_eq!(merged.len(), 4, "{merged:?}");
        assert!(merged[..2].iter().all(|r| r.seen_in.len() == 2));
        assert_eq!(merged[2].host, "10.0.0.9", "the unnamed registered one");
        assert_eq!(merged[3].host, "10.0.0.7");
        assert_eq!(merged[3].port, None);
        assert_eq!(connection_host("10.0.0.5:51234"), "10.0.0.5");
        assert_eq!(connection_host("[::1]:51234"), "::1");
        assert_eq!(connection_host("localhost"), "localhost");
    }
}
