//! The throwaway server against real backups: a sandbox primary with a small `shop` schema is
//! dumped with `mariadb-dump`, backed up with `mariabackup --stream=xbstream` and dumped with
//! `mydumper` (tarred as the agent does) once per test run; each test restores one of those on
//! its own throwaway server, under its own work directory, and checks what is left afterwards.

#![allow(clippy::unwrap_used)] // test code: a panic is the report

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use ferryman_db::mysql_async::prelude::Queryable;
use ferryman_db::{Endpoint, Session};
use ferryman_exec::{process, Program, Streaming};
use ferryman_sandbox::testing::TestSandbox;
use ferryman_verify::throwaway::{sweep, PhysicalTool, Throwaway, ThrowawayOptions};
use ferryman_verify::Error;

/// Tables of the `shop` schema whose rows are compared.
const TABLES: [&str; 3] = ["shop.customers", "shop.orders", "shop.audit"];

/// The backups of the source, made once per test run.
#[derive(Debug)]
struct Payloads {
    /// `mariadb-dump --all-databases` output.
    dump: PathBuf,
    /// `mariabackup --backup --stream=xbstream` output.
    xbstream: PathBuf,
    /// mydumper's directory as `tar -C DIR -cf - .`.
    mydumper_tar: PathBuf,
    /// `(table, rows)` on the source.
    rows: Vec<(String, u64)>,
    /// `HEX(note)` of the order with the awkward BLOB, on the source.
    blob_hex: String,
}

/// The payloads, made by the first test that needs them (on a thread of its own with its own
/// runtime, so no test's runtime owns the source sandbox, which is stopped once they exist).
fn payloads() -> &'static Payloads {
    static PAYLOADS: OnceLock<Payloads> = OnceLock::new();
    PAYLOADS.get_or_init(|| {
        std::thread::spawn(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap()
                .block_on(make_payloads())
        })
        .join()
        .expect("making the payloads failed")
    })
}

