//! The rustls configurations of Ferryman's listeners and clients: TLS 1.2 and 1.3 with
//! rustls' safe defaults, on the ring provider (the one reqwest and lettre use here too).

use std::path::Path;
use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, ServerConfig};

use crate::{files, Error, Result};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A listener's configuration: its certificate chain and key; with `client_ca`, a client
/// must present a certificate issued by one of its CAs (mutual TLS).
pub fn server_config(cert: &Path, key: &Path, client_ca: Option<&Path>) -> Result<ServerConfig> {
    let chain = files::certificates(cert)?;
    crate::expiry::refuse_expired(cert)?;
    let private = files::private_key(key)?;
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| generate(e.to_string()))?;
    let builder = match client_ca {
        Some(ca) => {
            let verifier = WebPkiClientVerifier::builder_with_provider(
                Arc::new(files::roots(ca)?),
                provider(),
            )
            .build()
            .map_err(|e| generate(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    builder
        .with_single_cert(chain, private)
        .map_err(|e| Error::Pair {
            cert: cert.to_owned(),
            key: key.to_owned(),
            detail: e.to_string(),
        })
}

/// A client's configuration: the server must present a certificate issued by one of `ca`'s
/// CAs, for the name or address the client connects to; with `identity` (certificate, key),
/// the client presents its own.
pub fn client_config(ca: &Path, identity: Option<(&Path, &Path)>) -> Result<ClientConfig> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| generate(e.to_string()))?
        .with_root_certificates(files::roots(ca)?);
    match identity {
        Some((cert, key)) => {
            let chain = files::certificates(cert)?;
            crate::expiry::refuse_expired(cert)?;
            builder
                .with_client_auth_cert(chain, files::private_key(key)?)
                .map_err(|e| Error::Pair {
                    cert: cert.to_owned(),
                    key: key.to_owned(),
                    detail: e.to_string(),
                })
        }
        None => Ok(builder.with_no_client_auth()),
    }
}

fn generate(detail: String) -> Error {
    Error::Setup { detail }
}

/// A client configuration that checks the server's certificate chain against `ca` but not the
/// name it is for (`verify-ca` of the MariaDB clients): a certificate of any name issued by
/// the CA is taken.
pub fn chain_only_client_config(ca: &Path) -> Result<ClientConfig> {
    let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(files::roots(ca)?),
        provider(),
    )
    .build()
    .map_err(|e| generate(e.to_string()))?;
    Ok(ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| generate(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(ChainOnly { inner }))
        .with_no_client_auth())
}

/// WebPKI's verifier with a wrong name forgiven, and nothing else.
#[derive(Debug)]
struct ChainOnly {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
}

impl rustls::client::danger::ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &rustls_pki_types::CertificateDer<'_>,
        intermediates: &[rustls_pki_types::CertificateDer<'_>],
        server_name: &rustls_pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls_pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        use rustls::{CertificateError, Error as E};
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(E::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(rustls::client::danger::ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
