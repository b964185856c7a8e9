//! Errors of the link keeper.

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can stop a keeper's round or the status command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Talking to a server failed.
    #[error(transparent)]
    Db(#[from] ferryman_db::Error),
    /// The configuration does not allow a keeper for this server.
    #[error("{0}")]
    Config(String),
    /// The local server is not a Galera node.
    #[error("`{server}` has wsrep_on = OFF: the link keeper runs on Galera nodes only; run it on the nodes of a Galera cluster, or remove [clusters.{cluster}.galera-link]")]
    NotGalera {
        /// Server name.
        server: String,
        /// Cluster name in the configuration.
        cluster: String,
    },
    /// A node cannot serve the status command (not in a synced Primary component, or silent).
    #[error("{0}")]
    Unavailable(String),
    /// No node of a cluster answered.
    #[error("no node of cluster `{cluster}` answered: {detail}; start one, or check host/port and db-servers-credential in the configuration")]
    NoNodeAnswers {
        /// Cluster name.
        cluster: String,
        /// Each node's error.
        detail: String,
    },
}
