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
/// `db`.`m`; 2s 300ms`. Failures come first; lists end with `… and N more` so the whole stays
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
mod tests;
