//! A webhook try: the JSON body POSTed, signed.
//!
//! # Signature
//! With a secret configured, `X-Ferryman-Signature: sha256=HEX` is the HMAC-SHA256, keyed by
//! the secret, of `TIMESTAMP.BODY`, where `TIMESTAMP` is the `X-Ferryman-Timestamp` header
//! (seconds since the epoch): a receiver recomputes it over the raw body and refuses an old
//! timestamp, so a captured request cannot be replayed later.

use ferryman_config::WebhookChannel;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::channel::Failure;

/// `sha256=HEX` of `timestamp.body` keyed by `secret`.
pub fn signature(secret: &[u8], timestamp: i64, body: &str) -> String {
    // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// One POST of `body` to the channel's URL.
pub(super) async fn post(
    client: &reqwest::Client,
    channel: &WebhookChannel,
    event_kind: &str,
    event_id: u64,
    body: &str,
) -> Result<(), Failure> {
    let now = ferryman_repo::Timestamp::now().unix();
    let mut request = client
        .post(&channel.url)
        .timeout(channel.timeout)
        .header("content-type", "application/json")
        .header(
            "user-agent",
            concat!("ferryman/", env!("CARGO_PKG_VERSION")),
        )
        .header("x-ferryman-event", event_kind)
        .header("x-ferryman-delivery", event_id.to_string())
        .header("x-ferryman-timestamp", now.to_string())
        .body(body.to_owned());
    if let Some(secret) = &channel.secret {
        request = request.header(
            "x-ferryman-signature",
            signature(secret.expose_secret().as_bytes(), now, body),
        );
    }
    match request.send().await {
        Ok(response) if response.status().is_success() => Ok(()),
        Ok(response) => {
            let status = response.status();
            // A receiver that is busy or failing may take it later; one that refuses the
            // request (404, 401...) will refuse it every time.
            let retry =
                status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429;
            let text = response.text().await.unwrap_or_default();
            let text: String = text.chars().take(200).collect();
            Err(Failure {
                retry,
                error: if retry {
                    format!("{} answered {status}: {text}", channel.url)
                } else {
                    format!("{} answered {status}: {text}; check the channel's `url` and `secret` against the receiver", channel.url)
                },
            })
        }
        Err(e) => Err(Failure {
            retry: true,
            error: format!("cannot reach {}: {e}", channel.url),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_covers_the_timestamp_and_the_body() {
        // Computed independently: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac key
        assert_eq!(
            signature(b"key", 1_700_000_000, "{\"a\":1}"),
            "sha256=a438e398bfafc57e4396bb7fc2304422f0f768e965d073ca313cb52e22e6ad03"
        );
        assert_ne!(
            signature(b"key", 1_700_000_001, "{\"a\":1}"),
            signature(b"key", 1_700_000_000, "{\"a\":1}")
        );
    }
}
