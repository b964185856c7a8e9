//! A legacy donor run over SSH (`onpremise-ssh` with `onpremise-ssh-db-job-script`): the
//! manager pipes the reference's donor script (`legacy_donor.sh`, behind a header a DBA would
//! write to set its variables) to `bash -s` on the node through a real sshd on 127.0.0.1
//! (`testing::TestSshd`), and the backup lands like any other. No donor is run by hand.

use std::time::Duration;

use ferryman_jobs::Task;
use ferryman_manager::JobState;
use ferryman_sandbox::testing::{TestSandbox, TestSshd};

use crate::common::*;
use crate::legacy::{node_files, DONOR_SCRIPT};

#[tokio::test(flavor = "multi_thread")]
async fn the_donor_script_runs_over_ssh_for_each_job() {
    let sshd = TestSshd::start().await;
    let sb = TestSandbox::start(0).await;
    sb.sql(
        "db1",
        "CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY);
         INSERT INTO shop.orders SELECT seq FROM mysql.seq_1_to_1000;",
    )
    .await;
    let dir = sb.path();
    let (conf, home) = node_files(&sb, &dir);
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let sandbox = sb.config();
    let server = &sandbox.clusters[0].servers[0];
    // What the DBA puts before the reference's script: its variables, from the manager's
    // exports (CLUSTER_NAME, HOST_PORT, REPLICATION_MANAGER_ADDR) and the node's own files.
    let header = format!(
        "export DONOR_USER=ferryman DONOR_MYSQL_PORT=\"$HOST_PORT\" \
         DONOR_CLUSTER_NAME=\"$CLUSTER_NAME\" \
         DONOR_REPLICATION_MANAGER_ADDR=\"$REPLICATION_MANAGER_ADDR:{}\" \
         MYSQL_HOME={} DONOR_MYSQL_CONF={} DONOR_DATADIR={} DONOR_SST_RECEIVER_PORT=1\n\
         cd {} || exit 1\necho \"job $FERRYMAN_JOB_ID ($FERRYMAN_TASK) of $FERRYMAN_SERVER\" >&2\n",
        sandbox.manager.http_port,
        home.display(),
        conf.display(),
        server.datadir.as_ref().unwrap().display(),
        work.display()
    );
    let script = dir.join("dbjobs_new");
    std::fs::write(
        &script,
        format!("{header}{}", std::fs::read_to_string(DONOR_SCRIPT).unwrap()),
    )
    .unwrap();
    let known_hosts = dir.join("known_hosts");
    std::fs::write(&known_hosts, sshd.known_hosts_line()).unwrap();

    let config = config_with(&sb, "", "stream-accept-timeout = \"60s\"");
    let text = std::fs::read_to_string(&config).unwrap();
    let datadir_line = text
        .lines()
        .find(|l| l.starts_with("datadir = "))
        .unwrap()
        .to_owned();
    let keys = format!(
        "{datadir_line}\nlegacy-donor = true\nonpremise-ssh = true\nonpremise-ssh-port = {}\n\
         onpremise-ssh-private-key = \"{}\"\nonpremise-ssh-known-hosts = \"{}\"\n\
         onpremise-ssh-db-job-script = \"{}\"",
        sshd.port(),
        sshd.client_key().display(),
        known_hosts.display(),
        script.display()
    );
    std::fs::write(&config, text.replacen(&datadir_line, &keys, 1)).unwrap();
    let running = start(&config, &[]).await;
    let services = running.services.clone();

    let job = run_job(
        &services,
        "db1",
        Task::Mariabackup,
        Duration::from_secs(120),
    )
    .await;
    assert_eq!(job.state, JobState::Succeeded, "{job:?}\n{}", sshd.log());
    assert!(sshd.log().contains("Accepted publickey for root"));
    let list = services
        .repos
        .list(Some("sandbox"), Some("db1"))
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].job_id, job.node_job_id.unwrap());

    running.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_run_over_ssh_is_never_called_silent() {
    let sb = TestSandbox::start(0).await;
    let config = config_with(&sb, "", "agent-silent-after = \"30s\"\n");
    let text = std::fs::read_to_string(&config).unwrap();
    let name_line = "name = \"db1\"\n";
    let keys = format!(
        "{name_line}onpremise-ssh = true\nonpremise-ssh-known-hosts = \"{}\"\n",
        sb.path().join("known_hosts").display()
    );
    std::fs::write(&config, text.replacen(name_line, &keys, 1)).unwrap();
    // One pass of the agent, as the manager runs it over SSH: it beats once.
    let parsed = ferryman_config::Config::load(&config).unwrap();
    let agent = ferryman_agent::Agent::new(&parsed, "db1").unwrap();
    let report = agent.once(&ferryman_agent::Shutdown::default()).await;
    assert!(report.error.is_none(), "{report:?}");
    let running = start(&config, &[]).await;
    let services = running.services.clone();
    // Its row ages until the next job (set back rather than waited for).
    sb.sql(
        "db1",
        "SET SESSION sql_log_bin = 0; UPDATE replication_manager_schema.ferryman_agents \
         SET seen = NOW() - INTERVAL 5 MINUTE WHERE server = 'db1'",
    )
    .await;
    ferryman_manager::agents::read_all(&services).await;
    ferryman_manager::agents::read_all(&services).await;
    let seen = services.agents.get("sandbox", "db1").unwrap();
    assert!(seen.heartbeat.age_s >= 300 && !seen.silent, "{seen:?}");
    assert!(
        !services
            .events
            .since(0)
            .iter()
            .any(|e| e.kind == ferryman_manager::events::EventKind::AgentSilent),
        "{:#?}",
        services.events.since(0)
    );
    running.stop().await;
}

