//! What can go wrong with certificates and keys; every message names the file and what to do.

use std::path::PathBuf;

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A certificate or key that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file cannot be read (missing, permissions, a key others may read).
    #[error("cannot read {what} {}: {detail}; check the path in ferryman.toml (`ferryman tls init` makes a fleet's certificates)", path.display())]
    Read {
        /// "certificate", "private key", "CA certificate".
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// The file holds no usable PEM of the kind expected.
    #[error("{} holds no {what} in PEM form ({detail}); give the file that does (a `-----BEGIN {pem}-----` block)", path.display())]
    Pem {
        /// "certificate", "private key".
        what: &'static str,
        /// The PEM label expected.
        pem: &'static str,
        /// The file.
        path: PathBuf,
        /// What was found.
        detail: String,
    },
    /// rustls refused the certificate and key together (a key that is not the certificate's).
    #[error("the certificate {} and the key {} cannot be used together ({detail}): give the key the certificate was issued for", cert.display(), key.display())]
    Pair {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// rustls' reason.
        detail: String,
    },
    /// A certificate that has expired or is not yet valid.
    #[error("the certificate {} ({subject}) {state}: issue a new one (`ferryman tls init` for a fleet CA, or the site's PKI) and restart", path.display())]
    Expired {
        /// The file.
        path: PathBuf,
        /// Whose certificate.
        subject: String,
        /// "expired on 2026-01-01 00:00 UTC" or "is valid only from ...".
        state: String,
    },
    /// rustls refused a configuration built from valid files.
    #[error("cannot set up TLS ({detail}); this is a bug: report it with the files' kinds (not their contents)")]
    Setup {
        /// rustls' reason.
        detail: String,
    },
    /// Making certificates failed.
    #[error("cannot make the fleet's certificates: {detail}")]
    Generate {
        /// Why.
        detail: String,
    },
    /// Writing the fleet's files failed.
    #[error("cannot write {}: {source}; check the directory", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `tls init` would overwrite an existing CA.
    #[error("{} already holds a fleet CA: its key signs every certificate of the fleet, and a new one would make them all untrusted; use another directory, or remove it yourself if that is what you want", dir.display())]
    Exists {
        /// The directory.
        dir: PathBuf,
    },
}
