//! Connections to MariaDB over TLS (`db-servers-ssl-*`): a replica with
//! `require_secure_transport=ON` refuses plain logins, and takes the manager's sessions, the
//! agent's sessions and its tools' (mariabackup, mysqldump) once the cluster says
//! `verify-identity`; the modes check what they say they check.

use std::time::Duration;

use ferryman_config::{Config, DbSsl, SslMode};
use ferryman_db::{Endpoint, Session};
use ferryman_manager::JobState;
use ferryman_proto::Task;
use ferryman_sandbox::testing::TestSandbox;

use crate::common::*;

/// What `SHOW SESSION STATUS LIKE 'Ssl_version'` says on a connection to `endpoint`.
async fn ssl_version(endpoint: &Endpoint) -> Result<String, String> {
    use ferryman_db::mysql_async::prelude::Queryable;
    let mut conn = endpoint
        .connect(Session::Plain)
        .await
        .map_err(|e| e.to_string())?;
    let row: Option<(String, String)> = conn
        .query_first("SHOW SESSION STATUS LIKE 'Ssl_version'")
        .await
        .map_err(|e| e.to_string())?;
    let _ = conn.disconnect().await;
    Ok(row.map(|(_, v)| v).unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replica_that_requires_secure_transport_is_backed_up_over_tls() {
    let sb = TestSandbox::start(1).await;
    let fleet = sb.path().join("fleet");
    ferryman_tls::fleet::init(&ferryman_tls::fleet::Request {
        dir: fleet.clone(),
        manager: vec!["127.0.0.1".into()],
        agents: vec!["127.0.0.1".into()],
        days: 365,
        ca_days: 3650,
    })
    .unwrap();
    // Both servers get the fleet's certificate for 127.0.0.1; the replica refuses plain TCP.
    for name in ["db1", "db2"] {
        sb.serve_tls(
            name,
            &fleet.join("ca.crt"),
            &fleet.join("agents/127.0.0.1.crt"),
            &fleet.join("agents/127.0.0.1.key"),
        )
        .await;
    }
    sb.sql_as_root("db2", "SET GLOBAL require_secure_transport = ON")
        .await;

    let config_path = config_with(
        &sb,
        &format!(
            "db-servers-ssl-mode = \"verify-identity\"\ndb-servers-ssl-ca = \"{}/ca.crt\"",
            fleet.display()
        ),
        "",
    );
    let config = Config::load(&config_path).unwrap();
    let cluster = &config.clusters[0];
    let db2 = cluster.server("db2").unwrap();
    assert_eq!(db2.ssl.mode, SslMode::VerifyIdentity);
    let endpoint = Endpoint::from_config(db2, &cluster.db_servers_credential);

    // The modes: verify-identity over TLS; plain refused by the server; a name the
    // certificate does not hold refused by verify-identity, taken by verify-ca and required.
    let version = ssl_version(&endpoint).await.unwrap();
    assert!(version.starts_with("TLSv1."), "{version:?}");
    let plain = Endpoint {
        ssl: DbSsl::default(),
        ..endpoint.clone()
    };
    // (MariaDB 10.11 answers a plain login under require_secure_transport as a wrong one.)
    let e = ssl_version(&plain).await.unwrap_err();
    assert!(e.contains("Access denied"), "{e}");
    let by_name = |mode| Endpoint {
        host: "localhost".into(),
        ssl: DbSsl {
            mode,
            ..endpoint.ssl.clone()
        },
        ..endpoint.clone()
    };
    let e = ssl_version(&by_name(SslMode::VerifyIdentity))
        .await
        .unwrap_err();
    assert!(e.contains("not valid for name"), "{e}");
    ssl_version(&by_name(SslMode::VerifyCa)).await.unwrap();
    ssl_version(&by_name(SslMode::Required)).await.unwrap();

    // The manager (jobs table, monitor) and the agent (its session, its tools) through TLS.
    let running = start(&config_path, &["db2"]).await;
    let services = running.services.clone();
    for task in [Task::Mariabackup, Task::Mysqldump] {
        let job = run_job(&services, "db2", task, Duration::from_secs(180)).await;
        assert_eq!(job.state, JobState::Succeeded, "{task}: {job:?}");
    }
    running.stop().await;
    sb.sql_as_root("db2", "SET GLOBAL require_secure_transport = OFF")
        .await;
}
