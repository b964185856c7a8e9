//! `db-servers-ssl-*` of `[clusters.NAME]`: how Ferryman's connections to the cluster's
//! MariaDB servers are secured (its own sessions, the agents' tools, replication set up by a
//! reseed). Modes and key names follow the MariaDB/MySQL clients' `--ssl-mode`, `--ssl-ca`,
//! `--ssl-cert` and `--ssl-key`.

use std::fmt;
use std::path::PathBuf;

use toml::Spanned;

use crate::defaults;
use crate::error::ConfigError;
use crate::validate::Validator;

/// How a connection to a MariaDB server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslMode {
    /// `"disabled"`: plain TCP (the default: MariaDB 10.11 servers have no certificate until
    /// one is given to them).
    #[default]
    Disabled,
    /// `"required"`: TLS, the server's certificate not checked (encryption against a passive
    /// listener only).
    Required,
    /// `"verify-ca"`: TLS with a certificate issued by `db-servers-ssl-ca`, for any name.
    VerifyCa,
    /// `"verify-identity"`: TLS with a certificate issued by `db-servers-ssl-ca` for the
    /// server's `host`.
    VerifyIdentity,
}

impl SslMode {
    /// True when the connection is encrypted.
    pub fn encrypted(self) -> bool {
        self != SslMode::Disabled
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SslMode::Disabled => "disabled",
            SslMode::Required => "required",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyIdentity => "verify-identity",
        })
    }
}

/// The TLS of a cluster's database connections.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DbSsl {
    /// `db-servers-ssl-mode`: `"disabled"`, `"required"`, `"verify-ca"` or
    /// `"verify-identity"`. Default `"disabled"`.
    pub mode: SslMode,
    /// `db-servers-ssl-ca`: the CA certificates the servers' certificates must chain to.
    /// Required with `verify-ca` and `verify-identity`.
    pub ca: Option<PathBuf>,
    /// `db-servers-ssl-cert` and `db-servers-ssl-key` (0600), both or neither: a client
    /// certificate, for accounts created `REQUIRE X509` or `REQUIRE SUBJECT`. Ferryman's own
    /// sessions (mysql_async) read only RSA keys in PKCS#1 form (`BEGIN RSA PRIVATE KEY`).
    pub client: Option<(PathBuf, PathBuf)>,
    /// True when the file sets `db-servers-ssl-mode` (a `disabled` written down says that
    /// plain TCP is wanted; `config check` warns of the default one beyond loopback).
    pub mode_set: bool,
}

/// The raw keys, as written.
pub(crate) struct RawDbSsl {
    pub(crate) mode: Option<Spanned<String>>,
    pub(crate) ca: Option<Spanned<String>>,
    pub(crate) cert: Option<Spanned<String>>,
    pub(crate) key: Option<Spanned<String>>,
}

impl DbSsl {
    pub(crate) fn from_raw(
        raw: RawDbSsl,
        cluster: &str,
        anchor: std::ops::Range<usize>,
        v: &mut Validator<'_>,
    ) -> DbSsl {
        let key = |k: &str| format!("clusters.{cluster}.db-servers-ssl-{k}");
        let mode_set = raw.mode.is_some();
        let mode_at = raw
            .mode
            .as_ref()
            .map(|m| m.span())
            .unwrap_or(anchor.clone());
        let mode = v.choice(
            &key("mode"),
            raw.mode,
            defaults::DB_SSL_MODE,
            &defaults::DB_SSL_MODES,
        );
        let ca = raw.ca.map(|ca| v.local_path(&key("ca"), Some(ca), ""));
        if ca.is_none() && matches!(mode, SslMode::VerifyCa | SslMode::VerifyIdentity) {
            let at = v.at(mode_at);
            v.push(ConfigError::MissingKey { at, key: key("ca") });
        }
        let client = match (raw.cert, raw.key) {
            (None, None) => None,
            (Some(cert), Some(k)) => Some((
                v.local_path(&key("cert"), Some(cert), ""),
                v.local_path(&key("key"), Some(k), ""),
            )),
            (Some(one), None) | (None, Some(one)) => {
                let at = v.at(one.span());
                v.push(ConfigError::MissingKey {
                    at,
                    key: format!("{} (with {})", key("cert"), key("key")),
                });
                None
            }
        };
        if client.is_some() && !mode.encrypted() {
            let at = v.at(anchor);
            v.push(ConfigError::MissingKey {
                at,
                key: format!("{} (a client certificate needs TLS)", key("mode")),
            });
        }
        DbSsl {
            mode,
            ca,
            client,
            mode_set,
        }
    }
}
