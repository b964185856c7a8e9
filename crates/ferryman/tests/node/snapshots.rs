//! Snapshots on a real btrfs file system (a loop device): a replica's datadir moved into a
//! subvolume, consistent snapshots taken through the CLI while the primary writes (a clone of
//! one started as a server holds exactly the transactions its recorded GTID says), the
//! `snapshot` task with `snapshot-keep`, mount, remove, and `zfssnapback` rolling the replica
//! back to its newest snapshot. LVM's commands, which cannot run here, are checked as the
//! command lines a recording script receives.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ferryman_config::{SnapshotCommands, SnapshotConfig, SnapshotMethod};
use ferryman_db::mysql_async::prelude::Queryable;
use ferryman_db::{Endpoint, Session};
use ferryman_sandbox::testing::Writer;

use super::{cli, free_port, json, text};
use crate::daemons::Daemons;

/// Runs a command, panicking with its output when it fails.
fn sh(program: &str, args: &[&str]) -> String {
    #[allow(clippy::disallowed_methods)] // test set-up: the file system under the server
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A btrfs file system on a loop device, mounted at `mount`; detached however the test ends
/// (lazily: a server still running on it keeps it until it stops).
struct Btrfs {
    mount: PathBuf,
    device: String,
}

impl Btrfs {
    fn new(dir: &Path) -> Btrfs {
        let image = dir.join("btrfs.img");
        let mount = dir.join("btrfs");
        std::fs::create_dir_all(&mount).unwrap();
        sh("truncate", &["-s", "1G", image.to_str().unwrap()]);
        sh("mkfs.btrfs", &["-q", "-f", image.to_str().unwrap()]);
        let device = sh("losetup", &["--find", "--show", image.to_str().unwrap()])
            .trim()
            .to_owned();
        let fs = Btrfs { mount, device };
        sh(
            "mount",
            &["-t", "btrfs", &fs.device, fs.mount.to_str().unwrap()],
        );
        fs
    }
}

impl Drop for Btrfs {
    fn drop(&mut self) {
        #[allow(clippy::disallowed_methods)] // test clean-up
        let _ = std::process::Command::new("umount")
            .args(["-l", self.mount.to_str().unwrap()])
            .status();
        #[allow(clippy::disallowed_methods)] // test clean-up
        let _ = std::process::Command::new("losetup")
            .args(["-d", &self.device])
            .status();
    }
}

fn snapshot_config(method: SnapshotMethod, volume: &str, dir: &Path) -> SnapshotConfig {
    SnapshotConfig {
        method,
        volume: volume.to_owned(),
        dir: dir.to_owned(),
        keep: 2,
        filter: "ferryman-".to_owned(),
        lvm_size: "10G".to_owned(),
        timeout: Duration::from_secs(60),
        commands: SnapshotCommands::default(),
    }
}

async fn first_u64(endpoint: &Endpoint, sql: &str) -> u64 {
    let mut conn = endpoint.connect(Session::Plain).await.unwrap();
    let v: Option<Option<u64>> = conn.query_first(sql).await.unwrap();
    let _ = conn.disconnect().await;
    v.flatten().unwrap_or(0)
}

/// The sequence number of domain 0 in a GTID list.
fn seq0(gtids: &str) -> u64 {
    gtids
        .split(',')
        .map(str::trim)
        .find_map(|g| g.strip_prefix("0-").and_then(|r| r.split('-').nth(1)))
        .unwrap_or("0")
        .parse()
        .unwrap()
}

/// `node snapshots take --server db2`, asked again until db2's agent serves its API (it binds
/// it as it starts, beside the test).
async fn take_when_ready(config_path: &str) -> serde_json::Value {
    let mut tries = 0;
    loop {
        let args = ["node", "snapshots", "take", "--server", "db2", "--json"];
        let out = cli(config_path, &args).await;
        if out.status.success() || tries == 50 {
            return json(&out);
        }
        tries += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Moves `server`'s datadir into subvolume `fs/server` (the sandbox's path becomes a link to
/// it); returns the subvolume.
async fn datadir_on_btrfs(
    sb: &ferryman_sandbox::testing::TestSandbox,
    fs: &Btrfs,
    server: &str,
) -> PathBuf {
    let volume = fs.mount.join(server);
    sb.stop_server(server).await.unwrap();
    sh("btrfs", &["subvolume", "create", volume.to_str().unwrap()]);
    let datadir = sb.path().join("servers").join(server).join("data");
    sh(
        "cp",
        &[
            "-a",
            &format!("{}/.", datadir.display()),
            volume.to_str().unwrap(),
        ],
    );
    std::fs::remove_dir_all(&datadir).unwrap();
    std::os::unix::fs::symlink(&volume, &datadir).unwrap();
    sb.start_server(server).await.unwrap();
    volume
}

#[tokio::test(flavor = "multi_thread")]
async fn a_snapshot_of_a_replica_seeds_two_joiners_at_once() {
    let sb = ferryman_sandbox::testing::TestSandbox::start_with(&ferryman_sandbox::UpOptions {
        replicas: 3,
        ferryman_bin: Some(PathBuf::from(crate::BIN)),
        auto_verify: false,
    })
    .await;
    crate::seed_shop(&sb).await;
    crate::daemons::caught_up(&sb, "db4").await;
    let fs = Btrfs::new(&sb.path());
    let volume = datadir_on_btrfs(&sb, &fs, "db2").await;
    let mut config = sb.config();
    config.clusters[0].servers[1].snapshot = Some(snapshot_config(
        SnapshotMethod::Btrfs,
        volume.to_str().unwrap(),
        &fs.mount.join("snapshots"),
    ));
    let d = Daemons::start(config, &["db1", "db2", "db3", "db4"]).await;
    // db3 and db4 diverge; the primary writes all along.
    for joiner in ["db3", "db4"] {
        sb.sql(
            joiner,
            "SET sql_log_bin = 0; UPDATE shop.items SET n = -1 WHERE id = 7",
        )
        .await;
    }
    sb.sql("db1", "CREATE TABLE shop.t (id BIGINT PRIMARY KEY)")
        .await;
    let next = Arc::new(AtomicU64::new(1));
    let writer = Writer::start(
        &sb,
        "db1",
        "INSERT INTO shop.t VALUES (?)",
        Arc::clone(&next),
        Duration::from_millis(5),
    );
    let ids = d
        .services
        .start_reseed(
            "sandbox",
            ferryman_manager::reseed::ReseedRequest {
                servers: vec!["db3".into(), "db4".into()],
                method: ferryman_manager::reseed::Method::Snapshot,
                backup: None,
                force: false,
                to: None,
            },
            "test",
        )
        .await
        .unwrap();
    for id in &ids {
        let job = crate::daemons::wait_job(&d.services, *id).await;
        assert_eq!(job.state, ferryman_manager::JobState::Succeeded, "{job:?}");
        eprintln!(
            "{}: {}",
            job.server,
            job.node_result.clone().unwrap_or_default()
        );
    }
    writer.stop().await;
    for joiner in ["db3", "db4"] {
        crate::daemons::caught_up(&sb, joiner).await;
        assert_eq!(
            crate::checksums(&sb, joiner).await,
            crate::checksums(&sb, "db1").await,
            "{joiner} has the primary's data, its stray change gone"
        );
        let rows = first_u64(
            &Endpoint::from_config(
                sb.config().clusters[0].server(joiner).unwrap(),
                &sb.config().clusters[0].db_servers_credential,
            ),
            "SELECT COUNT(*) FROM shop.t",
        )
        .await;
        assert_eq!(
            rows,
            next.load(Ordering::SeqCst) - 1,
            "{joiner} replicated every write"
        );
    }
    drop(d);
    drop(fs);
}

#[tokio::test(flavor = "multi_thread")]
async fn btrfs_snapshots_are_consistent_kept_and_rolled_back_to() {
    let sb = crate::shop_sandbox().await;
    let config_path = sb.config_path().display().to_string();
    // db2's datadir moves into a btrfs subvolume (the sandbox's path becomes a link to it).
    let fs = Btrfs::new(&sb.path());
    let volume = fs.mount.join("db2");
    let snapshots_dir = fs.mount.join("snapshots");
    sb.stop_server("db2").await.unwrap();
    sh("btrfs", &["subvolume", "create", volume.to_str().unwrap()]);
    let datadir = sb.path().join("servers/db2/data");
    sh(
        "cp",
        &[
            "-a",
            &format!("{}/.", datadir.display()),
            volume.to_str().unwrap(),
        ],
    );
    std::fs::remove_dir_all(&datadir).unwrap();
    std::os::unix::fs::symlink(&volume, &datadir).unwrap();
    sb.start_server("db2").await.unwrap();

    let mut config = sb.config();
    config.agent.api_token_file = Some(config.manager.monitoring_datadir.join("api.token"));
    config.agent.api_bind_address = "127.0.0.1".to_owned();
    let db2 = &mut config.clusters[0].servers[1];
    db2.agent_api_port = Some(free_port());
    db2.snapshot = Some(snapshot_config(
        SnapshotMethod::Btrfs,
        volume.to_str().unwrap(),
        &snapshots_dir,
    ));
    let cluster = &config.clusters[0];
    let db2_endpoint = Endpoint::from_config(&cluster.servers[1], &cluster.db_servers_credential);
    let d = Daemons::start(config, &["db1", "db2"]).await;

    // The primary writes one row per transaction while db2 is snapshotted.
    sb.sql("db1", "CREATE TABLE shop.t (id BIGINT PRIMARY KEY)")
        .await;
    let before = seq0(
        &sb.sql("db1", "SELECT @@gtid_binlog_pos").await[0]
            .get::<String, _>(0)
            .unwrap(),
    );
    let next = Arc::new(AtomicU64::new(1));
    let writer = Writer::start(
        &sb,
        "db1",
        "INSERT INTO shop.t VALUES (?)",
        Arc::clone(&next),
        Duration::from_millis(2),
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let taken = take_when_ready(&config_path).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    writer.stop().await;
    assert_eq!(taken["lock"], "BACKUP STAGE BLOCK_COMMIT", "{taken}");
    let name = taken["name"].as_str().unwrap().to_owned();
    let gtid = taken["gtid_binlog_pos"].as_str().unwrap().to_owned();
    assert!(seq0(&gtid) > before, "writes happened before: {taken}");
    assert_eq!(
        taken["datadir_in_snapshot"], "",
        "the subvolume is the datadir: {taken}"
    );
    let written = next.load(Ordering::SeqCst) - 1;

    // A writable clone of it, started with the server's own options (its binlog too: crash
    // recovery of prepared transactions needs it): exactly the rows up to the recorded GTID.
    let clone = fs.mount.join("clone");
    sh(
        "btrfs",
        &[
            "subvolume",
            "snapshot",
            snapshots_dir.join(&name).to_str().unwrap(),
            clone.to_str().unwrap(),
        ],
    );
    let run = sb.path().join("clone-run");
    std::fs::create_dir_all(&run).unwrap();
    let layout = ferryman_mariadbd::Layout::new(&run).with_datadir(&clone);
    let mut args: Vec<std::ffi::OsString> = vec![format!(
        "--defaults-file={}",
        sb.path().join("servers/db2/my.cnf").display()
    )
    .into()];
    args.extend(layout.path_args());
    args.extend([
        "--skip-networking".into(),
        "--skip-slave-start".into(),
        "--server-id=99".into(),
    ]);
    let probe = Endpoint {
        name: "clone".into(),
        host: "localhost".into(),
        port: 0,
        socket: Some(layout.socket()),
        user: "root".into(),
        password: None,
        ssl: Default::default(),
    };
    let server = ferryman_mariadbd::Server::start(
        &ferryman_mariadbd::Binaries::find().unwrap(),
        &layout,
        &args,
        &probe,
        Duration::from_secs(60),
        &Default::default(),
    )
    .await
    .unwrap();
    let rows = first_u64(&probe, "SELECT COUNT(*) FROM shop.t").await;
    let applied = seq0(&{
        let mut conn = probe.connect(Session::Plain).await.unwrap();
        let v: Option<String> = conn.query_first("SELECT @@gtid_binlog_pos").await.unwrap();
        v.unwrap()
    });
    server
        .stop(Duration::from_secs(30), &Default::default())
        .await
        .unwrap();
    eprintln!("snapshot at {gtid}: {rows} rows of {written} written; the clone's binlog ends at 0-…-{applied}");
    assert_eq!(
        applied,
        seq0(&gtid),
        "the clone's binlog ends at the recorded GTID"
    );
    assert_eq!(
        rows,
        seq0(&gtid) - before,
        "one row per transaction after the CREATE TABLE"
    );
    assert!(rows < written, "the writer went on after the snapshot");

    // The task keeps snapshot-keep (2): after two more, the first is gone.
    for _ in 0..2 {
        let out = cli(
            &config_path,
            &["task", "snapshot", "--server", "db2", "--wait"],
        )
        .await;
        assert!(out.status.success(), "{}", text(&out));
    }
    let list = json(
        &cli(
            &config_path,
            &["node", "snapshots", "list", "--server", "db2", "--json"],
        )
        .await,
    );
    let names: Vec<&str> = list["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{list}");
    assert!(
        !names.contains(&name.as_str()),
        "the oldest was removed: {list}"
    );
    let newest = names[1].to_owned();
    let out = cli(
        &config_path,
        &["node", "snapshots", "mount", "--server", "db2", &newest],
    )
    .await;
    assert!(
        text(&out).contains(snapshots_dir.join(&newest).to_str().unwrap()),
        "{}",
        text(&out)
    );

    // zfssnapback without zfs-snapback: db2 back to its newest snapshot; a stray local table
    // made after it is gone, the server answers and replicates again.
    sb.sql(
        "db2",
        "SET sql_log_bin = 0; CREATE TABLE shop.stray (id INT)",
    )
    .await;
    let out = cli(
        &config_path,
        &["task", "zfssnapback", "--server", "db2", "--yes", "--wait"],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let job = text(&out).split_whitespace().nth(1).unwrap().to_owned();
    let shown = json(&cli(&config_path, &["jobs", "show", &job, "--json"]).await);
    let said = shown["node_result"].as_str().unwrap_or_default();
    assert!(
        said.contains(&format!("rolled back to {newest}")),
        "{shown}"
    );
    let stray = first_u64(
        &db2_endpoint,
        "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'shop' AND TABLE_NAME = 'stray'",
    )
    .await;
    assert_eq!(stray, 0, "the table made after the snapshot is gone");

    // Removal: refused without --yes, done with it.
    let out = cli(
        &config_path,
        &["node", "snapshots", "remove", "--server", "db2", &newest],
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let out = cli(
        &config_path,
        &[
            "node",
            "snapshots",
            "remove",
            "--server",
            "db2",
            &newest,
            "--yes",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(!snapshots_dir.join(&newest).exists());
    drop(d);
    drop(fs);
}

#[tokio::test(flavor = "multi_thread")]
async fn lvm_snapshots_run_the_configured_commands() {
    let sb = crate::shop_sandbox().await;
    let config_path = sb.config_path().display().to_string();
    // A recording script stands for LVM's tools: it writes its arguments, and lists the
    // snapshots it was asked to create.
    let record = sb.path().join("lvm-calls.txt");
    let created = sb.path().join("lvm-created.txt");
    let script = sb.path().join("lvm.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$*\" >> {rec}\ncase \"$1\" in\n  lvcreate) echo \"$4\" >> {made} ;;\n  lvs) cat {made} 2>/dev/null ;;\nesac\nexit 0\n",
            rec = record.display(),
            made = created.display()
        ),
    )
    .unwrap();
    sh("chmod", &["755", script.to_str().unwrap()]);
    let s = script.display().to_string();
    let words = |line: &str| -> Option<Vec<String>> {
        Some(
            std::iter::once(s.clone())
                .chain(line.split_whitespace().map(str::to_owned))
                .collect(),
        )
    };
    let mut config = sb.config();
    config.agent.api_token_file = Some(config.manager.monitoring_datadir.join("api.token"));
    config.agent.api_bind_address = "127.0.0.1".to_owned();
    let db2 = &mut config.clusters[0].servers[1];
    db2.agent_api_port = Some(free_port());
    let mut lvm = snapshot_config(SnapshotMethod::Lvm, "vg0/mysql", &sb.path().join("mnt"));
    lvm.commands = SnapshotCommands {
        create: words("lvcreate --snapshot --name {name} --size {size} {volume}"),
        list: words("lvs --noheadings -o lv_name -S origin={lv} {vg}"),
        mount: words("mount -o ro /dev/{vg}/{name} {mountpoint}"),
        unmount: words("umount {mountpoint}"),
        remove: words("lvremove -f {vg}/{name}"),
        rollback: words("lvconvert --merge {vg}/{name}"),
    };
    db2.snapshot = Some(lvm);
    let _d = Daemons::start(config, &["db1", "db2"]).await;

    let taken = take_when_ready(&config_path).await;
    let name = taken["name"].as_str().unwrap().to_owned();
    assert!(
        !taken["gtid_binlog_pos"].as_str().unwrap().is_empty(),
        "{taken}"
    );
    let out = cli(
        &config_path,
        &["node", "snapshots", "mount", "--server", "db2", &name],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let out = cli(
        &config_path,
        &["task", "zfssnapback", "--server", "db2", "--yes", "--wait"],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let out = cli(
        &config_path,
        &[
            "node",
            "snapshots",
            "remove",
            "--server",
            "db2",
            &name,
            "--yes",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let mnt = sb.path().join("mnt").join(&name);
    let calls = std::fs::read_to_string(&record).unwrap();
    let expected = [
        format!("lvcreate --snapshot --name {name} --size 10G vg0/mysql"),
        "lvs --noheadings -o lv_name -S origin=mysql vg0".to_owned(),
        format!("mount -o ro /dev/vg0/{name} {}", mnt.display()),
        format!("lvconvert --merge vg0/{name}"),
        format!("lvremove -f vg0/{name}"),
    ];
    let lines: Vec<&str> = calls.lines().collect();
    for want in &expected {
        assert!(
            lines.contains(&want.as_str()),
            "{want} not among the calls:\n{calls}"
        );
    }
    // In this order: create first, the rollback before the removal.
    let at = |w: &str| lines.iter().position(|l| *l == w).unwrap();
    assert!(
        at(&expected[0]) < at(&expected[2]) && at(&expected[3]) < at(&expected[4]),
        "{calls}"
    );
}
