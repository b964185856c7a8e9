//! The minimum grants (`config/grants.sql`) are enough: the sandbox's accounts are given
//! exactly those, then the manager starts (with the binlog archiver), takes a physical and a
//! logical backup, reseeds a replica and verifies both backups. And one privilege fewer
//! (RELOAD) fails a physical backup with the server's reason.

use std::time::Duration;

use ferryman_manager::reseed::{Method, ReseedRequest};
use ferryman_manager::verification::{self, RunState, Target};
use ferryman_manager::JobState;
use ferryman_proto::Task;
use ferryman_sandbox::testing::TestSandbox;

use super::super::daemons::{caught_up, wait_job, Daemons};

const GRANTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/grants.sql");

/// The `GRANT` statements of `config/grants.sql`, for `user`, with `'%'` as given.
fn grants_of(user: &str) -> Vec<String> {
    let text = std::fs::read_to_string(GRANTS).unwrap();
    let mut out = Vec::new();
    let mut statement = String::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with("--") || line.is_empty() {
            continue;
        }
        statement.push_str(line);
        statement.push(' ');
        if line.ends_with(';') {
            if statement.starts_with("GRANT ") && statement.contains(&format!("TO '{user}'@'%'")) {
                out.push(statement.trim().trim_end_matches(';').to_owned());
            }
            statement.clear();
        }
    }
    assert!(!out.is_empty(), "no GRANT for {user} in {GRANTS}");
    out
}

/// Runs `sql` as root on `server`'s socket, not binary-logged.
fn as_root(sb: &TestSandbox, server: &str, sql: &str) {
    let socket = sb.path().join("servers").join(server).join("sock");
    #[allow(clippy::disallowed_methods)] // the test's own administration of the sandbox
    let out = std::process::Command::new("mariadb")
        .arg(format!("--socket={}", socket.display()))
        .args(["-u", "root", "-e"])
        .arg(format!("SET SESSION sql_log_bin = 0; {sql}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{server}: {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Gives the sandbox's accounts exactly the grants of the file, `without` one privilege.
fn apply(sb: &TestSandbox, servers: &[&str], without: Option<&str>) {
    for server in servers {
        for (user, hosts) in [
            ("ferryman", ["127.0.0.1", "localhost"]),
            ("repl", ["127.0.0.1", "localhost"]),
        ] {
            for host in hosts {
                as_root(
                    sb,
                    server,
                    &format!("REVOKE ALL PRIVILEGES, GRANT OPTION FROM '{user}'@'{host}'"),
                );
                for grant in grants_of(user) {
                    let mut grant =
                        grant.replace(&format!("'{user}'@'%'"), &format!("'{user}'@'{host}'"));
                    if let Some(p) = without {
                        grant = grant
                            .replace(&format!("{p}, "), "")
                            .replace(&format!(", {p} "), " ");
                    }
                    as_root(sb, server, &grant);
                }
            }
        }
    }
}

async fn verified(d: &Daemons, id: &ferryman_repo::BackupId) -> bool {
    let run = verification::start(&d.services, Target::Backup(id.clone()), "test")
        .await
        .unwrap();
    loop {
        let r = d.services.verify_runs.get(run.id).unwrap();
        if r.state == RunState::Done {
            return r.ok == Some(true);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_documented_minimum_grants_run_backups_a_reseed_and_verifications() {
    let sb = super::super::shop_sandbox().await;
    apply(&sb, &["db1", "db2", "db3"], None);
    let text = std::fs::read_to_string(sb.config_path()).unwrap().replacen(
        "[clusters.sandbox]\n",
        "[clusters.sandbox]\nbinlog-archive = true\n",
        1,
    );
    let path = sb.path().join("grants.toml");
    std::fs::write(&path, text).unwrap();
    let config = ferryman_config::Config::load(&path).unwrap();
    assert!(config.clusters[0].binlog_archive.enabled);
    let d = Daemons::start(config, &["db1", "db2", "db3"]).await;
    // The last step's backup fails on purpose.
    d.expect_error("backup of `sandbox` from `db2` failed");
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
    assert!(verified(&d, &physical).await);
    assert!(verified(&d, &logical).await);
    let started = std::time::Instant::now();
    while !d
        .services
        .archives
        .get("sandbox")
        .is_some_and(|a| a.following)
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{:?}",
            d.services.archives.get("sandbox")
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // One privilege fewer: the backup fails, and says why.
    apply(&sb, &["db2"], Some("RELOAD"));
    let id = d
        .services
        .start_backup("sandbox", Some("db2"), Task::Mariabackup, "test")
        .await
        .unwrap();
    let job = wait_job(&d.services, id).await;
    assert_eq!(job.state, JobState::Failed, "{job:#?}");
    // The node's row says why, in mariabackup's words.
    let node_job = job.node_job_id.unwrap();
    let started = std::time::Instant::now();
    let why = loop {
        let rows = sb
            .sql(
                "db2",
                &format!(
                    "SELECT IFNULL(result, '') FROM replication_manager_schema.jobs \
                     WHERE id = {node_job} AND done = 1"
                ),
            )
            .await;
        if let Some(row) = rows.first() {
            break ferryman_db::mysql_async::from_row::<(String,)>(row.clone()).0;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{job:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(why.contains("RELOAD"), "{why}");
    d.stop().await;
}
