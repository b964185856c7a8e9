//! The manager end to end: real sandbox servers, the agent library running on "the node",
//! real TCP on the well-known stream port, the repository on disk.
#![allow(clippy::unwrap_used, clippy::print_stderr)] // test code: panics and stderr are the report

mod agents;
mod archive;
mod archive_diverged;
mod cancel;
mod common;
mod compression;
mod dashboard;
mod db_tls;
mod failures;
mod galera;
mod history;
mod legacy;
mod metrics;
mod missing;
mod notify;
mod onpremise;
mod refusals;
mod reload;
mod scheduled;
mod signatures;
mod slots;
mod tasks;
mod thresholds;
mod throttle;
mod tls_streams;
mod upgrade;
