//! The bearer-token check in front of an API: `Authorization: Bearer TOKEN`, compared by digest
//! in time independent of where a wrong token differs.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::ApiError;

/// The tokens a route takes (by digest) and where a client finds one, for the 401 message.
#[derive(Debug, Clone)]
pub struct Bearer {
    digests: Vec<[u8; 32]>,
    hint: Arc<str>,
}

impl Bearer {
    /// Takes any of `digests` (see [`digest`]); `hint` says where a client gets a token (files
    /// and keys, never the token).
    pub fn new(digests: Vec<[u8; 32]>, hint: impl Into<Arc<str>>) -> Bearer {
        Bearer {
            digests,
            hint: hint.into(),
        }
    }

    /// Where a client gets the token.
    pub fn hint(&self) -> &str {
        &self.hint
    }
}

/// The digest a [`Bearer`] keeps of a token.
pub fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Middleware (`axum::middleware::from_fn_with_state`): lets a request through only with
/// `Authorization: Bearer TOKEN` naming one of the bearer's tokens; else 401 with the hint.
pub async fn require(State(bearer): State<Bearer>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            // The scheme is case-insensitive (RFC 7235).
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
    let message = match presented {
        Some(token) if bearer.digests.iter().any(|d| digest_matches(d, token)) => {
            return next.run(request).await
        }
        Some(_) => format!("the API token is wrong: {}", bearer.hint),
        None => format!(
            "this API needs a token: send `Authorization: Bearer TOKEN`; {}",
            bearer.hint
        ),
    };
    let mut response = ApiError::new(StatusCode::UNAUTHORIZED, message).into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    );
    response
}

/// Compares digests rather than tokens, in time independent of where they differ: neither the
/// token's length nor its prefix can be learnt by timing requests.
pub fn digest_matches(expected: &[u8; 32], presented: &str) -> bool {
    let digest = digest(presented);
    let difference = expected
        .iter()
        .zip(digest.iter())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    difference == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_compare() {
        let expected = digest("abc");
        assert!(digest_matches(&expected, "abc"));
        assert!(!digest_matches(&expected, "abd"));
        assert!(!digest_matches(&expected, ""));
    }
}
