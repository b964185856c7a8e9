//! `GET /metrics`: the manager's state in Prometheus' text format, computed when scraped.
//!
//! Names follow Prometheus' conventions (`ferryman_` prefix, base units, `_seconds`,
//! `_bytes`, `_timestamp_seconds`, `_total` only for counters). Everything is read at scrape time
//! from what the manager already holds (the catalogue of manifests, the jobs, the archivers'
//! status), so there is no second bookkeeping to drift from the truth; a scrape lists the
//! repositories once. `config/prometheus-alerts.yml` holds sample alerting rules over them.

use std::collections::BTreeMap;

use ferryman_repo::{Kind, Manifest, Status, Verification};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::fleet::kind_name;
use crate::registry::JobState;
use crate::{pitr, Services};

type Labels = Vec<(&'static str, String)>;
type Gauges = Family<Labels, Gauge<f64, std::sync::atomic::AtomicU64>>;

/// One gauge family, registered under `name`.
struct Metric {
    family: Gauges,
}

impl Metric {
    fn new(registry: &mut Registry, name: &str, help: &str) -> Metric {
        let family = Gauges::default();
        registry.register(name, help, family.clone());
        Metric { family }
    }

    fn set(&self, labels: Labels, value: f64) {
        self.family.get_or_create(&labels).set(value);
    }
}

/// The exposition of `services` now.
pub async fn render(services: &Services) -> Result<String, crate::Error> {
    let mut registry = Registry::with_prefix("ferryman");
    let r = &mut registry;
    let last_success = Metric::new(r, "backup_last_success_timestamp_seconds", "End time of the newest good backup (stored, newest verification not failed) per cluster, server and kind.");
    let last_duration = Metric::new(
        r,
        "backup_last_duration_seconds",
        "How long the newest good backup took, start to stored.",
    );
    let last_raw = Metric::new(
        r,
        "backup_last_raw_bytes",
        "Raw (uncompressed) size of the newest good backup.",
    );
    let last_stored = Metric::new(
        r,
        "backup_last_stored_bytes",
        "Stored (compressed) size of the newest good backup.",
    );
    let count = Metric::new(r, "backups", "Backups stored per cluster and kind.");
    let verified_ok = Metric::new(
        r,
        "verification_last_ok",
        "1 when the newest verified backup's newest verification passed, 0 when it failed.",
    );
    let verified_at = Metric::new(
        r,
        "verification_last_timestamp_seconds",
        "When the newest verification of the newest verified backup ran.",
    );
    let restore = Metric::new(
        r,
        "verification_last_restore_seconds",
        "How long the test restore of the newest verified backup took (the RTO evidence).",
    );
    let repo_bytes = Metric::new(
        r,
        "repository_stored_bytes",
        "Bytes of backups stored per repository (manifests' stored sizes).",
    );
    let jobs = Metric::new(
        r,
        "jobs",
        "The manager's kept jobs (the newest 1000) by state.",
    );
    let rpo = Metric::new(
        r,
        "pitr_recovery_point_lag_seconds",
        "How far the binlog archive is behind the cluster's primary.",
    );
    let following = Metric::new(
        r,
        "pitr_archiver_following",
        "1 while the cluster's binlog archiver follows its primary.",
    );
    let agent_age = Metric::new(
        r,
        "agent_heartbeat_age_seconds",
        "Seconds since each server's agent last recorded its heartbeat, as last read (every 15 s); absent for a server no agent ever ran on.",
    );
    let link_up = Metric::new(
        r,
        "galera_link_replicating",
        "1 while a node of the Galera cluster holds the link's live lease and replicates from the remote cluster (both threads running), as last read (every 15 s).",
    );
    let link_term = Metric::new(
        r,
        "galera_link_term",
        "The Galera link's lease term: raised by every takeover, so its increase counts failovers.",
    );
    let history = Metric::new(
        r,
        "history_available",
        "1 when the manager's history database (state.db) is in use.",
    );

    let located = services.repos.list_located(None, None).await?;
    let mut per_repo: BTreeMap<String, u64> = BTreeMap::new();
    let mut newest: BTreeMap<(String, String, Kind), &Manifest> = BTreeMap::new();
    let mut newest_verified: BTreeMap<(String, String, Kind), (&Manifest, Verification)> =
        BTreeMap::new();
    let mut counts: BTreeMap<(String, Kind), u64> = BTreeMap::new();
    // Newest first: the first of each key is its newest.
    for l in &located {
        let m = &l.manifest;
        for repo in &l.repositories {
            *per_repo.entry(repo.clone()).or_default() += m.stored_bytes;
        }
        *counts.entry((m.cluster.clone(), m.kind)).or_default() += 1;
        let key = (m.cluster.clone(), m.server.clone(), m.kind);
        let latest = Verification::latest_of(m);
        if latest.as_ref().is_none_or(|v| v.status == Status::Ok) {
            newest.entry(key.clone()).or_insert(m);
        }
        if let Some(v) = latest {
            newest_verified.entry(key).or_insert((m, v));
        }
    }
    let labels = |(cluster, server, kind): &(String, String, Kind)| -> Labels {
        vec![
            ("cluster", cluster.clone()),
            ("server", server.clone()),
            ("kind", kind_name(*kind).to_owned()),
        ]
    };
    for (key, m) in &newest {
        last_success.set(labels(key), m.ended_at.unix() as f64);
        last_duration.set(
            labels(key),
            (m.ended_at.unix() - m.started_at.unix()).max(0) as f64,
        );
        last_raw.set(labels(key), m.raw_bytes as f64);
        last_stored.set(labels(key), m.stored_bytes as f64);
    }
    for (key, (_, v)) in &newest_verified {
        verified_ok.set(labels(key), f64::from(u8::from(v.status == Status::Ok)));
        verified_at.set(labels(key), v.ended_at.unix() as f64);
        if let Some(s) = v.restore_seconds {
            restore.set(labels(key), s);
        }
    }
    for ((cluster, kind), n) in counts {
        count.set(
            vec![("cluster", cluster), ("kind", kind_name(kind).to_owned())],
            n as f64,
        );
    }
    for (repo, bytes) in per_repo {
        repo_bytes.set(vec![("repository", repo)], bytes as f64);
    }
    let mut by_state: BTreeMap<JobState, u64> = JobState::ALL.into_iter().map(|s| (s, 0)).collect();
    for job in services.registry.list() {
        *by_state.entry(job.state).or_default() += 1;
    }
    for (state, n) in by_state {
        jobs.set(vec![("state", state.as_str().to_owned())], n as f64);
    }
    for cluster in &services.config.clusters {
        if !cluster.binlog_archive.enabled {
            continue;
        }
        let name = vec![("cluster", cluster.name.clone())];
        let status = services.archives.get(&cluster.name);
        following.set(
            name.clone(),
            f64::from(u8::from(status.is_some_and(|s| s.following))),
        );
        if let Some(lag) = pitr::rpo_lag(services, &cluster.name) {
            rpo.set(name, lag as f64);
        }
    }
    for ((cluster, server), seen) in services.agents.all() {
        agent_age.set(
            vec![("cluster", cluster), ("server", server)],
            seen.heartbeat.age_s as f64,
        );
    }
    for (cluster, link) in services.links.all() {
        let name = vec![("cluster", cluster)];
        link_up.set(
            name.clone(),
            f64::from(u8::from(link.replicating.is_some())),
        );
        link_term.set(name, link.term as f64);
    }
    history.set(
        Vec::new(),
        f64::from(u8::from(services.state.problem().is_none())),
    );
    let mut text = String::new();
    encode(&mut text, &registry).map_err(|e| crate::Error::Metrics(e.to_string()))?;
    Ok(text)
}
