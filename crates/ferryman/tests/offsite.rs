//! The whole product with a cluster's backups in S3 (a real radosgw started by the test): a
//! physical and a logical backup streamed straight into the bucket (nothing under the
//! manager's own `Backups/`), listed and read back, verified on throwaway servers with the
//! payload read from S3, a replica reseeded from the S3 copy, collected logs stored there, and
//! a backup deleted from the bucket. Then copies (3-2-1): backups stored locally and copied to
//! the bucket by the copier, each copy checked, and the local copy lost: the reseed and the
//! verification read the bucket's copy and say so. Last, a restic repository as the archive
//! tier: copies go in as snapshots, a reseed reads them back, `repo check` runs `restic check`
//! under its own, and a wrong password is named. The bucket is encrypted (age) in both: the
//! first stores its backups encrypted, the second re-encrypts the copies of plain local
//! backups; every read decrypts, and `repo check` without the key checks them at rest.
#![allow(clippy::unwrap_used, clippy::print_stderr)] // test code: panics and stderr are the report

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use age::secrecy::ExposeSecret;
use age::x25519::Identity;
use ferryman_config::{
    Config, EncryptionConfig, RepositoryConfig, RepositoryKind, ResticConfig, RetentionOverrides,
    S3Config, Secret,
};
use ferryman_manager::copies;
use ferryman_manager::reseed::{Method, ReseedRequest};
use ferryman_manager::verification::VerifyRun;
use ferryman_manager::verification::{self, Target};
use ferryman_manager::{JobRecord, JobState, Services};
use ferryman_proto::Task;
use ferryman_repo::{BackupId, Kind, Manifest};
use ferryman_sandbox::testing::{TestS3, TestSandbox};
use ferryman_sandbox::UpOptions;
use tokio_util::sync::CancellationToken;

mod daemons;
use daemons::{caught_up, wait_job, Daemons};

const BIN: &str = env!("CARGO_BIN_EXE_ferryman");

/// `config` with its cluster's backups stored in `repositories` (`local`, and `offsite`:
/// `s3`'s bucket, under a prefix, encrypted for `key`).
fn with_repositories(
    mut config: Config,
    s3: &TestS3,
    repositories: &[&str],
    key: &Identity,
) -> Config {
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
            // Short, so that the outage below fails the backup quickly.
            retry_timeout: Duration::from_secs(8),
        }),
        retention: RetentionOverrides::default(),
        encryption: Some(EncryptionConfig {
            recipients: vec![key.to_public().to_string()],
            identity: Some(Secret::new(key.to_string().expose_secret().to_owned())),
            identity_source: Some("file offsite.key".to_owned()),
        }),
    };
    config.repositories.insert("offsite".to_owned(), repository);
    for cluster in &mut config.clusters {
        cluster.backup_repositories = repositories.iter().map(|r| r.to_string()).collect();
    }
    config
}

/// A primary and a replica with 40000 rows of incompressible data (a payload of several
/// parts) in `shop.orders`.
async fn shop() -> TestSandbox {
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
    sb
}

/// Waits until the copier has copied backup `id` to the bucket; returns its manifest.
async fn wait_copied(services: &Arc<Services>, id: &BackupId, s3: &TestS3) -> Manifest {
    wait_copied_to(services, id, &format!("s3://{}/fleet", s3.bucket)).await
}

