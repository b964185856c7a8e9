//! Verification end to end: a manager (in this process, with its HTTP API) and one agent per
//! server of a sandbox take real backups; `ferryman verify` (the binary) verifies them on
//! throwaway servers. Good physical and logical backups pass (the physical one's rows compared
//! with the dump taken at the same GTID); a dump whose footer was cut, a payload with one
//! flipped byte, a backup of a source whose watched table was emptied and a size drop beyond
//! the threshold each fail, are named in the summary and exit 1; no throwaway server (process
//! or file) is left after any of them; the newest verified backup survives retention; the
//! fleet run backs up and verifies every cluster; the sandbox's scheduler verifies new backups
//! by itself.
#![allow(clippy::unwrap_used, clippy::print_stderr)] // test code: panics and stderr are the report

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use ferryman_proto::Task;
use ferryman_repo::{BackupId, Manifest};
use ferryman_sandbox::testing::TestSandbox;
use ferryman_sandbox::UpOptions;
use ferryman_verify::{Status, Verification};

const BIN: &str = env!("CARGO_BIN_EXE_ferryman");

mod daemons;
use daemons::{caught_up, wait_job, Daemons};

impl Daemons {
    /// `ferryman verify ARGS`, with the sandbox's configuration.
    async fn verify(&self, args: &[&str]) -> Output {
        let config = self.config.path.display().to_string();
        let mut argv = vec!["verify", "--config", &config];
        argv.extend(args);
        let out = ferryman(&argv).await;
        eprintln!(
            "$ ferryman verify {}\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn payload_dir(&self, id: &BackupId) -> PathBuf {
        self.config
            .manager
            .monitoring_datadir
            .join(id.dir().as_str())
    }

    async fn manifest(&self, id: &BackupId) -> Manifest {
        self.services.repos.get(id).await.unwrap()
    }
}

/// Runs the binary under test.
async fn ferryman(args: &[&str]) -> Output {
    #[allow(clippy::disallowed_methods)] // running the binary under test
    let mut command = tokio::process::Command::new(BIN);
    command.args(args).output().await.unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// No throwaway server is left: the work directory is empty and no process names it.
fn nothing_left(work_dir: &Path) {
    let entries: Vec<_> = std::fs::read_dir(work_dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(entries.is_empty(), "left in the work dir: {entries:?}");
    let needle = work_dir.display().to_string();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmdline = ferryman_exec::process::cmdline(pid);
        assert!(
            !cmdline.contains(&needle) || !ferryman_exec::process::is_running(pid),
            "a process still runs from the work dir: {pid} {cmdline}"
        );
    }
}

/// Rewrites a backup's raw payload with `edit` and, so that only the content is wrong, its
/// manifest's sizes and sha256 to match.
fn rewrite_payload(dir: &Path, edit: impl FnOnce(Vec<u8>) -> Vec<u8>) {
    use sha2::{Digest, Sha256};
    let payload = dir.join("payload.sql.zst");
    let mut raw = Vec::new();
    zstd::stream::read::Decoder::new(std::fs::File::open(&payload).unwrap())
        .unwrap()
        .read_to_end(&mut raw)
        .unwrap();
    let raw = edit(raw);
    let stored = zstd::stream::encode_all(&raw[..], 1).unwrap();
    std::fs::File::create(&payload)
        .unwrap()
        .write_all(&stored)
        .unwrap();
    let path = dir.join("manifest.json");
    let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    m["raw_bytes"] = raw.len().into();
    m["raw_sha256"] = hex::encode(Sha256::digest(&raw)).into();
    m["stored_bytes"] = stored.len().into();
    m["stored_sha256"] = hex::encode(Sha256::digest(&stored)).into();
    // Signed again with the manager's key, as if the damage had come before the manifest.
    let mut manifest: Manifest = serde_json::from_value(m).unwrap();
    let datadir = dir.ancestors().nth(4).unwrap();
    let key = std::fs::read_to_string(datadir.join("manifest-signing.key")).unwrap();
    ferryman_repo::Signer::parse(&key, "key")
        .unwrap()
        .sign(&mut manifest);
    std::fs::write(&path, manifest.to_json()).unwrap();
}

fn latest(m: &Manifest) -> Verification {
    Verification::latest_of(m).unwrap_or_else(|| panic!("{} has no verification", m.id))
}

#[tokio::test(flavor = "multi_thread")]
async fn good_backups_verify_and_every_kind_of_damage_is_named_with_exit_1() {
    let sb = TestSandbox::start_with(&UpOptions {
        replicas: 1,
        ferryman_bin: Some(PathBuf::from(BIN)),
        auto_verify: false,
    })
    .await;
    // A small watched table and a big one whose rows make most of the dump.
    sb.sql(
        "db1",
        "CREATE DATABASE shop;
         CREATE TABLE shop.orders (id INT PRIMARY KEY, v VARCHAR(20));
         CREATE TABLE shop.items (id INT PRIMARY KEY, v TEXT);
         INSERT INTO shop.orders SELECT seq, 'order' FROM mysql.seq_1_to_20;
         INSERT INTO shop.items SELECT seq, REPEAT('i', 300) FROM mysql.seq_1_to_30000;
         CREATE VIEW shop.big_items AS SELECT id FROM shop.items WHERE id > 5000;",
    )
    .await;
    caught_up(&sb, "db2").await;
    let mut config = sb.config();
    config.clusters[0].verify.nonempty_tables = vec![ferryman_config::TableName {
        database: "shop".into(),
        table: "orders".into(),
    }];
    let work_dir = config.verifier.work_dir.clone();
    let d = Daemons::start(config, &["db1", "db2"]).await;
    // Each damaged backup below is a verification failure an operator must act on.
    d.expect_error("FAILED verification");

    // 1. A physical and a logical backup at the same GTID: both verify.
    let physical = d.backup(Task::Mariabackup).await;
    let logical = d.backup(Task::Mysqldump).await;
    let out = d.verify(&["--cluster", "sandbox", "--latest"]).await;
    assert!(out.status.success(), "good backups must verify");
    let text = stdout(&out);
    assert!(text.contains("2 backup(s), 2 ok, 0 failed"), "{text}");
    for id in [&physical, &logical] {
        assert!(text.contains(&id.to_string()), "{text}");
        let v = latest(&d.manifest(id).await);
        assert_eq!(v.status, Status::Ok, "{id}: {v:?}");
        assert!(v.restore_seconds.is_some(), "restore time recorded");
    }
    let p = latest(&d.manifest(&physical).await);
    let rows = p.checks.iter().find(|c| c.name == "row-counts").unwrap();
    assert_eq!(rows.outcome, ferryman_verify::Outcome::Passed, "{rows:?}");
    assert!(rows.detail.contains(&logical.to_string()), "{rows:?}");
    assert_eq!(p.rows.get("shop.items"), Some(&30000));
    nothing_left(&work_dir);
    // `backup show` shows every check.
    let config = d.config.path.display().to_string();
    let show =
        stdout(&ferryman(&["backup", "show", "--config", &config, &physical.to_string()]).await);
    assert!(show.contains("verification ok"), "{show}");
    assert!(show.contains("check-table"), "{show}");

    // 2. The fleet run: a fresh logical backup of the cluster's source, verified.
    let out = d.verify(&["--all-clusters", "--json"]).await;
    assert!(out.status.success());
    let run: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(run["ok"], true, "{run}");
    assert_eq!(run["items"][0]["tool"], "mysqldump", "{run}");
    assert!(run["items"][0]["backup_job"].is_u64(), "{run}");

    // 3. A dump whose footer was cut (the manifest rewritten to match, so that only the
    // footer is wrong).
    let cut = d.backup(Task::Mysqldump).await;
    rewrite_payload(&d.payload_dir(&cut), |raw| {
        let text = String::from_utf8(raw).unwrap();
        let end = text.rfind("-- Dump completed").unwrap();
        text.as_bytes()[..end].to_vec()
    });
    let out = d.verify(&["--backup", &cut.to_string()]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("dump-footer"), "named");
    assert!(stdout(&out).contains("FAILED"));
    nothing_left(&work_dir);

    // 4. One flipped byte in a stored payload.
    let flipped = d.backup(Task::Mysqldump).await;
    let payload = d.payload_dir(&flipped).join("payload.sql.zst");
    let mut bytes = std::fs::read(&payload).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&payload, bytes).unwrap();
    let out = d.verify(&["--backup", &flipped.to_string()]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("checksum"), "named");
    assert!(
        !stdout(&out).contains("dump-footer"),
        "only the checksum is named"
    );
    nothing_left(&work_dir);

    // 5. The watched table emptied at the source: restored, then caught.
    sb.sql("db1", "DELETE FROM shop.orders").await;
    caught_up(&sb, "db2").await;
    let emptied = d.backup(Task::Mysqldump).await;
    let out = d.verify(&["--backup", &emptied.to_string()]).await;
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("nonempty-tables") && text.contains("shop.orders is empty"),
        "{text}"
    );
    assert!(
        !text.contains("size-change"),
        "a small table: within the threshold: {text}"
    );
    nothing_left(&work_dir);

