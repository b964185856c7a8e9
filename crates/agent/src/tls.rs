//! The agent's TLS for data streams (`agent.tls-cert-file`, `tls-key-file`, `tls-ca-file`):
//! backups and logs sent to the manager, and a reseed joiner's listener, which takes the
//! manager's stream only from a certificate naming the manager's `monitoring-address`.

use ferryman_config::Config;
use ferryman_tls::{Conn, StreamTls};
use tokio::net::TcpStream;

use crate::Result;

/// The agent's certificate and the fleet's CA, and whom a joiner accepts.
#[derive(Debug, Clone)]
pub struct AgentTls {
    tls: StreamTls,
    /// The manager's `monitoring-address`: the name its certificate must hold.
    manager: String,
}

impl AgentTls {
    /// The agent's TLS when `[agent]` has a certificate (files read now: an expired
    /// certificate or a key others may read stops the agent at start), else `None`.
    pub fn of(config: &Config) -> Result<Option<AgentTls>> {
        let (Some(id), Some(ca)) = (&config.agent.tls, &config.agent.tls_ca_file) else {
            return Ok(None);
        };
        Ok(Some(AgentTls {
            tls: StreamTls::load(&id.cert_file, &id.key_file, ca)?,
            manager: config.manager.monitoring_address.clone(),
        }))
    }

    /// The client side of a stream to the manager at `host` (the row's `server`), whose
    /// certificate must name it.
    pub async fn connect(&self, tcp: TcpStream, host: &str) -> std::io::Result<Conn> {
        self.tls.connect(tcp, host).await
    }

    /// The joiner's side of the manager's connection: a TLS handshake whose client certificate
    /// names the manager. `Err` says why a connection is refused.
    pub async fn accept_manager(&self, tcp: TcpStream) -> std::result::Result<Conn, String> {
        let conn = self
            .tls
            .accept(tcp)
            .await
            .map_err(|e| format!("TLS handshake failed: {e}"))?;
        if conn.peer_is(&[&self.manager]) {
            Ok(conn)
        } else {
            Err(format!(
                "the peer's certificate ({}) does not name the manager's monitoring-address \
                 `{}`: only the manager sends reseed streams",
                conn.peer_description(),
                self.manager
            ))
        }
    }
}

/// The joiner's side of a connection on its port: TLS with the manager's certificate when the
/// agent has `tls`, plain TCP when it has none; a connection of the other kind is refused with
/// the setting to change.
pub(crate) async fn accept(
    tls: Option<&AgentTls>,
    tcp: TcpStream,
) -> std::result::Result<Conn, String> {
    let _ = tcp.set_nodelay(true);
    let opens_tls = ferryman_tls::opens_tls(&tcp)
        .await
        .map_err(|e| format!("cannot read from the connection: {e}"))?;
    match (opens_tls, tls) {
        (true, Some(tls)) => tls.accept_manager(tcp).await,
        (false, None) => Ok(Conn::Plain(tcp)),
        (false, Some(_)) => Err(
            "a plain stream, and this agent takes reseed streams over TLS \
                                 only (it has `agent.tls-cert-file`): give the manager \
                                 `manager.tls-cert-file`, `tls-key-file` and `tls-ca-file`"
                .to_owned(),
        ),
        (true, None) => Err("a TLS stream, and this agent has no certificate: set \
                             `agent.tls-cert-file`, `tls-key-file` and `tls-ca-file` \
                             (`ferryman tls init --agent HOST`)"
            .to_owned()),
    }
}
