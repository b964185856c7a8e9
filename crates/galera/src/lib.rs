//! The Galera link keeper: asynchronous replication between two Galera clusters that
//! survives failures (reference 004, without the original script's defects).
//!
//! A keeper runs on every node of a cluster (`ferryman galera-link`). Each round it keeps its
//! node's row fresh and acts on the cluster's lease, so that exactly one node replicates from
//! the first remote master that serves it, another node takes over within seconds when that
//! node dies or leaves the cluster, and a node that could replicate from no master steps aside
//! (`Failed`) for a cool-down.
//!
//! # Layout
//! - [`keeper`]: [`Keeper`], one node's rounds and the rules that keep one replica;
//!   `keeper/round.rs` decides what a round does about the lease, `keeper/replicate.rs` is the
//!   lease holder's work on the remote masters.
//! - [`tables`]: the shared tables (node rows, the lease, events) and every statement on them.
//! - [`election`]: who should replicate, and whether a lease holder is alive (pure).
//! - [`masters`]: probing a remote master and pointing replication at one.
//! - [`node`]: what a keeper reads from its own node.
//! - [`event`]: [`LinkEvent`]s, the state changes to notify.
//! - [`watch`]: the membership watch between rounds (a change starts a round at once).
//! - [`status`]: `ferryman galera-link status`.
//! - [`error`]: the crate's [`Error`].

pub mod election;
pub mod error;
pub mod event;
pub mod keeper;
pub mod masters;
pub mod node;
pub mod status;
pub mod tables;
pub mod watch;

pub use error::{Error, Result};
pub use event::{EventKind, LinkEvent};
pub use keeper::{Keeper, Role, Round};
