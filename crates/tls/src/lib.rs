//! TLS for Ferryman's channels: certificates and keys read from PEM files (keys only when
//! private to their owner), the rustls configurations the manager's listeners and its clients
//! use, the expiry of a certificate file, and the fleet CA `ferryman tls init` makes for sites
//! without a PKI of their own.
//!
//! # Layout
//! - [`files`]: PEM certificates and keys read, with errors naming the file and the fix.
//! - [`configs`]: [`server_config`] and [`client_config`] (rustls on ring).
//! - [`expiry`]: [`expiry::inspect`], when a certificate file's certificates expire.
//! - [`fleet`]: [`fleet::init`], the fleet CA and the manager's and agents' certificates.
//! - [`stream`]: [`StreamTls`] and [`Conn`], the data streams' mutual TLS.
//! - [`error`]: the crate's [`Error`].

pub mod configs;
pub mod error;
pub mod expiry;
pub mod files;
pub mod fleet;
pub mod stream;

pub use configs::{chain_only_client_config, client_config, server_config};
pub use error::{Error, Result};
pub use stream::{opens_tls, Conn, StreamTls};
