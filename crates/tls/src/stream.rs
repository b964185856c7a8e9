//! The data streams' TLS: backups and logs from agents to the manager, reseed payloads from the
//! manager to joiners.
//!
//! Both ends hold a certificate issued by the fleet's CA and trust only that CA, and both
//! present their certificate (mutual TLS): the side that accepts checks the peer's name itself
//! once it knows which job the stream is for ([`Conn::peer_is`]), since a listener serves many
//! jobs and peers; the side that connects has rustls check the name it connects to.
//!
//! Which end speaks first tells plain from TLS: a TLS client's first byte is a handshake record
//! (0x16), which no Ferryman header (`FMS1`) nor a legacy donor's xbstream, gzip or SQL begins
//! with, so [`opens_tls`] peeks at it without taking it.

use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::{client_config, server_config, Result};

/// The first byte of a TLS handshake record.
const HANDSHAKE: u8 = 0x16;

/// One end's TLS for data streams: its certificate and key, and the CA its peers' certificates
/// must chain to.
#[derive(Clone)]
pub struct StreamTls {
    acceptor: TlsAcceptor,
    connector: TlsConnector,
}

impl std::fmt::Debug for StreamTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StreamTls")
    }
}

impl StreamTls {
    /// Reads `cert` (with its chain), `key` (0600) and the CA file `ca`; refuses an expired
    /// certificate and a key that is not the certificate's.
    pub fn load(cert: &Path, key: &Path, ca: &Path) -> Result<StreamTls> {
        let mut server = server_config(cert, key, Some(ca))?;
        // No session tickets: a stream is one connection, never resumed, and a ticket the
        // client never reads would make its close a reset (unread data), which can cut off
        // the end of a payload still in flight.
        server.send_tls13_tickets = 0;
        let client = client_config(ca, Some((cert, key)))?;
        Ok(StreamTls {
            acceptor: TlsAcceptor::from(Arc::new(server)),
            connector: TlsConnector::from(Arc::new(client)),
        })
    }

    /// The server side of a handshake on an accepted connection: the peer must present a
    /// certificate issued by the CA (whose name the caller checks with [`Conn::peer_is`]).
    pub async fn accept(&self, tcp: TcpStream) -> io::Result<Conn> {
        let tls = self.acceptor.accept(tcp).await?;
        Ok(Conn::Accepted(Box::new(tls)))
    }

    /// The client side of a handshake: the peer's certificate must be issued by the CA and
    /// name `host` (a DNS name or an address, as the configuration writes it).
    pub async fn connect(&self, tcp: TcpStream, host: &str) -> io::Result<Conn> {
        let name = ServerName::try_from(host.trim_start_matches('[').trim_end_matches(']'))
            .map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("`{host}` is not a name a certificate can hold: {e}"),
                )
            })?
            .to_owned();
        let tls = self.connector.connect(name, tcp).await?;
        Ok(Conn::Connected(Box::new(tls)))
    }
}

/// True when the peer of an accepted connection opened a TLS handshake; waits for its first
/// byte without taking it. `Ok(false)` also for a peer that closed without sending anything.
pub async fn opens_tls(tcp: &TcpStream) -> io::Result<bool> {
    let mut first = [0u8; 1];
    let n = tcp.peek(&mut first).await?;
    Ok(n == 1 && first[0] == HANDSHAKE)
}

/// A data stream, plain or TLS, with the TCP connection under it at hand (for `TCP_NODELAY`
/// and the zero linger of a reset).
#[derive(Debug)]
pub enum Conn {
    /// Plain TCP (legacy donors; channels a key leaves plain).
    Plain(TcpStream),
    /// TLS, this end having accepted the connection.
    Accepted(Box<tokio_rustls::server::TlsStream<TcpStream>>),
    /// TLS, this end having connected.
    Connected(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl Conn {
    /// The TCP connection under the stream.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Plain(tcp) => tcp,
            Conn::Accepted(tls) => tls.get_ref().0,
            Conn::Connected(tls) => tls.get_ref().0,
        }
    }

    /// True when the stream is encrypted.
    pub fn is_tls(&self) -> bool {
        !matches!(self, Conn::Plain(_))
    }

    /// The certificate the peer presented (TLS only).
    pub fn peer_certificate(&self) -> Option<&CertificateDer<'static>> {
        let certs = match self {
            Conn::Plain(_) => None,
            Conn::Accepted(tls) => tls.get_ref().1.peer_certificates(),
            Conn::Connected(tls) => tls.get_ref().1.peer_certificates(),
        };
        certs.and_then(|c| c.first())
    }

    /// True when the peer's certificate names one of `names` (DNS names or addresses, each
    /// checked as a client checks a server's). Always false for a plain stream.
    pub fn peer_is<S: AsRef<str>>(&self, names: &[S]) -> bool {
        self.peer_certificate()
            .is_some_and(|cert| names.iter().any(|n| names_host(cert, n.as_ref())))
    }

    /// A short description of the peer's certificate for error messages: its subject and the
    /// names it holds, or "no certificate".
    pub fn peer_description(&self) -> String {
        match self.peer_certificate() {
            Some(cert) => describe(cert),
            None => "no certificate".to_owned(),
        }
    }

    /// Ends the connection with a reset rather than an end-of-file, so that the peer cannot
    /// take what it received for a whole stream.
    pub fn reset(self) {
        // A zero linger makes the kernel discard unsent data and send RST at once; the
        // deprecation concerns non-zero lingers, which block the dropping thread.
        #[allow(deprecated)]
        let linger = self.tcp().set_linger(Some(std::time::Duration::ZERO));
        if let Err(e) = linger {
            tracing::debug!(error = %e, "cannot set SO_LINGER before the reset");
        }
        drop(self);
    }
}

