//! Streams that give way to replication: the manager reads a node's stream (a backup, a dump,
//! a donor's payload for a reseed) more slowly while the replication it could hurt lags, and
//! never faster than a fixed cap (`backup-throttle-*`, per cluster).
//!
//! # Why the manager, and how
//! The manager already knows every server's lag (the monitor's view, [`crate::monitor::REFRESH`]
//! old at most), and every stream passes through its gate: reading the socket more slowly fills
//! the agent's send buffer, the agent stops reading its tool's output, and the tool (mariabackup,
//! mariadb-dump, tar) waits. No query is added on the database servers.
//!
//! Which lag: the source's own when it replicates (a backup of a replica slows its SQL thread);
//! otherwise the largest lag among the servers that replicate from it (a dump of the primary
//! loads the primary, and its replicas fall behind).
//!
//! The allowed rate is adjusted once a second: halved (down to the floor,
//! `backup-throttle-min-rate-mib`) while the lag is above `backup-throttle-lag`, doubled again
//! once it is back under half of it, until the stream runs free (or at `backup-throttle-rate-mib`).
//!
//! # Safety
//! A physical backup copies the redo log through the same stream: a floor below the rate at
//! which the server writes its redo log can make mariabackup lose the log's start, and the
//! backup then fails (nothing is kept; the job says why). The floor exists for that reason.

use std::time::{Duration, Instant};

use ferryman_config::{ClusterConfig, ServerConfig};

use crate::monitor::Topology;

/// How often the lag is looked at and the allowed rate adjusted.
const STEP: Duration = Duration::from_secs(1);

/// The throttle of one stream.
pub struct Throttle {
    pace: Pace,
    lag: Box<dyn Fn() -> Option<u64> + Send>,
    window_start: Instant,
    window_bytes: u64,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle")
            .field("pace", &self.pace)
            .finish()
    }
}

impl Throttle {
    /// The throttle of a stream from `server`, or `None` when the cluster sets no
    /// `backup-throttle-lag` nor `backup-throttle-rate-mib`.
    pub fn for_source(
        topology: &Topology,
        cluster: &ClusterConfig,
        server: &ServerConfig,
    ) -> Option<Throttle> {
        let t = cluster.throttle;
        if t.lag.is_none() && t.rate.is_none() {
            return None;
        }
        let topology = topology.clone();
        let (name, host, port) = (cluster.name.clone(), server.host.clone(), server.port);
        let source = server.name.clone();
        let lag = move || {
            let view = topology.cluster(&name)?;
            watched_lag(&view.servers, &source, &host, port)
        };
        Some(Throttle {
            pace: Pace::new(
                t.lag.map(|d| d.as_secs()),
                t.rate.map(|r| r as f64),
                t.min_rate as f64,
            ),
            lag: Box::new(lag),
            window_start: Instant::now(),
            window_bytes: 0,
        })
    }

    /// Accounts for `n` bytes just read and waits as long as the allowed rate says. Returns a
    /// change worth showing in the job's phase ("throttled: lag 45 s > 30 s, 8.0 MiB/s").
    pub async fn pace(&mut self, n: usize) -> Option<String> {
        self.window_bytes += n as u64;
        let mut change = None;
        let elapsed = self.window_start.elapsed();
        if elapsed >= STEP {
            let rate = self.window_bytes as f64 / elapsed.as_secs_f64();
            change = self.pace.step((self.lag)(), rate);
            self.window_start = Instant::now();
            self.window_bytes = 0;
        }
        if let Some(limit) = self.pace.limit {
            let due = Duration::from_secs_f64(self.window_bytes as f64 / limit);
            let elapsed = self.window_start.elapsed();
            if due > elapsed {
                tokio::time::sleep(due - elapsed).await;
            }
        }
        change
    }
}

/// The lag to watch for a stream from `source` (at `host:port`): its own when it replicates,
/// else the largest among the servers replicating from it. `None` when unknown (not read yet,
/// or every replica's SQL thread stopped: `Seconds_Behind_Master` is NULL then).
fn watched_lag(
    servers: &[ferryman_db::topology::ServerView],
    source: &str,
    host: &str,
    port: u16,
) -> Option<u64> {
    let own = servers
        .iter()
        .find(|s| s.name == source)
        .and_then(|s| s.status.as_ref())
        .and_then(|st| st.replication.as_ref());
    if let Some(own) = own {
        return own.seconds_behind_master;
    }
    servers
        .iter()
        .filter_map(|s| s.status.as_ref()?.replication.as_ref())
        .filter(|r| {
            r.master_port == port && ferryman_proto::address::same_host(&r.master_host, host)
        })
        .filter_map(|r| r.seconds_behind_master)
        .max()
}

/// The allowed rate, adjusted once a second: the pure part of the throttle.
#[derive(Debug, Clone, PartialEq)]
pub struct Pace {
    /// `backup-throttle-lag`, seconds.
    max_lag: Option<u64>,
    /// `backup-throttle-rate-mib`, bytes/s.
    cap: Option<f64>,
    /// `backup-throttle-min-rate-mib`, bytes/s.
    floor: f64,
    /// The allowed rate now; `None`: free.
    pub limit: Option<f64>,
    /// The rate before the first slow-down: above it, the stream runs free again.
    free_rate: Option<f64>,
}

impl Pace {
    /// A pace for `max_lag` seconds, a `cap` and a `floor` in bytes/s.
    pub fn new(max_lag: Option<u64>, cap: Option<f64>, floor: f64) -> Pace {
        Pace {
            max_lag,
            cap,
            floor,
            limit: cap,
            free_rate: None,
        }
    }

