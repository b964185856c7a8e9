//! What a reseed does before it touches a server: reading the row, the joiner's listening,
//! the prepare's arguments, the file-system helpers. The whole sequence on real servers is
//! tested end to end in `crates/ferryman/tests/agent/reseed.rs`.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ferryman_config::ServerConfig;
use ferryman_db::Endpoint;
use ferryman_jobs::{Job, JobId, Schema, Token};
use ferryman_proto::{write_header, FrameWriter, ReseedParams, StreamHeader, StreamKind, Task};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::files::processes_in;
use super::preflight::same_address;
use super::receive::{self, prepare_args, receiving};
use super::{valid_gtid_list, Plan, Restore};
use crate::progress::Progress;
use crate::tasks::{JoinerSettings, PhysicalTool, TaskCtx};
use crate::Error;

/// Everything a [`TaskCtx`] borrows.
struct Fixture {
    dir: tempfile::TempDir,
    job: Job,
    task: Task,
    server: ServerConfig,
    endpoint: Endpoint,
    progress: Progress,
    cancel: CancellationToken,
    schema: Schema,
    joiner: JoinerSettings,
    destinations: crate::Destinations,
    /// The manager's row key, which seals the row.
    key: ferryman_proto::RowKey,
}

impl Fixture {
    /// A reseed row listening on `port`, for a server whose datadir is `<tmp>/srv/data`.
    fn new(port: u16) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let datadir = dir.path().join("srv/data");
        std::fs::create_dir_all(&datadir).unwrap();
        let params = ReseedParams {
            method: ferryman_proto::Method::Physicalbackup,
            backup_id: Some("c/db1/b".into()),
            gtid: Some(" 0-1-500 ".into()),
            primary_host: "10.0.0.1".into(),
            primary_port: 3306,
            payload_bytes: Some(3 << 30),
            hold: false,
            target: Some("db2".into()),
            issued_at: None,
            seal: None,
        };
        let job = Job {
            id: JobId(42),
            task: Some("reseedmariabackup".into()),
            port: Some(i32::from(port)),
            server: Some("10.0.0.9".into()),
            result: Some("processing".into()),
            token: Some(Token::generate().unwrap()),
            params: Some(params.to_json()),
            claimed_by: Some("ferryman-agent@h:1".into()),
            ..Job::default()
        };
        let server = ServerConfig {
            name: "db2".into(),
            host: "127.0.0.1".into(),
            port: 1,
            socket: None,
            datadir: Some(datadir),
            defaults_file: None,
            legacy_donor: false,
            agent_api_port: None,
            snapshot: None,
            service_start: vec!["true".into()],
            service_stop: vec!["true".into()],
            service_restart: vec!["true".into()],
            zfs_snapback: None,
            ssl: Default::default(),
            galera_desync: false,
            onpremise_ssh: None,
        };
        let endpoint = Endpoint {
            name: "db2".into(),
            host: "127.0.0.1".into(),
            port: 1,
            socket: None,
            user: "ferryman".into(),
            password: None,
            ssl: Default::default(),
        };
        let mut joiner = JoinerSettings::for_tests();
        joiner.bind_address = "127.0.0.1".into();
        joiner.accept_timeout = Duration::from_secs(20);
        let key = ferryman_proto::RowKey::load_or_create(&dir.path().join("row.key"))
            .unwrap()
            .0;
        joiner.row_key = Ok(key.clone());
        joiner.cluster_servers = vec![("10.0.0.1".into(), 3306), ("127.0.0.1".into(), 1)];
        let mut f = Fixture {
            dir,
            job,
            task: Task::Reseedmariabackup,
            server,
            endpoint,
            progress: Progress::new(),
            cancel: CancellationToken::new(),
            schema: Schema::default(),
            joiner,
            destinations: crate::Destinations::new(Vec::new()),
            key,
        };
        f.set_params(|_| {});
        f
    }

    fn ctx(&self) -> TaskCtx<'_> {
        TaskCtx {
            job: &self.job,
            task: self.task,
            server: &self.server,
            endpoint: &self.endpoint,
            scratch: self.dir.path(),
            tool_logs: self.dir.path(),
            swaps: self.dir.path(),
            work_dir: self.dir.path(),
            destinations: &self.destinations,
            tls: None,
            progress: &self.progress,
            cancel: &self.cancel,
            connect_timeout: Duration::from_secs(1),
            jobs_schema: &self.schema,
            joiner: &self.joiner,
        }
    }

    fn datadir(&self) -> PathBuf {
        std::fs::canonicalize(self.dir.path().join("srv/data")).unwrap()
    }

    /// Edits the params and seals them again, as the manager would have written them.
    fn set_params(&mut self, edit: impl FnOnce(&mut ReseedParams)) {
        let mut params = ReseedParams::from_json(self.job.params.as_deref().unwrap()).unwrap();
        edit(&mut params);
        params.issued_at = Some(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs(),
        );
        let port = u16::try_from(self.job.port.unwrap()).unwrap();
        let token = self.job.token.as_ref().unwrap().expose().to_owned();
        params.seal = Some(self.key.seal(self.task, port, &token, &params));
        self.job.params = Some(params.to_json());
    }
}

