//! `ferryman.toml`: typed, validated configuration of the Ferryman manager and agent.
//!
//! [`Config::load`] reads the file, parses it into serde structs whose keys are all optional
//! (a value of the wrong type or an unknown key is reported with its line and left out, so
//! that parsing goes on), then validates every section and reports every problem at once, each
//! as `FILE:LINE:COL: what is wrong: what to do`. Key names follow replication-manager's where
//! one exists; `config/ferryman.example.toml` documents every key. [`Check`] validates the same
//! way for `ferryman config check`, where a secret missing on this host is only a
//! [`ConfigWarning`].
//!
//! # Layout
//! - [`config`](Config): the whole file and the checks across clusters; [`check`](Check): the
//!   same for `config check`, with the secrets it lacks (and the notification channels no
//!   route names) as [`ConfigWarning`]s (`warning`).
//! - `manager`, `agent`, `verifier`, `repository`, `cluster`, `galera_link`, `binlog_archive`,
//!   `server` (its `onpremise-ssh*` keys in `onpremise`),
//!   `schedule`, `retention`, `credential`, `notifications`:
//!   one section each, its public type and its validation (`repository` also checks each
//!   cluster's `backup-repositories`; `repository/syntax.rs`: endpoint, bucket and prefix
//!   syntax; `notifications` checks its routes against the channels and the clusters).
//! - [`defaults`]: the default of every optional key, as named constants.
//! - [`secret`](Secret): passwords and tokens that never print, read from a 0600 file or the
//!   environment ([`SecretKind`] names the keys).
//! - `raw`: the serde structs as written; `parse`: text to `raw`, reporting every wrong type
//!   and unknown key (with the key meant) rather than the first; `validate`: the
//!   error-collecting checks shared by the sections; `span`: byte offsets to `FILE:LINE:COL`;
//!   `ports`: port list syntax.
//! - [`error`](ConfigError): [`ConfigError`] (every message) and [`Result`]; `error/list.rs`:
//!   [`ConfigErrors`].
//!
//! # Primary types
//! - [`Config`], with [`ManagerConfig`], [`AgentConfig`], [`JobsConfig`], [`VerifierConfig`],
//!   [`RepositoryConfig`] (its [`RepositoryKind`], an [`S3Config`] or a local path) and
//!   [`ClusterConfig`] (its [`ServerConfig`]s, [`Credential`]s, [`SchedulerConfig`],
//!   [`RetentionConfig`] and [`ClusterVerifyConfig`] with its [`TableName`]s), and
//!   [`NotificationsConfig`] (its [`EmailChannel`]s, [`WebhookChannel`]s and [`Route`]s).
//! - [`ConfigErrors`]: every problem of one file, never empty.

mod agent;
mod binlog_archive;
mod check;
mod cluster;
mod config;
mod credential;
mod db_ssl;
pub mod defaults;
mod error;
mod galera_link;
mod manager;
mod notifications;
mod onpremise;
mod parse;
mod ports;
mod raw;
mod repository;
mod retention;
mod schedule;
mod secret;
mod server;
mod snapshot;
mod span;
mod stream;
mod tls;
mod validate;
mod verifier;
mod warning;

pub use agent::{AgentConfig, JobsConfig};
pub use binlog_archive::BinlogArchiveConfig;
pub use check::Check;
pub use cluster::{ClusterConfig, CopyAfter};
pub use config::Config;
pub use credential::Credential;
pub use db_ssl::{DbSsl, SslMode};
pub use error::{ConfigError, ConfigErrors, Location, Result};
pub use galera_link::{GaleraLinkConfig, RemoteMaster};
pub use manager::ManagerConfig;
pub use notifications::{
    EmailChannel, NotificationsConfig, Route, RouteSeverity, SmtpTls, WebhookChannel, EVENT_KINDS,
};
pub use onpremise::OnPremiseSsh;
pub use repository::{
    parse_identities, EncryptionConfig, RepositoryConfig, RepositoryKind, ResticConfig, S3Config,
};
pub use retention::{RetentionConfig, RetentionOverrides};
pub use schedule::{ScheduleEntry, SchedulerConfig};
pub use secret::{Secret, SecretKind};
pub use server::ServerConfig;
pub use snapshot::{SnapshotCommands, SnapshotConfig, SnapshotMethod};
pub use stream::{StreamCompressionConfig, ThrottleConfig};
pub use tls::{loopback, TlsIdentity};
pub use verifier::{ClusterVerifyConfig, TableName, VerifierConfig};
pub use warning::ConfigWarning;

/// The cron crate whose [`croner::Cron`] [`ScheduleEntry::schedule`] returns.
pub use croner;