    /// One step with the lag seen now and the rate of the last step (bytes/s); returns what
    /// changed, for the job's phase.
    pub fn step(&mut self, lag: Option<u64>, rate: f64) -> Option<String> {
        let (Some(max), Some(lag)) = (self.max_lag, lag) else {
            return None;
        };
        let before = self.limit;
        if lag > max {
            let from = self.limit.map_or(rate, |l| l.min(rate.max(self.floor)));
            if self.free_rate.is_none() {
                self.free_rate = Some(rate.max(self.floor));
            }
            self.limit = Some((from / 2.0).max(self.floor));
        } else if lag * 2 <= max {
            if let Some(limit) = self.limit {
                let up = limit * 2.0;
                let free = self.free_rate.unwrap_or(f64::INFINITY);
                self.limit = match self.cap {
                    Some(cap) if up >= cap => Some(cap),
                    None if up >= free => None,
                    _ => Some(up),
                };
                if self.limit.is_none() || self.limit == self.cap {
                    self.free_rate = None;
                }
            }
        }
        if self.limit == before {
            return None;
        }
        Some(match self.limit {
            Some(l) if lag > max => format!(
                "throttled: replication lag {lag} s > {max} s, {:.1} MiB/s",
                l / 1048576.0
            ),
            Some(l) => format!(
                "speeding up: replication lag {lag} s, {:.1} MiB/s",
                l / 1048576.0
            ),
            None => format!("replication lag {lag} s: no longer throttled"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: f64 = 1048576.0;

    #[test]
    fn lag_halves_the_rate_down_to_the_floor_and_recovery_doubles_it_back_to_free() {
        let mut p = Pace::new(Some(30), None, 8.0 * MIB);
        assert_eq!(p.step(Some(10), 200.0 * MIB), None, "under the threshold");
        assert_eq!(p.limit, None);
        let change = p.step(Some(45), 200.0 * MIB).unwrap();
        assert_eq!(
            change,
            "throttled: replication lag 45 s > 30 s, 100.0 MiB/s"
        );
        p.step(Some(50), 100.0 * MIB);
        p.step(Some(50), 50.0 * MIB);
        p.step(Some(50), 25.0 * MIB);
        assert_eq!(p.limit, Some(12.5 * MIB));
        p.step(Some(50), 12.5 * MIB);
        assert_eq!(p.limit, Some(8.0 * MIB), "never below the floor");
        assert_eq!(
            p.step(Some(20), 8.0 * MIB),
            None,
            "between half and the threshold: held"
        );
        p.step(Some(10), 8.0 * MIB);
        assert_eq!(p.limit, Some(16.0 * MIB));
        for _ in 0..3 {
            p.step(Some(0), 0.0);
        }
        assert_eq!(p.limit, Some(128.0 * MIB));
        let last = p.step(Some(0), 128.0 * MIB).unwrap();
        assert_eq!(last, "replication lag 0 s: no longer throttled");
        assert_eq!(
            p.limit, None,
            "free again above the rate before the slow-down"
        );
    }

    #[test]
    fn a_cap_holds_without_lag_and_recovery_stops_at_it() {
        let mut p = Pace::new(None, Some(50.0 * MIB), MIB);
        assert_eq!(p.limit, Some(50.0 * MIB));
        assert_eq!(
            p.step(Some(999), 50.0 * MIB),
            None,
            "no lag threshold: the cap only"
        );
        let mut p = Pace::new(Some(5), Some(50.0 * MIB), MIB);
        p.step(Some(9), 50.0 * MIB);
        assert_eq!(p.limit, Some(25.0 * MIB));
        p.step(Some(1), 25.0 * MIB);
        assert_eq!(p.limit, Some(50.0 * MIB));
        assert_eq!(p.step(Some(0), 50.0 * MIB), None);
        assert_eq!(p.limit, Some(50.0 * MIB));
    }

    #[test]
    fn an_unknown_lag_changes_nothing() {
        let mut p = Pace::new(Some(5), None, MIB);
        p.step(Some(9), 40.0 * MIB);
        let before = p.clone();
        assert_eq!(p.step(None, 1.0), None);
        assert_eq!(p, before);
    }

    #[test]
    fn the_watched_lag_is_the_sources_own_or_its_replicas_largest() {
        use ferryman_db::topology::{Role, ServerStatus, ServerView, SlaveStatus};
        let view = |name: &str, master: Option<(&str, u16, Option<u64>)>| ServerView {
            name: name.to_owned(),
            address: String::new(),
            status: Some(ServerStatus {
                version: "10.11".to_owned(),
                server_id: 1,
                read_only: false,
                log_bin: true,
                gtid_binlog_pos: String::new(),
                gtid_slave_pos: String::new(),
                role: if master.is_some() {
                    Role::Replica
                } else {
                    Role::Primary
                },
                replication: master.map(|(host, port, lag)| SlaveStatus {
                    master_host: host.to_owned(),
                    master_port: port,
                    io_running: "Yes".to_owned(),
                    sql_running: "Yes".to_owned(),
                    seconds_behind_master: lag,
                    using_gtid: "Slave_Pos".to_owned(),
                    last_io_error: String::new(),
                    last_sql_error: String::new(),
                    master_log_file: String::new(),
                }),
                galera: None,
            }),
            error: None,
        };
        let servers = vec![
            view("db1", None),
            view("db2", Some(("10.0.0.1", 3306, Some(12)))),
            view("db3", Some(("10.0.0.1", 3306, Some(40)))),
            view("db4", Some(("10.0.0.9", 3306, Some(900)))),
        ];
        assert_eq!(watched_lag(&servers, "db2", "10.0.0.2", 3306), Some(12));
        assert_eq!(watched_lag(&servers, "db1", "10.0.0.1", 3306), Some(40));
        assert_eq!(watched_lag(&servers, "db1", "10.0.0.1", 3307), None);
    }
}