fn free_port() -> u16 {
    ferryman_sandbox::free_port().unwrap()
}

#[test]
fn the_plan_reads_the_row_and_names_every_directory_next_to_the_datadir() {
    let f = Fixture::new(4444);
    let plan = Plan::read(&f.ctx(), Restore::Physical(PhysicalTool::Mariabackup)).unwrap();
    assert_eq!(plan.port, 4444);
    assert_eq!(plan.gtid, "0-1-500");
    assert_eq!(plan.primary(), "10.0.0.1:3306");
    assert!(plan.token == f.job.token.as_ref().unwrap().stream_token().unwrap());
    let datadir = f.datadir();
    assert_eq!(plan.datadir, datadir);
    let parent = datadir.parent().unwrap();
    assert_eq!(plan.staging(), parent.join(".data.ferryman-reseed-42"));
    assert_eq!(plan.old(), parent.join(".data.ferryman-old-42"));
    assert_eq!(plan.failed_dir(), parent.join(".data.ferryman-failed-42"));
    assert_eq!(plan.old_prefix(), ".data.ferryman-old-");
}

#[test]
fn a_datadir_behind_a_symlink_is_swapped_where_it_really_is() {
    let mut f = Fixture::new(4444);
    let link = f.dir.path().join("mysql");
    std::os::unix::fs::symlink(f.dir.path().join("srv/data"), &link).unwrap();
    f.server.datadir = Some(link);
    let plan = Plan::read(&f.ctx(), Restore::Physical(PhysicalTool::Mariabackup)).unwrap();
    assert_eq!(plan.datadir, f.datadir());
    assert_eq!(plan.name(), "data");
}

#[test]
fn a_row_the_joiner_cannot_use_is_refused_with_the_reason() {
    let check = |f: &Fixture, expected: &str| {
        let err = Plan::read(&f.ctx(), Restore::Physical(PhysicalTool::Mariabackup))
            .unwrap_err()
            .to_string();
        assert!(err.contains(expected), "{err}");
        assert!(
            err.contains("job 42") || err.contains("`db2`"),
            "names the job or server: {err}"
        );
    };
    let mut f = Fixture::new(4444);
    f.job.port = Some(0);
    check(&f, "holds no port to listen on");
    let mut f = Fixture::new(4444);
    f.job.token = None;
    check(&f, "it has no `token`");
    let mut f = Fixture::new(4444);
    f.job.token = Some(Token::new("not hex"));
    check(&f, "not a Ferryman stream token");
    let mut f = Fixture::new(4444);
    f.job.params = None;
    check(&f, "it has no `params`");
    let mut f = Fixture::new(4444);
    f.job.params = Some("{\"method\": 1}".into());
    check(&f, "are not reseed parameters");
    let mut f = Fixture::new(4444);
    f.set_params(|p| p.gtid = None);
    check(&f, "carry no GTID, which a reseed with mariabackup needs");
    let mut f = Fixture::new(4444);
    f.set_params(|p| p.gtid = Some("0-1-5'; DROP TABLE x".into()));
    check(&f, "is not a MariaDB GTID position");
    let mut f = Fixture::new(4444);
    f.set_params(|p| p.primary_host = " ".into());
    check(&f, "name no primary");
    // Rows not written by the manager: unsealed, sealed with another key, moved to another
    // server, or edited after sealing.
    let mut f = Fixture::new(4444);
    let mut p = ReseedParams::from_json(f.job.params.as_deref().unwrap()).unwrap();
    p.seal = None;
    f.job.params = Some(p.to_json());
    check(
        &f,
        "its seal is missing: it was not written by this fleet's manager",
    );
    let mut f = Fixture::new(4444);
    f.key = ferryman_proto::RowKey::load_or_create(&f.dir.path().join("forger.key"))
        .unwrap()
        .0;
    f.set_params(|_| {});
    check(&f, "does not match the row's task, port, token and params");
    let mut f = Fixture::new(4444);
    f.set_params(|p| p.target = Some("db3".into()));
    check(&f, "is for server `db3`, not `db2`");
    let mut f = Fixture::new(4444);
    let mut p = ReseedParams::from_json(f.job.params.as_deref().unwrap()).unwrap();
    p.primary_host = "203.0.113.7".into();
    f.job.params = Some(p.to_json());
    check(&f, "does not match");
    // Sealed, but naming a primary outside the cluster (a manager with another config).
    let mut f = Fixture::new(4444);
    f.set_params(|p| p.primary_host = "203.0.113.7".into());
    check(
        &f,
        "its primary 203.0.113.7:3306 is not a server of this agent's cluster",
    );
    let mut f = Fixture::new(4444);
    f.server.datadir = None;
    check(
        &f,
        "has no `datadir` configured, which the `reseedmariabackup` task needs",
    );
    let mut f = Fixture::new(4444);
    f.server.datadir = Some(f.dir.path().join("missing"));
    check(&f, "cannot be resolved");
}

