//! The checks made on the restored copy: expected databases present, watched tables non-empty,
//! rows per table equal to those recorded at backup time (or to a logical backup at the same
//! GTID, for a physical backup), and `CHECK TABLE` clean.
//!
//! Names come from the restored server's own catalogue and are quoted as identifiers, never
//! pasted raw. System schemas (`mysql`, `sys`, `information_schema`, `performance_schema`) are
//! left out of row counts: the server rewrites some of their tables by itself (statistics,
//! GTID state), so their counts are not the backup's.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use ferryman_db::mysql_async::prelude::Queryable;
use ferryman_db::mysql_async::Row;
use ferryman_db::{Endpoint, Session};

use crate::sessions::each_batch;
use crate::Result;
use ferryman_repo::verification::{names, Check};

/// Schemas whose contents are the server's, not the backup's.
pub const SYSTEM_SCHEMAS: [&str; 4] = ["mysql", "sys", "information_schema", "performance_schema"];
/// Tables per `CHECK TABLE` statement.
const CHECK_BATCH: usize = 50;
/// A row of `CHECK TABLE`'s answer: table, operation, message type, message.
type CheckRow = (String, String, String, String);
/// How many differences a failed check lists.
const LIST: usize = 10;

/// A base table of the restored copy.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Table {
    /// Its database.
    pub schema: String,
    /// Its name.
    pub name: String,
}

impl Table {
    /// `db.table`, the key the manifest's row counts use.
    pub fn key(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }

    /// `` `db`.`table` `` for SQL.
    pub fn quoted(&self) -> String {
        format!("{}.{}", ident(&self.schema), ident(&self.name))
    }

    fn is_system(&self) -> bool {
        SYSTEM_SCHEMAS.contains(&self.schema.as_str())
    }
}

/// An identifier quoted for MariaDB: backticks, inner backticks doubled.
pub fn ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// What the restored server holds.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// `@@version`.
    pub version: String,
    /// Every database.
    pub databases: BTreeSet<String>,
    /// Every base table (no views, no sequences).
    pub tables: Vec<Table>,
}

/// What the checks compare the restored copy with.
#[derive(Debug, Clone, Default)]
pub struct Expected {
    /// Databases that must exist.
    pub databases: BTreeSet<String>,
    /// Where [`Expected::databases`] came from, in words.
    pub databases_from: String,
    /// `(database, table)` that must exist and have a row.
    pub nonempty: Vec<(String, String)>,
    /// Rows per `db.table` to compare with; `None` when there is no reference.
    pub rows: Option<BTreeMap<String, u64>>,
    /// Where [`Expected::rows`] came from, or why there are none.
    pub rows_from: String,
    /// Whether to run `CHECK TABLE`.
    pub check_tables: bool,
}

/// The checks' results and the rows counted.
#[derive(Debug, Clone, Default)]
pub struct Postchecks {
    /// Every check, in order.
    pub checks: Vec<Check>,
    /// Rows per user table counted in the restored copy.
    pub rows: BTreeMap<String, u64>,
    /// The restored server's version.
    pub version: String,
}

