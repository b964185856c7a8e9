//! `onpremise-ssh` against a real OpenSSH `sshd` on 127.0.0.1 (`testing::TestSshd`): key and
//! password logins, host keys refused or pinned at first use, and a backup whose agent the
//! manager ran over SSH (`ferryman agent --once`), no agent daemon running.
#![allow(clippy::unwrap_used, clippy::print_stderr)] // test code: panics and stderr are the report

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use ferryman_config::{Credential, OnPremiseSsh, Secret};
use ferryman_manager::onpremise::{self, Ended, Exit, Remote, Target};
use ferryman_sandbox::testing::{TestSandbox, TestSshd, PASSWORD_USER};
use ferryman_sandbox::UpOptions;
use tokio_util::sync::CancellationToken;

const BIN: &str = env!("CARGO_BIN_EXE_ferryman");

#[path = "daemons/lines.rs"]
mod lines;
#[path = "daemons/process.rs"]
mod process;
use process::Daemon;

/// The settings of a key login as root with the sshd's client key, checked against
/// `known_hosts`.
fn key_login(sshd: &TestSshd, known_hosts: &Path) -> OnPremiseSsh {
    OnPremiseSsh {
        port: sshd.port(),
        credential: Credential {
            user: "root".to_owned(),
            password: None,
        },
        private_key: Some(sshd.client_key()),
        known_hosts: known_hosts.to_owned(),
        accept_new_host_key: false,
        agent_command: Vec::new(),
        db_job_script: None,
    }
}

fn target(settings: OnPremiseSsh, scratch: &Path) -> Target {
    Target {
        host: "127.0.0.1".to_owned(),
        settings,
        askpass: PathBuf::from(BIN),
        scratch: scratch.to_owned(),
    }
}

async fn run(target: &Target, words: &[&str]) -> Exit {
    let words = words.iter().map(|w| (*w).to_owned()).collect();
    target
        .run(&Remote::Command(words), &CancellationToken::new())
        .await
        .unwrap()
}

