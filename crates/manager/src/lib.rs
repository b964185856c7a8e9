//! The Ferryman manager: schedules and dispatches jobs to the nodes' agents, receives their
//! streams, stores backups in the self-describing repository, applies retention, and keeps
//! the topology fresh for the HTTP API.
//!
//! # Layout
//! - `manager.rs`: [`Manager`], start-up (listeners, repository, jobs tables) and the daemon's
//!   tasks; [`Shared`], the state every part uses, and starting jobs.
//! - `dispatch.rs`: one node job from the manager's side (row, token, stream, outcome).
//! - `receiver.rs`: the well-known stream port and legacy donor ports.
//! - `store.rs`: handing a received stream to the repository.
//! - `reseed.rs`: reseed and flashback: safety rails, the joiners' rows, one payload stream for
//!   all of them.
//! - `retention.rs`: each cluster's retention, after backups and on request.
//! - `verification.rs`: verification runs (one backup, a cluster's newest, the fleet run, the
//!   scheduler's pass over new backups), bounded concurrency, results and events.
//! - `events.rs`: what a DBA must hear about, kept for the API and published.
//! - `registry.rs`: the manager's jobs, for the API.
//! - `monitor.rs`: topology, and which server a backup is taken from.
//! - `scheduler.rs`: cron entries.
//! - [`error`]: the crate's [`Error`].

pub mod api;
pub mod dispatch;
pub mod error;
pub mod events;
mod manager;
pub mod monitor;
pub mod receiver;
pub mod registry;
pub mod reseed;
pub mod retention;
pub mod scheduler;
pub mod store;
pub mod verification;

pub use error::{Error, Result};
pub use manager::{Manager, Shared};
pub use registry::{JobRecord, JobState, Registry};
