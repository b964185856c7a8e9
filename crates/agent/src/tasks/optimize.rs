//! `optimize`: `OPTIMIZE NO_WRITE_TO_BINLOG TABLE` on every non-system base table, one table
//! at a time, and each table's outcome in the result.
//!
//! Every server gets its own optimize job, so the statement must stay local:
//! `NO_WRITE_TO_BINLOG` keeps it out of the binary log (checked on MariaDB 10.11: the GTID
//! position does not move), and a replica is not rebuilding the primary's tables twice.
//! Schema and table names come from `information_schema` and are the only text spliced into
//! SQL, quoted by [`quote_ident`]. One table at a time keeps the extra disk space (InnoDB
//! rebuilds a copy) and I/O to one table's worth; cancellation is honoured between tables.

use std::time::{Duration, Instant};

use ferryman_db::mysql_async::prelude::Queryable;
use ferryman_db::mysql_async::{self, Row, Value};
use ferryman_db::Connection;

use super::TaskCtx;
use crate::progress;
use crate::{Error, Result};

/// Every base table outside the server's own schemas, in a stable order.
const LIST_TABLES: &str = "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES \
     WHERE TABLE_TYPE = 'BASE TABLE' \
     AND TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys') \
     ORDER BY TABLE_SCHEMA, TABLE_NAME";
/// The result column holds 1000 characters; the runner may add a prefix.
const SUMMARY_CHARS: usize = 900;
/// The failures' share of the summary: the rest is for the unsupported tables and the time.
const FAILURES_CHARS: usize = 760;
/// A server message quoted in the summary is cut to this many characters.
const MESSAGE_CHARS: usize = 160;
/// Statuses that mean the table is optimized (MyISAM/Aria say the second when nothing changed).
const OK_STATUSES: [&str; 2] = ["OK", "Table is already up to date"];

/// `name` as a MariaDB identifier: in backticks, each backtick doubled. Any other character,
/// spaces, dots and quotes included, is literal inside backticks.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// One table, as `information_schema` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Table {
    schema: String,
    name: String,
}

impl Table {
    /// `` `db`.`t` ``, for SQL and messages alike.
    fn quoted(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.name))
    }
}

/// What OPTIMIZE did to one table.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// Optimized (InnoDB: recreated and analyzed).
    Ok,
    /// The engine cannot optimize (MEMORY, CSV, sequences): nothing to do, not a failure.
    Unsupported,
    /// Failed, with the server's words.
    Failed(String),
}

/// Runs OPTIMIZE on every table; fails when any table failed, with the same summary.
pub(super) async fn run(ctx: &TaskCtx<'_>) -> Result<String> {
    ctx.progress.set_phase("listing tables");
    // NO_WRITE_TO_BINLOG already keeps OPTIMIZE local; the session says so too, in case a
    // server treats it differently (the account has the privilege: the jobs table needs it).
    let mut conn = ctx.sql_no_binlog().await?;
    let done = optimize_all(ctx, &mut conn).await;
    // Closed politely on every path: a dropped session is an "Aborted connection" warning in
    // the server's error log.
    let _ = conn.disconnect().await;
    done
}

async fn optimize_all(ctx: &TaskCtx<'_>, conn: &mut Connection) -> Result<String> {
    let started = Instant::now();
    let server = &ctx.server.name;
    let tables: Vec<Table> = conn
        .query_map(LIST_TABLES, |(schema, name)| Table { schema, name })
        .await
        .map_err(|e| Error::sql(server, "list the tables to optimize", e))?;
    let total = tables.len();
    let mut done: Vec<(Table, Outcome)> = Vec::with_capacity(total);
    for (i, table) in tables.into_iter().enumerate() {
        if ctx.cancel.is_cancelled() {
            return Err(Error::Interrupted {
                elapsed: progress::seconds(started.elapsed()),
                reason: format!(
                    "cancelled between tables; {}",
                    summarize(&done, total, None)
                ),
            });
        }
        let quoted = table.quoted();
        ctx.progress
            .set_phase(format!("optimizing {quoted} ({}/{total})", i + 1));
        let table_started = Instant::now();
        let outcome = match conn
            .query::<Row, _>(format!("OPTIMIZE NO_WRITE_TO_BINLOG TABLE {quoted}"))
            .await
        {
            Ok(rows) => classify(
                rows.iter()
                    .map(|r| (text(r, 2), text(r, 3)))
                    .collect::<Vec<_>>()
                    .iter()
                    .map(|(t, m)| (t.as_str(), m.as_str())),
            ),
            // The server refused this table (dropped meanwhile, no privilege…): the next one
            // may well work, on the same session.
            Err(mysql_async::Error::Server(e)) => {
                Outcome::Failed(format!("{} (error {})", e.message, e.code))
            }
            // The session is gone or broken: no further table can be optimized on it.
            Err(e) => {
                let action = format!(
                    "optimize {quoted} (table {} of {total}); before it: {}",
                    i + 1,
                    summarize(&done, total, None)
                );
                return Err(Error::sql(server, action, e));
            }
        };
        match &outcome {
            Outcome::Failed(why) => {
                tracing::warn!(server = %server, table = %quoted, error = %why, "table could not be optimized")
            }
            _ => {
                tracing::debug!(server = %server, table = %quoted, ?outcome, elapsed = ?table_started.elapsed(), "table optimized")
            }
        }
        done.push((table, outcome));
    }
    let summary = summarize(&done, total, Some(started.elapsed()));
    if done.iter().any(|(_, o)| matches!(o, Outcome::Failed(_))) {
        return Err(Error::Unsuitable {
            server: server.clone(),
            problem: summary,
            next_step: "check the failed tables (CHECK TABLE, the server's error log), then enqueue the job again".to_owned(),
        });
    }
    Ok(summary)
}