/// The PIDs whose command line (NUL-separated) satisfies `f`.
fn pids_where(f: impl Fn(&str) -> bool) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            f(&String::from_utf8_lossy(&cmdline))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancelled_job_stops_its_ssh_and_leaves_the_queue() {
    let sshd = TestSshd::start().await;
    let sb = TestSandbox::start(0).await;
    let known_hosts = sb.path().join("known_hosts");
    std::fs::write(&known_hosts, sshd.known_hosts_line()).unwrap();
    let config = config_with(&sb, "", "");
    let text = std::fs::read_to_string(&config).unwrap();
    let name_line = "name = \"db1\"\n";
    // An agent command that hangs.
    let keys = format!(
        "{name_line}onpremise-ssh = true\nonpremise-ssh-port = {}\n\
         onpremise-ssh-private-key = \"{}\"\nonpremise-ssh-known-hosts = \"{}\"\n\
         onpremise-ssh-agent-command = \"sleep 600.7\"\n",
        sshd.port(),
        sshd.client_key().display(),
        known_hosts.display()
    );
    std::fs::write(&config, text.replacen(name_line, &keys, 1)).unwrap();
    let running = start(&config, &[]).await;
    let services = running.services.clone();
    let id = services
        .start_backup("sandbox", Some("db1"), Task::Mysqldump, "test")
        .await
        .unwrap();
    let node_id = wait_node_id(&services, id).await;
    let is_ssh = |c: &str| c.starts_with("/usr/bin/ssh\0") && c.contains("sleep 600.7");
    let is_sleep = |c: &str| c == "sleep\u{0}600.7\u{0}";
    crate::notify::until("ssh and the remote sleep", Duration::from_secs(20), || {
        !pids_where(is_ssh).is_empty() && !pids_where(is_sleep).is_empty()
    })
    .await;
    assert!(services.registry.cancel(id));
    let job = wait_job(&services, id, Duration::from_secs(10)).await;
    assert_eq!(job.state, JobState::Cancelled, "{job:?}");
    crate::notify::until("ssh stopped", Duration::from_secs(10), || {
        pids_where(is_ssh).is_empty()
    })
    .await;
    let rows = sb
        .sql(
            "db1",
            &format!(
                "SELECT CAST(done AS SIGNED) FROM replication_manager_schema.jobs WHERE id = {node_id}"
            ),
        )
        .await;
    let done: i64 = ferryman_db::mysql_async::from_row(rows.into_iter().next().unwrap());
    assert_eq!(done, 1);
    for pid in pids_where(is_sleep) {
        ferryman_exec::process::kill_now(pid).unwrap();
    }
    running.stop().await;
}
