//! The per-job secret that authenticates a stream, sent in the [stream header](crate::header)
//! and kept in the jobs table's `token` column.

use std::fmt;
use std::str::FromStr;

use crate::{Error, Result};

/// The per-job secret that authenticates a stream: 32 random bytes.
///
/// Stored in the jobs table's `token` column as 64 lowercase hex characters ([`to_hex`],
/// [`from_hex`]). `Debug` never shows it and there is no `Display`, so it cannot leak into logs
/// by accident. `==` is [`ct_eq`], which takes the same time wherever the tokens differ.
///
/// [`to_hex`]: StreamToken::to_hex
/// [`from_hex`]: StreamToken::from_hex
/// [`ct_eq`]: StreamToken::ct_eq
#[derive(Clone)]
pub struct StreamToken([u8; StreamToken::LEN]);

impl StreamToken {
    /// Length of a token in bytes.
    pub const LEN: usize = 32;

    /// Length of a token's text in the jobs table: two hex characters per byte.
    pub const HEX_LEN: usize = 2 * Self::LEN;

    /// A new token from the operating system's random source.
    pub fn generate() -> Result<StreamToken> {
        use rand::TryRngCore;
        let mut bytes = [0u8; Self::LEN];
        rand::rngs::OsRng
            .try_fill_bytes(&mut bytes)
            .map_err(|e| Error::Random {
                message: e.to_string(),
            })?;
        Ok(StreamToken(bytes))
    }

    /// A token with the given bytes (e.g. read from a header).
    pub fn from_bytes(bytes: [u8; Self::LEN]) -> StreamToken {
        StreamToken(bytes)
    }

    /// The token's bytes, as sent in the header.
    pub fn as_bytes(&self) -> &[u8; Self::LEN] {
        &self.0
    }

    /// The token as stored in the jobs table: [`Self::HEX_LEN`] lowercase hex characters.
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut text = String::with_capacity(Self::HEX_LEN);
        for b in self.0 {
            text.push(char::from(DIGITS[usize::from(b >> 4)]));
            text.push(char::from(DIGITS[usize::from(b & 0x0f)]));
        }
        text
    }

    /// Parses the jobs table's text of a token: exactly [`Self::HEX_LEN`] lowercase hex
    /// characters. Errors never repeat the text, which is a secret.
    pub fn from_hex(text: &str) -> Result<StreamToken> {
        let len = text.chars().count();
        let digits = text
            .chars()
            .enumerate()
            .map(|(at, c)| {
                hex_value(c).ok_or(Error::BadTokenHex {
                    len,
                    invalid_at: Some(at),
                })
            })
            .collect::<Result<Vec<u8>>>()?;
        if digits.len() != Self::HEX_LEN {
            return Err(Error::BadTokenHex {
                len,
                invalid_at: None,
            });
        }
        let mut bytes = [0u8; Self::LEN];
        for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
            *byte = (pair[0] << 4) | pair[1];
        }
        Ok(StreamToken(bytes))
    }

    /// Whether both tokens are the same, in time that does not depend on where they differ.
    ///
    /// Every byte pair is XORed and OR-folded with no early exit, so a peer guessing a token
    /// cannot learn from response times how many of its leading bytes were right.
    pub fn ct_eq(&self, other: &StreamToken) -> bool {
        let mut diff = 0u8;
        for (a, b) in self.0.iter().zip(other.0.iter()) {
            diff |= a ^ b;
        }
        // Keep the optimiser from turning the fold back into a short-circuiting compare.
        std::hint::black_box(diff) == 0
    }
}

/// The value of a lowercase hex digit.
fn hex_value(c: char) -> Option<u8> {
    match c {
        '0'..='9' | 'a'..='f' => c.to_digit(16).and_then(|d| u8::try_from(d).ok()),
        _ => None,
    }
}

impl PartialEq for StreamToken {
    fn eq(&self, other: &StreamToken) -> bool {
        self.ct_eq(other)
    }
}

impl Eq for StreamToken {}

impl fmt::Debug for StreamToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StreamToken([SECRET])")
    }
}

impl FromStr for StreamToken {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        StreamToken::from_hex(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Token bytes 0x00, 0x01, … 0x1f.
    fn counting_token() -> StreamToken {
        StreamToken::from_bytes(std::array::from_fn(|i| i as u8))
    }

    #[test]
    fn token_hex_round_trips() {
        let t = counting_token();
        let hex = t.to_hex();
        assert_eq!(
            hex,
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
        );
        assert_eq!(StreamToken::from_hex(&hex), Ok(t));
        let g = StreamToken::generate().unwrap();
        assert_eq!(g.to_hex().len(), StreamToken::HEX_LEN);
        assert_eq!(g.to_hex().parse::<StreamToken>(), Ok(g));
    }

    #[test]
    fn bad_token_hex_is_rejected_without_echoing_it() {
        let good = counting_token().to_hex();
        for (text, len) in [
            (&good[..63], 63),
            (&good[..62], 62),
            ("", 0),
            (&*format!("{good}0"), 65),
        ] {
            assert_eq!(
                StreamToken::from_hex(text),
                Err(Error::BadTokenHex {
                    len,
                    invalid_at: None
                })
            );
        }
        let mut bad = good.clone();
        bad.replace_range(10..11, "g");
        let err = StreamToken::from_hex(&bad).unwrap_err();
        assert_eq!(
            err,
            Error::BadTokenHex {
                len: 64,
                invalid_at: Some(10)
            }
        );
        let msg = err.to_string();
        assert!(msg.contains("character 11 is not one of 0-9 a-f"), "{msg}");
        assert!(!msg.contains(&bad[..10]), "{msg}");

        let upper = good.to_uppercase();
        assert!(
            StreamToken::from_hex(&upper).is_err(),
            "uppercase is not canonical"
        );
        let accented = format!("é{}", &good[1..]);
        assert_eq!(
            StreamToken::from_hex(&accented),
            Err(Error::BadTokenHex {
                len: 64,
                invalid_at: Some(0)
            })
        );
        let msg = StreamToken::from_hex(&good[..3]).unwrap_err().to_string();
        assert!(msg.contains("it has 3 characters"), "{msg}");
        assert!(msg.contains("`token` column"), "{msg}");
    }

    #[test]
    fn ct_eq_compares_every_byte() {
        let t = counting_token();
        assert!(t.ct_eq(&counting_token()));
        assert!(t == counting_token());
        for i in [0, 15, StreamToken::LEN - 1] {
            let mut bytes = *t.as_bytes();
            bytes[i] ^= 0x01;
            let other = StreamToken::from_bytes(bytes);
            assert!(!t.ct_eq(&other), "differs at byte {i}");
            assert!(t != other);
        }
    }

    #[test]
    fn generated_tokens_differ() {
        let a = StreamToken::generate().unwrap();
        let b = StreamToken::generate().unwrap();
        assert!(!a.ct_eq(&b));
        assert_ne!(a.as_bytes(), &[0u8; StreamToken::LEN]);
    }
}
