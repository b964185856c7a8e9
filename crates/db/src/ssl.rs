//! The TLS of a connection to MariaDB, from the cluster's `db-servers-ssl-*` (see
//! `ferryman_config::DbSsl`), for mysql_async (rustls on ring) and for the option files the
//! agent's tools read.

use std::path::Path;
use std::sync::Arc;

use ferryman_config::{DbSsl, SslMode};
use mysql_async::{ClientIdentity, SslOpts};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// mysql_async's TLS options for `ssl` on a connection to `host:port`; `None` for a plain
/// connection. `Err` says why TLS cannot be set up.
///
/// `verify-ca` first asks the server for its certificate's names (one extra connection, TLS
/// checked against the CA only, see [`certificate_names`]) and then has mysql_async check the
/// certificate for one of them: its own "skip domain validation" does not recognise rustls
/// 0.23's name error, and would refuse every certificate not issued for `host`.
pub async fn options(ssl: &DbSsl, host: &str, port: u16) -> Result<Option<SslOpts>, String> {
    let mut opts = match ssl.mode {
        SslMode::Disabled => return Ok(None),
        SslMode::Required => SslOpts::default().with_danger_accept_invalid_certs(true),
        SslMode::VerifyCa => {
            let ca = ssl
                .ca
                .as_deref()
                .ok_or("verify-ca needs db-servers-ssl-ca")?;
            let names = certificate_names(host, port, ca).await?;
            let Some(name) = names.into_iter().next() else {
                return Err(
                    "the server's certificate names no host (no subjectAltName), which \
                            verify-ca needs to check it; give the server a certificate with one, \
                            or use `required`"
                        .to_owned(),
                );
            };
            SslOpts::default().with_danger_tls_hostname_override(Some(name))
        }
        SslMode::VerifyIdentity => SslOpts::default(),
    };
    if let Some(ca) = &ssl.ca {
        opts = opts
            .with_root_certs(vec![ca.clone().into()])
            .with_disable_built_in_roots(true);
    }
    if let Some((cert, key)) = &ssl.client {
        check_client_key(key)?;
        opts = opts.with_client_identity(Some(ClientIdentity::new(
            cert.clone().into(),
            key.clone().into(),
        )));
    }
    Ok(Some(opts))
}

/// mysql_async reads a client key only as RSA in PKCS#1 form; any other is refused here with
/// what to do, rather than as the library's bare parse error.
fn check_client_key(key: &std::path::Path) -> Result<(), String> {
    let text = ferryman_proto::private_file::read(key).map_err(|e| e.to_string())?;
    if text.contains("-----BEGIN RSA PRIVATE KEY-----") {
        return Ok(());
    }
    Err(format!(
        "the client key {} is not an RSA key in PKCS#1 form (`BEGIN RSA PRIVATE KEY`), the only \
         kind Ferryman's MariaDB client library reads: convert an RSA key with `openssl rsa -in \
         KEY -traditional -out KEY.pkcs1` (then chmod 600), or issue an RSA client certificate",
        key.display()
    ))
}

/// The `[client]` option file lines of `ssl`, as the MariaDB tools name them: `ssl`,
/// `ssl-ca`, `ssl-cert`, `ssl-key`, and `ssl-verify-server-cert` for `verify-identity`.
/// The tools of MariaDB 10.11 have no check of the CA alone: under `verify-ca` they encrypt
/// with `ssl-ca` given, the chain checked as OpenSSL does without a host name.
pub fn option_lines(ssl: &DbSsl) -> Vec<(&'static str, Option<String>)> {
    if !ssl.mode.encrypted() {
        return Vec::new();
    }
    let mut lines = vec![("ssl", None)];
    if let Some(ca) = &ssl.ca {
        lines.push(("ssl-ca", Some(ca.display().to_string())));
    }
    if let Some((cert, key)) = &ssl.client {
        lines.push(("ssl-cert", Some(cert.display().to_string())));
        lines.push(("ssl-key", Some(key.display().to_string())));
    }
    if ssl.mode == SslMode::VerifyIdentity {
        lines.push(("ssl-verify-server-cert", None));
    }
    lines
}

/// The names of the certificate the server at `host:port` presents, its chain checked against
/// `ca` (not its name): the start of a MariaDB session (the server's greeting, the client's
/// SSL request) and a TLS handshake, then the connection is dropped.
pub async fn certificate_names(host: &str, port: u16, ca: &Path) -> Result<Vec<String>, String> {
    /// CLIENT_PROTOCOL_41 | CLIENT_SSL | CLIENT_SECURE_CONNECTION.
    const CAPABILITIES: u32 = 0x0200 | 0x0800 | 0x8000;
    /// CLIENT_SSL in the greeting's capabilities.
    const SERVER_SSL: u16 = 0x0800;
    let config = ferryman_tls::chain_only_client_config(ca).map_err(|e| e.to_string())?;
    let io = |e: std::io::Error| format!("cannot read the server's certificate: {e}");
    let mut tcp = TcpStream::connect((host, port)).await.map_err(io)?;
    let mut head = [0u8; 4];
    tcp.read_exact(&mut head).await.map_err(io)?;
    let len = u32::from_le_bytes([head[0], head[1], head[2], 0]) as usize;
    let mut greeting = vec![0u8; len.min(64 * 1024)];
    tcp.read_exact(&mut greeting).await.map_err(io)?;
    if greeting.first() == Some(&0xff) {
        let text = String::from_utf8_lossy(greeting.get(3..).unwrap_or_default()).into_owned();
        return Err(format!("the server refused the connection: {text}"));
    }
    // Protocol version, server version (NUL-terminated), thread id (4), scramble (8), filler
    // (1), then the low two bytes of the capabilities.
    let version_end = greeting
        .iter()
        .skip(1)
        .position(|b| *b == 0)
        .map(|p| p + 2)
        .ok_or("the server's greeting is not a MariaDB greeting")?;
    let at = version_end + 4 + 8 + 1;
    let caps = greeting
        .get(at..at + 2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .ok_or("the server's greeting is too short")?;
    if caps & SERVER_SSL == 0 {
        return Err("the server offers no TLS: give it ssl-cert and ssl-key in its my.cnf".into());
    }
    let mut request = vec![32, 0, 0, 1];
    request.extend(CAPABILITIES.to_le_bytes());
    request.extend(16_777_216u32.to_le_bytes());
    request.push(45); // utf8mb4
    request.extend([0u8; 23]);
    tcp.write_all(&request).await.map_err(io)?;
    let name = rustls_pki_types::ServerName::try_from(host.to_owned())
        .map_err(|e| format!("`{host}` is not a name a certificate can hold: {e}"))?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| format!("the server's certificate is refused: {e}"))?;
    let names = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|leaf| ferryman_tls::stream::names(leaf))
        .unwrap_or_default();
    Ok(names)
}
