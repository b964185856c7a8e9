//! [`JobsConn`]: the only way to reach the jobs table, a session whose writes never replicate.

use std::fmt;

use ferryman_db::mysql_async::prelude::{FromRow, Queryable};
use ferryman_db::mysql_async::{Params, Row};
use ferryman_db::Connection;
use ferryman_db::{Endpoint, Session};

use crate::error::{hint, is_access_denied};
use crate::job::Job;
use crate::table::{JobsTable, Schema};
use crate::{Error, Result};

/// A session on one server, bound to one schema's jobs table, with binary logging off.
///
/// It can only be made by [`JobsConn::open`], which opens a [`Session::NoBinlog`] session and
/// checks that the server reports `@@session.sql_log_bin = 0`; the connection is never handed
/// out, so every statement on the jobs table goes through the methods of this type (in
/// `conn.rs`, `schema.rs`, `queue.rs` and `claim.rs`) and none can be binary-logged.
/// Job rows are per server: replicated, they would be run by every replica's agent.
pub struct JobsConn {
    conn: Connection,
    server: String,
    table: JobsTable,
}

/// Not derived: a reader needs the server and table, not the session internals.
impl fmt::Debug for JobsConn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobsConn")
            .field("server", &self.server)
            .field("table", &self.table.name())
            .field("connection_id", &self.conn.id())
            .finish()
    }
}

impl JobsConn {
    /// Connects to `endpoint` for the jobs table in `schema`.
    ///
    /// The session also runs with `autocommit = 1` (a global `autocommit = 0` would leave claims
    /// uncommitted, holding their row locks) and `READ COMMITTED` (conditional updates lock only
    /// the rows they change, no gaps, so concurrent agents do not block each other). With
    /// `binlog_format = STATEMENT` InnoDB refuses `READ COMMITTED` writes in a logged session:
    /// one more reason a write could never slip into the binary log.
    pub async fn open(endpoint: &Endpoint, schema: &Schema) -> Result<JobsConn> {
        let conn = endpoint
            .connect(Session::NoBinlog)
            .await
            .map_err(|e| match e {
                ferryman_db::Error::Connect {
                    server,
                    user,
                    source,
                    ..
                } if is_access_denied(&source) => Error::NoBinlogPrivilege {
                    server,
                    user,
                    source,
                },
                source => Error::Connect {
                    source: Box::new(source),
                },
            })?;
        let mut jobs = JobsConn {
            conn,
            server: endpoint.name.clone(),
            table: JobsTable::new(schema.clone()),
        };
        // Text protocol: the value arrives as the bytes "0"; the driver parses them as a number.
        let log_bin: Option<Option<i64>> = jobs
            .conn
            .query_first("SELECT @@session.sql_log_bin")
            .await
            .map_err(|e| jobs.query_error("read @@session.sql_log_bin".to_owned(), e))?;
        if log_bin != Some(Some(0)) {
            return Err(Error::BinlogStillOn {
                server: jobs.server,
                value: format!("{log_bin:?}"),
            });
        }
        jobs.keep_on_this_node(endpoint).await?;
        for stmt in [
            "SET SESSION autocommit = 1",
            "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
        ] {
            jobs.conn
                .query_drop(stmt)
                .await
                .map_err(|e| jobs.query_error("set up the jobs session".to_owned(), e))?;
        }
        Ok(jobs)
    }

    /// On a Galera node, turns wsrep off for this session: Galera replicates write sets
    /// whatever `sql_log_bin` says, so without it a row written for one node would reach every
    /// node of the cluster and be run by each node's agent. With wsrep off the table and its
    /// rows exist on this node only (each node's agent creates its own table). Checked
    /// afterwards like `sql_log_bin`; a server without `wsrep_on` (MySQL, a MariaDB built
    /// without wsrep) or with it off needs nothing.
    async fn keep_on_this_node(&mut self, endpoint: &Endpoint) -> Result<()> {
        if !self.wsrep_on(endpoint).await? {
            return Ok(());
        }
        if let Err(source) = self.conn.query_drop("SET SESSION wsrep_on = OFF").await {
            return Err(if is_access_denied(&source) {
                Error::NoWsrepOffPrivilege {
                    server: self.server.clone(),
                    user: endpoint.user.clone(),
                    source: Box::new(source),
                }
            } else {
                self.query_error("turn wsrep off for the jobs session".to_owned(), source)
            });
        }
        if self.wsrep_on(endpoint).await? {
            return Err(Error::WsrepStillOn {
                server: self.server.clone(),
            });
        }
        Ok(())
    }

