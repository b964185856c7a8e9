//! The manager's certificates watched with the other thresholds (`thresholds.rs`):
//! `certificate-expiring` once one of them has less than `ferryman_tls::expiry::WARN_DAYS` left (or has expired,
//! or cannot be read any more), `certificate-renewed` once the file holds one with more again
//! (a renewed certificate is picked up by the next restart; the event says so).

use std::collections::BTreeMap;

use crate::events::{EventKind, NewEvent, Severity};
use crate::Services;

/// One look at the manager's certificate files; `expiring` holds, per configuration key,
/// whether it was said to expire.
pub fn check(services: &Services, expiring: &mut BTreeMap<String, bool>) {
    let m = &services.config.manager;
    let files = m.certificate_files();
    let now = ferryman_tls::expiry::now();
    for (key, path) in files {
        let (soon, state) = match ferryman_tls::expiry::leaf(path) {
            Ok(leaf) => (leaf.standing(now).needs_action(), leaf.describe(now)),
            Err(e) => (true, format!("cannot be read: {e}")),
        };
        let was = expiring.get(key).copied().unwrap_or(false);
        expiring.insert(key.to_owned(), soon);
        if soon == was {
            continue;
        }
        let (kind, severity, message) = if soon {
            (
                EventKind::CertificateExpiring,
                Severity::Error,
                format!(
                    "`{key}` {}: {state}; issue a new one (`ferryman tls init` in a new directory for a fleet CA, or the site's PKI), put it in place and restart the manager",
                    path.display()
                ),
            )
        } else {
            (
                EventKind::CertificateRenewed,
                Severity::Info,
                format!(
                    "`{key}` {}: {state}; the manager serves it from its next restart",
                    path.display()
                ),
            )
        };
        services.events.emit(NewEvent {
            kind,
            severity,
            cluster: String::new(),
            server: None,
            backup: None,
            subject: Some(key.to_owned()),
            message,
        });
    }
}