async fn make_payloads() -> Payloads {
    // Under the target directory (not /tmp: nothing of it must outlive `cargo clean`); one
    // directory per test process, those of finished processes removed first.
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("verify-throwaway");
    std::fs::create_dir_all(&base).unwrap();
    for entry in std::fs::read_dir(&base).unwrap().flatten() {
        let pid: Option<u32> = entry.file_name().to_str().and_then(|n| n.parse().ok());
        if pid.is_some_and(|p| !process::is_running(p)) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    let dir = base.join(std::process::id().to_string());
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();

    let sb = TestSandbox::start(0).await;
    let name = sb.primary().name.clone();
    sb.sql(
        &name,
        r#"CREATE DATABASE shop;
          CREATE TABLE shop.customers (id INT PRIMARY KEY, name VARCHAR(100)) ENGINE=InnoDB;
          CREATE TABLE shop.orders (id INT PRIMARY KEY, customer_id INT, amount DECIMAL(10,2),
              note BLOB) ENGINE=InnoDB;
          CREATE TABLE shop.audit (id INT AUTO_INCREMENT PRIMARY KEY, order_id INT) ENGINE=InnoDB;
          CREATE TRIGGER shop.orders_audit AFTER INSERT ON shop.orders
              FOR EACH ROW INSERT INTO shop.audit (order_id) VALUES (NEW.id);
          CREATE VIEW shop.big_orders AS SELECT id, amount FROM shop.orders WHERE amount > 500;
          INSERT INTO shop.customers SELECT seq, CONCAT('customer ', seq) FROM mysql.seq_1_to_300;
          INSERT INTO shop.orders SELECT seq, seq % 300 + 1, seq * 1.5, REPEAT('n', seq % 50)
              FROM mysql.seq_1_to_2000;
          INSERT INTO shop.orders VALUES
              (2001, 1, 9.99, CONCAT('a', CHAR(0), 'b''c"d\\e', CHAR(13,10), 'f'));"#,
    )
    .await;
    let mut rows = Vec::new();
    for table in TABLES {
        let got = sb
            .sql(&name, &format!("SELECT COUNT(*) FROM {table}"))
            .await;
        let n: u64 = got[0].get(0).unwrap();
        rows.push((table.to_owned(), n));
    }
    let blob = sb
        .sql(&name, "SELECT HEX(note) FROM shop.orders WHERE id = 2001")
        .await;
    let blob_hex: String = blob[0].get(0).unwrap();

    // As OS root, `root` logs in through the socket named in the server's [client] section.
    let cnf = sb.layout().server(&name).defaults_file();
    let defaults = format!("--defaults-file={}", cnf.display());
    let dump = dir.join("dump.sql");
    run_to_file(
        "mariadb-dump",
        &[
            &defaults,
            "--user=root",
            "--all-databases",
            "--single-transaction",
            "--routines",
            "--events",
            "--triggers",
            "--flush-privileges",
        ],
        &dump,
    )
    .await;
    let xbstream = dir.join("backup.xb");
    run_to_file(
        "mariabackup",
        &[&defaults, "--user=root", "--backup", "--stream=xbstream"],
        &xbstream,
    )
    .await;
    let mydumper_dir = dir.join("mydumper");
    let socket = sb.layout().server(&name).socket();
    Program::find("mydumper", "mydumper")
        .unwrap()
        .command()
        .arg(&defaults)
        .args(["--user", "root", "--socket"])
        .arg(&socket)
        .arg(format!("--outputdir={}", mydumper_dir.display()))
        .args([
            "--threads=2",
            "--trx-consistency-only",
            "--triggers",
            "--events",
            "--routines",
        ])
        .run()
        .await
        .unwrap();
    // Exactly the agent's archive (crates/agent/src/tasks/logical.rs `send_tar`).
    let mydumper_tar = dir.join("mydumper.tar");
    let dump_dir = mydumper_dir.display().to_string();
    run_to_file("tar", &["-C", &dump_dir, "-cf", "-", "."], &mydumper_tar).await;
    drop(sb);
    Payloads {
        dump,
        xbstream,
        mydumper_tar,
        rows,
        blob_hex,
    }
}

/// Runs `program` with `args`, its stdout into `out`; panics unless it exits 0.
async fn run_to_file(program: &str, args: &[&str], out: &Path) {
    let tool = Program::find(program, program).unwrap();
    let mut running = tool
        .command()
        .args(args)
        .spawn_streaming(&Streaming::default())
        .unwrap();
    let mut stdout = running.take_stdout().unwrap();
    let mut file = tokio::fs::File::create(out).await.unwrap();
    tokio::io::copy(&mut stdout, &mut file).await.unwrap();
    let finished = running.wait().await.unwrap();
    assert!(
        finished.status.success(),
        "{program} failed: {}",
        finished.stderr_tail(10)
    );
}

/// A private work directory (short: socket paths are limited) and options for small servers.
fn options() -> (tempfile::TempDir, ThrowawayOptions) {
    let work = tempfile::Builder::new()
        .prefix("fvt")
        .tempdir_in("/tmp")
        .unwrap();
    let opts = ThrowawayOptions {
        work_dir: work.path().join("w"),
        buffer_pool_mib: 64,
        start_timeout: Duration::from_secs(120),
    };
    (work, opts)
}

fn open(path: &Path) -> Box<dyn Read + Send> {
    Box::new(std::fs::File::open(path).unwrap())
}

async fn query_u64(endpoint: &Endpoint, sql: &str) -> u64 {
    let mut conn = endpoint.connect(Session::Plain).await.unwrap();
    let n: Option<u64> = conn.query_first(sql).await.unwrap();
    conn.disconnect().await.unwrap();
    n.unwrap()
}

async fn query_string(endpoint: &Endpoint, sql: &str) -> String {
    let mut conn = endpoint.connect(Session::Plain).await.unwrap();
    let s: Option<String> = conn.query_first(sql).await.unwrap();
    conn.disconnect().await.unwrap();
    s.unwrap()
}

/// The restored copy has the source's rows, its awkward BLOB byte for byte, its view and its
/// trigger.
async fn assert_restored(server: &Throwaway, payloads: &Payloads) {
    let endpoint = server.endpoint();
    for (table, rows) in &payloads.rows {
        let got = query_u64(&endpoint, &format!("SELECT COUNT(*) FROM {table}")).await;
        assert_eq!(got, *rows, "{table}");
    }
    let blob = query_string(
        &endpoint,
        "SELECT HEX(note) FROM shop.orders WHERE id = 2001",
    )
    .await;
    assert_eq!(blob, payloads.blob_hex);
    assert!(query_u64(&endpoint, "SELECT COUNT(*) FROM shop.big_orders").await > 0);
    let triggers = query_u64(
        &endpoint,
        "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'shop'",
    )
    .await;
    assert_eq!(triggers, 1);
}

/// Removes the server and checks that neither its process nor its directory is left, and
/// that it logged no error meanwhile.
async fn remove_and_check(server: Throwaway) {
    let pid = server.pid().expect("a started server has a PID");
    let dir = server.dir().to_owned();
    let log = std::fs::read_to_string(dir.join("err.log")).unwrap();
    let errors: Vec<&str> = log.lines().filter(|l| l.contains("[ERROR]")).collect();
    assert_eq!(errors, Vec::<&str>::new(), "the server logged errors");
    server.remove().await.unwrap();
    assert_gone(pid, &dir);
}

fn assert_gone(pid: u32, dir: &Path) {
    assert!(!process::is_running(pid), "mariadbd {pid} still runs");
    assert!(!dir.exists(), "{} still exists", dir.display());
    assert_eq!(processes_naming(dir), Vec::<u32>::new());
}

/// Live processes whose command line names `dir`.
fn processes_naming(dir: &Path) -> Vec<u32> {
    let needle = dir.display().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| {
            pid != std::process::id()
                && process::is_running(pid)
                && process::cmdline(pid).contains(&needle)
        })
        .collect()
}