    // 6. Most of the data deleted: the size drop against the newest verified dump is caught.
    sb.sql(
        "db1",
        "INSERT INTO shop.orders VALUES (1, 'back'); DELETE FROM shop.items WHERE id > 1000",
    )
    .await;
    caught_up(&sb, "db2").await;
    let shrunk = d.backup(Task::Mysqldump).await;
    let out = d.verify(&["--backup", &shrunk.to_string()]).await;
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("size-change") && text.contains("smaller"),
        "{text}"
    );
    nothing_left(&work_dir);

    // A reseed never restores a backup whose newest verification failed: named, it is
    // refused unless forced; chosen by the manager, the newest verified dump is taken instead
    // of the four newer failed ones.
    let reseed = |backup: Option<BackupId>, force: bool| {
        let services = std::sync::Arc::clone(&d.services);
        async move {
            services
                .start_reseed_noted(
                    "sandbox",
                    ferryman_manager::reseed::ReseedRequest {
                        servers: vec!["db2".into()],
                        method: ferryman_manager::reseed::Method::Logicalbackup,
                        backup,
                        force,
                        to: None,
                    },
                    "test",
                )
                .await
        }
    };
    let refused = reseed(Some(shrunk.clone()), false)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("failed its newest verification") && refused.contains("--force"),
        "{refused}"
    );
    let fleet_dump = run["items"][0]["backup"].as_str().unwrap().to_owned();
    let (ids, notes) = reseed(None, false).await.unwrap();
    assert!(
        notes.is_empty(),
        "a verified backup needs no note: {notes:?}"
    );
    let job = wait_job(&d.services, ids[0]).await;
    assert_eq!(
        job.backup_id.as_deref(),
        Some(fleet_dump.as_str()),
        "{job:?}"
    );
    assert_eq!(job.state, ferryman_manager::JobState::Succeeded, "{job:?}");
    caught_up(&sb, "db2").await;

    // Every failure emitted an event, every success none of the error kind.
    let failed: Vec<String> = d
        .services
        .events
        .since(0)
        .into_iter()
        .filter(|e| e.kind == ferryman_manager::events::EventKind::VerificationFailed)
        .filter_map(|e| e.backup)
        .collect();
    for id in [&cut, &flipped, &emptied, &shrunk] {
        assert!(failed.contains(&id.to_string()), "{id}: {failed:?}");
    }
    assert_eq!(failed.len(), 4, "{failed:?}");

    // 7. Retention keeping only the newest backup of each source still keeps the newest
    // verified one (the newest dump failed its verification).
    let mut cluster = d.config.clusters[0].clone();
    cluster.retention = ferryman_config::RetentionConfig {
        keep_last: 0,
        keep_hourly: 0,
        keep_daily: 0,
        keep_weekly: 0,
        keep_monthly: 0,
        keep_yearly: 0,
    };
    let plan = ferryman_manager::retention::prune(&d.services, &cluster, true)
        .await
        .unwrap();
    let fleet_backup = run["items"][0]["backup"].as_str().unwrap().to_owned();
    let kept: Vec<String> = plan.keep.iter().map(|k| k.id.to_string()).collect();
    assert!(
        kept.contains(&fleet_backup),
        "newest verified dump kept: {kept:?}"
    );
    assert!(kept.contains(&physical.to_string()), "{kept:?}");
    assert!(
        !kept.contains(&logical.to_string()),
        "an older verified dump is not: {kept:?}"
    );

    d.stop().await;
    nothing_left(&work_dir);
    // Every session of the manager and the agents said goodbye: none is an `Aborted
    // connection` in the servers' error logs.
    for name in ["db1", "db2"] {
        let log = sb.layout().server(name).root().join("err.log");
        let text = std::fs::read_to_string(&log).unwrap();
        let aborted: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("Aborted connection"))
            .collect();
        assert!(aborted.is_empty(), "{name}: {aborted:#?}");
    }
}

/// The sandbox's configuration verifies every new backup by itself (the scheduler entry).
#[tokio::test(flavor = "multi_thread")]
async fn the_sandbox_scheduler_verifies_new_backups_by_itself() {
    let sb = TestSandbox::start_with(&UpOptions {
        replicas: 0,
        ferryman_bin: Some(PathBuf::from(BIN)),
        auto_verify: true,
    })
    .await;
    sb.sql(
        "db1",
        "CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY);
         INSERT INTO shop.t SELECT seq FROM mysql.seq_1_to_100;",
    )
    .await;
    let config = sb.config();
    assert!(config.clusters[0]
        .scheduler
        .verify
        .is_active(&config.clusters[0].scheduler));
    let work_dir = config.verifier.work_dir.clone();
    let d = Daemons::start(config, &["db1"]).await;
    let id = d.backup(Task::Mysqldump).await;
    let started = Instant::now();
    let v = loop {
        if let Some(v) = Verification::latest_of(&d.manifest(&id).await) {
            break v;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "not verified by the scheduler"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(v.status, Status::Ok, "{v:?}");
    assert_eq!(v.trigger, "schedule");
    d.stop().await;
    nothing_left(&work_dir);
}