/// True when `cert` is valid for `host` as a server name (DNS name or address).
pub fn names_host(cert: &CertificateDer<'_>, host: &str) -> bool {
    let Ok(name) = ServerName::try_from(host.trim_start_matches('[').trim_end_matches(']')) else {
        return false;
    };
    let Ok(end) = webpki::EndEntityCert::try_from(cert) else {
        return false;
    };
    end.verify_is_valid_for_subject_name(&name).is_ok()
}

/// `CN=ferryman-agent db2 (names db2)`: whose certificate it is, for error messages.
fn describe(cert: &CertificateDer<'_>) -> String {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let Ok((_, parsed)) = X509Certificate::from_der(cert.as_ref()) else {
        return "an unreadable certificate".to_owned();
    };
    let names = names(cert);
    match names.is_empty() {
        true => format!("{} (no names)", parsed.subject()),
        false => format!("{} (names {})", parsed.subject(), names.join(", ")),
    }
}

/// The DNS names and addresses a certificate holds (its subjectAltName), in its order.
pub fn names(cert: &CertificateDer<'_>) -> Vec<String> {
    use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
    let Ok((_, parsed)) = X509Certificate::from_der(cert.as_ref()) else {
        return Vec::new();
    };
    parsed
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|san| {
            san.value
                .general_names
                .iter()
                .map(|n| match n {
                    GeneralName::DNSName(d) => (*d).to_owned(),
                    GeneralName::IPAddress(b) => match b.len() {
                        4 => std::net::Ipv4Addr::from([b[0], b[1], b[2], b[3]]).to_string(),
                        16 => {
                            let mut a = [0u8; 16];
                            a.copy_from_slice(b);
                            std::net::Ipv6Addr::from(a).to_string()
                        }
                        _ => "?".to_owned(),
                    },
                    _ => String::new(),
                })
                .filter(|n| !n.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Accepted(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Conn::Connected(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Accepted(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Conn::Connected(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Accepted(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Conn::Connected(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Accepted(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Conn::Connected(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;
    use crate::fleet::{init, Request};

    fn fleet(dir: &Path) {
        init(&Request {
            dir: dir.to_owned(),
            manager: vec!["127.0.0.1".into()],
            agents: vec!["db1.example".into(), "127.0.0.2".into()],
            days: 30,
            ca_days: 3650,
        })
        .unwrap();
    }

    fn end(dir: &Path, base: &str) -> StreamTls {
        StreamTls::load(
            &dir.join(format!("{base}.crt")),
            &dir.join(format!("{base}.key")),
            &dir.join("ca.crt"),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn both_ends_present_certificates_and_the_acceptor_reads_the_peers_names() {
        let tmp = tempfile::tempdir().unwrap();
        fleet(tmp.path());
        let manager = end(tmp.path(), "manager");
        let agent = end(tmp.path(), "agents/db1.example");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let at = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            assert!(opens_tls(&tcp).await.unwrap());
            let mut conn = manager.accept(tcp).await.unwrap();
            assert!(conn.is_tls());
            assert!(conn.peer_is(&["db1.example"]));
            assert!(conn.peer_is(&["10.0.0.1", "DB1.example"]));
            assert!(!conn.peer_is(&["127.0.0.2", "db2.example"]));
            assert!(
                conn.peer_description().contains("db1.example"),
                "{}",
                conn.peer_description()
            );
            let mut all = Vec::new();
            conn.read_to_end(&mut all).await.unwrap();
            conn.shutdown().await.unwrap();
            all
        });
        let tcp = TcpStream::connect(at).await.unwrap();
        let mut conn = agent.connect(tcp, "127.0.0.1").await.unwrap();
        assert!(conn.peer_is(&["127.0.0.1"]));
        conn.write_all(b"the rows").await.unwrap();
        conn.shutdown().await.unwrap();
        assert_eq!(server.await.unwrap(), b"the rows");
    }

    #[tokio::test]
    async fn a_server_of_another_name_or_a_client_of_another_fleet_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        fleet(&tmp.path().join("a"));
        fleet(&tmp.path().join("b"));
        let manager = end(&tmp.path().join("a"), "manager");
        let ours = end(&tmp.path().join("a"), "agents/db1.example");
        let theirs = end(&tmp.path().join("b"), "agents/db1.example");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let at = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (tcp, _) = listener.accept().await.unwrap();
                let manager = manager.clone();
                tokio::spawn(async move {
                    if let Ok(mut c) = manager.accept(tcp).await {
                        let _ = c.write_all(b"x").await;
                    }
                });
            }
        });
        // The manager's certificate names 127.0.0.1 only.
        let e = ours
            .connect(TcpStream::connect(at).await.unwrap(), "localhost")
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("not valid for name \"localhost\""), "{e}");
        // Another fleet's agent does not chain to our CA (nor ours to theirs).
        let e = theirs
            .connect(TcpStream::connect(at).await.unwrap(), "127.0.0.1")
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("invalid peer certificate"), "{e}");
        // A plain peer's first byte is not a handshake.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let at = listener.local_addr().unwrap();
        let mut plain = TcpStream::connect(at).await.unwrap();
        plain.write_all(b"FMS1").await.unwrap();
        let (tcp, _) = listener.accept().await.unwrap();
        assert!(!opens_tls(&tcp).await.unwrap());
        assert!(!Conn::Plain(tcp).peer_is(&["127.0.0.1"]));
    }
}