/// Runs every check against the restored server at `endpoint`.
pub async fn run(endpoint: &Endpoint, expected: &Expected) -> Result<Postchecks> {
    let mut conn = endpoint.connect(Session::Plain).await?;
    let q = |action: &'static str| move |e| endpoint.query_error(action, e);
    let started = Instant::now();
    let inventory = inventory(endpoint, &mut conn).await?;
    let mut checks = Vec::new();
    checks.push(databases(&inventory, expected).took(started.elapsed().as_secs_f64()));

    let started = Instant::now();
    let mut nonempty_problems = Vec::new();
    for (db, table) in &expected.nonempty {
        let t = Table {
            schema: db.clone(),
            name: table.clone(),
        };
        if !inventory.tables.contains(&t) {
            nonempty_problems.push(format!("{} is missing", t.key()));
            continue;
        }
        let sql = format!("SELECT 1 FROM {} LIMIT 1", t.quoted());
        let rows: Vec<Row> = conn.query(sql).await.map_err(q("read a watched table"))?;
        if rows.is_empty() {
            nonempty_problems.push(format!("{} is empty", t.key()));
        }
    }
    let nonempty = if expected.nonempty.is_empty() {
        Check::skipped(
            names::NONEMPTY_TABLES,
            "no watched tables configured (verify-nonempty-tables)",
        )
    } else if nonempty_problems.is_empty() {
        Check::passed(
            names::NONEMPTY_TABLES,
            format!(
                "{} watched table(s) have rows: {}",
                expected.nonempty.len(),
                expected
                    .nonempty
                    .iter()
                    .map(|(d, t)| format!("{d}.{t}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    } else {
        Check::failed(
            names::NONEMPTY_TABLES,
            format!(
                "{} (verify-nonempty-tables): the source lost data before this backup, or the backup missed it; look at the source now",
                nonempty_problems.join(", ")
            ),
        )
    };
    checks.push(nonempty.took(started.elapsed().as_secs_f64()));

    let started = Instant::now();
    let rows = count_rows(endpoint, &inventory).await?;
    checks.push(row_counts(&rows, expected).took(started.elapsed().as_secs_f64()));

    let started = Instant::now();
    let check = if expected.check_tables {
        let mut problems = Vec::new();
        let checked: Vec<(Vec<Table>, Vec<CheckRow>)> = each_batch(
            endpoint,
            &inventory.tables,
            CHECK_BATCH,
            "check tables",
            |batch| {
                let list: Vec<String> = batch.iter().map(Table::quoted).collect();
                format!("CHECK TABLE {}", list.join(", "))
            },
        )
        .await?;
        for (table, _op, msg_type, msg_text) in checked.into_iter().flat_map(|(_, out)| out) {
            let bad = msg_type.eq_ignore_ascii_case("error")
                || (msg_type.eq_ignore_ascii_case("status") && msg_text != "OK");
            if bad {
                problems.push(format!("{table}: {msg_type}: {msg_text}"));
            }
        }
        problems.sort();
        if problems.is_empty() {
            Check::passed(
                names::CHECK_TABLE,
                format!("{} table(s) checked, no error", inventory.tables.len()),
            )
        } else {
            Check::failed(
                names::CHECK_TABLE,
                format!(
                    "{}{}: the backup holds damaged tables; do not rely on it: take a new backup and run CHECK TABLE on the source",
                    first(&problems),
                    more(problems.len())
                ),
            )
        }
    } else {
        Check::skipped(names::CHECK_TABLE, "turned off (check-tables = false)")
    };
    checks.push(check.took(started.elapsed().as_secs_f64()));
    let _ = conn.disconnect().await;
    Ok(Postchecks {
        checks,
        rows,
        version: inventory.version,
    })
}

/// The restored server's databases and base tables.
/// Rows per table (`db.table`) of every base table outside the system schemas, counted on
/// several sessions at once.
async fn count_rows(endpoint: &Endpoint, inventory: &Inventory) -> Result<BTreeMap<String, u64>> {
    let user: Vec<Table> = inventory
        .tables
        .iter()
        .filter(|t| !t.is_system())
        .cloned()
        .collect();
    let counted: Vec<(Vec<Table>, Vec<Option<u64>>)> =
        each_batch(endpoint, &user, 1, "count rows", |batch| {
            let t = batch.first().map_or_else(String::new, Table::quoted);
            format!("SELECT COUNT(*) FROM {t}")
        })
        .await?;
    Ok(counted
        .into_iter()
        .filter_map(|(tables, counts)| {
            let table = tables.into_iter().next()?;
            Some((
                table.key(),
                counts.into_iter().next().flatten().unwrap_or(0),
            ))
        })
        .collect())
}

/// Rows per table (`db.table`) of the server at `endpoint`, system schemas left out, as the
/// row-count check counts them.
pub async fn table_rows(endpoint: &Endpoint) -> Result<BTreeMap<String, u64>> {
    let mut conn = endpoint.connect(Session::Plain).await?;
    let inventory = inventory(endpoint, &mut conn).await?;
    let rows = count_rows(endpoint, &inventory).await;
    let _ = conn.disconnect().await;
    rows
}

async fn inventory(endpoint: &Endpoint, conn: &mut ferryman_db::Connection) -> Result<Inventory> {
    let q = |action: &'static str| move |e| endpoint.query_error(action, e);
    let version: Option<String> = conn
        .query_first("SELECT @@version")
        .await
        .map_err(q("read the version"))?;
    let databases: Vec<String> = conn
        .query("SELECT schema_name FROM information_schema.schemata")
        .await
        .map_err(q("list databases"))?;
    let tables: Vec<(String, String)> = conn
        .query(
            "SELECT table_schema, table_name FROM information_schema.tables \
             WHERE table_type = 'BASE TABLE' \
             AND table_schema NOT IN ('information_schema', 'performance_schema', 'sys') \
             ORDER BY table_schema, table_name",
        )
        .await
        .map_err(q("list tables"))?;
    Ok(Inventory {
        version: version.unwrap_or_default(),
        databases: databases.into_iter().collect(),
        tables: tables
            .into_iter()
            .map(|(schema, name)| Table { schema, name })
            .collect(),
    })
}

/// The databases check.
fn databases(inventory: &Inventory, expected: &Expected) -> Check {
    let user: Vec<&String> = inventory
        .databases
        .iter()
        .filter(|d| !SYSTEM_SCHEMAS.contains(&d.as_str()))
        .collect();
    if expected.databases.is_empty() {
        return Check::skipped(
            names::DATABASES,
            format!(
                "no expected databases ({}); restored: {}",
                expected.databases_from,
                join(&user)
            ),
        );
    }
    let missing: Vec<&String> = expected
        .databases
        .iter()
        .filter(|d| !inventory.databases.contains(*d))
        .collect();
    if missing.is_empty() {
        Check::passed(
            names::DATABASES,
            format!(
                "{} expected database(s) present ({}): {}",
                expected.databases.len(),
                expected.databases_from,
                join(&expected.databases.iter().collect::<Vec<_>>())
            ),
        )
    } else {
        Check::failed(
            names::DATABASES,
            format!(
                "missing after restore: {} (expected from {}); the backup does not hold them: look at the backup job's result and the source",
                join(&missing),
                expected.databases_from
            ),
        )
    }
}

/// The row-count check: every table of the reference has the same rows in the restored copy.
fn row_counts(rows: &BTreeMap<String, u64>, expected: &Expected) -> Check {
    let total: u64 = rows.values().sum();
    let Some(reference) = &expected.rows else {
        return Check::skipped(
            names::ROW_COUNTS,
            format!(
                "{}; counted {total} rows in {} tables, recorded with this verification",
                expected.rows_from,
                rows.len()
            ),
        );
    };
    let mut problems = Vec::new();
    let mut compared = 0usize;
    let mut compared_rows = 0u64;
    for (key, want) in reference {
        if SYSTEM_SCHEMAS
            .iter()
            .any(|s| key.strip_prefix(s).is_some_and(|r| r.starts_with('.')))
        {
            continue;
        }
        compared += 1;
        compared_rows += want;
        match rows.get(key) {
            None => problems.push(format!("{key} is missing (expected {want} rows)")),
            Some(got) if got != want => {
                problems.push(format!("{key} has {got} rows, expected {want}"))
            }
            Some(_) => {}
        }
    }
    if problems.is_empty() {
        Check::passed(
            names::ROW_COUNTS,
            format!(
                "{compared} table(s), {compared_rows} rows, equal to {}",
                expected.rows_from
            ),
        )
    } else {
        Check::failed(
            names::ROW_COUNTS,
            format!(
                "{}{} (compared with {}): the restored copy is not what was backed up; do not rely on this backup",
                first(&problems),
                more(problems.len()),
                expected.rows_from
            ),
        )
    }
}

fn join(items: &[&String]) -> String {
    if items.is_empty() {
        return "(none)".to_owned();
    }
    items
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn first(problems: &[String]) -> String {
    problems
        .iter()
        .take(LIST)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ")
}

fn more(n: usize) -> String {
    if n > LIST {
        format!(" and {} more", n - LIST)
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferryman_repo::Outcome;

    fn expected(rows: &[(&str, u64)]) -> Expected {
        Expected {
            rows: Some(rows.iter().map(|(k, v)| (k.to_string(), *v)).collect()),
            rows_from: "the counts recorded at backup time".into(),
            ..Expected::default()
        }
    }

    #[test]
    fn row_counts_name_every_difference_and_ignore_system_tables() {
        let got: BTreeMap<String, u64> = [("shop.orders".to_string(), 0), ("shop.items".into(), 5)]
            .into_iter()
            .collect();
        let c = row_counts(
            &got,
            &expected(&[
                ("shop.orders", 3),
                ("shop.items", 5),
                ("shop.gone", 1),
                ("mysql.innodb_index_stats", 99),
            ]),
        );
        assert_eq!(c.outcome, Outcome::Failed);
        assert!(
            c.detail.contains("shop.orders has 0 rows, expected 3"),
            "{}",
            c.detail
        );
        assert!(c.detail.contains("shop.gone is missing"), "{}", c.detail);
        assert!(!c.detail.contains("mysql."), "{}", c.detail);
        let ok = row_counts(&got, &expected(&[("shop.items", 5), ("shop.orders", 0)]));
        assert_eq!(ok.outcome, Outcome::Passed, "{}", ok.detail);
    }

    #[test]
    fn identifiers_are_quoted() {
        let t = Table {
            schema: "a`b".into(),
            name: "c.d".into(),
        };
        assert_eq!(t.quoted(), "`a``b`.`c.d`");
        assert_eq!(t.key(), "a`b.c.d");
    }
}
