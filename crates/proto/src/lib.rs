//! Names and wire formats shared by the Ferryman manager and agent.
//!
//! # Layout
//! - [`address`]: host spellings compared without DNS, `host:port` text.
//! - [`task`]: the task names of the `replication_manager_schema.jobs` table ([`Task`]).
//! - [`header`]: the stream header that opens every Ferryman stream ([`StreamHeader`],
//!   [`StreamKind`], [`sniff`], [`read_header`], [`read_start`], [`write_header`]).
//! - [`blocks`]: compression on the node: what the manager asks ([`blocks::BackupParams`]) and
//!   the compressed blocks an agent then sends.
//! - [`frames`]: framing of reseed payloads, ending with a length and sha256 trailer
//!   ([`FrameWriter`], [`FrameReader`]).
//! - [`mydumper`]: mydumper's `metadata` file ([`mydumper::Metadata`]).
//! - [`node_task`]: the tasks queued on one server by name ([`NodeTask`]).
//! - [`node_api`]: the node agent's HTTP API: paths, headers, the JSON it answers.
//! - [`reseed`]: what the manager tells a reseed's joiner ([`ReseedParams`], [`Method`]).
//! - [`private_file`]: secret files only their owner may read, read and created one way.
//! - [`seal`]: reseed rows sealed by the manager with the fleet's shared key ([`RowKey`]).
//! - [`token`]: the per-job secret a stream is authenticated with ([`StreamToken`]).
//! - [`error`]: the crate's [`Error`].

pub mod address;
pub mod blocks;
pub mod error;
pub mod frames;
pub mod header;
pub mod mydumper;
pub mod node_api;
pub mod node_task;
pub mod private_file;
pub mod reseed;
pub mod seal;
pub mod task;
pub mod token;

pub use error::{Error, Result};
pub use frames::{FrameReader, FrameWriter, MAX_FRAME};
pub use header::{
    read_header, read_start, sniff, write_header, Sniff, StreamHeader, StreamKind, StreamStart,
    HEADER_LEN,
};
pub use node_task::NodeTask;
pub use reseed::{Method, ReseedParams};
pub use seal::{RowKey, SealError};
pub use task::Task;
pub use token::StreamToken;
