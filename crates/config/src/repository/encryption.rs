//! A repository's encryption at rest: `age-recipients` (public keys, written in the file) and
//! `age-identity-file` / `age-identity-env` (the secret key that reads the backups back).
//!
//! Either key turns encryption on. The manager encrypts what it stores for `age-recipients`
//! (or, without them, for the identity's own public key), so the storage never holds a key
//! that opens the backups. With recipients and no identity the repository is write-only for
//! the manager: copies go in, and only the holder of a recipient's identity (kept off the
//! manager host) reads them back. With both, the identity must be one of the recipients:
//! otherwise the manager would write backups it cannot read.

use std::str::FromStr;

use age::x25519::{Identity, Recipient};
use toml::Spanned;

use crate::error::ConfigError;
use crate::secret::{Secret, SecretKind};
use crate::validate::Validator;

/// How a repository encrypts what it stores (age: X25519 recipients, ChaCha20-Poly1305 in
/// 64 KiB authenticated chunks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptionConfig {
    /// The public keys (`age1…`) backups are encrypted for: `age-recipients`, or the public
    /// keys of the identity when `age-recipients` is absent. Never empty once the identity is
    /// loaded.
    pub recipients: Vec<String>,
    /// The identity file's text (`AGE-SECRET-KEY-1…` lines, `#` comments, as `age-keygen`
    /// writes it): `None` when the repository is write-only, or when the identity could not
    /// be read by a `config check` that defers secrets.
    pub identity: Option<Secret>,
    /// Where the identity comes from, for messages: `file /etc/ferryman/offsite.key` or
    /// `environment variable NAME`; `None` without an identity.
    pub identity_source: Option<String>,
}

/// The secret keys of an identity file's text: every line but blank ones and `#` comments.
/// `Err` names the first line that is not an X25519 identity (by number, never by content).
pub fn parse_identities(text: &str) -> Result<Vec<Identity>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let identity = Identity::from_str(line).map_err(|e| {
            format!(
                "line {} is not an age X25519 secret key ({e}); such a line starts with \
                 AGE-SECRET-KEY-1",
                n + 1
            )
        })?;
        out.push(identity);
    }
    if out.is_empty() {
        return Err("it holds no AGE-SECRET-KEY-1 line".to_owned());
    }
    Ok(out)
}

/// Validates the `age-*` keys of `[repositories.NAME]` (`table`); `None` when none is set.
pub(crate) fn from_raw(
    table: &str,
    recipients: Option<Spanned<Vec<Spanned<String>>>>,
    identity_file: Option<Spanned<String>>,
    identity_env: Option<Spanned<String>>,
    v: &mut Validator<'_>,
) -> Option<EncryptionConfig> {
    if recipients.is_none() && identity_file.is_none() && identity_env.is_none() {
        return None;
    }
    let key = format!("{table}.age-recipients");
    let recipients_at = recipients.as_ref().map(|r| v.at(r.span()));
    let mut written = Vec::new();
    if let Some(list) = recipients {
        let at = v.at(list.span());
        let list = list.into_inner();
        if list.is_empty() {
            v.push(ConfigError::EmptyValue {
                at,
                key: key.clone(),
            });
        }
        for value in list {
            let at = v.at(value.span());
            let value = value.into_inner();
            match Recipient::from_str(value.trim()) {
                Ok(r) if !written.contains(&r.to_string()) => written.push(r.to_string()),
                Ok(_) => {}
                Err(reason) => v.push(ConfigError::InvalidAgeRecipient {
                    at,
                    key: key.clone(),
                    value,
                    reason: reason.to_owned(),
                }),
            }
        }
    }
    let source = match (&identity_file, &identity_env) {
        (Some(file), _) => Some(format!(
            "file {}",
            v.source.dir().join(file.get_ref()).display()
        )),
        (None, Some(env)) => Some(format!("environment variable {}", env.get_ref())),
        (None, None) => None,
    };
    let anchor = identity_file
        .as_ref()
        .or(identity_env.as_ref())
        .map(|s| v.at(s.span()));
    let identity = Secret::load(
        SecretKind::AgeIdentity,
        table,
        identity_file,
        identity_env,
        v,
    );
    let mut recipients = written;
    if let (Some(secret), Some(at), Some(source)) = (&identity, anchor, &source) {
        match parse_identities(secret.expose_secret()) {
            Err(reason) => v.push(ConfigError::InvalidAgeIdentity {
                at,
                key: format!("{table}.age-identity"),
                origin: source.clone(),
                reason,
            }),
            Ok(identities) => {
                let public: Vec<String> = identities
                    .iter()
                    .map(|i| i.to_public().to_string())
                    .collect();
                if recipients_at.is_none() {
                    recipients = public;
                } else if !public.iter().any(|p| recipients.contains(p)) {
                    v.push(ConfigError::AgeIdentityNotRecipient {
                        at,
                        key: key.clone(),
                        origin: source.clone(),
                        public: public.join(", "),
                    });
                }
            }
        }
    }
    Some(EncryptionConfig {
        recipients,
        identity,
        identity_source: source,
    })
}