#[test]
fn a_dump_brings_its_own_gtid_which_must_agree_with_the_manifests() {
    // Without a GTID in the params (logicalmaster), the dump's is taken.
    let mut f = Fixture::new(4444);
    f.set_params(|p| p.gtid = None);
    let mut plan = Plan::read(&f.ctx(), Restore::Logical).unwrap();
    assert_eq!(plan.gtid, "");
    let err = plan.take_dump_gtid(None).unwrap_err().to_string();
    assert!(err.contains("records no GTID position"), "{err}");
    let err = plan.take_dump_gtid(Some("0-1-x")).unwrap_err().to_string();
    assert!(err.contains("not a MariaDB GTID position"), "{err}");
    plan.take_dump_gtid(Some("0-1-77")).unwrap();
    assert_eq!(plan.gtid, "0-1-77");
    // With the manifest's GTID, the dump must say the same.
    let f = Fixture::new(4444);
    let mut plan = Plan::read(&f.ctx(), Restore::Logical).unwrap();
    let err = plan
        .take_dump_gtid(Some("0-1-501"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("but its backup's manifest says 0-1-500"),
        "{err}"
    );
    plan.take_dump_gtid(Some("0-1-500")).unwrap();
    plan.take_dump_gtid(None).unwrap();
    assert_eq!(plan.gtid, "0-1-500");
    assert_eq!(
        plan.import_run_dir(),
        f.datadir()
            .parent()
            .unwrap()
            .join(".data.ferryman-import-42")
    );
}

#[test]
fn gtid_lists_are_domain_server_sequence_triples() {
    for ok in [
        "0-1-500",
        "0-1-5,1-2-7",
        "0-1-1, 2-3-4",
        "4294967295-4294967295-18446744073709551615",
    ] {
        assert!(valid_gtid_list(ok), "{ok}");
    }
    for bad in [
        "", "0-1", "0-1-2-3", "a-1-2", "0--2", "0-1-2,", "0-1-2;", "'0-1-2'",
    ] {
        assert!(!valid_gtid_list(bad), "{bad}");
    }
}

#[test]
fn the_primary_is_recognised_by_its_address() {
    assert!(same_address("10.0.0.1", 3306, "10.0.0.1", 3306));
    assert!(same_address("DB1.example", 3306, "db1.example", 3306));
    assert!(same_address("localhost", 3306, "127.0.0.1", 3306));
    assert!(same_address("::1", 3306, "[::1]", 3306));
    assert!(!same_address("127.0.0.1", 3306, "127.0.0.1", 3307));
    assert!(!same_address("10.0.0.1", 3306, "10.0.0.2", 3306));
}

#[test]
fn the_receiving_phase_says_how_much_of_how_much() {
    assert_eq!(
        receiving(120 * 1024 * 1024, Some(2_469_606_195)),
        "receiving 120.00 MiB of 2.30 GiB"
    );
    assert_eq!(receiving(2048, None), "receiving 2.00 KiB");
}

#[test]
fn the_prepare_reads_only_the_option_file_the_backup_carries() {
    let dir = tempfile::tempdir().unwrap();
    let args = |d: &Path| -> Vec<String> {
        prepare_args(d)
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    };
    let d = dir.path().display();
    assert_eq!(
        args(dir.path()),
        [
            "--no-defaults".to_owned(),
            "--prepare".into(),
            format!("--target-dir={d}")
        ]
    );
    std::fs::write(dir.path().join("backup-my.cnf"), "[mysqld]\n").unwrap();
    assert_eq!(
        args(dir.path()),
        [
            format!("--defaults-file={d}/backup-my.cnf"),
            "--prepare".into(),
            format!("--target-dir={d}")
        ]
    );
}

#[tokio::test]
async fn the_restored_tree_gets_the_datadirs_owner_and_mode() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: changing owners needs root");
        return;
    }
    let f = Fixture::new(4444);
    let plan = Plan::read(&f.ctx(), Restore::Physical(PhysicalTool::Mariabackup)).unwrap();
    std::os::unix::fs::chown(&plan.datadir, Some(4242), Some(4343)).unwrap();
    std::fs::set_permissions(&plan.datadir, std::fs::Permissions::from_mode(0o750)).unwrap();
    let staging = f.dir.path().join("srv/staging");
    std::fs::create_dir_all(staging.join("shop")).unwrap();
    std::fs::write(staging.join("shop/t.ibd"), b"x").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", staging.join("link")).unwrap();
    super::files::give_datadir_owner(&plan, &staging)
        .await
        .unwrap();
    for p in ["", "shop", "shop/t.ibd", "link"] {
        let meta = std::fs::symlink_metadata(staging.join(p)).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (4242, 4343), "{p}");
    }
    let etc = std::fs::metadata("/etc/passwd").unwrap();
    assert_eq!(etc.uid(), 0, "a link's target is never changed");
    let mode = std::fs::metadata(&staging).unwrap().mode() & 0o7777;
    assert_eq!(mode, 0o750);
}

