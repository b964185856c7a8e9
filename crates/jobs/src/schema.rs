//! Creating or upgrading the jobs table: idempotent DDL that runs only for what is missing.
//!
//! What exists is read from `information_schema` first, and DDL is issued only for what is
//! missing: an unconditional `CREATE ... IF NOT EXISTS` waits for a metadata lock, so it blocks
//! behind a running backup's `BACKUP STAGE BLOCK_DDL` (replication-manager #1721). A second run
//! therefore issues no DDL at all.

use std::fmt;

use crate::conn::JobsConn;
use crate::table::TABLE;
use crate::{Error, Result};

/// The reference layout (reference 000), in its order: name and definition.
const REFERENCE_COLUMNS: [(&str, &str); 8] = [
    ("id", "`id` INT(11) NOT NULL AUTO_INCREMENT"),
    ("task", "`task` VARCHAR(20) NULL DEFAULT NULL"),
    ("port", "`port` INT(11) NULL DEFAULT NULL"),
    ("server", "`server` VARCHAR(255) NULL DEFAULT NULL"),
    ("done", "`done` TINYINT(4) NOT NULL DEFAULT 0"),
    ("result", "`result` VARCHAR(1000) NULL DEFAULT NULL"),
    ("start", "`start` DATETIME NULL DEFAULT NULL"),
    ("end", "`end` DATETIME NULL DEFAULT NULL"),
];

/// Ferryman's own columns, all nullable so that legacy writers (which name their columns) keep
/// working. None is called `state`: replication-manager 3.x adds a column of that name.
/// Text columns are utf8mb4 with a binary collation whatever the table's default (a legacy table
/// may be latin1): `claimed_by` and `token` must compare exactly.
const EXTRA_COLUMNS: [(&str, &str); 7] = [
    (
        "outcome",
        "`outcome` VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL DEFAULT NULL",
    ),
    (
        "token",
        "`token` VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL DEFAULT NULL",
    ),
    (
        "params",
        "`params` TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL DEFAULT NULL",
    ),
    (
        "progress",
        "`progress` VARCHAR(1000) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL DEFAULT NULL",
    ),
    (
        "claimed_by",
        "`claimed_by` VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL DEFAULT NULL",
    ),
    ("heartbeat", "`heartbeat` DATETIME NULL DEFAULT NULL"),
    (
        "node",
        "`node` VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL DEFAULT NULL",
    ),
];

/// The index that makes `task` `MUL` (as in the reference) and serves the runnable-row lookup.
const TASK_INDEX: &str = "KEY `task_done` (`task`, `done`)";
const ADD_TASK_INDEX: &str = "ADD INDEX IF NOT EXISTS `task_done` (`task`, `done`)";

/// Capacities the crate checks before writing (the column definitions above).
pub(crate) const SERVER_CHARS: usize = 255;
pub(crate) const TOKEN_CHARS: usize = 255;
pub(crate) const CLAIMANT_CHARS: usize = 255;
pub(crate) const PARAMS_BYTES: usize = 65_535;

const CREATE_SCHEMA: &str = "CREATE DATABASE IF NOT EXISTS {schema} CHARACTER SET utf8mb4";

/// `CREATE TABLE`, assembled from the constant column definitions.
fn create_table() -> Vec<&'static str> {
    let mut sql = vec!["CREATE TABLE IF NOT EXISTS {jobs} ("];
    for (_, def) in REFERENCE_COLUMNS.iter().chain(&EXTRA_COLUMNS) {
        sql.extend([*def, ", "]);
    }
    sql.extend([
        "PRIMARY KEY (`id`), ",
        TASK_INDEX,
        ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    ]);
    sql
}

/// The full `CREATE TABLE` statement for `schema`, as [`JobsConn::ensure`] runs it.
pub fn create_table_sql(schema: &crate::Schema) -> String {
    crate::table::JobsTable::new(schema.clone()).sql(&create_table())
}

