//! Agent heartbeats: a running agent is heard, a stopped one is called silent once its row is
//! stale, and heard again when it comes back; a server whose agent never ran is not silent.

use std::time::Duration;

use ferryman_manager::agents;
use ferryman_manager::events::EventKind;
use ferryman_sandbox::testing::TestSandbox;

use crate::common::*;
use crate::notify::until;

#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_agent_is_silent_and_heard_again_when_it_runs() {
    let sb = TestSandbox::start(1).await;
    let config = config_with(&sb, "", "agent-silent-after = \"30s\"\n");
    let mut running = start(&config, &["db1"]).await;
    let services = running.services.clone();
    until("db1's first heartbeat", Duration::from_secs(30), || {
        services.agents.get("sandbox", "db1").is_some()
    })
    .await;
    agents::read_all(&services).await;
    let seen = services.agents.get("sandbox", "db1").unwrap();
    assert!(!seen.silent, "{seen:?}");
    assert!(seen.heartbeat.age_s < 30, "{seen:?}");
    assert!(
        seen.heartbeat
            .claimant
            .as_deref()
            .unwrap()
            .starts_with("ferryman-agent@"),
        "{seen:?}"
    );
    assert_eq!(
        seen.heartbeat.version.as_deref(),
        Some(env!("CARGO_PKG_VERSION"))
    );
    // db2 never had an agent: no row, never silent.
    assert!(services.agents.get("sandbox", "db2").is_none());
    let metrics = ferryman_manager::metrics::render(&services).await.unwrap();
    assert!(
        metrics
            .contains("ferryman_agent_heartbeat_age_seconds{cluster=\"sandbox\",server=\"db1\"}"),
        "{metrics}"
    );
    let status = ferryman_manager::fleet::status(&services).await;
    let db1 = &status.clusters[0].servers[0];
    assert!(
        db1.agent_seen_seconds.is_some() && !db1.agent_silent,
        "{db1:?}"
    );
    assert_eq!(status.clusters[0].servers[1].agent_seen_seconds, None);

    // The agent stops; its row ages (set back rather than waited for).
    let (shutdown, handle) = running.agents.remove(0);
    shutdown.stop.cancel();
    handle.await.unwrap();
    sb.sql(
        "db1",
        "SET SESSION sql_log_bin = 0; UPDATE replication_manager_schema.ferryman_agents \
         SET seen = NOW() - INTERVAL 5 MINUTE WHERE server = 'db1'",
    )
    .await;
    agents::read_all(&services).await;
    agents::read_all(&services).await;
    let silent: Vec<_> = services
        .events
        .since(0)
        .into_iter()
        .filter(|e| e.kind == EventKind::AgentSilent)
        .collect();
    assert_eq!(silent.len(), 1, "said once: {silent:#?}");
    assert_eq!(silent[0].server.as_deref(), Some("db1"));
    assert!(
        silent[0].message.contains("was last heard 5m ago")
            && silent[0]
                .message
                .contains("systemctl status ferryman-agent@db1"),
        "{}",
        silent[0].message
    );
    let status = ferryman_manager::fleet::status(&services).await;
    assert!(status.clusters[0].servers[0].agent_silent);

    // It runs again: heard at its first beat.
    running.add_agent(&config, "db1");
    until("agent-back", Duration::from_secs(30), || {
        services
            .events
            .since(0)
            .iter()
            .any(|e| e.kind == EventKind::AgentBack)
    })
    .await;
    assert!(!services.agents.get("sandbox", "db1").unwrap().silent);
    running.stop().await;
}
