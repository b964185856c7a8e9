//! The Ferryman node agent: one per database server, on that server's host.
//!
//! It drains the server's `replication_manager_schema.jobs` table: every poll it looks, task by
//! task, for the newest runnable row, supersedes the older ones, claims it atomically, runs it
//! (a backup streamed to the manager, log shipping, optimize, a service command…) and records
//! the outcome. It replaces replication-manager's bash donor script, row for row compatible.
//!
//! # Layout
//! - `agent.rs`: [`Agent`], the poll loop and one pass over the configured tasks.
//! - `api.rs` + `api/`: the agent's HTTP API (`agent-api-port`): the server's status and
//!   service, detection, disk, error log, replicas.
//! - `snapshot.rs` + `snapshot/`: file-system snapshots (btrfs, LVM, ZFS), taken consistent.
//! - `busy.rs`: one thing at a time touches the server's service (a job, or the API's
//!   start/stop/restart).
//! - `runner.rs`: running one claimed job: scratch directory, progress reporter, cancellation,
//!   recording the outcome (with reconnection).
//! - `pending.rs`: outcomes that could not be recorded yet (server down), kept durably on disk
//!   and recorded on a later pass.
//! - `durable.rs`: crash-safe state files (write, fsync, rename, fsync the directory).
//! - `heartbeat.rs`: the agent's row in `ferryman_agents` renewed on a session of its own, so
//!   the manager can tell an idle agent from a dead one.
//! - `reaper.rs`: claims left `processing` by an agent that died.
//! - `recovery.rs`: reseed swaps a dead agent left half done, finished or undone first.
//! - `destinations.rs`: the receivers an agent may stream to ([`Destinations`]).
//! - `sender.rs`: the stream sender ([`Receiver`], [`Stream`]).
//! - `progress.rs`: [`Progress`], shared between a task and the reporter.
//! - `tasks/`: one module per task family.
//! - [`error`]: the crate's [`Error`].

mod agent;
mod api;
mod busy;
pub mod destinations;
mod durable;
pub mod error;
mod heartbeat;
mod pending;
pub mod progress;
mod reaper;
mod recovery;
mod runner;
pub mod sender;
mod snapshot;
pub mod tasks;
pub mod tls;

pub use agent::{Agent, JobDone, PassReport, Shutdown};
pub use destinations::Destinations;
pub use error::{Error, Result};
pub use progress::Progress;
pub use sender::{Receiver, Sent, Stream};
pub use tls::AgentTls;
