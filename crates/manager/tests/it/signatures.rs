//! Manifest signatures through the manager: a backup's manifest is signed with the key the
//! manager created at its first start (its public half beside it and in the repository), and
//! once its GTID is changed by hand, verification and reseed refuse the backup, naming the
//! key, and leave the joiner as it was.

use std::time::Duration;

use ferryman_manager::reseed::ReseedRequest;
use ferryman_manager::verification::{self, Target};
use ferryman_manager::JobState;
use ferryman_proto::{Method, Task};
use ferryman_repo::{PublicKey, Signer};
use ferryman_sandbox::testing::TestSandbox;

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_manifest_changed_by_hand_is_refused_by_verify_and_reseed() {
    let sb = TestSandbox::start(1).await;
    let config = config_with(&sb, "", "");
    let datadir = ferryman_config::Config::load(&config)
        .unwrap()
        .manager
        .monitoring_datadir;
    let running = start(&config, &["db2"]).await;
    let services = running.services.clone();

    // The key: 0600, its public half beside it and published in the repository.
    let key_file = datadir.join("manifest-signing.key");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&key_file).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    let key = Signer::parse(&std::fs::read_to_string(&key_file).unwrap(), "k")
        .unwrap()
        .public();
    let public = PublicKey::from_file(&datadir.join("manifest-signing.pub")).unwrap();
    assert_eq!(public, key);
    let published = datadir.join(format!("Keys/{}.pub", key.name().replace(':', "-")));
    assert_eq!(PublicKey::from_file(&published).unwrap(), key);

    let job = run_job(
        &services,
        "db2",
        Task::Mariabackup,
        Duration::from_secs(180),
    )
    .await;
    assert_eq!(job.state, JobState::Succeeded, "{job:?}");
    let id: ferryman_repo::BackupId = job.backup_id.clone().unwrap().parse().unwrap();
    let manifest = services.repos.get(&id).await.unwrap();
    assert_eq!(manifest.signature.unwrap().public_key, key.hex());

    // The GTID moved by hand, as someone who wants a replica to skip transactions would.
    let path = datadir.join(id.manifest_key().as_str());
    let mut value: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    value["gtid"] = "0-1-999999".into();
    std::fs::write(&path, serde_json::to_vec_pretty(&value).unwrap()).unwrap();

    let refused = |e: String| {
        assert!(
            e.contains("cannot be trusted")
                && e.contains(&key.name())
                && e.contains("changed after it was written"),
            "{e}"
        );
    };
    let e = verification::start(&services, Target::Backup(id.clone()), "test")
        .await
        .unwrap_err();
    refused(e.to_string());

    let slave_pos = || async {
        let rows = sb.sql("db2", "SELECT @@gtid_slave_pos").await;
        rows[0].get::<String, _>(0).unwrap()
    };
    // Told once, however often the backup is asked for.
    verification::start(&services, Target::Backup(id.clone()), "test")
        .await
        .unwrap_err();
    let told: Vec<_> = services
        .events
        .since(0)
        .into_iter()
        .filter(|e| e.kind == ferryman_manager::events::EventKind::ManifestUntrusted)
        .collect();
    assert_eq!(told.len(), 1, "{told:#?}");
    assert_eq!(told[0].backup.as_deref(), Some(id.to_string().as_str()));
    assert!(
        told[0].message.contains("changed after it was written"),
        "{told:#?}"
    );

    let before = slave_pos().await;
    let e = services
        .start_reseed(
            "sandbox",
            ReseedRequest {
                servers: vec!["db2".into()],
                method: Method::Physicalbackup,
                backup: Some(id.clone()),
                force: true,
                to: None,
            },
            "test",
        )
        .await
        .unwrap_err();
    refused(e.to_string());
    // Nothing was done to the joiner.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(slave_pos().await, before);
    assert!(services
        .registry
        .list()
        .iter()
        .all(|j| j.task != Task::Reseedmariabackup));
    running.stop().await;
}
