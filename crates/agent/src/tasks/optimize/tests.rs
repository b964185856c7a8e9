use super::*;

fn table(schema: &str, name: &str) -> Table {
    Table {
        schema: schema.to_owned(),
        name: name.to_owned(),
    }
}

#[test]
fn identifiers_are_backticked_with_inner_backticks_doubled() {
    assert_eq!(quote_ident("t"), "`t`");
    assert_eq!(quote_ident("my table"), "`my table`");
    assert_eq!(quote_ident("a.b"), "`a.b`");
    assert_eq!(quote_ident("back`tick"), "`back``tick`");
    assert_eq!(quote_ident("``"), "``````");
    assert_eq!(quote_ident("ünï.cødé 日本"), "`ünï.cødé 日本`");
    assert_eq!(
        quote_ident("x` ; DROP TABLE y; --"),
        "`x`` ; DROP TABLE y; --`"
    );
    assert_eq!(quote_ident("'\"\\"), "`'\"\\`");
    assert_eq!(table("we.ird db", "x`y").quoted(), "`we.ird db`.`x``y`");
    // Whatever the name, the quoted form is one identifier: removing the outer backticks
    // and undoing the doubling gives the name back, and no lone backtick remains inside.
    for name in ["`", "a`", "`a", "a``b", "` OR 1 --", ""] {
        let q = quote_ident(name);
        let inner = &q[1..q.len() - 1];
        assert!(!inner.replace("``", "").contains('`'), "{q}");
        assert_eq!(inner.replace("``", "`"), name);
    }
}

#[test]
fn innodb_recreate_then_ok_is_success() {
    let rows = [
        (
            "note",
            "Table does not support optimize, doing recreate + analyze instead",
        ),
        ("status", "OK"),
    ];
    assert_eq!(classify(rows), Outcome::Ok);
    assert_eq!(
        classify([("status", "Table is already up to date")]),
        Outcome::Ok
    );
}

#[test]
fn errors_and_missing_statuses_are_failures_and_engines_without_optimize_are_not() {
    assert_eq!(
        classify([
            (
                "Error",
                "Lock wait timeout exceeded; try restarting transaction"
            ),
            ("status", "Operation failed"),
        ]),
        Outcome::Failed("Lock wait timeout exceeded; try restarting transaction".into())
    );
    assert_eq!(
        classify([("status", "Operation failed")]),
        Outcome::Failed("Operation failed".into())
    );
    assert_eq!(
        classify([("error", "Table 'a.b' doesn't exist")]),
        Outcome::Failed("Table 'a.b' doesn't exist".into())
    );
    assert_eq!(
        classify([(
            "note",
            "The storage engine for the table doesn't support optimize"
        )]),
        Outcome::Unsupported
    );
    assert!(matches!(classify([]), Outcome::Failed(_)));
}

#[test]
fn the_summary_lists_failures_first() {
    let done = vec![
        (table("db", "a"), Outcome::Ok),
        (table("db", "mem"), Outcome::Unsupported),
        (
            table("db", "t`x"),
            Outcome::Failed("Lock wait timeout exceeded".into()),
        ),
        (table("z", "b"), Outcome::Ok),
    ];
    assert_eq!(
        summarize(&done, 4, Some(Duration::from_millis(2300))),
        "optimize: 4 tables, 2 ok, 1 failed: `db`.`t``x` (Lock wait timeout exceeded), \
         1 not supported by its engine: `db`.`mem`; 2s 300ms"
    );
    assert_eq!(
        summarize(&done[..1], 4, None),
        "optimize: 1 of 4 tables, 1 ok"
    );
    assert_eq!(
        summarize(&[], 0, Some(Duration::ZERO)),
        "optimize: no user tables on this server; 0s"
    );
}

#[test]
fn a_long_summary_is_cut_with_a_count_and_stays_under_the_column() {
    let long = "é".repeat(500);
    let mut done: Vec<(Table, Outcome)> = (0..200)
        .map(|i| {
            (
                table("schema", &format!("t{i}{}", "ü".repeat(50))),
                Outcome::Failed(long.clone()),
            )
        })
        .collect();
    done.extend((0..300).map(|i| (table("s", &format!("m{i}")), Outcome::Unsupported)));
    done.extend((0..1000).map(|i| (table("s", &format!("ok{i}")), Outcome::Ok)));
    let s = summarize(&done, done.len(), Some(Duration::from_secs(3600)));
    assert!(
        s.chars().count() <= SUMMARY_CHARS,
        "{} chars: {s}",
        s.chars().count()
    );
    assert!(
        s.starts_with("optimize: 1500 tables, 1000 ok, 200 failed: `schema`.`t0"),
        "{s}"
    );
    assert!(s.contains("… and 19"), "{s}");
    assert!(s.contains("300 not supported by their engine: "), "{s}");
    assert!(s.ends_with("more; 1h"), "{s}");
}

/// With a real server: nasty names in two schemas, engines that cannot optimize, a table
/// locked by another session; nothing reaches the binary log.
mod with_a_server {
    use std::time::Duration;

