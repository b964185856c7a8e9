//! The jobs table's name, and every statement this crate runs on it.
//!
//! Values are always bound with `?`. Identifiers cannot be bound, so the schema name is the one
//! piece of SQL text not written in this crate: it is validated against
//! `^[A-Za-z0-9_]{1,64}$`, backtick-quoted, and spliced into constant templates by
//! `JobsTable::sql`, the only place where SQL text is assembled.

use std::fmt;
use std::str::FromStr;

use crate::{Error, Result};

/// The schema replication-manager uses for the jobs table.
pub const DEFAULT_SCHEMA: &str = "replication_manager_schema";
/// The table's name, fixed by replication-manager's donor scripts.
pub const TABLE: &str = "jobs";
/// Ferryman's table of agent heartbeats, beside the jobs table (`heartbeat.rs`).
pub const AGENTS_TABLE: &str = "ferryman_agents";
/// The `result` a runner writes when it starts a job (reference donor script).
pub const PROCESSING: &str = "processing";

/// A schema name that is safe to splice into SQL as a quoted identifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Schema(String);

impl Schema {
    /// Validates `name`: 1 to 64 ASCII letters, digits or `_`.
    pub fn new(name: &str) -> Result<Schema> {
        let valid = (1..=64).contains(&name.len())
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if valid {
            Ok(Schema(name.to_owned()))
        } else {
            Err(Error::InvalidSchema {
                name: name.to_owned(),
            })
        }
    }

    /// The name, unquoted.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Schema {
    /// `replication_manager_schema`.
    fn default() -> Self {
        Schema(DEFAULT_SCHEMA.to_owned())
    }
}

impl FromStr for Schema {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Schema::new(s)
    }
}

impl fmt::Display for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The `jobs` table of one schema.
#[derive(Debug, Clone)]
pub(crate) struct JobsTable {
    schema: Schema,
    /// `` `schema` `` (validated, so backticks cannot occur inside).
    quoted_schema: String,
    /// `` `schema`.`jobs` ``.
    quoted_table: String,
    /// `` `schema`.`ferryman_agents` ``.
    quoted_agents: String,
}

impl JobsTable {
    pub(crate) fn new(schema: Schema) -> Self {
        debug_assert!(!schema.as_str().contains('`'));
        let quoted_schema = format!("`{}`", schema.as_str());
        let quoted_table = format!("{quoted_schema}.`{TABLE}`");
        let quoted_agents = format!("{quoted_schema}.`{AGENTS_TABLE}`");
        JobsTable {
            schema,
            quoted_schema,
            quoted_table,
            quoted_agents,
        }
    }

    pub(crate) fn schema(&self) -> &Schema {
        &self.schema
    }

    /// `` `schema`.`jobs` ``, for messages.
    pub(crate) fn name(&self) -> &str {
        &self.quoted_table
    }

    /// The statement made of constant `pieces`, with `{schema}`, `{jobs}` and `{agents}`
    /// replaced by the quoted identifiers. Pieces are `&'static str`: only text written in this
    /// crate is SQL.
    pub(crate) fn sql(&self, pieces: &[&'static str]) -> String {
        pieces
            .concat()
            .replace("{schema}", &self.quoted_schema)
            .replace("{jobs}", &self.quoted_table)
            .replace("{agents}", &self.quoted_agents)
    }
}

/// The columns every read returns, in the order [`crate::job::Job::from_row`] decodes them.
/// Datetimes are read as text: the driver is built without a date library.
macro_rules! columns {
    () => {
        "`id`, `task`, `port`, `server`, `done`, `result`, CAST(`start` AS CHAR), \
         CAST(`end` AS CHAR), `outcome`, `token`, `params`, `progress`, `claimed_by`, \
         CAST(`heartbeat` AS CHAR)"
    };
}

/// Undone and not being run: the reference donor script's condition for a row to run.
macro_rules! runnable {
    () => {
        "`done` = 0 AND (`result` IS NULL OR `result` <> 'processing')"
    };
}

/// Written for the server bound (its configured name), or for any server (a row of a writer
/// that does not name it: replication-manager, a donor script). A Galera SST copies the
/// donor's table to the joiner, rows included: those name the donor and are not the joiner's.
macro_rules! for_this_node {
    () => {
        "(`node` IS NULL OR `node` = ?)"
    };
}

/// Undone, being run, by the claimant bound last.
macro_rules! held_by {
    () => {
        "`id` = ? AND `done` = 0 AND `result` = 'processing' AND `claimed_by` = ?"
    };
}

/// One row by id.
pub(crate) const GET: &str = concat!("SELECT ", columns!(), " FROM {jobs} WHERE `id` = ?");

/// The newest rows.
pub(crate) const LIST: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM {jobs} ORDER BY `id` DESC LIMIT ?"
);

/// The job to run for a task (both of its spellings bound): the newest runnable row, exactly as
/// the reference donor script chooses it.
pub(crate) const FIND: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM {jobs} WHERE `task` IN (?, ?) AND ",
    runnable!(),
    " AND ",
    for_this_node!(),
    " ORDER BY `id` DESC LIMIT 1"
);

/// Runnable rows of any task, oldest first, at most as many as bound: what an agent looks at
/// before taking jobs, and where rows no runner knows are found.
pub(crate) const RUNNABLE: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM {jobs} WHERE ",
    runnable!(),
    " AND ",
    for_this_node!(),
    " ORDER BY `id` LIMIT ?"
);

