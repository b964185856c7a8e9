//! Reloading the configuration: schedules and notification routes follow it, other changes are
//! reported as waiting for a restart.

use std::time::Duration;

use ferryman_config::Config;
use ferryman_manager::reload;
use ferryman_sandbox::testing::TestSandbox;

use crate::common::*;
use crate::notify::{until, Hook};

/// The jobs the scheduler started.
fn scheduled(services: &ferryman_manager::Services) -> usize {
    services
        .registry
        .list()
        .iter()
        .filter(|j| j.trigger == "schedule")
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reload_starts_and_stops_schedules_and_routes_events_to_new_channels() {
    let sb = TestSandbox::start(0).await;
    // No agent: a backup is never claimed and fails after the claim timeout.
    let claim = "job-claim-timeout = \"5s\"\n";
    let first = config_with(&sb, "", claim);
    let running = start(&first, &[]).await;
    let services = running.services.clone();
    let (hook, port) = Hook::start(0).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(scheduled(&services), 0);

    // A schedule every 2 s, a webhook route, and a manager key that needs a restart.
    let path = config_with(
        &sb,
        "monitoring-scheduler = true\n\
         scheduler-db-servers-logical-backup = true\n\
         scheduler-db-servers-logical-backup-cron = \"*/2 * * * * *\"\n",
        &format!("{claim}history-retention = \"30d\"\n"),
    );
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(&format!(
        "\n[notifications.webhook.hook]\nurl = \"http://127.0.0.1:{port}/hook\"\n\n\
         [[notifications.route]]\nchannel = \"hook\"\nmin-severity = \"info\"\n\
         kinds = [\"config-reloaded\", \"backup-failed\"]\n"
    ));
    std::fs::write(&path, text).unwrap();
    let done = reload::apply(&services, Config::load(&path).unwrap());
    assert_eq!(
        done.applied,
        ["clusters.sandbox schedules", "notifications"],
        "{done:?}"
    );
    assert_eq!(done.needs_restart, ["manager"], "{done:?}");
    assert_eq!(
        services.config.manager.history_retention,
        Duration::from_secs(90 * 86400),
        "a key that needs a restart keeps its running value"
    );

    // The reload is told on the new route, then a scheduled backup's failure.
    until(
        "a scheduled backup's failure on the webhook",
        Duration::from_secs(60),
        || {
            let kinds: Vec<String> = hook
                .delivered()
                .iter()
                .map(|(_, b)| b["event"]["kind"].as_str().unwrap().to_owned())
                .collect();
            kinds.first().map(String::as_str) == Some("config-reloaded")
                && kinds.iter().any(|k| k == "backup-failed")
        },
    )
    .await;
    let told = hook.delivered()[0].1["event"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        told.contains("applied: clusters.sandbox schedules, notifications"),
        "{told}"
    );
    assert!(
        told.contains("until the manager restarts: manager"),
        "{told}"
    );
    assert!(scheduled(&services) >= 1);

    // Back to the first file: the schedule stops, the route is gone.
    let path = config_with(&sb, "", claim);
    let done = reload::apply(&services, Config::load(&path).unwrap());
    assert_eq!(
        done.applied,
        ["clusters.sandbox schedules", "notifications"]
    );
    assert!(done.needs_restart.is_empty(), "{done:?}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = scheduled(&services);
    let delivered = hook.delivered().len();
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(
        scheduled(&services),
        after,
        "a schedule ran after its reload removed it"
    );
    assert_eq!(
        hook.delivered().len(),
        delivered,
        "a removed route still delivered: {:#?}",
        hook.delivered()
    );
    running.stop().await;
}
