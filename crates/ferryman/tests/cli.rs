//! End-to-end tests of the `ferryman` binary on real sandbox servers.
#![allow(clippy::unwrap_used, clippy::print_stderr)] // test code: panics and stderr are the report

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ferryman_sandbox::Sandbox;

#[path = "daemons/lines.rs"]
mod lines;
#[path = "daemons/process.rs"]
mod process;

fn ferryman(args: &[&str]) -> Output {
    #[allow(clippy::disallowed_methods)] // running the binary under test
    Command::new(env!("CARGO_BIN_EXE_ferryman"))
        .args(args)
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Stops the servers of a sandbox made by the binary, by PID, however the test ends; keeps the
/// directory when the test failed.
struct Guard {
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
}

impl Guard {
    fn new() -> Guard {
        let dir = tempfile::Builder::new()
            .prefix("ferryman-cli")
            .tempdir_in("/tmp")
            .unwrap();
        let path = dir.path().join("sb");
        Guard {
            dir: Some(dir),
            path,
        }
    }
    fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Ok(sb) = Sandbox::open(&self.path) {
            let _ = sb.stop_all_blocking();
        }
        if let Ok(g) = ferryman_sandbox::galera::GaleraSandbox::open(&self.path) {
            let _ = g.stop_all_blocking();
        }
        if std::thread::panicking() {
            if let Some(d) = self.dir.take() {
                eprintln!("test failed: dir kept at {}", d.keep().display());
            }
        }
    }
}

