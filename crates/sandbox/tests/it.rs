//! Integration tests of the sandbox on real `mariadbd` servers.

use std::time::Duration;

use ferryman_db::mysql_async::prelude::Queryable;
use ferryman_db::Session;
use ferryman_exec::process;
use ferryman_sandbox::testing::TestSandbox;
use ferryman_sandbox::Sandbox;

#[tokio::test(flavor = "multi_thread")]
async fn replicas_replicate_a_write_and_down_leaves_no_process() {
    let sb = TestSandbox::start(2).await;
    let primary = sb.endpoint(sb.primary());
    let mut conn = primary.connect(Session::Plain).await.unwrap();
    conn.query_drop("CREATE DATABASE app").await.unwrap();
    conn.query_drop("CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20))")
        .await
        .unwrap();
    conn.exec_drop("INSERT INTO app.t VALUES (1, ?)", ("from primary",))
        .await
        .unwrap();
    let gtid: String = conn
        .query_first("SELECT @@gtid_binlog_pos")
        .await
        .unwrap()
        .unwrap();

    for replica in sb.replicas() {
        let ep = sb.endpoint(replica);
        let mut r = ep.connect(Session::Plain).await.unwrap();
        let waited: Option<i64> = r
            .exec_first("SELECT MASTER_GTID_WAIT(?, 30)", (&gtid,))
            .await
            .unwrap();
        assert_eq!(waited, Some(0), "{} did not catch up", replica.name);
        let v: Option<String> = r
            .query_first("SELECT v FROM app.t WHERE id = 1")
            .await
            .unwrap();
        assert_eq!(v.as_deref(), Some("from primary"));
        let status = ferryman_db::topology::read(&ep, &mut r).await.unwrap();
        assert_eq!(status.role, ferryman_db::Role::Replica);
        let repl = status.replication.unwrap();
        assert!(repl.running(), "{repl:?}");
        assert_eq!(repl.using_gtid, "Slave_Pos");
        assert_eq!(repl.master_port, sb.primary().port);
    }

    // The generated configuration is complete: it parses and names every server.
    let config = sb.config();
    let cluster = config.cluster("sandbox").unwrap();
    assert_eq!(cluster.servers.len(), 3);

    // Root has no password-less TCP access any more.
    let mut root = sb.endpoint(sb.primary());
    root.user = "root".into();
    root.password = None;
    assert!(root.connect(Session::Plain).await.is_err());

    let pids: Vec<u32> = sb
        .state()
        .servers
        .iter()
        .map(|s| sb.pid(s).unwrap())
        .collect();
    sb.down().await.unwrap();
    for pid in pids {
        assert!(
            !process::is_running(pid),
            "pid {pid} still running after down"
        );
    }
    // `up` on the stopped sandbox starts it again with its data and replication.
    let again = Sandbox::up(&sb.path(), 2).await.unwrap();
    let mut r = again
        .endpoint(again.replicas()[0])
        .connect(Session::Plain)
        .await
        .unwrap();
    let n: Option<i64> = r.query_first("SELECT COUNT(*) FROM app.t").await.unwrap();
    assert_eq!(n, Some(1));
    let mismatch = Sandbox::up(&sb.path(), 1).await.unwrap_err();
    assert!(
        mismatch.to_string().contains("has 2 replica(s), not 1"),
        "{mismatch}"
    );
    drop(r);
    tokio::time::sleep(Duration::from_millis(10)).await;
}

#[tokio::test]
async fn opening_a_directory_that_is_not_a_sandbox_says_how_to_create_one() {
    let dir = tempfile::tempdir().unwrap();
    let err = Sandbox::open(dir.path()).unwrap_err().to_string();
    assert!(err.contains("is not a sandbox"), "{err}");
    assert!(err.contains("ferryman sandbox up --dir"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_mariadb_client_logs_in_through_a_0600_option_file_with_an_odd_password() {
    use ferryman_db::quoted::{self, Piece};
    use ferryman_exec::{ClientOptions, OptionFile, Program};

    let sb = TestSandbox::start(0).await;
    let ep = sb.endpoint(sb.primary());
    let password = "q\"uo'te \\ back#hash;semi\tand space ";
    let mut conn = ep.connect(Session::NoBinlog).await.unwrap();
    quoted::execute(
        &ep,
        &mut conn,
        "create a test account",
        &[
            Piece::Sql("CREATE USER 'odd'@'127.0.0.1' IDENTIFIED BY "),
            Piece::Value(password),
        ],
    )
    .await
    .unwrap();

    let file = OptionFile::create(
        &sb.path(),
        &ClientOptions {
            user: Some("odd"),
            password: Some(password),
            host: Some("127.0.0.1"),
            port: Some(sb.primary().port),
            socket: None,
            ssl: &[],
        },
    )
    .unwrap();
    let client = Program::find("mariadb", "mariadb-client").unwrap();
    let out = client
        .command()
        .arg(file.arg())
        .args(["--protocol=TCP", "-N", "-e", "SELECT CURRENT_USER()"])
        .run()
        .await
        .unwrap();
    assert_eq!(out.stdout.trim(), "odd@127.0.0.1");
}
