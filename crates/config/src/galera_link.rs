//! `[clusters.NAME.galera-link]`: how the Galera link keeper (`ferryman galera-link`) keeps one
//! node of this Galera cluster replicating asynchronously from a remote cluster.
//!
//! Every node of the cluster runs a keeper. They coordinate through tables in the cluster
//! itself (Galera replicates them to every node): one row per node, laid out like reference
//! 004's `percona.replication`, and one lease row per cluster that names the replicating node.

use std::time::Duration;

use toml::Spanned;

use crate::defaults;
use crate::error::ConfigError;
use crate::raw::RawGaleraLink;
use crate::validate::Validator;

/// One remote master: where the replicating node may read from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RemoteMaster {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl std::fmt::Display for RemoteMaster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// The `[clusters.NAME.galera-link]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GaleraLinkConfig {
    /// `masters`: the remote cluster's nodes this cluster may replicate from, in order of
    /// preference, each `"host:port"` (`"host"` alone means port 3306). They are reached with
    /// the cluster's `replication-credential`. Default `[]`: this cluster replicates from no
    /// one, and its keepers only keep their rows fresh.
    pub masters: Vec<RemoteMaster>,
    /// `ignore-domain-ids`: the GTID domains the replicating node does not apply
    /// (`CHANGE MASTER ... IGNORE_DOMAIN_IDS`): this cluster's own, in a master-master link
    /// (each cluster replicating from the other), or every transaction would come back to
    /// the cluster that wrote it. Typically `[wsrep_gtid_domain_id, gtid_domain_id]` of this
    /// cluster. Required when the two clusters of this file replicate from each other;
    /// default `[]`.
    pub ignore_domain_ids: Vec<u32>,
    /// `schema`: the schema of the keepers' tables. Default `"percona"` (reference 004).
    pub schema: String,
    /// `table`: the table of one row per node, laid out like reference 004's
    /// `percona.replication`. The lease is kept in `TABLE_lease` and the events in
    /// `TABLE_events`. Default `"replication"`.
    pub table: String,
    /// `interval`: how often each keeper looks at its node and the tables (daemon mode).
    /// Default 5s; 1s to 10m.
    pub interval: Duration,
    /// `heartbeat-timeout`: a node whose heartbeat is older is not reporting: it is not
    /// elected, and the replicating node's lease expires after this long without renewal.
    /// Default 30s; 3s to 1h; more than `interval` + `master-connect-timeout`.
    pub heartbeat_timeout: Duration,
    /// `failed-cool-down`: how long a node that could not replicate from any master (state
    /// `Failed`) is left out of elections, so that another node takes over. Default 3m; 0s to
    /// 1d.
    pub failed_cool_down: Duration,
    /// `master-connect-timeout`: how long one attempt to replicate from a master may take
    /// until both replication threads run and the master sends its binary log. Default 10s;
    /// 1s to 5m.
    pub master_connect_timeout: Duration,
}

impl Default for GaleraLinkConfig {
    fn default() -> Self {
        GaleraLinkConfig {
            masters: Vec::new(),
            ignore_domain_ids: Vec::new(),
            schema: defaults::GALERA_LINK_SCHEMA.to_owned(),
            table: defaults::GALERA_LINK_TABLE.to_owned(),
            interval: defaults::GALERA_LINK_INTERVAL,
            heartbeat_timeout: defaults::GALERA_LINK_HEARTBEAT_TIMEOUT,
            failed_cool_down: defaults::GALERA_LINK_FAILED_COOL_DOWN,
            master_connect_timeout: defaults::GALERA_LINK_MASTER_CONNECT_TIMEOUT,
        }
    }
}