#[test]
fn sandbox_up_topology_down_destroy() {
    let guard = Guard::new();
    let dir = guard.path().to_str().unwrap();

    let up = ferryman(&["sandbox", "up", "--dir", dir, "--replicas", "2"]);
    assert!(up.status.success(), "{}", text(&up));
    let shown = text(&up);
    for name in ["db1", "db2", "db3"] {
        assert!(shown.contains(name), "{shown}");
    }

    let config = format!("{dir}/ferryman.toml");
    let check = ferryman(&["config", "check", &config]);
    assert!(check.status.success(), "{}", text(&check));
    assert!(text(&check).contains("ok (1 cluster(s), 3 server(s))"));

    let topo = ferryman(&["topology", "--config", &config, "--json"]);
    assert!(topo.status.success(), "{}", text(&topo));
    let json: serde_json::Value = serde_json::from_slice(&topo.stdout).unwrap();
    let servers = json[0]["servers"].as_array().unwrap();
    let roles: Vec<&str> = servers
        .iter()
        .map(|s| s["status"]["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["primary", "replica", "replica"]);
    for replica in &servers[1..] {
        assert_eq!(replica["status"]["replication"]["io_running"], "Yes");
        assert_eq!(replica["status"]["replication"]["sql_running"], "Yes");
    }
    let table = ferryman(&["topology", "--config", &config]);
    assert!(text(&table).contains("REPLICATES FROM"), "{}", text(&table));

    let sb = Sandbox::open(guard.path()).unwrap();
    let pids: Vec<u32> = sb
        .state()
        .servers
        .iter()
        .filter_map(|s| sb.pid(s))
        .collect();
    assert_eq!(pids.len(), 3);

    let down = ferryman(&["sandbox", "down", "--dir", dir]);
    assert!(down.status.success(), "{}", text(&down));
    for pid in &pids {
        assert!(
            !ferryman_exec::process::is_running(*pid),
            "pid {pid} survived down"
        );
    }
    // A stopped server makes topology fail, naming the server and what to check.
    let topo = ferryman(&["topology", "--config", &config]);
    assert!(!topo.status.success());
    assert!(
        text(&topo).contains("DOWN: cannot connect to `db1`"),
        "{}",
        text(&topo)
    );

    let destroy = ferryman(&["sandbox", "destroy", "--dir", dir]);
    assert!(destroy.status.success(), "{}", text(&destroy));
    assert!(!guard.path().exists());
}

/// Runs a command line from the configuration, as the agent would (no shell).
fn run_configured(argv: &[String]) -> Output {
    #[allow(clippy::disallowed_methods)] // running the binary under test
    Command::new(&argv[0]).args(&argv[1..]).output().unwrap()
}

/// The replication threads of `name` run (it was started by a command that returns only then).
fn replicating(sb: &Sandbox, name: &str) -> bool {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let reports = rt.block_on(sb.status());
    let report = reports.iter().find(|r| r.name == name).unwrap();
    report
        .status
        .as_ref()
        .and_then(|s| s.replication.as_ref())
        .is_some_and(|r| r.running())
}

#[test]
fn the_configured_service_commands_stop_start_and_restart_one_server() {
    let guard = Guard::new();
    let dir = guard.path().to_str().unwrap();
    let up = ferryman(&["sandbox", "up", "--dir", dir, "--replicas", "1"]);
    assert!(up.status.success(), "{}", text(&up));

    let config_path = guard.path().join("ferryman.toml");
    let check = ferryman(&["config", "check", config_path.to_str().unwrap()]);
    assert!(check.status.success(), "{}", text(&check));
    let config = ferryman_config::Config::load(&config_path).unwrap();
    let (_, db2) = config.server("db2").unwrap();
    let argv =
        |action: &str| ["sandbox", action, "--dir", dir, "--server", "db2"].map(String::from);
    for (command, action) in [
        (&db2.service_start, "start"),
        (&db2.service_stop, "stop"),
        (&db2.service_restart, "restart"),
    ] {
        let bin = std::fs::canonicalize(&command[0]).unwrap();
        assert_eq!(
            bin,
            std::fs::canonicalize(env!("CARGO_BIN_EXE_ferryman")).unwrap()
        );
        assert_eq!(command[1..], argv(action), "{command:?}");
    }

    let sb = Sandbox::open(guard.path()).unwrap();
    let spec = sb.server("db2").unwrap();
    let first = sb.pid(spec).unwrap();
    let primary = sb.pid(sb.primary()).unwrap();

    let unknown = ferryman(&["sandbox", "stop", "--dir", dir, "--server", "db9"]);
    assert!(!unknown.status.success());
    assert!(
        text(&unknown).contains("has no server `db9`: use one of: db1, db2"),
        "{}",
        text(&unknown)
    );

    let stop = run_configured(&db2.service_stop);
    assert!(stop.status.success(), "{}", text(&stop));
    assert_eq!(text(&stop), format!("db2 stopped (was pid {first})\n"));
    assert_eq!(sb.pid(spec), None);
    assert!(!ferryman_exec::process::is_running(first));
    let again = run_configured(&db2.service_stop);
    assert_eq!(text(&again), "db2 was not running\n");

    let start = run_configured(&db2.service_start);
    assert!(start.status.success(), "{}", text(&start));
    let second = sb.pid(spec).unwrap();
    assert_eq!(
        text(&start),
        format!("db2 started (pid {second}), replicating\n")
    );
    assert!(replicating(&sb, "db2"));

    let restart = run_configured(&db2.service_restart);
    assert!(restart.status.success(), "{}", text(&restart));
    let third = sb.pid(spec).unwrap();
    assert_ne!(third, second);
    assert!(!ferryman_exec::process::is_running(second));
    assert_eq!(
        text(&restart),
        format!("db2 restarted (pid {third}), replicating\n")
    );
    assert!(replicating(&sb, "db2"));
    assert_eq!(sb.pid(sb.primary()), Some(primary));
}

#[test]
fn sandbox_reinit_refuses_the_primary_and_replaces_a_replica_with_an_empty_server() {
    let guard = Guard::new();
    let dir = guard.path().to_str().unwrap();
    let up = ferryman(&["sandbox", "up", "--dir", dir, "--replicas", "1"]);
    assert!(up.status.success(), "{}", text(&up));
    let sb = Sandbox::open(guard.path()).unwrap();
    let primary = sb.pid(sb.primary()).unwrap();
    let db2 = sb.server("db2").unwrap();
    let old = sb.pid(db2).unwrap();
    // Something only the old datadir has.
    let datadir = sb.layout().server("db2").datadir();
    std::fs::write(datadir.join("old-data-marker"), b"x").unwrap();

    let refused = ferryman(&["sandbox", "reinit", "--dir", dir, "--server", "db1"]);
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("`db1` is the primary of the sandbox"),
        "{}",
        text(&refused)
    );
    assert_eq!(sb.pid(sb.primary()), Some(primary));

    let reinit = ferryman(&["sandbox", "reinit", "--dir", dir, "--server", "db2"]);
    assert!(reinit.status.success(), "{}", text(&reinit));
    let new = sb.pid(db2).unwrap();
    assert_ne!(new, old);
    assert!(!ferryman_exec::process::is_running(old));
    assert!(
        text(&reinit).starts_with(&format!(
            "db2 is an empty server now (pid {new}), replicating from no one"
        )),
        "{}",
        text(&reinit)
    );
    assert!(!datadir.join("old-data-marker").exists());
    // The sandbox's account logs in (status reads it), and replication is not configured.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let reports = rt.block_on(sb.status());
    let report = reports.iter().find(|r| r.name == "db2").unwrap();
    let status = report
        .status
        .as_ref()
        .unwrap_or_else(|| panic!("{report:?}"));
    assert!(status.replication.is_none(), "{status:?}");
    assert_eq!(status.gtid_slave_pos, "");
    assert_eq!(sb.pid(sb.primary()), Some(primary));
}

#[test]
fn config_check_reports_every_error_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(
        &file,
        "[manager]\nmonitoring-adress = \"10.0.0.1\"\nhttp-port = \"10001\"\n\n[clusters.c]\n",
    )
    .unwrap();
    let out = ferryman(&["config", "check", file.to_str().unwrap()]);
    assert!(!out.status.success());
    let msg = text(&out);
    let file = file.display();
    assert!(
        msg.contains(&format!(
            "{file}:2:1: unknown key `monitoring-adress` in [manager]: did you mean \
             `monitoring-address`?"
        )),
        "{msg}"
    );
    assert!(
        msg.contains(&format!(
            "{file}:3:13: `manager.http-port` is the string \"10001\", but it must be an integer"
        )),
        "{msg}"
    );
    assert!(
        msg.contains("cluster `c` has no servers"),
        "validation goes on: {msg}"
    );
}

const EXAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../config/ferryman.example.toml"
);

/// `ferryman ARGS` without the variables the example names.
fn without_secrets(args: &[&str]) -> Output {
    #[allow(clippy::disallowed_methods)] // running the binary under test
    Command::new(env!("CARGO_BIN_EXE_ferryman"))
        .args(args)
        .env_remove("FERRYMAN_DB_PASSWORD")
        .env_remove("FERRYMAN_REPL_PASSWORD")
        .env_remove("FERRYMAN_API_TOKEN")
        .output()
        .unwrap()
}

#[test]
fn the_example_config_checks_clean_without_its_secrets() {
    let out = without_secrets(&["config", "check", EXAMPLE]);
    let msg = text(&out);
    assert!(out.status.success(), "{msg}");
    assert!(msg.contains("ok (1 cluster(s), 3 server(s))"), "{msg}");
    let warnings: Vec<&str> = msg.lines().filter(|l| l.starts_with("warning: ")).collect();
    // The two variables, and the example's plain joiner and agent API (their default 0.0.0.0,
    // no certificate).
    assert_eq!(warnings.len(), 4, "{msg}");
    assert!(
        warnings[0].ends_with(
            "environment variable `FERRYMAN_DB_PASSWORD` \
             (`clusters.prod.db-servers-credential.password-env`) is not set here: the manager \
             and the agents will need it set to the password when they start"
        ),
        "{msg}"
    );
    assert!(warnings[1].contains("`FERRYMAN_REPL_PASSWORD`"), "{msg}");
    assert!(
        warnings[2].contains("joiners on 0.0.0.0 (agent.joiner-bind-address) cross the network"),
        "{msg}"
    );
    assert!(
        warnings[3].contains("HTTP API on 0.0.0.0 (agent.api-bind-address"),
        "{msg}"
    );
}

