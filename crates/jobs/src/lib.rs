//! The jobs-table protocol shared by the Ferryman manager and agent.
//!
//! The manager asks a node's agent for work by inserting a row into `jobs` on that node (schema
//! `replication_manager_schema` by default); the agent polls the table, claims a row, runs the
//! task, and writes its outcome back. The layout is replication-manager's (reference 000), so its
//! donor scripts and ours can share a table, plus nullable columns of our own (`outcome`,
//! `token`, `params`, `progress`, `claimed_by`, `heartbeat`).
//!
//! Every statement runs on a [`JobsConn`], a session with `sql_log_bin = 0` checked when it is
//! opened: job rows belong to one server and never replicate. Values are always bound as
//! parameters; the validated schema name is the only text spliced into SQL.
//!
//! Life of a job: [`JobsConn::enqueue`] (manager) → [`JobsConn::take`] (agent: the newest
//! runnable row of the task, older ones superseded, claimed atomically) → [`ClaimedJob::progress`]
//! → [`ClaimedJob::finish`] with a [`Verdict`]. [`JobsConn::cancel`] ends a job from outside.
//!
//! # Layout
//! - [`table`]: [`Schema`] (the validated schema name) and every statement's SQL text.
//! - [`schema`]: [`JobsConn::ensure`], the idempotent DDL, and its [`EnsureReport`].
//! - `conn.rs`: [`JobsConn`], the no-binlog session every operation is a method of.
//! - `queue.rs`: enqueue, [`JobsConn::get`], [`JobsConn::list`], [`JobsConn::find`],
//!   [`JobsConn::runnable`] (every runnable row in one read: [`Runnable`]),
//!   [`JobsConn::supersede`], [`JobsConn::cancel`].
//! - `claim.rs`: [`JobsConn::claim`], [`JobsConn::take`] and [`ClaimedJob`].
//! - `carry.rs`: [`JobsConn::all`] and [`JobsConn::replace_all`], which carry a server's rows
//!   across a reseed (the table lives in the datadir that is replaced).
//! - `job.rs`: [`Job`] (one row), [`JobId`], [`Outcome`], [`Verdict`], [`JobStatus`], [`Token`].
//! - `result_text.rs`: fitting output into `result VARCHAR(1000)` (tail kept).
//! - [`heartbeat`]: the agents' heartbeats in `ferryman_agents`, so an idle agent can be told
//!   from a dead one.
//! - [`error`]: the crate's [`Error`].

mod carry;
mod claim;
mod conn;
pub mod error;
pub mod heartbeat;
mod job;
mod queue;
mod result_text;
pub mod schema;
pub mod table;

pub use claim::{Claim, ClaimedJob};
pub use conn::JobsConn;
pub use error::{Error, Result};
pub use ferryman_proto::Task;
pub use heartbeat::Heartbeat;
pub use job::{Job, JobId, JobStatus, Outcome, Token, Verdict};
pub use queue::Runnable;
pub use result_text::{CUT_MARK, RESULT_CHARS};
pub use schema::EnsureReport;
pub use table::{Schema, DEFAULT_SCHEMA};