    use ferryman_config::ServerConfig;
    use ferryman_db::{Endpoint, Session};
    use ferryman_jobs::{Job, JobId};
    use ferryman_proto::Task;
    use ferryman_sandbox::testing::TestSandbox;
    use tokio_util::sync::CancellationToken;

    use super::super::*;
    use super::table;
    use crate::progress::Progress;
    use crate::tasks::TaskCtx;

    async fn optimize(
        server: &ServerConfig,
        endpoint: &Endpoint,
        cancel: &CancellationToken,
    ) -> Result<String> {
        let scratch = tempfile::tempdir().unwrap();
        let job = Job {
            id: JobId(1),
            task: Some("optimize".into()),
            port: Some(0),
            result: Some("processing".into()),
            ..Job::default()
        };
        let progress = Progress::new();
        let ctx = TaskCtx {
            job: &job,
            task: Task::Optimize,
            server,
            endpoint,
            scratch: scratch.path(),
            tool_logs: scratch.path(),
            swaps: scratch.path(),
            work_dir: scratch.path(),
            destinations: &crate::Destinations::new(Vec::new()),
            tls: None,
            progress: &progress,
            cancel,
            connect_timeout: Duration::from_secs(5),
            jobs_schema: &ferryman_jobs::Schema::default(),
            joiner: &crate::tasks::JoinerSettings::for_tests(),
        };
        run(&ctx).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_user_table_is_optimized_by_its_quoted_name_and_locally() {
        let sb = TestSandbox::start(0).await;
        let config = sb.config();
        let server = config.clusters[0].servers[0].clone();
        let endpoint = sb.endpoint(sb.primary());
        let never = CancellationToken::new();
        let mut admin = endpoint.connect(Session::Plain).await.unwrap();
        let tables = [
            ("shop", "orders", "InnoDB"),
            ("shop", "my table", "MyISAM"),
            ("shop", "back`tick", "Aria"),
            ("shop", "locked", "InnoDB"),
            ("shop", "mem", "MEMORY"),
            ("we.ird db", "ünï.cødé", "InnoDB"),
            ("we.ird db", "x` ; DROP TABLE y; --", "InnoDB"),
        ];
        for schema in ["shop", "we.ird db"] {
            admin
                .query_drop(format!("CREATE DATABASE {}", quote_ident(schema)))
                .await
                .unwrap();
        }
        for (schema, name, engine) in tables {
            let t = table(schema, name).quoted();
            admin
                .query_drop(format!("CREATE TABLE {t} (a INT) ENGINE={engine}"))
                .await
                .unwrap();
            admin
                .query_drop(format!("INSERT INTO {t} VALUES (1), (2), (3)"))
                .await
                .unwrap();
        }
        admin
            .query_drop("CREATE VIEW shop.v AS SELECT 1")
            .await
            .unwrap();
        admin.query_drop("CREATE SEQUENCE shop.s").await.unwrap();
        let gtid: String = admin
            .query_first("SELECT @@gtid_binlog_pos")
            .await
            .unwrap()
            .unwrap();

        // Another session holds a table: OPTIMIZE waits lock_wait_timeout, then fails
        // for that table only, and the others go on.
        let mut holder = endpoint.connect(Session::Plain).await.unwrap();
        holder
            .query_drop("LOCK TABLES shop.locked WRITE")
            .await
            .unwrap();
        admin
            .query_drop("SET GLOBAL lock_wait_timeout = 1")
            .await
            .unwrap();
        let err = optimize(&server, &endpoint, &never)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "`db1`: optimize: 7 tables, 5 ok, 1 failed: `shop`.`locked` (Lock wait timeout exceeded; \
                 try restarting transaction), 1 not supported by its engine: `shop`.`mem`; "
            ),
            "{err}"
        );
        assert!(err.ends_with("then enqueue the job again"), "{err}");
        holder.query_drop("UNLOCK TABLES").await.unwrap();
        admin
            .query_drop("SET GLOBAL lock_wait_timeout = DEFAULT")
            .await
            .unwrap();

        let ok = optimize(&server, &endpoint, &never).await.unwrap();
        assert!(
            ok.starts_with(
                "optimize: 7 tables, 6 ok, 1 not supported by its engine: `shop`.`mem`; "
            ),
            "{ok}"
        );
        // The nasty names were optimized as themselves: the rows are all there, and no
        // `y` was dropped nor created.
        for (schema, name, _) in tables {
            let t = table(schema, name).quoted();
            let n: Option<u64> = admin
                .query_first(format!("SELECT COUNT(*) FROM {t}"))
                .await
                .unwrap();
            assert_eq!(n, Some(3), "{t}");
        }
        let after: String = admin
            .query_first("SELECT @@gtid_binlog_pos")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(after, gtid, "OPTIMIZE must not be binary-logged");

        let cancelled = CancellationToken::new();
        cancelled.cancel();
        let err = optimize(&server, &endpoint, &cancelled)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("cancelled between tables; optimize: 0 of 7 tables, 0 ok"),
            "{err}"
        );
        holder.disconnect().await.unwrap();
        admin.disconnect().await.unwrap();
    }
}
