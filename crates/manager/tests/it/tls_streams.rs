//! The data streams over mutual TLS, with certificates from `ferryman tls init`:
//! - the bytes between an agent and the manager (captured by a relay the test puts on the
//!   agent's path) hold none of a known row's text, and with TLS off the same relay sees it
//!   (so the check can fail);
//! - a stream with the job's token but another host's certificate, or in plain TCP, is refused
//!   and the job goes on waiting; an agent without a certificate fails its job with the
//!   manager's reason;
//! - a reseed's payload goes to a joiner over TLS; a joiner without a certificate fails it at
//!   once with the setting to add.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferryman_manager::reseed::ReseedRequest;
use ferryman_manager::JobState;
use ferryman_proto::{Method, StreamHeader, StreamKind, Task};
use ferryman_sandbox::testing::TestSandbox;
use ferryman_tls::{Conn, StreamTls};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::common::*;

/// A row's text no stream may carry readable.
const CANARY: &str = "ferryman-canary-7f3a9c-row-text";
/// Where agents believe the manager is: the relay listens there, the manager on 127.0.0.1.
const RELAY_HOST: &str = "127.0.0.3";

/// The sandbox's configuration with the manager's address moved to the relay, and `manager`
/// and `agent` lines added to their tables.
fn config(sb: &TestSandbox, name: &str, manager: &str, agent: &str) -> PathBuf {
    // The raw stream crosses the relay (no compression on the node), so the row's text is
    // readable in it unless TLS hides it: the check on the plain run below can fail.
    let text = std::fs::read_to_string(config_with(
        sb,
        "backup-stream-compression = \"manager\"",
        manager,
    ))
    .unwrap();
    let text = text
        .replacen(
            "monitoring-address = \"127.0.0.1\"",
            &format!("monitoring-address = \"{RELAY_HOST}\""),
            1,
        )
        .replacen("[agent]\n", &format!("[agent]\n{agent}\n"), 1);
    let path = sb.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn manager_tls(fleet: &Path) -> String {
    format!(
        "tls-cert-file = \"{0}/manager.crt\"\ntls-key-file = \"{0}/manager.key\"\n\
         tls-ca-file = \"{0}/ca.crt\"\n",
        fleet.display()
    )
}

fn agent_tls(fleet: &Path, host: &str) -> String {
    format!(
        "tls-cert-file = \"{0}/agents/{host}.crt\"\ntls-key-file = \"{0}/agents/{host}.key\"\n\
         tls-ca-file = \"{0}/ca.crt\"\n",
        fleet.display()
    )
}

/// Forwards `RELAY_HOST:port` to `127.0.0.1:port`, keeping what agents send.
async fn relay(port: u16) -> (Arc<Mutex<Vec<u8>>>, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind((RELAY_HOST, port)).await.unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&seen);
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut from_agent, _)) = listener.accept().await else {
                return;
            };
            let kept = Arc::clone(&kept);
            tokio::spawn(async move {
                let to_manager = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
                let (mut agent_read, mut agent_write) = from_agent.split();
                let (mut manager_read, mut manager_write) = to_manager.into_split();
                let up = async {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = agent_read.read(&mut buf).await.unwrap_or(0);
                        if n == 0 {
                            let _ = manager_write.shutdown().await;
                            return;
                        }
                        kept.lock().unwrap().extend_from_slice(&buf[..n]);
                        if manager_write.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                };
                let down = async {
                    let _ = tokio::io::copy(&mut manager_read, &mut agent_write).await;
                    let _ = agent_write.shutdown().await;
                };
                tokio::join!(up, down);
            });
        }
    });
    (seen, task)
}

