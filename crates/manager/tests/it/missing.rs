//! The scheduler's backups never arrive: `backup-missing` is raised, once per missed
//! occurrence, and stops once good backups arrive.

use std::time::{Duration, Instant};

use ferryman_manager::events::EventKind;
use ferryman_sandbox::testing::TestSandbox;

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_scheduled_backup_that_never_arrives_raises_backup_missing() {
    let sb = TestSandbox::start(1).await;
    let config = config_with(
        &sb,
        "monitoring-scheduler = true\n\
         scheduler-db-servers-logical-backup = true\n\
         scheduler-db-servers-logical-backup-cron = \"*/5 * * * * *\"\n\
         db-servers-backup-hosts = [\"db2\"]\n\
         backup-missing-grace = \"10s\"\n",
        "job-claim-timeout = \"5s\"\n",
    );
    // db2, the backup source, has no agent: no scheduled backup is ever claimed.
    let mut running = start(&config, &["db1"]).await;
    let services = running.services.clone();
    let missing = || {
        services
            .events
            .since(0)
            .into_iter()
            .filter(|e| e.kind == EventKind::BackupMissing)
            .collect::<Vec<_>>()
    };
    let started = Instant::now();
    while missing().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no backup-missing after 60 s: {:#?}",
            services.events.since(0)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let first = &missing()[0];
    assert_eq!(first.subject.as_deref(), Some("logical"));
    assert!(first.message.contains("*/5 * * * * *"), "{}", first.message);
    assert!(
        services
            .events
            .since(0)
            .iter()
            .any(|e| e.kind == EventKind::BackupFailed),
        "the unclaimed backups failed"
    );

    // Its agent back, backups arrive and the alarm stops.
    running.add_agent(&config, "db2");
    let started = Instant::now();
    loop {
        let list = services.repos.list(Some("sandbox"), None).await.unwrap();
        if !list.is_empty() {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "no backup");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let count = missing().len();
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert_eq!(missing().len(), count, "{:#?}", missing());
    running.stop().await;
}
