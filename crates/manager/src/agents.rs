//! Agents heard from: each server's agent heartbeat (`ferryman_agents` on that server, see
//! `ferryman_jobs::heartbeat`) read every [`EVERY`], `agent-silent` when it is older than
//! `manager.agent-silent-after`, `agent-back` when it is fresh again.
//!
//! A server with `onpremise-ssh` has no resident agent: the manager runs `ferryman agent
//! --once` over SSH for each of its jobs, and that pass's heartbeat ages until the next job.
//! Its age is still read and shown, but it is never called silent (a run that does not start
//! fails its job instead, with ssh's reason).
//!
//! A server with no heartbeat row never ran a Ferryman agent (a legacy donor, a server whose
//! agent has not started yet) and is never called silent; a server that cannot be read leaves
//! its agent's state as it was (the topology says the server is down). The ages are also the
//! metric `ferryman_agent_heartbeat_age_seconds` and a column of `ferryman status`. To retire
//! a server's agent for good, delete its row (`DELETE FROM replication_manager_schema.
//! ferryman_agents WHERE server = 'db3'` with `sql_log_bin = 0`) and the problem stays closed.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use ferryman_config::{ClusterConfig, ServerConfig};
use ferryman_db::topology::Kept;
use ferryman_db::Endpoint;
use ferryman_jobs::heartbeat::read_heartbeats;
use ferryman_jobs::{Heartbeat, Schema};
use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::events::{EventKind, NewEvent, Severity};
use crate::Services;

/// How often the heartbeats are read.
pub const EVERY: Duration = Duration::from_secs(15);
/// Servers read at once.
const CONCURRENCY: usize = 16;

/// The last heartbeat read of each server's agent, by (cluster, server).
#[derive(Debug, Default)]
pub struct Agents {
    seen: RwLock<BTreeMap<(String, String), Seen>>,
}

/// What the manager last read of one agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The row read.
    pub heartbeat: Heartbeat,
    /// Whether `agent-silent` was said and not yet resolved.
    pub silent: bool,
}

impl Agents {
    /// The last reading of `server`'s agent in `cluster`.
    pub fn get(&self, cluster: &str, server: &str) -> Option<Seen> {
        let seen = self.seen.read().ok()?;
        seen.get(&(cluster.to_owned(), server.to_owned())).cloned()
    }

    /// Every reading, by (cluster, server).
    pub fn all(&self) -> Vec<((String, String), Seen)> {
        self.seen
            .read()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }

    /// Records `heartbeat` of `server` in `cluster`; returns the event to emit when the agent
    /// turned silent or came back.
    fn record(
        &self,
        cluster: &str,
        server: &str,
        heartbeat: Heartbeat,
        silent_after: Duration,
    ) -> Option<NewEvent> {
        let mut seen = self.seen.write().ok()?;
        let key = (cluster.to_owned(), server.to_owned());
        let was_silent = seen.get(&key).is_some_and(|s| s.silent);
        let silent = heartbeat.age_s > silent_after.as_secs();
        let event = match (was_silent, silent) {
            (false, true) => Some(silent_event(cluster, server, &heartbeat, silent_after)),
            (true, false) => Some(back_event(cluster, server, &heartbeat)),
            _ => None,
        };
        seen.insert(key, Seen { heartbeat, silent });
        event
    }
}

/// Reads every server's heartbeat every [`EVERY`] until `shutdown`.
pub async fn run(services: Arc<Services>, shutdown: CancellationToken) {
    loop {
        read_all(&services).await;
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

/// One round over every server of the fleet.
pub async fn read_all(services: &Services) {
    let config = &services.config;
    let mut each = Vec::new();
    for cluster in &config.clusters {
        let Ok(schema) = Schema::new(&cluster.jobs_schema) else {
            continue;
        };
        for server in &cluster.servers {
            let schema = schema.clone();
            let kept = services.topology.kept();
            each.push(async move {
                let read = read(cluster, server, &schema, kept).await;
                (cluster, server, read)
            });
        }
    }
    let mut reads = futures_util::stream::iter(each).buffer_unordered(CONCURRENCY);
    while let Some((cluster, server, read)) = reads.next().await {
        match read {
            Ok(Some(heartbeat)) => {
                let silent_after = match server.onpremise_ssh {
                    Some(_) => Duration::MAX,
                    None => config.manager.agent_silent_after,
                };
                if let Some(event) =
                    services
                        .agents
                        .record(&cluster.name, &server.name, heartbeat, silent_after)
                {
                    services.events.emit(event);
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::debug!(cluster = %cluster.name, server = %server.name, error = %e, "cannot read the agent's heartbeat")
            }
        }
    }
}

/// `server`'s own row, if its agent ever beat, read on the connection the monitor keeps to
/// the server (a thousand servers every 15 s would otherwise be 67 new sessions a second).
async fn read(
    cluster: &ClusterConfig,
    server: &ServerConfig,
    schema: &Schema,
    kept: &Kept,
) -> ferryman_jobs::Result<Option<Heartbeat>> {
    let endpoint = Endpoint::from_config(server, &cluster.db_servers_credential);
    let mut conn =
        kept.take_or_connect(&endpoint)
            .await
            .map_err(|source| ferryman_jobs::Error::Connect {
                source: Box::new(source),
            })?;
    let rows = read_heartbeats(&mut conn, schema, &server.name).await?;
    kept.put(&server.name, conn);
    Ok(rows.into_iter().find(|h| h.server == server.name))
}

fn silent_event(
    cluster: &str,
    server: &str,
    heartbeat: &Heartbeat,
    silent_after: Duration,
) -> NewEvent {
    let who = heartbeat.claimant.as_deref().unwrap_or("its agent");
    NewEvent {
        kind: EventKind::AgentSilent,
        severity: Severity::Error,
        cluster: cluster.to_owned(),
        server: Some(server.to_owned()),
        backup: None,
        subject: None,
        message: format!(
            "the agent of `{server}` ({who}) was last heard {} ago (more than `agent-silent-after` = {}): jobs on `{server}` (backups, reseeds, log collection) wait until it runs; on its host: `systemctl status ferryman-agent@{server}` and its log",
            crate::fleet::ago(seconds(heartbeat.age_s)),
            crate::fleet::ago(seconds(silent_after.as_secs())),
        ),
    }
}

fn back_event(cluster: &str, server: &str, heartbeat: &Heartbeat) -> NewEvent {
    NewEvent {
        kind: EventKind::AgentBack,
        severity: Severity::Info,
        cluster: cluster.to_owned(),
        server: Some(server.to_owned()),
        backup: None,
        subject: None,
        message: format!(
            "the agent of `{server}` ({}) is heard again",
            heartbeat.claimant.as_deref().unwrap_or("its agent")
        ),
    }
}

fn seconds(s: u64) -> i64 {
    i64::try_from(s).unwrap_or(i64::MAX)
}
