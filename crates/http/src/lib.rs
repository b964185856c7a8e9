//! What Ferryman's two HTTP APIs share: the manager's (`/api/v1`, the dashboard) and a node
//! agent's (`[agent] api-listen`).
//!
//! # Layout
//! - `listener.rs`: the accept loop: connection limit, TLS handshake, shutdown, accept errors.
//! - `conn.rs`: one connection's header and idle time limits.
//! - `bearer.rs`: the bearer-token check ([`Bearer`], [`require`]).
//! - `error.rs`: [`ApiError`], a status with a JSON body that says what to do next.

mod bearer;
mod conn;
mod error;
mod listener;

pub use bearer::{digest, digest_matches, require, Bearer};
pub use error::{clip, ApiError, ECHO_MAX};
pub use listener::{run, Limits};
