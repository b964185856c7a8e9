//! A physical reseed with every channel in TLS, end to end: certificates from the fleet CA of
//! `ferryman tls init` on the manager, the agents and both MariaDB servers; the backup streamed
//! to the manager and the payload to the joiner over mutual TLS, the sessions and the tools
//! over `verify-identity`, and the reseeded replica replicating over TLS with the server's
//! certificate checked (`master_ssl`, `master_ssl_verify_server_cert`); the replica's agent
//! API asked by the manager over mutual TLS, and refused to a client without a certificate.
//! Included by
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

    let mut config = ferryman_config::Config::load(&tls_config(&sb, &fleet)).unwrap();
    // db2's agent serves its HTTP API over HTTPS (the agent's certificate), to the manager only
    // (its client certificate).
    let token_file = config.manager.monitoring_datadir.join("api.token");
    config.agent.api_token_file = Some(token_file.clone());
    config.agent.api_bind_address = "127.0.0.1".into();
    let api_port = ferryman_sandbox::free_port().unwrap();
    config.clusters[0].servers[1].agent_api_port = Some(api_port);
    let d = Daemons::start(config, &["db1", "db2"]).await;
    let token = std::fs::read_to_string(&token_file).unwrap();
    let node = ferryman_manager::node_api::NodeApiClient::new(
        &d.config,
        ferryman_config::Secret::new(token.trim().to_owned()),
    );
    // The agent binds its API as it starts, beside the test.
    let mut tries = 0;
    let answer = loop {
        let db2 = &d.config.clusters[0].servers[1];
        match node
            .request(db2, reqwest::Method::GET, "mysqld", None)
            .await
        {
            Ok(answer) => break answer,
            Err(e) if tries < 50 => {
                tries += 1;
                eprintln!("not yet: {e:?}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => panic!("{e:?}"),
        }
    };
    assert_eq!(answer.status(), 200);
    let status: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(status["answering"], true, "{status}");
    // Without a client certificate the agent takes no connection, token or not.
    let plain = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(fleet.join("ca.crt")).unwrap()).unwrap(),
        )
        .build()
        .unwrap()
        .get(format!("https://127.0.0.1:{api_port}/api/v1/node/mysqld"))
        .bearer_auth(token.trim())
        .send()
        .await;
    assert!(plain.is_err(), "{plain:?}");
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