/// What [`JobsConn::ensure`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnsureReport {
    /// `` `schema`.`jobs` ``.
    pub table: String,
    /// The schema was created.
    pub created_schema: bool,
    /// The table was created.
    pub created_table: bool,
    /// Columns added to an existing (legacy) table.
    pub added_columns: Vec<&'static str>,
    /// An index on `task` was added to an existing table that had none.
    pub added_task_index: bool,
    /// The agents' heartbeat table (`ferryman_agents`) was created.
    pub created_agents_table: bool,
}

impl EnsureReport {
    /// True when the table was already complete and no DDL ran.
    pub fn did_nothing(&self) -> bool {
        !self.created_schema
            && !self.created_table
            && self.added_columns.is_empty()
            && !self.added_task_index
            && !self.created_agents_table
    }
}

impl fmt::Display for EnsureReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.did_nothing() {
            return write!(f, "{} is up to date: nothing to do", self.table);
        }
        let mut done = Vec::new();
        if self.created_schema {
            done.push("created the schema".to_owned());
        }
        if self.created_table {
            done.push("created the table".to_owned());
        }
        if !self.added_columns.is_empty() {
            done.push(format!("added column(s) {}", self.added_columns.join(", ")));
        }
        if self.added_task_index {
            done.push("added index `task_done`".to_owned());
        }
        if self.created_agents_table {
            done.push("created the agents' heartbeat table".to_owned());
        }
        write!(f, "{}: {}", self.table, done.join("; "))
    }
}

/// What `information_schema` says about the table.
#[derive(Debug, Default)]
struct Found {
    schema: bool,
    table: bool,
    /// Column names, lower-case (MariaDB column names are case-insensitive).
    columns: Vec<String>,
    /// `(index name, non-unique, position, column)`.
    index_columns: Vec<(String, i64, i64, String)>,
    /// `ferryman_agents` exists.
    agents_table: bool,
}

impl Found {
    fn has_column(&self, name: &str) -> bool {
        self.columns.iter().any(|c| c == name)
    }

    /// A non-primary unique index including `task` (replication-manager 3.x's `UNIQUE(task)`).
    fn unique_task_index(&self) -> Option<&str> {
        self.index_columns
            .iter()
            .find(|(index, non_unique, _, column)| {
                *non_unique == 0 && index != "PRIMARY" && column.eq_ignore_ascii_case("task")
            })
            .map(|(index, ..)| index.as_str())
    }

    /// Some index starts with `task`.
    fn task_indexed(&self) -> bool {
        self.index_columns
            .iter()
            .any(|(_, _, seq, column)| *seq == 1 && column.eq_ignore_ascii_case("task"))
    }
}

impl JobsConn {
    /// Creates the schema and the jobs table if missing, or adds Ferryman's columns to a legacy
    /// table; does nothing (and issues no DDL) when the table is complete. Like every statement
    /// of this session it is not binary-logged.
    ///
    /// Fails without changing anything when the table has replication-manager 3.x's
    /// `UNIQUE(task)` index, or lacks columns of the reference layout.
    pub async fn ensure(&mut self) -> Result<EnsureReport> {
        let mut report = EnsureReport {
            table: self.table().name().to_owned(),
            ..EnsureReport::default()
        };
        let mut found = self.inspect().await?;
        if !found.schema {
            self.ddl(&[CREATE_SCHEMA], || "create the jobs schema".to_owned())
                .await?;
            report.created_schema = true;
        }
        if !found.table {
            self.ddl(&create_table(), || "create the jobs table".to_owned())
                .await?;
            report.created_table = true;
            // Another process may have created it first: look at what is there now.
            found = self.inspect().await?;
        }
        if let Some(index) = found.unique_task_index() {
            return Err(Error::UniqueTaskIndex {
                server: self.server().to_owned(),
                table: self.table().name().to_owned(),
                index: index.to_owned(),
            });
        }
        let missing: Vec<&str> = REFERENCE_COLUMNS
            .iter()
            .map(|(name, _)| *name)
            .filter(|name| !found.has_column(name))
            .collect();
        if !missing.is_empty() {
            return Err(Error::NotAJobsTable {
                server: self.server().to_owned(),
                table: self.table().name().to_owned(),
                missing: missing.join(", "),
            });
        }
        let mut alter = vec!["ALTER TABLE {jobs} "];
        for (name, def) in EXTRA_COLUMNS {
            if !found.has_column(name) {
                if !report.added_columns.is_empty() {
                    alter.push(", ");
                }
                alter.extend(["ADD COLUMN IF NOT EXISTS ", def]);
                report.added_columns.push(name);
            }
        }
        if !found.task_indexed() {
            if !report.added_columns.is_empty() {
                alter.push(", ");
            }
            alter.push(ADD_TASK_INDEX);
            report.added_task_index = true;
        }
        if !report.added_columns.is_empty() || report.added_task_index {
            self.ddl(&alter, || {
                "add Ferryman's columns to the jobs table".to_owned()
            })
            .await?;
        }
        if !found.agents_table {
            self.ddl(&crate::heartbeat::CREATE_AGENTS_TABLE, || {
                "create the agents' heartbeat table".to_owned()
            })
            .await?;
            report.created_agents_table = true;
        }
        Ok(report)
    }