fn failure(target: &Target, exit: &Exit) -> String {
    match onpremise::judge("db1", target, &Ok(exit.clone())) {
        Ended::Failed(why) => why,
        Ended::Succeeded => panic!("expected a failure: {exit:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_login_runs_the_command_with_its_words_intact() {
    let sshd = TestSshd::start().await;
    let dir = tempfile::tempdir().unwrap();
    let known_hosts = dir.path().join("known_hosts");
    std::fs::write(&known_hosts, sshd.known_hosts_line()).unwrap();
    let t = target(key_login(&sshd, &known_hosts), dir.path());
    let marker = dir.path().join("ran it's here");
    let script = "printf '%s|%s' \"$(id -un)\" \"$1\" > \"$2\"";
    let exit = run(
        &t,
        &[
            "sh",
            "-c",
            script,
            "sh",
            "a b; $(touch /tmp/no) 'q'",
            marker.to_str().unwrap(),
        ],
    )
    .await;
    assert!(exit.success(), "{exit:?}\n{}", sshd.log());
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap(),
        "root|a b; $(touch /tmp/no) 'q'"
    );
    assert_eq!(onpremise::judge("db1", &t, &Ok(exit)), Ended::Succeeded);

    // The remote command's exit code is the run's, and a command the host lacks says so.
    let exit = run(&t, &["sh", "-c", "exit 7"]).await;
    assert_eq!(exit.code, Some(7));
    let exit = run(&t, &["/nonexistent/ferryman", "agent", "--once"]).await;
    assert_eq!(exit.code, Some(127), "{exit:?}");
    let why = failure(&t, &exit);
    assert!(why.contains("onpremise-ssh-agent-command"), "{why}");

    // A stopped run: ssh is stopped by PID at once. The remote command is not (no tty, no
    // SIGHUP): a remote agent ends its job itself when the manager cancels the row.
    let stop = CancellationToken::new();
    let remote = Remote::Command(vec!["sleep".to_owned(), "600.5".to_owned()]);
    let running = {
        let (t, stop) = (t.clone(), stop.clone());
        tokio::spawn(async move { t.run(&remote, &stop).await })
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let remote_sleep = loop {
        let found = proc_texts()
            .into_iter()
            .find(|(_, cmdline, _)| cmdline == "sleep\x00600.5\x00");
        if let Some((pid, _, _)) = found {
            break pid;
        }
        assert!(Instant::now() < deadline, "the remote sleep never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let started = Instant::now();
    stop.cancel();
    let exit = running.await.unwrap().unwrap();
    assert!(exit.stopped && !exit.success(), "{exit:?}");
    assert!(started.elapsed() < Duration::from_secs(6));
    assert!(!proc_texts()
        .iter()
        .any(|(_, cmdline, _)| cmdline.starts_with("/usr/bin/ssh\0") && cmdline.contains("600.5")));
    ferryman_exec::process::kill_now(remote_sleep).unwrap();

    // Another key is refused, with the next step.
    let mut other = key_login(&sshd, &known_hosts);
    other.private_key = Some(dir.path().join("none"));
    let exit = run(&target(other, dir.path()), &["true"]).await;
    assert_eq!(exit.code, Some(255));
    let why = failure(&t, &exit);
    assert!(why.contains("Permission denied"), "{why}");
    assert!(why.contains("onpremise-ssh-credential"), "{why}");
}

/// Every process's command line and environment that can be read, with its PID.
fn proc_texts() -> Vec<(u32, String, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
        out.push((pid, String::from_utf8_lossy(&cmdline).into_owned(), environ));
        out.last_mut().unwrap().2.extend(cmdline);
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_password_login_goes_through_the_askpass_and_nowhere_else() {
    let sshd = TestSshd::start().await;
    let password = sshd.password_user().await;
    let dir = tempfile::tempdir().unwrap();
    let known_hosts = dir.path().join("known_hosts");
    std::fs::write(&known_hosts, sshd.known_hosts_line()).unwrap();
    let scratch = dir.path().join("scratch");
    let mut settings = key_login(&sshd, &known_hosts);
    settings.private_key = None;
    settings.credential = Credential {
        user: PASSWORD_USER.to_owned(),
        password: Some(Secret::new(password.clone())),
    };
    let t = target(settings.clone(), &scratch);
    let stop = CancellationToken::new();
    let remote = Remote::Command(
        ["sh", "-c", "sleep 3; id -un"]
            .iter()
            .map(|w| (*w).to_owned())
            .collect(),
    );
    let running = {
        let t = t.clone();
        let stop = stop.clone();
        tokio::spawn(async move { t.run(&remote, &stop).await })
    };
    // While it runs: the password is in no command line nor environment on this machine.
    let mut looks = 0;
    let mut saw_ssh = false;
    while !running.is_finished() {
        for (pid, cmdline, texts) in proc_texts() {
            saw_ssh |= cmdline.starts_with("/usr/bin/ssh\0");
            assert!(
                !texts
                    .windows(password.len())
                    .any(|w| w == password.as_bytes()),
                "the password is in /proc/{pid} ({cmdline})"
            );
        }
        looks += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let exit = running.await.unwrap().unwrap();
    assert!(exit.success(), "{exit:?}\n{}", sshd.log());
    assert_eq!(exit.stdout.trim(), PASSWORD_USER);
    assert!(saw_ssh && looks > 10, "looks {looks}, ssh seen {saw_ssh}");
    // The askpass file is gone with the run; the askpass link to ferryman stays.
    let left: Vec<String> = std::fs::read_dir(&scratch)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, [onpremise::ssh::ASKPASS_NAME]);

    // A wrong password is refused once, with the next step.
    settings.credential.password = Some(Secret::new("wrong".to_owned()));
    let t = target(settings, &scratch);
    let started = Instant::now();
    let exit = run(&t, &["true"]).await;
    assert_eq!(exit.code, Some(255), "{exit:?}");
    let why = failure(&t, &exit);
    assert!(why.contains("Permission denied"), "{why}");
    assert!(why.contains("its password"), "{why}");
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[tokio::test(flavor = "multi_thread")]
async fn host_keys_are_checked_and_pinned_only_when_asked() {
    let sshd = TestSshd::start().await;
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let touch = ["touch", marker.to_str().unwrap()];

    // A wrong key: refused before anything runs.
    let known_hosts = dir.path().join("known_hosts");
    std::fs::write(&known_hosts, sshd.wrong_known_hosts_line()).unwrap();
    let t = target(key_login(&sshd, &known_hosts), dir.path());
    let exit = run(&t, &touch).await;
    assert_eq!(exit.code, Some(255));
    let why = failure(&t, &exit);
    assert!(why.contains("Host key verification failed"), "{why}");
    assert!(
        why.contains(&format!("ssh-keyscan -p {} 127.0.0.1", sshd.port())),
        "{why}"
    );
    assert!(!marker.exists());
    // Even with first-use pinning: a changed key is not a new one.
    let mut pinning = key_login(&sshd, &known_hosts);
    pinning.accept_new_host_key = true;
    let exit = run(&target(pinning.clone(), dir.path()), &touch).await;
    assert_eq!(exit.code, Some(255), "{exit:?}");
    assert!(!marker.exists());

    // An unknown host without pinning: refused, and nothing is written.
    let empty = dir.path().join("empty_known_hosts");
    let t = target(key_login(&sshd, &empty), dir.path());
    let exit = run(&t, &touch).await;
    assert_eq!(exit.code, Some(255));
    assert!(failure(&t, &exit).contains("Host key verification failed"));
    assert!(!marker.exists());
    assert!(!empty.exists() || std::fs::read_to_string(&empty).unwrap().is_empty());

    // With pinning: the key is written at the first connection, and used after.
    pinning.known_hosts = empty.clone();
    let exit = run(&target(pinning.clone(), dir.path()), &touch).await;
    assert!(exit.success(), "{exit:?}");
    assert!(marker.exists());
    let pinned = std::fs::read_to_string(&empty).unwrap();
    let real = sshd.known_hosts_line();
    let blob = real.split_whitespace().nth(2).unwrap();
    assert!(pinned.contains(blob), "{pinned}");
    pinning.accept_new_host_key = false;
    assert!(run(&target(pinning, dir.path()), &["true"]).await.success());
}

/// Runs `ferryman ARGS` off the runtime.
async fn ferryman(args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        #[allow(clippy::disallowed_methods)] // running the binary under test
        std::process::Command::new(BIN)
            .args(&args)
            .env_remove("FERRYMAN_API_TOKEN")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backup_runs_its_agent_over_ssh() {
    let sshd = TestSshd::start().await;
    let sb = TestSandbox::start_with(&UpOptions {
        replicas: 0,
        ferryman_bin: Some(PathBuf::from(BIN)),
        auto_verify: false,
    })
    .await;
    sb.sql(
        "db1",
        "CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY);
         INSERT INTO shop.orders SELECT seq FROM mysql.seq_1_to_100;",
    )
    .await;
    let config_path = sb.config_path();
    let config = config_path.to_str().unwrap().to_owned();
    let known_hosts = sb.path().join("known_hosts");
    std::fs::write(&known_hosts, sshd.known_hosts_line()).unwrap();
    // db1 has no agent daemon: the manager runs `ferryman agent --once` over SSH.
    let text_of_config = std::fs::read_to_string(&config_path).unwrap();
    let name_line = "name = \"db1\"\n";
    assert!(text_of_config.contains(name_line));
    let ssh_keys = format!(
        "{name_line}onpremise-ssh = true\nonpremise-ssh-port = {}\n\
         onpremise-ssh-credential = {{ user = \"root\" }}\n\
         onpremise-ssh-private-key = \"{}\"\nonpremise-ssh-known-hosts = \"{}\"\n\
         onpremise-ssh-agent-command = [\"{BIN}\", \"agent\", \"--once\", \"--config\", \"{config}\", \"--server\", \"db1\"]\n",
        sshd.port(),
        sshd.client_key().display(),
        known_hosts.display(),
    );
    std::fs::write(
        &config_path,
        text_of_config.replacen(name_line, &ssh_keys, 1),
    )
    .unwrap();
    let check = ferryman(&["config", "check", &config]).await;
    assert!(check.status.success(), "{}", text(&check));
    assert!(
        text(&check).contains("server db1: jobs run over SSH"),
        "{}",
        text(&check)
    );

    let parsed = sb.config();
    let base = format!("http://127.0.0.1:{}", parsed.manager.http_port);
    let mut daemon = Daemon::start(&config_path, sb.path().join("manager.log"));
    wait_healthy(&base, &mut daemon).await;

    let started = Instant::now();
    let backup = &[
        "backup",
        "run",
        "--config",
        &config,
        "--cluster",
        "sandbox",
        "--server",
        "db1",
        "--kind",
        "logical",
        "--wait",
    ];
    let out = ferryman(backup).await;
    assert!(out.status.success(), "{}\n{}", text(&out), daemon.log());
    let log = daemon.log();
    assert!(log.contains("running over ssh"), "{log}");
    assert!(log.contains("the run over ssh ended"), "{log}");
    assert!(
        sshd.log().contains("Accepted publickey for root"),
        "{}",
        sshd.log()
    );
    let list = ferryman(&["backup", "list", "--config", &config, "--json"]).await;
    assert!(list.status.success(), "{}", text(&list));
    let backups: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(backups.as_array().unwrap().len(), 1, "{backups}");
    eprintln!("backup over ssh in {:?}", started.elapsed());

    // A host whose key changed: the job fails at once with ssh's reason and the next step,
    // not after job-claim-timeout (5 min), and its row leaves the queue.
    std::fs::write(&known_hosts, sshd.wrong_known_hosts_line()).unwrap();
    let started = Instant::now();
    let out = ferryman(backup).await;
    assert!(!out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("Host key verification failed"), "{said}");
    assert!(said.contains("ssh-keyscan"), "{said}");
    assert!(said.contains("db1"), "{said}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    let rows = sb
        .sql(
            "db1",
            "SELECT CAST(done AS SIGNED), result FROM replication_manager_schema.jobs ORDER BY id DESC LIMIT 1",
        )
        .await;
    let (done, result): (i64, Option<String>) =
        ferryman_db::mysql_async::from_row(rows.into_iter().next().unwrap());
    assert_eq!(done, 1, "{result:?}");
    assert!(result.unwrap_or_default().contains("ssh"));

    daemon.expect_error("ssh to `db1`");
    assert!(daemon.stop().success(), "{}", daemon.log());
}

/// Waits until `GET /api/health` answers.
async fn wait_healthy(base: &str, daemon: &mut Daemon) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let http = reqwest::Client::new();
    loop {
        if let Ok(r) = http.get(format!("{base}/api/health")).send().await {
            if r.status().is_success() {
                return;
            }
        }
        if let Some(status) = daemon.child.as_mut().unwrap().try_wait().unwrap() {
            panic!("the manager exited ({status}):\n{}", daemon.log());
        }
        assert!(Instant::now() < deadline, "no API:\n{}", daemon.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
