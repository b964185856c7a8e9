//! Names and wire formats shared by the Ferryman manager and agent.
//!
//! # Layout
//! - [`task`]: the task names of the `replication_manager_schema.jobs` table ([`Task`]).
//! - [`error`]: the crate's [`Error`].
//!
//! The stream header (magic, version, job id, token) joins this crate with the agent work.

pub mod error;
pub mod task;

pub use error::{Error, Result};
pub use task::Task;
