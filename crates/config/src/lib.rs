//! `ferryman.toml`: typed, validated configuration of the Ferryman manager and agent.
//!
//! [`Config::load`] reads the file, parses it into serde structs whose keys are all optional
//! (unknown keys are rejected with their line), then validates every section and reports every
//! problem at once, each as `FILE:LINE:COL: what is wrong: what to do`. Key names follow
//! replication-manager's where one exists; `config/ferryman.example.toml` documents every key.
//!
//! # Layout
//! - [`config`](Config): the whole file and the checks across clusters.
//! - `manager`, `agent`, `verifier`, `cluster`, `galera_link`, `server`, `schedule`, `retention`,
//!   `credential`:
//!   one section each, its public type and its validation.
//! - [`defaults`]: the default of every optional key, as named constants.
//! - [`secret`](Secret): passwords and tokens that never print, read from a 0600 file or the
//!   environment ([`SecretKind`] names the keys).
//! - `raw`: the serde structs as written; `validate`: the error-collecting checks shared by
//!   the sections; `span`: byte offsets to `FILE:LINE:COL`; `ports`: port list syntax.
//! - [`error`](ConfigError): [`ConfigError`], [`ConfigErrors`] and [`Result`].
//!
//! # Primary types
//! - [`Config`], with [`ManagerConfig`], [`AgentConfig`], [`JobsConfig`], [`VerifierConfig`]
//!   and [`ClusterConfig`] (its [`ServerConfig`]s, [`Credential`]s, [`SchedulerConfig`],
//!   [`RetentionConfig`] and [`ClusterVerifyConfig`] with its [`TableName`]s).
//! - [`ConfigErrors`]: every problem of one file, never empty.

mod agent;
mod cluster;
mod config;
mod credential;
pub mod defaults;
mod error;
mod galera_link;
mod manager;
mod ports;
mod raw;
mod retention;
mod schedule;
mod secret;
mod server;
mod span;
mod validate;
mod verifier;

pub use agent::{AgentConfig, JobsConfig};
pub use cluster::ClusterConfig;
pub use config::Config;
pub use credential::Credential;
pub use error::{ConfigError, ConfigErrors, Location, Result};
pub use galera_link::{GaleraLinkConfig, RemoteMaster};
pub use manager::ManagerConfig;
pub use retention::RetentionConfig;
pub use schedule::{ScheduleEntry, SchedulerConfig};
pub use secret::{Secret, SecretKind};
pub use server::ServerConfig;
pub use verifier::{ClusterVerifyConfig, TableName, VerifierConfig};

/// The cron crate whose [`croner::Cron`] [`ScheduleEntry::schedule`] returns.
pub use croner;
