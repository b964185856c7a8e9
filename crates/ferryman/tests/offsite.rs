//! The whole product with a cluster's backups in S3 (a real radosgw started by the test): a
//! physical and a logical backup streamed straight into the bucket (nothing under the
//! manager's own `Backups/`), listed and read back, verified on throwaway servers with the
//! payload read from S3, a replica reseeded from the S3 copy, collected logs stored there, and
//! retention deleting from the bucket.
#![allow(clippy::unwrap_used, clippy::print_stderr)] // test code: panics and stderr are the report

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferryman_config::{Config, RepositoryConfig, RepositoryKind, S3Config, Secret};
use ferryman_manager::reseed::{Method, ReseedRequest};
use ferryman_manager::verification::{self, Target};
use ferryman_manager::JobState;
use ferryman_proto::Task;
use ferryman_repo::Kind;
use ferryman_sandbox::testing::{TestS3, TestSandbox};
use ferryman_sandbox::UpOptions;

mod daemons;
use daemons::{caught_up, wait_job, Daemons};

const BIN: &str = env!("CARGO_BIN_EXE_ferryman");

/// `config` with its cluster's backups stored in `s3`'s bucket, under a prefix.
fn on_s3(mut config: Config, s3: &TestS3) -> Config {
    let repository = RepositoryConfig {
        name: "offsite".to_owned(),
        kind: RepositoryKind::S3(S3Config {
            endpoint: Some(s3.endpoint.clone()),
            bucket: s3.bucket.clone(),
            prefix: Some("fleet".to_owned()),
            region: s3.region.clone(),
            path_style: true,
            access_key_id: Some(s3.access_key.clone()),
            secret_access_key: Some(Secret::new(s3.secret_key.clone())),
            part_size_mib: 5,
            request_timeout: Duration::from_secs(30),
            retry_timeout: Duration::from_secs(60),
        }),
    };
    config.repositories.insert("offsite".to_owned(), repository);
    for cluster in &mut config.clusters {
        cluster.backup_repositories = vec!["offsite".to_owned()];
    }
    config
}

async fn checksums(sb: &TestSandbox, server: &str) -> Vec<(String, Option<u64>)> {
    sb.sql(server, "CHECKSUM TABLE shop.orders")
        .await
        .into_iter()
        .map(ferryman_db::mysql_async::from_row::<(String, Option<u64>)>)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cluster_whose_backups_live_in_s3() {
    let s3 = TestS3::start("offsite").await;
    let sb = TestSandbox::start_with(&UpOptions {
        replicas: 1,
        ferryman_bin: Some(PathBuf::from(BIN)),
        auto_verify: false,
    })
    .await;
    sb.sql(
        "db1",
        "CREATE DATABASE shop;
         CREATE TABLE shop.orders (id INT PRIMARY KEY, v TEXT);
         INSERT INTO shop.orders SELECT seq, TO_BASE64(RANDOM_BYTES(200)) FROM mysql.seq_1_to_40000;",
    )
    .await;
    caught_up(&sb, "db2").await;
    let config = on_s3(sb.config(), &s3);
    let local_backups = config.manager.monitoring_datadir.join("Backups");
    let d = Daemons::start(config, &["db1", "db2"]).await;
    let services = Arc::clone(&d.services);
    let repo = services.repo("sandbox").unwrap();
    assert_eq!(repo.location(), format!("s3://{}/fleet", s3.bucket));

    // Backups go straight into the bucket.
    let physical = d.backup(Task::Mariabackup).await;
    let logical = d.backup(Task::Mysqldump).await;
    assert!(
        !local_backups.join("sandbox").exists(),
        "a backup landed on the manager's disk"
    );
    let listed = services.repos.list(Some("sandbox"), None).await.unwrap();
    let ids: Vec<_> = listed.iter().map(|m| m.id.clone()).collect();
    assert_eq!(ids, [logical.clone(), physical.clone()]);
    for id in [&physical, &logical] {
        let report = repo.verify_checksum(id).await.unwrap();
        assert!(report.stored_ok && report.raw_ok, "{report:?}");
    }
    let manifest = services.repos.get(&physical).await.unwrap();
    assert_eq!(manifest.kind, Kind::Physical);
    assert!(
        manifest.stored_bytes > 5 << 20,
        "the physical backup fits in one part: {}",
        manifest.stored_bytes
    );

    // Verification restores both on throwaway servers, reading the payload from S3.
    let run = verification::start(&services, Target::Latest("sandbox".into()), "test")
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(600);
    let run = loop {
        let now = services.verify_runs.get(run.id).unwrap();
        if now.ended_at.is_some() {
            break now;
        }
        assert!(
            Instant::now() < deadline,
            "verification still runs: {now:#?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(run.ok, Some(true), "{run:#?}");
    assert_eq!(run.items.len(), 2, "{run:#?}");

    // A diverged replica is reseeded from the physical backup in S3.
    sb.sql(
        "db2",
        "SET sql_log_bin = 0; UPDATE shop.orders SET v = 'stray' WHERE id = 7",
    )
    .await;
    assert_ne!(checksums(&sb, "db2").await, checksums(&sb, "db1").await);
    let ids = services
        .start_reseed(
            "sandbox",
            ReseedRequest {
                servers: vec!["db2".into()],
                method: Method::Physicalbackup,
                backup: Some(physical.clone()),
                force: false,
            },
            "test",
        )
        .await
        .unwrap();
    let job = wait_job(&services, ids[0]).await;
    assert_eq!(job.state, JobState::Succeeded, "{job:#?}");
    caught_up(&sb, "db2").await;
    assert_eq!(checksums(&sb, "db2").await, checksums(&sb, "db1").await);

    // Collected logs go to the same bucket.
    let id = services
        .start_task("sandbox", "db1", Task::Error, "test")
        .unwrap();
    let job = wait_job(&services, id).await;
    assert_eq!(job.state, JobState::Succeeded, "{job:#?}");
    let logs = repo.list_logs("sandbox", "db1").await.unwrap();
    assert_eq!(logs.len(), 1, "{logs:?}");

    // Deleting a backup deletes it from the bucket.
    repo.delete(&logical).await.unwrap();
    let listed = services.repos.list(Some("sandbox"), None).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, physical);

    d.stop().await;
}