/// Waits until the copier has copied backup `id` to the second repository, at `location`;
/// returns its manifest.
async fn wait_copied_to(services: &Arc<Services>, id: &BackupId, location: &str) -> Manifest {
    let manifest = services.repos.get(id).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let copies = services.repos.copies(&manifest).await;
        let states: Vec<String> = copies.iter().map(|c| c.check.to_string()).collect();
        if states == ["ok", "ok"] {
            assert_eq!(copies[1].location, location);
            return manifest;
        }
        assert!(
            Instant::now() < deadline,
            "no copy in the bucket: {copies:#?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Verifies `target` and waits for the run; returns it.
async fn verified(services: &Arc<Services>, target: Target) -> VerifyRun {
    let run = verification::start(services, target, "test").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let now = services.verify_runs.get(run.id).unwrap();
        if now.ended_at.is_some() {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "verification still runs: {now:#?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Reseeds `server` of the sandbox by `method`; the job and the notes the request answered.
async fn reseed(
    services: &Arc<Services>,
    server: &str,
    method: Method,
) -> (JobRecord, Vec<String>) {
    let (ids, notes) = services
        .start_reseed_noted(
            "sandbox",
            ReseedRequest {
                servers: vec![server.into()],
                method,
                backup: None,
                force: false,
                to: None,
            },
            "test",
        )
        .await
        .unwrap();
    (wait_job(services, ids[0]).await, notes)
}

/// `ferryman config check --probe-repositories`: the bucket answers; a missing bucket and a
/// wrong secret are errors that say what to fix, and the exit status is 1.
/// The sandbox's configuration file with `[repositories.NAME]` tables for `repositories`
/// (name, bucket, secret key), each with the lines `more`, written as `file` in the
/// sandbox's directory.
fn config_file(
    sb: &TestSandbox,
    s3: &TestS3,
    file: &str,
    repositories: &[(&str, &str, &str)],
    more: &str,
) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = sb.path();
    let mut text = std::fs::read_to_string(dir.join("ferryman.toml")).unwrap();
    for (name, bucket, secret) in repositories {
        let secret_file = dir.join(format!("{name}.secret"));
        std::fs::write(&secret_file, secret).unwrap();
        std::fs::set_permissions(&secret_file, std::fs::Permissions::from_mode(0o600)).unwrap();
        text.push_str(&format!(
            "\n[repositories.{name}]\nkind = \"s3\"\nendpoint = \"{}\"\nbucket = \"{bucket}\"\n\
             prefix = \"fleet\"\nregion = \"{}\"\naccess-key-id = \"{}\"\n\
             secret-access-key-file = \"{}\"\n{more}\n",
            s3.endpoint,
            s3.region,
            s3.access_key,
            secret_file.display()
        ));
    }
    let path = dir.join(file);
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs the binary under test; its exit code, stdout and stderr (echoed for the test's log).
async fn ferryman(args: &[&str]) -> (Option<i32>, String, String) {
    #[allow(clippy::disallowed_methods)] // running the binary under test
    let out = tokio::process::Command::new(BIN)
        .args(args)
        .output()
        .await
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    eprintln!("$ ferryman {}\n{stdout}{stderr}", args.join(" "));
    (out.status.code(), stdout, stderr)
}

/// `ferryman config check --probe-repositories`: the bucket answers; a missing bucket and a
/// wrong secret are errors that say what to fix, and the exit status is 1.
async fn config_check_probes_repositories(sb: &TestSandbox, s3: &TestS3) {
    let file = config_file(
        sb,
        s3,
        "probed.toml",
        &[
            ("good", &s3.bucket, &s3.secret_key),
            ("nobucket", "no-such-bucket", &s3.secret_key),
            ("wrongkey", &s3.bucket, "not-the-secret"),
        ],
        "",
    );
    let file = file.display().to_string();
    let (code, stdout, stderr) =
        ferryman(&["config", "check", "--probe-repositories", &file]).await;
    assert_eq!(code, Some(1));
    assert!(
        stdout.contains(&format!("repository good (s3://{}/fleet): ok", s3.bucket)),
        "{stdout}"
    );
    assert!(stdout.contains("repository local ("), "{stdout}");
    assert!(
        stderr.contains("repository nobucket (s3://no-such-bucket/fleet)")
            && stderr.contains("the bucket does not exist"),
        "{stderr}"
    );
    assert!(
        stderr.contains("repository wrongkey") && stderr.contains("refused the credentials"),
        "{stderr}"
    );
    assert!(!stderr.contains(&s3.secret_key) && !stdout.contains(&s3.secret_key));
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
    let sb = shop().await;
    config_check_probes_repositories(&sb, &s3).await;
    let key = Identity::generate();
    let config = with_repositories(sb.config(), &s3, &["offsite"], &key);
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
    let encryption = manifest.encryption.as_ref().unwrap();
    assert_eq!(encryption.recipients, [key.to_public().to_string()]);
    assert_eq!(manifest.payload, "payload.xbstream.zst.age");
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
                to: None,
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
    assert!(logs[0].key.as_str().ends_with(".log.zst.age"), "{logs:?}");

    // Deleting a backup deletes it from the bucket.
    repo.delete(&logical).await.unwrap();
    let listed = services.repos.list(Some("sandbox"), None).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, physical);

    // S3 down for longer than retry-timeout: the backup fails with the storage's reason,
    // nothing is kept, and no upload is left open once S3 is back.
    s3.stop_gateway().await;
    let id = services
        .start_backup("sandbox", None, Task::Mariabackup, "test")
        .await
        .unwrap();
    let job = wait_job(&services, id).await;
    s3.start_gateway().await;
    assert_eq!(job.state, JobState::Failed, "{job:#?}");
    let reason = job.error.clone().unwrap_or_default();
    assert!(
        reason.contains(&format!("s3://{}/fleet", s3.bucket))
            && reason.contains("check that the S3 endpoint is reachable"),
        "{job:#?}"
    );
    d.expect_error("check that the S3 endpoint is reachable");
    let listed = services.repos.list(Some("sandbox"), None).await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:#?}");
    assert!(s3.open_uploads(&s3.bucket).await.is_empty());
    let server_dirs = repo
        .storage()
        .list(Some(&ferryman_repo::Key::new("Backups/sandbox").unwrap()))
        .await
        .unwrap();
    for dir in server_dirs {
        let key = ferryman_repo::Key::new(&format!("Backups/sandbox/{}", dir.name)).unwrap();
        let names: Vec<String> = repo
            .storage()
            .list(Some(&key))
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert!(
            names.iter().all(|n| *n == physical.name()),
            "left in {key}: {names:?}"
        );
    }

    d.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn copies_in_s3_serve_when_the_local_copy_is_lost() {
    let s3 = TestS3::start("copies").await;
    let sb = shop().await;
    let key = Identity::generate();
    let mut config = with_repositories(sb.config(), &s3, &["local", "offsite"], &key);
    // The bucket keeps only the newest backup of each source; the manager's disk keeps ten.
    let offsite = config.repositories.get_mut("offsite").unwrap();
    offsite.retention = RetentionOverrides {
        keep_last: Some(0),
        keep_hourly: Some(0),
        keep_daily: Some(0),
        keep_weekly: Some(0),
        keep_monthly: Some(0),
        keep_yearly: Some(0),
    };
    let datadir = config.manager.monitoring_datadir.clone();
    let d = Daemons::start(config, &["db1", "db2"]).await;
    let services = Arc::clone(&d.services);

    // Stored locally, then copied to the bucket by the copier; the bucket's own retention
    // drops the older copy once the newer one is there.
    let older = d.backup(Task::Mariabackup).await;
    wait_copied(&services, &older, &s3).await;
    let id = d.backup(Task::Mariabackup).await;
    let manifest = wait_copied(&services, &id, &s3).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let bucket = services.repos.named("offsite").unwrap();
    // The local copy is plain, the bucket's re-encrypted for the bucket's key.
    assert!(manifest.encryption.is_none());
    let in_bucket = bucket.get(&id).await.unwrap();
    assert_eq!(in_bucket.payload, "payload.xbstream.zst.age");
    assert_eq!(in_bucket.raw_sha256, manifest.raw_sha256);
    assert_ne!(in_bucket.stored_sha256, manifest.stored_sha256);
    while bucket.list(None, None).await.unwrap().len() > 1 {
        assert!(
            Instant::now() < deadline,
            "the older copy stays in the bucket"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let listed = services
        .repos
        .list_located(Some("sandbox"), None)
        .await
        .unwrap();
    let where_: Vec<(String, Vec<String>)> = listed
        .iter()
        .map(|l| (l.manifest.id.to_string(), l.repositories.clone()))
        .collect();
    assert_eq!(
        where_,
        [
            (
                id.to_string(),
                vec!["local".to_owned(), "offsite".to_owned()]
            ),
            (older.to_string(), vec!["local".to_owned()]),
        ]
    );
    // Another pass copies nothing: the bucket's retention would not keep the older backup.
    let cluster = services.config.cluster("sandbox").unwrap().clone();
    let report = copies::sync(&services, &cluster, &CancellationToken::new())
        .await
        .unwrap();
    assert!(
        report.copied.is_empty() && report.failed.is_empty(),
        "{report:?}"
    );

    // The local copy's payload is lost.
    let payload = datadir.join(id.payload_key(manifest.format).as_str());
    std::fs::remove_file(&payload).unwrap();
    let copies = services.repos.copies(&manifest).await;
    assert!(
        copies[0]
            .check
            .to_string()
            .starts_with("damaged: its payload"),
        "{copies:#?}"
    );

    // The reseed reads the bucket's copy, and says so.
    sb.sql(
        "db2",
        "SET sql_log_bin = 0; UPDATE shop.orders SET v = 'stray' WHERE id = 9",
    )
    .await;
    let (job, notes) = reseed(&services, "db2", Method::Physicalbackup).await;
    assert_eq!(job.state, JobState::Succeeded, "{job:#?}");
    assert!(
        notes
            .iter()
            .any(|n| n.contains("is read from repository `offsite`")
                && n.contains("the copy in `local` is damaged")),
        "{notes:?}"
    );
    caught_up(&sb, "db2").await;
    assert_eq!(checksums(&sb, "db2").await, checksums(&sb, "db1").await);

    // So does the verification, whose result reaches both manifests.
    let run = verified(&services, Target::Backup(id.clone())).await;
    assert_eq!(run.ok, Some(true), "{run:#?}");
    for (_, repo) in ["local", "offsite"]
        .iter()
        .map(|name| (name, services.repos.named(name).unwrap()))
    {
        assert_eq!(repo.get(&id).await.unwrap().verification.len(), 1);
    }

    // `repo check`, without the manager's help: the local copy is named damaged, a leftover
    // of an interrupted backup is listed, the bucket's copy reads back whole.
    let leftover = datadir.join("Backups/sandbox/db1/20261201T000000Z-j999");
    std::fs::create_dir_all(&leftover).unwrap();
    std::fs::write(leftover.join("payload.xbstream.zst.partial"), b"half").unwrap();
    let key_file = sb.path().join("offsite.key");
    std::fs::write(&key_file, key.to_string().expose_secret()).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let file = config_file(
        &sb,
        &s3,
        "checked.toml",
        &[("offsite", &s3.bucket, &s3.secret_key)],
        &format!("age-identity-file = \"{}\"", key_file.display()),
    );
    let file = file.display().to_string();
    // Without the identity (a write-only configuration), the payload is checked at rest.
    let write_only = config_file(
        &sb,
        &s3,
        "write-only.toml",
        &[("offsite", &s3.bucket, &s3.secret_key)],
        &format!("age-recipients = [\"{}\"]", key.to_public()),
    );
    let (code, stdout, _) = ferryman(&[
        "repo",
        "check",
        "--config",
        &write_only.display().to_string(),
        "--repository",
        "offsite",
        "--read-data",
    ])
    .await;
    assert_eq!(code, Some(0));
    assert!(
        stdout.contains("1 payload(s) read back")
            && stdout.contains("1 of them encrypted and checked at rest only"),
        "{stdout}"
    );
    let (code, stdout, _) = ferryman(&["repo", "check", "--config", &file]).await;
    assert_eq!(code, Some(1));
    assert!(
        stdout.contains("repository local (") && stdout.contains("PROBLEMS"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "backup {id}: damaged: its payload payload.xbstream.zst is missing"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("partial (--repair removes it): Backups/sandbox/db1/20261201T000000Z-j999"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "repository offsite (s3://{}/fleet): ok: 1 backup(s)",
            s3.bucket
        )),
        "{stdout}"
    );
    let (code, stdout, _) = ferryman(&[
        "repo",
        "check",
        "--config",
        &file,
        "--repository",
        "offsite",
        "--read-data",
    ])
    .await;
    assert_eq!(code, Some(0));
    assert!(stdout.contains("1 payload(s) read back"), "{stdout}");
    let (code, stdout, _) = ferryman(&[
        "repo",
        "check",
        "--config",
        &file,
        "--repository",
        "offsite",
        "--read-data-subset",
        "1/1",
    ])
    .await;
    assert_eq!(code, Some(0));
    assert!(stdout.contains("1 payload(s) read back"), "{stdout}");
    let (code, _, stderr) = ferryman(&[
        "repo",
        "check",
        "--config",
        &file,
        "--read-data-subset",
        "4/3",
    ])
    .await;
    assert_eq!(code, Some(2));
    assert!(stderr.contains("write N/M with 1 <= N <= M"), "{stderr}");
    // --repair waits until no manager can be writing.
    let (code, _, stderr) = ferryman(&["repo", "check", "--config", &file, "--repair"]).await;
    assert_eq!(code, Some(1));
    assert!(stderr.contains("a manager listens"), "{stderr}");
    d.stop().await;
    let (_, stdout, _) = ferryman(&[
        "repo",
        "check",
        "--config",
        &file,
        "--repository",
        "local",
        "--repair",
    ])
    .await;
    assert!(
        stdout.contains("removed: Backups/sandbox/db1/20261201T000000Z-j999"),
        "{stdout}"
    );
    assert!(!leftover.exists());

    // A manifest without its signature (as a copy made by hand, or an older Ferryman, leaves
    // it) is refused until `repo sign` signs it, with the manager stopped.
    let manifest_path = datadir.join(id.manifest_key().as_str());
    let mut value: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    value.as_object_mut().unwrap().remove("signature");
    std::fs::write(&manifest_path, serde_json::to_vec_pretty(&value).unwrap()).unwrap();
    let local_check = ["repo", "check", "--config", &file, "--repository", "local"];
    let (_, stdout, _) = ferryman(&local_check).await;
    assert!(
        stdout.contains("cannot be trusted: it is not signed") && stdout.contains("repo sign"),
        "{stdout}"
    );
    let (code, stdout, _) =
        ferryman(&["repo", "sign", "--config", &file, "--repository", "local"]).await;
    assert_eq!(code, Some(0));
    assert!(
        stdout.contains("1 manifest(s) signed, ") && stdout.contains(", 0 left as they are"),
        "{stdout}"
    );
    let (_, stdout, _) = ferryman(&local_check).await;
    assert!(!stdout.contains("cannot be trusted"), "{stdout}");

    // The manager is gone and so is its disk: the backups are listed and shown from the
    // bucket, read straight from the configuration, their manifests checked with the
    // manager's public key alone (kept apart, as the README says).
    let public_key = sb.path().join("manager.pub");
    std::fs::copy(datadir.join("manifest-signing.pub"), &public_key).unwrap();
    std::fs::remove_dir_all(&datadir).unwrap();
    let trusting = |name: &str, key: &std::path::Path| {
        let text = std::fs::read_to_string(&file).unwrap().replacen(
            "[manager]\n",
            &format!(
                "[manager]\ntrusted-signing-keys = [\"{}\"]\n",
                key.display()
            ),
            1,
        );
        let path = sb.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let other_key = sb.path().join("other.pub");
    std::fs::write(
        &other_key,
        ferryman_repo::Signer::generate().public().to_file_text(),
    )
    .unwrap();
    let (code, _, stderr) = ferryman(&[
        "backup",
        "show",
        "--config",
        &trusting("other.toml", &other_key),
        &id.to_string(),
    ])
    .await;
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("cannot be trusted") && stderr.contains("not trusted here"),
        "{stderr}"
    );
    let file = trusting("dr.toml", &public_key);
    let (code, stdout, stderr) = ferryman(&["backup", "list", "--config", &file]).await;
    assert_eq!(code, Some(0));
    assert!(stderr.contains("no manager listens"), "{stderr}");
    assert!(stderr.contains("does not exist; left out"), "{stderr}");
    assert!(!stderr.contains("signatures are not checked"), "{stderr}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with(&id.to_string()))
        .unwrap_or_else(|| panic!("{id} not listed: {stdout}"));
    assert!(line.trim_end().ends_with("offsite"), "{line}");
    let (code, stdout, _) = ferryman(&[
        "backup",
        "show",
        "--config",
        &file,
        &id.to_string(),
        "--json",
    ])
    .await;
    assert_eq!(code, Some(0));
    let shown: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(shown["id"], id.to_string());
    assert_eq!(shown["copies"][0]["repository"], "offsite");
    assert_eq!(shown["copies"][0]["state"], "ok");
    assert_eq!(
        shown["encryption"]["recipients"][0],
        key.to_public().to_string()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restic_archive_receives_copies_and_serves_a_reseed() {
    use std::os::unix::fs::PermissionsExt;
    let sb = shop().await;
    let archive = sb.path().join("archive");
    let restic = ferryman_exec::Program::find("restic", "restic").unwrap();
    restic
        .command()
        .env("RESTIC_REPOSITORY", &archive)
        .secret_env("RESTIC_PASSWORD", "correct horse")
        .args(["init", "--quiet"])
        .run()
        .await
        .unwrap();
    let mut config = sb.config();
    config.repositories.insert(
        "archive".to_owned(),
        RepositoryConfig {
            name: "archive".to_owned(),
            kind: RepositoryKind::Restic(ResticConfig {
                repository: archive.display().to_string(),
                password: Some(Secret::new("correct horse".to_owned())),
            }),
            retention: RetentionOverrides::default(),
            encryption: None,
        },
    );
    for cluster in &mut config.clusters {
        cluster.backup_repositories = vec!["local".to_owned(), "archive".to_owned()];
    }
    let datadir = config.manager.monitoring_datadir.clone();
    let d = Daemons::start(config, &["db1", "db2"]).await;
    let services = Arc::clone(&d.services);
    let location = format!("restic:{}", archive.display());

    // Stored locally, then copied into restic as snapshots of the same layout.
    let id = d.backup(Task::Mariabackup).await;
    let manifest = wait_copied_to(&services, &id, &location).await;
    let out = restic
        .command()
        .env("RESTIC_REPOSITORY", &archive)
        .secret_env("RESTIC_PASSWORD", "correct horse")
        .args(["snapshots", "--json", "--tag", "ferryman"])
        .run()
        .await
        .unwrap();
    let payload_path = format!("/{}", id.payload_key(manifest.format));
    assert!(out.stdout.contains(&payload_path), "{}", out.stdout);

    // The local payload is lost: the reseed reads the archive's copy, and says so.
    std::fs::remove_file(datadir.join(id.payload_key(manifest.format).as_str())).unwrap();
    sb.sql(
        "db2",
        "SET sql_log_bin = 0; UPDATE shop.orders SET v = 'stray' WHERE id = 11",
    )
    .await;
    let (job, notes) = reseed(&services, "db2", Method::Physicalbackup).await;
    assert_eq!(job.state, JobState::Succeeded, "{job:#?}");
    assert!(
        notes
            .iter()
            .any(|n| n.contains("is read from repository `archive`")),
        "{notes:?}"
    );
    caught_up(&sb, "db2").await;
    assert_eq!(checksums(&sb, "db2").await, checksums(&sb, "db1").await);

    // `repo check` on the archive: ours, then restic's own check reading the data back.
    let write_config = |file: &str, password: &str| {
        let secret = sb.path().join(format!("{file}.pw"));
        std::fs::write(&secret, password).unwrap();
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
        let mut text = std::fs::read_to_string(sb.path().join("ferryman.toml")).unwrap();
        text.push_str(&format!(
            "\n[repositories.archive]\nkind = \"restic\"\nrepository = \"{}\"\n\
             password-file = \"{}\"\n",
            archive.display(),
            secret.display()
        ));
        let path = sb.path().join(file);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let file = write_config("archive.toml", "correct horse");
    let (code, stdout, _) = ferryman(&[
        "repo",
        "check",
        "--config",
        &file,
        "--repository",
        "archive",
        "--read-data",
    ])
    .await;
    assert_eq!(code, Some(0), "{stdout}");
    assert!(
        stdout.contains("1 payload(s) read back")
            && stdout.contains("restic check: ok: no errors were found"),
        "{stdout}"
    );
    let file = write_config("wrong.toml", "battery staple");
    let (code, stdout, stderr) = ferryman(&[
        "repo",
        "check",
        "--config",
        &file,
        "--repository",
        "archive",
    ])
    .await;
    assert_ne!(code, Some(0), "{stdout}");
    assert!(
        stderr.contains("does not open this restic repository") && !stderr.contains("battery"),
        "{stderr}"
    );
    d.stop().await;
}
