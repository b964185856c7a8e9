//! Integration tests of server connections, on a real sandbox server.
#![allow(clippy::unwrap_used)] // test code

use ferryman_db::mysql_async::prelude::Queryable;
use ferryman_db::mysql_async::Row;
use ferryman_db::{Role, Session};
use ferryman_sandbox::testing::TestSandbox;

#[tokio::test(flavor = "multi_thread")]
async fn connections_never_print_the_password_and_no_binlog_sessions_do_not_log() {
    let sb = TestSandbox::start(0).await;
    let ep = sb.endpoint(sb.primary());
    let password = ep.password.as_ref().unwrap().expose_secret().to_owned();
    assert!(!format!("{ep:?}").contains(&password));

    let mut conn = ep.connect(Session::NoBinlog).await.unwrap();
    assert!(!format!("{conn:?}").contains(&password), "{conn:?}");
    let log_bin: Option<i64> = conn
        .query_first("SELECT @@session.sql_log_bin")
        .await
        .unwrap();
    assert_eq!(log_bin, Some(0));

    let status = ferryman_db::topology::read(&ep, &mut conn).await.unwrap();
    assert_eq!(status.role, Role::Primary);
    assert!(status.log_bin);
    conn.disconnect().await.unwrap();

    // A wrong password: the error names the server and what to check, never the password.
    let mut wrong = ep.clone();
    wrong.password = Some(ferryman_config::Secret::new("not-the-password".into()));
    let err = wrong.connect(Session::Plain).await.unwrap_err().to_string();
    assert!(err.contains("cannot connect to `db1`"), "{err}");
    assert!(err.contains("check that the server runs"), "{err}");
    assert!(!err.contains("not-the-password"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn change_master_takes_odd_credentials_exactly_and_ignored_domains() {
    use ferryman_db::quoted::{self, Piece};
    let sb = TestSandbox::start(1).await;
    let (user, password) = ("o'brien\\", "it's a \\ \"pass\"; DROP TABLE x; --");

    // The account exists on the primary only (sql_log_bin=0), with the odd name and password.
    let primary = sb.endpoint(sb.primary());
    let mut p = primary.connect(Session::NoBinlog).await.unwrap();
    for (action, pieces) in [
        (
            "create",
            vec![
                Piece::Sql("CREATE USER "),
                Piece::Value(user),
                Piece::Sql("@'127.0.0.1' IDENTIFIED BY "),
                Piece::Value(password),
            ],
        ),
        (
            "grant",
            vec![
                Piece::Sql("GRANT REPLICATION SLAVE ON *.* TO "),
                Piece::Value(user),
                Piece::Sql("@'127.0.0.1'"),
            ],
        ),
    ] {
        quoted::execute(&primary, &mut p, action, &pieces)
            .await
            .unwrap();
    }

    let replica = sb.endpoint(sb.replicas()[0]);
    let mut r = replica.connect(Session::Plain).await.unwrap();
    ferryman_db::replication::stop(&replica, &mut r)
        .await
        .unwrap();
    let source = ferryman_db::replication::Source {
        host: "127.0.0.1",
        port: sb.primary().port,
        user,
        password,
        connect_retry_s: 1,
        ssl: None,
        ignore_domain_ids: Some(&[7, 9]),
    };
    ferryman_db::replication::change_master(&replica, &mut r, &source)
        .await
        .unwrap();
    ferryman_db::replication::start(&replica, &mut r)
        .await
        .unwrap();

    // The replica logs in with exactly those credentials: its I/O thread runs.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let s = ferryman_db::topology::read_slave_status(&replica, &mut r)
            .await
            .unwrap()
            .unwrap();
        if s.running() {
            assert_eq!(s.using_gtid, "Slave_Pos");
            let ignored: Option<Row> = r.query_first("SHOW SLAVE STATUS").await.unwrap();
            let ignored: Option<String> = ignored
                .unwrap()
                .get_opt("Replicate_Ignore_Domain_Ids")
                .and_then(Result::ok);
            assert_eq!(ignored.as_deref(), Some("7, 9"));
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "replication did not start: {s:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kept_connection_is_read_on_again_and_replaced_at_once_when_it_was_killed() {
    use ferryman_db::topology::{read_kept, Kept};
    let sb = TestSandbox::start(0).await;
    let ep = sb.endpoint(sb.primary());
    let mut admin = ep.connect(Session::Plain).await.unwrap();
    // The other sessions of the account: the kept connection only.
    async fn others(admin: &mut ferryman_db::Connection, user: &str) -> Vec<u64> {
        admin
            .exec(
                "SELECT ID FROM information_schema.PROCESSLIST \
                 WHERE USER = ? AND ID <> CONNECTION_ID() AND COMMAND <> 'Killed' ORDER BY ID",
                (user,),
            )
            .await
            .unwrap()
    }
    let user = ep.user.clone();

    let kept = Kept::default();
    let status = read_kept(&ep, &kept).await.unwrap();
    assert_eq!(status.role, Role::Primary);
    let first = others(&mut admin, &user).await;
    assert_eq!(first.len(), 1, "{first:?}");
    read_kept(&ep, &kept).await.unwrap();
    assert_eq!(
        others(&mut admin, &user).await,
        first,
        "the same connection is read on"
    );

    // Killed by the server (or the server restarted): the next read is made at once on a new
    // connection, and succeeds, rather than showing the server as down for a round.
    admin
        .query_drop(format!("KILL CONNECTION {}", first[0]))
        .await
        .unwrap();
    let status = read_kept(&ep, &kept).await.unwrap();
    assert_eq!(status.role, Role::Primary);
    let second = others(&mut admin, &user).await;
    assert_eq!(second.len(), 1, "{second:?}");
    assert_ne!(second, first);
    admin.disconnect().await.unwrap();
}
