//! PEM files: certificate chains, private keys (only from files private to their owner), and
//! the CA certificates a peer is checked against.

use std::path::Path;

use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::{Error, Result};

/// The certificates of a PEM file, leaf first (a chain as servers send it).
pub fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let bytes = std::fs::read(path).map_err(|e| Error::Read {
        what: "certificate",
        path: path.to_owned(),
        detail: e.to_string(),
    })?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| pem_error("certificate", "CERTIFICATE", path, e.to_string()))?;
    if certs.is_empty() {
        return Err(pem_error(
            "certificate",
            "CERTIFICATE",
            path,
            "none found".to_owned(),
        ));
    }
    Ok(certs)
}

/// The private key of a PEM file (PKCS#8, PKCS#1 or SEC1), which must be private to its owner
/// (mode 0600 or stricter).
pub fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>> {
    let text = ferryman_proto::private_file::read(path).map_err(|e| Error::Read {
        what: "private key",
        path: path.to_owned(),
        detail: e.to_string(),
    })?;
    PrivateKeyDer::from_pem_slice(text.as_bytes())
        .map_err(|e| pem_error("private key", "PRIVATE KEY", path, e.to_string()))
}

/// The CA certificates of a PEM file, as the roots a peer's certificate must chain to.
pub fn roots(path: &Path) -> Result<RootCertStore> {
    let mut store = RootCertStore::empty();
    for cert in certificates(path)? {
        store.add(cert).map_err(|e| {
            pem_error(
                "CA certificate",
                "CERTIFICATE",
                path,
                format!("not a usable CA certificate: {e}"),
            )
        })?;
    }
    Ok(store)
}

fn pem_error(what: &'static str, pem: &'static str, path: &Path, detail: String) -> Error {
    Error::Pem {
        what,
        pem,
        path: path.to_owned(),
        detail,
    }
}
