//! Scheduled physical and logical backups land with manifests that check out.

use std::time::{Duration, Instant};

use ferryman_repo::{Kind, Manifest};
use ferryman_sandbox::testing::TestSandbox;

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn scheduled_backups_land_with_correct_manifests() {
    let sb = TestSandbox::start(1).await;
    sb.sql(
        "db1",
        "CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v TEXT);
         INSERT INTO app.t SELECT seq, REPEAT('v', 100) FROM mysql.seq_1_to_5000;",
    )
    .await;
    let config = config_with(
        &sb,
        "monitoring-scheduler = true\n\
         scheduler-db-servers-physical-backup = true\n\
         scheduler-db-servers-physical-backup-cron = \"*/4 * * * * *\"\n\
         scheduler-db-servers-logical-backup = true\n\
         scheduler-db-servers-logical-backup-cron = \"*/4 * * * * *\"\n",
        "",
    );
    let running = start(&config, &["db1", "db2"]).await;
    let services = running.services.clone();

    // Wait for one good backup of each kind.
    let started = Instant::now();
    let (physical, logical) = loop {
        let list = services.repos.list(Some("sandbox"), None).await.unwrap();
        let p = list.iter().find(|m| m.kind == Kind::Physical).cloned();
        let l = list.iter().find(|m| m.kind == Kind::Logical).cloned();
        if let (Some(p), Some(l)) = (p, l) {
            break (p, l);
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "no backups after 90 s; jobs: {:#?}",
            services.registry.list()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    running.stop().await;

    for m in [&physical, &logical] {
        check(&services, m).await;
    }
    // Taken from the healthy replica, not the primary.
    assert_eq!(physical.server, "db2");
    assert_eq!(physical.tool.as_str(), "mariabackup");
    assert_eq!(logical.tool.as_str(), "mysqldump");
    assert!(
        physical.captured.contains_key("xtrabackup_info"),
        "{:?}",
        physical.captured.keys()
    );
    // The dump's rows per table, recorded at backup time, are the source's (app.t is not
    // written after the seed); a physical backup records none.
    let source = sb.sql(&logical.server, "SELECT COUNT(*) FROM app.t").await;
    let count: u64 = source[0].get(0).unwrap();
    assert_eq!(logical.table_rows.get("app.t"), Some(&count), "{logical:?}");
    assert!(logical.databases.iter().any(|d| d == "app"), "{logical:?}");
    assert!(physical.table_rows.is_empty() && physical.databases.is_empty());
}

async fn check(services: &ferryman_manager::Services, m: &Manifest) {
    // The checksum recomputed from the stored payload matches.
    let report = services
        .repo("sandbox")
        .unwrap()
        .verify_checksum(&m.id)
        .await
        .unwrap();
    assert!(report.stored_ok, "{report:?}");
    assert!(report.raw_ok, "{report:?}");
    assert!(m.stored_bytes < m.raw_bytes, "{m:?}");
    // The GTID is the one the backup tool reported (the agent's result line).
    let job = services
        .registry
        .list()
        .into_iter()
        .find(|j| j.backup_id.as_deref() == Some(&m.id.to_string()))
        .unwrap();
    let result = job.node_result.clone().unwrap();
    let reported = reported_gtid(&result).unwrap_or_else(|| panic!("no GTID in {result}"));
    assert!(!reported.is_empty(), "{result}");
    assert_eq!(
        m.gtid.as_deref(),
        Some(reported.as_str()),
        "{m:?}\n{result}"
    );
}
