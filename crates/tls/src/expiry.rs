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

/// Days before its end a certificate is said to expire (`config check`, the manager's
/// `certificate-expiring` event).
pub const WARN_DAYS: i64 = 30;

/// Where a certificate stands at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Valid, with this many whole days left.
    Valid(i64),
    /// Valid, but with fewer than [`WARN_DAYS`] whole days left.
    Expiring(i64),
    /// Past its end.
    Expired,
    /// Before its start (a clock behind, or a certificate dated ahead).
    NotYetValid,
}

impl Standing {
    /// True when someone must act: expiring soon, expired or not valid yet.
    pub fn needs_action(self) -> bool {
        !matches!(self, Standing::Valid(_))
    }
}

impl Validity {
    /// Seconds left at `now` (negative once expired).
    pub fn left(&self, now: i64) -> i64 {
        self.not_after - now
    }

    /// Where it stands at `now`.
    pub fn standing(&self, now: i64) -> Standing {
        let days = self.left(now) / 86_400;
        if self.left(now) < 0 {
            Standing::Expired
        } else if now < self.not_before {
            Standing::NotYetValid
        } else if days < WARN_DAYS {
            Standing::Expiring(days)
        } else {
            Standing::Valid(days)
        }
    }

    /// Where it stands at `now`, in words after its subject.
    pub fn describe(&self, now: i64) -> String {
        let until = utc(self.not_after);
        match self.standing(now) {
            Standing::Valid(days) => format!("{}, valid until {until} ({days} days)", self.subject),
            Standing::Expiring(days) => {
                format!("{} expires on {until}, in {days} day(s)", self.subject)
            }
            Standing::Expired => format!("{} expired on {until}", self.subject),
            Standing::NotYetValid => format!(
                "{} is valid only from {} (check this host's clock)",
                self.subject,
                utc(self.not_before)
            ),
        }
    }
}

/// The validity of the leaf certificate (the first) of the PEM file `path`.
pub fn leaf(path: &Path) -> Result<Validity> {
    inspect(path)?.into_iter().next().ok_or_else(|| Error::Pem {
        what: "certificate",
        pem: "CERTIFICATE",
        path: path.to_owned(),
        detail: "none found".to_owned(),
    })
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
    let leaf = leaf(path)?;
    let now = now();
    let state = match leaf.standing(now) {
        Standing::Expired => format!("expired on {}", utc(leaf.not_after)),
        Standing::NotYetValid => format!(
            "is valid only from {} (check this host's clock)",
            utc(leaf.not_before)
        ),
        Standing::Valid(_) | Standing::Expiring(_) => return Ok(()),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_stands_valid_expiring_expired_or_not_yet_valid() {
        let day = 86_400;
        let v = Validity {
            subject: "CN=m".into(),
            not_before: 100 * day,
            not_after: 200 * day,
        };
        assert_eq!(v.standing(150 * day), Standing::Valid(50));
        assert_eq!(v.standing(190 * day), Standing::Expiring(10));
        assert_eq!(v.standing(200 * day + 1), Standing::Expired);
        assert_eq!(v.standing(50 * day), Standing::NotYetValid);
        assert!(!v.standing(150 * day).needs_action());
        assert!(v.standing(190 * day).needs_action());
        assert_eq!(
            v.describe(190 * day),
            "CN=m expires on 1970-07-20 00:00 UTC, in 10 day(s)"
        );
        assert!(v.describe(50 * day).contains("check this host's clock"));
    }
}
