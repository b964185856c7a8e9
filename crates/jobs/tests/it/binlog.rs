//! Job rows never reach the binary log, hence never a replica; a session that could log them
//! cannot be opened.

use ferryman_db::mysql_async::prelude::Queryable;
use ferryman_db::mysql_async::Conn;
use ferryman_db::Session;
use ferryman_jobs::{Error, JobsConn, Schema, Task, Token, Verdict};
use ferryman_sandbox::testing::TestSandbox;
use serde_json::json;

/// `(File, Position)` of `SHOW MASTER STATUS`, and `@@gtid_binlog_pos`.
async fn binlog_position(conn: &mut Conn) -> (String, u64, String) {
    let row: ferryman_db::mysql_async::Row = conn
        .query_first("SHOW MASTER STATUS")
        .await
        .unwrap()
        .unwrap();
    let file: String = row.get("File").unwrap();
    let pos: u64 = row.get("Position").unwrap();
    let gtid: String = conn
        .query_first("SELECT @@gtid_binlog_pos")
        .await
        .unwrap()
        .unwrap();
    (file, pos, gtid)
}

#[tokio::test(flavor = "multi_thread")]
async fn jobs_never_reach_the_binlog_nor_the_replica() {
    let sb = TestSandbox::start(1).await;
    let primary = sb.endpoint(sb.primary());
    let mut plain = primary.connect(Session::Plain).await.unwrap();

    // An account without BINLOG ADMIN cannot open a jobs session (created unlogged: accounts
    // are per server).
    let mut setup = primary.connect(Session::NoBinlog).await.unwrap();
    setup
        .query_drop("CREATE USER 'limited'@'127.0.0.1' IDENTIFIED BY 'limited-pw'")
        .await
        .unwrap();
    setup
        .query_drop("GRANT SELECT, INSERT, UPDATE, CREATE, ALTER ON *.* TO 'limited'@'127.0.0.1'")
        .await
        .unwrap();
    let mut limited = primary.clone();
    limited.user = "limited".into();
    limited.password = Some(ferryman_config::Secret::new("limited-pw".to_owned()));
    let err = JobsConn::open(&limited, &Schema::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NoBinlogPrivilege { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("may not set `sql_log_bin = 0`"), "{msg}");
    assert!(msg.contains("grant it the BINLOG ADMIN privilege"), "{msg}");

    // Fleets often log in STATEMENT or MIXED format; our READ COMMITTED session must work there
    // too (InnoDB refuses READ COMMITTED with STATEMENT logging, but only in a logged session).
    // The other tests run in the sandbox's ROW format.
    plain
        .query_drop("SET GLOBAL binlog_format = 'STATEMENT'")
        .await
        .unwrap();

    let before = binlog_position(&mut plain).await;

    // The whole life of jobs, DDL included.
    let mut jobs = JobsConn::open(&primary, &Schema::default()).await.unwrap();
    let password = sb.passwords().admin.expose_secret().to_owned();
    assert!(!format!("{jobs:?}").contains(&password), "{jobs:?}");
    assert!(jobs.ensure().await.unwrap().created_table);
    let token = Token::generate().unwrap();
    assert!(token.stream_token().is_ok());
    for _ in 0..3 {
        jobs.enqueue(
            Task::Mariabackup,
            "10.0.0.1",
            Some(4001),
            Some(&token),
            Some(&json!({"compress": true})),
        )
        .await
        .unwrap();
    }
    let claimed = jobs
        .take(Task::Mariabackup, "agent@db1")
        .await
        .unwrap()
        .unwrap();
    claimed.progress(&mut jobs, "copied 10%").await.unwrap();
    claimed.heartbeat(&mut jobs).await.unwrap();
    claimed
        .finish(&mut jobs, Verdict::Success, "completed OK!")
        .await
        .unwrap();
    let id = jobs
        .enqueue(Task::Optimize, "10.0.0.1", None, None, None)
        .await
        .unwrap();
    assert!(jobs.cancel(id, "not today").await.unwrap());
    assert_eq!(jobs.list(10).await.unwrap().len(), 4);

    assert_eq!(
        binlog_position(&mut plain).await,
        before,
        "the binary log moved"
    );

    // A logged marker after our work; once the replica has it, it has seen everything before.
    plain.query_drop("CREATE DATABASE marker").await.unwrap();
    let (_, _, gtid) = binlog_position(&mut plain).await;
    assert_ne!(gtid, before.2);
    let replica = sb.endpoint(sb.replicas()[0]);
    let mut r = replica.connect(Session::Plain).await.unwrap();
    let waited: Option<i64> = r
        .exec_first("SELECT MASTER_GTID_WAIT(?, 10)", (&gtid,))
        .await
        .unwrap();
    assert_eq!(waited, Some(0), "the replica did not catch up");
    let schemas: Vec<String> = r
        .query("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA")
        .await
        .unwrap();
    assert!(schemas.iter().any(|s| s == "marker"), "{schemas:?}");
    assert!(
        !schemas.iter().any(|s| s == "replication_manager_schema"),
        "the jobs schema replicated: {schemas:?}"
    );
    let status = ferryman_db::topology::read_slave_status(&replica, &mut r)
        .await
        .unwrap()
        .unwrap();
    assert!(status.running(), "{status:?}");
    jobs.close().await.unwrap();
}

#[tokio::test]
async fn a_jobs_session_never_prints_the_password() {
    // No server needed: a refused connection's error must not carry the password either (the
    // Debug of an open JobsConn is checked above).
    let endpoint = ferryman_db::Endpoint {
        name: "nowhere".into(),
        host: "127.0.0.1".into(),
        port: 1,
        socket: None,
        user: "u".into(),
        password: Some(ferryman_config::Secret::new("hunter2-secret".to_owned())),
        ssl: Default::default(),
    };
    let err = JobsConn::open(&endpoint, &Schema::default())
        .await
        .unwrap_err();
    assert!(!format!("{err:?} {err}").contains("hunter2-secret"));
    assert!(err.is_retryable(), "{err:?}");
}
