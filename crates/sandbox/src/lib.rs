//! Real local MariaDB topologies for Ferryman's tests, demo and benchmarks.
//!
//! A sandbox is a directory holding a primary and N replicas started from the installed
//! `mariadbd`, each with its own datadir and defaults file (never `/etc/mysql`), on free
//! 127.0.0.1 ports, replicating with GTID. It writes `ferryman.toml`, a complete configuration
//! for that topology. Servers are found again through their pid files, so `status`, `down` and
//! `destroy` work from any later invocation.
//!
//! A Galera sandbox ([`GaleraSandbox`]) holds one Galera cluster of N nodes, or two linked by
//! asynchronous GTID replication, its nodes running as `mysql` (rsync SST needs it); its state
//! is `galera.json` instead of `sandbox.json`, and the same [`layout`] holds its nodes.
//!
//! # Layout
//! - [`sandbox`]: [`Sandbox`], bringing a topology up ([`UpOptions`]), its status, starting and
//!   stopping one server or all, replacing a replica with an empty server
//!   ([`Sandbox::reinit_server`]), destroying it; `sandbox/ports.rs` picks free ports.
//! - [`galera`]: [`GaleraSandbox`], Galera clusters ([`GaleraOptions`]): bootstrap, joins one
//!   at a time, restart of a stopped cluster from `grastate.dat`, the link between two
//!   clusters, status per node ([`NodeReport`]). Its submodules: `galera/state.rs`
//!   (`galera.json`), `galera/node.rs` (defaults file, ownership by mysql, start, Synced,
//!   `grastate.dat`), `galera/cluster.rs` (bring-up), `galera/link.rs`, `galera/status.rs`,
//!   `galera/config_file.rs` (`ferryman.toml` with the `galera-link` tables).
//! - [`layout`]: where everything lives under the sandbox directory (a server's own files:
//!   `ferryman_mariadbd::Layout`).
//! - [`state`]: `sandbox.json`, which servers the sandbox has.
//! - [`server`]: one sandbox `mariadbd`: its defaults file; install, start, readiness and stop
//!   by PID are `ferryman_mariadbd`'s, which runs every private server.
//! - [`accounts`]: the accounts the sandbox creates on every server.
//! - [`config_file`]: rendering `ferryman.toml` for the topology.
//! - [`load`]: filling the primary with sysbench data of about a given size.
//! - [`s3`]: [`s3::S3Server`], a real S3 server (one-node Ceph and radosgw) in a directory;
//!   `s3/sign.rs` the few signed requests object_store does not make (buckets, open uploads).
//! - [`offsite`]: the sandbox's S3 server in `DIR/s3` and its `[repositories.offsite]` table.
//! - [`testing`]: [`testing::TestSandbox`], the fixture every integration test uses, and
//!   [`testing::TestGalera`], its Galera counterpart, and [`testing::TestS3`], an S3 server
//!   per test.
//! - [`error`]: the crate's [`Error`].

pub mod accounts;
pub mod config_file;
pub mod error;
pub mod galera;
pub mod layout;
pub mod load;
pub mod offsite;
pub mod s3;
pub mod sandbox;
pub mod server;
pub mod state;
pub mod testing;

pub use error::{Error, Result};
pub use galera::{
    ClusterSpec, GaleraOptions, GaleraSandbox, GaleraState, GaleraStatus, NodeReport, NodeSpec,
};
pub use sandbox::{free_port, Sandbox, ServerReport, UpOptions};
pub use state::{ServerSpec, State};
