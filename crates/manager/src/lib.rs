//! The Ferryman manager: schedules and dispatches jobs to the nodes' agents, receives their
//! streams, stores backups in the self-describing repository, applies retention, and keeps
//! the topology fresh for the HTTP API.
//!
//! # Layout
//! - `manager.rs`: [`Manager`], start-up (listeners, repository, jobs tables), the daemon's
//!   tasks and shutdown.
//! - `services.rs`: [`Services`], what every part is given (each part's state owned by its
//!   module), the entry to each operation, and the tracker every job is spawned on.
//! - `node_job.rs`: the life of one node job: its row inserted, the wait for its claim and
//!   stream, heartbeats, following it across a server restart, its outcome.
//! - `onpremise.rs` + `onpremise/`: a server with `onpremise-ssh`: its agent (or donor
//!   script) run over SSH once after each of its rows is written, through the system's `ssh`.
//! - `dispatch.rs`: starting backups, log collections and commands, and running their node
//!   job (stream expected, row, stream handed to `store`).
//! - `receiver.rs`: the well-known stream port and legacy donor ports.
//! - `repositories.rs`: the backup repositories by name (`local` and `[repositories.NAME]`),
//!   and the one each cluster's backups are stored in.
//! - `signing.rs`: the manifest signing key (created at the first start, its public half
//!   beside it), the trusted keys, and each repository's unsigned manifests signed once.
//! - `copies.rs`: each cluster's backups copied to its other repositories, by one copier per
//!   cluster (woken after backups and verifications, and every 10 minutes).
//! - `store.rs`: handing a received stream to the repository.
//! - `reseed.rs` + `reseed/`: reseed and flashback: safety rails, the backup chosen, the
//!   joiners' rows, one payload stream for all of them.
//! - `deletion.rs`: one backup deleted on request (the newest verified one only when forced,
//!   one being read never).
//! - `retention.rs`: each cluster's retention policy applied (by the repository's
//!   `Repository::prune`) after backups and on request.
//! - `verification.rs` + `verification/`: verification runs (one backup, a cluster's newest,
//!   the fleet run, the scheduler's pass over new backups); `runs.rs` the runs and bounded
//!   concurrency, `item.rs` one item (results and events).
//! - `archiver.rs` + `archiver/`: continuous binlog archiving for point-in-time recovery: one
//!   session at a time per cluster following the primary into a spool (`session.rs`), where
//!   it starts and skips a purged stretch (`start.rs`), segments stored (`store.rs`).
//! - `pitr.rs`: a cluster's point-in-time recovery status (windows, gaps, the recovery point
//!   lag, warnings, proofs).
//! - `prover.rs`: proofs of recoverability, scheduled per cluster and on demand.
//! - `dashboard.rs` + `dashboard/`: the web dashboard under `/ui` (server-rendered, login
//!   with the API token, backup/verify/reseed buttons).
//! - `fleet.rs`: the fleet on one screen as data (`ferryman status`, `/api/v1/status`, the
//!   dashboard's overview).
//! - `events.rs`: what a DBA must hear about, kept for the API and published.
//! - `notify.rs` + `notify/`: events told by mail and webhook (routes, one message per
//!   problem, retries, dead letters).
//! - `registry.rs`: the manager's jobs, for the API.
//! - `state.rs` + `state/`: the history (jobs, events, verification runs) kept across restarts
//!   in `monitoring-datadir/state.db`.
//! - `metrics.rs`: `GET /metrics` in Prometheus' text format, computed when scraped.
//! - `missing.rs`: the `backup-missing` alarm (no good backup of a scheduled kind in time).
//! - `agents.rs`: the agents' heartbeats read, `agent-silent` and `agent-back`.
//! - `links.rs`: the Galera link keepers' events told as `link-event`s.
//! - `certificates.rs`: the manager's certificates' ends watched (`certificate-expiring`,
//!   `certificate-renewed`).
//! - `thresholds.rs`: local repositories' free space and the recovery point lag watched
//!   (`storage-almost-full`, `rpo-over-threshold` and their resolutions).
//! - `monitor.rs`: topology, and which server a backup is taken from.
//! - `throttle.rs`: a node's stream read more slowly while replication lags (`backup-throttle-*`).
//! - `slots.rs`: how many backups stream at once (`backup-concurrency`, manager and cluster).
//! - `scheduler.rs`: cron entries, restarted when a reload changes them.
//! - `reload.rs`: reloading the configuration (SIGHUP): what applies at once (schedules,
//!   notifications), what waits for a restart.
//! - `api.rs` + `api/`: the HTTP API: router and token check, the handlers (one file per
//!   resource), the OpenAPI document utoipa derives from them.
//! - [`error`]: the crate's [`Error`].

pub mod agents;
pub mod api;
pub mod archiver;
pub mod certificates;
pub mod copies;
pub mod dashboard;
pub mod deletion;
pub mod dispatch;
pub mod error;
pub mod events;
pub mod fleet;
pub mod links;
mod manager;
pub mod metrics;
pub mod missing;
pub mod monitor;
pub mod node_api;
pub mod node_job;
pub mod notify;
pub mod onpremise;
pub mod pitr;
pub mod prover;
pub mod receiver;
pub mod registry;
pub mod reload;
pub mod repositories;
pub mod reseed;
pub mod retention;
pub mod scheduler;
mod services;
pub mod signing;
pub mod slots;
pub mod state;
pub mod store;
pub mod thresholds;
pub mod throttle;
pub mod verification;

pub use error::{Error, Result};
pub use manager::Manager;
pub use registry::{JobRecord, JobState, Registry};
pub use services::Services;