    async fn wsrep_on(&mut self, endpoint: &Endpoint) -> Result<bool> {
        ferryman_db::wsrep::is_on(endpoint, &mut self.conn)
            .await
            .map_err(|source| Error::Connect {
                source: Box::new(source),
            })
    }

    /// The server's name (from the endpoint).
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The schema holding the table.
    pub fn schema(&self) -> &Schema {
        self.table.schema()
    }

    /// How many statements this session has run, by the server's count (session status
    /// `Questions`, this one included): how a test proves that an agent's idle pass is cheap.
    pub async fn questions(&mut self) -> Result<u64> {
        let row: Option<(String, u64)> = self
            .conn
            .query_first("SHOW SESSION STATUS LIKE 'Questions'")
            .await
            .map_err(|e| self.query_error("read the session's `Questions`".to_owned(), e))?;
        Ok(row.map_or(0, |(_, n)| n))
    }

    /// Closes the session politely.
    pub async fn close(self) -> Result<()> {
        let server = self.server;
        self.conn.disconnect().await.map_err(|source| Error::Query {
            server,
            action: "close the jobs session".to_owned(),
            hint: hint(&source),
            source: Box::new(source),
        })
    }

    pub(crate) fn table(&self) -> &JobsTable {
        &self.table
    }

    pub(crate) fn query_error(
        &self,
        action: String,
        source: ferryman_db::mysql_async::Error,
    ) -> Error {
        Error::Query {
            server: self.server.clone(),
            action,
            hint: hint(&source),
            source: Box::new(source),
        }
    }

    pub(crate) fn bad_row(&self) -> impl Fn(&'static str, String) -> Error + '_ {
        move |column, detail| Error::BadRow {
            server: self.server.clone(),
            table: self.table.name().to_owned(),
            column,
            detail,
        }
    }

    /// Runs `stmt` (constant pieces, see [`JobsTable::sql`]) with `params`; returns the number
    /// of rows it changed. `action` is only built on error.
    pub(crate) async fn exec(
        &mut self,
        stmt: &[&'static str],
        params: impl Into<Params> + Send,
        action: impl FnOnce() -> String,
    ) -> Result<u64> {
        let sql = self.table.sql(stmt);
        match self.conn.exec_drop(sql, params).await {
            Ok(()) => Ok(self.conn.affected_rows()),
            Err(e) => Err(self.query_error(action(), e)),
        }
    }

    /// Like [`JobsConn::exec`], for an `INSERT`: returns the new row's id.
    pub(crate) async fn insert(
        &mut self,
        stmt: &[&'static str],
        params: impl Into<Params> + Send,
        action: impl FnOnce() -> String,
    ) -> Result<Option<u64>> {
        self.exec(stmt, params, action).await?;
        Ok(self.conn.last_insert_id())
    }

    /// Runs a query and decodes every row with `T`'s [`FromRow`].
    pub(crate) async fn rows<T: FromRow + Send + 'static>(
        &mut self,
        stmt: &[&'static str],
        params: impl Into<Params> + Send,
        action: impl FnOnce() -> String,
    ) -> Result<Vec<T>> {
        let sql = self.table.sql(stmt);
        match self.conn.exec(sql, params).await {
            Ok(rows) => Ok(rows),
            Err(e) => Err(self.query_error(action(), e)),
        }
    }

    /// Runs a query returning job rows.
    pub(crate) async fn jobs(
        &mut self,
        stmt: &'static str,
        params: impl Into<Params> + Send,
        action: impl FnOnce() -> String,
    ) -> Result<Vec<Job>> {
        let rows: Vec<Row> = self.rows(&[stmt], params, action).await?;
        rows.into_iter()
            .map(|row| Job::from_row(row, self.bad_row()))
            .collect()
    }

    /// Runs DDL (constant pieces): text protocol, since not every DDL statement can be prepared.
    pub(crate) async fn ddl(
        &mut self,
        stmt: &[&'static str],
        action: impl FnOnce() -> String,
    ) -> Result<()> {
        let sql = self.table.sql(stmt);
        tracing::info!(server = %self.server, sql = %sql, "jobs table DDL");
        match self.conn.query_drop(sql).await {
            Ok(()) => Ok(()),
            Err(e) => Err(self.query_error(action(), e)),
        }
    }
}
