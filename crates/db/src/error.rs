//! Errors of talking to database servers.

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong when talking to a database server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The connection could not be opened.
    #[error("cannot connect to `{server}` ({address}) as `{user}`: {}; check that the server runs and that `host`/`port` and the credential in ferryman.toml are right", reason(source))]
    Connect {
        /// Server name from the configuration.
        server: String,
        /// `host:port` or the socket path.
        address: String,
        /// The user we connected as.
        user: String,
        /// The driver's reason (boxed: the driver's error is large).
        #[source]
        source: Box<mysql_async::Error>,
    },
    /// The cluster's `db-servers-ssl-*` cannot be used for a connection.
    #[error("cannot connect to `{server}` over TLS: {detail}")]
    Tls {
        /// Server name from the configuration.
        server: String,
        /// Why.
        detail: String,
    },
    /// A statement failed.
    #[error("`{server}`: cannot {action}: {}", reason(source))]
    Query {
        /// Server name.
        server: String,
        /// What we were doing, as a verb phrase ("read replication status").
        action: &'static str,
        /// The server's reason (boxed: the driver's error is large).
        #[source]
        source: Box<mysql_async::Error>,
    },
    /// The server answered something we cannot interpret.
    #[error("`{server}`: unexpected answer while trying to {action}: {detail}")]
    Unexpected {
        /// Server name.
        server: String,
        /// What we were doing.
        action: &'static str,
        /// What was wrong.
        detail: String,
    },
}

/// The driver's reason in one phrase. Its I/O errors print their kind twice
/// ("Input/output error: Input/output error: Connection refused"): only the cause is kept.
pub fn reason(e: &mysql_async::Error) -> String {
    match e {
        mysql_async::Error::Io(mysql_async::IoError::Io(io)) => io.to_string(),
        other => other.to_string(),
    }
}

impl Error {
    /// True for errors where trying again later may help (the server is down or restarting).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Connect { .. } => true,
            Error::Query { source, .. } => matches!(
                **source,
                mysql_async::Error::Io(_) | mysql_async::Error::Driver(_)
            ),
            Error::Unexpected { .. } | Error::Tls { .. } => false,
        }
    }

    /// The server's error code, when the server refused a statement (1236 for a binlog
    /// dump it cannot serve: purged or diverged).
    pub fn server_code(&self) -> Option<u16> {
        match self {
            Error::Query { source, .. } | Error::Connect { source, .. } => match &**source {
                mysql_async::Error::Server(e) => Some(e.code),
                _ => None,
            },
            Error::Unexpected { .. } | Error::Tls { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_connection_is_said_once() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused");
        let e = Error::Connect {
            server: "db1".into(),
            address: "127.0.0.1:3306".into(),
            user: "ferryman".into(),
            source: Box::new(mysql_async::Error::Io(mysql_async::IoError::Io(io))),
        };
        let text = e.to_string();
        assert!(
            text.contains("as `ferryman`: Connection refused; check"),
            "{text}"
        );
        assert!(!text.contains("Input/output error"), "{text}");
    }
}
