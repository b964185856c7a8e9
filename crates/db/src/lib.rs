//! Talking to MariaDB/MySQL servers: connections, replication set-up, topology.
//!
//! # Layout
//! - [`endpoint`]: [`Endpoint`] (where a server is and who we are), [`Session`] kinds, connecting.
//! - [`quoted`]: running statements MariaDB cannot prepare (`CREATE USER`, `CHANGE MASTER`) with
//!   every value bound as a parameter and quoted by the server, never pasted into SQL.
//! - [`replication`]: pointing a replica at its primary with GTID, starting and stopping it.
//! - [`topology`]: [`ServerStatus`], what a server says about its role, GTIDs and replication.
//! - [`wsrep`]: [`wsrep::Wsrep`], what a Galera node says about its place in the cluster.
//! - [`binlog`]: [`binlog::BinlogFollower`], a server's binary log followed from a GTID position
//!   like a replica (the events whole, with the server's checksums).
//! - [`error`]: the crate's [`Error`].
//!
//! `mysql_async` is re-exported so every crate uses the same version.

pub mod binlog;
pub mod endpoint;
pub mod error;
pub mod quoted;
pub mod replication;
pub mod ssl;
pub mod topology;
pub mod wsrep;

pub use endpoint::{Connection, Endpoint, Session};
pub use error::{Error, Result};
pub use mysql_async;
pub use topology::{Role, ServerStatus, SlaveStatus};