impl GaleraLinkConfig {
    /// Validates `[clusters.CLUSTER.galera-link]`.
    pub(crate) fn from_raw(
        raw: Spanned<RawGaleraLink>,
        cluster: &str,
        v: &mut Validator<'_>,
    ) -> Self {
        let table_at = v.at(raw.span());
        let RawGaleraLink {
            masters,
            ignore_domain_ids,
            schema,
            table,
            interval,
            heartbeat_timeout,
            failed_cool_down,
            master_connect_timeout,
        } = raw.into_inner();
        let key = |k: &str| format!("clusters.{cluster}.galera-link.{k}");
        let masters_key = key("masters");
        let mut parsed: Vec<RemoteMaster> = Vec::new();
        for raw in masters {
            let at = v.at(raw.span());
            let value = raw.into_inner();
            match parse_master(&value) {
                Ok(m) if parsed.contains(&m) => v.push(ConfigError::InvalidMaster {
                    at,
                    key: masters_key.clone(),
                    value,
                    reason: "it is listed twice".into(),
                }),
                Ok(m) => parsed.push(m),
                Err(reason) => v.push(ConfigError::InvalidMaster {
                    at,
                    key: masters_key.clone(),
                    value,
                    reason,
                }),
            }
        }
        let ignore_key = key("ignore-domain-ids");
        let mut domains: Vec<u32> = Vec::new();
        for raw in ignore_domain_ids {
            let at = v.at(raw.span());
            let written = *raw.get_ref();
            let domain = v.integer(&ignore_key, Some(raw), 0, (0, u32::MAX));
            if i64::from(domain) != written {
                continue; // out of range: reported by `integer`
            }
            if domains.contains(&domain) {
                v.push(ConfigError::InvalidDomainId {
                    at,
                    key: ignore_key.clone(),
                    domain,
                    reason: "it is listed twice",
                });
            } else {
                domains.push(domain);
            }
        }
        let mut name = |what, raw: Option<Spanned<String>>, default: &str| match raw {
            Some(raw) => {
                v.name(what, &raw, true);
                raw.into_inner()
            }
            None => default.to_owned(),
        };
        let schema = name(
            "galera-link schema name",
            schema,
            defaults::GALERA_LINK_SCHEMA,
        );
        let table = name("galera-link table name", table, defaults::GALERA_LINK_TABLE);
        let config = GaleraLinkConfig {
            masters: parsed,
            ignore_domain_ids: domains,
            schema,
            table,
            interval: v.duration(
                &key("interval"),
                interval,
                defaults::GALERA_LINK_INTERVAL,
                defaults::GALERA_LINK_INTERVAL_RANGE,
            ),
            heartbeat_timeout: v.duration(
                &key("heartbeat-timeout"),
                heartbeat_timeout,
                defaults::GALERA_LINK_HEARTBEAT_TIMEOUT,
                defaults::GALERA_LINK_HEARTBEAT_TIMEOUT_RANGE,
            ),
            failed_cool_down: v.duration(
                &key("failed-cool-down"),
                failed_cool_down,
                defaults::GALERA_LINK_FAILED_COOL_DOWN,
                defaults::GALERA_LINK_FAILED_COOL_DOWN_RANGE,
            ),
            master_connect_timeout: v.duration(
                &key("master-connect-timeout"),
                master_connect_timeout,
                defaults::GALERA_LINK_MASTER_CONNECT_TIMEOUT,
                defaults::GALERA_LINK_MASTER_CONNECT_TIMEOUT_RANGE,
            ),
        };
        // The replicating node renews its lease before each attempt on a master: an attempt
        // plus one interval must fit in the lease, or another node could take over while the
        // attempt still runs (two replicas).
        if config.heartbeat_timeout <= config.interval + config.master_connect_timeout {
            v.push(ConfigError::GaleraLinkTiming {
                at: table_at,
                key: key("heartbeat-timeout"),
                detail: format!(
                    "{} is not more than interval ({}) + master-connect-timeout ({})",
                    humantime::format_duration(config.heartbeat_timeout),
                    humantime::format_duration(config.interval),
                    humantime::format_duration(config.master_connect_timeout),
                ),
            });
        }
        config
    }

    /// The lease table's name.
    pub fn lease_table(&self) -> String {
        format!("{}_lease", self.table)
    }

    /// The events table's name.
    pub fn events_table(&self) -> String {
        format!("{}_events", self.table)
    }
}

/// `"host:port"`, `"host"` (port 3306) or `"[v6]:port"`.
fn parse_master(value: &str) -> Result<RemoteMaster, String> {
    let value = value.trim();
    let (host, port) = if let Some(rest) = value.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or("an IPv6 address lacks its `]`")?;
        match after.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if after.is_empty() => (host, None),
            None => return Err(format!("unexpected {after:?} after the address")),
        }
    } else {
        match value.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (value, None),
        }
    };
    if host.is_empty() || host.chars().any(char::is_whitespace) {
        return Err("the host is empty or contains whitespace".into());
    }
    let port = match port {
        None => defaults::GALERA_LINK_MASTER_PORT,
        Some(p) => match p.parse::<u16>() {
            Ok(p) if p > 0 => p,
            _ => return Err(format!("{p:?} is not a port (1 to 65535)")),
        },
    };
    Ok(RemoteMaster {
        host: host.to_owned(),
        port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masters_parse_with_and_without_ports() {
        let m = |h: &str, p| RemoteMaster {
            host: h.into(),
            port: p,
        };
        assert_eq!(parse_master("10.0.0.1:3307"), Ok(m("10.0.0.1", 3307)));
        assert_eq!(parse_master("db-a1"), Ok(m("db-a1", 3306)));
        assert_eq!(parse_master("[::1]:3310"), Ok(m("::1", 3310)));
        assert_eq!(parse_master("[::1]"), Ok(m("::1", 3306)));
        assert_eq!(m("::1", 3310).to_string(), "[::1]:3310");
        assert_eq!(m("db", 1).to_string(), "db:1");
        for bad in ["", ":3306", "db:0", "db:x", "db:70000", "[::1", "a b:1"] {
            assert!(parse_master(bad).is_err(), "{bad}");
        }
    }
}
