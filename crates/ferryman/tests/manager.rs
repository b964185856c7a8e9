//! `ferryman manager` as a daemon on a sandbox, driven by `ferryman jobs` and `ferryman backup`
//! through its HTTP API: token discovery, clear errors, JSON output, a clean exit on SIGTERM.
#![allow(clippy::unwrap_used, clippy::print_stderr)] // test code: panics and stderr are the report

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use ferryman_sandbox::testing::TestSandbox;
use ferryman_sandbox::UpOptions;

const BIN: &str = env!("CARGO_BIN_EXE_ferryman");

fn ferryman(args: &[&str], env: &[(&str, &str)]) -> Output {
    #[allow(clippy::disallowed_methods)] // running the binary under test
    Command::new(BIN)
        .args(args)
        // The caller's environment must not choose the token; `env` may.
        .env_remove("FERRYMAN_API_TOKEN")
        .envs(env.iter().copied())
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

#[path = "daemons/lines.rs"]
mod lines;
#[path = "daemons/process.rs"]
mod process;
use process::Daemon;

/// What an older version and a crash leave in the repository at `root`: everything readable
/// by others (0755/0644, as under umask 022), and a copy of backup `id`'s directory without its
/// manifest (a run killed between the payload and the manifest), whose path it returns.
fn loosen_and_plant(root: &Path, id: &str) -> PathBuf {
    let dir = root.join("Backups").join(id);
    let planted = dir.with_file_name("20260320T040000Z-j99");
    std::fs::create_dir_all(&planted).unwrap();
    std::fs::copy(dir.join("payload.sql.zst"), planted.join("payload.sql.zst")).unwrap();
    for (path, is_dir) in entries(root) {
        let mode = if is_dir { 0o755 } else { 0o644 };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    planted
}

/// `root` and everything under it, with whether each is a directory.
fn entries(root: &Path) -> Vec<(PathBuf, bool)> {
    let mut out = vec![(root.to_owned(), true)];
    for entry in std::fs::read_dir(root).unwrap() {
        let path = entry.unwrap().path();
        if std::fs::symlink_metadata(&path).unwrap().is_dir() {
            out.extend(entries(&path));
        } else {
            out.push((path, false));
        }
    }
    out
}

/// Every file under `dir` is 0600 and every directory 0700.
fn assert_owner_only(dir: &Path) {
    for (path, is_dir) in entries(dir) {
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
        let want = if is_dir { 0o700 } else { 0o600 };
        assert_eq!(mode, want, "{} is {mode:o}", path.display());
    }
}

/// Waits until `GET /api/health` answers (the manager prepares its servers first).
async fn wait_healthy(base: &str, daemon: &mut Daemon) {
    wait_healthy_with(base, daemon, &reqwest::Client::new()).await
}

async fn wait_healthy_with(base: &str, daemon: &mut Daemon, http: &reqwest::Client) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = http.get(format!("{base}/api/health")).send().await {
            if r.status().is_success() {
                return;
            }
        }
        if let Some(status) = daemon.child.as_mut().unwrap().try_wait().unwrap() {
            panic!("the manager exited ({status}):\n{}", daemon.log());
        }
        assert!(
            Instant::now() < deadline,
            "the API did not answer within 60 s:\n{}",
            daemon.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the manager's log has `line` (within 20 s).
async fn wait_for_log(daemon: &Daemon, line: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !daemon.log().contains(line) {
        assert!(
            Instant::now() < deadline,
            "`{line}` not logged within 20 s:\n{}",
            daemon.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs `ferryman ARGS` off the runtime (the manager under test is another process, but the
/// sandbox fixture lives on this runtime).
async fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        ferryman(&args, &env)
    })
    .await
    .unwrap()
}

/// `count` small, complete logical backups of sandbox/db1, one a day in March 2026, stored in
/// the repository at `root` before the manager starts; their ids, oldest first.
async fn synthetic_history(root: &Path, count: u32) -> Vec<String> {
    let repo = ferryman_repo::Repository::open(root).unwrap();
    let dump = "-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)\n\
                CREATE TABLE `t` (`id` int PRIMARY KEY);\nINSERT INTO `t` VALUES (1);\n\
                -- Dump completed on 2026-03-01  4:00:00\n";
    let mut ids = Vec::new();
    for day in 1..=count {
        let mut meta = ferryman_repo::BackupMeta::new(
            "sandbox",
            "db1",
            "127.0.0.1",
            ferryman_repo::Tool::Mysqldump,
            u64::from(day),
        );
        meta.started_at =
            ferryman_repo::Timestamp::parse_rfc3339(&format!("2026-03-{day:02}T04:00:00Z"))
                .unwrap();
        let m = repo
            .ingest(
                meta,
                dump.as_bytes(),
                &tokio_util::sync::CancellationToken::new(),
            )
            .await
            .unwrap();
        ids.push(m.id.to_string());
    }
    ids
}

#[tokio::test(flavor = "multi_thread")]
async fn manager_serves_the_cli_and_stops_on_sigterm() {
    let sb = TestSandbox::start_with(&UpOptions {
        replicas: 0,
        ferryman_bin: Some(PathBuf::from(BIN)),
        auto_verify: false,
    })
    .await;
    let config_path = sb.config_path();
    let config = config_path.to_str().unwrap();
    // No agent runs here: a job the test does not cancel in time fails in 20 s, not 5 min.
    let text_of_config = std::fs::read_to_string(&config_path).unwrap();
    std::fs::write(
        &config_path,
        text_of_config.replacen("[manager]\n", "[manager]\njob-claim-timeout = \"20s\"\n", 1),
    )
    .unwrap();
    // Retention: keep the 2 newest and nothing else, on a history of 5 daily backups.
    let text_of_config = std::fs::read_to_string(&config_path).unwrap();
    std::fs::write(
        &config_path,
        text_of_config.replacen(
            "[clusters.sandbox]\n",
            "[clusters.sandbox]\nbackup-keep-last = 2\nbackup-keep-hourly = 0\nbackup-keep-daily = 0\n\
             backup-keep-weekly = 0\nbackup-keep-monthly = 0\nbackup-keep-yearly = 0\n",
            1,
        ),
    )
    .unwrap();
    let parsed = sb.config();
    assert_eq!(parsed.manager.job_claim_timeout, Duration::from_secs(20));
    assert_eq!(parsed.clusters[0].retention.keep_last, 2);
    let history = synthetic_history(&parsed.manager.monitoring_datadir, 5).await;
    let base = format!("http://127.0.0.1:{}", parsed.manager.http_port);
    let token_path = parsed.manager.monitoring_datadir.join("api.token");

    // Before the manager ever ran: no token file, and the CLI says what to do.
    let out = run(&["jobs", "list", "--config", config], &[]).await;
    assert!(!out.status.success());
    assert!(
        text(&out).contains("has `ferryman manager --config"),
        "{}",
        text(&out)
    );

    let root = parsed.manager.monitoring_datadir.clone();
    let planted = loosen_and_plant(&root, &history[0]);
    let planted_payload = std::fs::read(planted.join("payload.sql.zst")).unwrap();

    let mut daemon = Daemon::start(&config_path, sb.path().join("manager.log"));
    wait_healthy(&base, &mut daemon).await;

    // At start the repository was made owner-only, and the backup directory without a manifest
    // was quarantined whole (not deleted), with a warning naming what it holds.
    assert_owner_only(&root.join("Backups"));
    assert_owner_only(&root.join("Quarantine"));
    assert_eq!(
        std::fs::metadata(&root).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert!(
        daemon.log().contains("tightened repository files"),
        "{}",
        daemon.log()
    );
    assert!(!planted.exists());
    let quarantined: Vec<PathBuf> = std::fs::read_dir(root.join("Quarantine/sandbox/db1"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(quarantined.len(), 1, "{quarantined:?}");
    assert_eq!(
        std::fs::read(quarantined[0].join("payload.sql.zst")).unwrap(),
        planted_payload
    );
    let log = daemon.log();
    assert!(log.contains("moved to the quarantine"), "{log}");
    assert!(
        log.contains(&format!(
            "payload.sql.zst ({} bytes)",
            planted_payload.len()
        )),
        "{log}"
    );

    // The generated token: 0600, and never in the log.
    let mode = std::fs::metadata(&token_path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let token = std::fs::read_to_string(&token_path).unwrap();
    let token = token.trim_end();
    assert!(!daemon.log().contains(token), "the token was logged");
    assert!(daemon.log().contains("api.token"), "{}", daemon.log());

    let out = run(&["jobs", "list", "--config", config, "--json"], &[]).await;
    assert!(out.status.success(), "{}", text(&out));
    let jobs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(jobs, serde_json::json!([]));

    let out = run(&["backup", "list", "--config", config], &[]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(&history[0]), "{}", text(&out));
    let out = run(
        &[
            "backup", "list", "--config", config, "--server", "db2", "--json",
        ],
        &[],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap(),
        serde_json::json!([])
    );

    // The token from the environment wins over the file; a wrong one is refused clearly.
    let out = run(
        &["jobs", "list", "--config", config],
        &[("FERRYMAN_API_TOKEN", "wrong")],
    )
    .await;
    // Exit code 4: the manager refused the request.
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(
        text(&out).contains("the API refused the token"),
        "{}",
        text(&out)
    );
    let out = run(
        &["jobs", "list", "--config", config],
        &[("FERRYMAN_API_TOKEN", token)],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    // --token-file wins over everything.
    let token_file = sb.path().join("wrong.token");
    std::fs::write(&token_file, "wrong\n").unwrap();
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = run(
        &[
            "jobs",
            "list",
            "--config",
            config,
            "--token-file",
            token_file.to_str().unwrap(),
        ],
        &[("FERRYMAN_API_TOKEN", token)],
    )
    .await;
    assert!(
        text(&out).contains("the API refused the token"),
        "{}",
        text(&out)
    );

    // From a workstation: --manager URL and the token, no configuration file at all.
    let nowhere = sb.path().join("no-such-config.toml");
    let nowhere = nowhere.to_str().unwrap();
    let out = run(
        &["jobs", "list", "--manager", &base, "--json"],
        &[("FERRYMAN_API_TOKEN", token), ("FERRYMAN_CONFIG", nowhere)],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let out = run(
        &["jobs", "list", "--manager", &base],
        &[("FERRYMAN_CONFIG", nowhere)],
    )
    .await;
    // Exit code 2: a usage error.
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--token-file"), "{}", text(&out));
    let out = run(
        &["backup", "run", "--kind", "logical", "--manager", &base],
        &[("FERRYMAN_API_TOKEN", token), ("FERRYMAN_CONFIG", nowhere)],
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--cluster"), "{}", text(&out));

    // The fleet on one screen: the servers and the newest backup of each kind.
    let out = run(&["status", "--config", config], &[]).await;
    assert!(out.status.success(), "{}", text(&out));
    let screen = text(&out);
    assert!(screen.contains("cluster sandbox"), "{screen}");
    assert!(screen.contains("newest physical none yet"), "{screen}");
    assert!(screen.contains("newest logical"), "{screen}");
    assert!(screen.contains("db1"), "{screen}");
    let out = run(&["status", "--config", config, "--json"], &[]).await;
    let fleet: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(fleet["clusters"][0]["name"], "sandbox", "{fleet}");
    assert_eq!(
        fleet["clusters"][0]["newest"][1]["kind"], "logical",
        "{fleet}"
    );

    // Errors of the API reach the user with their next step.
    let out = run(&["jobs", "show", "--config", config, "7"], &[]).await;
    assert!(!out.status.success());
    assert!(text(&out).contains("no job 7"), "{}", text(&out));
    let out = run(
        &[
            "backup",
            "run",
            "--config",
            config,
            "--cluster",
            "nope",
            "--kind",
            "physical",
        ],
        &[],
    )
    .await;
    assert!(!out.status.success());
    assert!(text(&out).contains("known: sandbox"), "{}", text(&out));
    let out = run(
        &[
            "backup",
            "show",
            "--config",
            config,
            "sandbox/db1/20261121T025800Z-j1",
        ],
        &[],
    )
    .await;
    assert!(!out.status.success());
    assert!(text(&out).contains("not found"), "{}", text(&out));

    // A backup no agent takes (none runs here): started, followed, cancelled. Whole backups
    // are the end-to-end tests' business.
    let out = run(
        &[
            "backup",
            "run",
            "--config",
            config,
            "--cluster",
            "sandbox",
            "--kind",
            "logical",
            "--json",
        ],
        &[],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let started: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let first = started["job_id"].as_u64().unwrap().to_string();
    let waiting = {
        let config = config.to_owned();
        tokio::spawn(async move {
            run(
                &[
                    "backup",
                    "run",
                    "--config",
                    &config,
                    "--cluster",
                    "sandbox",
                    "--server",
                    "db1",
                    "--kind",
                    "physical",
                    "--wait",
                ],
                &[],
            )
            .await
        })
    };
    let second = loop {
        let out = run(&["jobs", "list", "--config", config, "--json"], &[]).await;
        let jobs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let jobs = jobs.as_array().unwrap();
        if jobs.len() == 2 {
            // Newest first.
            assert_eq!(jobs[1]["id"].to_string(), first);
            assert_eq!(jobs[0]["task"], "mariabackup");
            assert_eq!(jobs[0]["trigger"], "api");
            break jobs[0]["id"].to_string();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let table = run(&["jobs", "list", "--config", config], &[]).await;
    assert!(text(&table).contains("mysqldump"), "{}", text(&table));
    for id in [&first, &second] {
        let out = run(&["jobs", "cancel", "--config", config, id], &[]).await;
        assert!(out.status.success(), "{}", text(&out));
        assert!(text(&out).contains("cancelling"), "{}", text(&out));
    }
    let waited = waiting.await.unwrap();
    assert_eq!(waited.status.code(), Some(1), "{}", text(&waited));
    assert!(
        text(&waited).contains(&format!("job {second} started")),
        "{}",
        text(&waited)
    );
    assert!(
        text(&waited).contains(&format!("job {second} cancelled")),
        "{}",
        text(&waited)
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = run(&["jobs", "show", "--config", config, &first, "--json"], &[]).await;
        let job: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        if job["state"] == "cancelled" {
            break;
        }
        assert!(Instant::now() < deadline, "{job}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let out = run(&["jobs", "cancel", "--config", config, &first], &[]).await;
    assert!(!out.status.success());
    assert!(text(&out).contains("already ended"), "{}", text(&out));

    // Retention on request: a dry run deletes nothing, then the policy keeps the 2 newest.
    let out = run(&["backup", "prune", "--config", config, "--dry-run"], &[]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("2 kept, 3 would delete (dry run: nothing deleted)"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("newest, last"), "{}", text(&out));
    let listed = |out: &Output| -> Vec<String> {
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let out = run(&["backup", "list", "--config", config, "--json"], &[]).await;
    assert_eq!(listed(&out).len(), 5);
    let out = run(
        &[
            "backup",
            "prune",
            "--config",
            config,
            "--cluster",
            "sandbox",
            "--json",
        ],
        &[],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let reports: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reports[0]["dry_run"], false);
    assert_eq!(reports[0]["delete"].as_array().unwrap().len(), 3);
    let out = run(&["backup", "list", "--config", config, "--json"], &[]).await;
    assert_eq!(listed(&out), [history[4].clone(), history[3].clone()]);
    let out = run(
        &["backup", "prune", "--config", config, "--cluster", "nope"],
        &[],
    )
    .await;
    assert!(!out.status.success());
    assert!(text(&out).contains("known: sandbox"), "{}", text(&out));
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));

    // Retention left the quarantine alone.
    assert!(quarantined[0].join("payload.sql.zst").exists());

    // SIGHUP: a file that does not load changes nothing and is said; a good one is applied.
    let good = std::fs::read_to_string(&config_path).unwrap();
    std::fs::write(
        &config_path,
        format!(
            "{good}
[clusters.sandbox]
"
        ),
    )
    .unwrap();
    daemon.expect_error("the configuration was not reloaded");
    daemon.hangup();
    let reload_events = |kind: &'static str| async move {
        let out = run(&["events", "--config", config, "--json"], &[]).await;
        assert!(out.status.success(), "{}", text(&out));
        let events: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        events
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == kind)
            .map(|e| e["message"].as_str().unwrap().to_owned())
            .collect::<Vec<String>>()
    };
    wait_for_log(&daemon, "the configuration was not reloaded").await;
    std::fs::write(
        &config_path,
        good.replacen(
            "[clusters.sandbox]\n",
            "[clusters.sandbox]\nmonitoring-scheduler = true\n",
            1,
        ),
    )
    .unwrap();
    let failed = reload_events("config-reload-failed").await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].contains("duplicate"), "{failed:?}");
    daemon.hangup();
    wait_for_log(
        &daemon,
        "configuration reloaded; applied: clusters.sandbox schedules",
    )
    .await;
    let reloaded = reload_events("config-reloaded").await;
    assert_eq!(reloaded.len(), 1, "{reloaded:?}");

    let status = daemon.stop();
    assert!(status.success(), "{status}:\n{}", daemon.log());

    // Nobody listens any more: exit code 3.
    let out = run(&["jobs", "list", "--config", config], &[]).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains(&format!(
            "cannot reach the manager at {base}: is `ferryman manager --config {config}` running?"
        )),
        "{}",
        text(&out)
    );
}

/// `ferryman tls init` makes a fleet CA and the manager's certificate; with them configured the
/// API answers HTTPS only: the CLI checks the manager against `tls-ca-file` (or `--ca-file`
/// with `--manager`), a client that does not know the CA, or knows another one, is refused
/// with the fix, plain HTTP gets no answer, and `config check` shows the certificates' ends.
#[tokio::test(flavor = "multi_thread")]
async fn the_api_over_tls_with_a_fleet_ca() {
    let sb = TestSandbox::start_with(&UpOptions {
        replicas: 0,
        ferryman_bin: Some(PathBuf::from(BIN)),
        auto_verify: false,
    })
    .await;
    let tls = sb.path().join("tls");
    let dir = tls.to_str().unwrap();
    let out = run(
        &[
            "tls",
            "init",
            "--dir",
            dir,
            "--manager",
            "127.0.0.1",
            "--agent",
            "db1.example",
        ],
        &[],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("tls-cert-file"), "{}", text(&out));
    for (file, mode) in [
        ("ca.key", 0o600),
        ("manager.key", 0o600),
        ("agents/db1.example.key", 0o600),
        ("ca.crt", 0o644),
    ] {
        let m = std::fs::metadata(tls.join(file))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(m, mode, "{file}");
    }
    // Never over an existing CA.
    let out = run(&["tls", "init", "--dir", dir, "--manager", "x"], &[]).await;
    assert!(!out.status.success());
    assert!(
        text(&out).contains("already holds a fleet CA"),
        "{}",
        text(&out)
    );

    let config_path = sb.config_path();
    let config = config_path.to_str().unwrap();
    let original = std::fs::read_to_string(&config_path).unwrap();
    std::fs::write(
        &config_path,
        original.replacen(
            "[manager]\n",
            &format!(
                "[manager]\ntls-cert-file = \"{dir}/manager.crt\"\ntls-key-file = \"{dir}/manager.key\"\ntls-ca-file = \"{dir}/ca.crt\"\n"
            ),
            1,
        ),
    )
    .unwrap();
    let out = run(&["config", "check", config], &[]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("manager.tls-cert-file")
            && text(&out).contains("CN=ferryman-manager, valid until"),
        "{}",
        text(&out)
    );

    let parsed = sb.config();
    let port = parsed.manager.http_port;
    let base = format!("https://127.0.0.1:{port}");
    let ca = reqwest::Certificate::from_pem(&std::fs::read(tls.join("ca.crt")).unwrap()).unwrap();
    let http = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let mut daemon = Daemon::start(&config_path, sb.path().join("manager.log"));
    wait_healthy_with(&base, &mut daemon, &http).await;
    assert!(
        daemon.log().contains("scheme=\"https\"") || daemon.log().contains("scheme=https"),
        "{}",
        daemon.log()
    );

    // The dashboard's session cookie is never sent in clear.
    let token =
        std::fs::read_to_string(parsed.manager.monitoring_datadir.join("api.token")).unwrap();
    let login = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(tls.join("ca.crt")).unwrap()).unwrap(),
        )
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{base}/ui/login"))
        .form(&[("token", token.trim())])
        .send()
        .await
        .unwrap();
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.ends_with("; Secure"),
        "{cookie}"
    );

    // The CLI, from the configuration: HTTPS checked against tls-ca-file.
    let out = run(&["jobs", "list", "--config", config, "--json"], &[]).await;
    assert!(out.status.success(), "{}", text(&out));

    // From another host: --manager URL needs the CA.
    let token_file = parsed.manager.monitoring_datadir.join("api.token");
    let token_file = token_file.to_str().unwrap();
    let remote = [
        "jobs",
        "list",
        "--manager",
        &base,
        "--token-file",
        token_file,
    ];
    let out = run(&remote, &[]).await;
    assert!(!out.status.success());
    assert!(
        text(&out).contains("TLS handshake") && text(&out).contains("--ca-file"),
        "{}",
        text(&out)
    );
    let ca_file = tls.join("ca.crt");
    let out = run(&remote, &[("FERRYMAN_CA_FILE", ca_file.to_str().unwrap())]).await;
    assert!(out.status.success(), "{}", text(&out));
    // Another fleet's CA does not vouch for this manager.
    let other = sb.path().join("other-tls");
    let out = run(
        &[
            "tls",
            "init",
            "--dir",
            other.to_str().unwrap(),
            "--manager",
            "127.0.0.1",
        ],
        &[],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let out = run(
        &[
            &remote[..],
            &["--ca-file", other.join("ca.crt").to_str().unwrap()],
        ]
        .concat(),
        &[],
    )
    .await;
    assert!(!out.status.success());
    assert!(text(&out).contains("TLS handshake"), "{}", text(&out));

    // Plain HTTP on the port gets no HTTP answer.
    let plain = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        s.write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got);
        got
    })
    .await
    .unwrap();
    assert!(
        !String::from_utf8_lossy(&plain).contains("HTTP/1.1 200"),
        "{plain:?}"
    );
    assert!(daemon.stop().success());
}
