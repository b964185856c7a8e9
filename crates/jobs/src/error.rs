//! Errors of the jobs-table protocol.

use crate::JobId;

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong when creating, reading or writing the jobs table.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configured schema name cannot be used as an identifier.
    #[error("invalid jobs schema name `{name}`: use 1 to 64 ASCII letters, digits or `_`; check `jobs.schema` in ferryman.toml")]
    InvalidSchema {
        /// The name as given.
        name: String,
    },

    /// The connection could not be opened.
    #[error("cannot open a jobs-table session: {source}")]
    Connect {
        /// What the connection layer reported (it names the server and the next step).
        #[source]
        source: Box<ferryman_db::Error>,
    },

    /// The account may not turn binary logging off for its session, so job rows would replicate.
    #[error("`{server}`: account `{user}` may not set `sql_log_bin = 0` ({source}); job rows must never replicate: grant it the BINLOG ADMIN privilege (MariaDB ≥ 10.5.2) or SUPER")]
    NoBinlogPrivilege {
        /// Server name.
        server: String,
        /// The account.
        user: String,
        /// The server's refusal.
        #[source]
        source: Box<ferryman_db::mysql_async::Error>,
    },

    /// The session reports binary logging on although it was turned off when it was opened.
    #[error("`{server}`: the jobs session has `@@session.sql_log_bin = {value}`, expected 0; refusing to write job rows that would replicate: check for a proxy or `init_connect` that changes session variables")]
    BinlogStillOn {
        /// Server name.
        server: String,
        /// What the server answered.
        value: String,
    },

    /// On a Galera node, the account may not turn wsrep off for its session, so job rows
    /// would reach every node of the cluster.
    #[error("`{server}` is a Galera node and account `{user}` may not set `wsrep_on = OFF` for its session ({source}); job rows must stay on the node they are written for, and Galera replicates them whatever `sql_log_bin` says: grant the account SUPER on the Galera nodes (`GRANT SUPER ON *.* TO ...`)")]
    NoWsrepOffPrivilege {
        /// Server name.
        server: String,
        /// The account.
        user: String,
        /// The server's refusal.
        #[source]
        source: Box<ferryman_db::mysql_async::Error>,
    },

    /// The session reports wsrep on although it was turned off.
    #[error("`{server}`: the jobs session still has `wsrep_on = ON` after `SET SESSION wsrep_on = OFF`; refusing to write job rows that Galera would copy to every node: check for a proxy or `init_connect` that changes session variables")]
    WsrepStillOn {
        /// Server name.
        server: String,
    },

    /// A statement failed.
    #[error("`{server}`: cannot {action}: {source}; {hint}")]
    Query {
        /// Server name.
        server: String,
        /// What we were doing, as a verb phrase ("claim job 12").
        action: String,
        /// The next step, derived from the server's error code.
        hint: &'static str,
        /// The server's or driver's reason.
        #[source]
        source: Box<ferryman_db::mysql_async::Error>,
    },

    /// The existing table has replication-manager 3.x's `UNIQUE(task)` index.
    #[error("`{server}`: {table} has a UNIQUE index `{index}` on `task`, as replication-manager 3.x creates it: that layout keeps one row per task, while Ferryman keeps one row per job (history), so the two cannot share the table. If replication-manager 3.x still uses this server, give Ferryman its own schema (`jobs.schema` in ferryman.toml); otherwise drop the index (`SET sql_log_bin = 0; ALTER TABLE {table} DROP INDEX `{index}``) and run again")]
    UniqueTaskIndex {
        /// Server name.
        server: String,
        /// `` `schema`.`jobs` ``.
        table: String,
        /// Name of the unique index.
        index: String,
    },

    /// A table called `jobs` exists but lacks columns of the reference layout.
    #[error("`{server}`: {table} exists but is not a jobs table (missing column(s) {missing}): rename or drop it, or give Ferryman another schema (`jobs.schema` in ferryman.toml)")]
    NotAJobsTable {
        /// Server name.
        server: String,
        /// `` `schema`.`jobs` ``.
        table: String,
        /// The missing reference columns, comma-separated.
        missing: String,
    },

    /// A value is longer than its column.
    #[error("{field} is {len} characters long, the jobs table holds at most {max}: shorten it")]
    TooLong {
        /// Which value.
        field: &'static str,
        /// Its length (characters, or bytes for `params`).
        len: usize,
        /// The column's capacity.
        max: usize,
    },

    /// No row has this id.
    #[error("`{server}`: job {job_id} does not exist in {table}: it was deleted, or the id belongs to another server")]
    NotFound {
        /// Server name.
        server: String,
        /// `` `schema`.`jobs` ``.
        table: String,
        /// The id looked for.
        job_id: JobId,
    },

    /// The job was cancelled while we held it.
    #[error("`{server}`: job {job_id} was cancelled ({result}) while {claimant} ran it: its result was not recorded; stop the work")]
    Cancelled {
        /// Server name.
        server: String,
        /// The job.
        job_id: JobId,
        /// Who held the claim.
        claimant: String,
        /// The row's `result` (the reason given).
        result: String,
    },

    /// The job was marked done by someone else (superseded, finished, or by a legacy donor script).
    #[error("`{server}`: job {job_id} was already marked done by someone else (outcome {outcome}, result {result:?}) while {claimant} ran it: its result was not recorded; stop the work")]
    AlreadyDone {
        /// Server name.
        server: String,
        /// The job.
        job_id: JobId,
        /// Who held the claim.
        claimant: String,
        /// The row's `outcome`, `NULL` when a legacy script set `done = 1`.
        outcome: String,
        /// The row's `result`.
        result: String,
    },

    /// The job is undone but no longer claimed by us.
    #[error("`{server}`: job {job_id} is no longer claimed by {claimant} (claimed_by {claimed_by:?}, result {result:?}): someone released or re-claimed it; stop the work")]
    ClaimLost {
        /// Server name.
        server: String,
        /// The job.
        job_id: JobId,
        /// Who thought they held it.
        claimant: String,
        /// Who holds it now, if anyone.
        claimed_by: Option<String>,
        /// The row's `result`.
        result: Option<String>,
    },

    /// The row's `task` is not a task we know.
    #[error("job {job_id}: {source}")]
    UnknownTask {
        /// The job.
        job_id: JobId,
        /// The parse error, listing the known names.
        #[source]
        source: ferryman_proto::Error,
    },

    /// The row's `params` is not JSON.
    #[error("job {job_id}: `params` is not valid JSON ({source}): the row was not written by Ferryman; cancel it and enqueue the job again")]
    BadParams {
        /// The job.
        job_id: JobId,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },

    /// A row could not be decoded.
    #[error("`{server}`: unexpected value in {table} column `{column}`: {detail}; check that the table has the reference layout")]
    BadRow {
        /// Server name.
        server: String,
        /// `` `schema`.`jobs` ``.
        table: String,
        /// The column.
        column: &'static str,
        /// What was wrong.
        detail: String,
    },
}