#[test]
fn the_daemons_refuse_to_start_without_a_secret_the_check_warns_of() {
    for args in [
        &["agent", "--config", EXAMPLE, "--server", "db1", "--once"][..],
        &["manager", "--config", EXAMPLE][..],
    ] {
        let out = without_secrets(args);
        let msg = text(&out);
        assert!(!out.status.success(), "{args:?}: {msg}");
        assert!(
            msg.contains(
                "environment variable `FERRYMAN_DB_PASSWORD` (`password-env`) is not set: export \
                 it before starting ferryman, or fix `password-env`"
            ),
            "{args:?}: {msg}"
        );
    }
}

#[test]
fn commands_that_ask_the_manager_need_no_database_password() {
    let out = without_secrets(&["jobs", "list", "--config", EXAMPLE]);
    let msg = text(&out);
    assert!(!out.status.success(), "{msg}");
    assert!(!msg.contains("FERRYMAN_DB_PASSWORD"), "{msg}");
    // What stops it is what it does need: the manager's token, or the manager itself.
    assert!(
        msg.contains("no API token") || msg.contains("cannot reach the manager"),
        "{msg}"
    );
}

#[test]
fn the_configuration_file_comes_from_the_option_the_variable_or_etc() {
    // FERRYMAN_CONFIG names it when --config does not.
    #[allow(clippy::disallowed_methods)] // running the binary under test
    let out = Command::new(env!("CARGO_BIN_EXE_ferryman"))
        .args(["manager"])
        .env("FERRYMAN_CONFIG", EXAMPLE)
        .env_remove("FERRYMAN_DB_PASSWORD")
        .env_remove("FERRYMAN_REPL_PASSWORD")
        .output()
        .unwrap();
    let msg = text(&out);
    assert!(!out.status.success(), "{msg}");
    assert!(
        msg.contains("ferryman.example.toml") && msg.contains("FERRYMAN_DB_PASSWORD"),
        "{msg}"
    );
    // Neither: the default path, and how to give another.
    #[allow(clippy::disallowed_methods)] // running the binary under test
    let out = Command::new(env!("CARGO_BIN_EXE_ferryman"))
        .args(["topology"])
        .env_remove("FERRYMAN_CONFIG")
        .output()
        .unwrap();
    let msg = text(&out);
    if !Path::new("/etc/ferryman/ferryman.toml").exists() {
        assert!(!out.status.success(), "{msg}");
        assert!(
            msg.contains("/etc/ferryman/ferryman.toml: cannot read the config file")
                && msg.contains("--config FILE")
                && msg.contains("FERRYMAN_CONFIG"),
            "{msg}"
        );
    }
}

