//! The Debian package, built by `packaging/build-deb.sh` from this build's binary: its contents,
//! its maintainer scripts, its systemd units checked by `systemd-analyze`, and the units'
//! command lines (taken from the packaged unit files, the binary from the package) starting a
//! manager and two agents that take a backup of a sandbox.
//!
//! No systemd runs on the test machines, so the units are not started by systemd: their
//! `ExecStart` and `Environment` lines are run as systemd would run them (without the `User=`
//! switch: the sandbox's servers run as this test's user).
#![allow(clippy::unwrap_used, clippy::print_stderr)] // test code: panics and stderr are the report

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use ferryman_sandbox::testing::TestSandbox;

const BIN: &str = env!("CARGO_BIN_EXE_ferryman");

#[allow(clippy::disallowed_methods)] // running the packaging tools and the packaged binary
fn run(program: &str, args: &[&str]) -> Output {
    let out = Command::new(program).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A unit's `ExecStart` (split on spaces, `%i` replaced) and its `Environment=` pairs.
fn unit_command(unit: &Path, instance: &str) -> (Vec<String>, Vec<(String, String)>) {
    let text = std::fs::read_to_string(unit).unwrap();
    let mut exec = Vec::new();
    let mut env = Vec::new();
    for line in text.lines() {
        if let Some(cmd) = line.strip_prefix("ExecStart=") {
            exec = cmd
                .split_whitespace()
                .map(|w| w.replace("%i", instance))
                .collect();
        } else if let Some(pair) = line.strip_prefix("Environment=") {
            let (k, v) = pair.split_once('=').unwrap();
            env.push((k.to_owned(), v.to_owned()));
        }
    }
    assert!(!exec.is_empty(), "{} has no ExecStart", unit.display());
    (exec, env)
}

/// A process started from a unit's command line; killed if the test ends first.
struct Unit {
    child: Option<Child>,
    log: PathBuf,
}

impl Unit {
    /// Starts `unit` as systemd would, the binary taken from `root` and `FERRYMAN_CONFIG`
    /// pointed at `config`.
    fn start(root: &Path, unit: &str, instance: &str, config: &Path, log: PathBuf) -> Unit {
        let (exec, env) = unit_command(&root.join("lib/systemd/system").join(unit), instance);
        assert_eq!(exec[0], "/usr/bin/ferryman", "{exec:?}");
        let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["FERRYMAN_CONFIG"], "{unit}: {env:?}");
        let binary = root.join("usr/bin/ferryman");
        #[allow(clippy::disallowed_methods)] // the packaged binary, as its unit runs it
        let child = Command::new(binary)
            .args(&exec[1..])
            .env("FERRYMAN_CONFIG", config)
            .env_remove("FERRYMAN_API_TOKEN")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Unit {
            child: Some(child),
            log,
        }
    }

    /// SIGTERM (what `systemctl stop` sends), then the exit status within 60 s.
    fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().unwrap();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "no exit within 60 s of SIGTERM:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Unit {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_debian_package_installs_and_its_units_run_a_manager_and_agents() {
    let dir = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging/build-deb.sh");
    let out = run(
        "bash",
        &[
            script.to_str().unwrap(),
            "--binary",
            BIN,
            "--out",
            dir.path().to_str().unwrap(),
            "--fast",
        ],
    );
    let deb = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(deb.ends_with(".deb"), "{deb}");

    // What it holds.
    let contents = String::from_utf8(run("dpkg-deb", &["--contents", &deb]).stdout).unwrap();
    for path in [
        "./usr/bin/ferryman",
        "./lib/systemd/system/ferryman-manager.service",
        "./lib/systemd/system/ferryman-agent@.service",
        "./usr/share/doc/ferryman/examples/ferryman.example.toml",
        "./usr/share/doc/ferryman/examples/prometheus-alerts.yml",
        "./usr/share/doc/ferryman/examples/grants.sql",
        "./usr/share/doc/ferryman/examples/sudoers-ferryman-agent",
        "./usr/share/doc/ferryman/copyright",
        "./usr/share/man/man1/ferryman.1.gz",
        "./usr/share/man/man1/ferryman-backup.1.gz",
        "./usr/share/bash-completion/completions/ferryman",
        "./usr/share/zsh/vendor-completions/_ferryman",
        "./usr/share/fish/vendor_completions.d/ferryman.fish",
    ] {
        assert!(contents.contains(path), "{path} missing:\n{contents}");
    }
    let fields =
        String::from_utf8(run("dpkg-deb", &["--field", &deb, "Package", "Version"]).stdout)
            .unwrap();
    assert!(fields.contains("Package: ferryman"), "{fields}");
    assert!(
        fields.contains(&format!("Version: {}", env!("CARGO_PKG_VERSION"))),
        "{fields}"
    );

    // Its maintainer scripts parse; `dpkg --install` would run them.
    let control = dir.path().join("control");
    run("dpkg-deb", &["--control", &deb, control.to_str().unwrap()]);
    for script in ["postinst", "postrm"] {
        run("sh", &["-n", control.join(script).to_str().unwrap()]);
    }

    // Installed into a root of its own.
    let root = dir.path().join("root");
    run("dpkg-deb", &["--extract", &deb, root.to_str().unwrap()]);
    // systemd's own checker accepts the units (an unknown key or a bad value is reported;
    // /usr/bin/ferryman is only in that root, not on this host).
    let units = dir.path().join("units");
    std::fs::create_dir(&units).unwrap();
    for (from, to) in [
        ("ferryman-manager.service", "ferryman-manager.service"),
        ("ferryman-agent@.service", "ferryman-agent@db1.service"),
    ] {
        std::fs::copy(root.join("lib/systemd/system").join(from), units.join(to)).unwrap();
        let out = {
            #[allow(clippy::disallowed_methods)] // systemd's unit checker
            Command::new("systemd-analyze")
                .args(["verify", "--man=no"])
                .arg(units.join(to))
                .output()
                .unwrap()
        };
        let said = String::from_utf8_lossy(&out.stderr);
        let problems: Vec<&str> = said
            .lines()
            .filter(|l| !l.trim().is_empty())
            .filter(|l| !l.contains("Command /usr/bin/ferryman is not executable"))
            .collect();
        assert!(
            problems.is_empty(),
            "systemd-analyze verify {to}:
{said}"
        );
    }

    // The units' command lines run a manager and the agents of a sandbox.
    let sb = TestSandbox::start(1).await;
    let config = sb.config_path();
    let mut manager = Unit::start(
        &root,
        "ferryman-manager.service",
        "",
        &config,
        dir.path().join("manager.log"),
    );
    let mut agents: Vec<Unit> = ["db1", "db2"]
        .into_iter()
        .map(|s| {
            Unit::start(
                &root,
                "ferryman-agent@.service",
                s,
                &config,
                dir.path().join(format!("agent-{s}.log")),
            )
        })
        .collect();
    let binary = root.join("usr/bin/ferryman");
    let config_arg = config.to_str().unwrap().to_owned();
    let out = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            #[allow(clippy::disallowed_methods)] // the packaged binary
            let out = Command::new(&binary)
                .args(["backup", "run", "--config", &config_arg])
                .args(["--kind", "logical", "--wait", "--json"])
                .env_remove("FERRYMAN_API_TOKEN")
                .output()
                .unwrap();
            // The manager may not listen yet: try again until it does.
            if out.status.success() || Instant::now() > deadline {
                return out;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}{}\nmanager log:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(dir.path().join("manager.log")).unwrap_or_default()
    );
    let job: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(job["state"], "succeeded", "{job}");
    for agent in &mut agents {
        assert!(agent.stop().success());
    }
    assert!(manager.stop().success());
}
