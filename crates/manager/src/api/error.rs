//! [`ApiError`]: what a failed request answers; [`Error`]: why the API could not start or stop.

use std::borrow::Cow;
use std::path::PathBuf;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// A failed request: a status and a message that says what to do next, sent as
/// `{"error": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The message.
    pub message: String,
}

impl ApiError {
    /// An error with `status`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    /// 400: the request itself is wrong.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404: no such cluster, server, job or backup.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    /// 409: the request does not fit the current state (e.g. cancelling a finished job).
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, message)
    }

    /// 500: the manager failed.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

/// The most characters of a client's input an error message repeats.
pub const ECHO_MAX: usize = 200;

/// `input` as an error message may repeat it: whole up to [`ECHO_MAX`] characters, else its
/// start, an ellipsis and its length (a 1.5 MB id must not come back whole).
pub fn clip(input: &str) -> Cow<'_, str> {
    match input.char_indices().nth(ECHO_MAX) {
        None => Cow::Borrowed(input),
        Some((end, _)) => Cow::Owned(format!(
            "{}… ({} characters)",
            &input[..end],
            input.chars().count()
        )),
    }
}

/// Clips every word of `message` longer than [`ECHO_MAX`]: what other layers (a parse error, a
/// serde message) quote of a client's input is cut even where no handler could cut it first.
fn clip_words(message: String) -> String {
    if message.len() <= ECHO_MAX {
        return message;
    }
    let mut out = String::with_capacity(message.len().min(4 * ECHO_MAX));
    let mut rest = message.as_str();
    while let Some(start) = rest.find(|c: char| !c.is_whitespace()) {
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let word = &rest[..end];
        // Some slack: an input a handler clipped already, with its quotes, stays as it is.
        if word.chars().nth(ECHO_MAX + 16).is_some() {
            out.push_str(&clip(word));
        } else {
            out.push_str(word);
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let ApiError { status, message } = self;
        let message = clip_words(message);
        if status.is_server_error() {
            // Handled here (the client only sees the message): the manager's log is where an
            // operator looks for failures of the manager itself.
            tracing::warn!(%status, error = %message, "API request failed");
        }
        (status, Json(serde_json::json!({ "error": message }))).into_response()
    }
}

impl From<crate::Error> for ApiError {
    fn from(e: crate::Error) -> ApiError {
        let status = match &e {
            crate::Error::Unknown { .. } => StatusCode::NOT_FOUND,
            // Nothing is wrong with the request or the manager: no server can be backed up
            // right now, and the message says which and why.
            crate::Error::NoBackupSource { .. } => StatusCode::SERVICE_UNAVAILABLE,
            crate::Error::Repo(e) => return ApiError::from_repo(e),
            // A safety rail: the request is understood, the state of the cluster forbids it.
            crate::Error::Refused(_) => StatusCode::CONFLICT,
            crate::Error::SplitTopology { .. } => StatusCode::CONFLICT,
            crate::Error::NothingToVerify { .. } => StatusCode::CONFLICT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.to_string())
    }
}

impl From<ferryman_repo::Error> for ApiError {
    fn from(e: ferryman_repo::Error) -> ApiError {
        ApiError::from_repo(&e)
    }
}

impl ApiError {
    fn from_repo(e: &ferryman_repo::Error) -> ApiError {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_input_is_clipped_with_its_length() {
        assert_eq!(clip("db1"), "db1");
        let exact = "é".repeat(ECHO_MAX);
        assert_eq!(clip(&exact), exact);
        let long = format!("{}z", "é".repeat(ECHO_MAX));
        assert_eq!(
            clip(&long),
            format!("{}… ({} characters)", "é".repeat(ECHO_MAX), ECHO_MAX + 1)
        );
    }

    #[test]
    fn long_words_of_a_message_are_clipped_and_the_rest_kept() {
        let id = "x".repeat(1_500_000);
        let message = format!("invalid backup id `{id}`: use CLUSTER/SERVER/NAME\n  see the list");
        let clipped = clip_words(message);
        assert_eq!(
            clipped,
            format!(
                "invalid backup id `{}… (1500003 characters) use CLUSTER/SERVER/NAME\n  see the list",
                "x".repeat(ECHO_MAX - 1)
            )
        );
        let short = "no job 42: list them".to_owned();
        assert_eq!(clip_words(short.clone()), short);
    }
}