#[test]
fn a_missing_mariadbd_names_the_packages_to_install() {
    let empty = tempfile::tempdir().unwrap();
    let dir = empty.path().join("sb");
    #[allow(clippy::disallowed_methods)] // running the binary under test
    let out = Command::new(env!("CARGO_BIN_EXE_ferryman"))
        .args(["sandbox", "up", "--dir", dir.to_str().unwrap()])
        .env("FERRYMAN_MARIADB_BINDIR", empty.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let msg = text(&out);
    assert!(msg.contains("mariadbd` is not installed"), "{msg}");
    assert!(msg.contains("mariadb-server"), "{msg}");
    assert!(msg.contains("scripts/install-deps.sh"), "{msg}");
}

/// Two linked Galera clusters made by the binary: the keeper adopts the link the sandbox
/// started on b1, b2's keeper stands by, and `galera-link status` shows it.
#[test]
fn galera_link_adopts_the_sandbox_link_and_status_shows_it() {
    let guard = Guard::new();
    let dir = guard.path().to_str().unwrap().to_owned();
    let out = ferryman(&[
        "sandbox",
        "up",
        "--dir",
        &dir,
        "--galera",
        "2",
        "--clusters",
        "2",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let config = format!("{dir}/ferryman.toml");
    // A manager tells the keepers' events as `link-event`s.
    // Its log outside the sandbox, which `sandbox destroy` removes before the log is checked.
    let logs = tempfile::tempdir().unwrap();
    let mut manager = process::Daemon::start(Path::new(&config), logs.path().join("manager.log"));
    // Galera nodes all replicate from no one: to the asynchronous-replication monitor, a split.
    manager.expect_error("replicate from no one");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !ferryman(&["status", "--config", &config]).status.success() {
        assert!(
            std::time::Instant::now() < deadline,
            "the manager did not answer:\n{}",
            manager.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let once = |server: &str| {
        let out = ferryman(&[
            "galera-link",
            "--config",
            &config,
            "--server",
            server,
            "--once",
            "--json",
        ]);
        assert!(out.status.success(), "{}", text(&out));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let b1 = once("b1");
    assert_eq!(b1["role"], "replica", "{b1}");
    assert_eq!(b1["events"][0]["kind"], "new-replica", "{b1}");
    assert!(
        b1["events"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("adopted"),
        "{b1}"
    );
    let b2 = once("b2");
    assert_eq!(b2["role"], "standby", "{b2}");
    assert_eq!(b2["replica"], "b1", "{b2}");
    let a1 = once("a1");
    assert_eq!(a1["role"], "idle", "{a1}");

    let out = ferryman(&[
        "galera-link",
        "status",
        "--config",
        &config,
        "--cluster",
        "beta",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let beta = &status[0];
    assert_eq!(beta["lease"]["owner"], "b1", "{beta}");
    let g = ferryman_sandbox::galera::GaleraSandbox::open(guard.path()).unwrap();
    let a1_port = g.node("a1").unwrap().1.port;
    assert_eq!(
        beta["lease"]["master"],
        format!("127.0.0.1:{a1_port}"),
        "{beta}"
    );
    let replicating: Vec<&str> = beta["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["replicating"] == true)
        .map(|n| n["server"].as_str().unwrap())
        .collect();
    assert_eq!(replicating, ["b1"], "{beta}");
    let out = ferryman(&["galera-link", "status", "--config", &config]);
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("link: replica b1 (term 1"), "{shown}");
    assert!(shown.contains("replicates from no one"), "{shown}");
    assert!(shown.contains("new-replica"), "{shown}");

    // The manager told the adoption once, as an info `link-event` of cluster beta.
    let link_events = || -> Vec<serde_json::Value> {
        let out = ferryman(&["events", "--config", &config, "--json"]);
        assert!(out.status.success(), "{}", text(&out));
        let all: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
        all.into_iter()
            .filter(|e| e["kind"] == "link-event")
            .collect()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(40);
    while link_events().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "no link-event:\n{}",
            manager.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let told = link_events();
    assert_eq!(told.len(), 1, "{told:#?}");
    assert_eq!(told[0]["cluster"], "beta", "{told:#?}");
    assert_eq!(told[0]["severity"], "info", "{told:#?}");
    let message = told[0]["message"].as_str().unwrap();
    assert!(
        message.contains("new-replica on b1") && message.contains("adopted"),
        "{message}"
    );
    // And the link's state is a metric: beta replicates (b1), in term 1.
    let parsed = ferryman_config::Config::load(Path::new(&config)).unwrap();
    let token =
        std::fs::read_to_string(parsed.manager.monitoring_datadir.join("api.token")).unwrap();
    let scrape = || -> String {
        use std::io::{Read, Write};
        let mut tcp =
            std::net::TcpStream::connect(("127.0.0.1", parsed.manager.http_port)).unwrap();
        write!(
            tcp,
            "GET /metrics HTTP/1.0\r\nAuthorization: Bearer {}\r\n\r\n",
            token.trim()
        )
        .unwrap();
        let mut body = String::new();
        tcp.read_to_string(&mut body).unwrap();
        body
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(40);
    loop {
        let metrics = scrape();
        if metrics.contains("ferryman_galera_link_replicating{cluster=\"beta\"} 1") {
            assert!(
                metrics.contains("ferryman_galera_link_term{cluster=\"beta\"} 1"),
                "{metrics}"
            );
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{metrics}");
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let status = manager.stop();
    assert!(status.success(), "{status}");

    let out = ferryman(&[
        "galera-link",
        "--config",
        &config,
        "--server",
        "nope",
        "--once",
    ]);
    assert!(!out.status.success());
    assert!(text(&out).contains("no server `nope`"), "{}", text(&out));
    let out = ferryman(&["sandbox", "destroy", "--dir", &dir]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn completions_and_man_pages_come_from_the_command_line_definition() {
    let out = ferryman(&["completions", "bash"]);
    assert!(out.status.success());
    let script = String::from_utf8_lossy(&out.stdout);
    assert!(script.contains("_ferryman()"), "{script}");
    for sub in ["backup", "status", "events", "reseed"] {
        assert!(
            script.contains(sub),
            "{sub} missing from the bash completion"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let out = ferryman(&["man", "--dir", dir.path().to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = std::fs::read_to_string(dir.path().join("ferryman-backup.1")).unwrap();
    assert!(page.contains(".TH ferryman-backup 1"), "{page}");
    assert!(
        page.contains("Start, list and show backups"),
        "the page is the subcommand's own: {page}"
    );
    assert!(dir.path().join("ferryman.1").exists());
}

#[test]
fn json_logs_are_one_object_per_line_with_level_target_and_fields() {
    let dir = tempfile::tempdir().unwrap();
    // A closed loopback port: the agent's pass fails fast, after its start-up warning.
    let port = ferryman_sandbox::free_port().unwrap();
    let key = dir.path().join("missing-row.key");
    let text_of = std::fs::read_to_string(EXAMPLE)
        .unwrap()
        .replace("\"10.0.0.1\"", "\"127.0.0.1\"")
        .replace("port = 3306", &format!("port = {port}"))
        .replace(
            "\"/etc/ferryman/row.key\"",
            &format!("{:?}", key.display().to_string()),
        );
    let config = dir.path().join("ferryman.toml");
    std::fs::write(&config, text_of).unwrap();
    #[allow(clippy::disallowed_methods)] // running the binary under test
    let out = Command::new(env!("CARGO_BIN_EXE_ferryman"))
        .args(["agent", "--once", "--server", "db1", "--config"])
        .arg(&config)
        .env("FERRYMAN_LOG_FORMAT", "json")
        .env("FERRYMAN_DB_PASSWORD", "not-a-secret")
        .env("FERRYMAN_REPL_PASSWORD", "not-a-secret")
        .env_remove("FERRYMAN_LOG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    // Log lines are JSON objects; the command's own error (not a log line) stays text.
    let logs: Vec<serde_json::Value> = stderr
        .lines()
        .filter(|l| !l.starts_with("error: ") && !l.is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}\n{stderr}")))
        .collect();
    let warning = logs
        .iter()
        .find(|l| l["message"].as_str().unwrap_or("").contains("row key"))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert_eq!(warning["level"], "WARN", "{warning}");
    assert_eq!(warning["target"], "ferryman_agent::tasks", "{warning}");
    assert!(
        warning["error"]
            .as_str()
            .unwrap()
            .contains("missing-row.key"),
        "{warning}"
    );
    assert!(
        warning["timestamp"].as_str().unwrap().ends_with('Z'),
        "{warning}"
    );
    assert!(
        stderr.contains("error: the pass over `db1`'s jobs table ended early"),
        "{stderr}"
    );
}