/// Undone rows written for another server (copied here with a datadir, by a Galera SST):
/// closed once by each agent at its start, so nobody waits on them. Outcome, result, node.
pub(crate) const CLOSE_FOREIGN: &str = "UPDATE {jobs} SET `done` = 1, `end` = NOW(), \
     `outcome` = ?, `result` = ? WHERE `done` = 0 AND `node` IS NOT NULL AND `node` <> ?";

/// A new row: task, port, server, token, params, node.
pub(crate) const INSERT: &str = "INSERT INTO {jobs} \
     (`task`, `port`, `server`, `done`, `start`, `token`, `params`, `node`) \
     VALUES (?, ?, ?, 0, NOW(), ?, ?, ?)";

/// Marks older runnable rows of a task done: outcome, result, spelling, spelling, chosen id,
/// node.
///
/// The reference donor script runs `SET done=1 WHERE done=0 AND task=? AND id<>chosen`. We
/// deliberately differ in two ways: rows being run (`result = 'processing'`) are left alone
/// (the reference reports a running job as finished), and only rows older than the chosen one
/// are touched (`id < chosen`: a row enqueued after the choice is new work, not a stale one).
pub(crate) const SUPERSEDE: &str = concat!(
    "UPDATE {jobs} SET `done` = 1, `end` = NOW(), `outcome` = ?, `result` = ? \
     WHERE `task` IN (?, ?) AND `id` < ? AND ",
    runnable!(),
    " AND ",
    for_this_node!()
);

/// The atomic claim: claimant, id. One affected row means the claim was won.
pub(crate) const CLAIM: &str = concat!(
    "UPDATE {jobs} SET `result` = 'processing', `claimed_by` = ?, `heartbeat` = NOW() \
     WHERE `id` = ? AND ",
    runnable!()
);

/// Progress text and heartbeat: progress, id, claimant.
pub(crate) const PROGRESS: &str = concat!(
    "UPDATE {jobs} SET `progress` = ?, `heartbeat` = NOW() WHERE ",
    held_by!()
);

/// Heartbeat only: id, claimant.
pub(crate) const HEARTBEAT: &str =
    concat!("UPDATE {jobs} SET `heartbeat` = NOW() WHERE ", held_by!());

/// The end of a claimed job: outcome, result, id, claimant.
pub(crate) const FINISH: &str = concat!(
    "UPDATE {jobs} SET `done` = 1, `end` = NOW(), `outcome` = ?, `result` = ? WHERE ",
    held_by!()
);

/// Every undone row being run by a Ferryman runner (`claimed_by` set), oldest first, with the
/// heartbeat's age in seconds by the server's clock (NULL without a heartbeat) as a 15th column.
pub(crate) const CLAIMED: &str = concat!(
    "SELECT ",
    columns!(),
    ", TIMESTAMPDIFF(SECOND, `heartbeat`, NOW()) FROM {jobs} \
     WHERE `done` = 0 AND `result` = 'processing' AND `claimed_by` IS NOT NULL ORDER BY `id`"
);

/// One row by id, with its heartbeat's age in seconds by the server's clock (NULL without a
/// heartbeat) as a 15th column: what a watcher reads at each look.
pub(crate) const OBSERVE: &str = concat!(
    "SELECT ",
    columns!(),
    ", TIMESTAMPDIFF(SECOND, `heartbeat`, NOW()) FROM {jobs} WHERE `id` = ?"
);

/// Every row, oldest first (to carry the table across a datadir swap).
pub(crate) const ALL: &str = concat!("SELECT ", columns!(), " FROM {jobs} ORDER BY `id`");

/// Removes every row (the other half of carrying the table: the rows restored data brought).
pub(crate) const DELETE_ALL: &str = "DELETE FROM {jobs}";

/// One row with every column as read, its `id` included, in the order of `columns!()`.
pub(crate) const INSERT_ROW: &str = "INSERT INTO {jobs} \
     (`id`, `task`, `port`, `server`, `done`, `result`, `start`, `end`, `outcome`, `token`, \
     `params`, `progress`, `claimed_by`, `heartbeat`) \
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

/// Cancels an undone job, claimed or not: outcome, result, id.
pub(crate) const CANCEL: &str =
    "UPDATE {jobs} SET `done` = 1, `end` = NOW(), `outcome` = ?, `result` = ? \
     WHERE `id` = ? AND `done` = 0";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_validated() {
        assert_eq!(Schema::default().as_str(), "replication_manager_schema");
        for ok in ["a", "Jobs_2", &"x".repeat(64)] {
            assert!(Schema::new(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "a-b",
            "a b",
            "a`b",
            "a.b",
            "été",
            "x; DROP TABLE jobs",
            &"x".repeat(65),
        ] {
            let err = Schema::new(bad).unwrap_err().to_string();
            assert!(
                err.contains("check `jobs.schema` in ferryman.toml"),
                "{err}"
            );
        }
    }

    #[test]
    fn only_the_quoted_schema_is_spliced() {
        let t = JobsTable::new(Schema::new("s_1").unwrap());
        assert_eq!(t.name(), "`s_1`.`jobs`");
        assert_eq!(
            t.sql(&["CREATE DATABASE {schema}; ", "SELECT 1 FROM {jobs}"]),
            "CREATE DATABASE `s_1`; SELECT 1 FROM `s_1`.`jobs`"
        );
        for stmt in [
            GET, LIST, FIND, RUNNABLE, INSERT, SUPERSEDE, CLAIM, PROGRESS, HEARTBEAT, FINISH,
            CANCEL, CLAIMED, OBSERVE, ALL, DELETE_ALL, INSERT_ROW,
        ] {
            let sql = t.sql(&[stmt]);
            assert!(sql.contains("`s_1`.`jobs`") && !sql.contains('{'), "{sql}");
        }
    }
}