    async fn inspect(&mut self) -> Result<Found> {
        let schema = self.schema().as_str().to_owned();
        let action = || "read the jobs table's layout from information_schema".to_owned();
        let schemas: Vec<(i64,)> = self
            .rows(
                &["SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?"],
                (&schema,),
                action,
            )
            .await?;
        let mut found = Found {
            schema: schemas.first().is_some_and(|(n,)| *n > 0),
            ..Found::default()
        };
        if !found.schema {
            return Ok(found);
        }
        let columns: Vec<(String,)> = self
            .rows(
                &["SELECT COLUMN_NAME FROM information_schema.COLUMNS \
                   WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION"],
                (&schema, TABLE),
                action,
            )
            .await?;
        found.table = !columns.is_empty();
        found.columns = columns.into_iter().map(|(c,)| c.to_lowercase()).collect();
        if found.table {
            found.index_columns = self
                .rows(
                    &["SELECT INDEX_NAME, NON_UNIQUE, SEQ_IN_INDEX, COLUMN_NAME \
                       FROM information_schema.STATISTICS \
                       WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? \
                       ORDER BY INDEX_NAME, SEQ_IN_INDEX"],
                    (&schema, TABLE),
                    action,
                )
                .await?;
        }
        let agents: Vec<(i64,)> = self
            .rows(
                &["SELECT COUNT(*) FROM information_schema.TABLES \
                   WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?"],
                (&schema, crate::table::AGENTS_TABLE),
                action,
            )
            .await?;
        found.agents_table = agents.first().is_some_and(|(n,)| *n > 0);
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_table_is_the_reference_layout_plus_nullable_columns() {
        let sql = create_table_sql(&crate::Schema::default());
        assert!(sql.starts_with(
            "CREATE TABLE IF NOT EXISTS `replication_manager_schema`.`jobs` (`id` INT(11) NOT NULL AUTO_INCREMENT, `task` VARCHAR(20) NULL"
        ), "{sql}");
        for (name, def) in EXTRA_COLUMNS {
            assert!(def.contains("NULL DEFAULT NULL"), "{name} must be nullable");
            assert_ne!(name, "state", "replication-manager 3.x owns `state`");
        }
        assert!(
            sql.ends_with(
                "KEY `task_done` (`task`, `done`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
            ),
            "{sql}"
        );
    }

    #[test]
    fn report_says_what_was_done() {
        let mut r = EnsureReport {
            table: "`s`.`jobs`".into(),
            ..EnsureReport::default()
        };
        assert_eq!(r.to_string(), "`s`.`jobs` is up to date: nothing to do");
        r.added_columns = vec!["outcome", "token"];
        r.added_task_index = true;
        assert_eq!(
            r.to_string(),
            "`s`.`jobs`: added column(s) outcome, token; added index `task_done`"
        );
    }
}
