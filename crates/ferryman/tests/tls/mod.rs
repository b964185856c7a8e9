//! A physical reseed with every channel in TLS, end to end: certificates from the fleet CA of
//! `ferryman tls init` on the manager, the agents and both MariaDB servers; the backup streamed
//! to the manager and the payload to the joiner over mutual TLS, the sessions and the tools
//! over `verify-identity`, and the reseeded replica replicating over TLS with the server's
//! certificate checked (`master_ssl`, `master_ssl_verify_server_cert`). Included by
//! `reseed.rs` (its sandbox and daemons).

use std::path::{Path, PathBuf};

use ferryman_manager::reseed::{Method, ReseedRequest};
use ferryman_manager::JobState;
use ferryman_proto::Task;
use ferryman_sandbox::testing::TestSandbox;
use ferryman_sandbox::UpOptions;

use super::daemons::{caught_up, wait_job, Daemons};
use super::BIN;

/// The sandbox's configuration with TLS everywhere: `[manager]`, `[agent]` and the cluster.
fn tls_config(sb: &TestSandbox, fleet: &Path) -> PathBuf {
    let f = fleet.display();
    let text = std::fs::read_to_string(sb.config_path()).unwrap();
    let marker = "scheduler-db-servers-receiver-ports";
    let at = text.find(marker).unwrap();
    let line_end = at + text[at..].find('\n').unwrap() + 1;
    let text = format!(
        "{}db-servers-ssl-mode = \"verify-identity\"\ndb-servers-ssl-ca = \"{f}/ca.crt\"\n{}",
        &text[..line_end],
        &text[line_end..]
    )
    .replacen(
        "[manager]\n",
        &format!(
            "[manager]\ntls-cert-file = \"{f}/manager.crt\"\ntls-key-file = \"{f}/manager.key\"\n\
             tls-ca-file = \"{f}/ca.crt\"\n"
        ),
        1,
    )
    .replacen(
        "[agent]\n",
        &format!(
            "[agent]\ntls-cert-file = \"{f}/agents/127.0.0.1.crt\"\n\
             tls-key-file = \"{f}/agents/127.0.0.1.key\"\ntls-ca-file = \"{f}/ca.crt\"\n"
        ),
        1,
    );
    let path = sb.path().join("ferryman-tls.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn a_physical_reseed_with_every_channel_in_tls() {
    let sb = TestSandbox::start_with(&UpOptions {
        replicas: 1,
        ferryman_bin: Some(PathBuf::from(BIN)),
        auto_verify: false,
    })
    .await;
    let fleet = sb.path().join("fleet");
    ferryman_tls::fleet::init(&ferryman_tls::fleet::Request {
        dir: fleet.clone(),
        manager: vec!["127.0.0.1".into()],
        agents: vec!["127.0.0.1".into()],
        days: 365,
        ca_days: 3650,
    })
    .unwrap();
    for name in ["db1", "db2"] {
        sb.serve_tls(
            name,
            &fleet.join("ca.crt"),
            &fleet.join("agents/127.0.0.1.crt"),
            &fleet.join("agents/127.0.0.1.key"),
        )
        .await;
    }
    sb.sql(
        "db1",
        "CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY, v TEXT);
         INSERT INTO shop.orders SELECT seq, REPEAT('o', 200) FROM mysql.seq_1_to_2000;",
    )
    .await;
    caught_up(&sb, "db2").await;

    let config = ferryman_config::Config::load(&tls_config(&sb, &fleet)).unwrap();
    let d = Daemons::start(config, &["db1", "db2"]).await;
    let backup = d.backup(Task::Mariabackup).await;
    sb.sql(
        "db1",
        "INSERT INTO shop.orders SELECT seq, 'after' FROM mysql.seq_2001_to_2100",
    )
    .await;
    let ids = d
        .services
        .start_reseed(
            "sandbox",
            ReseedRequest {
                servers: vec!["db2".into()],
                method: Method::Physicalbackup,
                backup: Some(backup),
                force: false,
                to: None,
            },
            "test",
        )
        .await
        .unwrap();
    let job = wait_job(&d.services, ids[0]).await;
    assert_eq!(job.state, JobState::Succeeded, "{job:?}");

    // The reseeded replica replicates over TLS, the primary's certificate checked.
    caught_up(&sb, "db2").await;
    let rows = sb.sql("db2", "SHOW SLAVE STATUS").await;
    let status = &rows[0];
    let field = |name: &str| -> String {
        status
            .get_opt::<String, _>(name)
            .and_then(Result::ok)
            .unwrap_or_default()
    };
    assert_eq!(field("Master_SSL_Allowed"), "Yes");
    assert_eq!(field("Master_SSL_Verify_Server_Cert"), "Yes");
    assert_eq!(
        field("Slave_IO_Running"),
        "Yes",
        "{}",
        field("Last_IO_Error")
    );
    let count = sb.sql("db2", "SELECT COUNT(*) FROM shop.orders").await;
    assert_eq!(count[0].get::<u64, _>(0), Some(2100));
    d.stop().await;
}
