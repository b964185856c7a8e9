//! The secrets audit (issue 20, item 5): while a physical backup, a logical backup, a reseed
//! and a verification run, no password, token or key appears in any process's command line,
//! nor in the environment of a process that does not need it; nor afterwards in the daemons'
//! log, a manifest, or a tool's log. Included by `reseed.rs` (its sandbox and daemons).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferryman_manager::reseed::{Method, ReseedRequest};
use ferryman_manager::verification::{self, RunState, Target};
use ferryman_manager::JobState;
use ferryman_proto::Task;

use super::daemons::{caught_up, wait_job, Daemons};

/// The programs that are handed a password through their environment (`MYSQL_PWD`) because
/// they connect with it; any other process holding one is a leak.
const NEEDS_A_PASSWORD: [&str; 6] = [
    "mariadb",
    "mysql",
    "mariadb-dump",
    "mysqldump",
    "mariabackup",
    "mariadb-backup",
];

/// Where a secret was seen.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Sighting {
    what: String,
    secret: String,
    process: String,
}

/// Every secret of the sandbox: its passwords and row key (`secrets/`), the API token, the
/// manifest signing key.
fn secrets(sandbox: &Path, datadir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(sandbox.join("secrets")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let text = text.trim();
        if text.len() >= 8 {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            out.push((name, text.to_owned()));
        }
    }
    let token = std::fs::read_to_string(datadir.join("api.token")).unwrap();
    out.push(("api.token".to_owned(), token.trim().to_owned()));
    // The manifest signing key's secret half.
    let key = std::fs::read_to_string(datadir.join("manifest-signing.key")).unwrap();
    let secret = key
        .lines()
        .find_map(|l| l.strip_prefix("ed25519-secret "))
        .unwrap();
    out.push(("manifest-signing.key".to_owned(), secret.trim().to_owned()));
    assert!(out.len() >= 4, "{out:?}");
    out
}

/// One look at every process's command line and environment.
fn look(secrets: &[(String, String)], seen: &Mutex<BTreeSet<Sighting>>) {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return;
    };
    for entry in dir.flatten() {
        let pid = entry.file_name();
        if !pid.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let base = entry.path();
        let comm = std::fs::read_to_string(base.join("comm")).unwrap_or_default();
        let comm = comm.trim();
        for what in ["cmdline", "environ"] {
            let Ok(bytes) = std::fs::read(base.join(what)) else {
                continue;
            };
            for (name, secret) in secrets {
                if contains(&bytes, secret.as_bytes()) {
                    seen.lock().unwrap().insert(Sighting {
                        what: what.to_owned(),
                        secret: name.clone(),
                        process: comm.to_owned(),
                    });
                }
            }
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Every file under `dir` (none if it does not exist).
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_is_on_a_command_line_in_a_log_or_a_manifest() {
    let sb = super::shop_sandbox().await;
    let config = sb.config();
    let datadir = config.manager.monitoring_datadir.clone();
    let d = Daemons::start(config.clone(), &["db1", "db2", "db3"]).await;
    let secrets = secrets(&sb.path(), &datadir);

    let seen = Arc::new(Mutex::new(BTreeSet::new()));
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (secrets, seen, done) = (secrets.clone(), Arc::clone(&seen), Arc::clone(&done));
        std::thread::spawn(move || {
            let mut looks = 0u64;
            while !done.load(Ordering::Relaxed) {
                look(&secrets, &seen);
                looks += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            looks
        })
    };

    // The watcher sees what it looks for: a canary holding the token in its environment.
    let token = &secrets.iter().find(|(n, _)| n == "api.token").unwrap().1;
    #[allow(clippy::disallowed_methods)] // a canary process, not a tool of Ferryman's
    let mut canary = std::process::Command::new("sleep")
        .arg("30")
        .env("AUDIT_CANARY", token)
        .spawn()
        .unwrap();
    let canary_seen = Sighting {
        what: "environ".to_owned(),
        secret: "api.token".to_owned(),
        process: "sleep".to_owned(),
    };
    let started = std::time::Instant::now();
    while !seen.lock().unwrap().contains(&canary_seen) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the watcher does not see the canary"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    canary.kill().unwrap();
    canary.wait().unwrap();
    seen.lock().unwrap().remove(&canary_seen);

    // A physical and a logical backup, a reseed from the physical one, a verification of each.
    let physical = d.backup(Task::Mariabackup).await;
    let logical = d.backup(Task::Mysqldump).await;
    let ids = d
        .services
        .start_reseed(
            "sandbox",
            ReseedRequest {
                servers: vec!["db3".into()],
                method: Method::Physicalbackup,
                backup: Some(physical.clone()),
                force: false,
                to: None,
            },
            "test",
        )
        .await
        .unwrap();
    let job = wait_job(&d.services, ids[0]).await;
    assert_eq!(job.state, JobState::Succeeded, "{job:#?}");
    caught_up(&sb, "db3").await;
    for id in [&physical, &logical] {
        let run = verification::start(&d.services, Target::Backup(id.clone()), "test")
            .await
            .unwrap();
        loop {
            let r = d.services.verify_runs.get(run.id).unwrap();
            if r.state == RunState::Done {
                assert_eq!(r.ok, Some(true), "{r:#?}");
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    done.store(true, Ordering::Relaxed);
    let looks = watcher.join().unwrap();
    assert!(
        looks > 20,
        "the processes were looked at {looks} times only"
    );

    let seen = seen.lock().unwrap().clone();
    let leaks: Vec<&Sighting> = seen
        .iter()
        .filter(|s| s.what == "cmdline" || !NEEDS_A_PASSWORD.contains(&s.process.as_str()))
        .collect();
    assert!(leaks.is_empty(), "secrets seen: {leaks:#?}");
    eprintln!("secrets in the environment of the tools that need them: {seen:#?}");

    // Nothing written down holds one either: logs, manifests, tool logs, the agents' files.
    let mut written = d.log_files();
    written.extend(files(&datadir.join("Backups")));
    written.extend(files(&config.agent.work_dir));
    written.extend(files(&config.verifier.work_dir));
    written.retain(|p| {
        // Payloads are the databases' own data (the accounts' hashes live in mysql.*).
        let name = p.file_name().unwrap_or_default().to_string_lossy();
        !name.starts_with("payload") && !name.ends_with(".zst")
    });
    let mut found = Vec::new();
    for path in &written {
        let Ok(bytes) = std::fs::read(path) else {
            continue;
        };
        for (name, secret) in &secrets {
            if contains(&bytes, secret.as_bytes()) {
                found.push(format!("{name} in {}", path.display()));
            }
        }
    }
    assert!(found.is_empty(), "secrets written down: {found:#?}");
    assert!(written.len() > 3, "{written:?}");
    d.stop().await;
}

mod grants;