fn holds(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Sends `header` on `conn` and reports whether the manager closed the connection (a refused
/// stream) rather than keeping it to read a payload.
async fn refused(mut conn: Conn, header: &StreamHeader) -> bool {
    if ferryman_proto::write_header(&mut conn, header)
        .await
        .is_err()
    {
        return true;
    }
    let mut buf = [0u8; 16];
    match tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf)).await {
        Ok(Ok(0)) | Ok(Err(_)) => true,
        Ok(Ok(_)) | Err(_) => false,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn streams_are_encrypted_and_taken_only_from_the_job_servers_certificate() {
    let sb = TestSandbox::start(1).await;
    let fleet = sb.path().join("fleet");
    ferryman_tls::fleet::init(&ferryman_tls::fleet::Request {
        dir: fleet.clone(),
        manager: vec![RELAY_HOST.into(), "127.0.0.1".into()],
        agents: vec!["127.0.0.1".into(), "127.0.0.9".into()],
        days: 365,
        ca_days: 3650,
    })
    .unwrap();
    sb.sql(
        "db1",
        &format!(
            "CREATE DATABASE canary; CREATE TABLE canary.t (v VARCHAR(64)) ENGINE=InnoDB; \
             INSERT INTO canary.t VALUES ('{CANARY}')"
        ),
    )
    .await;
    let tls = config(
        &sb,
        "tls.toml",
        &manager_tls(&fleet),
        &agent_tls(&fleet, "127.0.0.1"),
    );
    let plain_agent = config(&sb, "plain-agent.toml", &manager_tls(&fleet), "");
    let plain = config(&sb, "plain.toml", "", "");
    let port = ferryman_config::Config::load(&tls)
        .unwrap()
        .manager
        .stream_port;
    let (seen, relay_task) = relay(port).await;

    // A dump through the relay: the row's text never crosses it readable.
    let running = start(&tls, &["db1"]).await;
    let services = running.services.clone();
    let job = run_job(&services, "db1", Task::Mysqldump, Duration::from_secs(120)).await;
    assert_eq!(job.state, JobState::Succeeded, "{job:?}");
    let captured = std::mem::take(&mut *seen.lock().unwrap());
    assert!(captured.len() > 10_000, "{} bytes", captured.len());
    assert!(!holds(&captured, CANARY), "the row's text crossed in clear");
    assert!(!holds(&captured, "INSERT INTO"), "SQL crossed in clear");

    // db2's job waits for its stream (no agent for db2 runs yet): the token alone is not
    // enough, another host's certificate and a plain stream are refused, the job goes on.
    let id = services
        .start_backup("sandbox", Some("db2"), Task::Mysqldump, "test")
        .await
        .unwrap();
    let node_id = wait_node_id(&services, id).await;
    let rows = sb
        .sql(
            "db2",
            &format!("SELECT token FROM replication_manager_schema.jobs WHERE id = {node_id}"),
        )
        .await;
    let token: String = rows[0].get(0).unwrap();
    let token = ferryman_jobs::Token::new(&token).stream_token().unwrap();
    let header = StreamHeader::new(StreamKind::Backup, node_id, token);
    let other = StreamTls::load(
        &fleet.join("agents/127.0.0.9.crt"),
        &fleet.join("agents/127.0.0.9.key"),
        &fleet.join("ca.crt"),
    )
    .unwrap();
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let conn = other.connect(tcp, "127.0.0.1").await.unwrap();
    assert!(
        refused(conn, &header).await,
        "another host's certificate was taken"
    );
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    assert!(
        refused(Conn::Plain(tcp), &header).await,
        "a plain stream was taken"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let record = services.registry.get(id).unwrap();
    assert!(!record.state.is_final(), "{record:?}");

    // An agent without a certificate: its stream is refused, and the job says why.
    let mut running = running;
    running.add_agent(&plain_agent, "db2");
    let job = wait_job(&services, id, Duration::from_secs(120)).await;
    assert_eq!(job.state, JobState::Failed, "{job:?}");
    let error = job.error.unwrap_or_default();
    assert!(
        error.contains("refused the stream of server `db2`'s agent")
            && error.contains("this manager takes streams over TLS only")
            && error.contains("agent.tls-cert-file"),
        "{error}"
    );

    // A reseed to that joiner: it cannot take the manager's TLS, and the job says what to set.
    let backup = run_job(
        &services,
        "db1",
        Task::Mariabackup,
        Duration::from_secs(180),
    )
    .await;
    assert_eq!(backup.state, JobState::Succeeded, "{backup:?}");
    let backup_id: ferryman_repo::BackupId = backup.backup_id.clone().unwrap().parse().unwrap();
    let request = || ReseedRequest {
        servers: vec!["db2".into()],
        method: Method::Physicalbackup,
        backup: Some(backup_id.clone()),
        force: true,
        to: None,
    };
    let ids = services
        .start_reseed("sandbox", request(), "test")
        .await
        .unwrap();
    let job = wait_job(&services, ids[0], Duration::from_secs(120)).await;
    assert_eq!(job.state, JobState::Failed, "{job:?}");
    let error = job.error.unwrap_or_default();
    assert!(
        error.contains("TLS handshake with the joiner's agent")
            && error.contains("agent.tls-cert-file"),
        "{error}"
    );
    running.stop().await;

    // With certificates on both joiner and manager, the reseed goes through.
    let running = start(&tls, &["db1", "db2"]).await;
    let services = running.services.clone();
    let ids = services
        .start_reseed("sandbox", request(), "test")
        .await
        .unwrap();
    // The payload arrives whole (its end marker's length and sha256 checked) and is prepared;
    // then the joiner stops its server with `service-stop`, which a sandbox made without the
    // `ferryman` binary does not have (the CLI's reseed tests run it to the end): the old data
    // stays. Getting that far is what this test is about.
    let job = wait_job(&services, ids[0], Duration::from_secs(240)).await;
    let result = job.node_result.clone().unwrap_or_default();
    assert!(
        result.contains("failed while restarting the server on the restored data")
            && result.contains("the server was not touched"),
        "{job:?}"
    );
    assert_eq!(job.bytes_total, Some(job.bytes), "{job:?}");
    running.stop().await;

    // The same relay with TLS off sees the row's text: the check above can fail.
    seen.lock().unwrap().clear();
    let running = start(&plain, &["db1"]).await;
    let job = run_job(
        &running.services,
        "db1",
        Task::Mysqldump,
        Duration::from_secs(120),
    )
    .await;
    assert_eq!(job.state, JobState::Succeeded, "{job:?}");
    assert!(holds(&seen.lock().unwrap(), CANARY));
    running.stop().await;
    relay_task.abort();
}