impl Error {
    /// True when trying again (after reconnecting, for connection errors) may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Connect { source } => source.is_retryable(),
            Error::Query { source, .. } => {
                is_lock_conflict(source)
                    || matches!(
                        **source,
                        ferryman_db::mysql_async::Error::Io(_)
                            | ferryman_db::mysql_async::Error::Driver(_)
                    )
            }
            _ => false,
        }
    }

    /// True when the statement lost a lock race (deadlock or lock wait timeout) and can simply
    /// be run again on the same connection.
    pub fn is_lock_conflict(&self) -> bool {
        matches!(self, Error::Query { source, .. } if is_lock_conflict(source))
    }

    /// True when the work behind a claim must stop: the row is no longer ours to finish.
    pub fn is_claim_gone(&self) -> bool {
        matches!(
            self,
            Error::Cancelled { .. }
                | Error::AlreadyDone { .. }
                | Error::ClaimLost { .. }
                | Error::NotFound { .. }
        )
    }
}

/// MariaDB error codes this crate reacts to.
pub(crate) mod code {
    /// `ER_LOCK_WAIT_TIMEOUT`.
    pub const LOCK_WAIT_TIMEOUT: u16 = 1205;
    /// `ER_LOCK_DEADLOCK`.
    pub const DEADLOCK: u16 = 1213;
    /// `ER_SPECIFIC_ACCESS_DENIED_ERROR` (e.g. `SET sql_log_bin` without the privilege).
    pub const SPECIFIC_ACCESS_DENIED: u16 = 1227;
    /// `ER_TRUNCATED_WRONG_VALUE_FOR_FIELD` ("Incorrect string value").
    pub const INCORRECT_STRING_VALUE: u16 = 1366;
}

fn server_code(source: &ferryman_db::mysql_async::Error) -> Option<u16> {
    match source {
        ferryman_db::mysql_async::Error::Server(e) => Some(e.code),
        _ => None,
    }
}

fn is_lock_conflict(source: &ferryman_db::mysql_async::Error) -> bool {
    matches!(
        server_code(source),
        Some(code::DEADLOCK | code::LOCK_WAIT_TIMEOUT)
    )
}

/// The next step for a failed statement, from the server's error code.
pub(crate) fn hint(source: &ferryman_db::mysql_async::Error) -> &'static str {
    match server_code(source) {
        Some(code::DEADLOCK | code::LOCK_WAIT_TIMEOUT) => {
            "another session holds the row: try again"
        }
        Some(1044 | 1142 | 1143 | code::SPECIFIC_ACCESS_DENIED) => {
            "grant the account SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER on the jobs schema (config/grants.sql)"
        }
        Some(1290) => {
            "the server runs with read_only: give the account the READ_ONLY ADMIN privilege (MariaDB ≥ 10.5.2; SUPER before)"
        }
        Some(1049 | 1146) => {
            "the jobs table does not exist yet: the manager creates it when it starts (check `jobs.schema` in ferryman.toml)"
        }
        Some(1054) => {
            "the table lacks Ferryman's columns: let the manager upgrade it (it adds them when it starts)"
        }
        Some(code::INCORRECT_STRING_VALUE) => {
            "the column's character set cannot hold this text: convert the table to utf8mb4"
        }
        Some(_) => "see the server's message",
        None => "check that the server is up and reachable, then reconnect and retry",
    }
}

pub(crate) fn is_incorrect_string(source: &ferryman_db::mysql_async::Error) -> bool {
    server_code(source) == Some(code::INCORRECT_STRING_VALUE)
}

pub(crate) fn is_access_denied(source: &ferryman_db::mysql_async::Error) -> bool {
    server_code(source) == Some(code::SPECIFIC_ACCESS_DENIED)
}
