//! The manager's side of [`ApiError`] (its errors' statuses) and [`Error`]: why the API could
//! not start or stop.

use std::path::PathBuf;

use axum::http::StatusCode;
pub use ferryman_http::{clip, ApiError};

impl From<crate::Error> for ApiError {
    fn from(e: crate::Error) -> ApiError {
        let status = match &e {
            crate::Error::Unknown { .. } => StatusCode::NOT_FOUND,
            // Nothing is wrong with the request or the manager: no server can be backed up
            // right now, and the message says which and why.
            crate::Error::NoBackupSource { .. } => StatusCode::SERVICE_UNAVAILABLE,
            crate::Error::Repo(e) => return from_repo(e),
            // A safety rail: the request is understood, the state of the cluster forbids it.
            crate::Error::Refused(_) => StatusCode::CONFLICT,
            crate::Error::SplitTopology { .. } => StatusCode::CONFLICT,
            crate::Error::NothingToVerify { .. } => StatusCode::CONFLICT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.to_string())
    }
}

/// A repository's error as the API answers it.
pub(crate) fn from_repo(e: &ferryman_repo::Error) -> ApiError {
    {
        let status = if e.is_not_found() {
            StatusCode::NOT_FOUND
        } else if matches!(e, ferryman_repo::Error::Signature { .. }) {
            // The request is fine; the backup it names cannot be trusted.
            StatusCode::CONFLICT
        } else if matches!(e, ferryman_repo::Error::InvalidName { .. }) {
            // A malformed backup id, cluster or server name in the request.
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        };
        ApiError::new(status, e.to_string())
    }
}

/// Why the API could not start, or stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The generated token could not be written.
    #[error("cannot create the API token file {path}: {source}; check that the manager may write to `manager.monitoring-datadir`, or set `manager.api-token-file`")]
    TokenCreate {
        /// The file.
        path: PathBuf,
        /// The reason.
        #[source]
        source: std::io::Error,
    },

    /// A token file could not be read.
    #[error("cannot read the API token file {path}: {source}; run as a user who may read it, or give the token with --token-file or FERRYMAN_API_TOKEN")]
    TokenRead {
        /// The file.
        path: PathBuf,
        /// The reason.
        #[source]
        source: std::io::Error,
    },

    /// A token file others may read.
    #[error("the API token file {path} has mode {mode:04o}: other users could read the token; run `chmod 600 {path}`")]
    TokenMode {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },

    /// A token file that is not a regular file.
    #[error("the API token file {path} is not a regular file: remove it, and the manager writes a new token at its next start")]
    TokenNotFile {
        /// The file.
        path: PathBuf,
    },

    /// An empty token file.
    #[error("the API token file {path} is empty: remove it, and the manager writes a new token at its next start")]
    TokenEmpty {
        /// The file.
        path: PathBuf,
    },

    /// No randomness for a token.
    #[error("cannot generate an API token: {0}")]
    Random(#[from] ferryman_proto::Error),

    /// The manager's certificate or key cannot be used.
    #[error("the HTTP API cannot serve HTTPS: {0}")]
    Tls(#[from] ferryman_tls::Error),

    /// The server failed.
    #[error("the HTTP API stopped: {0}")]
    Serve(#[source] std::io::Error),
}