fn step_names(steps: &[(&'static str, f64)]) -> Vec<&'static str> {
    steps.iter().map(|(s, _)| *s).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dump_imports_into_an_empty_server_and_is_removed() {
    let payloads = payloads();
    let (_work, opts) = options();
    let (server, started) = Throwaway::empty(&opts, "dump").await.unwrap();
    assert_eq!(step_names(&started.steps), ["install", "start"]);
    assert!(server.dir().starts_with(&opts.work_dir));
    let imported = server.import_sql(open(&payloads.dump)).await.unwrap();
    assert_eq!(step_names(&imported.steps), ["import"]);
    assert_eq!(
        imported.bytes,
        std::fs::metadata(&payloads.dump).unwrap().len()
    );
    assert_restored(&server, payloads).await;
    remove_and_check(server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dump_that_gives_root_a_password_still_leaves_the_server_reachable() {
    let payloads = payloads();
    let (_work, opts) = options();
    let (server, _) = Throwaway::empty(&opts, "pw").await.unwrap();
    // As a production dump with `--flush-privileges` does: root now has a password we do not
    // know (the statements are in the payload, never on a command line).
    let mut dump = std::fs::read(&payloads.dump).unwrap();
    dump.extend_from_slice(
        b"\nALTER USER root@localhost IDENTIFIED BY 'not-known-to-the-verifier';\nFLUSH PRIVILEGES;\n",
    );
    let first_pid = server.pid().unwrap();
    let imported = server
        .import_sql(Box::new(std::io::Cursor::new(dump)))
        .await
        .unwrap();
    assert_eq!(step_names(&imported.steps), ["import", "restart"]);
    assert_ne!(server.pid(), Some(first_pid));
    assert!(!process::is_running(first_pid));
    assert_restored(&server, payloads).await;
    remove_and_check(server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_physical_backup_extracts_prepares_and_starts() {
    let payloads = payloads();
    let (_work, opts) = options();
    let (server, timings) = Throwaway::physical(
        &opts,
        "xb",
        PhysicalTool::Mariabackup,
        open(&payloads.xbstream),
    )
    .await
    .unwrap();
    assert_eq!(step_names(&timings.steps), ["extract", "prepare", "start"]);
    assert_eq!(
        timings.bytes,
        std::fs::metadata(&payloads.xbstream).unwrap().len()
    );
    let cnf = std::fs::read_to_string(server.dir().join("my.cnf")).unwrap();
    assert!(cnf.contains("loose-innodb_page_size=16384"), "{cnf}");
    assert!(cnf.contains("skip-grant-tables"), "{cnf}");
    assert!(!cnf.contains("undo_directory"), "{cnf}");
    assert_restored(&server, payloads).await;
    remove_and_check(server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mydumper_archive_loads() {
    let payloads = payloads();
    let (_work, opts) = options();
    let (server, _) = Throwaway::empty(&opts, "mydumper").await.unwrap();
    let loaded = server
        .load_mydumper(open(&payloads.mydumper_tar))
        .await
        .unwrap();
    assert_eq!(step_names(&loaded.steps), ["extract", "import"]);
    assert_eq!(
        loaded.bytes,
        std::fs::metadata(&payloads.mydumper_tar).unwrap().len()
    );
    assert!(
        !server.dir().join("load").exists(),
        "extracted files are freed"
    );
    assert_restored(&server, payloads).await;
    remove_and_check(server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_statement_fails_the_import_with_the_clients_words() {
    let payloads = payloads();
    let (_work, opts) = options();
    let (server, _) = Throwaway::empty(&opts, "bad").await.unwrap();
    let dump = std::fs::read_to_string(&payloads.dump).unwrap();
    let footer = dump.rfind("-- Dump completed").expect("dump footer");
    let broken = format!(
        "{}THIS IS NOT SQL AT ALL;\n{}",
        &dump[..footer],
        &dump[footer..]
    );
    let err = server
        .import_sql(Box::new(std::io::Cursor::new(broken.into_bytes())))
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, Error::Restore { step: "import", .. }),
        "{msg}"
    );
    assert!(msg.contains("ERROR 1064"), "{msg}");
    assert!(!msg.to_lowercase().contains("broken pipe"), "{msg}");
    remove_and_check(server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_xbstream_fails_and_leaves_nothing() {
    let payloads = payloads();
    let (_work, opts) = options();
    let len = std::fs::metadata(&payloads.xbstream).unwrap().len();
    let cut = std::fs::File::open(&payloads.xbstream)
        .unwrap()
        .take(len / 2);
    let err = Throwaway::physical(&opts, "cut", PhysicalTool::Mariabackup, Box::new(cut))
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(
            err,
            Error::Restore {
                step: "extract",
                ..
            }
        ),
        "{msg}"
    );
    assert!(msg.contains("mbstream"), "{msg}");
    assert_work_dir_empty(&opts.work_dir);

    // A payload that cannot be read (a repository that fails to decompress) is the
    // payload's error, not the tool's; nothing is left either.
    let failing = std::fs::File::open(&payloads.xbstream)
        .unwrap()
        .take(len / 3)
        .chain(FailingReader);
    let err = Throwaway::physical(&opts, "fail", PhysicalTool::Mariabackup, Box::new(failing))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Payload { .. }), "{err}");
    assert!(err.to_string().contains("zstd says no"), "{err}");
    assert_work_dir_empty(&opts.work_dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_xtrabackup_names_its_package_and_creates_nothing() {
    if Program::find("xbstream", "").is_ok() {
        return; // installed here: nothing to show
    }
    let (_work, opts) = options();
    let err = Throwaway::physical(
        &opts,
        "xt",
        PhysicalTool::Xtrabackup,
        Box::new(std::io::empty()),
    )
    .await
    .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("`xbstream` is not installed"), "{msg}");
    assert!(msg.contains("percona-xtrabackup"), "{msg}");
    assert!(!opts.work_dir.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_server_is_killed_and_removed() {
    let (_work, opts) = options();
    let (server, _) = Throwaway::empty(&opts, "drop").await.unwrap();
    let pid = server.pid().unwrap();
    let dir = server.dir().to_owned();
    assert!(process::is_running(pid));
    drop(server);
    assert_gone(pid, &dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_removes_leftovers_and_signals_no_stranger() {
    let (_work, opts) = options();
    // A crashed verifier: the server runs on, nobody owns it.
    let (server, _) = Throwaway::empty(&opts, "crash").await.unwrap();
    let pid = server.pid().unwrap();
    let dir = server.dir().to_owned();
    std::mem::forget(server);
    // Should this test fail before sweep did its work, the forgotten server still goes.
    let _guard = KillOnDrop {
        pid,
        dir: dir.clone(),
    };
    assert!(process::is_running(pid));

    // A leftover whose pid file names a PID since taken by unrelated processes: this test
    // process itself, and a `sleep`.
    let mut stranger = Program::find("sleep", "coreutils")
        .unwrap()
        .command()
        .arg("300")
        .spawn_streaming(&Streaming::default())
        .unwrap();
    let stranger_pid = stranger.pid().unwrap();
    let _ = stranger.take_stdout();
    let recycled = opts.work_dir.join("tw-old-1-1");
    std::fs::create_dir_all(recycled.join("data")).unwrap();
    std::fs::write(recycled.join("pid"), format!("{}\n", std::process::id())).unwrap();
    let recycled_too = opts.work_dir.join("tw-old-1-2");
    std::fs::create_dir_all(&recycled_too).unwrap();
    std::fs::write(recycled_too.join("pid"), format!("{stranger_pid}\n")).unwrap();
    // Not ours: left alone.
    let other = opts.work_dir.join("keep-me");
    std::fs::create_dir_all(&other).unwrap();

    let mut removed = sweep(&opts.work_dir).unwrap();
    removed.sort();
    let mut expected = vec![dir.clone(), recycled, recycled_too];
    expected.sort();
    assert_eq!(removed, expected);
    assert_gone(pid, &dir);
    assert!(
        process::is_running(stranger_pid),
        "an unrelated process was signalled"
    );
    assert!(other.exists());
    assert_eq!(sweep(&opts.work_dir).unwrap(), Vec::<PathBuf>::new());
    assert_eq!(
        sweep(&opts.work_dir.join("missing")).unwrap(),
        Vec::<PathBuf>::new()
    );
    stranger.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_restore_leaves_nothing() {
    let payloads = payloads();
    let (_work, opts) = options();
    // Cancelled while installing or starting (the future is dropped, as a verification's
    // timeout does): `mariadb-install-db`'s bootstrap server or the daemon must not survive.
    for ms in [150, 400, 700] {
        let started =
            tokio::time::timeout(Duration::from_millis(ms), Throwaway::empty(&opts, "cancel"))
                .await;
        drop(started);
        assert_work_dir_empty(&opts.work_dir);
    }
    // Cancelled in the middle of the extraction.
    let slow = SlowReader(std::fs::File::open(&payloads.xbstream).unwrap());
    let cancelled = tokio::time::timeout(
        Duration::from_millis(500),
        Throwaway::physical(&opts, "slow", PhysicalTool::Mariabackup, Box::new(slow)),
    )
    .await;
    assert!(cancelled.is_err(), "the extraction should still be running");
    assert_work_dir_empty(&opts.work_dir);
}

/// A payload that arrives slowly: 64 KiB every 50 ms.
struct SlowReader(std::fs::File);

impl Read for SlowReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        std::thread::sleep(Duration::from_millis(50));
        let n = buf.len().min(64 * 1024);
        self.0.read(&mut buf[..n])
    }
}

/// Kills `pid` on drop if it is still the server of `dir` (a leftover of a failed test).
struct KillOnDrop {
    pid: u32,
    dir: PathBuf,
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let needle = format!("{}/", self.dir.display());
        if process::is_running(self.pid) && process::cmdline(self.pid).contains(&needle) {
            let _ = process::kill_now(self.pid);
        }
    }
}

/// Nothing under the work directory, and no process working in it.
fn assert_work_dir_empty(work_dir: &Path) {
    let left: Vec<PathBuf> = std::fs::read_dir(work_dir)
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert_eq!(left, Vec::<PathBuf>::new());
    assert_eq!(processes_naming(work_dir), Vec::<u32>::new());
}

/// A reader that fails, as a payload whose decompression fails does.
struct FailingReader;

impl Read for FailingReader {
    fn read(&mut self, _buf: &mut [u8]) -> std::io::Result<usize> {
        Err(std::io::Error::other("zstd says no"))
    }
}
