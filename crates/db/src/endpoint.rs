//! Where a server is, who we connect as, and opening connections.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use ferryman_config::{Credential, DbSsl, Secret, ServerConfig};
use mysql_async::{Conn, OptsBuilder};

use crate::{Error, Result};

/// How long a connection attempt may take before it is an error.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A database server and the account used to reach it.
#[derive(Clone)]
pub struct Endpoint {
    /// Name of the server in the configuration (for messages).
    pub name: String,
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Unix socket; when set it is used instead of TCP.
    pub socket: Option<PathBuf>,
    /// User name.
    pub user: String,
    /// Password, if the account has one.
    pub password: Option<Secret>,
    /// TLS (the cluster's `db-servers-ssl-*`); a socket connection is never encrypted.
    pub ssl: DbSsl,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("name", &self.name)
            .field("address", &self.address())
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "[SECRET]"))
            .finish()
    }
}

/// What kind of session to open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Session {
    /// A plain session.
    Plain,
    /// A session whose writes are not binary-logged (`sql_log_bin=0`), so they never replicate:
    /// used for the jobs table and for per-server accounts.
    NoBinlog,
}

impl Endpoint {
    /// The endpoint of a configured server, reached over TCP with the cluster's credential.
    pub fn from_config(server: &ServerConfig, credential: &Credential) -> Self {
        Endpoint {
            name: server.name.clone(),
            host: server.host.clone(),
            port: server.port,
            socket: None,
            user: credential.user.clone(),
            password: credential.password.clone(),
            ssl: server.ssl.clone(),
        }
    }

    /// `host:port`, or the socket path when one is used.
    pub fn address(&self) -> String {
        match &self.socket {
            Some(s) => s.display().to_string(),
            None => format!("{}:{}", self.host, self.port),
        }
    }

    /// Opens a connection.
    pub async fn connect(&self, session: Session) -> Result<Connection> {
        let mut init = vec!["SET SESSION sql_mode = CONCAT(@@sql_mode, ',STRICT_ALL_TABLES')"];
        if session == Session::NoBinlog {
            init.push("SET SESSION sql_log_bin = 0");
        }
        let mut opts = OptsBuilder::default()
            .ip_or_hostname(self.host.clone())
            .tcp_port(self.port)
            .user(Some(self.user.clone()))
            .pass(self.password.as_ref().map(|p| p.expose_secret().to_owned()))
            .prefer_socket(false)
            .init(init)
            .stmt_cache_size(32);
        match &self.socket {
            Some(socket) => opts = opts.socket(Some(socket.display().to_string())),
            None => {
                let ssl = crate::ssl::options(&self.ssl, &self.host, self.port)
                    .await
                    .map_err(|detail| Error::Tls {
                        server: self.name.clone(),
                        detail,
                    })?;
                opts = opts.ssl_opts(ssl);
            }
        }
        let res = match tokio::time::timeout(CONNECT_TIMEOUT, Conn::new(opts)).await {
            Ok(res) => res,
            Err(_elapsed) => Err(mysql_async::Error::Io(mysql_async::IoError::Io(
                std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "connection timed out after 10 s",
                ),
            ))),
        };
        res.map(|conn| Connection { conn: Some(conn) })
            .map_err(|source| Error::Connect {
                server: self.name.clone(),
                address: self.address(),
                user: self.user.clone(),
                source: Box::new(source),
            })
    }

    /// The error for a failed statement on this server; `action` is a verb phrase saying what
    /// the statement was for ("read replication status").
    pub fn query_error(&self, action: &'static str, source: mysql_async::Error) -> Error {
        Error::Query {
            server: self.name.clone(),
            action,
            source: Box::new(source),
        }
    }
}

/// An open connection. It derefs to the driver's `Conn`, whose own `Debug` prints the connection
/// options, password included; this wrapper's `Debug` does not, so a connection can sit in any
/// struct that derives `Debug`.
///
/// Dropped without [`Connection::disconnect`] (an early return, an error path), it still says
/// goodbye (`COM_QUIT`) on a task of the current runtime: a session that just vanishes is an
/// `Aborted connection` warning in the server's error log and a count in `Aborted_clients`.
pub struct Connection {
    /// `None` only once [`Connection::disconnect`] or `drop` took it.
    conn: Option<Conn>,
}

impl Connection {
    /// The driver's connection itself, for what consumes it (a binlog dump).
    pub(crate) fn into_conn(mut self) -> Conn {
        match self.conn.take() {
            Some(conn) => conn,
            // `conn` is only taken by `disconnect` and `drop`, which consume `self`.
            None => unreachable!("a Connection without its Conn"),
        }
    }

    /// Closes the connection politely (`COM_QUIT`).
    pub async fn disconnect(mut self) -> Result<(), mysql_async::Error> {
        match self.conn.take() {
            Some(conn) => conn.disconnect().await,
            None => Ok(()),
        }
    }

    fn inner(&self) -> &Conn {
        self.conn
            .as_ref()
            .unwrap_or_else(|| unreachable!("only disconnect and drop, which consume it, empty it"))
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = conn.disconnect().await;
            });
        }
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("id", &self.inner().id())
            .finish_non_exhaustive()
    }
}

impl std::ops::Deref for Connection {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        self.inner()
    }
}

impl std::ops::DerefMut for Connection {
    fn deref_mut(&mut self) -> &mut Conn {
        self.conn
            .as_mut()
            .unwrap_or_else(|| unreachable!("only disconnect and drop, which consume it, empty it"))
    }
}
