//! When the certificates of a file expire: read for `config check`, the manager's expiry
//! events, and to refuse an expired certificate at start with a clear error rather than
//! let every peer fail its handshake.

use std::path::Path;

use crate::{files, Error, Result};

/// One certificate's names and validity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validity {
    /// Its subject, e.g. `CN=ferryman-manager`.
    pub subject: String,
    /// Valid from, seconds since the epoch.
    pub not_before: i64,
    /// Valid until, seconds since the epoch.
    pub not_after: i64,
}

impl Validity {
    /// Seconds left at `now` (negative once expired).
    pub fn left(&self, now: i64) -> i64 {
        self.not_after - now
    }
}

/// The validity of every certificate in the PEM file `path`, leaf first.
pub fn inspect(path: &Path) -> Result<Vec<Validity>> {
    files::certificates(path)?
        .iter()
        .map(|der| {
            let (_, cert) =
                x509_parser::parse_x509_certificate(der.as_ref()).map_err(|e| Error::Pem {
                    what: "certificate",
                    pem: "CERTIFICATE",
                    path: path.to_owned(),
                    detail: format!("not an X.509 certificate: {e}"),
                })?;
            let validity = cert.validity();
            Ok(Validity {
                subject: cert.subject().to_string(),
                not_before: validity.not_before.timestamp(),
                not_after: validity.not_after.timestamp(),
            })
        })
        .collect()
}

/// An error when the leaf certificate of `path` has expired or is not valid yet.
pub fn refuse_expired(path: &Path) -> Result<()> {
    let now = now();
    let Some(leaf) = inspect(path)?.into_iter().next() else {
        return Ok(());
    };
    let state = if now > leaf.not_after {
        format!("expired on {}", utc(leaf.not_after))
    } else if now < leaf.not_before {
        format!(
            "is valid only from {} (check this host's clock)",
            utc(leaf.not_before)
        )
    } else {
        return Ok(());
    };
    Err(Error::Expired {
        path: path.to_owned(),
        subject: leaf.subject,
        state,
    })
}

/// Seconds since the epoch now.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// `2026-12-04 21:00 UTC`.
pub fn utc(unix: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(unix) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02} UTC",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute()
        ),
        Err(_) => format!("{unix} (seconds since 1970)"),
    }
}
