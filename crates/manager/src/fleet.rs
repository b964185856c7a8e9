//! The fleet on one screen, as data: each cluster's servers with their roles and lag, its
//! newest backup of each kind with its verification, its last recoverable point, its running
//! jobs. One home for what `ferryman status`, `GET /api/v1/status` and the dashboard's overview
//! show.

use ferryman_config::ClusterConfig;
use ferryman_db::topology;
use ferryman_repo::{Kind, Manifest, Outcome, Status, Timestamp, Verification};
use serde::Serialize;

use crate::registry::JobRecord;
use crate::{pitr, Services};

/// Every cluster.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Fleet {
    /// The configured clusters, in name order.
    pub clusters: Vec<ClusterStatus>,
    /// Why the manager keeps no history, when it keeps none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_problem: Option<String>,
}

/// One cluster.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ClusterStatus {
    /// Its name.
    pub name: String,
    /// Its servers, in the configuration's order.
    pub servers: Vec<ServerLine>,
    /// The newest backup of each kind (physical, then logical).
    pub newest: Vec<NewestBackup>,
    /// Whether its binlog is archived (point-in-time recovery).
    pub archiving: bool,
    /// The last point a restore can reach, when archiving.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub recoverable_to: Option<Timestamp>,
    /// How far the archive is behind the primary, seconds.
    pub rpo_lag_seconds: Option<u64>,
    /// Its jobs that have not ended.
    #[schema(value_type = Vec<Object>)]
    pub running_jobs: Vec<JobRecord>,
}

/// One server as the monitor last saw it.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ServerLine {
    /// Its name.
    pub name: String,
    /// `host:port`.
    pub address: String,
    /// `primary`, `replica`, `no replication` (replicates from no one but is not the one
    /// primary) or `unreachable`.
    pub role: String,
    /// A replica's applied GTID position (`gtid_slave_pos`), else its binlog's.
    pub gtid: Option<String>,
    /// A replica's lag, seconds.
    pub lag_seconds: Option<u64>,
    /// Why it cannot be read, or its replication's last error.
    pub error: Option<String>,
    /// Seconds since its agent's last heartbeat, as last read; `None`: no agent ever beat
    /// there (or not read yet).
    pub agent_seen_seconds: Option<u64>,
    /// Its agent is silent (`agent-silent` said, not resolved).
    pub agent_silent: bool,
}

/// The newest backup of one kind.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct NewestBackup {
    /// `physical` or `logical`.
    pub kind: String,
    /// The backup, when there is one.
    pub id: Option<String>,
    /// Its source server.
    pub server: Option<String>,
    /// When it was stored.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ended_at: Option<Timestamp>,
    /// Its stored size.
    pub stored_bytes: Option<u64>,
    /// `ok`, `failed` or `not verified`.
    pub verification: String,
    /// The failed checks, `check: detail`.
    pub failed_checks: Vec<String>,
}

/// The fleet now.
pub async fn status(services: &Services) -> Fleet {
    let mut clusters = Vec::new();
    for c in &services.config.clusters {
        clusters.push(cluster(services, c).await);
    }
    Fleet {
        clusters,
        history_problem: services.state.problem().map(str::to_owned),
    }
}

async fn cluster(services: &Services, c: &ClusterConfig) -> ClusterStatus {
    let backups = match services.repos.list(Some(&c.name), None).await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(cluster = %c.name, error = %e, "cannot list the backups for the status");
            Vec::new()
        }
    };
    let newest = [Kind::Physical, Kind::Logical]
        .into_iter()
        .map(|kind| newest_of(kind, backups.iter().find(|m| m.kind == kind)))
        .collect();
    let (recoverable_to, rpo_lag_seconds) = if c.binlog_archive.enabled {
        match pitr::status(services, &c.name).await {
            Ok(p) => (p.report.windows.last().map(|w| w.to), p.rpo_lag_seconds),
            Err(_) => (None, None),
        }
    } else {
        (None, None)
    };
    ClusterStatus {
        name: c.name.clone(),
        servers: servers(services, c),
        newest,
        archiving: c.binlog_archive.enabled,
        recoverable_to,
        rpo_lag_seconds,
        running_jobs: services
            .registry
            .list()
            .into_iter()
            .filter(|j| j.cluster == c.name && !j.state.is_final())
            .collect(),
    }
}

fn servers(services: &Services, c: &ClusterConfig) -> Vec<ServerLine> {
    let topology = services.topology.cluster(&c.name);
    let views = topology.as_ref().map_or(&[][..], |t| &t.servers[..]);
    c.servers
        .iter()
        .map(|s| {
            let view = views.iter().find(|v| v.name == s.name);
            let status = view.and_then(|v| v.status.as_ref());
            let agent = services.agents.get(&c.name, &s.name);
            let repl = status.and_then(|st| st.replication.as_ref());
            let error = match status {
                Some(_) => repl
                    .map(|r| format!("{}{}", r.last_io_error, r.last_sql_error))
                    .filter(|e| !e.is_empty()),
                None => view.and_then(|v| v.error.clone()),
            };
            let address = format!("{}:{}", s.host, s.port);
            ServerLine {
                name: s.name.clone(),
                role: topology::role_label(
                    views
                        .iter()
                        .map(|v| (v.address.as_str(), v.status.as_ref())),
                    (address.as_str(), status),
                )
                .to_owned(),
                gtid: status.and_then(topology::shown_gtid).map(str::to_owned),
                lag_seconds: repl.and_then(|r| r.seconds_behind_master),
                address,
                error,
                agent_seen_seconds: agent.as_ref().map(|a| a.heartbeat.age_s),
                agent_silent: agent.is_some_and(|a| a.silent),
            }
        })
        .collect()
}

/// An age in seconds as `45s`, `12m`, `3h 4m`, `2d 5h` (a negative one, from clocks apart,
/// as `0s`).
pub fn ago(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86400 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {}h", s / 86400, s % 86400 / 3600),
    }
}

/// Bytes as `1.5 GiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// An agent's heartbeat for a table: `5s ago`, `silent 3m`, `-` (none).
pub fn agent_text(line: &ServerLine) -> String {
    match line.agent_seen_seconds {
        None => "-".to_owned(),
        Some(s) if line.agent_silent => {
            format!("silent {}", ago(i64::try_from(s).unwrap_or(i64::MAX)))
        }
        Some(s) => format!("{} ago", ago(i64::try_from(s).unwrap_or(i64::MAX))),
    }
}

/// `physical` or `logical`.
pub fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Physical => "physical",
        Kind::Logical => "logical",
    }
}

/// `m`'s verification: `ok`, `failed` (with the failed checks) or `not verified`.
pub fn verification_of(m: &Manifest) -> (String, Vec<String>) {
    match Verification::latest_of(m) {
        Some(v) if v.status == Status::Ok => ("ok".to_owned(), Vec::new()),
        Some(v) => (
            "failed".to_owned(),
            v.checks
                .iter()
                .filter(|c| c.outcome == Outcome::Failed)
                .map(|c| format!("{}: {}", c.name, c.detail))
                .collect(),
        ),
        None => ("not verified".to_owned(), Vec::new()),
    }
}

fn newest_of(kind: Kind, m: Option<&Manifest>) -> NewestBackup {
    let (verification, failed_checks) = m.map(verification_of).unwrap_or_default();
    NewestBackup {
        kind: kind_name(kind).to_owned(),
        id: m.map(|m| m.id.to_string()),
        server: m.map(|m| m.server.clone()),
        ended_at: m.map(|m| m.ended_at),
        stored_bytes: m.map(|m| m.stored_bytes),
        verification,
        failed_checks,
    }
}