#[tokio::test]
async fn a_process_is_found_by_its_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    let inside = dir.path().join("data");
    std::fs::create_dir_all(inside.join("sub")).unwrap();
    let sleep = ferryman_exec::Program::find("sleep", "coreutils").unwrap();
    let mut running = sleep
        .command()
        .arg("30")
        .current_dir(inside.join("sub"))
        .spawn_streaming(&ferryman_exec::Streaming::default())
        .unwrap();
    let pid = running.pid().unwrap();
    let _ = running.take_stdout();
    let canonical = std::fs::canonicalize(&inside).unwrap();
    assert_eq!(processes_in(&canonical), [pid]);
    assert!(processes_in(&dir.path().join("other")).is_empty());
    running.kill().await.unwrap();
    assert!(processes_in(&canonical).is_empty());
}

/// Connects to `port` and sends `bytes` (a header, or anything).
async fn send(port: u16, bytes: &[u8]) -> TcpStream {
    let mut sock = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    sock.write_all(bytes).await.unwrap();
    sock
}

async fn connect_when_listening(port: u16) {
    for _ in 0..200 {
        if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the joiner never listened on {port}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_joiner_takes_only_a_stream_with_this_jobs_id_and_token() {
    let port = free_port();
    let f = Fixture::new(port);
    let plan = Plan::read(&f.ctx(), Restore::Physical(PhysicalTool::Mariabackup)).unwrap();
    let token = plan.token.clone();
    let peers = tokio::spawn(async move {
        connect_when_listening(port).await;
        // Garbage, a wrong kind, another job, another token, and one that says nothing.
        let _a = send(port, b"GET / HTTP/1.0\r\n\r\n").await;
        let header = |kind, id, token| StreamHeader::new(kind, id, token).encode();
        let _b = send(port, &header(StreamKind::Backup, 42, token.clone())).await;
        let _c = send(port, &header(StreamKind::Reseed, 41, token.clone())).await;
        let other = ferryman_proto::StreamToken::generate().unwrap();
        let _d = send(port, &header(StreamKind::Reseed, 42, other)).await;
        let _e = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        // The manager.
        let mut sock = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        write_header(&mut sock, &StreamHeader::new(StreamKind::Reseed, 42, token))
            .await
            .unwrap();
        let mut frames = FrameWriter::new(sock);
        frames.write(b"payload").await.unwrap();
        let _sock = frames.finish().await.unwrap();
        tokio::time::sleep(Duration::from_secs(2)).await;
    });
    let ctx = f.ctx();
    let (mut payload, _peer) = receive::accept(&ctx, &plan).await.unwrap();
    assert_eq!(
        f.progress.render().split(';').next(),
        Some("Waiting backup.")
    );
    let mut buf = [0u8; 64];
    let n = payload.read(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"payload");
    assert_eq!(payload.read(&mut buf).await.unwrap(), 0, "trailer checked");
    peers.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_joiner_gives_up_at_its_deadline_and_says_what_it_refused() {
    let port = free_port();
    let mut f = Fixture::new(port);
    // Long enough for the intruder to be refused first even on a loaded machine.
    f.joiner.accept_timeout = Duration::from_secs(5);
    let plan = Plan::read(&f.ctx(), Restore::Physical(PhysicalTool::Mariabackup)).unwrap();
    let peer = tokio::spawn(async move {
        connect_when_listening(port).await;
        let _s = send(port, b"FERRYMN\0\0\x09rest").await;
        tokio::time::sleep(Duration::from_secs(10)).await;
    });
    let err = receive::accept(&f.ctx(), &plan)
        .await
        .unwrap_err()
        .to_string();
    peer.abort();
    assert!(
        err.contains(&format!(
            "no reseed stream with this job's token arrived on 127.0.0.1:{port} within 5 s"
        )),
        "{err}"
    );
    assert!(
        err.contains("connection(s) refused, the last: 127.0.0.1:"),
        "{err}"
    );
    // The probe of connect_when_listening and the bad header are both refused; which of the
    // two is "the last" depends on scheduling.
    assert!(
        err.contains("version 9 is not supported") || err.contains("header truncated"),
        "{err}"
    );

    // Cancelled while waiting: interrupted, at once.
    let f = Fixture::new(free_port());
    f.cancel.cancel();
    let err = receive::accept(&f.ctx(), &plan).await.unwrap_err();
    assert!(matches!(err, Error::Interrupted { .. }), "{err}");
}

#[tokio::test]
async fn a_port_in_use_is_named_with_where_it_comes_from() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let f = Fixture::new(port);
    let plan = Plan::read(&f.ctx(), Restore::Physical(PhysicalTool::Mariabackup)).unwrap();
    let err = receive::accept(&f.ctx(), &plan)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{err}"
    );
    assert!(err.contains("scheduler-db-servers-receiver-ports"), "{err}");
}

#[tokio::test]
async fn xtrabackup_reseeds_fail_clearly_where_it_is_not_installed() {
    if ferryman_exec::Program::find("xbstream", "-").is_ok() {
        eprintln!("skipped: xbstream is installed here");
        return;
    }
    let mut f = Fixture::new(free_port());
    f.task = Task::Reseedxtrabackup;
    f.set_params(|_| {});
    let err = crate::tasks::run(&f.ctx()).await.unwrap_err().to_string();
    assert!(err.contains("xbstream"), "{err}");
    assert!(err.contains("percona-xtrabackup-80"), "{err}");
}

#[tokio::test]
async fn a_staging_directory_left_by_a_crash_is_replaced_by_an_empty_private_one() {
    let f = Fixture::new(4444);
    let plan = Plan::read(&f.ctx(), Restore::Physical(PhysicalTool::Mariabackup)).unwrap();
    std::fs::create_dir_all(plan.staging().join("shop")).unwrap();
    std::fs::write(plan.staging().join("shop/half.ibd"), b"x").unwrap();
    let dir = receive::create_staging(&plan).await.unwrap();
    assert_eq!(dir, plan.staging());
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    let mode = std::fs::metadata(&dir).unwrap().mode() & 0o777;
    assert_eq!(mode, 0o700);
}
