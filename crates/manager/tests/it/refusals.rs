//! Streams that must be refused (the real job still succeeds), and streams that must fail
//! their backup leaving nothing behind.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use ferryman_jobs::{JobsConn, Schema, Task};
use ferryman_manager::JobState;
use ferryman_proto::{StreamHeader, StreamKind, StreamToken};
use ferryman_sandbox::testing::TestSandbox;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

use crate::common::*;

/// Everything logged by this test binary (one subscriber for the whole binary).
fn logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    #[derive(Clone)]
    struct W(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for W {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let w = W(buf.clone());
        let _ = tracing_subscriber::fmt()
            .with_env_filter("info")
            .with_ansi(false)
            .with_writer(move || w.clone())
            .try_init();
        buf
    })
    .clone()
}

fn logged() -> String {
    String::from_utf8_lossy(&logs().lock().unwrap()).into_owned()
}

/// The row the manager inserted for its job: (node id, token).
async fn node_row(sb: &TestSandbox, server: &str, node_id: u64) -> (u64, StreamToken) {
    let mut conn = JobsConn::open(&sb.endpoint(sb.server(server).unwrap()), &Schema::default())
        .await
        .unwrap();
    let row = conn.get(ferryman_jobs::JobId(node_id)).await.unwrap();
    conn.close().await.unwrap();
    (node_id, row.token.unwrap().stream_token().unwrap())
}

async fn connect_from(local: &str, port: u16) -> TcpStream {
    let sock = TcpSocket::new_v4().unwrap();
    sock.bind(format!("{local}:0").parse().unwrap()).unwrap();
    sock.connect(format!("127.0.0.1:{port}").parse().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_tokens_peers_and_garbage_are_refused_and_the_real_job_succeeds() {
    let _ = logs();
    let sb = TestSandbox::start(0).await;
    let config = config_with(&sb, "", "");
    // No agent yet: the job waits while intruders try the port.
    let running = start(&config, &[]).await;
    let services = running.services.clone();
    let port = services.config.manager.stream_port;
    let id = services
        .start_task("sandbox", "db1", Task::Mariabackup, "test")
        .unwrap();
    let node_id = wait_node_id(&services, id).await;
    let (_, token) = node_row(&sb, "db1", node_id).await;

    // Garbage.
    let mut s = connect_from("127.0.0.1", port).await;
    s.write_all(b"GET / HTTP/1.0\r\n\r\nnot a stream at all")
        .await
        .unwrap();
    drop(s);
    // The right job id with a wrong token.
    let mut s = connect_from("127.0.0.1", port).await;
    let wrong = StreamHeader::new(
        StreamKind::Backup,
        node_id,
        StreamToken::generate().unwrap(),
    );
    s.write_all(&wrong.encode()).await.unwrap();
    s.write_all(b"payload").await.unwrap();
    drop(s);
    // The right token from the wrong address (127.0.0.2 is loopback too, but not db1's host).
    let mut s = connect_from("127.0.0.2", port).await;
    let stolen = StreamHeader::new(StreamKind::Backup, node_id, token.clone());
    s.write_all(&stolen.encode()).await.unwrap();
    drop(s);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let log = logged();
    for reason in [
        "a raw stream on the Ferryman port",
        "no job expects this token",
        "the stream came from 127.0.0.2, not from the job's server `127.0.0.1` (127.0.0.1)",
    ] {
        assert!(log.contains(reason), "not logged: {reason}\n{log}");
    }
    assert_eq!(services.registry.get(id).unwrap().state, JobState::Waiting);

    // Now the real agent: its stream is accepted and the backup lands.
    let mut running = running;
    running.add_agent(&config, "db1");
    let done = wait_job(&services, id, Duration::from_secs(60)).await;
    assert_eq!(done.state, JobState::Succeeded, "{done:?}");
    let backups = services
        .repos
        .list(Some("sandbox"), Some("db1"))
        .await
        .unwrap();
    assert_eq!(backups.len(), 1);
    running.stop().await;
}
