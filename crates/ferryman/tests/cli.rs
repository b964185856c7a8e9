//! End-to-end tests of the `ferryman` binary on real sandbox servers.
#![allow(clippy::unwrap_used, clippy::print_stderr)] // test code: panics and stderr are the report

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ferryman_sandbox::Sandbox;

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

#[test]
fn config_check_reports_a_typo_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(
        &file,
        "[manager]\nmonitoring-adress = \"10.0.0.1\"\n\n[clusters.c]\n",
    )
    .unwrap();
    let out = ferryman(&["config", "check", file.to_str().unwrap()]);
    assert!(!out.status.success());
    let msg = text(&out);
    assert!(msg.contains(&format!("{}:2:", file.display())), "{msg}");
    assert!(msg.contains("monitoring-adress"), "{msg}");
}

#[test]
fn the_example_config_checks_clean() {
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../config/ferryman.example.toml"
    );
    #[allow(clippy::disallowed_methods)] // running the binary under test
    let out = Command::new(env!("CARGO_BIN_EXE_ferryman"))
        .args(["config", "check", example])
        .env("FERRYMAN_DB_PASSWORD", "x")
        .env("FERRYMAN_REPL_PASSWORD", "y")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
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