/// A result column as text (the text protocol sends every value as bytes).
fn text(row: &Row, index: usize) -> String {
    match row.as_ref(index) {
        Some(Value::Bytes(b)) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    }
}

/// The outcome from OPTIMIZE's `(Msg_type, Msg_text)` rows. The last `status` row is the
/// verdict; InnoDB first says, as a note, that it does "recreate + analyze instead", which is
/// its way of optimizing. Engines that cannot optimize leave only a note and no status.
fn classify<'a>(rows: impl IntoIterator<Item = (&'a str, &'a str)>) -> Outcome {
    let rows: Vec<(&str, &str)> = rows.into_iter().collect();
    let of = |kind: &str| -> Vec<&str> {
        rows.iter()
            .filter(|(t, _)| t.eq_ignore_ascii_case(kind))
            .map(|(_, m)| *m)
            .collect()
    };
    let errors = of("error");
    match of("status").last() {
        Some(status) if OK_STATUSES.contains(status) => Outcome::Ok,
        Some(status) if errors.is_empty() => Outcome::Failed((*status).to_owned()),
        Some(_) => Outcome::Failed(errors.join("; ")),
        None if !errors.is_empty() => Outcome::Failed(errors.join("; ")),
        None if !of("note").is_empty() => Outcome::Unsupported,
        None => Outcome::Failed("the server reported no status".to_owned()),
    }
}

/// `optimize: 14 tables, 12 ok, 1 failed: `db`.`t` (why), 1 not supported by its engine:
/// `db`.`m`; 2.3 s`. Failures come first; lists end with `… and N more` so the whole stays
/// under [`SUMMARY_CHARS`]. Without `elapsed` (stopped early) it counts `done of total`.
fn summarize(done: &[(Table, Outcome)], total: usize, elapsed: Option<Duration>) -> String {
    let ok = done.iter().filter(|(_, o)| *o == Outcome::Ok).count();
    let failed: Vec<String> = done
        .iter()
        .filter_map(|(t, o)| match o {
            Outcome::Failed(why) => Some(format!("{} ({})", t.quoted(), cut(why, MESSAGE_CHARS))),
            _ => None,
        })
        .collect();
    let unsupported: Vec<String> = done
        .iter()
        .filter(|(_, o)| *o == Outcome::Unsupported)
        .map(|(t, _)| t.quoted())
        .collect();
    let mut out = if done.len() == total {
        format!("optimize: {total} table{}, {ok} ok", plural(total))
    } else {
        format!("optimize: {} of {total} tables, {ok} ok", done.len())
    };
    if total == 0 {
        out = "optimize: no user tables on this server".to_owned();
    }
    if !failed.is_empty() {
        out.push_str(&format!(", {} failed: ", failed.len()));
        push_list(&mut out, &failed, FAILURES_CHARS);
    }
    if !unsupported.is_empty() {
        out.push_str(&format!(
            ", {} not supported by {} engine: ",
            unsupported.len(),
            if unsupported.len() == 1 {
                "its"
            } else {
                "their"
            }
        ));
        push_list(&mut out, &unsupported, SUMMARY_CHARS - 20);
    }
    if let Some(elapsed) = elapsed {
        out.push_str(&format!("; {}", progress::seconds(elapsed)));
    }
    out
}

/// Appends `items`, comma-separated, while `out` stays under `limit` characters, keeping room
/// for `… and N more`.
fn push_list(out: &mut String, items: &[String], limit: usize) {
    /// Room for `, … and 99999 more`.
    const MORE: usize = 20;
    for (i, item) in items.iter().enumerate() {
        let sep = if i == 0 { "" } else { ", " };
        let room = if i + 1 < items.len() { MORE } else { 0 };
        if out.chars().count() + sep.len() + item.chars().count() + room > limit {
            out.push_str(&format!("{sep}… and {} more", items.len() - i));
            return;
        }
        out.push_str(sep);
        out.push_str(item);
    }
}

/// `s` cut to `max` characters (not bytes: names and messages may be any Unicode).
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut c: String = s.chars().take(max.saturating_sub(1)).collect();
        c.push('…');
        c
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
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
             1 not supported by its engine: `db`.`mem`; 2.3 s"
        );
        assert_eq!(
            summarize(&done[..1], 4, None),
            "optimize: 1 of 4 tables, 1 ok"
        );
        assert_eq!(
            summarize(&[], 0, Some(Duration::ZERO)),
            "optimize: no user tables on this server; 0.0 s"
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
        assert!(s.ends_with("more; 3600.0 s"), "{s}");
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
                destinations: &crate::Destinations::new(Vec::new()),
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
}
