//! [`ApiError`]: what a failed request answers, on the manager's API and on an agent's: a
//! status and a message that says what to do next, sent as `{"error": "..."}`.

use std::borrow::Cow;

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

    /// 500: the manager or the agent failed.
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
            // Handled here (the client only sees the message): the daemon's log is where an
            // operator looks for failures of the daemon itself.
            tracing::warn!(%status, error = %message, "API request failed");
        }
        (status, Json(serde_json::json!({ "error": message }))).into_response()
    }
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
